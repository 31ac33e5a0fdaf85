#include "precision.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include <cmath>
#include <stdexcept>

#include "errors.h"

namespace skipnet {

// LibTorch 2.4 replaced the per-device autocast setters with ones that take the device type.
#if defined(TORCH_VERSION_MAJOR) && (TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4))
#define SKIPNET_AUTOCAST_BY_DEVICE_TYPE 1
#endif

Precision parsePrecision(const std::string& name) {
  if (name == "fp32") return Precision::Fp32;
  if (name == "bf16") return Precision::Bf16;
  if (name == "fp16") return Precision::Fp16;
  throw std::invalid_argument("precision must be 'fp32', 'bf16' or 'fp16', got '" + name + "'");
}

const char* precisionName(Precision p) {
  switch (p) {
    case Precision::Bf16: return "bf16";
    case Precision::Fp16: return "fp16";
    default: return "fp32";
  }
}

namespace {
bool autocastEnabled(bool cuda) {
#ifdef SKIPNET_AUTOCAST_BY_DEVICE_TYPE
  return at::autocast::is_autocast_enabled(cuda ? at::kCUDA : at::kCPU);
#else
  return cuda ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}

void setAutocast(bool cuda, bool enabled, at::ScalarType dtype) {
#ifdef SKIPNET_AUTOCAST_BY_DEVICE_TYPE
  const auto type = cuda ? at::kCUDA : at::kCPU;
  if (enabled) at::autocast::set_autocast_dtype(type, dtype);
  at::autocast::set_autocast_enabled(type, enabled);
#else
  if (cuda) {
    if (enabled) at::autocast::set_autocast_gpu_dtype(dtype);
    at::autocast::set_enabled(enabled);
  } else {
    if (enabled) at::autocast::set_autocast_cpu_dtype(dtype);
    at::autocast::set_cpu_enabled(enabled);
  }
#endif
}
}  // namespace

AutocastScope::AutocastScope(Precision precision, const torch::Device& device) {
  if (precision == Precision::Fp32) return;
  cuda_ = device.is_cuda();
  if (precision == Precision::Fp16 && !cuda_) {
    throw SkipNetError("ERR_BAD_ARG", "fp16 autocast needs a CUDA device; on the CPU use precision 'bf16'");
  }
  wasEnabled_ = autocastEnabled(cuda_);
  setAutocast(cuda_, true, precision == Precision::Bf16 ? at::kBFloat16 : at::kHalf);
  active_ = true;
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  setAutocast(cuda_, wasEnabled_, at::kFloat);
  // Autocast caches the low-precision copies of the weights for one forward pass.
  if (!wasEnabled_) at::autocast::clear_cache();
}

LossScaler::LossScaler(const LossScaleOptions& options) : options_(options), scale_(options.initScale) {
  if (!(options.initScale > 0) || !std::isfinite(options.initScale)) {
    throw std::invalid_argument("the initial loss scale must be a positive finite number");
  }
  if (options.growthInterval < 1) throw std::invalid_argument("the loss-scale growth interval must be at least 1");
}

bool LossScaler::unscaleAndCheck(const std::vector<torch::Tensor>& params) const {
  torch::NoGradGuard noGrad;
  const double inverse = 1.0 / scale_;
  // One flag for all gradients, read once: a single device synchronisation per step.
  torch::Tensor bad;
  for (const auto& p : params) {
    auto g = p.grad();
    if (!g.defined()) continue;
    g.mul_(inverse);
    auto b = g.isfinite().logical_not().any();
    bad = bad.defined() ? bad.logical_or(b) : b;
  }
  return !bad.defined() || !bad.item<bool>();
}

void LossScaler::update(bool finite) {
  if (!finite) {
    scale_ *= 0.5;
    growthTracker_ = 0;
    return;
  }
  if (++growthTracker_ >= options_.growthInterval) {
    scale_ *= 2.0;
    growthTracker_ = 0;
  }
}

void LossScaler::restore(double scale, int64_t growthTracker) {
  if (!(scale > 0) || !std::isfinite(scale) || growthTracker < 0) {
    throw SkipNetError("ERR_WEIGHTS", "the checkpoint's loss-scaler state is invalid (scale " + std::to_string(scale) + ")");
  }
  scale_ = scale;
  growthTracker_ = growthTracker;
}

}  // namespace skipnet
