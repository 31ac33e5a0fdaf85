# The one list of native sources (gyp resolves them relative to this file). binding.gyp includes this
# file; CMakeLists.txt reads it.
{
  'sources': [
    'architecture.cc',
    'batch_norm.cc',
    'skipnet_model.cc',
    'engine.cc',
    'precision.cc',
    'distributed.cc',
    'gradient_sync.cc',
    'js_convert.cc',
    'worker.cc',
    'jpeg_resize.cc',
    'image_addon.cc',
    'addon.cc',
  ],
}
