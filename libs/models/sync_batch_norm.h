// -----------------------------------------------------------------------------
// File: sync_batch_norm.h
// -----------------------------------------------------------------------------
//
// Batch normalisation in training mode with statistics over the whole
// global batch of a data-parallel job (PyTorch's SyncBatchNorm): the mean
// and the biased variance come from every rank's images (two passes, so the
// variance is computed like BatchNorm's), and the backward pass sums the two
// per-channel gradient reductions over ranks, so W ranks compute what one
// process computes on the W-times larger batch. Running statistics are
// updated with the global mean and the unbiased global variance.
//
// `sum_over_ranks` replaces each tensor with its element-wise sum over the
// ranks (a collective: every rank calls SyncBatchNorm for the same layers in
// the same order). It throws on failure (the trainer's exception boundary
// turns that into a Status).
//
// Example:
//
//   at::Tensor y = SyncBatchNorm(x, bn->weight, bn->bias, bn->running_mean,
//                                bn->running_var, 0.1, 1e-3, sum);

#ifndef LIBS_MODELS_SYNC_BATCH_NORM_H_
#define LIBS_MODELS_SYNC_BATCH_NORM_H_

#include <functional>
#include <vector>

#include "ATen/core/Tensor.h"

namespace cvt {

using SumTensorsOverRanks = std::function<void(std::vector<at::Tensor>&)>;

// x [N, C, ...]; weight, bias, running_mean, running_var [C] (running_*
// updated in place, without autograd). Differentiable in x, weight, bias.
at::Tensor SyncBatchNorm(const at::Tensor& x, const at::Tensor& weight,
                         const at::Tensor& bias, at::Tensor running_mean,
                         at::Tensor running_var, double momentum, double eps,
                         const SumTensorsOverRanks& sum_over_ranks);

}  // namespace cvt

#endif  // LIBS_MODELS_SYNC_BATCH_NORM_H_
