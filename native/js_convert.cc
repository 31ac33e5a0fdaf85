#include "pch.h"
#include "js_convert.h"

#include "precision.h"

#include "errors.h"

#include <cmath>
#include <cstring>
#include <limits>

namespace skipnet {
namespace {

[[noreturn]] void bad(const std::string& msg) { throw SkipNetError("ERR_BAD_ARG", msg); }

Napi::Object objectArg(const Napi::Value& v, const char* what) {
  if (!v.IsObject()) bad(std::string(what) + " must be an object");
  return v.As<Napi::Object>();
}

double numberField(const Napi::Object& o, const char* key, double lo, double hi) {
  return numberFromJs(o.Get(key), key, lo, hi);
}

int64_t intField(const Napi::Object& o, const char* key, double lo, double hi) {
  const double v = numberField(o, key, lo, hi);
  if (v != std::floor(v)) bad(std::string(key) + " must be an integer, got " + std::to_string(v));
  return static_cast<int64_t>(v);
}

bool boolField(const Napi::Object& o, const char* key) {
  auto v = o.Get(key);
  if (!v.IsBoolean()) bad(std::string(key) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

std::string stringField(const Napi::Object& o, const char* key) {
  auto v = o.Get(key);
  if (!v.IsString()) bad(std::string(key) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

std::vector<double> numberList(const Napi::Object& o, const char* key) {
  auto v = o.Get(key);
  if (!v.IsArray()) bad(std::string(key) + " must be an array of numbers");
  auto a = v.As<Napi::Array>();
  std::vector<double> out;
  for (uint32_t i = 0; i < a.Length(); ++i) out.push_back(numberFromJs(a.Get(i), key, -1e9, 1e9));
  return out;
}

Napi::Float64Array doubles(Napi::Env env, const std::vector<double>& v) {
  auto a = Napi::Float64Array::New(env, v.size());
  if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * sizeof(double));
  return a;
}

}  // namespace

double numberFromJs(const Napi::Value& v, const char* name, double lo, double hi) {
  if (!v.IsNumber()) bad(std::string(name) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d < lo || d > hi) {
    bad(std::string(name) + " must be a finite number in [" + std::to_string(lo) + ", " + std::to_string(hi) +
        "], got " + std::to_string(d));
  }
  return d;
}

ModelSpec specFromJs(const Napi::Value& value) {
  auto o = objectArg(value, "model spec");
  ModelSpec s;
  const auto arch = stringField(o, "arch");
  if (arch == "cifar") s.arch = Arch::Cifar;
  else if (arch == "imagenet") s.arch = Arch::ImageNet;
  else bad("arch must be 'cifar' or 'imagenet', got '" + arch + "'");
  s.depth = static_cast<int>(intField(o, "depth", 1, 10000));
  const auto gate = stringField(o, "gate");
  if (gate == "none") s.gate = GateKind::None;
  else if (gate == "rnn") s.gate = GateKind::Rnn;
  else if (gate == "ffgate1") s.gate = GateKind::FFGate1;
  else if (gate == "ffgate2") s.gate = GateKind::FFGate2;
  else bad("gate must be 'none', 'rnn', 'ffgate1' or 'ffgate2', got '" + gate + "'");
  const auto mode = stringField(o, "gateMode");
  if (mode == "hard") s.gateMode = GateMode::Hard;
  else if (mode == "soft") s.gateMode = GateMode::Soft;
  else bad("gateMode must be 'hard' or 'soft', got '" + mode + "'");
  s.numClasses = static_cast<int>(intField(o, "numClasses", 1, 1e6));
  s.inChannels = static_cast<int>(intField(o, "inChannels", 1, 3));
  if (s.inChannels == 2) bad("inChannels must be 1 or 3");
  s.mean = numberList(o, "mean");
  s.std = numberList(o, "std");
  if (static_cast<int>(s.mean.size()) != s.inChannels || static_cast<int>(s.std.size()) != s.inChannels) {
    bad("mean and std must have one value per input channel (" + std::to_string(s.inChannels) + ")");
  }
  for (double d : s.std) {
    if (d <= 0) bad("std values must be positive");
  }
  s.device = stringField(o, "device");
  s.threads = static_cast<int>(intField(o, "threads", 1, 1024));
  s.seed = static_cast<uint64_t>(intField(o, "seed", 0, 9007199254740991.0));
  auto dtype = o.Get("dtype");
  if (!dtype.IsUndefined()) {
    const auto d = dtype.IsString() ? dtype.As<Napi::String>().Utf8Value() : "";
    if (d != "float32" && d != "float64") bad("dtype must be 'float32' or 'float64'");
    s.float64 = d == "float64";
  }
  auto precision = o.Get("precision");
  if (!precision.IsUndefined()) {
    if (!precision.IsString()) bad("precision must be 'fp32', 'bf16' or 'fp16'");
    s.precision = parsePrecision(precision.As<Napi::String>().Utf8Value());
    if (s.precision != Precision::Fp32 && s.float64) bad("mixed precision ('" + std::string(precisionName(s.precision)) + "') needs dtype 'float32'");
    if (s.precision == Precision::Fp16 && s.device == "cpu") {
      bad("precision 'fp16' needs a CUDA device (autocast on the CPU computes in bf16): use precision 'bf16' or 'fp32' on the CPU");
    }
  }
  if (!o.Get("cudnnBenchmark").IsUndefined()) s.cudnnBenchmark = boolField(o, "cudnnBenchmark");
  auto scaling = o.Get("lossScale");
  if (!scaling.IsUndefined()) {
    auto ls = objectArg(scaling, "lossScale");
    s.lossScale.enabled = true;
    s.lossScale.initScale = numberField(ls, "initScale", 1e-30, 3.4e38);
    s.lossScale.growthInterval = intField(ls, "growthInterval", 1, 1e9);
  }
  return s;
}

OwnedBatch batchFromJs(const Napi::Value& value) {
  auto o = objectArg(value, "batch");
  OwnedBatch b;
  b.n = intField(o, "n", 1, 1 << 20);
  b.height = intField(o, "height", 1, 1 << 15);
  b.width = intField(o, "width", 1, 1 << 15);
  b.channels = intField(o, "channels", 1, 3);
  auto images = o.Get("images");
  auto labels = o.Get("labels");
  if (!images.IsTypedArray() || images.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    bad("batch.images must be a Uint8Array (NHWC pixels)");
  }
  if (!labels.IsTypedArray() || labels.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    bad("batch.labels must be an Int32Array");
  }
  auto img = images.As<Napi::Uint8Array>();
  auto lab = labels.As<Napi::Int32Array>();
  const double expected = static_cast<double>(b.n) * b.height * b.width * b.channels;
  if (static_cast<double>(img.ElementLength()) != expected) {
    bad("batch.images has " + std::to_string(img.ElementLength()) + " bytes, but n*height*width*channels = " +
        std::to_string(static_cast<int64_t>(expected)));
  }
  if (static_cast<int64_t>(lab.ElementLength()) != b.n) {
    bad("batch.labels has " + std::to_string(lab.ElementLength()) + " entries, expected n = " + std::to_string(b.n));
  }
  b.images.assign(img.Data(), img.Data() + img.ElementLength());
  b.labels.assign(lab.Data(), lab.Data() + lab.ElementLength());
  return b;
}

SgdArgs sgdFromJs(const Napi::Value& value) {
  auto o = objectArg(value, "optimizer arguments");
  SgdArgs a;
  a.lr = numberField(o, "lr", 0, 1e3);
  a.momentum = numberField(o, "momentum", 0, 1);
  a.weightDecay = numberField(o, "weightDecay", 0, 1);
  a.nesterov = boolField(o, "nesterov");
  if (a.nesterov && a.momentum == 0) bad("nesterov needs a momentum above 0");
  if (!o.Get("gatesOpen").IsUndefined()) a.gatesOpen = boolField(o, "gatesOpen");
  if (!o.Get("gatesReadDetached").IsUndefined()) a.gatesReadDetached = boolField(o, "gatesReadDetached");
  auto target = o.Get("executionTarget");
  if (!target.IsUndefined()) {
    auto t = objectArg(target, "executionTarget");
    a.executionRate = numberField(t, "rate", 0, 1);
    a.executionWeight = numberField(t, "weight", 0, 1e6);
    if (!t.Get("scope").IsUndefined()) {
      const auto scope = stringField(t, "scope");
      if (scope == "network") a.executionScope = SgdArgs::Scope::Network;
      else if (scope == "stage") a.executionScope = SgdArgs::Scope::Stage;
      else if (scope == "gate") a.executionScope = SgdArgs::Scope::Gate;
      else bad("executionTarget.scope must be 'network', 'stage' or 'gate', got '" + scope + "'");
    }
  }
  return a;
}

HrlArgs hrlFromJs(const Napi::Value& value) {
  auto o = objectArg(value, "HRL arguments");
  HrlArgs h;
  h.alpha = numberField(o, "alpha", 0, 1e6);
  h.beta = numberField(o, "beta", 0, 1e6);
  h.gamma = numberField(o, "gamma", 0, 1);
  h.rlWeight = numberField(o, "rlWeight", 0, 1e6);
  const auto reduction = stringField(o, "reduction");
  if (reduction != "sum" && reduction != "mean") bad("reduction must be 'sum' or 'mean', got '" + reduction + "'");
  h.meanOverBatch = reduction == "mean";
  const auto baseline = stringField(o, "baseline");
  if (baseline != "none" && baseline != "moving-average" && baseline != "self-critical") {
    bad("baseline must be 'none', 'moving-average' or 'self-critical', got '" + baseline + "'");
  }
  h.movingBaseline = baseline == "moving-average";
  h.selfCriticalBaseline = baseline == "self-critical";
  if (!o.Get("execution").IsUndefined()) {
    const auto execution = stringField(o, "execution");
    if (execution != "mask" && execution != "skip") bad("execution must be 'mask' or 'skip', got '" + execution + "'");
    h.skipCompute = execution == "skip";
  }
  if (!o.Get("explore").IsUndefined()) h.explore = numberField(o, "explore", 0, 1);
  if (!o.Get("logitLimit").IsUndefined()) h.logitLimit = numberField(o, "logitLimit", 0, 1e3);
  if (!o.Get("logitPenalty").IsUndefined()) h.logitPenalty = numberField(o, "logitPenalty", 0, 1e6);
  if (!o.Get("logitUpperOnly").IsUndefined()) h.logitUpperOnly = boolField(o, "logitUpperOnly");
  if (!o.Get("gatesReadDetached").IsUndefined()) h.gatesReadDetached = boolField(o, "gatesReadDetached");
  if (!o.Get("baselineMomentum").IsUndefined()) h.baselineMomentum = numberField(o, "baselineMomentum", 0, 1);
  h.sampleSeed = static_cast<uint64_t>(intField(o, "sampleSeed", 0, 9007199254740991.0));
  return h;
}

DistributedOptions distributedFromJs(const Napi::Value& value) {
  DistributedOptions d;
  if (value.IsUndefined() || value.IsNull()) return d;
  auto o = objectArg(value, "distributed options");
  auto has = [&](const char* key) { return !o.Get(key).IsUndefined(); };
  if (has("backend")) d.backend = stringField(o, "backend");
  if (has("rank")) d.rank = static_cast<int>(intField(o, "rank", 0, 1 << 30));
  if (has("worldSize")) d.worldSize = static_cast<int>(intField(o, "worldSize", 1, 1 << 30));
  if (has("localRank")) d.localRank = static_cast<int>(intField(o, "localRank", 0, 1 << 30));
  if (has("masterAddr")) d.masterAddr = stringField(o, "masterAddr");
  if (has("masterPort")) d.masterPort = static_cast<int>(intField(o, "masterPort", 1, 65535));
  if (has("timeoutMs")) d.timeoutMs = intField(o, "timeoutMs", 1, 1e10);
  if (has("collectiveTimeoutMs")) d.collectiveTimeoutMs = intField(o, "collectiveTimeoutMs", 1, 1e10);
  if (has("bucketMb")) d.bucketMb = numberField(o, "bucketMb", 1e-3, 1e4);
  if (has("overlap")) d.overlap = boolField(o, "overlap");
  if (has("syncBatchNorm")) d.syncBatchNorm = boolField(o, "syncBatchNorm");
  return d;
}

torch::Tensor tensorFromJs(const Napi::Value& v, const std::vector<int64_t>& shape, const char* name) {
  int64_t count = 1;
  for (auto d : shape) count *= d;
  const auto type = v.IsTypedArray() ? v.As<Napi::TypedArray>().TypedArrayType() : napi_int8_array;
  if (type != napi_float64_array && type != napi_float32_array) bad(std::string(name) + " must be a Float32Array or Float64Array");
  auto a = v.As<Napi::TypedArray>();
  if (static_cast<int64_t>(a.ElementLength()) != count) bad(std::string(name) + " needs " + std::to_string(count) + " values");
  auto* data = static_cast<uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset();
  return torch::from_blob(data, shape, type == napi_float64_array ? torch::kFloat64 : torch::kFloat32).clone();
}

std::vector<OwnedTensor> tensorsFromJs(const Napi::Value& value) {
  if (!value.IsArray()) bad("tensors must be an array of {name, dtype, shape, data}");
  auto a = value.As<Napi::Array>();
  std::vector<OwnedTensor> out;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    auto o = objectArg(a.Get(i), "tensor entry");
    OwnedTensor t;
    t.name = stringField(o, "name");
    const auto dtype = stringField(o, "dtype");
    if (dtype != "F32" && dtype != "F64" && dtype != "I64") {
      bad("tensor '" + t.name + "' has dtype " + dtype + "; F32, F64 or I64 expected");
    }
    t.dtype = dtype;
    auto shape = o.Get("shape");
    if (!shape.IsArray()) bad("tensor '" + t.name + "': shape must be an array");
    auto sa = shape.As<Napi::Array>();
    double count = 1;
    for (uint32_t k = 0; k < sa.Length(); ++k) {
      const double d = numberFromJs(sa.Get(k), "shape entry", 0, 1e12);
      t.shape.push_back(static_cast<int64_t>(d));
      count *= d;
    }
    auto data = o.Get("data");
    if (!data.IsTypedArray() || data.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      bad("tensor '" + t.name + "': data must be a Uint8Array");
    }
    auto bytes = data.As<Napi::Uint8Array>();
    const double expected = count * (t.dtype == "F32" ? 4 : 8);
    if (static_cast<double>(bytes.ElementLength()) != expected) {
      bad("tensor '" + t.name + "' has " + std::to_string(bytes.ElementLength()) + " bytes, its shape needs " +
          std::to_string(static_cast<int64_t>(expected)));
    }
    t.bytes.assign(bytes.Data(), bytes.Data() + bytes.ElementLength());
    out.push_back(std::move(t));
  }
  return out;
}

std::vector<NamedTensor> toNamedTensors(const std::vector<OwnedTensor>& owned) {
  std::vector<NamedTensor> out;
  for (const auto& t : owned) {
    const auto type = t.dtype == "I64" ? torch::kInt64 : t.dtype == "F64" ? torch::kFloat64 : torch::kFloat32;
    auto tensor = torch::empty(t.shape, type);
    if (!t.bytes.empty()) std::memcpy(tensor.data_ptr(), t.bytes.data(), t.bytes.size());
    out.push_back({t.name, tensor});
  }
  return out;
}

Napi::Value trainResultToJs(Napi::Env env, const TrainResult& r) {
  auto o = Napi::Object::New(env);
  o.Set("loss", r.loss);
  o.Set("correct", static_cast<double>(r.correct));
  o.Set("n", static_cast<double>(r.n));
  o.Set("gateExec", doubles(env, r.gateExec));
  if (r.lossScale > 0) {
    o.Set("lossScale", r.lossScale);
    o.Set("stepSkipped", r.stepSkipped);
  }
  return o;
}

Napi::Value hrlResultToJs(Napi::Env env, const HrlResult& r) {
  auto o = trainResultToJs(env, r).As<Napi::Object>();
  o.Set("rlLoss", r.rlLoss);
  o.Set("meanReturn", r.meanReturn);
  return o;
}

Napi::Value evalResultToJs(Napi::Env env, const EvalResult& r) {
  auto o = Napi::Object::New(env);
  o.Set("loss", r.lossSum);
  o.Set("correct1", static_cast<double>(r.correct1));
  o.Set("correct5", static_cast<double>(r.correct5));
  o.Set("n", static_cast<double>(r.n));
  o.Set("gateExec", doubles(env, r.gateExec));
  o.Set("macs", doubles(env, r.macs));
  auto executed = Napi::Uint8Array::New(env, r.executed.size());
  if (!r.executed.empty()) std::memcpy(executed.Data(), r.executed.data(), r.executed.size());
  o.Set("executed", executed);
  auto pred = Napi::Int32Array::New(env, r.predictions.size());
  if (!r.predictions.empty()) std::memcpy(pred.Data(), r.predictions.data(), r.predictions.size() * sizeof(int32_t));
  o.Set("predictions", pred);
  auto logits = Napi::Float32Array::New(env, r.logits.size());
  if (!r.logits.empty()) std::memcpy(logits.Data(), r.logits.data(), r.logits.size() * sizeof(float));
  o.Set("logits", logits);
  return o;
}

Napi::Value tensorsToJs(Napi::Env env, const std::vector<NamedTensor>& tensors) {
  auto a = Napi::Array::New(env, tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& t = tensors[i].tensor;
    auto o = Napi::Object::New(env);
    o.Set("name", tensors[i].name);
    o.Set("dtype", t.scalar_type() == torch::kInt64 ? "I64" : t.scalar_type() == torch::kFloat64 ? "F64" : "F32");
    auto shape = Napi::Array::New(env, t.dim());
    for (int64_t k = 0; k < t.dim(); ++k) shape.Set(static_cast<uint32_t>(k), static_cast<double>(t.size(k)));
    o.Set("shape", shape);
    const size_t bytes = t.numel() * t.element_size();
    auto data = Napi::Uint8Array::New(env, bytes);
    if (bytes) std::memcpy(data.Data(), t.data_ptr(), bytes);
    o.Set("data", data);
    a.Set(static_cast<uint32_t>(i), o);
  }
  return a;
}

Napi::Value infoToJs(Napi::Env env, const ModelSpec& spec, int64_t height, int64_t width) {
  const auto arch = describe(spec);
  const auto macs = macTable(spec, arch, height, width);
  const auto params = countParameters(spec, arch);
  const bool gated = spec.gate != GateKind::None;
  auto o = Napi::Object::New(env);
  o.Set("blocks", static_cast<double>(arch.blocks.size()));
  o.Set("gatedBlocks", gated ? static_cast<double>(arch.blocks.size() - 1) : 0.0);
  o.Set("parameters", static_cast<double>(params.total));
  o.Set("gateParameters", static_cast<double>(params.gates));
  o.Set("stemMacs", macs.stem);
  auto list = [&](const std::vector<double>& v) {
    auto a = Napi::Array::New(env, v.size());
    for (size_t i = 0; i < v.size(); ++i) a.Set(static_cast<uint32_t>(i), v[i]);
    return a;
  };
  o.Set("blockMacs", list(macs.blockExec));
  o.Set("skipMacs", list(macs.blockSkip));
  o.Set("gateMacs", list(macs.gate));
  o.Set("headMacs", macs.head);
  o.Set("fullMacs", macs.full);
  o.Set("device", spec.device);
  o.Set("threads", spec.threads);
  o.Set("height", static_cast<double>(height));
  o.Set("width", static_cast<double>(width));
  return o;
}

}  // namespace skipnet
