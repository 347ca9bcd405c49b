// tune: ASHA hyperparameter search over train fit trials.

#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "glog/logging.h"
#include "libs/base/status.h"
#include "libs/base/tool_main.h"
#include "tools/tune/tune.h"

ABSL_FLAG(std::string, config, "", "Base pipeline config.");
ABSL_FLAG(std::string, search_space, "", "Search space (text proto).");
ABSL_FLAG(int, num_trials, 10, "Trials to sample.");
ABSL_FLAG(int, max_concurrent, 1, "Trials running at once.");
ABSL_FLAG(std::string, metric, "val/map", "Metric the trials report.");
ABSL_FLAG(std::string, mode, "max", "min or max.");
ABSL_FLAG(std::string, out, "",
          "Output folder (trial run directories, state).");
ABSL_FLAG(int, grace_period, 1, "ASHA: epochs before a trial may be stopped.");
ABSL_FLAG(int, reduction_factor, 4, "ASHA: rung growth factor.");
ABSL_FLAG(int, max_t, 0, "ASHA: maximum epochs; 0 = trainer.max_epochs.");
ABSL_FLAG(int, brackets, 1, "ASHA: number of brackets.");
ABSL_FLAG(bool, resume, false, "Continue the search saved in --out.");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Searches hyperparameters with ASHA over train fit trials.\n"
      "Usage: tune --config BASE --search_space SPACE --num_trials N "
      "--max_concurrent K --metric NAME --mode min|max --out DIR "
      "[--grace_period G --reduction_factor R --max_t T --brackets B] "
      "[--resume]");
  cvt::ParseFlagsOrExit2(argc, argv);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  cvt::TuneOptions options;
  options.config_path = cvt::ResolveUserPath(absl::GetFlag(FLAGS_config));
  options.search_space_path =
      cvt::ResolveUserPath(absl::GetFlag(FLAGS_search_space));
  options.num_trials = absl::GetFlag(FLAGS_num_trials);
  options.max_concurrent = absl::GetFlag(FLAGS_max_concurrent);
  options.metric = absl::GetFlag(FLAGS_metric);
  options.mode = absl::GetFlag(FLAGS_mode);
  options.out_dir = cvt::ResolveUserPath(absl::GetFlag(FLAGS_out));
  options.grace_period = absl::GetFlag(FLAGS_grace_period);
  options.reduction_factor = absl::GetFlag(FLAGS_reduction_factor);
  options.max_t = absl::GetFlag(FLAGS_max_t);
  options.brackets = absl::GetFlag(FLAGS_brackets);
  options.resume = absl::GetFlag(FLAGS_resume);
  return cvt::ExitCode("tune", cvt::RunTune(options));
}
