#include "libs/adapters/make_output_adapter.h"

#include "libs/adapters/detr_adapter.h"
#include "libs/adapters/yolo_adapter.h"

namespace cvt {
namespace {

DetrAdapterOptions DetrOptionsFrom(const DetrConfig& c, int64_t num_classes) {
  DetrAdapterOptions o;
  o.num_classes = num_classes;
  o.auxiliary_loss = c.auxiliary_loss();
  o.loss.no_object_weight = c.no_object_weight();
  o.loss.ce_weight = c.class_loss_weight();
  o.loss.l1_weight = c.bbox_loss_weight();
  o.loss.giou_weight = c.giou_loss_weight();
  o.loss.matcher.class_weight = c.class_cost();
  o.loss.matcher.l1_weight = c.bbox_cost();
  o.loss.matcher.giou_weight = c.giou_cost();
  o.max_detections = c.num_queries();
  return o;
}

std::unique_ptr<OutputAdapter> MakeTorchScriptAdapter(
    const TorchScriptConfig& c, int64_t num_classes) {
  NmsOptions nms;
  nms.score_threshold = c.score_threshold();
  nms.iou_threshold = c.nms_iou_threshold();
  nms.max_detections = c.max_detections();
  switch (c.output_format()) {
    case TorchScriptConfig::DETR_STYLE: {
      DetrAdapterOptions o = DetrOptionsFrom(DetrConfig(), num_classes);
      o.auxiliary_loss = false;
      o.max_detections = c.max_detections();
      return std::make_unique<DetrAdapter>(o);
    }
    case TorchScriptConfig::DENSE_XYXY_SCORES: {
      DenseAdapterOptions o;
      o.num_classes = num_classes;
      o.nms = nms;
      return std::make_unique<DenseAdapter>(o);
    }
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<std::unique_ptr<OutputAdapter>> MakeOutputAdapter(
    const ModelConfig& config, int64_t num_classes) {
  if (num_classes <= 0) {
    return absl::InvalidArgumentError("the model needs at least one class");
  }
  switch (config.architecture_case()) {
    case ModelConfig::kDetr:
      return std::unique_ptr<OutputAdapter>(std::make_unique<DetrAdapter>(
          DetrOptionsFrom(config.detr(), num_classes)));
    case ModelConfig::kYolo: {
      YoloAdapterOptions o;
      o.num_classes = num_classes;
      o.nms.score_threshold = config.yolo().score_threshold();
      o.nms.iou_threshold = config.yolo().nms_iou_threshold();
      o.nms.max_detections = config.yolo().max_detections();
      return std::unique_ptr<OutputAdapter>(std::make_unique<YoloAdapter>(o));
    }
    case ModelConfig::kTorchscript: {
      std::unique_ptr<OutputAdapter> adapter =
          MakeTorchScriptAdapter(config.torchscript(), num_classes);
      if (adapter == nullptr) {
        return absl::InvalidArgumentError(
            "model.torchscript.output_format is not supported");
      }
      return adapter;
    }
    case ModelConfig::ARCHITECTURE_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError(
      "model: set one architecture (detr, yolo or torchscript)");
}

}  // namespace cvt
