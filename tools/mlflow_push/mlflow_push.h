// -----------------------------------------------------------------------------
// File: mlflow_push.h
// -----------------------------------------------------------------------------
//
// Publishes a run directory to MLflow (a tracking server, Databricks, or the
// embedded file store `file:./mlruns`), idempotently; see
// libs/tracking/run_pusher.h for what is pushed and how a killed push
// resumes, and the README for the flags.

#ifndef TOOLS_MLFLOW_PUSH_MLFLOW_PUSH_H_
#define TOOLS_MLFLOW_PUSH_MLFLOW_PUSH_H_

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace cvt {

struct MlflowPushOptions {
  // "push" (default) or "get-metrics".
  std::string command = "push";
  // Run directory written by `train fit`.
  std::string run_dir;
  // http(s)://host[:port][/prefix], databricks, databricks://PROFILE, or
  // file:PATH / a bare path. Empty: $MLFLOW_TRACKING_URI, else
  // file:./mlruns.
  std::string tracking_uri;
  // Experiment name; empty: $MLFLOW_EXPERIMENT_NAME, else
  // "cvtools-<model_name>" (Databricks needs an absolute path).
  std::string experiment;
  std::string run_name;
  // "k=v" tags.
  std::vector<std::string> tags;
  // all | best | last | none.
  std::string log_checkpoints = "all";
  std::string parent_run_id;
  // Keep pushing while training runs; exit when the run ends.
  bool follow = false;
  double interval_s = 5;
  // For get-metrics.
  std::string run_id;
  // Trace HTTP requests (tokens redacted).
  bool verbose = false;
  std::string ca_bundle;
  std::function<bool()> stop;
  // Where the JSON result line goes; nullptr = stdout.
  std::ostream* out = nullptr;
};

// Prints one JSON line: for push {"run_id", "experiment_id", "created",
// "metrics", "params", "artifacts", "artifact_bytes", "status",
// "tracking_uri"}; for get-metrics {"run_id", "status", "metrics": {name:
// {"value", "step", "timestamp"}}}. Errors: InvalidArgument for bad flags,
// NotFound for a missing run directory or run, FailedPrecondition for
// missing credentials or a locked run directory (exit 2); others (exit 1).
absl::Status RunMlflowPush(const MlflowPushOptions& options);

}  // namespace cvt

#endif  // TOOLS_MLFLOW_PUSH_MLFLOW_PUSH_H_
