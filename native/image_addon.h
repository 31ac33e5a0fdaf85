// The image functions of the addon (no LibTorch): see image_addon.cc.
#pragma once
#include <napi.h>

namespace skipnet {

// preprocessJpegBatch(inputs: Buffer[], geometry: Int32Array, out: Uint8Array, threads: number)
//   -> Promise<{ outcomes: Int8Array, messages: string[] }>
Napi::Value preprocessJpegBatch(const Napi::CallbackInfo& info);

}  // namespace skipnet
