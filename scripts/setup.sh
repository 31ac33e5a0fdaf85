#!/usr/bin/env bash
# Sets up a fresh Debian 12 / Ubuntu machine for skipnet: system packages (LibTorch, BLAS,
# build tools, Fashion-MNIST, PyTorch for the reference benchmarks), npm packages, and the
# build (native addon + TypeScript). Safe to run again. Runs without a terminal (CI).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  libtorch-dev          # LibTorch 1.13 (CPU), headers and CMake config
  libgloo-dev           # headers for LibTorch's Gloo process group
  libopenblas0-pthread  # a fast BLAS instead of the reference one
  cmake ninja-build g++ # the native build
  libjpeg-dev           # libjpeg-turbo: the native JPEG decode of the ImageNet pipeline
  dataset-fashion-mnist # the data of the README's first run
  python3-torch python3-torchvision # the PyTorch side of tests and benchmarks
  xz-utils              # tar xzf for ../shared/datasets
  chromium              # headless browser for the HTML report test (test/report/browser.test.ts)
)
names=()
for p in "${packages[@]}"; do case "$p" in \#*) ;; *) names+=("$p") ;; esac; done

missing=()
for p in "${names[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "skipnet setup: installing ${missing[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Debian's python3-torch links the system libtorch; the pyenv or venv python3 on PATH may
# lack torch, so the tests and benchmarks use /usr/bin/python3 (SKIPNET_PYTHON overrides).
if [ -d node_modules ] && [ -f node_modules/.package-lock.json ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
  echo "skipnet setup: npm packages already installed"
else
  npm ci --no-audit --no-fund
fi
npm run build
echo "skipnet setup: done ($(node dist/cli/main.js info --json 2>/dev/null | head -c 200 || true))"
