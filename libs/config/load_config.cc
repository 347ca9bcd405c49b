#include "libs/config/load_config.h"

#include <cmath>
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "libs/base/file_io.h"
#include "libs/base/status.h"
#include "libs/base/status_macros.h"
#include "libs/config/overrides.h"

namespace cvt {
namespace {

// Collects the first violated rule; later checks are skipped once one fails.
class Checker {
 public:
  template <typename T>
  void Require(bool ok, absl::string_view path, absl::string_view rule,
               const T& got) {
    if (ok || !status_.ok()) return;
    status_ = absl::InvalidArgumentError(
        absl::StrCat(path, ": ", rule, " (got ", got, ")"));
  }
  void Fail(absl::string_view path, absl::string_view message) {
    if (!status_.ok()) return;
    status_ = absl::InvalidArgumentError(absl::StrCat(path, ": ", message));
  }
  void Probability(double value, absl::string_view path) {
    Require(std::isfinite(value) && value >= 0.0 && value <= 1.0, path,
            "must be in [0, 1]", value);
  }
  void Positive(double value, absl::string_view path) {
    Require(std::isfinite(value) && value > 0.0, path, "must be > 0", value);
  }
  void NonNegative(double value, absl::string_view path) {
    Require(std::isfinite(value) && value >= 0.0, path, "must be >= 0", value);
  }
  void AtLeastOne(uint64_t value, absl::string_view path) {
    Require(value >= 1, path, "must be >= 1", value);
  }
  const absl::Status& status() const { return status_; }

