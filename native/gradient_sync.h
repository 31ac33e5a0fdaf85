// Gradient averaging over a process group: gradients flattened into buckets (~25 MB),
// one all-reduce (sum) per bucket, divided by the world size, written back.
//
// With overlap on, the all-reduce runs while backward still computes, as torch DDP does:
// a hook on each parameter's gradient accumulator marks it ready, and a bucket is sent as
// soon as all of its parameters are. Buckets always leave in the same order on every rank
// (collectives are matched by order), so a ready bucket waits for the ones before it. The
// bucket layout follows the order in which backward produces gradients: the first overlapped
// step records that order (and averages after backward), rank 0's order is adopted by every
// rank, and from the next step on buckets fill early. The first bucket is small (1 MB) so
// that communication starts early.
//
// A parameter counts on getting a gradient when it got one in the previous step. One that
// turns up after its bucket left (its use changed between steps) fails the step: set
// overlap off for models whose parameter use varies.
#pragma once
#include "pch.h"

#include <memory>
#include <vector>

namespace skipnet {

struct C10dGroup;

// Consecutive runs of same-dtype tensors taken in `order`, at most bucketBytes each (a
// larger tensor gets its own bucket); the first bucket at most firstBucketBytes.
std::vector<std::vector<size_t>> makeBuckets(const std::vector<torch::Tensor>& tensors, const std::vector<size_t>& order,
                                             int64_t bucketBytes, int64_t firstBucketBytes);

class GradientSync {
 public:
  GradientSync(std::shared_ptr<C10dGroup> group, int64_t bucketBytes, bool overlap);
  ~GradientSync();
  GradientSync(const GradientSync&) = delete;
  GradientSync& operator=(const GradientSync&) = delete;

  // Before backward (overlap only; without it finish() does everything after backward).
  void beginBackward(const std::vector<torch::Tensor>& params);
  // After backward: sends what has not left, waits, and replaces each gradient with the mean
  // over the ranks. A gradient no rank produced stays undefined. Throws on a failed collective.
  void finish(const std::vector<torch::Tensor>& params);

 private:
  struct State;  // shared with the hooks, which may outlive this object inside a graph
  std::shared_ptr<State> state_;
};

}  // namespace skipnet
