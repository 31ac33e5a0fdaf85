// One model with its optimizer state on one device. Every method runs on the model's
// own worker thread (addon.cc), never on Node's main thread.
#pragma once
#include "pch.h"
#include "architecture.h"
#include "skipnet_model.h"

#include <map>
#include <string>
#include <vector>

namespace skipnet {

struct BatchView {
  const uint8_t* images = nullptr;  // n*h*w*c, NHWC
  const int32_t* labels = nullptr;  // n
  int64_t n = 0, height = 0, width = 0, channels = 0;
};

struct SgdArgs {
  double lr = 0.1, momentum = 0.9, weightDecay = 1e-4;
  bool nesterov = false;
};

struct TrainResult {
  double loss = 0;
  int64_t correct = 0;
  int64_t n = 0;
  std::vector<double> gateExec;
};

struct EvalResult {
  double lossSum = 0;
  int64_t correct1 = 0, correct5 = 0, n = 0;
  std::vector<double> gateExec;
  std::vector<double> macs;           // per sample
  std::vector<uint8_t> executed;      // n * M
  std::vector<int32_t> predictions;   // n
  std::vector<float> logits;          // n * classes
};

// A named tensor on the CPU, as it crosses into JavaScript.
struct NamedTensor {
  std::string name;
  torch::Tensor tensor;  // contiguous CPU float32 or int64
};

class Engine {
 public:
  explicit Engine(const ModelSpec& spec);

  TrainResult trainStep(const BatchView& batch, const SgdArgs& args);
  // skipping: run gated blocks only on the samples that execute them (else mask, as the reference).
  EvalResult evalStep(const BatchView& batch, double threshold, bool skipping = true);
  std::vector<NamedTensor> inspectStep(const BatchView& batch);
  std::vector<NamedTensor> exportWeights();
  std::vector<NamedTensor> exportOptimizer();
  void importWeights(const std::vector<NamedTensor>& entries);
  void importOptimizer(const std::vector<NamedTensor>& entries);

 private:
  torch::Tensor toInput(const BatchView& batch) const;
  torch::Tensor toLabels(const BatchView& batch) const;
  void sgdStep(const SgdArgs& args);
  const MacTable& macsFor(int64_t height, int64_t width);

  ModelSpec spec_;
  Architecture arch_;
  torch::Device device_;
  torch::ScalarType dtype_;
  SkipNet model_{nullptr};
  torch::Tensor scale_, shift_;  // x * scale - shift == (x / 255 - mean) / std
  std::vector<torch::Tensor> params_;
  std::vector<std::string> paramNames_;
  std::vector<torch::Tensor> buffers_, bufferSnapshot_;  // BN statistics, restored after a NaN step
  std::vector<torch::Tensor> momentum_;  // undefined until the first step, as torch.optim.SGD
  std::map<std::pair<int64_t, int64_t>, MacTable> macCache_;
};

// "cpu", "cuda", "cuda:N"; throws SkipNetError(ERR_CUDA_UNAVAILABLE / ERR_BAD_ARG).
torch::Device parseDevice(const std::string& device);

}  // namespace skipnet