 private:
  absl::Status status_;
};

void CheckData(const DataConfig& data, Checker& c) {
  c.AtLeastOne(data.batch_size(), "data.batch_size");
  c.AtLeastOne(data.prefetch_batches(), "data.prefetch_batches");
  c.AtLeastOne(data.max_image_pixels(), "data.max_image_pixels");
  c.Require(!data.train_split().empty(), "data.train_split",
            "must not be empty", "\"\"");
  c.Require(data.val_split() != data.train_split(), "data.val_split",
            "must differ from data.train_split", data.val_split());
}

void CheckAugmentation(const AugmentationConfig& aug, Checker& c) {
  for (int i = 0; i < aug.train_min_sizes_size(); ++i) {
    c.AtLeastOne(aug.train_min_sizes(i),
                 absl::StrCat("augmentation.train_min_sizes[", i, "]"));
  }
  if (aug.letterbox_size() == 0) {
    c.AtLeastOne(aug.eval_min_size(), "augmentation.eval_min_size");
    c.AtLeastOne(aug.max_size(), "augmentation.max_size");
  }
  c.Probability(aug.horizontal_flip_probability(),
                "augmentation.horizontal_flip_probability");
  if (aug.has_random_crop()) {
    const RandomCropConfig& crop = aug.random_crop();
    c.Probability(crop.probability(), "augmentation.random_crop.probability");
    c.AtLeastOne(crop.min_size(), "augmentation.random_crop.min_size");
    c.Require(crop.max_size() >= crop.min_size(),
              "augmentation.random_crop.max_size", "must be >= min_size",
              crop.max_size());
    c.Probability(crop.min_box_visibility(),
                  "augmentation.random_crop.min_box_visibility");
  }
  if (aug.has_color_jitter()) {
    const ColorJitterConfig& jitter = aug.color_jitter();
    c.NonNegative(jitter.brightness(), "augmentation.color_jitter.brightness");
    c.NonNegative(jitter.contrast(), "augmentation.color_jitter.contrast");
    c.NonNegative(jitter.saturation(), "augmentation.color_jitter.saturation");
    c.Require(jitter.hue() >= 0 && jitter.hue() <= 0.5,
              "augmentation.color_jitter.hue", "must be in [0, 0.5]",
              jitter.hue());
  }
  c.Require(aug.mean_size() == 0 || aug.mean_size() == 3, "augmentation.mean",
            "must have 0 or 3 values", aug.mean_size());
  c.Require(aug.std_size() == 0 || aug.std_size() == 3, "augmentation.std",
            "must have 0 or 3 values", aug.std_size());
  for (int i = 0; i < aug.std_size(); ++i) {
    c.Positive(aug.std(i), absl::StrCat("augmentation.std[", i, "]"));
  }
}

void CheckModel(const ModelConfig& model, Checker& c) {
  switch (model.architecture_case()) {
    case ModelConfig::kDetr: {
      const DetrConfig& detr = model.detr();
      const uint32_t depth = detr.backbone().depth();
      c.Require(depth == 18 || depth == 34 || depth == 50,
                "model.detr.backbone.depth", "must be 18, 34 or 50", depth);
      c.Require(detr.backbone().frozen_stages() <= 5,
                "model.detr.backbone.frozen_stages", "must be <= 5",
                detr.backbone().frozen_stages());
      c.AtLeastOne(detr.num_heads(), "model.detr.num_heads");
      c.Require(
          detr.num_heads() > 0 && detr.hidden_dim() % detr.num_heads() == 0,
          "model.detr.hidden_dim", "must be a multiple of num_heads",
          detr.hidden_dim());
      c.AtLeastOne(detr.hidden_dim(), "model.detr.hidden_dim");
      c.AtLeastOne(detr.decoder_layers(), "model.detr.decoder_layers");
      c.AtLeastOne(detr.feedforward_dim(), "model.detr.feedforward_dim");
      c.Require(detr.dropout() >= 0 && detr.dropout() < 1, "model.detr.dropout",
                "must be in [0, 1)", detr.dropout());
      c.AtLeastOne(detr.num_queries(), "model.detr.num_queries");
      c.NonNegative(detr.class_cost(), "model.detr.class_cost");
      c.NonNegative(detr.bbox_cost(), "model.detr.bbox_cost");
      c.NonNegative(detr.giou_cost(), "model.detr.giou_cost");
      c.Require(detr.class_cost() + detr.bbox_cost() + detr.giou_cost() > 0,
                "model.detr", "the matcher costs must not all be 0", 0);
      c.NonNegative(detr.class_loss_weight(), "model.detr.class_loss_weight");
      c.NonNegative(detr.bbox_loss_weight(), "model.detr.bbox_loss_weight");
      c.NonNegative(detr.giou_loss_weight(), "model.detr.giou_loss_weight");
      c.Require(detr.no_object_weight() > 0 && detr.no_object_weight() <= 1,
                "model.detr.no_object_weight", "must be in (0, 1]",
                detr.no_object_weight());
      break;
    }
    case ModelConfig::kYolo: {
      const YoloConfig& yolo = model.yolo();
      c.Probability(yolo.score_threshold(), "model.yolo.score_threshold");
      c.Probability(yolo.nms_iou_threshold(), "model.yolo.nms_iou_threshold");
      c.AtLeastOne(yolo.max_detections(), "model.yolo.max_detections");
      break;
    }
    case ModelConfig::kTorchscript:
      break;
    case ModelConfig::ARCHITECTURE_NOT_SET:
      c.Fail("model",
             "no architecture: set one of model.detr, model.yolo, "
             "model.torchscript");
      break;
  }
}

void CheckOptimization(const PipelineConfig& config, Checker& c) {
  const OptimizerConfig& opt = config.optimizer();
  c.Positive(opt.lr(), "optimizer.lr");
  c.NonNegative(opt.backbone_lr_multiplier(),
                "optimizer.backbone_lr_multiplier");
  c.NonNegative(opt.weight_decay(), "optimizer.weight_decay");
  c.Require(opt.beta1() >= 0 && opt.beta1() < 1, "optimizer.beta1",
            "must be in [0, 1)", opt.beta1());
  c.Require(opt.beta2() >= 0 && opt.beta2() < 1, "optimizer.beta2",
            "must be in [0, 1)", opt.beta2());
  c.Positive(opt.eps(), "optimizer.eps");
  c.NonNegative(opt.gradient_clip_norm(), "optimizer.gradient_clip_norm");
  c.AtLeastOne(opt.accumulate_grad_batches(),
               "optimizer.accumulate_grad_batches");

  const LrScheduleConfig& schedule = config.lr_schedule();
  c.Require(schedule.warmup_fraction() >= 0 && schedule.warmup_fraction() < 1,
            "lr_schedule.warmup_fraction", "must be in [0, 1)",
            schedule.warmup_fraction());
  c.Require(
      schedule.warmup_start_factor() > 0 && schedule.warmup_start_factor() <= 1,
      "lr_schedule.warmup_start_factor", "must be in (0, 1]",
      schedule.warmup_start_factor());
  switch (schedule.schedule_case()) {
    case LrScheduleConfig::kCosine:
      c.NonNegative(schedule.cosine().eta_min(), "lr_schedule.cosine.eta_min");
      c.Require(schedule.cosine().eta_min() < opt.lr(),
                "lr_schedule.cosine.eta_min", "must be < optimizer.lr",
                schedule.cosine().eta_min());
      break;
    case LrScheduleConfig::kStep: {
      const StepSchedule& step = schedule.step();
      c.Require(step.gamma() > 0 && step.gamma() <= 1, "lr_schedule.step.gamma",
                "must be in (0, 1]", step.gamma());
      for (int i = 0; i < step.milestone_epochs_size(); ++i) {
        const std::string path =
            absl::StrCat("lr_schedule.step.milestone_epochs[", i, "]");
        c.AtLeastOne(step.milestone_epochs(i), path);
        if (i > 0) {
          c.Require(step.milestone_epochs(i) > step.milestone_epochs(i - 1),
                    path, "milestones must increase", step.milestone_epochs(i));
        }
      }
      break;
    }
    case LrScheduleConfig::kConstant:
    case LrScheduleConfig::SCHEDULE_NOT_SET:  // Cosine with defaults.
      break;
  }
}

void CheckTrainer(const TrainerConfig& trainer, Checker& c) {
  c.AtLeastOne(trainer.max_epochs(), "trainer.max_epochs");
  c.AtLeastOne(trainer.check_val_every_n_epoch(),
               "trainer.check_val_every_n_epoch");
  c.Require(trainer.seed() <= UINT32_MAX, "trainer.seed", "must be < 2^32",
            trainer.seed());
  c.Require(
      trainer.limit_train_batches() > 0 && trainer.limit_train_batches() <= 1,
      "trainer.limit_train_batches", "must be in (0, 1]",
      trainer.limit_train_batches());
  c.Require(trainer.limit_val_batches() > 0 && trainer.limit_val_batches() <= 1,
            "trainer.limit_val_batches", "must be in (0, 1]",
            trainer.limit_val_batches());
  if (trainer.on_nonfinite_loss() == TrainerConfig::SKIP) {
    c.AtLeastOne(trainer.max_consecutive_skips(),
                 "trainer.max_consecutive_skips");
  }
}

void CheckFilenameTemplate(const std::string& filename, Checker& c) {
  c.Require(!filename.empty(), "checkpoint.filename", "must not be empty",
            "\"\"");
  c.Require(filename.find('/') == std::string::npos, "checkpoint.filename",
            "must not contain '/'", filename);
  int depth = 0;
  for (char ch : filename) {
    if (ch == '{') ++depth;
    if (ch == '}') --depth;
    if (depth < 0 || depth > 1) break;
  }
  c.Require(depth == 0, "checkpoint.filename", "has unbalanced braces",
            filename);
}

void CheckCallbacks(const PipelineConfig& config, Checker& c) {
  const CheckpointConfig& ckpt = config.checkpoint();
  c.Require(!ckpt.monitor().empty(), "checkpoint.monitor", "must not be empty",
            "\"\"");
  c.Require(ckpt.save_top_k() >= -1, "checkpoint.save_top_k", "must be >= -1",
            ckpt.save_top_k());
  c.AtLeastOne(ckpt.every_n_epochs(), "checkpoint.every_n_epochs");
  CheckFilenameTemplate(ckpt.filename(), c);

  const EarlyStoppingConfig& stop = config.early_stopping();
  if (stop.enabled()) {
    c.Require(!stop.monitor().empty(), "early_stopping.monitor",
              "must not be empty", "\"\"");
    c.NonNegative(stop.min_delta(), "early_stopping.min_delta");
  }
  c.Require(!config.tracking().experiment_name().empty(),
            "tracking.experiment_name", "must not be empty", "\"\"");
  c.Positive(config.sync().follow_interval_s(), "sync.follow_interval_s");
  c.AtLeastOne(config.sync().threads(), "sync.threads");
}

}  // namespace

absl::Status ValidatePipelineConfig(const PipelineConfig& config) {
  Checker c;
  CheckData(config.data(), c);
  CheckAugmentation(config.augmentation(), c);
  CheckModel(config.model(), c);
  CheckOptimization(config, c);
  CheckTrainer(config.trainer(), c);
  CheckCallbacks(config, c);
  return c.status();
}

absl::StatusOr<PipelineConfig> ParsePipelineConfig(
    absl::string_view text, absl::string_view source_name, bool is_json) {
  PipelineConfig config;
  if (is_json) {
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = false;
    const auto status = google::protobuf::util::JsonStringToMessage(
        google::protobuf::StringPiece(text.data(), text.size()), &config,
        options);
    if (!status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source_name, ": ", status.message().as_string()));
    }
    return config;
  }
  CVT_RETURN_IF_ERROR(MergeTextProto(text, source_name, &config));
  return config;
}

