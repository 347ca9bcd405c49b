#include "libs/models/yolo_loss.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include "ATen/ATen.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "libs/base/exceptions.h"
#include "libs/models/box_ops.h"

namespace cvt {
namespace {

constexpr double kEps = 1e-9;

// Complete IoU (Zheng et al. 2020) of aligned xyxy pairs [P, 4] -> [P]:
// IoU - centre distance^2 / enclosing diagonal^2 - alpha * v, with v the
// aspect-ratio term and alpha = v / (1 - IoU + v) held constant.
at::Tensor CompleteIou(const at::Tensor& a, const at::Tensor& b) {
  const double eps = 1e-7;
  at::Tensor ax1 = a.select(1, 0), ay1 = a.select(1, 1), ax2 = a.select(1, 2),
             ay2 = a.select(1, 3);
  at::Tensor bx1 = b.select(1, 0), by1 = b.select(1, 1), bx2 = b.select(1, 2),
             by2 = b.select(1, 3);
  at::Tensor aw = ax2 - ax1, ah = ay2 - ay1 + eps;
  at::Tensor bw = bx2 - bx1, bh = by2 - by1 + eps;
  at::Tensor inter = (at::min(ax2, bx2) - at::max(ax1, bx1)).clamp_min(0) *
                     (at::min(ay2, by2) - at::max(ay1, by1)).clamp_min(0);
  at::Tensor uni = aw * ah + bw * bh - inter + eps;
  at::Tensor iou = inter / uni;
  at::Tensor cw = at::max(ax2, bx2) - at::min(ax1, bx1);
  at::Tensor ch = at::max(ay2, by2) - at::min(ay1, by1);
  at::Tensor diagonal = cw.pow(2) + ch.pow(2) + eps;
  at::Tensor distance =
      ((bx1 + bx2 - ax1 - ax2).pow(2) + (by1 + by2 - ay1 - ay2).pow(2)) / 4;
  at::Tensor v =
      (4 / (M_PI * M_PI)) * (at::atan(bw / bh) - at::atan(aw / ah)).pow(2);
  at::Tensor alpha;
  {
    at::NoGradGuard no_grad;
    alpha = v / (v - iou + (1 + eps));
  }
  return iou - (distance / diagonal + v * alpha);
}

// The assignment of one image: soft targets [N, K] and, per anchor, the
// index of its GT (meaningful where `positive`).
struct Assignment {
  at::Tensor target_scores;  // float [N, K]
  at::Tensor positive;       // bool [N]
  at::Tensor gt_index;       // int64 [N]
};

Assignment Assign(const at::Tensor& scores, const at::Tensor& pred_boxes,
                  const at::Tensor& points, const at::Tensor& gt_boxes,
                  const at::Tensor& gt_labels, const YoloLossOptions& o) {
  const int64_t n = scores.size(0), k = scores.size(1), t = gt_boxes.size(0);
  Assignment out;
  if (t == 0) {
    out.target_scores = at::zeros_like(scores);
    out.positive = at::zeros({n}, scores.options().dtype(at::kBool));
    out.gt_index = at::zeros({n}, scores.options().dtype(at::kLong));
    return out;
  }
  // Centres strictly inside each GT: [T, N].
  at::Tensor px = points.select(1, 0).unsqueeze(0);
  at::Tensor py = points.select(1, 1).unsqueeze(0);
  at::Tensor inside = at::stack({px - gt_boxes.select(1, 0).unsqueeze(1),
                                 py - gt_boxes.select(1, 1).unsqueeze(1),
                                 gt_boxes.select(1, 2).unsqueeze(1) - px,
                                 gt_boxes.select(1, 3).unsqueeze(1) - py},
                                0)
                          .amin(0) > kEps;
  at::Tensor iou = BoxIou(gt_boxes, pred_boxes).clamp_min(0) * inside;
  at::Tensor class_scores = scores.t().index_select(0, gt_labels);  // [T, N]
  at::Tensor align = class_scores.pow(o.alpha) * iou.pow(o.beta) * inside;
  const int64_t topk = std::min(o.topk, n);
  at::Tensor top = std::get<1>(align.topk(topk, 1));
  at::Tensor positive =
      at::zeros_like(inside).scatter_(1, top, true) & inside;  // [T, N]
  // Anchors claimed by several GTs keep the one they overlap most.
  at::Tensor shared = positive.sum(0) > 1;  // [N]
  at::Tensor best = at::one_hot(iou.argmax(0), t).t().to(at::kBool);
  positive = at::where(shared.unsqueeze(0), best, positive);
  out.positive = positive.any(0);
  out.gt_index = positive.to(at::kFloat).argmax(0);
  at::Tensor positive_f = positive.to(scores.scalar_type());
  align = align * positive_f;
  at::Tensor max_align = std::get<0>(align.max(1, true));             // [T, 1]
  at::Tensor max_iou = std::get<0>((iou * positive_f).max(1, true));  // [T, 1]
  at::Tensor weight =
      std::get<0>((align * max_iou / (max_align + kEps)).max(0));  // [N]
  at::Tensor labels = gt_labels.index_select(0, out.gt_index);
  out.target_scores = at::one_hot(labels, k).to(scores.scalar_type()) *
                      (weight * out.positive).unsqueeze(1);
  return out;
}

absl::Status Validate(const YoloOutput& out,
                      const std::vector<YoloTarget>& targets,
                      const YoloLossOptions& o) {
  if (!out.boxes.defined() || !out.logits.defined() || !out.points.defined() ||
      !out.strides.defined() || !out.distribution.defined() ||
      out.boxes.dim() != 3 || out.boxes.size(2) != 4 || out.logits.dim() != 3 ||
      out.distribution.dim() != 4 || out.points.dim() != 2) {
    return absl::InvalidArgumentError("malformed YOLO output");
  }
  const int64_t b = out.boxes.size(0), n = out.boxes.size(1);
  if (out.logits.size(0) != b || out.logits.size(1) != n ||
      out.distribution.size(0) != b || out.distribution.size(1) != n ||
      out.distribution.size(2) != 4 || out.points.size(0) != n ||
      out.strides.numel() != n) {
    return absl::InvalidArgumentError("YOLO output tensors disagree on B or N");
  }
  if (static_cast<int64_t>(targets.size()) != b) {
    return absl::InvalidArgumentError(absl::StrCat(
        "YOLO loss got ", targets.size(), " targets for ", b, " images"));
  }
  if (o.topk < 1) {
    return absl::InvalidArgumentError("YOLO loss needs topk >= 1");
  }
  const int64_t k = out.logits.size(2);
  for (size_t i = 0; i < targets.size(); ++i) {
    const YoloTarget& t = targets[i];
    if (!t.boxes.defined() || !t.labels.defined() || t.boxes.dim() != 2 ||
        t.boxes.size(1) != 4 || t.labels.dim() != 1 ||
        t.labels.size(0) != t.boxes.size(0)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "YOLO target ", i, " needs boxes [T, 4] and labels [T]"));
    }
    if (t.labels.numel() > 0 && (t.labels.min().item<int64_t>() < 0 ||
                                 t.labels.max().item<int64_t>() >= k)) {
      return absl::InvalidArgumentError(
          absl::StrCat("YOLO target ", i, " has a label outside [0, ", k, ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<YoloLoss> ComputeYoloLoss(
    const YoloOutput& output, const std::vector<YoloTarget>& targets,
    const YoloLossOptions& options,
    const std::function<absl::StatusOr<double>(double)>*
        normaliser_across_ranks) {
  return CallCatchingExceptions("YOLO loss", [&]() -> absl::StatusOr<YoloLoss> {
    absl::Status valid = Validate(output, targets, options);
    if (!valid.ok()) return valid;
    const int64_t batch = output.boxes.size(0);
    const int64_t reg_max = output.distribution.size(3);
    const at::TensorOptions float_options = output.logits.options();
    at::Tensor points = output.points.to(output.boxes.dtype());
    at::Tensor strides = output.strides.to(output.boxes.dtype()).reshape({-1});
    at::Tensor cls = at::zeros({}, float_options);
    at::Tensor box = at::zeros({}, float_options);
    at::Tensor dfl = at::zeros({}, float_options);
    at::Tensor score_sum = at::zeros({}, float_options);
    for (int64_t b = 0; b < batch; ++b) {
      at::Tensor gt_boxes = targets[b].boxes.to(output.boxes.options());
      at::Tensor gt_labels =
          targets[b].labels.to(output.logits.options().dtype(at::kLong));
      Assignment a;
      {
        at::NoGradGuard no_grad;
        a = Assign(output.logits[b].detach().sigmoid(),
                   output.boxes[b].detach(), points, gt_boxes, gt_labels,
                   options);
      }
      cls = cls + at::binary_cross_entropy_with_logits(output.logits[b],
                                                       a.target_scores, {}, {},
                                                       at::Reduction::Sum);
      score_sum = score_sum + a.target_scores.sum();
      at::Tensor index = a.positive.nonzero().squeeze(1);
      if (index.numel() == 0) continue;
      at::Tensor weight = a.target_scores.sum(1).index_select(0, index);
      at::Tensor target =
          gt_boxes.index_select(0, a.gt_index.index_select(0, index));
      at::Tensor pred = output.boxes[b].index_select(0, index);
      box = box + ((1 - CompleteIou(pred, target)) * weight).sum();
      // Target distances in strides, [P, 4].
      at::Tensor p = points.index_select(0, index);
      at::Tensor s = strides.index_select(0, index).unsqueeze(1);
      at::Tensor distance =
          (at::cat({p - target.slice(1, 0, 2), target.slice(1, 2, 4) - p}, 1) /
           s)
              .clamp(0, reg_max - 1 - 0.01);
      at::Tensor left = distance.floor().to(at::kLong);
      at::Tensor left_weight = left.to(distance.dtype()) + 1 - distance;
      at::Tensor log_p =
          output.distribution[b].index_select(0, index).log_softmax(-1);
      at::Tensor ce_left = -log_p.gather(2, left.unsqueeze(2)).squeeze(2);
      at::Tensor ce_right =
          -log_p.gather(2, (left + 1).unsqueeze(2)).squeeze(2);
      at::Tensor side =
          ce_left * left_weight + ce_right * (1 - left_weight);  // [P, 4]
      dfl = dfl + (side.mean(1) * weight).sum();
    }
    at::Tensor normaliser = score_sum.clamp_min(1);
    if (normaliser_across_ranks != nullptr) {
      absl::StatusOr<double> global =
          (*normaliser_across_ranks)(score_sum.item<double>());
      if (!global.ok()) return global.status();
      normaliser = at::full({}, *global, float_options);
    }
    YoloLoss loss;
    loss.cls = cls / normaliser;
    loss.box = box / normaliser;
    loss.dfl = dfl / normaliser;
    loss.total = options.box_weight * loss.box + options.cls_weight * loss.cls +
                 options.dfl_weight * loss.dfl;
    return loss;
  });
}

}  // namespace cvt
