// SkipNet as LibTorch modules: ResNet blocks, the recurrent and feed-forward gates and
// the gated forward pass (spec sections 1, 2 and 11). Module and parameter names match
// bench/pytorch/skipnet_ref.py so weights move between the two unchanged.
#pragma once
#include "pch.h"
#include "architecture.h"
#include "batch_norm.h"

namespace skipnet {

struct ResidualBlockImpl : torch::nn::Module {
  explicit ResidualBlockImpl(const BlockShape& shape);
  // The residual branch F(x) (without the shortcut add and the final ReLU).
  torch::Tensor residual(const torch::Tensor& x);
  // S(x): identity, or the 1x1 projection + BN of a strided/widening block.
  torch::Tensor shortcut(const torch::Tensor& x);

  BlockShape shape;
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  BatchNorm bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::Sequential downsample{nullptr};
};
TORCH_MODULE(ResidualBlock);

// One step of the shared LSTM(10,10). Parameters are named as torch.nn.LSTM names them.
struct LstmParamsImpl : torch::nn::Module {
  LstmParamsImpl(int64_t input, int64_t hidden);
  torch::Tensor weight_ih, weight_hh, bias_ih, bias_hh;
};
TORCH_MODULE(LstmParams);

// The recurrent gate: per-block embedding (global pool + 1x1 conv to 10), one LSTM shared
// by all blocks and stepped once per gate call, a projection to one logit, sigmoid.
struct RnnGateImpl : torch::nn::Module {
  explicit RnnGateImpl(const Architecture& arch);
  void reset(int64_t batch, const torch::TensorOptions& opts);
  // Logit z of executing the next block, shape (B): p = sigmoid(z).
  torch::Tensor step(int64_t block, const torch::Tensor& features);

  torch::nn::ModuleList embed{nullptr};
  LstmParams lstm{nullptr};
  torch::nn::Linear proj{nullptr};
  torch::Tensor h, c;
};
TORCH_MODULE(RnnGate);

// FFGate-I (deep) and FFGate-II (shallow): a small conv net on the block output and a
// two-way softmax; p = softmax[:, 1].
struct FFGateImpl : torch::nn::Module {
  FFGateImpl(int64_t channels, bool deep);
  // The two-way scores (B, 2): p = softmax[:, 1], and the logit of p is [:, 1] - [:, 0].
  torch::Tensor forward(const torch::Tensor& x);

  bool deep;
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, linear{nullptr};
  BatchNorm bn1{nullptr}, bn2{nullptr};
};
TORCH_MODULE(FFGate);

// How the gate probabilities become masks in a forward pass.
enum class MaskRule {
  StraightThrough,  // hard 1[p > t] forward, identity gradient to p (SP training, hard gates)
  Soft,             // mask = p (soft-gate training)
  Threshold,        // hard 1[p > t], no gradient (evaluation)
  Sample,           // action a ~ Bernoulli(p), mask = a, no gradient (HRL training)
};

// Where sampled actions come from: a generator (one per step, so runs are reproducible and
// resumable), or actions given outright (tests).
struct Sampling {
  at::Generator generator;
  std::vector<torch::Tensor> forced;  // M tensors of shape (B), or empty
  // Each action is a fair coin with this probability, else Bernoulli(p): a ~ Bernoulli(q) with
  // q = (1 - explore) p + explore / 2 (HrlArgs::explore).
  double explore = 0;
};

// The probability q that a sampled action executes: (1 - explore) p + explore / 2. Sampling
// and the policy gradient's log-probability both use it; without exploration it is p itself.
inline torch::Tensor actingProbability(const torch::Tensor& p, double explore) {
  return explore > 0 ? p * (1 - explore) + explore / 2 : p;
}

// cuDNN's benchmark mode autotunes every convolution shape it has not seen. Real skipping hands
// each block the batch of whichever samples execute, a new size at almost every block of every
// batch, so it would autotune nearly every call: while one of these lives (a skipping forward,
// and a training step that skips, backward included) cuDNN uses its heuristics instead. (The
// switch is process-wide; another model's convolutions first seen meanwhile are simply not
// autotuned.)
class CudnnBenchmarkPause {
 public:
  explicit CudnnBenchmarkPause(bool cuda) : active_(cuda && at::globalContext().benchmarkCuDNN()) {
    if (active_) at::globalContext().setBenchmarkCuDNN(false);
  }
  ~CudnnBenchmarkPause() {
    if (active_) at::globalContext().setBenchmarkCuDNN(true);
  }
  CudnnBenchmarkPause(const CudnnBenchmarkPause&) = delete;
  CudnnBenchmarkPause& operator=(const CudnnBenchmarkPause&) = delete;

