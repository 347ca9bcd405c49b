// -----------------------------------------------------------------------------
// File: detr_loss.h
// -----------------------------------------------------------------------------
//
// DETR's set loss (Carion et al. 2020, the `SetCriterion` of the reference
// implementation): queries are matched to objects per image
// (detr_matcher.h), then
//
//   ce   = cross-entropy over all queries, unmatched ones labelled "no
//          object" (the last class) with weight `no_object_weight`, the
//          others 1, averaged by total weight;
//   l1   = sum over matched pairs of |box - gt|_1 (cxcywh) / num_objects;
//   giou = sum over matched pairs of (1 - GIoU) / num_objects;
//   total = ce_weight * ce + l1_weight * l1 + giou_weight * giou,
//
// with num_objects the batch's object count (at least 1). Auxiliary decoding
// losses apply the same to each intermediate decoder output and add up.
//
// Example:
//
//   CVT_ASSIGN_OR_RETURN(DetrLoss loss,
//                        ComputeDetrLoss({{logits, boxes}}, targets, options));
//   loss.total.backward();

#ifndef LIBS_MODELS_DETR_LOSS_H_
#define LIBS_MODELS_DETR_LOSS_H_

#include <vector>

#include "ATen/core/Tensor.h"
#include "absl/status/statusor.h"
#include "libs/models/detr_matcher.h"

namespace cvt {

struct DetrTarget {
  at::Tensor labels;  // [T] int64 in [0, C)
  at::Tensor boxes;   // [T, 4] cxcywh in [0, 1]
};

// One decoder output: logits [B, Q, C+1], boxes [B, Q, 4] cxcywh.
struct DetrOutput {
  at::Tensor logits;
  at::Tensor boxes;
};

struct DetrLossOptions {
  // Weight of the "no object" class in the cross-entropy. Default: 0.1.
  double no_object_weight = 0.1;
  // Loss weights; DETR's defaults 1, 5, 2.
  double ce_weight = 1;
  double l1_weight = 5;
  double giou_weight = 2;
  DetrMatcherOptions matcher;
};

// The batch-level normalisers of the loss: the object count (l1, giou) and
// the total cross-entropy weight, sum over images of m + (Q - m) *
// no_object_weight with m = min(Q, objects). Data-parallel training passes
// the sums over ranks divided by the world size (DETR's all-reduced
// num_boxes / world_size, extended to the cross-entropy; the count clamped
// to >= 1 before the division, as one process clamps its own), so that the
// mean of the ranks' gradients is the gradient of the whole batch.
struct DetrLossNormalizers {
  double num_objects = 0;
  double ce_weight = 0;
};

// This batch's own normalisers (what ComputeDetrLoss uses by default).
DetrLossNormalizers LocalDetrLossNormalizers(
    const std::vector<DetrTarget>& targets, int64_t num_queries,
    const DetrLossOptions& options);

struct DetrLoss {
  at::Tensor total;  // Scalar, differentiable.
  // The final layer's unweighted parts (scalars), for logging.
  at::Tensor ce, l1, giou;
};

// `outputs` holds the final decoder output first, then any auxiliary ones.
// Non-finite outputs (a diverged model) give NaN for every term. Errors:
// InvalidArgument for shapes that do not fit `targets`, the matcher's errors.
// `normalizers` (positive) replaces the batch's own.
absl::StatusOr<DetrLoss> ComputeDetrLoss(
    const std::vector<DetrOutput>& outputs,
    const std::vector<DetrTarget>& targets, const DetrLossOptions& options,
    const DetrLossNormalizers* normalizers = nullptr);

}  // namespace cvt

#endif  // LIBS_MODELS_DETR_LOSS_H_
