// -----------------------------------------------------------------------------
// File: detr_adapter.h
// -----------------------------------------------------------------------------
//
// The OutputAdapter of the DETR family (native DETR and TorchScript modules
// with DETR_STYLE outputs).
//
// Box convention (stored in checkpoints as `box_norm: unpadded`): target and
// predicted boxes are cxcywh divided by each image's UNPADDED input size
// (ImageGeometry input_width/height), as facebookresearch/detr and the
// pretrained DETR weights use; predictions therefore do not depend on how
// much padding the batch added.
//
// Loss: the set loss of detr_loss.h (Hungarian matching with class/L1/GIoU
// costs, cross-entropy over K + 1 classes with the no-object weight, L1 and
// GIoU over matched pairs divided by the number of boxes), on the last
// decoder layer and, with `auxiliary_loss`, on every earlier one. Terms:
// "loss_ce", "loss_bbox", "loss_giou" of the last layer, unweighted.
//
// Predictions: softmax over K + 1, the no-object column dropped, the best
// class per query as label and score, every query kept (no threshold), then
// the top `max_detections` by score.

#ifndef LIBS_ADAPTERS_DETR_ADAPTER_H_
#define LIBS_ADAPTERS_DETR_ADAPTER_H_

#include "libs/adapters/output_adapter.h"
#include "libs/models/detr_loss.h"

namespace cvt {

struct DetrAdapterOptions {
  int64_t num_classes = 0;
  DetrLossOptions loss;
  // Losses on the auxiliary decoder layers too. Default: true.
  bool auxiliary_loss = true;
  // Results kept per image. Default: 100 (COCO's maxDets).
  int64_t max_detections = 100;
};

class DetrAdapter : public OutputAdapter {
 public:
  explicit DetrAdapter(const DetrAdapterOptions& options) : options_(options) {}

  std::string family() const override { return "detr"; }
  std::vector<std::string> loss_terms() const override {
    return {"loss_ce", "loss_bbox", "loss_giou"};
  }
  absl::StatusOr<std::vector<AdaptedTarget>> AdaptTargets(
      const std::vector<DetectionTarget>& targets) const override;
  absl::StatusOr<ModelOutput> AdaptOutputAcrossRanks(
      const RawOutput& raw, const std::vector<AdaptedTarget>& targets,
      int world_size, const SumOverRanks& sum_over_ranks) const override;
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
  // The loss with the batch's own normalisers (sum_over_ranks null) or the
  // ranks' (see AdaptOutputAcrossRanks).
  absl::StatusOr<ModelOutput> Loss(const RawOutput& raw,
                                   const std::vector<AdaptedTarget>& targets,
                                   int world_size,
                                   const SumOverRanks* sum_over_ranks) const;

  DetrAdapterOptions options_;
};

}  // namespace cvt

#endif  // LIBS_ADAPTERS_DETR_ADAPTER_H_
