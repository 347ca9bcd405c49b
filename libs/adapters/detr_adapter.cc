#include "libs/adapters/detr_adapter.h"

#include <algorithm>
#include <numeric>
#include <optional>

#include "ATen/ATen.h"
#include "absl/strings/str_cat.h"
#include "libs/base/exceptions.h"
#include "libs/base/status_macros.h"

namespace cvt {
namespace {

const std::vector<DetrOutput>* DetrOutputs(const RawOutput& raw) {
  return std::get_if<std::vector<DetrOutput>>(&raw);
}

}  // namespace

absl::StatusOr<std::vector<AdaptedTarget>> DetrAdapter::AdaptTargets(
    const std::vector<DetectionTarget>& targets) const {
  CVT_ASSIGN_OR_RETURN(std::vector<AdaptedTarget> out,
                       AdaptTargetsXyxy(targets, options_.num_classes));
  return CallCatchingExceptions(
      "adapting DETR targets",
      [&]() -> absl::StatusOr<std::vector<AdaptedTarget>> {
        for (AdaptedTarget& t : out) {
          const at::Tensor size =
              at::tensor({static_cast<float>(t.geometry.input_width),
                          static_cast<float>(t.geometry.input_height),
                          static_cast<float>(t.geometry.input_width),
                          static_cast<float>(t.geometry.input_height)});
          for (at::Tensor* b : {&t.boxes, &t.ignore_boxes}) {
            at::Tensor xyxy = *b;
            at::Tensor cx = (xyxy.select(1, 0) + xyxy.select(1, 2)) / 2;
            at::Tensor cy = (xyxy.select(1, 1) + xyxy.select(1, 3)) / 2;
            at::Tensor w = xyxy.select(1, 2) - xyxy.select(1, 0);
            at::Tensor h = xyxy.select(1, 3) - xyxy.select(1, 1);
            *b = at::stack({cx, cy, w, h}, 1) / size;
          }
        }
        return out;
      });
}

std::vector<BoxXyxy> DetrAdapter::BoxesToInputXyxy(
    const at::Tensor& boxes, const ImageGeometry& geometry) const {
  at::Tensor b = boxes.to(at::kDouble).contiguous();
  const double* p = b.data_ptr<double>();
  const double iw = static_cast<double>(geometry.input_width);
  const double ih = static_cast<double>(geometry.input_height);
  std::vector<BoxXyxy> out(static_cast<size_t>(b.size(0)));
  for (size_t i = 0; i < out.size(); ++i) {
    const double* r = p + 4 * i;
    out[i] = {(r[0] - r[2] / 2) * iw, (r[1] - r[3] / 2) * ih,
              (r[0] + r[2] / 2) * iw, (r[1] + r[3] / 2) * ih};
  }
  return out;
}

absl::StatusOr<ModelOutput> DetrAdapter::AdaptOutput(
    const RawOutput& raw, const std::vector<AdaptedTarget>& targets) const {
  return Loss(raw, targets, 1, nullptr);
}

absl::StatusOr<ModelOutput> DetrAdapter::AdaptOutputAcrossRanks(
    const RawOutput& raw, const std::vector<AdaptedTarget>& targets,
    int world_size, const SumOverRanks& sum_over_ranks) const {
  return Loss(raw, targets, world_size, &sum_over_ranks);
}

absl::StatusOr<ModelOutput> DetrAdapter::Loss(
    const RawOutput& raw, const std::vector<AdaptedTarget>& targets,
    int world_size, const SumOverRanks* sum_over_ranks) const {
  const std::vector<DetrOutput>* outputs = DetrOutputs(raw);
  if (outputs == nullptr || outputs->empty()) {
    return absl::InvalidArgumentError(
        "the DETR adapter needs DETR-family outputs");
  }
  std::vector<DetrTarget> detr_targets;
  detr_targets.reserve(targets.size());
  for (const AdaptedTarget& t : targets) {
    detr_targets.push_back({t.labels, t.boxes});
  }
  std::vector<DetrOutput> used = *outputs;
  if (!options_.auxiliary_loss) used.resize(1);
  std::optional<DetrLossNormalizers> global;
  if (sum_over_ranks != nullptr) {
    const DetrLossNormalizers local = LocalDetrLossNormalizers(
        detr_targets, used.front().logits.size(1), options_.loss);
    CVT_ASSIGN_OR_RETURN(
        std::vector<double> sums,
        (*sum_over_ranks)({local.num_objects, local.ce_weight}));
    // Clamped before the division, as one process clamps its batch's count.
    global = DetrLossNormalizers{std::max(sums[0], 1.0) / world_size,
                                 sums[1] / world_size};
  }
  CVT_ASSIGN_OR_RETURN(
      DetrLoss loss, ComputeDetrLoss(used, detr_targets, options_.loss,
                                     global.has_value() ? &*global : nullptr));
  ModelOutput out;
  out.loss = loss.total;
  const std::vector<std::string> names = loss_terms();
  out.terms = {{names[0], loss.ce.detach()},
               {names[1], loss.l1.detach()},
               {names[2], loss.giou.detach()}};
  return out;
}

absl::StatusOr<std::vector<CocoDetection>> DetrAdapter::FormatPredictions(
    const RawOutput& raw, const std::vector<DetectionTarget>& targets,
    const CategoryMap& categories) const {
  const std::vector<DetrOutput>* outputs = DetrOutputs(raw);
  if (outputs == nullptr || outputs->empty()) {
    return absl::InvalidArgumentError(
        "the DETR adapter needs DETR-family outputs");
  }
  const DetrOutput& last = outputs->front();
  if (last.logits.size(0) != static_cast<int64_t>(targets.size())) {
    return absl::InvalidArgumentError(
        absl::StrCat("DETR outputs for ", last.logits.size(0), " images but ",
                     targets.size(), " targets"));
  }
  if (last.logits.size(2) != categories.size() + 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("DETR outputs ", last.logits.size(2),
                     " logits but the category map has ", categories.size(),
                     " categories (+1 for no object)"));
  }
  return CallCatchingExceptions(
      "formatting DETR predictions",
      [&]() -> absl::StatusOr<std::vector<CocoDetection>> {
        at::Tensor probs = last.logits.detach().to(at::kFloat).softmax(-1);
        const int64_t k = probs.size(2) - 1;
        std::tuple<at::Tensor, at::Tensor> best = probs.narrow(2, 0, k).max(-1);
        at::Tensor scores = std::get<0>(best).to(at::kDouble).contiguous();
        at::Tensor labels = std::get<1>(best).contiguous();
        at::Tensor boxes = last.boxes.detach();
        std::vector<CocoDetection> out;
        const int64_t q = scores.size(1);
        for (size_t b = 0; b < targets.size(); ++b) {
          const ImageGeometry& g = targets[b].geometry;
          std::vector<BoxXyxy> xyxy =
              BoxesToInputXyxy(boxes[static_cast<int64_t>(b)], g);
          const double* s = scores.data_ptr<double>() + b * q;
          const int64_t* l = labels.data_ptr<int64_t>() + b * q;
          std::vector<int64_t> order(static_cast<size_t>(q));
          std::iota(order.begin(), order.end(), 0);
          std::stable_sort(order.begin(), order.end(),
                           [&](int64_t x, int64_t y) { return s[x] > s[y]; });
          if (static_cast<int64_t>(order.size()) > options_.max_detections) {
            order.resize(static_cast<size_t>(options_.max_detections));
          }
          for (int64_t i : order) {
            CocoDetection d;
            d.image_id = targets[b].image_id;
            d.category_id = categories.IdAt(static_cast<int>(l[i]));
            d.bbox = InputXyxyToCocoBox(xyxy[static_cast<size_t>(i)], g);
            d.score = s[i];
            out.push_back(d);
          }
        }
        return out;
      });
}

}  // namespace cvt
