// See batch_norm.h. One all-reduce in forward ([sum(x - s), sum((x - s)^2), count] per channel,
// shifted by the running mean s, which every rank holds identically, to keep the variance free
// of cancellation) and one in backward ([sum(dy), sum(dy * xhat)]). With the global batch's
// statistics and those two global sums, each rank's input gradient is the gradient of the sum
// of the ranks' losses, so averaging parameter gradients over the ranks (as the engine does)
// gives the global batch's gradient: 2 ranks on B/2 samples each take the step 1 process takes
// on B samples.
#include "batch_norm.h"

#include "errors.h"

namespace skipnet {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

torch::Tensor channelView(const torch::Tensor& t) { return t.view({1, -1, 1, 1}); }

struct SyncBatchNormFunction : torch::autograd::Function<SyncBatchNormFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& input, const torch::Tensor& weight,
                               const torch::Tensor& bias, BatchNormImpl* bn, SumOverRanks* sum) {
    // Under autocast the input may be bf16/fp16: statistics and output in the parameters' dtype.
    const auto x = input.to(weight.scalar_type());
    const int64_t channels = x.size(1);
    const double count = static_cast<double>(x.numel() / channels);
    torch::Tensor mean, var, total;
    {
      torch::NoGradGuard noGrad;
      const auto shift = bn->running_mean.to(x.scalar_type());
      auto centred = x - channelView(shift);
      auto stats = torch::cat({centred.sum({0, 2, 3}), centred.pow(2).sum({0, 2, 3}),
                               torch::full({1}, count, x.options())});
      (*sum)(stats);
      total = stats.slice(0, 2 * channels, 2 * channels + 1);
      const double n = total.item<double>();
      if (n < 2) throw SkipNetError("ERR_BAD_ARG", "synchronised batch norm needs at least 2 values per channel over all ranks");
      auto shiftedMean = stats.slice(0, 0, channels) / n;
      mean = shift + shiftedMean;
      var = (stats.slice(0, channels, 2 * channels) / n - shiftedMean.pow(2)).clamp_min(0);  // biased
      // Running statistics as BatchNorm2d: momentum 0.1, unbiased variance.
      const double m = bn->momentum;
      bn->running_mean.mul_(1 - m).add_(mean.to(bn->running_mean.scalar_type()), m);
      bn->running_var.mul_(1 - m).add_((var * (n / (n - 1))).to(bn->running_var.scalar_type()), m);
      bn->num_batches_tracked.add_(1);
    }
    auto invstd = (var + bn->eps).rsqrt();
    auto xhat = (x - channelView(mean)) * channelView(invstd);
    ctx->save_for_backward({xhat, weight, invstd, total});
    ctx->saved_data["sum"] = reinterpret_cast<int64_t>(sum);
    return xhat * channelView(weight) + channelView(bias);
  }

  static variable_list backward(AutogradContext* ctx, variable_list gradOutputs) {
    auto saved = ctx->get_saved_variables();
    const auto& xhat = saved[0];
    const auto& weight = saved[1];
    const auto& invstd = saved[2];
    const double n = saved[3].item<double>();
    auto* sum = reinterpret_cast<SumOverRanks*>(ctx->saved_data["sum"].toInt());
    auto dy = gradOutputs[0].to(xhat.scalar_type());
    const int64_t channels = xhat.size(1);
    auto sumDy = dy.sum({0, 2, 3});
    auto sumDyXhat = (dy * xhat).sum({0, 2, 3});
    // dweight and dbias are this rank's (the engine averages parameter gradients over ranks).
    auto global = torch::cat({sumDy, sumDyXhat});
    (*sum)(global);
    auto meanDy = global.slice(0, 0, channels) / n;
    auto meanDyXhat = global.slice(0, channels, 2 * channels) / n;
    auto dx = (dy - channelView(meanDy) - xhat * channelView(meanDyXhat)) * channelView(weight * invstd);
    return {dx, sumDyXhat, sumDy, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor syncBatchNorm(const torch::Tensor& x, BatchNormImpl& bn, const std::shared_ptr<SumOverRanks>& sum) {
  if (x.dim() != 4) throw SkipNetError("ERR_BAD_ARG", "synchronised batch norm expects NCHW input");
  return SyncBatchNormFunction::apply(x, bn.weight, bn.bias, &bn, sum.get());
}

BatchNormImpl::BatchNormImpl(int64_t channels) {
  weight = register_parameter("weight", torch::ones({channels}));
  bias = register_parameter("bias", torch::zeros({channels}));
  running_mean = register_buffer("running_mean", torch::zeros({channels}));
  running_var = register_buffer("running_var", torch::ones({channels}));
  num_batches_tracked = register_buffer("num_batches_tracked", torch::zeros({}, torch::kLong));
}

torch::Tensor BatchNormImpl::forward(const torch::Tensor& x) {
  if (x.dim() != 4) throw SkipNetError("ERR_BAD_ARG", "batch norm expects NCHW input, got " + std::to_string(x.dim()) + " dimensions");
  if (sync && is_training()) return syncBatchNorm(x, *this, sync);
  if (is_training()) {
    torch::NoGradGuard noGrad;
    num_batches_tracked.add_(1);
  }
  return torch::batch_norm(x, weight, bias, running_mean, running_var, is_training(), momentum, eps,
                           at::globalContext().userEnabledCuDNN());
}

}  // namespace skipnet
