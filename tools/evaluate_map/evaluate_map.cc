#include "tools/evaluate_map/evaluate_map.h"

#include "libs/base/status_macros.h"
#include "libs/base/tool_main.h"

namespace cvt {

absl::Status RunEvaluateMap(const EvaluateMapOptions& options) {
  CVT_RETURN_IF_ERROR(RequireFlag(options.gt_path, "gt"));
  CVT_RETURN_IF_ERROR(RequireFlag(options.dt_path, "dt"));
  if (options.use_cats != 0 && options.use_cats != 1) {
    return absl::InvalidArgumentError("--use_cats must be 0 or 1");
  }
  return absl::UnimplementedError(
      "mAP evaluation is not available in this release yet; nothing was "
      "written");
}

}  // namespace cvt
