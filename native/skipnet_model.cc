#include "skipnet_model.h"

#include <cmath>

#include "errors.h"

namespace skipnet {
namespace nn = torch::nn;

namespace {
nn::Conv2d conv(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad, bool bias = false) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, k).stride(stride).padding(pad).bias(bias));
}
}  // namespace

ResidualBlockImpl::ResidualBlockImpl(const BlockShape& s) : shape(s) {
  if (s.bottleneck) {
    conv1 = register_module("conv1", conv(s.inChannels, s.planes, 1, 1, 0));
    bn1 = register_module("bn1", BatchNorm(s.planes));
    conv2 = register_module("conv2", conv(s.planes, s.planes, 3, s.stride, 1));
    bn2 = register_module("bn2", BatchNorm(s.planes));
    conv3 = register_module("conv3", conv(s.planes, s.outChannels, 1, 1, 0));
    bn3 = register_module("bn3", BatchNorm(s.outChannels));
  } else {
    conv1 = register_module("conv1", conv(s.inChannels, s.planes, 3, s.stride, 1));
    bn1 = register_module("bn1", BatchNorm(s.planes));
    conv2 = register_module("conv2", conv(s.planes, s.planes, 3, 1, 1));
    bn2 = register_module("bn2", BatchNorm(s.planes));
  }
  if (s.projection) {
    downsample = register_module(
        "downsample", nn::Sequential(conv(s.inChannels, s.outChannels, 1, s.stride, 0), BatchNorm(s.outChannels)));
  }
}

torch::Tensor ResidualBlockImpl::residual(const torch::Tensor& x) {
  auto y = bn1(conv1(x)).relu_();
  if (shape.bottleneck) {
    y = bn2(conv2(y)).relu_();
    return bn3(conv3(y));
  }
  return bn2(conv2(y));
}

torch::Tensor ResidualBlockImpl::shortcut(const torch::Tensor& x) {
  return shape.projection ? downsample->forward(x) : x;
}

LstmParamsImpl::LstmParamsImpl(int64_t input, int64_t hidden) {
  // torch.nn.LSTM's default: U(-1/sqrt(hidden), 1/sqrt(hidden)) for every tensor.
  const double k = 1.0 / std::sqrt(static_cast<double>(hidden));
  weight_ih = register_parameter("weight_ih_l0", torch::empty({4 * hidden, input}).uniform_(-k, k));
  weight_hh = register_parameter("weight_hh_l0", torch::empty({4 * hidden, hidden}).uniform_(-k, k));
  bias_ih = register_parameter("bias_ih_l0", torch::empty({4 * hidden}).uniform_(-k, k));
  bias_hh = register_parameter("bias_hh_l0", torch::empty({4 * hidden}).uniform_(-k, k));
}

RnnGateImpl::RnnGateImpl(const Architecture& arch) {
  embed = register_module("embed", nn::ModuleList());
  for (const auto& b : arch.blocks) embed->push_back(conv(b.outChannels, kRnnGateDim, 1, 1, 0, true));
  lstm = register_module("lstm", LstmParams(kRnnGateDim, kRnnGateDim));
  proj = register_module("proj", nn::Linear(kRnnGateDim, 1));
}

void RnnGateImpl::reset(int64_t batch, const torch::TensorOptions& opts) {
  h = torch::zeros({batch, kRnnGateDim}, opts);
  c = torch::zeros({batch, kRnnGateDim}, opts);
}

torch::Tensor RnnGateImpl::step(int64_t block, const torch::Tensor& features) {
  // Global average pool then the block's 1x1 conv: identical to a linear layer on the
  // pooled vector, which avoids a conv call on a 1x1 map.
  auto pooled = features.mean({2, 3});
  auto& e = embed[block]->as<nn::Conv2dImpl>()->weight;
  auto& eb = embed[block]->as<nn::Conv2dImpl>()->bias;
  auto x = torch::addmm(eb, pooled, e.view({kRnnGateDim, -1}).t());
  auto state = torch::lstm_cell(x, {h, c}, lstm->weight_ih, lstm->weight_hh, lstm->bias_ih, lstm->bias_hh);
  h = std::get<0>(state);
  c = std::get<1>(state);
  return proj(h).view({-1});
}

