#include "engine.h"

#include "errors.h"

#include <cmath>
#include <set>
#include <sstream>

namespace skipnet {

torch::Device parseDevice(const std::string& device) {
  if (device == "cpu") return torch::Device(torch::kCPU);
  int index = 0;
  if (device == "cuda") {
    index = 0;
  } else if (device.rfind("cuda:", 0) == 0 && device.size() > 5 &&
             device.find_first_not_of("0123456789", 5) == std::string::npos) {
    index = std::stoi(device.substr(5));
  } else {
    throw SkipNetError("ERR_BAD_ARG", "device must be 'cpu', 'cuda' or 'cuda:N', got '" + device + "'");
  }
  if (!torch::cuda::is_available()) {
    throw SkipNetError("ERR_CUDA_UNAVAILABLE",
                       "device '" + device +
                           "' was requested, but this LibTorch has no usable CUDA (built without CUDA, or no GPU "
                           "visible). Use device 'cpu', or rebuild against a CUDA LibTorch: "
                           "LIBTORCH=/path/to/libtorch npm run build:native");
  }
  const auto count = static_cast<int>(torch::cuda::device_count());
  if (index >= count) {
    throw SkipNetError("ERR_CUDA_UNAVAILABLE", "device '" + device + "' was requested, but only " +
                                                   std::to_string(count) + " CUDA device(s) are visible");
  }
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
}

Engine::Engine(const ModelSpec& spec)
    : spec_(spec), arch_(describe(spec)), device_(parseDevice(spec.device)),
      dtype_(spec.float64 ? torch::kFloat64 : torch::kFloat32) {
  torch::manual_seed(spec.seed);
  model_ = SkipNet(spec_, arch_);
  model_->to(device_, dtype_);
  for (const auto& item : model_->named_parameters(true)) {
    paramNames_.push_back(item.key());
    params_.push_back(item.value());
  }
  momentum_.resize(params_.size());
  for (const auto& b : model_->buffers(true)) {
    buffers_.push_back(b);
    bufferSnapshot_.push_back(torch::empty_like(b));
  }
  // Normalisation folded into one multiply and one subtract: (x / 255 - mean) / std.
  std::vector<double> scale, shift;
  for (int c = 0; c < spec_.inChannels; ++c) {
    scale.push_back(1.0 / (255.0 * spec_.std[c]));
    shift.push_back(spec_.mean[c] / spec_.std[c]);
  }
  // torch::tensor() of doubles makes the default dtype (float32): ask for float64 explicitly.
  shift_ = torch::tensor(shift, torch::kFloat64).to(device_, dtype_);
  scale_ = torch::tensor(scale, torch::kFloat64).to(device_, dtype_);
  if (spec_.precision == Precision::Fp16 && !device_.is_cuda()) {
    throw SkipNetError("ERR_BAD_ARG", "precision 'fp16' needs a CUDA device (autocast on the CPU computes in bf16): use precision 'bf16' or 'fp32' on the CPU");
  }
  if (spec_.lossScale.enabled) scaler_ = std::make_unique<LossScaler>(spec_.lossScale);
  // cuDNN's autotuner picks the fastest convolution algorithms for the shapes it sees (a
  // process-wide setting; worth it when input sizes repeat, as in training).
  if (device_.is_cuda()) at::globalContext().setBenchmarkCuDNN(spec_.cudnnBenchmark);
}

void Engine::backward(const torch::Tensor& loss) {
  if (scaler_) (loss * scaler_->scale()).backward();
  else loss.backward();
}

void Engine::finishStep(const SgdArgs& args, TrainResult& r) {
  if (scaler_) {
    const bool finite = scaler_->unscaleAndCheck(params_);
    r.lossScale = scaler_->scale();
    scaler_->update(finite);
    if (!finite) {
      r.stepSkipped = true;  // as GradScaler: no update, a smaller scale next time
      return;
    }
  }
  sgdStep(args);
}

torch::Tensor Engine::toDevice(const torch::Tensor& host) const {
  if (!device_.is_cuda()) return host;
  // A page-locked copy (from LibTorch's caching host allocator, so no allocation per step) lets
  // the transfer run asynchronously; the allocator keeps the block until the copy is done.
  return host.pin_memory().to(device_, /*non_blocking=*/true);
}

torch::Tensor Engine::toInput(const BatchView& b) const {
  if (b.channels != spec_.inChannels) {
    throw SkipNetError("ERR_BAD_ARG", "batch has " + std::to_string(b.channels) + " channel(s), but the model takes " +
                                          std::to_string(spec_.inChannels));
  }
  auto raw = torch::from_blob(const_cast<uint8_t*>(b.images), {b.n, b.height, b.width, b.channels}, torch::kUInt8);
  auto x = toDevice(raw).to(dtype_);
  // (x / 255 - mean) / std, applied over the channel axis while still NHWC.
  x = x.mul_(scale_).sub_(shift_);
  // NCHW-contiguous: channels-last measured 15% slower for training on this LibTorch (oneDNN).
  return x.permute({0, 3, 1, 2}).contiguous();
}

torch::Tensor Engine::toLabels(const BatchView& b) const {
  auto y = torch::from_blob(const_cast<int32_t*>(b.labels), {b.n}, torch::kInt32).to(torch::kInt64);
  const auto lo = y.min().item<int64_t>(), hi = y.max().item<int64_t>();
  if (lo < 0 || hi >= spec_.numClasses) {
    throw SkipNetError("ERR_BAD_ARG", "label " + std::to_string(lo < 0 ? lo : hi) + " is outside [0, " +
                                          std::to_string(spec_.numClasses) + ") for a model with " +
                                          std::to_string(spec_.numClasses) + " classes");
  }
  return toDevice(y);
}

void Engine::sgdStep(const SgdArgs& a) {
  // torch.optim.SGD (dampening 0), one parameter at a time, with the lr given per step.
  torch::NoGradGuard noGrad;
  for (size_t i = 0; i < params_.size(); ++i) {
    auto& p = params_[i];
    const auto& grad = p.grad();
    if (!grad.defined()) continue;
    auto d = a.weightDecay != 0 ? grad.add(p, a.weightDecay) : grad;
    if (a.momentum != 0) {
      auto& buf = momentum_[i];
      if (!buf.defined()) {
        buf = d.clone();
      } else {
        buf.mul_(a.momentum).add_(d);
      }
      d = a.nesterov ? d.add(buf, a.momentum) : buf;
    }
    p.add_(d, -a.lr);
  }
}

TrainResult Engine::trainStep(const BatchView& batch, const SgdArgs& args) {
  model_->train();
  auto x = toInput(batch);
  auto y = toLabels(batch);
  // The forward pass moves the BN running statistics; keep a copy so that a step that
  // ends in a NaN loss leaves the model exactly as it was (a few KB of copies).
  snapshotBuffers();
  const auto rule = spec_.gateMode == GateMode::Soft ? MaskRule::Soft : MaskRule::StraightThrough;
  ForwardResult fwd;
  torch::Tensor loss;
  {
    AutocastScope autocast(spec_.precision, device_);
    // p > -1 holds for every probability: the straight-through mask is 1 in the forward pass.
    fwd = model_->forwardMasked(x, rule, args.gatesOpen ? -1.0 : 0.5, nullptr, true, args.gatesReadDetached);
    loss = torch::nn::functional::cross_entropy(fwd.logits, y);
  }
  // The step's metrics come from the forward pass alone, so they are taken before backward:
  // data-parallel ranks exchange them first, and a NaN on any rank then stops every rank
  // (rather than leaving the others waiting for its gradients).
  TrainResult r;
  r.loss = loss.item<double>();
  r.n = batch.n;
  r.correct = fwd.logits.argmax(1).eq(y).sum().item<int64_t>();
  if (!fwd.probs.empty()) {
    auto exec = torch::stack(fwd.probs).detach().gt(0.5).sum(1).to(torch::kFloat64).cpu();
    r.gateExec.assign(exec.data_ptr<double>(), exec.data_ptr<double>() + exec.numel());
  }
  if (dist_) reduceTrainMetrics(r);
  const double lossValue = r.loss;
  if (!std::isfinite(lossValue)) {
    restoreBuffers();
    std::ostringstream msg;
    msg << "the training loss is " << lossValue << " (lr " << args.lr
        << "): the weights were not updated. Lower the learning rate, add warm-up, or check the input data";
    throw SkipNetError("ERR_NAN_LOSS", msg.str());
  }
  // The execution target keeps the gates from all closing (or all opening) while the backbone
  // is young; r is this rank's batch (per-rank, as batch-norm statistics without sync).
  if (args.executionRate >= 0 && !fwd.masks.empty() && !args.gatesOpen) {
    auto masks = torch::stack(fwd.masks);
    if (masks.scalar_type() != torch::kDouble) masks = masks.to(torch::kFloat32);  // bf16/fp16 under autocast
    loss = loss + args.executionWeight * (executedFractions(masks, args.executionScope) - args.executionRate).pow(2).mean();
  }
  for (auto& p : params_) p.mutable_grad() = torch::Tensor();
  if (dist_) dist_->beginBackward(params_, "the gradient all-reduce");  // buckets may leave during backward
  backward(loss);
  if (dist_) dist_->averageGradients(params_, "the gradient all-reduce");
  finishStep(args, r);
  return r;
}

// masks: (M, B), row k deciding block k + 1. The executed fraction of the whole batch, of each
// stage's gated blocks (a stage starts at every projecting block after block 0), or of each gate.
torch::Tensor Engine::executedFractions(const torch::Tensor& masks, SgdArgs::Scope scope) const {
  if (scope == SgdArgs::Scope::Network) return masks.mean();
  if (scope == SgdArgs::Scope::Gate) return masks.mean(1);
  const auto& blocks = model_->arch.blocks;
  std::vector<torch::Tensor> stages;
  int64_t first = 0;  // first gate row of the current stage
  for (int64_t k = 0; k < masks.size(0); ++k) {
    const bool last = k + 1 == masks.size(0) || blocks[static_cast<size_t>(k + 2)].projection;
    if (last) {
      stages.push_back(masks.slice(0, first, k + 1).mean());
      first = k + 1;
    }
  }
  return torch::stack(stages);
}

// Group-wide step metrics: summed counts, and the loss averaged over every rank's samples.
void Engine::reduceTrainMetrics(TrainResult& r) {
  std::vector<double> v{r.loss * static_cast<double>(r.n), static_cast<double>(r.correct), static_cast<double>(r.n)};
  v.insert(v.end(), r.gateExec.begin(), r.gateExec.end());
  dist_->sumInPlace(v, "the step-metrics all-reduce");
  r.n = static_cast<int64_t>(v[2]);
  r.loss = v[0] / v[2];
  r.correct = static_cast<int64_t>(v[1]);
  std::copy(v.begin() + 3, v.end(), r.gateExec.begin());
}

void Engine::attachDistributed(std::unique_ptr<Distributed> group) {
  if (dist_) throw SkipNetError("ERR_BAD_ARG", "this model already belongs to a process group");
  std::vector<torch::Tensor> state(params_);
  state.insert(state.end(), buffers_.begin(), buffers_.end());
  group->broadcastFromRoot(state, "the broadcast of rank 0's weights");
  dist_ = std::move(group);
  if (dist_->syncBatchNorm()) {
    auto* group_ = dist_.get();
    auto sum = std::make_shared<SumOverRanks>([group_](torch::Tensor& t) { group_->sumInPlace(t, "the synchronised batch-norm all-reduce"); });
    for (auto& m : model_->modules(/*include_self=*/false)) {
      if (auto* bn = m->as<BatchNormImpl>()) bn->sync = sum;
    }
  }
}

void Engine::snapshotBuffers() {
  torch::NoGradGuard noGrad;
  for (size_t i = 0; i < buffers_.size(); ++i) bufferSnapshot_[i].copy_(buffers_[i]);
}

void Engine::restoreBuffers() {
  torch::NoGradGuard noGrad;
  for (size_t i = 0; i < buffers_.size(); ++i) buffers_[i].copy_(bufferSnapshot_[i]);
}

torch::Tensor hrlReturns(const torch::Tensor& actions, const torch::Tensor& ce, const HrlArgs& a) {
  const int64_t m = actions.size(0);
  auto rewards = (1 - actions) * (a.alpha / static_cast<double>(m));  // skipping pays alpha/M
  auto next = ce * (-a.beta);                                          // terminal value T
  std::vector<torch::Tensor> g(m);
  for (int64_t i = m - 1; i >= 0; --i) {
    g[i] = rewards[i] + next * a.gamma;
    next = g[i];
  }
  return torch::stack(g);
}

Engine::HrlPass Engine::hrlForwardBackward(const BatchView& batch, const HrlArgs& hrl, const Sampling& sampling) {
  if (spec_.gate == GateKind::None) {
    throw SkipNetError("ERR_BAD_ARG", "HRL trains gates, but this model has none (gate 'none')");
  }
  model_->train();
  CudnnBenchmarkPause heuristics(hrl.skipCompute && device_.is_cuda());  // backward too
  auto x = toInput(batch);
  auto y = toLabels(batch);
  snapshotBuffers();
  HrlPass h;
  torch::Tensor greedyReturns;
  if (hrl.selfCriticalBaseline) {
    // The greedy policy's returns on the same batch, in the same train-mode forward (batch
    // statistics) but without gradient; its running-statistics update is undone so that
    // the step updates them once, from the sampled pass, as without a baseline.
    torch::NoGradGuard noGrad;
    AutocastScope autocast(spec_.precision, device_);
    auto greedy = model_->forwardMasked(x, MaskRule::Threshold, 0.5, nullptr, !hrl.skipCompute);
    auto greedyCe = torch::nn::functional::cross_entropy(
        greedy.logits, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
    greedyReturns = hrlReturns(torch::stack(greedy.masks), greedyCe, hrl);
    restoreBuffers();
  }
  {
    AutocastScope autocast(spec_.precision, device_);
    h.fwd = model_->forwardMasked(x, MaskRule::Sample, 0.5, &sampling, !hrl.skipCompute, hrl.gatesReadDetached);
    h.ce = torch::nn::functional::cross_entropy(
        h.fwd.logits, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
  }
  auto ceMean = h.ce.mean();
  const double lossValue = ceMean.item<double>();
  if (!std::isfinite(lossValue)) {
    restoreBuffers();
    throw SkipNetError("ERR_NAN_LOSS", "the HRL cross-entropy is " + std::to_string(lossValue) +
                                           ": the weights were not updated. Lower the learning rate or check the data");
  }
  h.actions = torch::stack(h.fwd.masks);  // (M, B), no gradient
  h.probs = torch::stack(h.fwd.probs);    // (M, B), with gradient
  h.returns = hrlReturns(h.actions, h.ce.detach(), hrl);
  h.advantages = h.returns;
  if (hrl.movingBaseline) {
    if (!returnBaseline_.defined() || returnBaseline_.size(0) != h.returns.size(0)) {
      returnBaseline_ = h.returns.mean(1, true).detach();
    }
    h.advantages = h.returns - returnBaseline_;
  } else if (hrl.selfCriticalBaseline) {
    h.advantages = h.returns - greedyReturns;
  }
  // log pi(a) of the acting policy's Bernoulli(q) action (q = p without exploration); q is
  // clamped so a saturated gate gives a finite term.
  const double eps = 1e-8;
  auto q = actingProbability(h.probs, hrl.explore);
  auto logPi = h.actions * q.clamp_min(eps).log() + (1 - h.actions) * (1 - q).clamp_min(eps).log();
  h.rl = -(h.advantages.detach() * logPi).sum() * hrl.rlWeight;
  if (hrl.meanOverBatch) h.rl = h.rl / static_cast<double>(batch.n);
  h.total = ceMean + h.rl;
  if (hrl.logitPenalty > 0) {
    auto logits = torch::stack(h.fwd.gateLogits);
    auto excess = ((hrl.logitUpperOnly ? logits : logits.abs()) - hrl.logitLimit).clamp_min(0);
    h.logitBound = excess.square().sum() * hrl.logitPenalty;
    if (hrl.meanOverBatch) h.logitBound = h.logitBound / static_cast<double>(batch.n);
    h.total = h.total + h.logitBound;
  }
  for (auto& p : params_) p.mutable_grad() = torch::Tensor();
  backward(h.total);
  if (hrl.movingBaseline) {
    returnBaseline_ = (returnBaseline_ * hrl.baselineMomentum + h.returns.mean(1, true) * (1 - hrl.baselineMomentum)).detach();
  }
  return h;
}

HrlResult Engine::hrlStep(const BatchView& batch, const SgdArgs& sgd, const HrlArgs& hrl) {
  Sampling sampling;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(hrl.sampleSeed);
  sampling.generator = gen;
  sampling.explore = hrl.explore;
  if (dist_) return hrlStepDistributed(batch, sgd, hrl, sampling);
  auto h = hrlForwardBackward(batch, hrl, sampling);
  HrlResult r;
  finishStep(sgd, r);
  r.loss = h.ce.mean().item<double>();
  r.rlLoss = h.rl.item<double>();
  r.meanReturn = h.returns.mean().item<double>();
  r.n = batch.n;
  r.correct = h.fwd.logits.argmax(1).eq(toLabels(batch)).sum().item<int64_t>();
  auto exec = h.actions.sum(1).to(torch::kFloat64).cpu().contiguous();
  r.gateExec.assign(exec.data_ptr<double>(), exec.data_ptr<double>() + exec.numel());
  return r;
}

// hrlStep on one rank of a group. The global batch's objective is its mean cross-entropy plus
// the RL term summed ('sum') or averaged ('mean') over all of its samples. Gradients are
// averaged over the ranks, which is right for the means; for 'sum' each rank weights its RL
// term by the world size, so that the average restores the sum over the global batch.
HrlResult Engine::hrlStepDistributed(const BatchView& batch, const SgdArgs& sgd, const HrlArgs& hrl,
                                     const Sampling& sampling) {
  if (hrl.skipCompute && dist_->syncBatchNorm()) {
    // Each rank would run a different set of blocks, hence a different sequence of collectives.
    throw SkipNetError("ERR_BAD_ARG", "HRL execution 'skip' cannot be combined with synchronised batch norm: set hrl.execution to 'mask' or distributed.syncBatchNorm to false");
  }
  const double world = dist_->size();
  HrlArgs local = hrl;
  if (!hrl.meanOverBatch) {
    local.rlWeight *= world;
    local.logitPenalty *= world;  // summed over the batch like the RL term
  }
  const auto savedBaseline = returnBaseline_.defined() ? returnBaseline_.clone() : torch::Tensor();
  HrlPass h;
  bool finite = true;
  try {
    h = hrlForwardBackward(batch, local, sampling);
  } catch (const SkipNetError& e) {
    // This rank still joins the metrics all-reduce below, or the others would wait for it.
    if (e.code != "ERR_NAN_LOSS") throw;
    finite = false;
  }
  const auto m = static_cast<int64_t>(arch_.blocks.size()) - 1;
  // [ce sum, rl, returns sum, correct, n, ranks with a NaN, executions per gate (m), baseline (m)]
  std::vector<double> v(6 + 2 * m, 0.0);
  if (finite) {
    v[0] = h.ce.sum().item<double>();
    v[1] = h.rl.item<double>();
    v[2] = h.returns.sum().item<double>();
    v[3] = static_cast<double>(h.fwd.logits.argmax(1).eq(toLabels(batch)).sum().item<int64_t>());
    v[4] = static_cast<double>(batch.n);
    auto exec = h.actions.sum(1).to(torch::kFloat64).cpu().contiguous();
    std::copy(exec.data_ptr<double>(), exec.data_ptr<double>() + m, v.begin() + 6);
    if (hrl.movingBaseline) {
      auto b = returnBaseline_.to(torch::kCPU, torch::kFloat64).contiguous();
      std::copy(b.data_ptr<double>(), b.data_ptr<double>() + m, v.begin() + 6 + m);
    }
  } else {
    v[5] = 1;
  }
  dist_->sumInPlace(v, "the step-metrics all-reduce");
  if (v[5] > 0) {
    restoreBuffers();  // hrlForwardBackward snapshotted them on every rank
    returnBaseline_ = savedBaseline;
    throw SkipNetError("ERR_NAN_LOSS", "the HRL cross-entropy is not finite on " + std::to_string(static_cast<int>(v[5])) +
                                           " of " + std::to_string(dist_->size()) +
                                           " ranks: the weights were not updated. Lower the learning rate or check the data");
  }
  if (hrl.movingBaseline) {
    // The mean of the ranks' updated baselines is the global batch's update (equal shards).
    auto mean = torch::tensor(std::vector<double>(v.begin() + 6 + m, v.end()), torch::kFloat64) / world;
    returnBaseline_ = mean.view({m, 1}).to(device_, dtype_);
  }
  dist_->averageGradients(params_, "the gradient all-reduce");
  HrlResult r;
  finishStep(sgd, r);
  r.n = static_cast<int64_t>(v[4]);
  r.loss = v[0] / v[4];
  r.rlLoss = v[1] / world;  // 'sum': the ranks' terms carry the factor world; 'mean': their average
  r.meanReturn = v[2] / (static_cast<double>(m) * v[4]);
  r.correct = static_cast<int64_t>(v[3]);
  r.gateExec.assign(v.begin() + 6, v.begin() + 6 + m);
  return r;
}

void Engine::sharpenGate(double factor, double biasShift) {
  if (spec_.gate != GateKind::Rnn) throw SkipNetError("ERR_BAD_ARG", "sharpenGate applies to the recurrent gate only");
  torch::NoGradGuard noGrad;
  model_->gate->proj->weight.mul_(factor);
  model_->gate->proj->bias.mul_(factor).add_(biasShift);
}

const MacTable& Engine::macsFor(int64_t height, int64_t width) {
  auto key = std::make_pair(height, width);
  auto it = macCache_.find(key);
  if (it == macCache_.end()) it = macCache_.emplace(key, macTable(spec_, arch_, height, width)).first;
  return it->second;
}

EvalResult Engine::evalStep(const BatchView& batch, double threshold, bool skipping) {
  model_->eval();
  torch::InferenceMode inference;
  auto x = toInput(batch);
  auto y = toLabels(batch);
  ForwardResult fwd;
  {
    AutocastScope autocast(spec_.precision, device_);
    fwd = skipping ? model_->forwardSkipping(x, threshold) : model_->forwardMasked(x, MaskRule::Threshold, threshold);
  }

  EvalResult r;
  r.n = batch.n;
  r.lossSum = torch::nn::functional::cross_entropy(
                  fwd.logits, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                  .item<double>();
  const int64_t k = std::min<int64_t>(5, fwd.logits.size(1));
  auto top = std::get<1>(fwd.logits.topk(k, 1));
  auto hits = top.eq(y.view({-1, 1}));
  r.correct1 = hits.select(1, 0).sum().item<int64_t>();
  r.correct5 = hits.any(1).sum().item<int64_t>();
  auto pred = top.select(1, 0).to(torch::kInt32).cpu().contiguous();
  r.predictions.assign(pred.data_ptr<int32_t>(), pred.data_ptr<int32_t>() + batch.n);
  auto logits = fwd.logits.to(torch::kCPU, torch::kFloat32).contiguous();
  r.logits.assign(logits.data_ptr<float>(), logits.data_ptr<float>() + logits.numel());

  const auto& macs = macsFor(batch.height, batch.width);
  const int64_t n = batch.n, blocks = static_cast<int64_t>(arch_.blocks.size());
  const int64_t m = fwd.masks.empty() ? 0 : blocks - 1;
  // Every sample pays for the stem, block 0 and the gates that were evaluated.
  double fixed = macs.stem + macs.blockExec[0];
  for (int64_t g = 0; g < m; ++g) fixed += macs.gate[g];
  r.macs.assign(n, fixed);
  r.gateExec.assign(m, 0.0);
  if (m > 0) {
    auto exec = torch::stack(fwd.masks, 1).gt(0.5).to(torch::kUInt8).cpu().contiguous();  // (n, m)
    r.executed.assign(exec.data_ptr<uint8_t>(), exec.data_ptr<uint8_t>() + n * m);
    for (int64_t s = 0; s < n; ++s) {
      for (int64_t g = 0; g < m; ++g) {
        const bool ran = r.executed[s * m + g] != 0;
        r.gateExec[g] += ran ? 1.0 : 0.0;
        r.macs[s] += ran ? macs.blockExec[g + 1] : macs.blockSkip[g + 1];
      }
    }
  } else {
    for (int64_t i = 1; i < blocks; ++i) {
      for (auto& v : r.macs) v += macs.blockExec[i];
    }
  }
  return r;
}

namespace {
// The HRL moving-average baseline travels with the optimizer state (it is training state).
const char* const kBaselineName = "hrl.return_baseline";
// So does the loss scaler's state: [scale, finite steps since the last change].
const char* const kScalerName = "amp.loss_scaler";

NamedTensor named(const std::string& name, const torch::Tensor& t) {
  auto cpu = t.detach().to(torch::kCPU).contiguous().clone();
  if (cpu.scalar_type() != torch::kInt64 && cpu.scalar_type() != torch::kFloat64) cpu = cpu.to(torch::kFloat32);
  return {name, cpu};
}
}  // namespace

std::vector<NamedTensor> Engine::inspectStep(const BatchView& batch) {
  // Keep the batch-norm running statistics as they were: this call is for inspection.
  snapshotBuffers();

  model_->train();
  auto x = toInput(batch);
  auto y = toLabels(batch);
  const auto rule = spec_.gateMode == GateMode::Soft ? MaskRule::Soft : MaskRule::StraightThrough;
  ForwardResult fwd;
  torch::Tensor loss;
  {
    AutocastScope autocast(spec_.precision, device_);  // as trainStep computes it
    fwd = model_->forwardMasked(x, rule, 0.5);
    loss = torch::nn::functional::cross_entropy(fwd.logits, y);
  }
  for (auto& p : params_) p.mutable_grad() = torch::Tensor();
  loss.backward();

  std::vector<NamedTensor> out;
  out.push_back(named("logits", fwd.logits));
  out.push_back(named("loss", loss.view({1})));
  if (!fwd.probs.empty()) out.push_back(named("probs", torch::stack(fwd.probs)));
  out.push_back(named("features", fwd.features));
  finishInspection(out);
  return out;
}

// Appends every parameter's gradient (zeros for the unused last gate), then leaves the model
// as it was before the inspection: no gradients, batch-norm statistics restored.
void Engine::finishInspection(std::vector<NamedTensor>& out) {
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto& g = params_[i].grad();
    out.push_back(named("grad." + paramNames_[i], g.defined() ? g : torch::zeros_like(params_[i])));
  }
  for (auto& p : params_) p.mutable_grad() = torch::Tensor();
  restoreBuffers();
}

std::vector<NamedTensor> Engine::inspectHrl(const BatchView& batch, const HrlArgs& hrl, const torch::Tensor& forced) {
  Sampling sampling;
  sampling.generator = at::make_generator<at::CPUGeneratorImpl>(hrl.sampleSeed);
  sampling.explore = hrl.explore;
  if (forced.defined()) {
    const int64_t m = static_cast<int64_t>(arch_.blocks.size()) - 1;
    if (forced.dim() != 2 || forced.size(0) != m || forced.size(1) != batch.n) {
      throw SkipNetError("ERR_BAD_ARG", "actions must have shape [" + std::to_string(m) + ", " + std::to_string(batch.n) + "]");
    }
    for (int64_t i = 0; i < m; ++i) sampling.forced.push_back(forced[i].to(device_, dtype_));
  }
  auto savedBaseline = returnBaseline_;
  auto h = hrlForwardBackward(batch, hrl, sampling);
  returnBaseline_ = savedBaseline;
  std::vector<NamedTensor> out;
  out.push_back(named("logits", h.fwd.logits));
  out.push_back(named("ce", h.ce));
  out.push_back(named("actions", h.actions));
  out.push_back(named("probs", h.probs));
  out.push_back(named("returns", h.returns));
  out.push_back(named("rl", h.rl.view({1})));
  out.push_back(named("gateLogits", torch::stack(h.fwd.gateLogits)));
  out.push_back(named("logitBound", h.logitBound.defined() ? h.logitBound.view({1}) : torch::zeros({1}, h.rl.options())));
  finishInspection(out);
  return out;
}

std::vector<NamedTensor> Engine::exportWeights() {
  std::vector<NamedTensor> out;
  for (const auto& item : model_->named_parameters(true)) out.push_back(named(item.key(), item.value()));
  for (const auto& item : model_->named_buffers(true)) out.push_back(named(item.key(), item.value()));
  return out;
}

std::vector<NamedTensor> Engine::exportOptimizer() {
  std::vector<NamedTensor> out;
  for (size_t i = 0; i < params_.size(); ++i) {
    if (momentum_[i].defined()) out.push_back(named("momentum." + paramNames_[i], momentum_[i]));
  }
  if (returnBaseline_.defined()) out.push_back(named(kBaselineName, returnBaseline_));
  if (scaler_) {
    out.push_back(named(kScalerName, torch::tensor({scaler_->scale(), static_cast<double>(scaler_->growthTracker())}, torch::kFloat64)));
  }
  return out;
}

namespace {
std::string shapeText(const torch::Tensor& t) {
  std::ostringstream s;
  s << t.sizes();
  return s.str();
}

// Copies entries into targets by name; every target must be present with its exact shape,
// and nothing may be left over. Nothing is copied unless everything matches.
void copyByName(const std::vector<NamedTensor>& entries, const std::vector<std::pair<std::string, torch::Tensor>>& targets,
                const char* what, bool allowMissing) {
  std::map<std::string, const torch::Tensor*> byName;
  for (const auto& e : entries) {
    if (!byName.emplace(e.name, &e.tensor).second) {
      throw SkipNetError("ERR_WEIGHTS", std::string(what) + ": tensor '" + e.name + "' appears twice");
    }
  }
  std::vector<std::string> problems;
  std::set<std::string> used;
  for (const auto& [name, target] : targets) {
    auto it = byName.find(name);
    if (it == byName.end()) {
      if (!allowMissing) problems.push_back("missing '" + name + "'");
      continue;
    }
    used.insert(name);
    if (!it->second->sizes().equals(target.sizes())) {
      problems.push_back("'" + name + "' has shape " + shapeText(*it->second) + ", the model expects " + shapeText(target));
    }
  }
  for (const auto& e : entries) {
    if (!used.count(e.name)) problems.push_back("unexpected '" + e.name + "'");
  }
  if (!problems.empty()) {
    std::string msg = std::string(what) + " do not fit this model (" + std::to_string(problems.size()) + " problem(s)): ";
    for (size_t i = 0; i < problems.size() && i < 6; ++i) msg += (i ? "; " : "") + problems[i];
    if (problems.size() > 6) msg += "; ...";
    msg += ". Check that the file was saved from a model with the same arch, depth, gate and classes";
    throw SkipNetError("ERR_WEIGHTS", msg);
  }
}
}  // namespace

void Engine::importWeights(const std::vector<NamedTensor>& entries) {
  std::vector<std::pair<std::string, torch::Tensor>> targets;
  for (const auto& item : model_->named_parameters(true)) targets.emplace_back(item.key(), item.value());
  for (const auto& item : model_->named_buffers(true)) targets.emplace_back(item.key(), item.value());
  copyByName(entries, targets, "weights", false);
  torch::NoGradGuard noGrad;
  std::map<std::string, const torch::Tensor*> byName;
  for (const auto& e : entries) byName[e.name] = &e.tensor;
  for (auto& [name, target] : targets) target.copy_(*byName[name]);
}

void Engine::importOptimizer(const std::vector<NamedTensor>& all) {
  std::vector<NamedTensor> entries;
  torch::Tensor baseline, scaler;
  for (const auto& e : all) {
    if (e.name == kBaselineName) baseline = e.tensor;
    else if (e.name == kScalerName) scaler = e.tensor;
    else entries.push_back(e);
  }
  // A checkpoint without scaler state (saved without loss scaling) starts the scaler afresh.
  if (scaler.defined() && scaler_) {
    if (scaler.numel() != 2) throw SkipNetError("ERR_WEIGHTS", std::string(kScalerName) + " must hold 2 values");
    auto v = scaler.to(torch::kCPU, torch::kFloat64).contiguous();
    scaler_->restore(v.data_ptr<double>()[0], static_cast<int64_t>(v.data_ptr<double>()[1]));
  }
  std::vector<std::pair<std::string, torch::Tensor>> targets;
  for (size_t i = 0; i < params_.size(); ++i) targets.emplace_back("momentum." + paramNames_[i], params_[i]);
  copyByName(entries, targets, "optimizer state", true);
  returnBaseline_ = baseline.defined() ? baseline.to(device_, dtype_).clone() : torch::Tensor();
  std::map<std::string, const torch::Tensor*> byName;
  for (const auto& e : entries) byName[e.name] = &e.tensor;
  for (size_t i = 0; i < params_.size(); ++i) {
    auto it = byName.find("momentum." + paramNames_[i]);
    momentum_[i] = it == byName.end() ? torch::Tensor() : it->second->to(device_, params_[i].scalar_type()).clone();
  }
}

}  // namespace skipnet
