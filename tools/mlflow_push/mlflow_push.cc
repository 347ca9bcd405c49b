#include "tools/mlflow_push/mlflow_push.h"

#include "absl/strings/match.h"
#include "libs/base/status_macros.h"
#include "libs/base/tool_main.h"

namespace cvt {

absl::Status RunMlflowPush(const MlflowPushOptions& options) {
  CVT_RETURN_IF_ERROR(RequireFlag(options.run_dir, "run_dir"));
  const std::string& uri = options.tracking_uri;
  if (!absl::StartsWith(uri, "file:") && !absl::StartsWith(uri, "http://") &&
      !absl::StartsWith(uri, "https://") && uri != "databricks" &&
      !absl::StartsWith(uri, "databricks://")) {
    return absl::InvalidArgumentError(
        "--tracking_uri must be file:PATH, http(s)://..., databricks or "
        "databricks://PROFILE, not '" +
        uri + "'");
  }
  return absl::UnimplementedError(
      "pushing to MLflow is not available in this release yet; nothing was "
      "written");
}

}  // namespace cvt
