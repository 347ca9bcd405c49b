// evaluate_map: COCO mAP, bit-identical to pycocotools.

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
ABSL_FLAG(std::string, out, "", "Write the stats and per-class table as JSON.");
ABSL_FLAG(int, use_cats, 1, "1: match per category (COCO); 0: class-agnostic.");
ABSL_FLAG(std::vector<std::string>, max_dets,
          std::vector<std::string>({"1", "10", "100"}),
          "Detections per image considered, ascending.");
ABSL_FLAG(std::string, plots_dir, "",
          "Write PR curves and a confusion matrix as PNG.");
ABSL_FLAG(int, threads, 0, "Worker threads; 0 = all cores.");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Computes COCO bbox mAP, the same doubles as pycocotools.\n"
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
  options.plots_dir = cvt::ResolveUserPath(absl::GetFlag(FLAGS_plots_dir));
  options.threads = absl::GetFlag(FLAGS_threads);
  return cvt::ExitCode("evaluate_map", cvt::RunEvaluateMap(options));
}