FFGateImpl::FFGateImpl(int64_t channels, bool deep_) : deep(deep_) {
  if (deep) {
    conv1 = register_module("conv1", conv(channels, channels, 3, 1, 1));
    bn1 = register_module("bn1", BatchNorm(channels));
    conv2 = register_module("conv2", conv(channels, channels, 3, 2, 1));
    bn2 = register_module("bn2", BatchNorm(channels));
  } else {
    conv1 = register_module("conv1", conv(channels, channels, 3, 2, 1));
    bn1 = register_module("bn1", BatchNorm(channels));
  }
  linear = register_module("linear", conv(channels, 2, 1, 1, 0, true));
}

torch::Tensor FFGateImpl::forward(const torch::Tensor& x) {
  torch::Tensor y;
  if (deep) {
    y = torch::max_pool2d(x, 2);
    y = bn1(conv1(y)).relu_();
    y = bn2(conv2(y)).relu_();
  } else {
    y = bn1(conv1(x)).relu_();
  }
  // The reference's AvgPool kernels reduce the map to 1x1 for its input sizes; a global
  // average does the same for any input size.
  return linear(torch::adaptive_avg_pool2d(y, {1, 1})).flatten(1);
}

SkipNetImpl::SkipNetImpl(const ModelSpec& s, const Architecture& a) : spec(s), arch(a) {
  if (spec.arch == Arch::Cifar) {
    conv1 = register_module("conv1", conv(spec.inChannels, arch.stemChannels, 3, 1, 1));
  } else {
    conv1 = register_module("conv1", conv(spec.inChannels, arch.stemChannels, 7, 2, 3));
  }
  bn1 = register_module("bn1", BatchNorm(arch.stemChannels));
  blocks = register_module("blocks", nn::ModuleList());
  for (const auto& b : arch.blocks) blocks->push_back(ResidualBlock(b));
  if (spec.gate == GateKind::Rnn) {
    gate = register_module("gate", RnnGate(arch));
  } else if (spec.gate == GateKind::FFGate1 || spec.gate == GateKind::FFGate2) {
    gates = register_module("gates", nn::ModuleList());
    for (const auto& b : arch.blocks) gates->push_back(FFGate(b.outChannels, spec.gate == GateKind::FFGate1));
  }
  fc = register_module("fc", nn::Linear(arch.finalChannels, spec.numClasses));
  initialise();
}

void SkipNetImpl::initialise() {
  torch::NoGradGuard noGrad;
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* c = m->as<nn::Conv2dImpl>()) {
      // He fan-out normal for every conv, gates included (spec 1.3).
      const auto& w = c->weight;
      const double fanOut = static_cast<double>(w.size(0) * w.size(2) * w.size(3));
      w.normal_(0.0, std::sqrt(2.0 / fanOut));
    } else if (auto* bn = m->as<BatchNormImpl>()) {
      bn->weight.fill_(1.0);
      bn->bias.zero_();
    } else if (auto* l = m->as<nn::LinearImpl>()) {
      // The gated models re-initialise every Linear weight with N(0, sqrt(2/(out*in)));
      // the plain ResNet keeps PyTorch's default.
      if (gated()) l->weight.normal_(0.0, std::sqrt(2.0 / static_cast<double>(l->weight.numel())));
    }
  }
  if (spec.arch == Arch::ImageNet && spec.gate == GateKind::Rnn) {
    // The ImageNet training scripts re-initialise the gate's "control" parameters (LSTM
    // and projection): xavier-normal weights, zero biases (spec 1.3).
    for (auto* w : {&gate->lstm->weight_ih, &gate->lstm->weight_hh, &gate->proj->weight}) torch::nn::init::xavier_normal_(*w);
    for (auto* b : {&gate->lstm->bias_ih, &gate->lstm->bias_hh, &gate->proj->bias}) b->zero_();
  }
}

