#include "pch.h"
#include "gradient_sync.h"

#include "c10d_group.h"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>

namespace skipnet {

std::vector<std::vector<size_t>> makeBuckets(const std::vector<torch::Tensor>& tensors, const std::vector<size_t>& order,
                                             int64_t bucketBytes, int64_t firstBucketBytes) {
  std::vector<std::vector<size_t>> buckets;
  int64_t bytes = 0;
  for (size_t i : order) {
    const auto& t = tensors[i];
    const int64_t size = t.numel() * static_cast<int64_t>(t.element_size());
    const int64_t limit = buckets.size() == 1 ? std::min(firstBucketBytes, bucketBytes) : bucketBytes;
    const bool fresh = buckets.empty() || bytes + size > limit || tensors[buckets.back().front()].scalar_type() != t.scalar_type();
    if (fresh) {
      buckets.emplace_back();
      bytes = 0;
    }
    buckets.back().push_back(i);
    bytes += size;
  }
  return buckets;
}

namespace {

std::vector<size_t> reversed(size_t n) {
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = n - 1 - i;  // backward reaches the last layers first
  return order;
}

// Runs a callback after a parameter's gradient accumulator has written its .grad.
struct ReadyHook : torch::autograd::FunctionPostHook {
  explicit ReadyHook(std::function<void()> fn) : fn(std::move(fn)) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                            const torch::autograd::variable_list& /*inputs*/) override {
    fn();
    return outputs;
  }
  std::function<void()> fn;
};

constexpr int64_t kFirstBucketBytes = 1 << 20;  // torch DDP's first-bucket size: start sending early

}  // namespace

#ifdef SKIPNET_HAVE_C10D

struct GradientSync::State {
  std::shared_ptr<C10dGroup> group;
  int64_t bucketBytes = 0;
  bool overlap = false;
  std::mutex mutex;  // hooks run inside backward, on an autograd thread for CUDA tensors

  // Layout: parameter indices per bucket, and one reusable flat buffer per bucket with one
  // extra slot per parameter (1 where the rank has a gradient for it).
  std::vector<std::vector<size_t>> buckets;
  std::vector<size_t> bucketOf;
  std::vector<torch::Tensor> flats;
  bool ordered = false;  // the layout follows the observed order of gradients
  bool hooked = false;
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators;  // kept alive: they hold the hooks

  // One step.
  const std::vector<torch::Tensor>* params = nullptr;
  bool armed = false, recording = false;
  std::vector<char> expected, fired;
  std::vector<int64_t> pending;  // expected parameters of each bucket still without a gradient
  std::vector<size_t> readyOrder;
  std::vector<std::vector<at::Tensor>> inputs;
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  size_t next = 0;  // the next bucket to send (they leave in order)
  std::string error;
  size_t sentInBackward = 0;
  bool debug = std::getenv("SKIPNET_DEBUG_DDP") != nullptr;  // a line per step on stderr

  void setLayout(const std::vector<torch::Tensor>& ps, const std::vector<size_t>& order, int64_t first) {
    buckets = makeBuckets(ps, order, bucketBytes, first);
    bucketOf.assign(ps.size(), 0);
    flats.clear();
    for (size_t b = 0; b < buckets.size(); ++b) {
      int64_t numel = 0;
      for (size_t i : buckets[b]) {
        bucketOf[i] = b;
        numel += ps[i].numel();
      }
      const auto opts = ps[buckets[b].front()].options().device(group->commDevice).requires_grad(false);
      flats.push_back(torch::empty({numel + static_cast<int64_t>(buckets[b].size())}, opts));
    }
  }

  void startStep() {
    inputs.assign(buckets.size(), {});
    works.assign(buckets.size(), {});
    next = 0;
    error.clear();
  }

  void send(size_t b) {
    torch::NoGradGuard noGrad;
    const auto& ps = *params;
    auto& flat = flats[b];
    int64_t offset = 0;
    std::vector<double> have;
    for (size_t i : buckets[b]) {
      const auto& g = ps[i].grad();
      auto slot = flat.narrow(0, offset, ps[i].numel());
      if (g.defined()) slot.copy_(g.reshape(-1));
      else slot.zero_();
      have.push_back(g.defined() ? 1.0 : 0.0);
      offset += ps[i].numel();
    }
    flat.narrow(0, offset, static_cast<int64_t>(have.size())).copy_(torch::tensor(have, torch::kFloat64).to(flat.options()));
    inputs[b] = {flat};
    works[b] = group->pg->allreduce(inputs[b]);
  }

  void sendReadyInOrder() {
    while (next < buckets.size() && pending[next] == 0) send(next++);
  }

