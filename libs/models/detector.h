// -----------------------------------------------------------------------------
// File: detector.h
// -----------------------------------------------------------------------------
//
// The model side of cvtools' model/adapter split: every detector (the DETR
// family, the YOLO family, a TorchScript module exported from Python) is a
// `Detector` that maps a collated batch to its family's raw outputs. What the
// outputs mean (losses, COCO results) is the business of the matching
// OutputAdapter (libs/adapters), so the trainer never looks inside a model.
//
// Raw output formats (all in the *input* frame of detection_sample.h):
//   - kDetr: one DetrOutput per decoder layer, the last first: logits
//     [B, Q, K + 1] (the last class is "no object") and boxes [B, Q, 4]
//     cxcywh in [0, 1] of each image's unpadded input size.
//   - kYolo: YoloOutput (yolo.h): decoded xyxy boxes in input pixels and
//     per-class logits for every anchor point.
//   - kDense: DenseOutput: [B, N, 4] xyxy input pixels and [B, N, K] class
//     probabilities (a TorchScript module's DENSE_XYXY_SCORES output).
//
// Parameter names are stable (they key checkpoints): each family documents
// its own (DETR: the reference implementation's names).
//
// Example:
//
//   CVT_ASSIGN_OR_RETURN(std::unique_ptr<Detector> model,
//                        MakeDetector(config.model(), categories.size()));
//   CVT_ASSIGN_OR_RETURN(RawOutput raw,
//                        model->Forward(batch.images, batch.pixel_mask));

#ifndef LIBS_MODELS_DETECTOR_H_
#define LIBS_MODELS_DETECTOR_H_

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "ATen/core/Tensor.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "libs/models/detr_loss.h"
#include "libs/models/sync_batch_norm.h"
#include "libs/models/yolo.h"

namespace cvt {

struct DenseOutput {
  at::Tensor boxes;   // [B, N, 4] xyxy in input pixels
  at::Tensor scores;  // [B, N, K] probabilities in [0, 1]
};

// Which alternative is held follows the model family (see above).
using RawOutput =
    std::variant<std::vector<DetrOutput>, YoloOutput, DenseOutput>;

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

class Detector {
 public:
  virtual ~Detector() = default;

  // `images` [B, 3, H, W] normalised float; `pixel_mask` [B, H, W] bool,
  // true on image pixels. InvalidArgument for shapes the model cannot take
  // (e.g. YOLO needs H and W divisible by size_divisor()); Unknown for a
  // LibTorch failure.
  virtual absl::StatusOr<RawOutput> Forward(const at::Tensor& images,
                                            const at::Tensor& pixel_mask) = 0;

  // Every parameter with its stable name; frozen ones (requires_grad false)
  // included.
  virtual NamedTensors named_parameters() = 0;
  // Non-parameter state saved in checkpoints (batch-norm statistics).
  virtual NamedTensors named_buffers() = 0;
  virtual void train(bool on) = 0;

  // Data-parallel training: batch statistics over all ranks
  // (sync_batch_norm.h), for models with training-mode batch norm that
  // their config lets sync (YOLO's sync_batch_norm). `sum_over_ranks` must
  // outlive training. The default does nothing (DETR's batch norm is
  // frozen).
  virtual void SyncBatchNormAcrossRanks(
      SumTensorsOverRanks /*sum_over_ranks*/) {}

  // Collated batches are padded to a multiple of this. Default: 1.
  virtual int64_t size_divisor() const { return 1; }
  // Parameter-name prefix of the backbone (for the backbone lr multiplier);
  // empty when the model has no separate backbone.
  virtual std::string backbone_prefix() const { return ""; }
  // "detr_r50", "yolo_nano", "torchscript", ... (tags and file names).
  virtual std::string name() const = 0;

  // The trainable parameters (requires_grad).
  std::vector<at::Tensor> trainable_parameters();
  int64_t num_parameters();
};

}  // namespace cvt

#endif  // LIBS_MODELS_DETECTOR_H_
