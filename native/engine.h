// One model with its optimizer state on one device. Every method runs on the model's
// own worker thread (addon.cc), never on Node's main thread.
#pragma once
#include "pch.h"
#include "architecture.h"
#include "distributed.h"
#include "precision.h"
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
  // SP gate warm-up: every gate executes in the forward pass while the straight-through
  // gradient still trains the gates, so the backbone first trains as the plain ResNet.
  bool gatesOpen = false;
  // SP execution target (not in the reference): adds weight * (r - rate)^2 to the loss, r being
  // the fraction of (sample, gated block) pairs the hard gates execute in this batch; its
  // gradient reaches the gates through the straight-through estimator. rate < 0: off.
  // executionScope: over what r is taken. Network: the whole batch; Stage: each stage's gated
  // blocks, weight * mean_s (r_s - rate)^2, so that no stage can be shut as a whole; Gate:
  // ConvNet-AIG's per-layer form, weight * mean_k (r_k - rate)^2.
  enum class Scope { Network, Stage, Gate };
  double executionRate = -1, executionWeight = 0;
  Scope executionScope = Scope::Network;
  // The gates read detached features: their straight-through gradient trains the gates only,
  // not the backbone below them (not in the reference; see SkipNetImpl::forwardMasked).
  bool gatesReadDetached = false;
};

struct TrainResult {
  double loss = 0;
  int64_t correct = 0;
  int64_t n = 0;
  std::vector<double> gateExec;
  // Dynamic loss scaling (fp16): the scale this step's loss was multiplied by, and whether its
  // gradients overflowed so that the optimizer step was skipped (the scale is then halved).
  double lossScale = 0;
  bool stepSkipped = false;
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

// Hybrid reinforcement learning (spec section 4): REINFORCE on the gates' sampled actions
// with the skip reward alpha/M per skipped block and the terminal -beta * CE, plus CE.
struct HrlArgs {
  double alpha = 0.1;
  double beta = 1.0;       // 1 on CIFAR/SVHN; alpha/M on ImageNet
  double gamma = 1.0;      // discount along the gates
  double rlWeight = 0.01;  // w in -w * sum G log pi
  bool meanOverBatch = false;      // false: sum over the batch, as the CIFAR code effectively does
  bool movingBaseline = false;     // subtract a per-gate moving average of the returns
  double baselineMomentum = 0.9;
  // Self-critical baseline: subtract the returns of the greedy policy (a block runs when
  // p > 0.5) on the same batch, computed in an extra forward without gradient.
  bool selfCriticalBaseline = false;
  // Run each gated block only on the samples whose sampled action executes it (see
  // SkipNetImpl::forwardMasked for the batch-norm difference). false: the reference's masking.
  bool skipCompute = false;
  // Not in the reference: with this probability an action is a fair coin instead of a draw from
  // Bernoulli(p), so the policy that acts, and whose log-probability REINFORCE uses, is
  // q = (1 - explore) p + explore / 2. A gate that has shut (p near 0) still opens its block
  // for about explore / 2 of the images, which keeps the block trained and lets the returns
  // show whether opening it again pays. Evaluation thresholds p as before.
  double explore = 0;
  // Not in the reference: a penalty logitPenalty * (|z| - logitLimit)^2 on every gate logit z
  // beyond +-logitLimit, summed over gates and samples (divided by the batch size for the
  // 'mean' reduction, as the RL term). Its gradient does not vanish as p saturates, where
  // REINFORCE's does (d log pi / dz = a - p): a gate held within the limit keeps sampling both
  // actions, so the skip reward can still move it. 0: off. logitUpperOnly bounds only z above
  // +logitLimit: a gate cannot saturate open, and one whose logit falls below -logitLimit is not
  // pulled back up (it may saturate shut).
  double logitLimit = 0;
  double logitPenalty = 0;
  bool logitUpperOnly = false;
  // Not in the reference: the gates read the block outputs detached, so the policy-gradient
  // term (and the logit bound) train the gates alone and the backbone learns from the
  // cross-entropy only, as SgdArgs::gatesReadDetached does for SP's straight-through gradient.
  bool gatesReadDetached = false;
  uint64_t sampleSeed = 0;  // actions of step s come from a generator seeded with (seed, s)
};

struct HrlResult : TrainResult {
  double rlLoss = 0;      // the policy-gradient term's value
  double meanReturn = 0;  // mean over gates and samples of G
};

// G_i = r_i + gamma * G_{i+1}, G_M = r_M + gamma * T, r_i = (alpha/M)(1 - a_i), T = -beta * CE.
// actions (M, B) in {0, 1}; ce (B). Returns (M, B).
torch::Tensor hrlReturns(const torch::Tensor& actions, const torch::Tensor& ce, const HrlArgs& args);

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
  HrlResult hrlStep(const BatchView& batch, const SgdArgs& sgd, const HrlArgs& hrl);
  // One HRL forward/backward without the optimizer step; actions may be given (M x B).
  std::vector<NamedTensor> inspectHrl(const BatchView& batch, const HrlArgs& hrl, const torch::Tensor& forcedActions);
  // Multiplies the recurrent gate's projection by factor (the reference's hotter(1/factor)),
  // then adds biasShift to its bias, moving every gate's logit by the same amount.
  void sharpenGate(double factor, double biasShift);
  std::vector<NamedTensor> exportWeights();
  std::vector<NamedTensor> exportOptimizer();
  void importWeights(const std::vector<NamedTensor>& entries);
  void importOptimizer(const std::vector<NamedTensor>& entries);

