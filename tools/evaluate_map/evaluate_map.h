// -----------------------------------------------------------------------------
// File: evaluate_map.h
// -----------------------------------------------------------------------------
//
// `evaluate_map`: COCO bbox mAP of a results file against ground truth, the
// same doubles as pycocotools 2.0.11 (libs/eval/coco_eval.h), plus per-class
// tables, a JSON report and plots.
//
// stdout: pycocotools' 12-line summary, then a per-class table.
// --out:  JSON report (see README "evaluate_map"), doubles round-trip exactly.
// --plots_dir: pr_curves.png, pr_per_class.png, confusion_matrix.png.

#ifndef TOOLS_EVALUATE_MAP_EVALUATE_MAP_H_
#define TOOLS_EVALUATE_MAP_EVALUATE_MAP_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace cvt {

struct EvaluateMapOptions {
  // COCO ground-truth file.
  std::string gt_path;
  // COCO results file; "-" reads stdin.
  std::string dt_path;
  // Optional JSON report.
  std::string out_path;
  // 1: per-category matching (COCO); 0: class-agnostic.
  int use_cats = 1;
  // Detections per image and category considered.
  std::vector<int> max_dets = {1, 10, 100};
  // IoU thresholds; empty = COCO's 0.50:0.05:0.95.
  std::vector<double> iou_thresholds;
  // Optional folder for PR-curve and confusion-matrix PNGs.
  std::string plots_dir;
  // Score threshold and IoU of the confusion matrix.
  double confusion_score_threshold = 0.25;
  // Worker threads; 0 = all cores.
  int threads = 0;
  // "2.3" (numpy >= 2.3, default) or "legacy" (numpy < 2.3) mean summation.
  std::string numpy_sum = "2.3";
  // Opt-in deviations from pycocotools (off by default; named in the report).
  bool honor_ignore = false;
  bool fix_zero_gt_id = false;
  bool default_missing_fields = false;
};

// Writes the summary and table to `out`. InvalidArgument/NotFound for bad
// options and input files (exit 2); other errors are I/O failures.
absl::Status RunEvaluateMap(const EvaluateMapOptions& options,
                            std::ostream& out);

}  // namespace cvt

#endif  // TOOLS_EVALUATE_MAP_EVALUATE_MAP_H_
