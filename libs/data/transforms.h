// -----------------------------------------------------------------------------
// File: transforms.h
// -----------------------------------------------------------------------------
//
// Image transforms on a `DetectionSample` (detection_sample.h) that keep the
// image, the boxes and the geometry consistent, and the `TransformPipeline`
// that composes them into DETR's training and evaluation recipes
// (reference/training_semantics.md 3.3) or a YOLO-style letterbox.
//
// Every geometric transform is an axis-aligned affine map of continuous pixel
// coordinates (pixel column i covers [i, i + 1)). It maps the image, maps
// every box with the same map, and composes the map into
// `target.geometry`, so that after any sequence of transforms
//
//   sample.target.boxes[i] == geometry.ToInput(box in the original frame)
//
// (up to the clipping that `Crop` does), and `geometry.ToOriginal` maps a
// prediction on the model input back to the original image.
//
// Image types: every transform except `Normalize` needs a CV_8UC3 BGR image
// and returns FailedPrecondition otherwise; `Normalize` turns it into
// CV_32FC3 RGB and so must be the last step. Transforms never throw: OpenCV
// exceptions become Unknown (libs/base/exceptions.h).
//
// Randomness: the random transforms draw from the `Rng` passed in, with the
// portable draws of seed_mix.h in the order each comment gives, so a sample's
// augmentation is a pure function of its RNG seed.
//
// Example:
//
//   CVT_ASSIGN_OR_RETURN(TransformPipeline train,
//                        TransformPipeline::Create(options, /*train=*/true));
//   Rng rng(MixSeed(seed, epoch, index));
//   CVT_RETURN_IF_ERROR(train.Apply(&sample, &rng));
//   // sample.image: CV_32FC3 normalised RGB; boxes in the input frame.
//
// Thread safety: the functions are thread-safe for distinct samples and
// RNGs; a `TransformPipeline` is immutable and may be shared by threads.

#ifndef LIBS_DATA_TRANSFORMS_H_
#define LIBS_DATA_TRANSFORMS_H_

#include <array>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "libs/data/detection_sample.h"
#include "libs/data/seed_mix.h"
#include "opencv2/core.hpp"