 private:
  bool active_;
};

struct ForwardResult {
  torch::Tensor logits;             // (B, classes)
  std::vector<torch::Tensor> probs; // M tensors of shape (B): p for gated blocks 1..N-1
  std::vector<torch::Tensor> gateLogits; // sampled actions only (HRL): M tensors (B), p = sigmoid(z)
  std::vector<torch::Tensor> masks; // M tensors of shape (B): the masks applied
  torch::Tensor features;           // (B, C): the pooled activations the classifier reads
};

struct SkipNetImpl : torch::nn::Module {
  SkipNetImpl(const ModelSpec& spec, const Architecture& arch);

  // Every block computed for the whole batch, then blended with the mask: the
  // reference's semantics, used in training (it keeps batch-norm statistics exact).
  //
  // computeSkipped = false (hard rules only: Sample, Threshold) runs each gated block on
  // the samples that execute it and scatters the result back; skipped samples take the
  // shortcut. Values and gradients equal the masked computation except through batch
  // norm in train mode: a block's batch statistics (and its running-statistics update)
  // then come from the executing samples only, not from the whole batch.
  //
  // gatesReadDetached: the gates read the features without sending gradient back into them,
  // so the backbone learns from the classification path alone (not in the reference, where the
  // straight-through gradient of every gate also flows into the features it read).
  ForwardResult forwardMasked(const torch::Tensor& x, MaskRule rule, double threshold,
                              const Sampling* sampling = nullptr, bool computeSkipped = true,
                              bool gatesReadDetached = false);

  // Evaluation that really skips: each gated block runs only on the samples whose gate
  // says execute (gather, run, scatter back). With eval-mode batch norm every sample is
  // computed independently, so the result equals forwardMasked(Threshold) to rounding.
  ForwardResult forwardSkipping(const torch::Tensor& x, double threshold);

  int64_t numBlocks() const { return static_cast<int64_t>(arch.blocks.size()); }
  bool gated() const { return spec.gate != GateKind::None; }

  ModelSpec spec;
  Architecture arch;
  torch::nn::Conv2d conv1{nullptr};
  BatchNorm bn1{nullptr};
  torch::nn::ModuleList blocks{nullptr};
  RnnGate gate{nullptr};
  torch::nn::ModuleList gates{nullptr};
  torch::nn::Linear fc{nullptr};

 private:
  torch::Tensor stem(const torch::Tensor& x);
  // The gate's probability p of executing the next block and, with withLogit, its logit z
  // (p = sigmoid(z); undefined otherwise, so inference pays nothing for it), each of shape (B)
  // in the parameters' dtype.
  std::pair<torch::Tensor, torch::Tensor> gateOutput(int64_t block, const torch::Tensor& features, bool withLogit);
  // Block b on the samples where run is true, the shortcut elsewhere.
  torch::Tensor runOnExecuting(ResidualBlockImpl& b, const torch::Tensor& x, const torch::Tensor& shortcut,
                               const torch::Tensor& run);
  void initialise();
};
TORCH_MODULE(SkipNet);

}  // namespace skipnet
