#include "libs/models/detr_matcher.h"

#include <vector>

#include "ATen/ATen.h"
#include "absl/strings/str_cat.h"
#include "libs/base/exceptions.h"
#include "libs/models/box_ops.h"
#include "libs/models/linear_assignment.h"

namespace cvt {

at::Tensor DetrMatchingCost(const at::Tensor& logits, const at::Tensor& boxes,
                            const at::Tensor& labels,
                            const at::Tensor& gt_boxes,
                            const DetrMatcherOptions& options) {
  at::Tensor prob = logits.softmax(-1);
  at::Tensor cost_class = -prob.index_select(1, labels);
  at::Tensor cost_l1 = at::cdist(boxes, gt_boxes, /*p=*/1);
  at::Tensor cost_giou =
      -GeneralizedBoxIou(CxcywhToXyxy(boxes), CxcywhToXyxy(gt_boxes));
  return options.l1_weight * cost_l1 + options.class_weight * cost_class +
         options.giou_weight * cost_giou;
}

absl::StatusOr<std::vector<std::pair<int64_t, int64_t>>> MatchDetrQueries(
    const at::Tensor& logits, const at::Tensor& boxes, const at::Tensor& labels,
    const at::Tensor& gt_boxes, const DetrMatcherOptions& options) {
  if (logits.dim() != 2 || boxes.dim() != 2 || boxes.size(1) != 4 ||
      boxes.size(0) != logits.size(0) || labels.dim() != 1 ||
      gt_boxes.dim() != 2 || gt_boxes.size(1) != 4 ||
      gt_boxes.size(0) != labels.size(0)) {
    return absl::InvalidArgumentError(
        "DETR matching needs logits [N, C+1], boxes [N, 4], labels [T] and "
        "gt_boxes [T, 4]");
  }
  if (labels.numel() == 0) {
    return std::vector<std::pair<int64_t, int64_t>>();
  }
  return CallCatchingExceptions(
      "DETR matching",
      [&]() -> absl::StatusOr<std::vector<std::pair<int64_t, int64_t>>> {
        at::Tensor l = labels.to(at::kLong);
        if (l.min().item<int64_t>() < 0 ||
            l.max().item<int64_t>() >= logits.size(1) - 1) {
          return absl::InvalidArgumentError(
              absl::StrCat("DETR matching: labels must be in [0, ",
                           logits.size(1) - 1, ")"));
        }
        at::NoGradGuard no_grad;
        at::Tensor cost =
            DetrMatchingCost(logits.to(at::kDouble), boxes.to(at::kDouble), l,
                             gt_boxes.to(at::kDouble), options)
                .contiguous();
        const double* data = cost.data_ptr<double>();
        return SolveLinearAssignment(
            absl::MakeConstSpan(data, static_cast<size_t>(cost.numel())),
            cost.size(0), cost.size(1));
      });
}

}  // namespace cvt
