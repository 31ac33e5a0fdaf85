// Mixed precision: autocast around forward passes (bf16 on CPU or CUDA, fp16 on CUDA) and
// dynamic loss scaling for fp16 (the semantics of torch.cuda.amp.GradScaler). Parameters,
// gradients, momentum and batch-norm statistics stay in float32 either way.
#pragma once
#include "pch.h"

#include "architecture.h"

#include <string>
#include <vector>

namespace skipnet {

// "fp32" | "bf16" | "fp16"; throws std::invalid_argument otherwise.
Precision parsePrecision(const std::string& name);
const char* precisionName(Precision p);

// Enables autocast for the device's type on this thread (autocast state is thread-local) for
// the scope's lifetime; does nothing for fp32.
class AutocastScope {
 public:
  AutocastScope(Precision precision, const torch::Device& device);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false;
  bool cuda_ = false;
  bool wasEnabled_ = false;
};

// The loss is multiplied by scale() before backward; unscaleAndCheck divides the gradients
// back (exact: the scale is a power of two) and reports whether all are finite; update()
// halves the scale after an overflow (the step is skipped) and doubles it after
// growthInterval finite steps in a row.
class LossScaler {
 public:
  explicit LossScaler(const LossScaleOptions& options);
  double scale() const { return scale_; }
  int64_t growthTracker() const { return growthTracker_; }
  bool unscaleAndCheck(const std::vector<torch::Tensor>& params) const;
  void update(bool finite);
  void restore(double scale, int64_t growthTracker);

 private:
  LossScaleOptions options_;
  double scale_;
  int64_t growthTracker_ = 0;
};

}  // namespace skipnet
