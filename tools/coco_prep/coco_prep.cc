#include "tools/coco_prep/coco_prep.h"

#include "libs/base/status_macros.h"
#include "libs/base/tool_main.h"

namespace cvt {

absl::Status RunCocoPrep(const CocoPrepOptions& options) {
  CVT_RETURN_IF_ERROR(RequireFlag(options.images_dir, "images"));
  if (options.annotations.empty()) {
    return absl::InvalidArgumentError("--annotations is required");
  }
  CVT_RETURN_IF_ERROR(RequireFlag(options.out_dir, "out"));
  if (options.on_error != "skip" && options.on_error != "fail") {
    return absl::InvalidArgumentError(
        "--on_error must be 'skip' or 'fail', not '" + options.on_error + "'");
  }
  if (options.max_size < 0) {
    return absl::InvalidArgumentError("--max_size must be >= 0");
  }
  return absl::UnimplementedError(
      "dataset preparation is not available in this release yet; nothing "
      "was written");
}

}  // namespace cvt
