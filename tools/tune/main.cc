// tune: ASHA hyperparameter search over train fit trials.

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "libs/base/status.h"
#include "libs/base/tool_main.h"
#include "tools/tune/tune.h"

ABSL_FLAG(std::string, config, "", "Base pipeline config (.textproto/.json).");
// --set is repeatable: main() takes every occurrence out of argv before the
// flags are parsed; this definition gives --help its text.
ABSL_FLAG(std::string, set, "",
          "Override of the base config, repeatable, applied before the "
          "sampled params: --set data.batch_size=4.");
ABSL_FLAG(std::string, search_space, "",
          "Search space, a cvt.SearchSpace text proto "
          "(libs/tune/search_space.proto).");
ABSL_FLAG(std::string, data, "", "Dataset folder for every trial.");
ABSL_FLAG(std::string, out, "",
          "Output folder: trials/<id>/ run directories, tune_state.json, "
          "results.csv/.json, best_config.textproto, parent_run/.");
ABSL_FLAG(int, num_trials, 10,
          "Ray's num_samples: trials to sample; with grid params the whole "
          "grid is repeated this many times.");
ABSL_FLAG(int, max_concurrent, 1, "Trials running at once.");
ABSL_FLAG(std::string, metric, "val/map",
          "Metric the trials report (a metrics.jsonl name), one value per "
          "epoch: val/map, val/loss, train/loss_epoch, ...");
ABSL_FLAG(std::string, mode, "max", "min or max.");
ABSL_FLAG(int, grace_period, 1, "ASHA: epochs before a trial may be stopped.");
ABSL_FLAG(double, reduction_factor, 4,
          "ASHA: rung growth; a rung stops results below its "
          "(1 - 1/rf) quantile.");
ABSL_FLAG(int, max_t, 0,
          "ASHA: the epoch budget of every trial (sets trainer.max_epochs); "
          "0 = the base config's trainer.max_epochs.");
ABSL_FLAG(int, brackets, 1, "ASHA: number of brackets.");
ABSL_FLAG(bool, stop_last_trials, true, "ASHA: stop results at t >= max_t.");
ABSL_FLAG(uint64_t, seed, 0, "Seeds the sampler and the bracket draws.");
ABSL_FLAG(bool, resume, false,
          "Continue the search saved in --out (repeat its other flags).");
ABSL_FLAG(std::string, train_bin, "",
          "The train binary (default: the one beside tune).");
ABSL_FLAG(int, threads_per_trial, 1, "train fit --threads of every trial.");
ABSL_FLAG(int, max_failures, 0,
          "Retries of a failed trial (resumed from its last checkpoint) "
          "before it is ERROR.");
ABSL_FLAG(double, stop_grace_s, 60,
          "Seconds a stopped trial gets between SIGTERM and SIGKILL.");
ABSL_FLAG(double, poll_interval_s, 0.2, "Seconds between polls of the trials.");

namespace {

std::atomic<bool> stop_requested{false};
void RequestStop(int) { stop_requested.store(true); }

std::string SelfPath(const char* argv0) {
  char path[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (n <= 0) return argv0;
  return std::string(path, static_cast<size_t>(n));
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Searches hyperparameters with ASHA over train fit trials.\n"
      "Usage: tune --config BASE [--set k=v ...] --search_space SPACE "
      "--data DIR --out DIR --num_trials N --max_concurrent K --metric NAME "
      "--mode min|max [--grace_period G --reduction_factor R --max_t T "
      "--brackets B] [--seed S] [--resume]\n"
      "\n"
      "Each trial is `train fit` on <out>/trials/<id>/ (its config.textproto "
      "is the base config with --set, its sampled params and "
      "trainer.max_epochs=max_t); ASHA stops losers with SIGTERM (they end "
      "KILLED with last.ckpt). SIGTERM/SIGINT to tune stops the trials and "
      "saves the state (exit 1); `--resume` with the same flags continues "
      "(finished trials are kept, the others resume from last.ckpt).\n"
      "Results: <out>/results.csv and results.json (best first), "
      "best_config.textproto.\n"
      "MLflow: push <out>/parent_run, then each trial as its child:\n"
      "  parent=$(mlflow_push --run_dir OUT/parent_run | sed -n "
      "'s/.*\"run_id\": *\"\\([^\"]*\\)\".*/\\1/p')\n"
      "  for d in OUT/trials/*/; do mlflow_push --run_dir $d "
      "--parent_run_id $parent --tag tune.trial=$(basename $d); done\n"
      "(tools/tune/push_children.sh does exactly this.)");
  const std::vector<std::string> sets =
      cvt::TakeRepeatedFlag(argc, argv, "set");
  std::vector<char*> args = cvt::ParseFlagsOrExit2(argc, argv);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  if (args.size() > 1) {
    return cvt::ExitCode("tune", absl::InvalidArgumentError(absl::StrCat(
                                     "unexpected argument '", args[1], "'")));
  }
  struct sigaction action = {};
  action.sa_handler = RequestStop;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);

  cvt::TuneOptions options;
  options.config_path = cvt::ResolveUserPath(absl::GetFlag(FLAGS_config));
  options.overrides = sets;
  options.search_space_path =
      cvt::ResolveUserPath(absl::GetFlag(FLAGS_search_space));
  options.data_dir = cvt::ResolveUserPath(absl::GetFlag(FLAGS_data));
  options.out_dir = cvt::ResolveUserPath(absl::GetFlag(FLAGS_out));
  options.num_trials = absl::GetFlag(FLAGS_num_trials);
  options.max_concurrent = absl::GetFlag(FLAGS_max_concurrent);
  options.metric = absl::GetFlag(FLAGS_metric);
  options.mode = absl::GetFlag(FLAGS_mode);
  options.grace_period = absl::GetFlag(FLAGS_grace_period);
  options.reduction_factor = absl::GetFlag(FLAGS_reduction_factor);
  options.max_t = absl::GetFlag(FLAGS_max_t);
  options.brackets = absl::GetFlag(FLAGS_brackets);
  options.stop_last_trials = absl::GetFlag(FLAGS_stop_last_trials);
  options.seed = absl::GetFlag(FLAGS_seed);
  options.resume = absl::GetFlag(FLAGS_resume);
  options.train_bin = cvt::ResolveUserPath(absl::GetFlag(FLAGS_train_bin));
  if (options.train_bin.empty()) {
    options.train_bin = cvt::FindTrainBinary(SelfPath(argv[0]));
  }
  options.threads_per_trial = absl::GetFlag(FLAGS_threads_per_trial);
  options.max_failures = absl::GetFlag(FLAGS_max_failures);
  options.stop_grace_s = absl::GetFlag(FLAGS_stop_grace_s);
  options.poll_interval_s = absl::GetFlag(FLAGS_poll_interval_s);
  options.stop = [] { return stop_requested.load(); };
  options.progress = &std::cerr;
  options.summary = &std::cout;
  return cvt::ExitCode("tune", cvt::RunTune(options));
}
