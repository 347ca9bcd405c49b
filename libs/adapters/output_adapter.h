// -----------------------------------------------------------------------------
// File: output_adapter.h
// -----------------------------------------------------------------------------
//
// The OutputAdapter hides a model family's output conventions from the
// trainer, the evaluator and `train predict`, as the Python original's
// adapters do (adapt_output, adapt_targets, format_predictions,
// format_targets). A new model needs a new adapter and a config, and no
// change to the data pipeline or the trainer.
//
//   AdaptTargets(canonical targets)       -> the family's loss targets
//   AdaptOutput(raw outputs, loss targets) -> ModelOutput {loss, terms}
//   FormatPredictions(raw outputs, batch)  -> COCO results, ORIGINAL frame,
//                                             original category ids
//   FormatTargets(loss targets)            -> COCO ground truth, ORIGINAL
//                                             frame (what libs/eval reads)
//
// Canonical targets (libs/data/detection_sample.h) hold xyxy boxes in the
// input frame with contiguous labels; the adapter maps back through each
// image's ImageGeometry and the frozen CategoryMap. Crowd boxes never enter
// a loss: they travel as `ignore_*` and come back as `iscrowd: 1` ground
// truth. No score threshold is applied for evaluation (DETR: every query;
// dense families: the configured NMS score floor, 0.001 by default), and at
// most `max_detections` results per image are kept.
//
// FormatPredictions and FormatTargets clip boxes to the original image and
// write `bbox` as [x, y, w, h]; FormatTargets writes area = w * h of the
// clipped box in the original frame.
//
// Thread safety: adapters are immutable; all methods are const and may run
// concurrently.

#ifndef LIBS_ADAPTERS_OUTPUT_ADAPTER_H_
#define LIBS_ADAPTERS_OUTPUT_ADAPTER_H_

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "ATen/core/Tensor.h"
#include "absl/status/statusor.h"
#include "libs/coco/category_map.h"
#include "libs/coco/coco.h"
#include "libs/data/detection_sample.h"
#include "libs/models/detector.h"

namespace cvt {

// One image's targets in the family's convention (each adapter documents
// its box format).
struct AdaptedTarget {
  int64_t image_id = 0;
  ImageGeometry geometry;
  at::Tensor labels;         // [T] int64, contiguous, non-crowd objects
  at::Tensor boxes;          // [T, 4] float, the family's box format
  at::Tensor ignore_labels;  // [C] int64, crowd regions
  at::Tensor ignore_boxes;   // [C, 4] float, same format as `boxes`
};

struct ModelOutput {
  // Scalar, differentiable: the weighted sum the optimizer minimises.
  at::Tensor loss;
  // Unweighted parts for logging, detached scalars ("loss_ce", ...).
  std::vector<std::pair<std::string, at::Tensor>> terms;
};

// Sums a vector over the ranks of a data-parallel job: a collective that
// every rank calls once per training batch.
using SumOverRanks = std::function<absl::StatusOr<std::vector<double>>(
    const std::vector<double>&)>;

class OutputAdapter {
 public:
  virtual ~OutputAdapter() = default;

  // "detr", "yolo" or "dense".
  virtual std::string family() const = 0;

  // Names of the ModelOutput terms, in order (the trainer logs them as
  // train/<term> and val/<term>).
  virtual std::vector<std::string> loss_terms() const = 0;

  // InvalidArgument for labels outside 0..K-1 or malformed targets.
  virtual absl::StatusOr<std::vector<AdaptedTarget>> AdaptTargets(
      const std::vector<DetectionTarget>& targets) const = 0;

  // InvalidArgument when `raw` is not this family's output or does not fit
  // the targets; the loss functions' errors.
  virtual absl::StatusOr<ModelOutput> AdaptOutput(
      const RawOutput& raw,
      const std::vector<AdaptedTarget>& targets) const = 0;

  // Data-parallel training: this rank's loss when its batch is one of
  // `world_size` parts of a global batch. Batch-level normalisers are summed
  // over the ranks through `sum_over_ranks`, so that the mean of the ranks'
  // gradients equals the gradient of the whole batch's loss. The default
  // (losses normalised per rank, like the dense adapter's) is AdaptOutput
  // and never calls `sum_over_ranks`.
  virtual absl::StatusOr<ModelOutput> AdaptOutputAcrossRanks(
      const RawOutput& raw, const std::vector<AdaptedTarget>& targets,
      int /*world_size*/, const SumOverRanks& /*sum_over_ranks*/) const {
    return AdaptOutput(raw, targets);
  }

  // COCO results for every image of the batch (`targets` gives the image
  // ids and geometries, in batch order; their boxes are not used).
  virtual absl::StatusOr<std::vector<CocoDetection>> FormatPredictions(
      const RawOutput& raw, const std::vector<DetectionTarget>& targets,
      const CategoryMap& categories) const = 0;

  // COCO ground truth (images with their original sizes, annotations with
  // ids 1..n in target order, the map's categories).
  absl::StatusOr<CocoDataset> FormatTargets(
      const std::vector<AdaptedTarget>& targets,
      const CategoryMap& categories) const;

 protected:
  // [T, 4] boxes of the family's format -> xyxy input pixels (double).
  virtual std::vector<BoxXyxy> BoxesToInputXyxy(
      const at::Tensor& boxes, const ImageGeometry& geometry) const = 0;
};

// Helpers shared by the adapters.

// An input-frame xyxy box mapped to the original frame, clipped to the
// image, as COCO [x, y, w, h].
std::array<double, 4> InputXyxyToCocoBox(const BoxXyxy& input,
                                         const ImageGeometry& geometry);

// Canonical targets -> AdaptedTarget with xyxy input-pixel boxes (the
// dense families' format). InvalidArgument for labels outside
// [0, num_classes).
absl::StatusOr<std::vector<AdaptedTarget>> AdaptTargetsXyxy(
    const std::vector<DetectionTarget>& targets, int64_t num_classes);

}  // namespace cvt

#endif  // LIBS_ADAPTERS_OUTPUT_ADAPTER_H_
