// -----------------------------------------------------------------------------
// File: mlflow_file_store.h
// -----------------------------------------------------------------------------
//
// `TrackingStore` writing MLflow's file-store layout (the `file:./mlruns`
// default, for machines without a tracking server):
//
//   <root>/<exp_id>/meta.yaml                 experiment (id = folder name)
//   <root>/<exp_id>/<run_id>/meta.yaml        run (status as an integer)
//   <root>/<exp_id>/<run_id>/params/<key>     value, no newline
//   <root>/<exp_id>/<run_id>/tags/<key>       value, no newline
//   <root>/<exp_id>/<run_id>/metrics/<key>    "<timestamp_ms> <value> <step>"
//                                             lines ("nan", "inf", "-inf")
//   <root>/<exp_id>/<run_id>/artifacts/...
//
// Keys with '/' are nested folders, as MLflow reads them. Every file is
// replaced atomically; appending metric points rewrites the key's file
// without the points it already has, so a re-sent batch adds nothing.
//
// The file store is deprecated in MLflow 3: MLflow >= 3.13 opens it only with
// MLFLOW_ALLOW_FILE_STORE=true, and `mlflow migrate-filestore --source
// ./mlruns --target sqlite:///mlflow.db` converts it.
//
// Thread safety: thread-safe (one mutex).

#ifndef LIBS_TRACKING_MLFLOW_FILE_STORE_H_
#define LIBS_TRACKING_MLFLOW_FILE_STORE_H_

#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "libs/tracking/tracking_store.h"

namespace cvt {

class MlflowFileStore : public TrackingStore {
 public:
  // `root` is an absolute folder (created on first write).
  explicit MlflowFileStore(std::string root);

  std::string Describe() const override;
  absl::StatusOr<std::string> GetOrCreateExperiment(
      const std::string& name) override;
  absl::StatusOr<std::vector<TrackedRun>> FindRunsByTag(
      const std::string& experiment_id, const std::string& key,
      const std::string& value) override;
  absl::StatusOr<TrackedRun> CreateRun(const std::string& experiment_id,
                                       const std::string& run_name,
                                       int64_t start_time_ms,
                                       const KeyValues& tags) override;
  absl::StatusOr<TrackedRun> GetRun(const std::string& run_id) override;
  absl::Status LogBatch(const std::string& run_id,
                        const std::vector<MetricPoint>& metrics,
                        const KeyValues& params,
                        const KeyValues& tags) override;
  absl::Status UpdateRun(const std::string& run_id, const std::string& status,
                         int64_t end_time_ms) override;
  absl::Status UploadArtifact(const TrackedRun& run,
                              const std::string& local_path,
                              const std::string& artifact_path) override;

 private:
  absl::StatusOr<std::string> RunDir(const std::string& run_id);
  absl::Status WriteRunMeta(const std::string& dir, const TrackedRun& run,
                            const std::string& run_name,
                            const std::string& user);

  const std::string root_;
  absl::Mutex mu_;
};

// MLflow's metric-line value text: shortest round-trip, "nan", "inf".
std::string FileStoreValueText(double value);

}  // namespace cvt

#endif  // LIBS_TRACKING_MLFLOW_FILE_STORE_H_
