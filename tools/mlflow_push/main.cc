// mlflow_push: publish a run directory to MLflow or Databricks.

#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "glog/logging.h"
#include "libs/base/status.h"
#include "libs/base/tool_main.h"
#include "tools/mlflow_push/mlflow_push.h"

ABSL_FLAG(std::string, run_dir, "", "Run directory written by train fit.");
ABSL_FLAG(std::string, tracking_uri, "file:./mlruns",
          "http(s)://HOST, databricks, databricks://PROFILE or file:PATH. "
          "Credentials come from DATABRICKS_HOST/DATABRICKS_TOKEN or "
          "~/.databrickscfg, never from flags.");
ABSL_FLAG(std::string, experiment, "",
          "Experiment name; default from the run's config.");
ABSL_FLAG(bool, follow, false,
          "Keep pushing while training runs; exit when it ends.");
ABSL_FLAG(bool, verbose, false, "Trace HTTP requests (tokens redacted).");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Pushes a run directory to MLflow or Databricks, idempotently.\n"
      "Usage: mlflow_push --run_dir DIR [--tracking_uri URI] [--experiment "
      "NAME] "
      "[--follow] [--verbose]");
  cvt::ParseFlagsOrExit2(argc, argv);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  cvt::MlflowPushOptions options;
  options.run_dir = cvt::ResolveUserPath(absl::GetFlag(FLAGS_run_dir));
  options.tracking_uri = absl::GetFlag(FLAGS_tracking_uri);
  options.experiment = absl::GetFlag(FLAGS_experiment);
  options.follow = absl::GetFlag(FLAGS_follow);
  options.verbose = absl::GetFlag(FLAGS_verbose);
  return cvt::ExitCode("mlflow_push", cvt::RunMlflowPush(options));
}
