// -----------------------------------------------------------------------------
// File: yolo_loss.h
// -----------------------------------------------------------------------------
//
// The training loss of the YOLO detector (yolo.h), as YOLOv8 defines it:
// a task-aligned assigner (TOOD, Feng et al. 2021) picks positive anchors,
// then classification is BCE against soft targets and boxes are trained by
// CIoU plus distribution focal loss (DFL, Li et al. 2020).
//
// Assignment, per image, with predictions detached (s = sigmoid score of
// the GT's class, u = IoU(predicted box, GT), both [T, N]):
//   1. Candidates of a GT: anchors whose centre lies strictly inside it.
//   2. Alignment a = s^alpha * u^beta on candidates (0 elsewhere); each GT
//      takes its `topk` candidates with the largest a.
//   3. An anchor taken by several GTs keeps the one it overlaps most (u).
//   4. Soft target of a positive anchor, for its GT's class only:
//      a * max_u(GT) / max_a(GT), the maxima over the GT's positives, so the
//      best-aligned anchor of each GT aims at that GT's best IoU. Negatives
//      and other classes aim at 0.
//
// Losses, with S = max(1, sum of all soft targets in the batch), w the
// positive anchor's soft target:
//   cls = sum over all anchors and classes of BCE(logit, target) / S
//   box = sum over positives of w * (1 - CIoU(box, GT box)) / S
//   dfl = sum over positives of w * mean over the four sides of
//         CE(distribution, t) / S, with t the GT distance in strides,
//         clamped to [0, kYoloRegMax - 1.01], split between its two
//         neighbouring bins by linear interpolation
//   total = box_weight * box + cls_weight * cls + dfl_weight * dfl.
// S grows with the number of objects, so `total` is a per-object average
// and comparable across batch sizes: a batch of one image repeated gives the
// loss of that image. (Ultralytics multiplies the same sum by the batch size
// before backward; with Adam-type optimizers that only rescales the
// gradient.) An image without targets contributes negatives only; a batch
// without any has S = 1 and box = dfl = 0.
//
// Example:
//
//   CVT_ASSIGN_OR_RETURN(YoloOutput out, yolo->Forward(images));
//   CVT_ASSIGN_OR_RETURN(YoloLoss loss, ComputeYoloLoss(out, targets, {}));
//   loss.total.backward();

#ifndef LIBS_MODELS_YOLO_LOSS_H_
#define LIBS_MODELS_YOLO_LOSS_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "ATen/core/Tensor.h"
#include "absl/status/statusor.h"
#include "libs/models/yolo.h"

namespace cvt {

struct YoloTarget {
  at::Tensor boxes;   // float [T, 4], (x1, y1, x2, y2), input pixels
  at::Tensor labels;  // int64 [T] in [0, K)
};

struct YoloLossOptions {
  // Gains of the three parts (Ultralytics' defaults). Default: 7.5, 0.5,
  // 1.5.
  double box_weight = 7.5;
  double cls_weight = 0.5;
  double dfl_weight = 1.5;
  // Assigner: positives per GT, and the exponents of score and IoU in the
  // alignment. Default: 10, 0.5, 6.0.
  int64_t topk = 10;
  double alpha = 0.5;
  double beta = 6.0;
};

struct YoloLoss {
  at::Tensor total;  // Scalar, differentiable: the weighted sum.
  // The unweighted parts (scalars), for logging.
  at::Tensor box, cls, dfl;
};

// `targets` holds one entry per image of `output`. Errors: InvalidArgument
// for a wrong number of targets, a malformed output, target tensors of the
// wrong shape, labels outside [0, K) or topk < 1; Unknown for a LibTorch
// failure.
//
// The parts are normalised by the batch's total target score (at least 1).
// Data-parallel training passes `normaliser_across_ranks`, which maps this
// rank's total to the normaliser to use: max(global total, 1) / world size,
// so that the mean of the ranks' gradients is the whole batch's gradient.
absl::StatusOr<YoloLoss> ComputeYoloLoss(
    const YoloOutput& output, const std::vector<YoloTarget>& targets,
    const YoloLossOptions& options,
    const std::function<absl::StatusOr<double>(double)>*
        normaliser_across_ranks = nullptr);

}  // namespace cvt

#endif  // LIBS_MODELS_YOLO_LOSS_H_
