// -----------------------------------------------------------------------------
// File: confusion_matrix.h
// -----------------------------------------------------------------------------
//
// A detection confusion matrix with a background class, for error analysis
// (not part of COCO's metrics). Per image, detections with score >=
// `score_threshold` are taken in descending score order (file order on ties)
// and each is matched to the unmatched non-crowd GT of any class with the
// highest IoU >= `iou_threshold` (pycocotools' IoU; the earlier GT on ties).
// A matched pair counts at [gt class][detected class]; an unmatched detection
// at [background][detected class]; an unmatched GT at [gt class][background].
// Crowd GTs and detections of categories outside the GT are left out.

#ifndef LIBS_EVAL_CONFUSION_MATRIX_H_
#define LIBS_EVAL_CONFUSION_MATRIX_H_

#include <cstdint>
#include <vector>

#include "libs/coco/category_map.h"
#include "libs/coco/coco.h"

namespace cvt {

struct ConfusionMatrix {
  // Rows: true class index 0..K-1, then K = background. Columns: detected
  // class index, then K = background (missed GT). Indices follow `categories`.
  int num_classes = 0;
  double iou_threshold = 0.5;
  double score_threshold = 0.25;
  std::vector<int64_t> counts;  // (K+1) x (K+1), row-major.

  int64_t At(int truth, int detected) const {
    return counts[static_cast<size_t>(truth) * (num_classes + 1) + detected];
  }
};

ConfusionMatrix ComputeConfusionMatrix(
    const CocoDataset& gt, const std::vector<CocoDetection>& detections,
    const CategoryMap& categories, double iou_threshold = 0.5,
    double score_threshold = 0.25);

}  // namespace cvt

#endif  // LIBS_EVAL_CONFUSION_MATRIX_H_
