#include "libs/adapters/yolo_adapter.h"

#include <algorithm>
#include <cmath>

#include "ATen/ATen.h"
#include "absl/strings/str_cat.h"
#include "libs/base/exceptions.h"
#include "libs/base/status_macros.h"
#include "libs/models/box_ops.h"
#include "libs/models/linear_assignment.h"

namespace cvt {
namespace {

std::vector<BoxXyxy> XyxyRows(const at::Tensor& boxes) {
  at::Tensor b = boxes.to(at::kDouble).contiguous();
  const double* p = b.data_ptr<double>();
  std::vector<BoxXyxy> out(static_cast<size_t>(b.size(0)));
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = {p[4 * i], p[4 * i + 1], p[4 * i + 2], p[4 * i + 3]};
  }
  return out;
}

absl::Status CheckBatch(int64_t outputs, size_t targets) {
  if (outputs != static_cast<int64_t>(targets)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "outputs for ", outputs, " images but ", targets, " targets"));
  }
  return absl::OkStatus();
}

}  // namespace

void AppendScoredBoxes(const std::vector<ScoredBox>& boxes,
                       const DetectionTarget& target,
                       const CategoryMap& categories,
                       std::vector<CocoDetection>& out) {
  for (const ScoredBox& s : boxes) {
    CocoDetection d;
    d.image_id = target.image_id;
    d.category_id = categories.IdAt(static_cast<int>(s.label));
    d.bbox = InputXyxyToCocoBox({s.xyxy[0], s.xyxy[1], s.xyxy[2], s.xyxy[3]},
                                target.geometry);
    d.score = s.score;
    out.push_back(d);
  }
}

// ---------------------------------------------------------------- YOLO ----

absl::StatusOr<std::vector<AdaptedTarget>> YoloAdapter::AdaptTargets(
    const std::vector<DetectionTarget>& targets) const {
  return AdaptTargetsXyxy(targets, options_.num_classes);
}

std::vector<BoxXyxy> YoloAdapter::BoxesToInputXyxy(
    const at::Tensor& boxes, const ImageGeometry& /*geometry*/) const {
  return XyxyRows(boxes);
}

absl::StatusOr<ModelOutput> YoloAdapter::AdaptOutput(
    const RawOutput& raw, const std::vector<AdaptedTarget>& targets) const {
  return Loss(raw, targets, nullptr);
}

absl::StatusOr<ModelOutput> YoloAdapter::AdaptOutputAcrossRanks(
    const RawOutput& raw, const std::vector<AdaptedTarget>& targets,
    int world_size, const SumOverRanks& sum_over_ranks) const {
  const std::function<absl::StatusOr<double>(double)> normaliser =
      [&](double local) -> absl::StatusOr<double> {
    CVT_ASSIGN_OR_RETURN(std::vector<double> total, sum_over_ranks({local}));
    return std::max(total[0], 1.0) / world_size;
  };
  return Loss(raw, targets, &normaliser);
}

absl::StatusOr<ModelOutput> YoloAdapter::Loss(
    const RawOutput& raw, const std::vector<AdaptedTarget>& targets,
    const std::function<absl::StatusOr<double>(double)>* normaliser) const {
  const YoloOutput* out = std::get_if<YoloOutput>(&raw);
  if (out == nullptr) {
    return absl::InvalidArgumentError(
        "the YOLO adapter needs YOLO-family outputs");
  }
  CVT_RETURN_IF_ERROR(CheckBatch(out->boxes.size(0), targets.size()));
  std::vector<YoloTarget> yolo_targets;
  yolo_targets.reserve(targets.size());
  for (const AdaptedTarget& t : targets) {
    yolo_targets.push_back({t.boxes, t.labels});
  }
  CVT_ASSIGN_OR_RETURN(
      YoloLoss loss,
      ComputeYoloLoss(*out, yolo_targets, options_.loss, normaliser));
  ModelOutput result;
  result.loss = loss.total;
  const std::vector<std::string> names = loss_terms();
  result.terms = {{names[0], loss.box.detach()},
                  {names[1], loss.cls.detach()},
                  {names[2], loss.dfl.detach()}};
  return result;
}