namespace cvt {

// ImageNet statistics on [0, 1] RGB pixels (the torchvision/HF default).
inline constexpr std::array<float, 3> kImageNetMean = {0.485f, 0.456f, 0.406f};
inline constexpr std::array<float, 3> kImageNetStd = {0.229f, 0.224f, 0.225f};

// Grey level of letterbox padding, in every channel (Ultralytics).
inline constexpr int kLetterboxPadValue = 114;

// ---------------------------------------------------------------------------
// Deterministic geometric transforms.
// ---------------------------------------------------------------------------

// The size (width, height) that `ResizeShortestEdge` gives a `width` x
// `height` image (DETR / HF `DetrImageProcessor` rule): the scale is
// size / shortest, unless that makes the longest edge exceed `max_size`
// (> 0), in which case it is max_size / longest. Rounding: the edge that
// sets the scale gets exactly `size` (or `max_size`); the other edge is
// round-half-up(edge * scale), at least 1. Examples with 800/1333:
// 640x480 -> 1067x800; 2000x500 -> 1333x333; 800x600 -> 1067x800.
// (DETR truncates the computed edge instead, so it can be 1 px shorter;
// rounding keeps the aspect ratio closer.) `max_size` 0 means no cap.
// Requires width, height, size >= 1.
cv::Size ShortestEdgeSize(int64_t width, int64_t height, int size,
                          int max_size);

// Resizes the image to `width` x `height` (each >= 1): INTER_AREA when both
// edges shrink (close to PIL's antialiased bilinear, which HF uses),
// INTER_LINEAR otherwise. Boxes and geometry scale by width / old width and
// height / old height. An unchanged size copies nothing.
// InvalidArgument for a size < 1.
absl::Status Resize(int width, int height, DetectionSample* sample);

// `Resize` to `ShortestEdgeSize(image cols, rows, size, max_size)`.
// InvalidArgument for size < 1 or max_size < 0.
absl::Status ResizeShortestEdge(int size, int max_size,
                                DetectionSample* sample);

// Where `Letterbox(size)` puts a `width` x `height` image in the square.
struct LetterboxLayout {
  // Size of the resized image inside the square: round-half-up(edge *
  // gain), with gain = min(size / width, size / height); at least 1.
  int width = 0;
  int height = 0;
  // Padding left and above: floor((size - width) / 2) and
  // floor((size - height) / 2); the rest goes right and below.
  int pad_left = 0;
  int pad_top = 0;
};
LetterboxLayout ComputeLetterbox(int64_t width, int64_t height, int size);

// Resizes keeping the aspect ratio (as `Resize`) and pads to `size` x `size`
// with `kLetterboxPadValue`, centred as `ComputeLetterbox` says. The
// geometry gets the scale and an offset equal to the padding; the input
// frame is the whole square (padding included: it is part of the model input
// and the collated pixel mask is true there). InvalidArgument for size < 1.
absl::Status Letterbox(int size, DetectionSample* sample);

// Mirrors left-right: x -> W - x (W = image width); boxes become
// [W - x2, y1, W - x1, y2]; the geometry gets a negative x scale.
absl::Status HorizontalFlip(DetectionSample* sample);

// Crops to `region` (inside the image, non-empty; InvalidArgument
// otherwise). Each box is clipped to the region and shifted by its corner. A
// box is kept iff its visible area after clipping is > 0 and
// visible area >= min_box_visibility * its area before clipping (crowd boxes
// follow the same rule); dropped boxes take their label, crowd flag and
// annotation id with them. The geometry gets an offset of -region corner.
// `min_box_visibility` in [0, 1]; 0 keeps every box that overlaps the crop
// (DETR's RandomSizeCrop).
absl::Status Crop(const cv::Rect& region, double min_box_visibility,
                  DetectionSample* sample);

// ---------------------------------------------------------------------------
// Random transforms.
// ---------------------------------------------------------------------------

struct RandomCropOptions {
  // Probability that `TransformPipeline` takes the crop branch (not used by
  // `RandomCrop` itself). Default: 0.5 (DETR).
  double probability = 0.5;
  // Shortest-edge sizes for the resize before the crop, without a cap on the
  // longest edge (DETR's RandomResize([400, 500, 600])); empty = crop at
  // the current size. Default: empty.
  std::vector<int> pre_resize_sizes;
  // Crop edge range in pixels. Default: 384..600 (DETR).
  int min_size = 384;
  int max_size = 600;
  // See `Crop`. Default: 0.
  double min_box_visibility = 0.0;
};

// DETR's RandomResize + RandomSizeCrop. Draws, in this order:
//   1. if `pre_resize_sizes` is not empty: its index, UniformInt, and
//      `ResizeShortestEdge(size, 0)`;
//   2. crop width  UniformInt(min(min_size, W), max(that, min(max_size, W)));
//   3. crop height UniformInt(min(min_size, H), max(that, min(max_size, H)));
//   4. top  UniformInt(0, H - crop height);
//   5. left UniformInt(0, W - crop width);
// then `Crop`. An image edge shorter than `min_size` is kept whole (DETR
// would raise). InvalidArgument for min_size < 1, max_size < min_size or a
// pre-resize size < 1.
absl::Status RandomCrop(const RandomCropOptions& options, Rng* rng,
                        DetectionSample* sample);

// torchvision ColorJitter semantics; each value 0 disables that part.
struct ColorJitterOptions {
  // Factor drawn from [max(0, 1 - v), 1 + v]. Default: 0 (off).
  double brightness = 0;
  double contrast = 0;
  double saturation = 0;
  // Hue shift drawn from [-hue, hue] as a fraction of the hue circle;
  // hue in [0, 0.5]. Default: 0 (off).
  double hue = 0;