torch::Tensor SkipNetImpl::stem(const torch::Tensor& x) {
  auto y = bn1(conv1(x)).relu_();
  if (spec.arch == Arch::ImageNet) y = torch::max_pool2d(y, 3, 2, 1);
  return y;
}

std::pair<torch::Tensor, torch::Tensor> SkipNetImpl::gateOutput(int64_t block, const torch::Tensor& features, bool withLogit) {
  torch::Tensor p, z;
  if (spec.gate == GateKind::Rnn) {
    auto logit = gate->step(block, features);
    p = torch::sigmoid(logit);
    if (withLogit) z = logit;
  } else {
    // p from the softmax, as the reference computes it; z = s1 - s0 is its logit.
    auto scores = gates[block]->as<FFGateImpl>()->forward(features);
    p = torch::softmax(scores, 1).select(1, 1);
    if (withLogit) z = scores.select(1, 1) - scores.select(1, 0);
  }
  // Under autocast the gate's last layer computes in bf16/fp16; the probabilities (thresholds,
  // log-probabilities of HRL) are kept in the parameters' dtype.
  const auto dtype = fc->weight.scalar_type();
  if (p.scalar_type() != dtype) p = p.to(dtype);
  if (z.defined() && z.scalar_type() != dtype) z = z.to(dtype);
  return {p, z};
}

ForwardResult SkipNetImpl::forwardMasked(const torch::Tensor& input, MaskRule rule, double threshold,
                                         const Sampling* sampling, bool computeSkipped, bool gatesReadDetached) {
  if (!computeSkipped && rule != MaskRule::Sample && rule != MaskRule::Threshold) {
    // Straight-through and soft masks send gradient through the skipped samples' block output.
    throw SkipNetError("ERR_BAD_ARG", "skipping computation needs hard masks (sampled or thresholded gates)");
  }
  CudnnBenchmarkPause heuristics(!computeSkipped && input.is_cuda());
  ForwardResult r;
  auto x = stem(input);
  const int64_t n = numBlocks();
  auto* first = blocks[0]->as<ResidualBlockImpl>();
  x = (first->residual(x) + first->shortcut(x)).relu_();  // block 0 always runs
  if (!gated()) {
    for (int64_t i = 1; i < n; ++i) {
      auto* b = blocks[i]->as<ResidualBlockImpl>();
      x = (b->residual(x) + b->shortcut(x)).relu_();
    }
  } else {
    // The recurrent state stays in the parameters' dtype under autocast.
    if (spec.gate == GateKind::Rnn) gate->reset(x.size(0), x.options().dtype(fc->weight.scalar_type()));
    // Gate k reads the blended output of block k and decides block k+1; the last
    // block's gate would decide nothing, so it is never computed.
    auto gateInput = [&](const torch::Tensor& features) { return gatesReadDetached ? features.detach() : features; };
    // Only HRL's sampled actions use the logits (the bound on them).
    const bool withLogit = rule == MaskRule::Sample;
    torch::Tensor p, z;
    std::tie(p, z) = gateOutput(0, gateInput(x), withLogit);
    for (int64_t i = 1; i < n; ++i) {
      auto* b = blocks[i]->as<ResidualBlockImpl>();
      torch::Tensor mask;
      switch (rule) {
        case MaskRule::StraightThrough: {
          auto hard = p.gt(threshold).to(p.dtype());
          mask = hard - p.detach() + p;  // forward: hard; backward: d mask / d p = 1
          break;
        }
        case MaskRule::Soft: mask = p; break;
        case MaskRule::Threshold: mask = p.gt(threshold).to(p.dtype()); break;
        case MaskRule::Sample: {
          const auto k = static_cast<size_t>(i - 1);
          if (sampling && k < sampling->forced.size()) {
            mask = sampling->forced[k].to(p.options());
          } else {
            // a = 1[u < p] with u ~ U(0, 1) drawn on the CPU: Bernoulli(p) from a CPU generator
            // whatever the device, so a step's actions depend only on its seed.
            c10::optional<at::Generator> gen;
            if (sampling && sampling->generator.defined()) gen = sampling->generator;
            auto u = torch::rand(p.sizes(), gen, torch::TensorOptions().dtype(p.scalar_type())).to(p.device());
            mask = u.lt(actingProbability(p.detach(), sampling ? sampling->explore : 0.0)).to(p.dtype());
          }
          break;
        }
      }
      r.probs.push_back(p);
      if (withLogit) r.gateLogits.push_back(z);
      r.masks.push_back(mask);
      auto sc = b->shortcut(x);
      if (computeSkipped) {
        auto out = (b->residual(x) + sc).relu_();
        // The mask in the activations' dtype: under autocast the probabilities are float32
        // (gateOutput), and a float32 mask would promote every later activation to
        // float32, where the reference's bf16/fp16 mask keeps them in half precision.
        auto g = mask.to(out.scalar_type()).view({-1, 1, 1, 1});
        // x = g * B(x) + (1 - g) * S(x), in the reference's operation order so that float
        // rounding (the straight-through mask is not exactly 0/1) matches it bit for bit.
        x = g * out + (1 - g) * sc;
      } else {
        x = runOnExecuting(*b, x, sc, mask.gt(0.5));
      }
      if (i + 1 < n) std::tie(p, z) = gateOutput(i, gateInput(x), withLogit);
    }
  }
  r.features = torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
  r.logits = fc(r.features);
  return r;
}