absl::StatusOr<std::vector<CocoDetection>> YoloAdapter::FormatPredictions(
    const RawOutput& raw, const std::vector<DetectionTarget>& targets,
    const CategoryMap& categories) const {
  const YoloOutput* out = std::get_if<YoloOutput>(&raw);
  if (out == nullptr) {
    return absl::InvalidArgumentError(
        "the YOLO adapter needs YOLO-family outputs");
  }
  CVT_RETURN_IF_ERROR(CheckBatch(out->boxes.size(0), targets.size()));
  if (out->logits.size(2) != categories.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("YOLO outputs ", out->logits.size(2),
                     " classes but the category map has ", categories.size()));
  }
  return CallCatchingExceptions(
      "formatting YOLO predictions",
      [&]() -> absl::StatusOr<std::vector<CocoDetection>> {
        std::vector<std::vector<ScoredBox>> per_image = YoloPostprocess(
            *out, options_.nms.score_threshold, options_.nms.iou_threshold,
            options_.nms.max_detections);
        std::vector<CocoDetection> result;
        for (size_t b = 0; b < targets.size(); ++b) {
          AppendScoredBoxes(per_image[b], targets[b], categories, result);
        }
        return result;
      });
}

// --------------------------------------------------------------- Dense ----

absl::StatusOr<std::vector<AdaptedTarget>> DenseAdapter::AdaptTargets(
    const std::vector<DetectionTarget>& targets) const {
  return AdaptTargetsXyxy(targets, options_.num_classes);
}

std::vector<BoxXyxy> DenseAdapter::BoxesToInputXyxy(
    const at::Tensor& boxes, const ImageGeometry& /*geometry*/) const {
  return XyxyRows(boxes);
}

