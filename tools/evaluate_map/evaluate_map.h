// -----------------------------------------------------------------------------
// File: evaluate_map.h
// -----------------------------------------------------------------------------
//
// COCO bbox mAP of a results file against ground truth, the same doubles as
// pycocotools.

#ifndef TOOLS_EVALUATE_MAP_EVALUATE_MAP_H_
#define TOOLS_EVALUATE_MAP_EVALUATE_MAP_H_

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
  // Detections per image considered, ascending.
  std::vector<int> max_dets = {1, 10, 100};
  // Optional folder for PR-curve and confusion-matrix PNGs.
  std::string plots_dir;
  // Worker threads; 0 = all cores.
  int threads = 0;
};

// InvalidArgument for missing or malformed options and input files.
absl::Status RunEvaluateMap(const EvaluateMapOptions& options);

}  // namespace cvt

#endif  // TOOLS_EVALUATE_MAP_EVALUATE_MAP_H_
