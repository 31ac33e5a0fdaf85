#!/usr/bin/env bash
# The GPU check of issue 6, in one command on a GPU machine lent by the device tool (no Node,
# no package registry there; see scripts/device-pack.sh for what travels in .device/):
#   1. builds the addon against the machine's CUDA LibTorch (PyTorch's, found by .device/env.sh);
#   2. CUDA against CPU on the same weights (scripts/cuda-check.mjs);
#   3. SkipNet-101 SP training throughput at batch 256, fp32 and bf16, against PyTorch's own
#      training of the same model on the same GPU (npm run bench -- sp, bench/README.md);
#   4. SkipNet-101 bf16 evaluation throughput, masked and really skipping, against PyTorch's
#      masked reference (one round each).
# Everything lands in $OUT (default ./device-out): steps.log and cuda-check.json, and every log
# and JSON in device-check.tgz (the device tool brings back at most 8 files).
#
#   bash .device/env.sh bash scripts/device-check.sh [--skip-bench]
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/device-out}"
# SKIPNET_CHECK_DEVICE=cpu: a dry run of this script on a machine without a GPU.
DEVICE="${SKIPNET_CHECK_DEVICE:-cuda}"
# Everything is written under $RES, then archived into $OUT/device-check.tgz.
RES="$OUT/device-check"
mkdir -p "$RES"
status=0
step() { echo "== $* ($(date -u +%H:%M:%S))" | tee -a "$RES/steps.log"; }

step "unpack dist/, npm packages and libjpeg"
tar -xJf .device/skipnet-deps.tar.xz || { echo "device-check: .device/skipnet-deps.tar.xz missing: run scripts/device-pack.sh here first" >&2; exit 1; }
if [ ! -f /usr/include/jpeglib.h ]; then
  # Debian's multiarch layout: jconfig.h sits in include/<triplet>.
  jpeg="$PWD/jpeg/usr"
  export CMAKE_PREFIX_PATH="$jpeg${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  export CPATH="$jpeg/include:$jpeg/include/x86_64-linux-gnu${CPATH:+:$CPATH}"
  export LD_LIBRARY_PATH="$jpeg/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
nvidia-smi > "$RES/nvidia-smi.txt" 2>&1 || true

step "build the addon against $(python3 -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda)' 2>/dev/null || echo 'the LibTorch scripts/find-libtorch.mjs finds')"
if ! node scripts/build-native.mjs > "$RES/build.log" 2>&1; then
  tail -40 "$RES/build.log"; echo "device-check: the build failed (log: build.log)"; exit 1
fi
grep -E 'skipnet:|CMake Warning' "$RES/build.log" | head -20
node -e 'const v = require("node-gyp-build")(".").versions(); console.log(JSON.stringify(v))' | tee "$RES/versions.json"

step "$DEVICE against CPU"
timeout 240 node scripts/cuda-check.mjs --device "$DEVICE" --out "$RES/cuda-check.json" 2>&1 | tee "$RES/cuda-check.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

if [ "${1:-}" != "--skip-bench" ]; then
  step "SkipNet-101 SP throughput, batch 256, fp32 and bf16, against PyTorch on the same GPU"
  SKIPNET_BENCH_PYTHON="$(command -v python3)" node --import tsx bench/run.ts sp --arch imagenet --depth 101 --batch 256 \
    --device "$DEVICE" --precisions fp32,bf16 --timeout 150 2>&1 | tee "$RES/bench-sp.log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  cp bench/results/latest-sp-throughput-imagenet*.json "$RES/" 2>/dev/null || true
  for execution in mask skip; do
    step "SkipNet-101 bf16 evaluation throughput, batch 256, engine execution $execution"
    SKIPNET_BENCH_PYTHON="$(command -v python3)" node --import tsx bench/run.ts sp --arch imagenet --depth 101 --batch 256 \
      --device "$DEVICE" --precisions bf16 --only eval --eval-execution "$execution" --rounds 1 --timeout 100 \
      --out "$RES/eval-$execution" 2>&1 | tee "$RES/bench-eval-$execution.log"
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  done
fi
step "done, status $status"
# One archive of everything, beside the two files worth a glance.
cp "$RES/steps.log" "$OUT/" 2>/dev/null; cp "$RES/cuda-check.json" "$OUT/" 2>/dev/null
tar -czf "$OUT/device-check.tgz" -C "$RES" . && rm -rf "$RES"
exit $status
