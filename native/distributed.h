// Data-parallel training over a c10d process group: the rendezvous (a TCPStore at
// MASTER_ADDR:MASTER_PORT served by rank 0, torchrun's contract), and the few collectives
// the engine needs: broadcast from rank 0, gradient averaging in ~25 MB buckets, small sums
// for step metrics, and store-based barriers with their own timeout.
//
// Every failure becomes SkipNetError("ERR_DISTRIBUTED", ...) saying which rank saw it and
// what to check. After a failed collective the group is unusable (a peer is gone or the
// ranks disagree about the sequence of collectives), so every later call fails at once.
// The c10d/Gloo headers stay inside distributed.cc: the engine only sees this class.
#pragma once
#include "pch.h"

#include <memory>
#include <string>
#include <vector>

namespace skipnet {

struct C10dGroup;
class GradientSync;

struct DistributedOptions {
  std::string backend;  // "gloo" or "nccl"; empty: nccl for CUDA models when built with it, else gloo
  int rank = -1, worldSize = -1, localRank = -1;  // -1: RANK, WORLD_SIZE, LOCAL_RANK
  std::string masterAddr;                          // empty: MASTER_ADDR, else 127.0.0.1
  int masterPort = -1;                             // -1: MASTER_PORT, else 29500
  int64_t timeoutMs = 60000;                       // rendezvous: every rank must arrive within it
  int64_t collectiveTimeoutMs = 300000;            // one collective (a stuck peer fails it)
  double bucketMb = 25;                            // gradient all-reduce bucket size
  bool overlap = true;                             // all-reduce buckets while backward runs (gradient_sync.h)
  bool syncBatchNorm = false;                      // batch-norm statistics over all ranks (batch_norm.h)
};

// Fills the fields left unset from the environment (torchrun's variables) and checks them.
// Reads the environment: call it on Node's main thread. Throws ERR_BAD_ARG.
void resolveDistributedOptions(DistributedOptions& options);

// True when this build can create groups of that backend ("gloo", "nccl").
bool distributedBackendAvailable(const std::string& backend);

class Distributed {
 public:
  // Rendezvous and group creation; blocks up to options.timeoutMs. Throws ERR_DISTRIBUTED
  // (a peer missing, the port taken...) or ERR_CUDA_UNAVAILABLE (nccl without CUDA/NCCL).
  Distributed(const DistributedOptions& options, const torch::Device& device);
  ~Distributed();
  Distributed(const Distributed&) = delete;
  Distributed& operator=(const Distributed&) = delete;

  int rank() const { return options_.rank; }
  int size() const { return options_.worldSize; }
  int localRank() const { return options_.localRank; }
  const std::string& backend() const { return options_.backend; }
  int64_t collectiveTimeoutMs() const { return options_.collectiveTimeoutMs; }

  // Overwrites every tensor with rank 0's values (parameters and buffers at set-up).
  void broadcastFromRoot(const std::vector<torch::Tensor>& tensors, const std::string& what);
  // Gradient averaging in buckets (gradient_sync.h). beginBackward, called right before
  // backward, lets buckets leave while backward runs (with overlap on); averageGradients,
  // after backward, replaces each parameter's gradient with the mean over the ranks. A
  // gradient no rank produced stays undefined (as the optimizer expects for an unused one).
  void beginBackward(const std::vector<torch::Tensor>& params, const std::string& what);
  void averageGradients(const std::vector<torch::Tensor>& params, const std::string& what);
  // Sums a small float64 vector over the ranks, in place.
  void sumInPlace(std::vector<double>& values, const std::string& what);
  // Sums a tensor over the ranks, in place (synchronised batch norm's statistics).
  void sumInPlace(torch::Tensor& values, const std::string& what);
  bool syncBatchNorm() const { return options_.syncBatchNorm; }
  // Waits until every rank has called it (or timeoutMs passes). Store-based, so it may wait
  // much longer than a collective, e.g. while rank 0 evaluates and writes a checkpoint.
  void barrier(int64_t timeoutMs);
  // Rank 0's text, on every rank (rank 0 passes it, the others' argument is ignored).
  std::string shareFromRoot(const std::string& text, int64_t timeoutMs);

 private:
  [[noreturn]] void fail(const std::string& what, const std::string& detail);
  void checkUsable(const std::string& what) const;

  DistributedOptions options_;
  torch::Device device_;
  std::shared_ptr<C10dGroup> group_;  // the c10d objects (c10d_group.h)
  std::unique_ptr<GradientSync> gradients_;
  int64_t bucketBytes_ = 0;
  uint64_t barriers_ = 0;    // store keys of barriers are numbered, in the same order on every rank
  std::string broken_;       // set after a failure: later calls fail with it
};

}  // namespace skipnet