  bool enabled() const {
    return brightness > 0 || contrast > 0 || saturation > 0 || hue > 0;
  }
};

// Changes colours only (boxes and geometry untouched). Draws, in this
// order: a random order of the four parts (`Shuffle` of {brightness,
// contrast, saturation, hue}), then one factor for each enabled part, in the
// fixed order brightness, contrast, saturation, hue (UniformDouble); then
// applies the enabled parts in the random order. Nothing is drawn or changed
// when no part is enabled. The work is done once in float [0, 1]: brightness
// multiplies; contrast blends with the mean grey level of the image (grey =
// 0.2989 R + 0.587 G + 0.114 B); saturation blends with each pixel's grey;
// each of these clamps to [0, 1]; hue rotates the HSV hue. The result is
// rounded back to uint8 once. InvalidArgument for a negative value or
// hue > 0.5.
absl::Status ColorJitter(const ColorJitterOptions& options, Rng* rng,
                         DetectionSample* sample);

// BGR uint8 -> RGB float32, out[c] = (v / 255 - mean[c]) / std[c], with mean
// and std in RGB order. The last step: afterwards the image is CV_32FC3 and
// the other transforms refuse it. InvalidArgument for std <= 0.
absl::Status Normalize(const std::array<float, 3>& mean,
                       const std::array<float, 3>& std,
                       DetectionSample* sample);

// ---------------------------------------------------------------------------
// The pipeline.
// ---------------------------------------------------------------------------

// Plain mirror of `AugmentationConfig` (libs/config/augmentation_config.proto;
// `TransformOptionsFromProto` in options_from_proto.h converts and checks).
struct TransformOptions {
  // Shortest-edge sizes for training, one drawn per sample; empty means
  // {eval_min_size}. Default: empty.
  std::vector<int> train_min_sizes;
  // Shortest edge at evaluation, in pixels. Default: 800.
  int eval_min_size = 800;
  // Cap on the longest edge after resizing, in pixels; 0 = none.
  // Default: 1333.
  int max_size = 1333;
  // > 0: letterbox every image to this square instead of resizing (YOLO
  // family; the sizes above are then unused). Default: 0.
  int letterbox_size = 0;
  // Default: 0.5.
  double horizontal_flip_probability = 0.5;
  // Set: DETR's crop branch is taken with `random_crop->probability`.
  // Default: unset (no crop).
  std::optional<RandomCropOptions> random_crop;
  // Default: off.
  ColorJitterOptions color_jitter;
  // RGB, on [0, 1] pixels. Default: ImageNet.
  std::array<float, 3> mean = kImageNetMean;
  std::array<float, 3> std = kImageNetStd;
};

// OK, or InvalidArgument naming the field (as in the proto) that is out of
// range: sizes >= 1 (max_size and letterbox_size >= 0), probabilities in
// [0, 1], crop min_size <= max_size, jitter as `ColorJitter`, std > 0.
absl::Status ValidateTransformOptions(const TransformOptions& options);

// The per-sample recipe.
//
// Training (`train = true`), drawing in this order:
//   1. flip: Bernoulli(horizontal_flip_probability) -> `HorizontalFlip`;
//   2. with `random_crop`: Bernoulli(random_crop->probability) -> crop branch
//      `RandomCrop` (pre-resize, crop);
//   3. letterbox_size > 0: `Letterbox(letterbox_size)`; otherwise a size
//      drawn from train_min_sizes (UniformInt index) and
//      `ResizeShortestEdge(size, max_size)` (DETR's multi-scale resize, after
//      the crop in the crop branch);
//   4. `ColorJitter` when enabled;
//   5. `Normalize(mean, std)`.
// Evaluation: `Letterbox(letterbox_size)` or
// `ResizeShortestEdge(eval_min_size, max_size)`, then `Normalize`; nothing
// random (the RNG may be null).
class TransformPipeline {
 public:
  // InvalidArgument as `ValidateTransformOptions`.
  static absl::StatusOr<TransformPipeline> Create(TransformOptions options,
                                                  bool train);

  // Runs the recipe on a freshly loaded sample (CV_8UC3 BGR). `rng` must not
  // be null when training (InvalidArgument). Errors of the steps pass
  // through.
  absl::Status Apply(DetectionSample* sample, Rng* rng) const;

  const TransformOptions& options() const { return options_; }
  bool train() const { return train_; }

 private:
  TransformPipeline(TransformOptions options, bool train)
      : options_(std::move(options)), train_(train) {}

  TransformOptions options_;
  bool train_ = false;
};

}  // namespace cvt

#endif  // LIBS_DATA_TRANSFORMS_H_