absl::StatusOr<PipelineConfig> LoadPipelineConfig(
    absl::string_view path, const ConfigOverrides& overrides) {
  if (path.empty()) {
    return absl::InvalidArgumentError("no config file given");
  }
  CVT_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  CVT_ASSIGN_OR_RETURN(
      PipelineConfig config,
      ParsePipelineConfig(text, path, absl::EndsWith(path, ".json")));
  for (const std::string& file : overrides.override_files) {
    CVT_ASSIGN_OR_RETURN(std::string override_text, ReadFileToString(file));
    CVT_RETURN_IF_ERROR(MergeTextProto(override_text, file, &config));
  }
  for (const std::string& assignment : overrides.overrides) {
    CVT_RETURN_IF_ERROR(Annotate(ApplyOverride(assignment, &config),
                                 absl::StrCat("--set ", assignment)));
  }
  CVT_RETURN_IF_ERROR(Annotate(ValidatePipelineConfig(config), path));
  return config;
}

std::string PipelineConfigToText(const PipelineConfig& config) {
  std::string text;
  google::protobuf::TextFormat::Printer printer;
  printer.PrintToString(config, &text);
  return absl::StrCat(
      "# proto-file: libs/config/pipeline.proto\n"
      "# proto-message: cvt.PipelineConfig\n\n",
      text);
}

}  // namespace cvt
