#include "tools/train/train.h"

#include "absl/strings/str_cat.h"
#include "libs/base/status_macros.h"
#include "libs/base/tool_main.h"
#include "libs/config/load_config.h"
#include "libs/train/trainer.h"

namespace cvt {

absl::Status RunTrain(const TrainOptions& options) {
  const std::string& sub = options.subcommand;
  if (sub == "fit") {
    CVT_RETURN_IF_ERROR(RequireFlag(options.config_path, "config"));
    CVT_RETURN_IF_ERROR(RequireFlag(options.data_dir, "data"));
    CVT_RETURN_IF_ERROR(RequireFlag(options.run_dir, "run_dir"));
    // The config is checked for real, so a bad one fails now with exit 2.
    CVT_ASSIGN_OR_RETURN(
        PipelineConfig config,
        LoadPipelineConfig(options.config_path,
                           {.override_files = options.override_files,
                            .overrides = options.overrides}));
    FitOptions fit;
    fit.data_dir = options.data_dir;
    fit.run_dir = options.run_dir;
    fit.resume = options.resume;
    fit.threads = options.threads;
    fit.exist_ok = options.exist_ok;
    fit.stop_after_steps = options.stop_after_steps;
    fit.dist = options.dist;
    fit.dist_timeout_s = options.dist_timeout_s;
    return Fit(config, fit);
  }
  if (sub == "validate" || sub == "test") {
    CVT_RETURN_IF_ERROR(RequireFlag(options.checkpoint, "checkpoint"));
    CVT_RETURN_IF_ERROR(RequireFlag(options.data_dir, "data"));
    EvaluateOptions eval;
    eval.checkpoint = options.checkpoint;
    eval.data_dir = options.data_dir;
    eval.split = sub == "test" ? "test" : "val";
    eval.threads = options.threads;
    eval.out_path = options.out_path;
    return Evaluate(eval).status();
  }
  if (sub == "predict") {
    CVT_RETURN_IF_ERROR(RequireFlag(options.checkpoint, "checkpoint"));
    if (options.images_dir.empty() == options.data_dir.empty()) {
      return absl::InvalidArgumentError(
          "predict needs exactly one of --images, --data");
    }
    CVT_RETURN_IF_ERROR(RequireFlag(options.out_path, "out"));
    PredictOptions predict;
    predict.checkpoint = options.checkpoint;
    predict.images_dir = options.images_dir;
    predict.data_dir = options.data_dir;
    predict.out_path = options.out_path;
    predict.threads = options.threads;
    return Predict(predict);
  }
  if (sub.empty()) {
    return absl::InvalidArgumentError(
        "missing subcommand: train fit|validate|test|predict");
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown subcommand '", sub,
                   "': expected fit, validate, test or predict"));
}

}  // namespace cvt