torch::Tensor SkipNetImpl::runOnExecuting(ResidualBlockImpl& b, const torch::Tensor& x, const torch::Tensor& shortcut,
                                         const torch::Tensor& run) {
  const int64_t executing = run.sum().item<int64_t>();
  if (executing == x.size(0)) return (b.residual(x) + shortcut).relu_();
  if (executing == 0) return shortcut;  // identity, or the projection of a strided block
  // Gather the executing samples, run the block on them, scatter back over the shortcut.
  // index_copy is out of place, so gradients reach both the block and the shortcut.
  auto idx = run.nonzero().view({-1});
  auto ran = (b.residual(x.index_select(0, idx)) + shortcut.index_select(0, idx)).relu_();
  return shortcut.index_copy(0, idx, ran.to(shortcut.scalar_type()));
}

ForwardResult SkipNetImpl::forwardSkipping(const torch::Tensor& input, double threshold) {
  if (!gated()) return forwardMasked(input, MaskRule::Threshold, threshold);
  CudnnBenchmarkPause heuristics(input.is_cuda());
  ForwardResult r;
  auto x = stem(input);
  const int64_t n = numBlocks();
  auto* first = blocks[0]->as<ResidualBlockImpl>();
  x = (first->residual(x) + first->shortcut(x)).relu_();
  if (spec.gate == GateKind::Rnn) gate->reset(x.size(0), x.options().dtype(fc->weight.scalar_type()));
  auto p = gateOutput(0, x, false).first;
  for (int64_t i = 1; i < n; ++i) {
    auto* b = blocks[i]->as<ResidualBlockImpl>();
    auto run = p.gt(threshold);
    r.probs.push_back(p);
    r.masks.push_back(run.to(p.dtype()));
    x = runOnExecuting(*b, x, b->shortcut(x), run);
    if (i + 1 < n) p = gateOutput(i, x, false).first;
  }
  r.features = torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
  r.logits = fc(r.features);
  return r;
}

}  // namespace skipnet
