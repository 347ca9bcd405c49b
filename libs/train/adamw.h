// -----------------------------------------------------------------------------
// File: adamw.h
// -----------------------------------------------------------------------------
//
// AdamW (Loshchilov & Hutter) with parameter groups, written out so that its
// whole state is plain named tensors a checkpoint can hold and restore
// bit-exactly. The update is PyTorch's `torch.optim.AdamW` (amsgrad off), in
// this order per parameter with a gradient:
//
//   step += 1
//   p *= 1 - lr * weight_decay
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g * g
//   p -= lr / (1 - beta1^step) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps)
//
// Parameters without a gradient are skipped (their step does not advance).
// Also here: clipping by the global 2-norm of all gradients.
//
// Example:
//
//   AdamW optimizer(groups, {.beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8});
//   optimizer.ZeroGrad();
//   loss.backward();
//   double norm = ClipGradNorm(optimizer.AllParameters(), 0.1);
//   optimizer.Step();

#ifndef LIBS_TRAIN_ADAMW_H_
#define LIBS_TRAIN_ADAMW_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ATen/core/Tensor.h"
#include "absl/status/status.h"

namespace cvt {

struct AdamWGroup {
  // Parameters and their stable names (checkpoint keys), parallel.
  std::vector<at::Tensor> params;
  std::vector<std::string> names;
  // Current and initial learning rate; the scheduler sets `lr`.
  double lr = 1e-3;
  double initial_lr = 1e-3;
  double weight_decay = 0;
};

struct AdamWOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
};

class AdamW {
 public:
  AdamW(std::vector<AdamWGroup> groups, const AdamWOptions& options);

  // Sets every gradient to None (PyTorch's set_to_none).
  void ZeroGrad();
  void Step();

  std::vector<AdamWGroup>& groups() { return groups_; }
  const std::vector<AdamWGroup>& groups() const { return groups_; }
  std::vector<at::Tensor> AllParameters() const;

  // The state as named tensors: "<name>.exp_avg", "<name>.exp_avg_sq" and
  // "<name>.step" (int64 scalar) for every parameter that has stepped.
  std::map<std::string, at::Tensor> State() const;
  // Restores `State()`; InvalidArgument naming the first tensor of the wrong
  // shape, or of a parameter this optimizer does not have.
  absl::Status LoadState(const std::map<std::string, at::Tensor>& state);

 private:
  struct ParamState {
    int64_t step = 0;
    at::Tensor exp_avg, exp_avg_sq;
  };
  std::vector<AdamWGroup> groups_;
  AdamWOptions options_;
  // Parallel to groups_[g].params.
  std::vector<std::vector<ParamState>> state_;
};

// Total 2-norm of all gradients (parameters without one are skipped). With
// max_norm > 0 and a total above it, every gradient is scaled by
// max_norm / (total + 1e-6) (PyTorch's clip_grad_norm_). Returns the total
// before clipping (NaN/inf when a gradient is not finite; nothing is scaled
// then).
double ClipGradNorm(const std::vector<at::Tensor>& params, double max_norm);

}  // namespace cvt

#endif  // LIBS_TRAIN_ADAMW_H_
