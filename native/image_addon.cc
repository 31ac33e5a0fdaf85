// N-API entry for jpeg_resize: preprocessJpegBatch(inputs, geometry, out, threads) decodes and
// resizes one batch of JPEG files off the main thread (a libuv pool thread, which fans the
// images out over `threads` threads) and resolves with each image's outcome. Arguments are
// checked on the main thread; the input Buffers and the output stay referenced until the
// Promise settles. No exception leaves this file.
#include "image_addon.h"

#include <stdexcept>
#include <string>
#include <vector>

#include "jpeg_resize.h"

namespace skipnet {
namespace {

// Per image in the geometry Int32Array, in this order.
enum Field {
  kExpectedWidth, kExpectedHeight,
  kRegionLeft, kRegionTop, kRegionWidth, kRegionHeight,
  kResizedWidth, kResizedHeight,
  kWindowLeft, kWindowTop, kWindowWidth, kWindowHeight,
  kMirror, kOutOffset,
  kFields,
};

// The integer fields before kMirror, in the order of Field.
constexpr int image::ResizeJob::*kIntFields[kMirror] = {
    &image::ResizeJob::expectedWidth, &image::ResizeJob::expectedHeight, &image::ResizeJob::regionLeft,
    &image::ResizeJob::regionTop,     &image::ResizeJob::regionWidth,    &image::ResizeJob::regionHeight,
    &image::ResizeJob::resizedWidth,  &image::ResizeJob::resizedHeight,  &image::ResizeJob::windowLeft,
    &image::ResizeJob::windowTop,     &image::ResizeJob::windowWidth,    &image::ResizeJob::windowHeight,
};

Napi::Error badArg(Napi::Env env, const std::string& message) {
  auto e = Napi::TypeError::New(env, "preprocessJpegBatch: " + message);
  e.Set("code", "ERR_BAD_ARG");
  return e;
}

class PreprocessWorker : public Napi::AsyncWorker {
 public:
  PreprocessWorker(Napi::Env env, std::vector<image::ResizeJob> jobs, int threads, Napi::Object inputs, Napi::Object out)
      : Napi::AsyncWorker(env, "skipnet-preprocess"), deferred_(Napi::Promise::Deferred::New(env)), jobs_(std::move(jobs)), threads_(threads) {
    inputs_ = Napi::Persistent(inputs);
    out_ = Napi::Persistent(out);
  }

  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      results_ = image::decodeResizeAll(jobs_, threads_);
    } catch (const std::exception& e) {
      SetError(std::string("image decoding failed: ") + e.what());
    } catch (...) {
      SetError("image decoding failed");
    }
  }

  void OnOK() override {
    auto env = Env();
    auto outcomes = Napi::Int8Array::New(env, results_.size());
    auto messages = Napi::Array::New(env, results_.size());
    for (size_t i = 0; i < results_.size(); ++i) {
      outcomes[i] = static_cast<int8_t>(results_[i].outcome);
      messages.Set(static_cast<uint32_t>(i), Napi::String::New(env, results_[i].message));
    }
    auto result = Napi::Object::New(env);
    result.Set("outcomes", outcomes);
    result.Set("messages", messages);
    deferred_.Resolve(result);
  }

  void OnError(const Napi::Error& e) override {
    e.Set("code", "ERR_INTERNAL");
    deferred_.Reject(e.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::vector<image::ResizeJob> jobs_;
  std::vector<image::JobResult> results_;
  int threads_;
  Napi::ObjectReference inputs_, out_;
};

}  // namespace

Napi::Value preprocessJpegBatch(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  if (info.Length() != 4 || !info[0].IsArray() || !info[1].IsTypedArray() || !info[2].IsTypedArray() || !info[3].IsNumber()) {
    throw badArg(env, "expected (inputs: Buffer[], geometry: Int32Array, out: Uint8Array, threads: number)");
  }
  auto inputs = info[0].As<Napi::Array>();
  auto geometryValue = info[1].As<Napi::TypedArray>();
  auto outValue = info[2].As<Napi::TypedArray>();
  if (geometryValue.TypedArrayType() != napi_int32_array) throw badArg(env, "geometry must be an Int32Array");
  if (outValue.TypedArrayType() != napi_uint8_array) throw badArg(env, "out must be a Uint8Array");
  auto geometry = geometryValue.As<Napi::Int32Array>();
  auto out = outValue.As<Napi::Uint8Array>();
  const double threadsValue = info[3].As<Napi::Number>().DoubleValue();
  if (!(threadsValue >= 1 && threadsValue <= 1024) || threadsValue != static_cast<int>(threadsValue)) {
    throw badArg(env, "threads must be an integer in 1..1024");
  }
  const uint32_t n = inputs.Length();
  if (geometry.ElementLength() != static_cast<size_t>(n) * kFields) {
    throw badArg(env, "geometry holds " + std::to_string(geometry.ElementLength()) + " numbers, " + std::to_string(n) + " images need " +
                          std::to_string(static_cast<size_t>(n) * kFields));
  }
  std::vector<image::ResizeJob> jobs(n);
  for (uint32_t i = 0; i < n; ++i) {
    Napi::Value v = inputs[i];
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      throw badArg(env, "inputs[" + std::to_string(i) + "] must be a Buffer or Uint8Array");
    }
    auto bytes = v.As<Napi::Uint8Array>();
    const int32_t* g = geometry.Data() + static_cast<size_t>(i) * kFields;
    auto& j = jobs[i];
    j.data = bytes.Data();
    j.size = bytes.ByteLength();
    for (int f = 0; f < kMirror; ++f) j.*kIntFields[f] = g[f];
    j.mirror = g[kMirror] != 0;
    const int64_t offset = g[kOutOffset];
    const int64_t bytesOut = static_cast<int64_t>(j.windowWidth) * j.windowHeight * 3;
    if (offset < 0 || j.windowWidth < 1 || j.windowHeight < 1 || offset + bytesOut > static_cast<int64_t>(out.ByteLength())) {
      throw badArg(env, "image " + std::to_string(i) + ": its window does not fit in out at offset " + std::to_string(offset));
    }
    j.out = out.Data() + offset;
    try {
      image::checkJob(j);
    } catch (const std::invalid_argument& e) {
      throw badArg(env, "image " + std::to_string(i) + ": " + e.what());
    }
  }
  auto* worker = new PreprocessWorker(env, std::move(jobs), static_cast<int>(threadsValue), inputs, out);
  auto promise = worker->promise();
  worker->Queue();  // deletes itself after OnOK/OnError
  return promise;
}

}  // namespace skipnet