  // Data parallel (distributed.h): copies rank 0's parameters and buffers to this rank, then
  // every trainStep/hrlStep averages its gradients over the group before the optimizer step
  // and returns group-wide metrics. Batch-norm running statistics stay per rank (as the
  // reference's DataParallel, where only the first replica's survive).
  void attachDistributed(std::unique_ptr<Distributed> group);
  Distributed* distributed() const { return dist_.get(); }

 private:
  // Host tensor -> the model's device (CUDA: pinned, asynchronous).
  torch::Tensor toDevice(const torch::Tensor& host) const;
  torch::Tensor toInput(const BatchView& batch) const;
  torch::Tensor toLabels(const BatchView& batch) const;
  void sgdStep(const SgdArgs& args);
  // Backward of the (loss-scaled) loss; then, after any all-reduce, finishStep unscales and
  // takes the optimizer step unless the scaled gradients overflowed.
  void backward(const torch::Tensor& loss);
  void finishStep(const SgdArgs& args, TrainResult& r);
  const MacTable& macsFor(int64_t height, int64_t width);
  struct HrlPass {
    ForwardResult fwd;
    torch::Tensor ce, actions, probs, returns, advantages, rl, logitBound, total;
  };
  HrlPass hrlForwardBackward(const BatchView& batch, const HrlArgs& hrl, const Sampling& sampling);
  HrlResult hrlStepDistributed(const BatchView& batch, const SgdArgs& sgd, const HrlArgs& hrl, const Sampling& sampling);
  void reduceTrainMetrics(TrainResult& r);
  torch::Tensor executedFractions(const torch::Tensor& masks, SgdArgs::Scope scope) const;
  void snapshotBuffers();
  void finishInspection(std::vector<NamedTensor>& out);
  void restoreBuffers();

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
  torch::Tensor returnBaseline_;         // (M, 1) moving average of the returns, when used
  std::map<std::pair<int64_t, int64_t>, MacTable> macCache_;
  std::unique_ptr<Distributed> dist_;  // set by attachDistributed; null in a single process
  std::unique_ptr<LossScaler> scaler_;  // set when spec.lossScale.enabled
};

// "cpu", "cuda", "cuda:N"; throws SkipNetError(ERR_CUDA_UNAVAILABLE / ERR_BAD_ARG).
torch::Device parseDevice(const std::string& device);

}  // namespace skipnet
