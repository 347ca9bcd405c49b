// -----------------------------------------------------------------------------
// File: mlflow_push.h
// -----------------------------------------------------------------------------
//
// Publishes a run directory (params, metrics, checkpoints, plots) to MLflow or
// Databricks, idempotently; `file:./mlruns` is the embedded default store.

#ifndef TOOLS_MLFLOW_PUSH_MLFLOW_PUSH_H_
#define TOOLS_MLFLOW_PUSH_MLFLOW_PUSH_H_

#include <string>

#include "absl/status/status.h"

namespace cvt {

struct MlflowPushOptions {
  // Run directory written by `train fit`.
  std::string run_dir;
  // http(s)://host, databricks, databricks://PROFILE or file:PATH.
  std::string tracking_uri = "file:./mlruns";
  // Experiment name; empty takes it from the run's config.
  std::string experiment;
  // Keep pushing while training runs; exit when the run ends.
  bool follow = false;
  // Trace HTTP requests (tokens redacted).
  bool verbose = false;
};

// InvalidArgument for missing or malformed options.
absl::Status RunMlflowPush(const MlflowPushOptions& options);

}  // namespace cvt

#endif  // TOOLS_MLFLOW_PUSH_MLFLOW_PUSH_H_
