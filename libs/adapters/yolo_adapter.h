// -----------------------------------------------------------------------------
// File: yolo_adapter.h
// -----------------------------------------------------------------------------
//
// The OutputAdapter of the YOLO family (yolo.h) and of TorchScript modules
// with DENSE_XYXY_SCORES outputs (`DenseAdapter`).
//
// Box convention: xyxy in input (letterboxed) pixels, for targets and
// predictions alike.
//
// YoloAdapter loss: yolo_loss.h (task-aligned assignment, BCE on classes,
// IoU + distribution focal loss on boxes, gains 7.5 / 0.5 / 1.5). Terms:
// "box_loss", "cls_loss", "dfl_loss".
//
// DenseAdapter loss: a dense module exported from Python has no anchor
// layout we could assign by, so it is trained one-to-one: per image a
// Hungarian matching of predictions to objects with cost
// class_cost * (-score[class]) + bbox_cost * L1(boxes / input size)
// + giou_cost * (-GIoU), then a binary cross-entropy over all N x K scores
// (1 for the matched class, 0 elsewhere; mean over the batch's
// predictions times K, scaled by N / num_boxes so that it does not vanish
// with many predictions), plus L1 of the input-size-normalised boxes and
// 1 - GIoU over matched pairs divided by the number of boxes. Terms:
// "loss_bce", "loss_bbox", "loss_giou".
//
// Predictions (both): class-aware NMS (nms.h) with the configured score
// floor, IoU threshold and max_detections, mapped back to the original
// frame.

#ifndef LIBS_ADAPTERS_YOLO_ADAPTER_H_
#define LIBS_ADAPTERS_YOLO_ADAPTER_H_

#include <functional>
#include <vector>

#include "libs/adapters/output_adapter.h"
#include "libs/models/nms.h"
#include "libs/models/yolo_loss.h"

namespace cvt {

struct NmsOptions {
  double score_threshold = 0.001;
  double iou_threshold = 0.65;
  int64_t max_detections = 100;
};

struct YoloAdapterOptions {
  int64_t num_classes = 0;
  YoloLossOptions loss;
  NmsOptions nms;
};

class YoloAdapter : public OutputAdapter {
 public:
  explicit YoloAdapter(const YoloAdapterOptions& options) : options_(options) {}

  std::string family() const override { return "yolo"; }
  std::vector<std::string> loss_terms() const override {
    return {"box_loss", "cls_loss", "dfl_loss"};
  }
  absl::StatusOr<std::vector<AdaptedTarget>> AdaptTargets(
      const std::vector<DetectionTarget>& targets) const override;
  absl::StatusOr<ModelOutput> AdaptOutput(
      const RawOutput& raw,
      const std::vector<AdaptedTarget>& targets) const override;
  // The target-score normaliser is summed over the ranks.
  absl::StatusOr<ModelOutput> AdaptOutputAcrossRanks(
      const RawOutput& raw, const std::vector<AdaptedTarget>& targets,
      int world_size, const SumOverRanks& sum_over_ranks) const override;
  absl::StatusOr<std::vector<CocoDetection>> FormatPredictions(
      const RawOutput& raw, const std::vector<DetectionTarget>& targets,
      const CategoryMap& categories) const override;

 protected:
  std::vector<BoxXyxy> BoxesToInputXyxy(
      const at::Tensor& boxes, const ImageGeometry& geometry) const override;

 private:
  absl::StatusOr<ModelOutput> Loss(
      const RawOutput& raw, const std::vector<AdaptedTarget>& targets,
      const std::function<absl::StatusOr<double>(double)>* normaliser) const;

  YoloAdapterOptions options_;
};

struct DenseAdapterOptions {
  int64_t num_classes = 0;
  double class_cost = 1, bbox_cost = 5, giou_cost = 2;
  double class_weight = 1, bbox_weight = 5, giou_weight = 2;
  NmsOptions nms;
};

class DenseAdapter : public OutputAdapter {
 public:
  explicit DenseAdapter(const DenseAdapterOptions& options)
      : options_(options) {}

  std::string family() const override { return "dense"; }
  std::vector<std::string> loss_terms() const override {
    return {"loss_bce", "loss_bbox", "loss_giou"};
  }
  absl::StatusOr<std::vector<AdaptedTarget>> AdaptTargets(
      const std::vector<DetectionTarget>& targets) const override;
  absl::StatusOr<ModelOutput> AdaptOutput(
      const RawOutput& raw,
      const std::vector<AdaptedTarget>& targets) const override;
  absl::StatusOr<std::vector<CocoDetection>> FormatPredictions(
      const RawOutput& raw, const std::vector<DetectionTarget>& targets,
      const CategoryMap& categories) const override;

 protected:
  std::vector<BoxXyxy> BoxesToInputXyxy(
      const at::Tensor& boxes, const ImageGeometry& geometry) const override;

 private:
  DenseAdapterOptions options_;
};

// Scored boxes (input pixels) of one image -> COCO results.
void AppendScoredBoxes(const std::vector<ScoredBox>& boxes,
                       const DetectionTarget& target,
                       const CategoryMap& categories,
                       std::vector<CocoDetection>& out);

}  // namespace cvt

#endif  // LIBS_ADAPTERS_YOLO_ADAPTER_H_
