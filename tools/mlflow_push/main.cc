// mlflow_push: publish a run directory to MLflow or Databricks.

#include <signal.h>

#include <atomic>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "libs/base/status.h"
#include "libs/base/tool_main.h"
#include "tools/mlflow_push/mlflow_push.h"

ABSL_FLAG(std::string, run_dir, "", "Run directory written by train fit.");
ABSL_FLAG(std::string, tracking_uri, "",
          "http(s)://HOST[:PORT], databricks, databricks://PROFILE or "
          "file:PATH (default: $MLFLOW_TRACKING_URI, else file:./mlruns). "
          "Credentials come from MLFLOW_TRACKING_TOKEN / "
          "MLFLOW_TRACKING_USERNAME+PASSWORD, DATABRICKS_HOST + "
          "DATABRICKS_TOKEN or DATABRICKS_CLIENT_ID/SECRET, or "
          "~/.databrickscfg; never from flags.");
ABSL_FLAG(std::string, experiment, "",
          "Experiment name (default: $MLFLOW_EXPERIMENT_NAME, else "
          "cvtools-<model_name>; Databricks: an absolute workspace path).");
ABSL_FLAG(std::string, run_name, "", "Run name (default: run.json's).");
ABSL_FLAG(std::vector<std::string>, tag, {},
          "Extra tags, comma-separated key=value pairs.");
ABSL_FLAG(std::string, log_checkpoints, "all",
          "Checkpoints to upload: all, best, last or none.");
ABSL_FLAG(std::string, parent_run_id, "", "Sets mlflow.parentRunId.");
ABSL_FLAG(bool, follow, false,
          "Keep pushing while training runs; exit when run.json has a final "
          "status (or on SIGTERM/SIGINT).");
ABSL_FLAG(double, interval_s, 5, "Seconds between passes with --follow.");
ABSL_FLAG(std::string, run_id, "", "get-metrics: the MLflow run id.");
ABSL_FLAG(bool, verbose, false, "Trace HTTP requests (tokens redacted).");
ABSL_FLAG(std::string, ca_bundle, "",
          "PEM file of trusted CAs for HTTPS (default: the system store).");

namespace {

std::atomic<bool> stop_requested{false};
void RequestStop(int) { stop_requested.store(true); }

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Pushes a run directory to MLflow or Databricks, idempotently.\n"
      "Usage: mlflow_push [push] --run_dir DIR [--tracking_uri URI] "
      "[--experiment NAME] [--run_name NAME] [--tag k=v,...] "
      "[--log_checkpoints all|best|last|none] [--parent_run_id ID] "
      "[--follow] [--verbose]\n"
      "       mlflow_push get-metrics --run_id ID [--tracking_uri URI]\n"
      "Prints one JSON line on stdout.");
  std::vector<char*> args = cvt::ParseFlagsOrExit2(argc, argv);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  struct sigaction action = {};
  action.sa_handler = RequestStop;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);

  cvt::MlflowPushOptions options;
  if (args.size() > 1) options.command = args[1];
  if (args.size() > 2) {
    return cvt::ExitCode("mlflow_push",
                         absl::InvalidArgumentError(absl::StrCat(
                             "unexpected argument '", args[2], "'")));
  }
  options.run_dir = cvt::ResolveUserPath(absl::GetFlag(FLAGS_run_dir));
  options.tracking_uri = absl::GetFlag(FLAGS_tracking_uri);
  options.experiment = absl::GetFlag(FLAGS_experiment);
  options.run_name = absl::GetFlag(FLAGS_run_name);
  options.tags = absl::GetFlag(FLAGS_tag);
  options.log_checkpoints = absl::GetFlag(FLAGS_log_checkpoints);
  options.parent_run_id = absl::GetFlag(FLAGS_parent_run_id);
  options.follow = absl::GetFlag(FLAGS_follow);
  options.interval_s = absl::GetFlag(FLAGS_interval_s);
  options.run_id = absl::GetFlag(FLAGS_run_id);
  options.verbose = absl::GetFlag(FLAGS_verbose);
  options.ca_bundle = absl::GetFlag(FLAGS_ca_bundle);
  options.stop = [] { return stop_requested.load(); };
  return cvt::ExitCode("mlflow_push", cvt::RunMlflowPush(options));
}