  // A hook: parameter i has its gradient.
  void onReady(size_t i) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!armed || !error.empty()) return;
    try {
      fired[i] = 1;
      if (recording) {
        readyOrder.push_back(i);
        return;
      }
      const size_t b = bucketOf[i];
      if (works[b]) {
        error = "parameter " + std::to_string(i) + " got its gradient after its bucket had been sent (its use changed "
                "between steps); set distributed.overlap to false for this model";
        return;
      }
      if (expected[i] && --pending[b] == 0) sendReadyInOrder();
    } catch (const c10::Error& e) {
      error = e.what_without_backtrace();
    } catch (const std::exception& e) {
      error = e.what();
    }
  }

  // After a recording step: every rank adopts rank 0's order of gradients as the layout.
  void adoptObservedOrder(const std::vector<torch::Tensor>& ps) {
    std::vector<int64_t> order(readyOrder.begin(), readyOrder.end());
    for (size_t i : reversed(ps.size())) {
      if (!fired[i]) order.push_back(static_cast<int64_t>(i));
    }
    std::vector<at::Tensor> t{torch::tensor(order, torch::kInt64).to(group->commDevice)};
    c10d::BroadcastOptions bo;
    bo.rootRank = 0;
    group->pg->broadcast(t, bo)->wait();
    auto root = t[0].to(torch::kCPU).contiguous();
    std::vector<size_t> adopted;
    std::vector<char> seen(ps.size(), 0);
    for (int64_t k = 0; k < root.numel(); ++k) {
      const auto i = root.data_ptr<int64_t>()[k];
      if (i < 0 || static_cast<size_t>(i) >= ps.size() || seen[i]) throw std::runtime_error("rank 0's gradient order is not a permutation");
      seen[i] = 1;
      adopted.push_back(static_cast<size_t>(i));
    }
    if (adopted.size() != ps.size()) throw std::runtime_error("rank 0's gradient order has the wrong length (different models?)");
    setLayout(ps, adopted, kFirstBucketBytes);
    ordered = true;
  }
};

GradientSync::GradientSync(std::shared_ptr<C10dGroup> group, int64_t bucketBytes, bool overlap)
    : state_(std::make_shared<State>()) {
  state_->group = std::move(group);
  state_->bucketBytes = bucketBytes;
  state_->overlap = overlap;
}

GradientSync::~GradientSync() = default;

void GradientSync::beginBackward(const std::vector<torch::Tensor>& ps) {
  auto& s = *state_;
  if (!s.overlap) return;
  std::lock_guard<std::mutex> lock(s.mutex);
  if (s.armed) {
    s.armed = false;
    throw std::runtime_error("the gradient all-reduce of an earlier step never finished, so the ranks are out of step");
  }
  if (s.buckets.empty()) s.setLayout(ps, reversed(ps.size()), s.bucketBytes);
  if (!s.hooked) {
    std::weak_ptr<State> weak = state_;
    for (size_t i = 0; i < ps.size(); ++i) {
      if (!ps[i].requires_grad()) continue;
      auto acc = torch::autograd::impl::grad_accumulator(ps[i]);
      if (!acc) continue;
      acc->add_post_hook(std::make_unique<ReadyHook>([weak, i] {
        if (auto st = weak.lock()) st->onReady(i);
      }));
      s.accumulators.push_back(std::move(acc));
    }
    s.hooked = true;
  }
  s.params = &ps;
  s.startStep();
  s.fired.assign(ps.size(), 0);
  s.readyOrder.clear();
  s.recording = !s.ordered;
  if (!s.recording) {
    if (s.expected.size() != ps.size()) s.expected.assign(ps.size(), 1);
    s.pending.assign(s.buckets.size(), 0);
    for (size_t i = 0; i < ps.size(); ++i) {
      if (s.expected[i]) ++s.pending[s.bucketOf[i]];
    }
    s.sendReadyInOrder();  // buckets that expect nothing
  }
  s.armed = true;
}

void GradientSync::finish(const std::vector<torch::Tensor>& ps) {
  auto& s = *state_;
  torch::NoGradGuard noGrad;
  std::lock_guard<std::mutex> lock(s.mutex);
  const bool overlapped = s.armed;
  s.armed = false;
  if (s.buckets.empty()) s.setLayout(ps, reversed(ps.size()), s.bucketBytes);
  s.params = &ps;
  if (!overlapped) s.startStep();
  s.sentInBackward = s.next;
  // Every bucket goes out, even after a hook failed: the other ranks expect all of them.
  while (s.next < s.buckets.size()) s.send(s.next++);
  for (auto& w : s.works) w->wait();
  if (!s.error.empty()) throw std::runtime_error(s.error);
  if (s.debug) {
    std::fprintf(stderr, "skipnet ddp: rank %d: %zu of %zu gradient bucket(s) left during backward%s\n", s.group->rank,
                 s.sentInBackward, s.buckets.size(), overlapped && s.recording ? " (recording the gradient order)" : "");
  }

  const double scale = 1.0 / static_cast<double>(s.group->size);
  for (size_t b = 0; b < s.buckets.size(); ++b) {
    auto& flat = s.flats[b];
    const auto& bucket = s.buckets[b];
    flat.mul_(scale);
    int64_t offset = 0;
    for (size_t i : bucket) offset += ps[i].numel();
    auto have = flat.narrow(0, offset, static_cast<int64_t>(bucket.size())).to(torch::kCPU, torch::kFloat64).contiguous();
    offset = 0;
    for (size_t k = 0; k < bucket.size(); ++k) {
      const auto& p = ps[bucket[k]];
      auto mean = flat.narrow(0, offset, p.numel()).view_as(p);
      offset += p.numel();
      if (have.data_ptr<double>()[k] <= 0) continue;  // no rank produced it
      if (p.grad().defined()) p.mutable_grad().copy_(mean);
      else p.mutable_grad() = mean.to(p.device()).clone();
    }
  }
  if (overlapped) {
    s.expected = s.fired;  // next step, a bucket waits for the parameters that got gradients now
    if (s.recording) s.adoptObservedOrder(ps);
    s.recording = false;
  }
  s.params = nullptr;
}

#else  // no c10d: Distributed never gets this far (it refuses to join)

struct GradientSync::State {};
GradientSync::GradientSync(std::shared_ptr<C10dGroup>, int64_t, bool) : state_(std::make_shared<State>()) {}
GradientSync::~GradientSync() = default;
void GradientSync::beginBackward(const std::vector<torch::Tensor>&) {}
void GradientSync::finish(const std::vector<torch::Tensor>&) {}

#endif

}  // namespace skipnet
