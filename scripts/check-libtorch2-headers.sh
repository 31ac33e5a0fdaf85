#!/usr/bin/env bash
# Developer check (not run by CI): does every native translation unit still compile against
# LibTorch 2.x? The build here uses Debian bookworm's LibTorch 1.13, but GPU machines build
# against PyTorch 2.x, whose API differs (c10d Backends, autocast setters...). This fetches
# Debian trixie's LibTorch 2.x headers (libtorch-dev, plus libgloo-dev for the c10d Gloo
# headers) into a private prefix -- never installed: trixie packages would break a bookworm
# system -- and compiles each TU to an object file (-c) with the real build's flags. No link:
# trixie's libraries need a newer glibc, and the headers are what differ.
#
#   scripts/check-libtorch2-headers.sh [CACHE_DIR]     (default /tmp/skipnet-libtorch2)
#
# Prints PASS/FAIL per TU and build variant; exits 1 if any failed. Takes a few minutes
# (one precompiled torch/torch.h, as in the real build, then one job at a time).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="$(mkdir -p "${1:-/tmp/skipnet-libtorch2}" && cd "${1:-/tmp/skipnet-libtorch2}" && pwd)"
prefix="$cache/root/usr"
obj="$cache/obj"

# 1. Trixie's packages, through a private apt state (sources, lists and cache under $cache).
if [ ! -f "$prefix/include/torch/csrc/api/include/torch/version.h" ]; then
  mkdir -p "$cache/apt/etc" "$cache/apt/lists/partial" "$cache/apt/cache/archives/partial" "$cache/debs"
  echo 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main' \
    > "$cache/apt/etc/sources.list"
  apt_opts=(-q -o Dir::Etc::SourceList="$cache/apt/etc/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o Dir::State::Lists="$cache/apt/lists" -o Dir::Cache="$cache/apt/cache"
    -o APT::Sandbox::User="$(id -un)")  # the download dir is ours, not _apt's
  apt-get "${apt_opts[@]}" update
  # `download` only fetches the .deb files into the current directory; nothing is installed.
  (cd "$cache/debs" && apt-get "${apt_opts[@]}" download libtorch-dev libgloo-dev)
  for deb in "$cache"/debs/*.deb; do dpkg-deb -x "$deb" "$cache/root"; done
fi
grep -h 'define TORCH_VERSION ' -A1 "$prefix/include/torch/csrc/api/include/torch/version.h" | tr -d '\n\\' | sed 's/  */ /g'
echo

# 2. The real build's flags (CMakeLists.txt + LibTorch's CMake config, see build/build.ninja),
#    with the trixie headers first. The system's own 1.13 headers in /usr/include stay on the
#    path (it also holds libc and libjpeg), so step 3 checks that none of them got used.
flags=(-std=gnu++17 -O3 -DNDEBUG -fPIC -D_GLIBCXX_USE_CXX11_ABI=1 -Wall -Wno-unused-parameter
  -DBUILDING_NODE_EXTENSION -DNAPI_VERSION=9 -DNAPI_CPP_EXCEPTIONS -DNODE_ADDON_API_DISABLE_DEPRECATED
  -DUSE_DISTRIBUTED -DUSE_C10D_GLOO -DUSE_C10D_MPI -DUSE_RPC -DUSE_TENSORPIPE  # trixie's torch_cpu target
  -I"$root/node_modules/node-api-headers/include" -I"$root/node_modules/node-addon-api"
  -isystem "$prefix/include/torch/csrc/api/include" -isystem "$prefix/include")
# CUDA's headers, when this machine has them, for the SKIPNET_WITH_CUDA variant.
cuda_inc="${CUDA_HOME:-/usr/local/cuda}/include"
[ -f "$cuda_inc/cuda_runtime.h" ] || cuda_inc=""

mkdir -p "$obj"
# One precompiled torch/torch.h forced into every TU, as CMake's target_precompile_headers does.
echo "#include \"$root/native/pch.h\"" > "$obj/pch.hxx"
if [ ! -f "$obj/pch.hxx.gch" ] || [ "$obj/pch.hxx.gch" -ot "$prefix/include/torch/csrc/api/include/torch/version.h" ]; then
  echo "precompiling torch/torch.h..."
  g++ "${flags[@]}" -x c++-header "$obj/pch.hxx" -o "$obj/pch.hxx.gch"
fi

# 3. Every TU of native/sources.gypi with the default defines (c10d and Gloo come on by
#    themselves in native/c10d_group.h when the headers exist); then the TUs that read the
#    SKIPNET_* switches again with the other combinations.
mapfile -t sources < <(grep -o "'[a-z_]*\.cc'" "$root/native/sources.gypi" | tr -d "'")
mapfile -t switched < <(cd "$root/native" && grep -lE 'SKIPNET_(WITH_CUDA|HAVE_)|c10d_group\.h' "${sources[@]}")
failed=0
compile() {  # compile VARIANT-NAME FILE EXTRA-FLAGS...
  local name="$1" src="$2"; shift 2
  local out="$obj/${src%.cc}.$name"
  if g++ "${flags[@]}" "$@" -Winvalid-pch -include "$obj/pch.hxx" -MD -MF "$out.d" \
      -c "$root/native/$src" -o "$out.o" > "$out.log" 2>&1 &&
     # A header missing from the trixie tree would silently come from the system's 1.13.
     ! grep -oE '(^| )/usr/include/(torch|c10|ATen|caffe2|gloo)/[^ ]*' "$out.d" >> "$out.log"; then
    printf 'PASS  %-18s %s%s\n' "$src" "$name" "$([ -s "$out.log" ] && echo "  (warnings: $out.log)")"
  else
    printf 'FAIL  %-18s %s  (log: %s)\n' "$src" "$name" "$out.log"
    grep -m5 -E 'error|^ ?/usr/include/' "$out.log" | sed 's/^/        /' || true
    failed=1
  fi
}
for src in "${sources[@]}"; do compile default "$src"; done
for src in "${switched[@]}"; do
  compile no-gloo "$src" -DSKIPNET_NO_GLOO
  compile no-c10d "$src" -DSKIPNET_NO_C10D
  if [ -n "$cuda_inc" ]; then compile with-cuda "$src" -DSKIPNET_WITH_CUDA -isystem "$cuda_inc"; fi
done
[ -n "$cuda_inc" ] || echo "SKIP  SKIPNET_WITH_CUDA variant: no cuda_runtime.h under ${CUDA_HOME:-/usr/local/cuda}/include"
# What the passes above covered: the optional paths native/c10d_group.h turned on (it decides
# with __has_include, so a missing header silently drops a path instead of failing).
# The NCCL path needs nccl.h and, through ATen/cuda/CUDAContext.h, cuBLAS and cuSPARSE headers.
took() {  # took VARIANT-NAME EXTRA-FLAGS...
  local name="$1"; shift
  local m
  m=$(printf '#include "%s/native/c10d_group.h"\nSKIPNET_HAVE_C10D SKIPNET_HAVE_GLOO SKIPNET_HAVE_NCCL\n' "$root" |
    g++ "${flags[@]}" "$@" -E -P -x c++ - | tail -1)
  printf 'paths %-10s c10d=%s gloo=%s nccl=%s\n' "$name" $(for x in $m; do [ "$x" = 1 ] && echo yes || echo no; done)
}
took default
[ -z "$cuda_inc" ] || took with-cuda -DSKIPNET_WITH_CUDA -isystem "$cuda_inc"
exit "$failed"
