#!/usr/bin/env node
// The one LibTorch discovery for both builds (CMakeLists.txt and binding.gyp).
// Order: $LIBTORCH, then Python's `torch` package, then the system (Debian's libtorch-dev).
// Prints JSON (default), one field for gyp (--include, --libdirs, --ldflags, --rpath, --cxx11abi,
// --cxxstd, --nccl-include), or CMake's list (--cmake).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const tried = [];

function fromPrefix(prefix, source) {
  // A LibTorch tree (the zip, or torch/ inside a Python install) has include/ lib/ share/cmake/Torch.
  const cmake = join(prefix, 'share', 'cmake', 'Torch');
  const include = join(prefix, 'include');
  if (!existsSync(join(cmake, 'TorchConfig.cmake')) || !existsSync(join(include, 'torch'))) {
    tried.push(`${source}: ${prefix} (no share/cmake/Torch/TorchConfig.cmake or include/torch)`);
    return null;
  }
  return {
    source,
    prefix,
    cmakeDir: cmake,
    includeDirs: [include, join(include, 'torch', 'csrc', 'api', 'include')],
    libDirs: [join(prefix, 'lib')],
    cuda: existsSync(join(prefix, 'lib', 'libtorch_cuda.so')),
  };
}

function fromEnv() {
  const p = process.env.LIBTORCH;
  if (!p) {
    tried.push('$LIBTORCH: not set');
    return null;
  }
  return fromPrefix(p, '$LIBTORCH');
}

function fromPython() {
  for (const py of [process.env.PYTHON, 'python3', '/usr/bin/python3'].filter(Boolean)) {
    try {
      const out = execFileSync(py, ['-c', 'import os, torch; print(os.path.dirname(torch.__file__))'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
        timeout: 60_000,
      }).trim();
      const found = fromPrefix(out, `Python torch (${py})`);
      if (found) return found;
    } catch {
      tried.push(`Python torch (${py}): not importable`);
    }
  }
  return null;
}

function fromSystem() {
  const candidates = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib'];
  for (const libDir of candidates) {
    const cmake = join(libDir, 'cmake', 'Torch');
    if (existsSync(join(cmake, 'TorchConfig.cmake')) && existsSync('/usr/include/torch/csrc/api/include/torch/torch.h')) {
      return {
        source: 'system',
        prefix: '/usr',
        cmakeDir: cmake,
        includeDirs: ['/usr/include', '/usr/include/torch/csrc/api/include'],
        libDirs: [libDir],
        cuda: existsSync(join(libDir, 'libtorch_cuda.so')),
      };
    }
  }
  tried.push(`system: no cmake/Torch/TorchConfig.cmake under ${candidates.join(', ')}`);
  return null;
}

// Python's torch package is found only when it is not Debian's own copy of the system
// library (python3-torch links the same /usr/lib libtorch), so the system entry wins then.
const found = fromEnv() ?? fromPythonUnlessSystem() ?? fromSystem();

function fromPythonUnlessSystem() {
  const py = fromPython();
  if (py && !existsSync(join(py.prefix, 'lib', 'libtorch_cpu.so'))) {
    tried.push(`${py.source}: ${py.prefix} has no lib/libtorch_cpu.so`);
    return null;
  }
  return py;
}

if (!found) {
  console.error(
    [
      'skipnet: LibTorch was not found. Tried:',
      ...tried.map((t) => `  - ${t}`),
      'Fix one of:',
      '  - Debian/Ubuntu: sudo apt-get install libtorch-dev libgloo-dev libopenblas0-pthread',
      '  - a LibTorch tree: export LIBTORCH=/path/to/libtorch (with include/, lib/, share/cmake/Torch)',
      '  - PyTorch: pip install torch (its bundled LibTorch is used)',
    ].join('\n'),
  );
  process.exit(1);
}

// NCCL's header: ProcessGroupNCCL.hpp includes <nccl.h>, which PyTorch's wheels do not put in
// torch/include but in a sibling pip package (nvidia/nccl/include, or nvidia/cuNN/include for
// the CUDA 13 wheels). Without it native/c10d_group.h quietly builds without the nccl backend,
// so look where those packages and the NVIDIA installers put it.
function ncclIncludeDir(t) {
  if (!t.cuda) return null;
  const sitePackages = join(t.prefix, '..');
  const candidates = [process.env.NCCL_INCLUDE_DIR, process.env.NCCL_ROOT && join(process.env.NCCL_ROOT, 'include')];
  try {
    for (const d of readdirSync(join(sitePackages, 'nvidia'))) candidates.push(join(sitePackages, 'nvidia', d, 'include'));
  } catch {
    /* not a pip install */
  }
  const cudaHome = process.env.CUDA_HOME ?? process.env.CUDA_PATH ?? '/usr/local/cuda';
  candidates.push(join(cudaHome, 'include'), '/usr/include');
  return candidates.find((d) => d && existsSync(join(d, 'nccl.h'))) ?? null;
}

// The C++ standard LibTorch's headers need: C++17 up to 2.11; PyTorch 2.12 and later moved
// ATen's consumers to C++20.
function cxxStandard(t) {
  try {
    const text = readFileSync(join(t.includeDirs[1], 'torch', 'version.h'), 'utf8');
    const major = Number(/TORCH_VERSION_MAJOR (\d+)/.exec(text)?.[1]);
    const minor = Number(/TORCH_VERSION_MINOR (\d+)/.exec(text)?.[1]);
    if (major > 2 || (major === 2 && minor >= 12)) return '20';
  } catch {
    /* fall through */
  }
  return '17';
}
found.ncclInclude = ncclIncludeDir(found);

// LibTorch's ABI flag is in its CMake config (TORCH_CXX_FLAGS); node-gyp needs it spelled out.
function cxx11Abi(t) {
  try {
    const text = readFileSync(join(t.cmakeDir, 'TorchConfig.cmake'), 'utf8');
    const m = /_GLIBCXX_USE_CXX11_ABI=([01])/.exec(text);
    if (m) return m[1];
  } catch {
    /* fall through */
  }
  return '1';
}

const arg = process.argv[2];
if (arg === '--include') console.log([...found.includeDirs, ...(found.ncclInclude ? [found.ncclInclude] : [])].join(' '));
else if (arg === '--libdirs') console.log(found.libDirs.join(' '));
// CMake's one call: a list of the config folder, the C++ standard and NCCL's include folder
// (NOTFOUND when there is none), so that configuring runs the discovery (and Python) once.
else if (arg === '--cmake') console.log([found.cmakeDir, cxxStandard(found), found.ncclInclude ?? 'NOTFOUND'].join(';'));
else if (arg === '--rpath') console.log(found.source === 'system' ? '' : found.libDirs.join(':'));
else if (arg === '--cxx11abi') console.log(cxx11Abi(found));
else if (arg === '--cxxstd') console.log(cxxStandard(found));
else if (arg === '--nccl-include') console.log(found.ncclInclude ?? '');
else if (arg === '--ldflags') {
  const libs = ['-ltorch', '-ltorch_cpu', '-lc10', ...(found.cuda ? ['-ltorch_cuda', '-lc10_cuda'] : [])];
  const rpath = found.source === 'system' ? [] : found.libDirs.map((d) => `-Wl,-rpath,${d}`);
  console.log([...found.libDirs.map((d) => `-L${d}`), ...rpath, '-Wl,--no-as-needed', ...libs].join(' '));
}
else console.log(JSON.stringify(found));
