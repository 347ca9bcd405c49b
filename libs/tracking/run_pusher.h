// -----------------------------------------------------------------------------
// File: run_pusher.h
// -----------------------------------------------------------------------------
//
// Publishes a run directory (run_directory.h) to a `TrackingStore`,
// idempotently, the core of mlflow_push:
//
//   * one MLflow run per run directory: its id, the destination and how far
//     the push got are kept in `<run_dir>/.mlflow_push_state.json` (replaced
//     atomically after every step), and the run carries the tag
//     `cvtools.run_key` (a hash of the run directory's real path and start
//     time). Without a saved id, or after an ambiguous `runs/create` failure,
//     the run is looked up by that tag before one is created, so retries and
//     kills never make a second run;
//   * params (run.json hyperparameters, values cut to `max_param_length`)
//     and tags once; metrics from metrics.jsonl with their original step and
//     timestamp, in batches of at most 1000 whose byte offset is saved after
//     each, so no point is sent twice by a resumed push (and the servers drop
//     exact repeats anyway);
//   * checkpoints listed in checkpoints.json in the layout of Lightning's
//     MLFlowLogger(log_model="all"): `<stem>/<stem>.ckpt`,
//     `<stem>/metadata.yaml`, `<stem>/aliases.txt`; plus plots/**/*.png,
//     eval/**/*.json and predictions/**/*.json. An artifact whose size and
//     mtime are unchanged since its upload is skipped;
//   * the final status and end time mirror run.json; a RUNNING run whose
//     trainer is gone (`TrainerIsGone`) is marked FAILED, never left RUNNING.
//
// With `follow`, passes repeat every `interval_s` until run.json has a final
// status (or `stop` says so), then a last pass sets the status.
//
// A lock on `<run_dir>/.mlflow_push.lock` keeps a second pusher out.

#ifndef LIBS_TRACKING_RUN_PUSHER_H_
#define LIBS_TRACKING_RUN_PUSHER_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "libs/tracking/tracking_store.h"

namespace cvt {

enum class CheckpointPolicy { kAll, kBest, kLast, kNone };

// "all", "best", "last", "none". InvalidArgument otherwise.
absl::StatusOr<CheckpointPolicy> ParseCheckpointPolicy(absl::string_view text);

struct PushOptions {
  // Experiment name. Default: "" (then "cvtools-<model_name>").
  std::string experiment;
  // Run name; default the run's run_name.
  std::string run_name;
  // Extra tags.
  KeyValues tags;
  // Which checkpoints to upload. Default: all.
  CheckpointPolicy checkpoints = CheckpointPolicy::kAll;
  // Sets mlflow.parentRunId. Default: "".
  std::string parent_run_id;
  // Parameter values longer than this are cut (deterministically).
  // Default: 6000 (OSS MLflow's limit; Databricks: 500).
  int max_param_length = 6000;
  // The version for the cvtools.version tag.
  std::string cvtools_version = "unknown";
  // Follow a live run directory.
  bool follow = false;
  double interval_s = 5;
  std::function<bool()> stop;
  // One line per step worth telling ("pushed 1000 metric points").
  std::function<void(const std::string&)> log;
};

struct PushSummary {
  std::string experiment_id;
  std::string run_id;
  bool created = false;  // A new run was made by this push.
  int64_t metrics = 0;   // Points sent by this push.
  int64_t params = 0;
  int64_t artifacts = 0;  // Files uploaded by this push.
  int64_t artifact_bytes = 0;
  std::string status;  // The status the run was left in.
  int64_t passes = 0;
};

// Errors: NotFound/InvalidArgument for a missing or malformed run directory
// (naming the file), FailedPrecondition when another pusher holds the lock
// or the saved run was deleted, and the store's errors.
absl::StatusOr<PushSummary> PushRunDirectory(const std::string& run_dir,
                                             TrackingStore& store,
                                             const PushOptions& options);

// Metric keys as MLflow accepts them: characters outside [A-Za-z0-9_/. -]
// become '_', no leading '/', no "//".
std::string SanitizeMetricKey(absl::string_view key);

// The `metadata.yaml` Lightning writes beside a checkpoint.
std::string CheckpointMetadataYaml(const CheckpointRecord& checkpoint,
                                   const RunRecord& run);

}  // namespace cvt

#endif  // LIBS_TRACKING_RUN_PUSHER_H_
