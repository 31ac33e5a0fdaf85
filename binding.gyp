# node-gyp build of the same addon as CMakeLists.txt (for prebuildify and node-gyp users):
# the same source list (native/sources.gypi) and the same LibTorch discovery
# (scripts/find-libtorch.mjs). The default build is `npm run build:native` (cmake-js).
{
  'targets': [
    {
      'target_name': 'skipnet',
      'includes': ['native/sources.gypi'],
      'include_dirs': [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node scripts/find-libtorch.mjs --include)",
      ],
      'defines': ['NAPI_VERSION=9', 'NAPI_CPP_EXCEPTIONS', 'NODE_ADDON_API_DISABLE_DEPRECATED'],
      'cflags_cc!': ['-fno-exceptions', '-fno-rtti', '-std=gnu++1y', '-std=gnu++17'],
      'cflags_cc': ['-std=c++<!(node scripts/find-libtorch.mjs --cxxstd)', '-fexceptions', '-frtti', '-O2', '-D_GLIBCXX_USE_CXX11_ABI=<!(node scripts/find-libtorch.mjs --cxx11abi)'],
      'libraries': [
        "<!@(node scripts/find-libtorch.mjs --ldflags)",
        '-ljpeg',
      ],
    },
  ],
}
