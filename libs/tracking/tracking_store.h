// -----------------------------------------------------------------------------
// File: tracking_store.h
// -----------------------------------------------------------------------------
//
// Where mlflow_push records runs: an MLflow tracking server or Databricks
// over REST (mlflow_rest_store.h), or an MLflow file store on disk
// (mlflow_file_store.h). The pusher is written against this interface only.
//
// Example:
//
//   CVT_ASSIGN_OR_RETURN(std::string experiment_id,
//                        store.GetOrCreateExperiment("/Shared/cv/bccd"));
//   CVT_ASSIGN_OR_RETURN(TrackedRun run,
//                        store.CreateRun(experiment_id, "yolo", start, tags));
//
// Thread safety: implementations are thread-safe.

#ifndef LIBS_TRACKING_TRACKING_STORE_H_
#define LIBS_TRACKING_TRACKING_STORE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "libs/tracking/run_directory.h"

namespace cvt {

using KeyValues = std::vector<std::pair<std::string, std::string>>;

struct TrackedRun {
  std::string run_id;
  std::string experiment_id;
  // "RUNNING", "FINISHED", ...
  std::string status;
  // Where the run's artifacts go (mlflow-artifacts:/..., dbfs:/...,
  // file:///...).
  std::string artifact_uri;
  std::string lifecycle_stage;
  // The latest value of each metric (from runs/get).
  std::map<std::string, MetricPoint> latest_metrics;
  std::map<std::string, std::string> params;
  std::map<std::string, std::string> tags;
  int64_t start_time_ms = 0;
  int64_t end_time_ms = 0;
};

class TrackingStore {
 public:
  virtual ~TrackingStore() = default;

  // "http://127.0.0.1:5000", "databricks (https://...)", "file:///..."; no
  // credentials.
  virtual std::string Describe() const = 0;

  // The experiment's id, creating it if needed; safe when several pushers
  // race (a lost creation race re-reads). Errors: FailedPrecondition for a
  // deleted experiment of that name.
  virtual absl::StatusOr<std::string> GetOrCreateExperiment(
      const std::string& name) = 0;

  // Active runs of `experiment_id` whose tag `key` equals `value`, oldest
  // first.
  virtual absl::StatusOr<std::vector<TrackedRun>> FindRunsByTag(
      const std::string& experiment_id, const std::string& key,
      const std::string& value) = 0;

  virtual absl::StatusOr<TrackedRun> CreateRun(const std::string& experiment_id,
                                               const std::string& run_name,
                                               int64_t start_time_ms,
                                               const KeyValues& tags) = 0;

  // NotFound when the run does not exist (or was deleted).
  virtual absl::StatusOr<TrackedRun> GetRun(const std::string& run_id) = 0;

  // One batch within the server limits (the caller chunks: <= 1000
  // metrics, <= 100 params, <= 100 tags).
  virtual absl::Status LogBatch(const std::string& run_id,
                                const std::vector<MetricPoint>& metrics,
                                const KeyValues& params,
                                const KeyValues& tags) = 0;

  virtual absl::Status UpdateRun(const std::string& run_id,
                                 const std::string& status,
                                 int64_t end_time_ms) = 0;

  // Uploads `local_path` to `artifact_path` (relative, '/'-separated) under
  // the run's artifact root, streaming from disk, and verifies the stored
  // size. Re-uploading overwrites.
  virtual absl::Status UploadArtifact(const TrackedRun& run,
                                      const std::string& local_path,
                                      const std::string& artifact_path) = 0;
};

// Splits metrics/params/tags into batches within MLflow's limits: <= 1000
// metrics, <= 100 params, <= 100 tags, <= 1000 entities and about
// `max_bytes` of JSON per batch. Params come first so a run's parameters
// arrive before its curves.
struct LogBatchChunk {
  std::vector<MetricPoint> metrics;
  KeyValues params;
  KeyValues tags;
};
std::vector<LogBatchChunk> ChunkLogBatch(std::vector<MetricPoint> metrics,
                                         KeyValues params, KeyValues tags,
                                         int64_t max_bytes = 900000);

}  // namespace cvt

#endif  // LIBS_TRACKING_TRACKING_STORE_H_
