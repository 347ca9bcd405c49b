#include "libs/data/options_from_proto.h"

#include <cstdint>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "libs/base/status.h"
#include "libs/base/status_macros.h"

namespace cvt {
namespace {

constexpr uint32_t kMaxInt = std::numeric_limits<int>::max();

absl::Status TooLarge(absl::string_view message, absl::string_view field) {
  return absl::InvalidArgumentError(
      absl::StrCat(message, ": ", field, " is larger than 2^31 - 1"));
}

}  // namespace

absl::StatusOr<TransformOptions> TransformOptionsFromProto(
    const AugmentationConfig& config) {
  constexpr absl::string_view kName = "AugmentationConfig";
  TransformOptions options;
  for (uint32_t size : config.train_min_sizes()) {
    if (size > kMaxInt) return TooLarge(kName, "train_min_sizes");
    options.train_min_sizes.push_back(static_cast<int>(size));
  }
  if (config.eval_min_size() > kMaxInt) return TooLarge(kName, "eval_min_size");
  if (config.max_size() > kMaxInt) return TooLarge(kName, "max_size");
  if (config.letterbox_size() > kMaxInt) {
    return TooLarge(kName, "letterbox_size");
  }
  options.eval_min_size = static_cast<int>(config.eval_min_size());
  options.max_size = static_cast<int>(config.max_size());
  options.letterbox_size = static_cast<int>(config.letterbox_size());
  options.horizontal_flip_probability = config.horizontal_flip_probability();
  if (config.has_random_crop()) {
    const RandomCropConfig& crop = config.random_crop();
    RandomCropOptions out;
    out.probability = crop.probability();
    for (uint32_t size : crop.pre_resize_sizes()) {
      if (size > kMaxInt)
        return TooLarge(kName, "random_crop.pre_resize_sizes");
      out.pre_resize_sizes.push_back(static_cast<int>(size));
    }
    if (crop.min_size() > kMaxInt)
      return TooLarge(kName, "random_crop.min_size");
    if (crop.max_size() > kMaxInt)
      return TooLarge(kName, "random_crop.max_size");
    out.min_size = static_cast<int>(crop.min_size());
    out.max_size = static_cast<int>(crop.max_size());
    out.min_box_visibility = crop.min_box_visibility();
    options.random_crop = out;
  }
  const ColorJitterConfig& jitter = config.color_jitter();
  options.color_jitter.brightness = jitter.brightness();
  options.color_jitter.contrast = jitter.contrast();
  options.color_jitter.saturation = jitter.saturation();
  options.color_jitter.hue = jitter.hue();
  if (config.mean_size() != 0) {
    if (config.mean_size() != 3) {
      return absl::InvalidArgumentError(absl::StrCat(
          kName, ": mean needs 3 values (RGB), got ", config.mean_size()));
    }
    for (int c = 0; c < 3; ++c) options.mean[c] = config.mean(c);
  }
  if (config.std_size() != 0) {
    if (config.std_size() != 3) {
      return absl::InvalidArgumentError(absl::StrCat(
          kName, ": std needs 3 values (RGB), got ", config.std_size()));
    }
    for (int c = 0; c < 3; ++c) options.std[c] = config.std(c);
  }
  CVT_RETURN_IF_ERROR(Annotate(ValidateTransformOptions(options), kName));
  return options;
}

absl::StatusOr<TransformPipeline> MakeTransformPipeline(
    const AugmentationConfig& config, bool train) {
  CVT_ASSIGN_OR_RETURN(TransformOptions options,
                       TransformOptionsFromProto(config));
  return TransformPipeline::Create(std::move(options), train);
}

absl::StatusOr<DetectionDatasetOptions> DatasetOptionsFromProto(
    const DataConfig& config) {
  if (config.max_image_pixels() < 1) {
    return absl::InvalidArgumentError(
        "DataConfig: max_image_pixels must be >= 1");
  }
  DetectionDatasetOptions options;
  options.max_image_pixels = config.max_image_pixels();
  options.keep_crowd_as_ignore = config.keep_crowd_as_ignore();
  return options;
}

absl::StatusOr<DetectionLoaderOptions> LoaderOptionsFromProto(
    const DataConfig& config, bool train) {
  constexpr absl::string_view kName = "DataConfig";
  if (config.batch_size() < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(kName, ": batch_size must be >= 1"));
  }
  if (config.prefetch_batches() < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(kName, ": prefetch_batches must be >= 1"));
  }
  if (config.batch_size() > kMaxInt) return TooLarge(kName, "batch_size");
  if (config.num_workers() > kMaxInt) return TooLarge(kName, "num_workers");
  if (config.prefetch_batches() > kMaxInt) {
    return TooLarge(kName, "prefetch_batches");
  }
  DetectionLoaderOptions options;
  options.batch_size = static_cast<int>(config.batch_size());
  options.num_workers = static_cast<int>(config.num_workers());
  options.prefetch_batches = static_cast<int>(config.prefetch_batches());
  options.shuffle = train && config.shuffle();
  options.pad_shards = train;
  return options;
}

}  // namespace cvt
