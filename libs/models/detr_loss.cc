#include "libs/models/detr_loss.h"

#include <cmath>
#include <vector>

#include "ATen/ATen.h"
#include "absl/strings/str_cat.h"
#include "libs/base/exceptions.h"
#include "libs/base/status_macros.h"
#include "libs/models/box_ops.h"

namespace cvt {
namespace {

struct LayerLoss {
  at::Tensor ce, l1, giou;
};

absl::StatusOr<LayerLoss> OneLayer(const DetrOutput& out,
                                   const std::vector<DetrTarget>& targets,
                                   const DetrLossOptions& options,
                                   double num_objects, double ce_weight) {
  const int64_t batch = out.logits.size(0);
  const int64_t queries = out.logits.size(1);
  const int64_t classes = out.logits.size(2) - 1;
  at::Tensor target_classes =
      at::full({batch, queries}, classes, at::TensorOptions().dtype(at::kLong));
  std::vector<at::Tensor> src_boxes, gt_boxes;
  for (int64_t b = 0; b < batch; ++b) {
    at::Tensor logits = out.logits[b].detach();
    at::Tensor boxes = out.boxes[b].detach();
    CVT_ASSIGN_OR_RETURN(auto pairs,
                         MatchDetrQueries(logits, boxes, targets[b].labels,
                                          targets[b].boxes, options.matcher));
    if (pairs.empty()) continue;
    std::vector<int64_t> q, t;
    for (const auto& [query, object] : pairs) {
      q.push_back(query);
      t.push_back(object);
    }
    at::Tensor qi = at::tensor(q, at::kLong), ti = at::tensor(t, at::kLong);
    target_classes[b].index_put_(
        {qi}, targets[b].labels.to(at::kLong).index_select(0, ti));
    src_boxes.push_back(out.boxes[b].index_select(0, qi));
    gt_boxes.push_back(
        targets[b].boxes.to(out.boxes.scalar_type()).index_select(0, ti));
  }
  at::Tensor class_weight = at::ones({classes + 1}, out.logits.options());
  class_weight[classes] = options.no_object_weight;
  LayerLoss loss;
  if (ce_weight > 0) {
    loss.ce = at::cross_entropy_loss(out.logits.transpose(1, 2), target_classes,
                                     class_weight, at::Reduction::Sum) /
              ce_weight;
  } else {
    loss.ce = at::cross_entropy_loss(out.logits.transpose(1, 2), target_classes,
                                     class_weight);
  }
  if (src_boxes.empty()) {
    loss.l1 = out.boxes.sum() * 0;
    loss.giou = out.boxes.sum() * 0;
    return loss;
  }
  at::Tensor src = at::cat(src_boxes), gt = at::cat(gt_boxes);
  loss.l1 = (src - gt).abs().sum() / num_objects;
  loss.giou =
      (1 - GeneralizedBoxIou(CxcywhToXyxy(src), CxcywhToXyxy(gt)).diagonal())
          .sum() /
      num_objects;
  return loss;
}

}  // namespace

DetrLossNormalizers LocalDetrLossNormalizers(
    const std::vector<DetrTarget>& targets, int64_t num_queries,
    const DetrLossOptions& options) {
  DetrLossNormalizers n;
  for (const DetrTarget& t : targets) {
    const int64_t objects = t.labels.numel();
    const int64_t matched = std::min(objects, num_queries);
    n.num_objects += static_cast<double>(objects);
    n.ce_weight +=
        static_cast<double>(matched) +
        static_cast<double>(num_queries - matched) * options.no_object_weight;
  }
  return n;
}

absl::StatusOr<DetrLoss> ComputeDetrLoss(
    const std::vector<DetrOutput>& outputs,
    const std::vector<DetrTarget>& targets, const DetrLossOptions& options,
    const DetrLossNormalizers* normalizers) {
  if (outputs.empty()) {
    return absl::InvalidArgumentError("DETR loss needs at least one output");
  }
  for (const DetrOutput& out : outputs) {
    if (out.logits.dim() != 3 || out.boxes.dim() != 3 ||
        out.boxes.size(2) != 4 || out.logits.size(0) != out.boxes.size(0) ||
        out.logits.size(1) != out.boxes.size(1) ||
        out.logits.size(0) != static_cast<int64_t>(targets.size())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "DETR loss needs logits [B, Q, C+1] and boxes [B, Q, 4] with B = ",
          targets.size(), " targets"));
    }
  }
  return CallCatchingExceptions("DETR loss", [&]() -> absl::StatusOr<DetrLoss> {
    // A diverged model: no matching is possible, and the loss is NaN (the
    // trainer reports a non-finite loss, not bad input).
    for (const DetrOutput& out : outputs) {
      if (!at::isfinite(out.logits).all().item<bool>() ||
          !at::isfinite(out.boxes).all().item<bool>()) {
        DetrLoss nan;
        nan.total = at::full({}, std::nan(""), out.logits.options());
        nan.ce = nan.l1 = nan.giou = nan.total;
        return nan;
      }
    }
    int64_t objects = 0;
    for (const DetrTarget& t : targets) objects += t.labels.numel();
    double num_objects = std::max<int64_t>(objects, 1);
    // 0: cross_entropy's own weighted mean (the batch's normaliser).
    double ce_weight = 0;
    if (normalizers != nullptr) {
      num_objects = normalizers->num_objects;
      ce_weight = normalizers->ce_weight;
    }
    DetrLoss result;
    for (size_t i = 0; i < outputs.size(); ++i) {
      CVT_ASSIGN_OR_RETURN(
          LayerLoss layer,
          OneLayer(outputs[i], targets, options, num_objects, ce_weight));
      at::Tensor weighted = options.ce_weight * layer.ce +
                            options.l1_weight * layer.l1 +
                            options.giou_weight * layer.giou;
      result.total = i == 0 ? weighted : result.total + weighted;
      if (i == 0) {
        result.ce = layer.ce;
        result.l1 = layer.l1;
        result.giou = layer.giou;
      }
    }
    return result;
  });
}

}  // namespace cvt
