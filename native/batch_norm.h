// Batch norm whose training-mode statistics can be synchronised over a process group
// (synchronised batch norm, as torch.nn.SyncBatchNorm): the per-channel sums of every rank's
// samples are all-reduced, every rank normalises with the statistics of the global batch and
// updates its running statistics with them, and backward all-reduces the two sums the input
// gradient needs. Without a sync (one process, evaluation, or the option off) it computes what
// LibTorch's BatchNorm2d computes (the same functional call); parameter and buffer names are
// BatchNorm2d's. (Not a subclass of BatchNorm2dImpl: some LibTorch builds do not export the
// symbols a subclass needs.)
#pragma once
#include "pch.h"

#include <functional>
#include <memory>

namespace skipnet {

// Sums a small tensor over the ranks, in place (the group's all-reduce).
using SumOverRanks = std::function<void(torch::Tensor&)>;

struct BatchNormImpl : torch::nn::Module {
  explicit BatchNormImpl(int64_t channels);
  torch::Tensor forward(const torch::Tensor& x);

  torch::Tensor weight, bias, running_mean, running_var, num_batches_tracked;
  double momentum = 0.1, eps = 1e-5;  // BatchNorm2d's defaults
  // Set by the engine on every batch-norm module when synchronised batch norm is on.
  std::shared_ptr<SumOverRanks> sync;
};
TORCH_MODULE(BatchNorm);

// Training-mode batch norm over the global batch (exposed for tests of the formula).
torch::Tensor syncBatchNorm(const torch::Tensor& x, BatchNormImpl& bn, const std::shared_ptr<SumOverRanks>& sum);

}  // namespace skipnet
