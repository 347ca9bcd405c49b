// -----------------------------------------------------------------------------
// File: nms.h
// -----------------------------------------------------------------------------
//
// Class-aware greedy non-maximum suppression for dense detectors, with the
// semantics of Ultralytics' validation (`multi_label=True`): every (box,
// class) pair whose score reaches `score_threshold` is a separate candidate,
// so one box can be kept for several classes; candidates suppress only
// candidates of the same class.
//
// Algorithm, per image:
//   1. Candidates: every (i, k) with scores[i, k] >= score_threshold.
//   2. Order: score descending; ties by box index ascending, then class
//      ascending (a stable sort of the row-major (i, k) order). This is the
//      whole tie rule, so the output is deterministic.
//   3. At most `kMaxNmsCandidates` (30000, Ultralytics' `max_nms`) of them,
//      the first in that order, go on.
//   4. Greedy: walk the order, keep a candidate unless a kept candidate of
//      the same class overlaps it with IoU > iou_threshold (strictly; IoU
//      equal to the threshold is kept). IoU is computed in double from the
//      float corners; a pair whose union is not positive has IoU 0.
//   5. Stop after `max_detections` kept (<= 0 keeps none).
//
// Example:
//
//   std::vector<std::vector<ScoredBox>> dets =
//       YoloPostprocess(output, /*score_threshold=*/0.001,
//                       /*iou_threshold=*/0.7, /*max_detections=*/300);
//
// Thread safety: the functions are reentrant.

#ifndef LIBS_MODELS_NMS_H_
#define LIBS_MODELS_NMS_H_

#include <array>
#include <cstdint>
#include <vector>

#include "ATen/core/Tensor.h"

namespace cvt {

struct YoloOutput;

// Candidates that enter the greedy pass at most (step 3 above).
inline constexpr int64_t kMaxNmsCandidates = 30000;

struct ScoredBox {
  std::array<float, 4> xyxy;  // x1, y1, x2, y2 in the boxes' frame
  float score;                // the class probability
  int64_t label;              // class index in [0, K)
};

// `boxes` float [N, 4] xyxy, `scores` [N, K] probabilities (any floating
// type, any device; read on the CPU as float). Returns the kept detections
// ordered by the rule above (score descending). Tensors of any other shape,
// or with different N, give no detections.
std::vector<ScoredBox> NonMaxSuppression(const at::Tensor& boxes,
                                         const at::Tensor& scores,
                                         double score_threshold,
                                         double iou_threshold,
                                         int64_t max_detections);

// Per image of a YOLO output (yolo.h): sigmoid of `logits` as scores, then
// `NonMaxSuppression` on `boxes` (input pixels). Runs without autograd.
std::vector<std::vector<ScoredBox>> YoloPostprocess(const YoloOutput& output,
                                                    double score_threshold,
                                                    double iou_threshold,
                                                    int64_t max_detections);

}  // namespace cvt

#endif  // LIBS_MODELS_NMS_H_
