#!/usr/bin/env bash
# Packs what the GPU check (scripts/device-check.sh) needs beyond the working tree into
# .device/skipnet-deps.tar.xz: the compiled dist/, the few npm packages the CUDA build, the
# check and the SP benchmark load (the rest of node_modules, sharp included, stays here), and
# libjpeg's headers and library from Debian's archive in case the GPU machine lacks libjpeg-dev.
# The GPU machine has no package registry, and `run` carries at most 64 MiB.
#
#   bash ../shared/tools/device-prep.sh   # Node itself, and .device/env.sh
#   npm run build:ts && bash scripts/device-pack.sh
#   then, with the device tool: carry [".device"], command
#   bash .device/env.sh bash scripts/device-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f .device/env.sh ] || { echo "device-pack: run bash ../shared/tools/device-prep.sh first (it writes .device/env.sh)" >&2; exit 1; }
[ -f dist/model.js ] || { echo "device-pack: dist/ is missing: run npm run build:ts first" >&2; exit 1; }

# The packages and everything they depend on (optional dependencies that are installed too:
# esbuild's platform binary).
mapfile -t packages < <(node -e '
  const fs = require("fs");
  const seen = new Set();
  const visit = (name) => {
    if (seen.has(name) || !fs.existsSync(`node_modules/${name}/package.json`)) return;
    seen.add(name);
    const pj = JSON.parse(fs.readFileSync(`node_modules/${name}/package.json`, "utf8"));
    for (const d of Object.keys({ ...pj.dependencies, ...pj.optionalDependencies })) visit(d);
  };
  ["node-addon-api", "node-api-headers", "node-gyp-build", "cmake-js", "tsx", "zod"].forEach(visit);
  console.log([...seen].map((n) => `node_modules/${n}`).join("\n"));
')

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
# libjpeg62-turbo-dev's headers and libjpeg.so link against libjpeg62-turbo's library.
(cd "$stage" && apt-get download libjpeg62-turbo-dev libjpeg62-turbo >"$stage/apt.log" 2>&1) ||
  { cat "$stage/apt.log" >&2; echo "device-pack: apt-get download of libjpeg failed (run apt-get update?)" >&2; exit 1; }
for deb in "$stage"/*.deb; do dpkg -x "$deb" "$stage/jpeg"; done
tar -cf "$stage/deps.tar" dist "${packages[@]}"
tar -rf "$stage/deps.tar" -C "$stage" jpeg
xz -T0 -6 -c "$stage/deps.tar" > .device/skipnet-deps.tar.xz
echo "device-pack: .device/skipnet-deps.tar.xz ($(du -h .device/skipnet-deps.tar.xz | cut -f1); ${#packages[@]} packages, dist/, libjpeg); .device in all: $(du -sh .device | cut -f1) of the 64 MiB carry"
