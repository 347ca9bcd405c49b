#include "libs/models/sync_batch_norm.h"

#include <vector>

#include "ATen/ATen.h"
#include "torch/csrc/autograd/custom_function.h"

namespace cvt {
namespace {

// Per-channel view [1, C, 1, ...] of a [C] tensor for an input of dim d.
at::Tensor Channel(const at::Tensor& t, int64_t dim) {
  std::vector<int64_t> shape(dim, 1);
  shape[1] = t.size(0);
  return t.reshape(shape);
}

std::vector<int64_t> ReduceDims(int64_t dim) {
  std::vector<int64_t> dims = {0};
  for (int64_t d = 2; d < dim; ++d) dims.push_back(d);
  return dims;
}

struct SyncBatchNormFunction
    : public torch::autograd::Function<SyncBatchNormFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx,
                            const at::Tensor& x, const at::Tensor& weight,
                            const at::Tensor& bias, at::Tensor running_mean,
                            at::Tensor running_var, double momentum, double eps,
                            const SumTensorsOverRanks* sum) {
    const int64_t dim = x.dim();
    const std::vector<int64_t> dims = ReduceDims(dim);
    const double local_count = static_cast<double>(x.numel() / x.size(1));
    // Pass 1: the global mean (sums and the element count travel together).
    at::Tensor sums =
        at::cat({x.sum(dims).to(at::kDouble),
                 at::full({1}, local_count, x.options().dtype(at::kDouble))});
    std::vector<at::Tensor> pass1 = {sums};
    (*sum)(pass1);
    const double count = pass1[0][-1].item<double>();
    at::Tensor mean = (pass1[0].narrow(0, 0, x.size(1)) / count).to(x.dtype());
    // Pass 2: the global sum of squared deviations.
    at::Tensor centred = x - Channel(mean, dim);
    std::vector<at::Tensor> pass2 = {
        (centred * centred).sum(dims).to(at::kDouble)};
    (*sum)(pass2);
    at::Tensor var = (pass2[0] / count).to(x.dtype());
    at::Tensor invstd = (var + eps).rsqrt();
    {
      at::NoGradGuard no_grad;
      running_mean.mul_(1 - momentum).add_(mean, momentum);
      running_var.mul_(1 - momentum)
          .add_(var * (count / std::max(count - 1, 1.0)), momentum);
    }
    at::Tensor xhat = centred * Channel(invstd, dim);
    ctx->save_for_backward({xhat, invstd, weight});
    ctx->saved_data["count"] = count;
    ctx->saved_data["sum"] = reinterpret_cast<int64_t>(sum);
    return xhat * Channel(weight, dim) + Channel(bias, dim);
  }

  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx,
      torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& xhat = saved[0];
    const at::Tensor& invstd = saved[1];
    const at::Tensor& weight = saved[2];
    const double count = ctx->saved_data["count"].toDouble();
    const auto* sum = reinterpret_cast<const SumTensorsOverRanks*>(
        ctx->saved_data["sum"].toInt());
    const at::Tensor& g = grads[0];
    const int64_t dim = g.dim();
    const std::vector<int64_t> dims = ReduceDims(dim);
    // This rank's reductions give the parameter gradients (averaged over
    // ranks later, like every gradient); their global sums give the input's.
    at::Tensor sum_g = g.sum(dims);
    at::Tensor sum_gx = (g * xhat).sum(dims);
    std::vector<at::Tensor> global = {at::cat({sum_g, sum_gx})};
    (*sum)(global);
    const int64_t c = sum_g.size(0);
    at::Tensor mean_g = global[0].narrow(0, 0, c) / count;
    at::Tensor mean_gx = global[0].narrow(0, c, c) / count;
    at::Tensor dx = Channel(weight * invstd, dim) *
                    (g - Channel(mean_g, dim) - xhat * Channel(mean_gx, dim));
    return {dx,           sum_gx,       sum_g,        at::Tensor(),
            at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor SyncBatchNorm(const at::Tensor& x, const at::Tensor& weight,
                         const at::Tensor& bias, at::Tensor running_mean,
                         at::Tensor running_var, double momentum, double eps,
                         const SumTensorsOverRanks& sum_over_ranks) {
  return SyncBatchNormFunction::apply(x, weight, bias, running_mean,
                                      running_var, momentum, eps,
                                      &sum_over_ranks);
}

}  // namespace cvt
