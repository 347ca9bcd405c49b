// evaluate_map: COCO mAP, bit-identical to pycocotools.

#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "glog/logging.h"
#include "libs/base/status.h"
#include "libs/base/tool_main.h"
#include "tools/evaluate_map/evaluate_map.h"

ABSL_FLAG(std::string, gt, "", "COCO ground-truth annotations (JSON).");
ABSL_FLAG(std::string, dt, "", "COCO results (JSON list); '-' reads stdin.");
ABSL_FLAG(std::string, out, "",
          "Write the stats, per-class table and counts as JSON.");
ABSL_FLAG(int, use_cats, 1, "1: match per category (COCO); 0: class-agnostic.");
ABSL_FLAG(std::vector<std::string>, max_dets,
          std::vector<std::string>({"1", "10", "100"}),
          "Detections per image and category considered.");
ABSL_FLAG(
    std::vector<std::string>, iou_thrs, {},
    "IoU thresholds (default: COCO's 0.50:0.05:0.95 as numpy computes them).");
ABSL_FLAG(std::string, plots_dir, "",
          "Write PR curves and a confusion matrix as PNG.");
ABSL_FLAG(double, confusion_score, 0.25,
          "Score threshold of the confusion matrix.");
ABSL_FLAG(int, threads, 0, "Worker threads; 0 = all cores.");
ABSL_FLAG(
    std::string, numpy_sum, "2.3",
    "Reproduce the means of numpy >= 2.3 ('2.3') or older numpy ('legacy').");
ABSL_FLAG(bool, honor_ignore, false,
          "Deviation: treat a GT 'ignore' flag as ignore (pycocotools "
          "overwrites it).");
ABSL_FLAG(bool, fix_zero_gt_id, false,
          "Deviation: a detection matched to GT id 0 counts as matched.");
ABSL_FLAG(
    bool, default_missing, false,
    "Deviation: GT without area/iscrowd gets w*h / 0 instead of an error.");

namespace {

bool ParseList(const std::vector<std::string>& texts,
               std::vector<double>* out) {
  for (const std::string& text : texts) {
    double value = 0;
    if (!absl::SimpleAtod(text, &value)) return false;
    out->push_back(value);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Computes COCO bbox mAP, the same doubles as pycocotools 2.0.11.\n"
      "Usage: evaluate_map --gt GT.json --dt DT.json [--out FILE] "
      "[--use_cats 1|0] [--max_dets 1,10,100] [--plots_dir DIR] [--threads N]");
  cvt::ParseFlagsOrExit2(argc, argv);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  cvt::EvaluateMapOptions options;
  options.gt_path = cvt::ResolveUserPath(absl::GetFlag(FLAGS_gt));
  options.dt_path = cvt::ResolveUserPath(absl::GetFlag(FLAGS_dt));
  options.out_path = cvt::ResolveUserPath(absl::GetFlag(FLAGS_out));
  options.use_cats = absl::GetFlag(FLAGS_use_cats);
  options.max_dets.clear();
  for (const std::string& text : absl::GetFlag(FLAGS_max_dets)) {
    int value = 0;
    if (!absl::SimpleAtoi(text, &value) || value <= 0) {
      return cvt::ExitCode(
          "evaluate_map",
          absl::InvalidArgumentError(
              "--max_dets needs positive integers, got '" + text + "'"));
    }
    options.max_dets.push_back(value);
  }
  if (options.max_dets.empty()) {
    return cvt::ExitCode("evaluate_map",
                         absl::InvalidArgumentError("--max_dets is empty"));
  }
  if (!ParseList(absl::GetFlag(FLAGS_iou_thrs), &options.iou_thresholds)) {
    return cvt::ExitCode(
        "evaluate_map",
        absl::InvalidArgumentError("--iou_thrs needs numbers in [0, 1]"));
  }
  options.plots_dir = cvt::ResolveUserPath(absl::GetFlag(FLAGS_plots_dir));
  options.confusion_score_threshold = absl::GetFlag(FLAGS_confusion_score);
  options.threads = absl::GetFlag(FLAGS_threads);
  options.numpy_sum = absl::GetFlag(FLAGS_numpy_sum);
  options.honor_ignore = absl::GetFlag(FLAGS_honor_ignore);
  options.fix_zero_gt_id = absl::GetFlag(FLAGS_fix_zero_gt_id);
  options.default_missing_fields = absl::GetFlag(FLAGS_default_missing);
  return cvt::ExitCode("evaluate_map", cvt::RunEvaluateMap(options, std::cout));
}
