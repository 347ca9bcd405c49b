#include "tools/tune/tune.h"

#include "libs/base/status_macros.h"
#include "libs/base/tool_main.h"

namespace cvt {

absl::Status RunTune(const TuneOptions& options) {
  CVT_RETURN_IF_ERROR(RequireFlag(options.config_path, "config"));
  CVT_RETURN_IF_ERROR(RequireFlag(options.search_space_path, "search_space"));
  CVT_RETURN_IF_ERROR(RequireFlag(options.out_dir, "out"));
  if (options.mode != "min" && options.mode != "max") {
    return absl::InvalidArgumentError("--mode must be 'min' or 'max', not '" +
                                      options.mode + "'");
  }
  if (options.num_trials < 1 || options.max_concurrent < 1 ||
      options.grace_period < 1 || options.reduction_factor < 2 ||
      options.brackets < 1 || options.max_t < 0) {
    return absl::InvalidArgumentError(
        "--num_trials, --max_concurrent, --grace_period and --brackets must be "
        ">= 1, --reduction_factor >= 2 and --max_t >= 0");
  }
  return absl::UnimplementedError(
      "hyperparameter search is not available in this release yet; nothing "
      "was written");
}

}  // namespace cvt
