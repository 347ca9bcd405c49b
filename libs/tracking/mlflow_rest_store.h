// -----------------------------------------------------------------------------
// File: mlflow_rest_store.h
// -----------------------------------------------------------------------------
//
// `TrackingStore` over MLflow's REST API (/api/2.0/mlflow/...), for an OSS
// tracking server or a Databricks workspace. Requests go through `RestClient`
// (retries with MLflow's semantics, one credential refresh after a 401).
// Non-finite metric values travel as the strings "NaN", "Infinity",
// "-Infinity" (a bare NaN token makes MLflow 3 store garbage silently).
//
// Artifacts are routed by the run's `artifact_uri`:
//   mlflow-artifacts:/...          PUT through the server's artifact proxy,
//                                  size checked by listing the folder;
//   dbfs:/databricks/mlflow-tracking/...
//                                  Databricks `credentials-for-write`: PUT to
//                                  the signed URL with exactly its headers (no
//                                  Authorization), fresh credentials after a
//                                  401/403 (expired URL), size checked with
//                                  artifacts/list;
//   file:///...                    a local atomic copy;
//   anything else                  FailedPrecondition, naming the scheme.
//
// Example:
//
//   MlflowRestStore store(&client, MlflowRestStoreOptions{});
//   CVT_ASSIGN_OR_RETURN(std::string id, store.GetOrCreateExperiment("bccd"));

#ifndef LIBS_TRACKING_MLFLOW_REST_STORE_H_
#define LIBS_TRACKING_MLFLOW_REST_STORE_H_

#include <string>
#include <vector>

#include "libs/http/http_transport.h"
#include "libs/http/rest_client.h"
#include "libs/tracking/tracking_store.h"

namespace cvt {

struct MlflowRestStoreOptions {
  // Databricks rules: experiment names are absolute workspace paths (a
  // leading "/Workspace" is dropped) whose parent folder is created with
  // workspace/mkdirs. Default: false.
  bool databricks = false;
  // For messages: "http://127.0.0.1:5000" or "databricks (https://...)".
  std::string description;
};

class MlflowRestStore : public TrackingStore {
 public:
  // `client` (whose base URL is the tracking server or workspace) and
  // `transport` (for signed URLs, which take no Authorization header) must
  // outlive the store.
  MlflowRestStore(RestClient* client, HttpTransport* transport,
                  MlflowRestStoreOptions options);

  std::string Describe() const override { return options_.description; }
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
  absl::StatusOr<std::string> ExperimentName(const std::string& name) const;
  absl::Status UploadThroughProxy(const TrackedRun& run,
                                  const std::string& local_path,
                                  const std::string& artifact_path);
  absl::Status UploadToSignedUrl(const TrackedRun& run,
                                 const std::string& local_path,
                                 const std::string& artifact_path);
  absl::Status UploadToFile(const TrackedRun& run,
                            const std::string& local_path,
                            const std::string& artifact_path);

  RestClient* const client_;
  HttpTransport* const transport_;
  const MlflowRestStoreOptions options_;
};

// Parses a `{"run": {...}}` or `{"run_info": ...}` body's run. Exposed for
// tests.
absl::StatusOr<TrackedRun> ParseMlflowRun(const std::string& json,
                                          const std::string& source);

// Checks an artifact path: relative, '/'-separated, no "..", "." or empty
// segments, no backslash or '#'. InvalidArgument otherwise.
absl::Status CheckArtifactPath(const std::string& path);

}  // namespace cvt

#endif  // LIBS_TRACKING_MLFLOW_REST_STORE_H_
