// Conversions between JavaScript values and the engine's C++ types. Runs on the main
// thread only. Everything from JavaScript is validated here; a bad value becomes a
// SkipNetError(ERR_BAD_ARG) naming the field.
#pragma once
#include <napi.h>

#include "engine.h"

#include <vector>

namespace skipnet {

// A batch copied out of JavaScript memory, so JS may reuse its buffers at once.
struct OwnedBatch {
  std::vector<uint8_t> images;
  std::vector<int32_t> labels;
  int64_t n = 0, height = 0, width = 0, channels = 0;
  BatchView view() const { return {images.data(), labels.data(), n, height, width, channels}; }
};

// A tensor's bytes as they came from JavaScript; turned into a tensor on the worker.
struct OwnedTensor {
  std::string name;
  std::string dtype;  // F32, F64 or I64
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

ModelSpec specFromJs(const Napi::Value& value);
OwnedBatch batchFromJs(const Napi::Value& value);
SgdArgs sgdFromJs(const Napi::Value& value);
HrlArgs hrlFromJs(const Napi::Value& value);
// Data-parallel options; fields left out stay unset for resolveDistributedOptions.
DistributedOptions distributedFromJs(const Napi::Value& value);
// A float tensor from a JS typed array with the given shape (Float32Array or Float64Array).
torch::Tensor tensorFromJs(const Napi::Value& value, const std::vector<int64_t>& shape, const char* name);
double numberFromJs(const Napi::Value& value, const char* name, double lo, double hi);
std::vector<OwnedTensor> tensorsFromJs(const Napi::Value& value);
std::vector<NamedTensor> toNamedTensors(const std::vector<OwnedTensor>& owned);

Napi::Value trainResultToJs(Napi::Env env, const TrainResult& r);
Napi::Value hrlResultToJs(Napi::Env env, const HrlResult& r);
Napi::Value evalResultToJs(Napi::Env env, const EvalResult& r);
Napi::Value tensorsToJs(Napi::Env env, const std::vector<NamedTensor>& tensors);
Napi::Value infoToJs(Napi::Env env, const ModelSpec& spec, int64_t height, int64_t width);

}  // namespace skipnet
