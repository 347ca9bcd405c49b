// -----------------------------------------------------------------------------
// File: coco_eval.h
// -----------------------------------------------------------------------------
//
// COCO bbox evaluation that reproduces pycocotools 2.0.11 `COCOeval` bit for
// bit by default: the same `precision` and `recall` arrays and the same 12
// `stats` doubles, quirks included (../shared/reference/cocoeval.md has the
// rules: numpy's threshold doubles, inclusive area bounds, stable score
// sorts with file-order ties, top-maxDet per (image, category), greedy
// matching where equal IoU goes to the later GT, crowd absorption, ignored
// unmatched detections outside the area range, the 2^-52 precision term,
// numpy's pairwise mean, duplicate GT ids resolving to the last one, a
// detection matched to GT id 0 counting as unmatched).
//
// Departures from pycocotools, each documented:
//   - pycocotools raises on an empty results list; here it evaluates as zero
//     detections (0 where non-ignored GT exists, -1 elsewhere).
//   - Detections naming an image not in the GT, or with non-finite numbers or
//     negative sizes, are InvalidArgument naming the entry (pycocotools
//     asserts on the first, accepts the others).
//   - GT without `area` or `iscrowd` is InvalidArgument naming it
//     (pycocotools raises KeyError) unless `default_missing_fields`.
//   - With fewer than 3 `max_dets`, stats that pycocotools would index out of
//     range use the last one.
// Opt-in fixes (`honor_ignore`, `fix_zero_gt_id`, `default_missing_fields`)
// change results and are off by default.
//
// Thread safety: `EvaluateCocoBbox` is reentrant; `threads` workers split the
// work by category and write disjoint slots, so results do not depend on the
// thread count.

#ifndef LIBS_EVAL_COCO_EVAL_H_
#define LIBS_EVAL_COCO_EVAL_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/coco/coco.h"
#include "libs/eval/numpy_sum.h"

namespace cvt {

// pycocotools' `np.linspace(.5, .95, 10)`, as its exact doubles.
std::vector<double> CocoIouThresholds();
// pycocotools' `np.linspace(.0, 1.00, 101)`, as its exact doubles.
std::vector<double> CocoRecallThresholds();

// pycocotools' `bbIou` for one pair of [x, y, w, h] boxes: intersection over
// union, or over the detection's area when the GT is a crowd region.
double CocoBoxIou(const std::array<double, 4>& dt,
                  const std::array<double, 4>& gt, bool gt_is_crowd);

struct CocoEvalOptions {
  // true: match within each category (COCO); false: class-agnostic.
  bool use_cats = true;
  // Detections per (image, category) considered, sorted ascending.
  std::vector<int> max_dets = {1, 10, 100};
  // IoU thresholds; empty = CocoIouThresholds().
  std::vector<double> iou_thresholds;
  // Recall thresholds; empty = CocoRecallThresholds().
  std::vector<double> recall_thresholds;
  // How means are summed: as numpy >= 2.3 (default) or older numpy.
  NumpySumRule sum_rule = NumpySumRule::kWholeArray;
  // Worker threads; 0 = all cores.
  int threads = 0;
  // File names that prefix error messages ("dt.json: results[3] ..."); may
  // be empty.
  std::string gt_source;
  std::string dt_source;
  // Opt-in deviations from pycocotools:
  // GT `ignore` counts as ignore (pycocotools overwrites it with iscrowd).
  bool honor_ignore = false;
  // A detection matched to a GT with id 0 counts as matched.
  bool fix_zero_gt_id = false;
  // GT without area/iscrowd gets area = w*h, iscrowd = 0 instead of an error.
  bool default_missing_fields = false;
};

// Per-category results (use_cats only), in ascending category id order.
struct CocoClassMetrics {
  int64_t category_id = 0;
  std::string name;
  // Means of the pycocotools precision/recall slices of this category
  // (area all and last maxDet unless named); -1 when there is no GT.
  double ap = -1, ap50 = -1, ap75 = -1;
  double ap_small = -1, ap_medium = -1, ap_large = -1;
  double ar1 = -1, ar10 = -1, ar100 = -1;
  // Non-crowd GT boxes and evaluated detections of the category.
  int64_t num_gt = 0;
  int64_t num_detections = 0;
  // At IoU 0.5, area all, last maxDet, at the score threshold with the best
  // F1 (the first such in descending score order); all 0 without detections.
  double best_f1_score_threshold = 0;
  int64_t tp = 0, fp = 0, fn = 0;
  double precision = 0, recall = 0, f1 = 0;
};

struct CocoEvalResult {
  // AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl.
  std::array<double, 12> stats = {};
  // Evaluated category ids (ascending; {-1} when !use_cats).
  std::vector<int64_t> category_ids;
  int T = 0, R = 0, K = 0, A = 4, M = 0;
  // precision[t][r][k][a][m] and recall[t][k][a][m], C order, -1 = absent.
  std::vector<double> precision;
  std::vector<double> recall;
  std::vector<CocoClassMetrics> per_class;
  int64_t num_images = 0;
  int64_t num_gt = 0;          // GT annotations on evaluated images/categories.
  int64_t num_detections = 0;  // Detections on evaluated categories.
  std::vector<double> iou_thresholds;
  std::vector<double> recall_thresholds;
  std::vector<int> max_dets;

  double Precision(int t, int r, int k, int a, int m) const {
    return precision[(((static_cast<size_t>(t) * R + r) * K + k) * A + a) * M +
                     m];
  }
  double Recall(int t, int k, int a, int m) const {
    return recall[((static_cast<size_t>(t) * K + k) * A + a) * M + m];
  }
};

// Evaluates `detections` against `gt`. InvalidArgument for bad detections,
// GT missing required fields, or bad options.
absl::StatusOr<CocoEvalResult> EvaluateCocoBbox(
    const CocoDataset& gt, const std::vector<CocoDetection>& detections,
    const CocoEvalOptions& options = {});

// The 12 lines pycocotools' `summarize()` prints.
std::string FormatCocoSummary(const CocoEvalResult& result);

// The names of the 12 stats: "AP", "AP50", ..., "ARl".
const std::array<const char*, 12>& CocoStatNames();

}  // namespace cvt

#endif  // LIBS_EVAL_COCO_EVAL_H_