absl::StatusOr<ModelOutput> DenseAdapter::AdaptOutput(
    const RawOutput& raw, const std::vector<AdaptedTarget>& targets) const {
  const DenseOutput* out = std::get_if<DenseOutput>(&raw);
  if (out == nullptr) {
    return absl::InvalidArgumentError(
        "the dense adapter needs DENSE_XYXY_SCORES outputs");
  }
  CVT_RETURN_IF_ERROR(CheckBatch(out->boxes.size(0), targets.size()));
  if (out->scores.size(2) != options_.num_classes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the module outputs ", out->scores.size(2),
        " class scores but there are ", options_.num_classes, " classes"));
  }
  return CallCatchingExceptions(
      "dense loss", [&]() -> absl::StatusOr<ModelOutput> {
        // A diverged module: no matching is possible; the loss is NaN, which
        // the trainer reports as a non-finite loss rather than bad input.
        if (!at::isfinite(out->boxes).all().item<bool>() ||
            !at::isfinite(out->scores).all().item<bool>()) {
          const at::Tensor nan =
              at::full({}, std::nan(""), out->scores.options());
          ModelOutput result;
          result.loss = nan;
          for (const std::string& name : loss_terms()) {
            result.terms.push_back({name, nan});
          }
          return result;
        }
        const int64_t batch = out->boxes.size(0);
        const int64_t n = out->boxes.size(1);
        at::Tensor scores = out->scores.clamp(1e-6, 1 - 1e-6);
        at::Tensor cls_target = at::zeros_like(scores);
        at::Tensor l1 = at::zeros({}, scores.options());
        at::Tensor giou = at::zeros({}, scores.options());
        int64_t num_boxes = 0;
        for (int64_t b = 0; b < batch; ++b) {
          const AdaptedTarget& t = targets[static_cast<size_t>(b)];
          const int64_t m = t.labels.size(0);
          if (m == 0) continue;
          num_boxes += m;
          const at::Tensor size =
              at::tensor({static_cast<float>(t.geometry.input_width),
                          static_cast<float>(t.geometry.input_height),
                          static_cast<float>(t.geometry.input_width),
                          static_cast<float>(t.geometry.input_height)});
          at::Tensor pred = out->boxes[b] / size;  // [N, 4]
          at::Tensor gt = t.boxes / size;          // [M, 4]
          at::Tensor cost;
          {
            at::NoGradGuard no_grad;
            at::Tensor s = scores[b].index_select(1, t.labels);  // [N, M]
            at::Tensor c_l1 = at::cdist(pred, gt, 1);
            at::Tensor c_giou = GeneralizedBoxIou(pred, gt);
            cost = (options_.class_cost * -s + options_.bbox_cost * c_l1 -
                    options_.giou_cost * c_giou)
                       .to(at::kDouble)
                       .contiguous();
          }
          if (n < m) {
            return absl::InvalidArgumentError(absl::StrCat(
                "image ", t.image_id, " has ", m,
                " objects but the module makes only ", n, " predictions"));
          }
          absl::StatusOr<std::vector<std::pair<int64_t, int64_t>>> match =
              SolveLinearAssignment(
                  absl::MakeConstSpan(cost.data_ptr<double>(), n * m), n, m);
          if (!match.ok()) return match.status();
          std::vector<int64_t> rows, cols;
          for (auto [r, c] : *match) {
            rows.push_back(r);
            cols.push_back(c);
          }
          at::Tensor ri = at::tensor(rows, at::kLong);
          at::Tensor ci = at::tensor(cols, at::kLong);
          at::Tensor labels = t.labels.index_select(0, ci);
          cls_target[b].index_put_({ri, labels}, 1.0);
          at::Tensor p = pred.index_select(0, ri);
          at::Tensor g = gt.index_select(0, ci);
          l1 = l1 + (p - g).abs().sum();
          giou = giou + (1 - GeneralizedBoxIou(p, g).diagonal()).sum();
        }
        const double denom =
            static_cast<double>(std::max<int64_t>(num_boxes, 1));
        at::Tensor bce = at::binary_cross_entropy(scores, cls_target)
                             .mul(static_cast<double>(batch * n) / denom);
        at::Tensor loss_bbox = l1 / denom;
        at::Tensor loss_giou = giou / denom;
        ModelOutput result;
        result.loss = options_.class_weight * bce +
                      options_.bbox_weight * loss_bbox +
                      options_.giou_weight * loss_giou;
        const std::vector<std::string> names = loss_terms();
        result.terms = {{names[0], bce.detach()},
                        {names[1], loss_bbox.detach()},
                        {names[2], loss_giou.detach()}};
        return result;
      });
}

absl::StatusOr<std::vector<CocoDetection>> DenseAdapter::FormatPredictions(
    const RawOutput& raw, const std::vector<DetectionTarget>& targets,
    const CategoryMap& categories) const {
  const DenseOutput* out = std::get_if<DenseOutput>(&raw);
  if (out == nullptr) {
    return absl::InvalidArgumentError(
        "the dense adapter needs DENSE_XYXY_SCORES outputs");
  }
  CVT_RETURN_IF_ERROR(CheckBatch(out->boxes.size(0), targets.size()));
  if (out->scores.size(2) != categories.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the module outputs ", out->scores.size(2),
        " class scores but the category map has ", categories.size()));
  }
  return CallCatchingExceptions(
      "formatting dense predictions",
      [&]() -> absl::StatusOr<std::vector<CocoDetection>> {
        std::vector<CocoDetection> result;
        for (size_t b = 0; b < targets.size(); ++b) {
          const int64_t i = static_cast<int64_t>(b);
          std::vector<ScoredBox> kept = NonMaxSuppression(
              out->boxes[i].detach(), out->scores[i].detach(),
              options_.nms.score_threshold, options_.nms.iou_threshold,
              options_.nms.max_detections);
          AppendScoredBoxes(kept, targets[b], categories, result);
        }
        return result;
      });
}

}  // namespace cvt
