// -----------------------------------------------------------------------------
// File: detr_matcher.h
// -----------------------------------------------------------------------------
//
// DETR's bipartite matching between N queries and T ground-truth objects of
// one image (Carion et al. 2020): the cost of pairing query q with object t
// is
//
//   class_weight * -softmax(logits[q])[label[t]]
//   + l1_weight * |box[q] - gt[t]|_1                       (cxcywh)
//   + giou_weight * -GIoU(xyxy(box[q]), xyxy(gt[t]))
//
// and the assignment minimising the total (SolveLinearAssignment) gives each
// object one query; unmatched queries learn "no object". Boxes are cxcywh
// normalised to [0, 1]; logits have C + 1 columns, the last "no object".
//
// Example:
//
//   CVT_ASSIGN_OR_RETURN(auto pairs,
//                        MatchDetrQueries(logits, boxes, labels, gt, {}));

#ifndef LIBS_MODELS_DETR_MATCHER_H_
#define LIBS_MODELS_DETR_MATCHER_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "ATen/core/Tensor.h"
#include "absl/status/statusor.h"

namespace cvt {

struct DetrMatcherOptions {
  // DETR's defaults: 1, 5, 2.
  double class_weight = 1;
  double l1_weight = 5;
  double giou_weight = 2;
};

// The [N, T] cost matrix of one image. `logits` [N, C+1], `boxes` [N, 4],
// `labels` [T] (int64 in [0, C)), `gt_boxes` [T, 4].
at::Tensor DetrMatchingCost(const at::Tensor& logits, const at::Tensor& boxes,
                            const at::Tensor& labels,
                            const at::Tensor& gt_boxes,
                            const DetrMatcherOptions& options);

// (query, object) pairs sorted by query; empty when T == 0. Errors:
// InvalidArgument for mismatched shapes or labels out of range, Unknown for a
// LibTorch failure.
absl::StatusOr<std::vector<std::pair<int64_t, int64_t>>> MatchDetrQueries(
    const at::Tensor& logits, const at::Tensor& boxes, const at::Tensor& labels,
    const at::Tensor& gt_boxes, const DetrMatcherOptions& options);

}  // namespace cvt

#endif  // LIBS_MODELS_DETR_MATCHER_H_
