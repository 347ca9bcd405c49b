#include "libs/data/transforms.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "libs/base/exceptions.h"
#include "libs/base/status_macros.h"
#include "opencv2/core.hpp"
#include "opencv2/imgproc.hpp"

namespace cvt {
namespace {

int RoundHalfUp(double v) { return static_cast<int>(std::floor(v + 0.5)); }

absl::Status NeedBgr8(const DetectionSample& sample, absl::string_view what) {
  if (sample.image.empty() || sample.image.type() != CV_8UC3) {
    return absl::FailedPreconditionError(
        absl::StrCat(what,
                     " needs a non-empty CV_8UC3 BGR image (it must run before "
                     "Normalize)"));
  }
  return absl::OkStatus();
}

// Composes x' = sx * x + ox, y' = sy * y + oy into the geometry and applies
// it to the boxes; the new input size is `width` x `height`.
void ApplyAffine(double sx, double sy, double ox, double oy, int width,
                 int height, DetectionTarget* target) {
  ImageGeometry& g = target->geometry;
  g.scale_x *= sx;
  g.offset_x = sx * g.offset_x + ox;
  g.scale_y *= sy;
  g.offset_y = sy * g.offset_y + oy;
  g.input_width = width;
  g.input_height = height;
  for (BoxXyxy& box : target->boxes) {
    BoxXyxy out = {sx * box[0] + ox, sy * box[1] + oy, sx * box[2] + ox,
                   sy * box[3] + oy};
    if (out[0] > out[2]) std::swap(out[0], out[2]);
    if (out[1] > out[3]) std::swap(out[1], out[3]);
    box = out;
  }
}

cv::Mat ResizeImage(const cv::Mat& image, int width, int height) {
  const bool shrink = width <= image.cols && height <= image.rows;
  cv::Mat out;
  cv::resize(image, out, cv::Size(width, height), 0, 0,
             shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
  return out;
}

// Keeps the objects whose `keep[i]` is true.
void KeepObjects(const std::vector<bool>& keep, DetectionTarget* target) {
  size_t out = 0;
  for (size_t i = 0; i < keep.size(); ++i) {
    if (!keep[i]) continue;
    target->boxes[out] = target->boxes[i];
    target->labels[out] = target->labels[i];
    target->iscrowd[out] = target->iscrowd[i];
    target->annotation_ids[out] = target->annotation_ids[i];
    ++out;
  }
  target->boxes.resize(out);
  target->labels.resize(out);
  target->iscrowd.resize(out);
  target->annotation_ids.resize(out);
}

absl::Status CheckParallel(const DetectionTarget& target) {
  const size_t n = target.boxes.size();
  if (target.labels.size() != n || target.iscrowd.size() != n ||
      target.annotation_ids.size() != n) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "image id %d: boxes, labels, iscrowd and annotation_ids must have the "
        "same length (%d, %d, %d, %d)",
        target.image_id, n, target.labels.size(), target.iscrowd.size(),
        target.annotation_ids.size()));
  }
  return absl::OkStatus();
}

bool InUnit(double v) { return v >= 0 && v <= 1; }

}  // namespace

cv::Size ShortestEdgeSize(int64_t width, int64_t height, int size,
                          int max_size) {
  const bool wide = width >= height;
  const double shortest = static_cast<double>(wide ? height : width);
  const double longest = static_cast<double>(wide ? width : height);
  int short_out = size;
  int long_out = std::max(1, RoundHalfUp(longest * size / shortest));
  if (max_size > 0 && longest * size / shortest > max_size) {
    long_out = max_size;
    short_out = std::max(1, RoundHalfUp(shortest * max_size / longest));
  }
  return wide ? cv::Size(long_out, short_out) : cv::Size(short_out, long_out);
}

absl::Status Resize(int width, int height, DetectionSample* sample) {
  CVT_RETURN_IF_ERROR(NeedBgr8(*sample, "Resize"));
  if (width < 1 || height < 1) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "Resize: size %dx%d must be at least 1x1", width, height));
  }
  const int old_w = sample->image.cols;
  const int old_h = sample->image.rows;
  if (width == old_w && height == old_h) return absl::OkStatus();
  return CallCatchingExceptions("Resize", [&]() -> absl::Status {
    sample->image = ResizeImage(sample->image, width, height);
    ApplyAffine(static_cast<double>(width) / old_w,
                static_cast<double>(height) / old_h, 0, 0, width, height,
                &sample->target);
    return absl::OkStatus();
  });
}

absl::Status ResizeShortestEdge(int size, int max_size,
                                DetectionSample* sample) {
  CVT_RETURN_IF_ERROR(NeedBgr8(*sample, "ResizeShortestEdge"));
  if (size < 1 || max_size < 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "ResizeShortestEdge: size %d must be >= 1 and max_size %d >= 0", size,
        max_size));
  }
  const cv::Size out =
      ShortestEdgeSize(sample->image.cols, sample->image.rows, size, max_size);
  return Resize(out.width, out.height, sample);
}

LetterboxLayout ComputeLetterbox(int64_t width, int64_t height, int size) {
  const double gain = std::min(static_cast<double>(size) / width,
                               static_cast<double>(size) / height);
  LetterboxLayout layout;
  layout.width = std::clamp(RoundHalfUp(width * gain), 1, size);
  layout.height = std::clamp(RoundHalfUp(height * gain), 1, size);
  layout.pad_left = (size - layout.width) / 2;
  layout.pad_top = (size - layout.height) / 2;
  return layout;
}

absl::Status Letterbox(int size, DetectionSample* sample) {
  CVT_RETURN_IF_ERROR(NeedBgr8(*sample, "Letterbox"));
  if (size < 1) {
    return absl::InvalidArgumentError(
        absl::StrFormat("Letterbox: size %d must be >= 1", size));
  }
  const LetterboxLayout layout =
      ComputeLetterbox(sample->image.cols, sample->image.rows, size);
  CVT_RETURN_IF_ERROR(Resize(layout.width, layout.height, sample));
  return CallCatchingExceptions("Letterbox", [&]() -> absl::Status {
    cv::Mat out;
    cv::copyMakeBorder(sample->image, out, layout.pad_top,
                       size - layout.height - layout.pad_top, layout.pad_left,
                       size - layout.width - layout.pad_left,
                       cv::BORDER_CONSTANT,
                       cv::Scalar::all(kLetterboxPadValue));
    sample->image = out;
    ApplyAffine(1, 1, layout.pad_left, layout.pad_top, size, size,
                &sample->target);
    return absl::OkStatus();
  });
}

absl::Status HorizontalFlip(DetectionSample* sample) {
  CVT_RETURN_IF_ERROR(NeedBgr8(*sample, "HorizontalFlip"));
  return CallCatchingExceptions("HorizontalFlip", [&]() -> absl::Status {
    cv::Mat out;
    cv::flip(sample->image, out, 1);
    sample->image = out;
    ApplyAffine(-1, 1, out.cols, 0, out.cols, out.rows, &sample->target);
    return absl::OkStatus();
  });
}

absl::Status Crop(const cv::Rect& region, double min_box_visibility,
                  DetectionSample* sample) {
  CVT_RETURN_IF_ERROR(NeedBgr8(*sample, "Crop"));
  CVT_RETURN_IF_ERROR(CheckParallel(sample->target));
  const cv::Rect whole(0, 0, sample->image.cols, sample->image.rows);
  if (region.empty() || (region & whole) != region) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "Crop: region %dx%d at (%d, %d) is empty or not inside the %dx%d "
        "image",
        region.width, region.height, region.x, region.y, whole.width,
        whole.height));
  }
  if (!InUnit(min_box_visibility)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Crop: min_box_visibility ", min_box_visibility, " is not in [0, 1]"));
  }
  return CallCatchingExceptions("Crop", [&]() -> absl::Status {
    sample->image = sample->image(region).clone();
    DetectionTarget& target = sample->target;
    const double x0 = region.x, y0 = region.y;
    const double x1 = region.x + region.width, y1 = region.y + region.height;
    std::vector<bool> keep(target.boxes.size());
    for (size_t i = 0; i < target.boxes.size(); ++i) {
      BoxXyxy& box = target.boxes[i];
      const double area = (box[2] - box[0]) * (box[3] - box[1]);
      const BoxXyxy clipped = {
          std::clamp(box[0], x0, x1), std::clamp(box[1], y0, y1),
          std::clamp(box[2], x0, x1), std::clamp(box[3], y0, y1)};
      const double visible = std::max(0.0, clipped[2] - clipped[0]) *
                             std::max(0.0, clipped[3] - clipped[1]);
      keep[i] = visible > 0 && visible >= min_box_visibility * area;
      box = clipped;
    }
    KeepObjects(keep, &target);
    ApplyAffine(1, 1, -x0, -y0, region.width, region.height, &target);
    return absl::OkStatus();
  });
}

absl::Status RandomCrop(const RandomCropOptions& options, Rng* rng,
                        DetectionSample* sample) {
  CVT_RETURN_IF_ERROR(NeedBgr8(*sample, "RandomCrop"));
  if (options.min_size < 1 || options.max_size < options.min_size) {
    return absl::InvalidArgumentError(
        absl::StrFormat("RandomCrop: need 1 <= min_size (%d) <= max_size (%d)",
                        options.min_size, options.max_size));
  }
  for (int size : options.pre_resize_sizes) {
    if (size < 1) {
      return absl::InvalidArgumentError(
          absl::StrFormat("RandomCrop: pre-resize size %d must be >= 1", size));
    }
  }
  if (!options.pre_resize_sizes.empty()) {
    const int64_t pick = UniformInt(
        rng, 0, static_cast<int64_t>(options.pre_resize_sizes.size()) - 1);
    CVT_RETURN_IF_ERROR(
        ResizeShortestEdge(options.pre_resize_sizes[pick], 0, sample));
  }
  const int width = sample->image.cols;
  const int height = sample->image.rows;
  const auto edge = [&](int side) {
    const int lo = std::min(options.min_size, side);
    const int hi = std::max(lo, std::min(options.max_size, side));
    return static_cast<int>(UniformInt(rng, lo, hi));
  };
  const int crop_w = edge(width);
  const int crop_h = edge(height);
  const int top = static_cast<int>(UniformInt(rng, 0, height - crop_h));
  const int left = static_cast<int>(UniformInt(rng, 0, width - crop_w));
  return Crop(cv::Rect(left, top, crop_w, crop_h), options.min_box_visibility,
              sample);
}

absl::Status ColorJitter(const ColorJitterOptions& options, Rng* rng,
                         DetectionSample* sample) {
  CVT_RETURN_IF_ERROR(NeedBgr8(*sample, "ColorJitter"));
  if (options.brightness < 0 || options.contrast < 0 ||
      options.saturation < 0 || options.hue < 0 || options.hue > 0.5) {
    return absl::InvalidArgumentError(
        "ColorJitter: brightness, contrast and saturation must be >= 0 and "
        "hue in [0, 0.5]");
  }
  if (!options.enabled()) return absl::OkStatus();
  std::vector<int> order = {0, 1, 2, 3};
  Shuffle(&order, rng);
  const auto factor = [&](double v) {
    return UniformDouble(rng, std::max(0.0, 1 - v), 1 + v);
  };
  const double brightness =
      options.brightness > 0 ? factor(options.brightness) : 1;
  const double contrast = options.contrast > 0 ? factor(options.contrast) : 1;
  const double saturation =
      options.saturation > 0 ? factor(options.saturation) : 1;
  const double hue =
      options.hue > 0 ? UniformDouble(rng, -options.hue, options.hue) : 0;

  return CallCatchingExceptions("ColorJitter", [&]() -> absl::Status {
    cv::Mat image;
    sample->image.convertTo(image, CV_32FC3, 1.0 / 255.0);
    const auto clamp01 = [](cv::Mat* m) {
      cv::min(*m, 1.0, *m);
      cv::max(*m, 0.0, *m);
    };
    // BGR order.
    const cv::Matx13f grey_weights(0.114f, 0.587f, 0.2989f);
    const auto grey = [&](const cv::Mat& m) {
      cv::Mat g;
      cv::transform(m, g, grey_weights);
      return g;
    };
    for (int part : order) {
      switch (part) {
        case 0:
          if (options.brightness <= 0) break;
          image *= brightness;
          clamp01(&image);
          break;
        case 1: {
          if (options.contrast <= 0) break;
          const double mean = cv::mean(grey(image))[0];
          image = image * contrast + cv::Scalar::all((1 - contrast) * mean);
          clamp01(&image);
          break;
        }
        case 2: {
          if (options.saturation <= 0) break;
          cv::Mat g = grey(image);
          cv::Mat g3;
          cv::merge(std::vector<cv::Mat>{g, g, g}, g3);
          cv::addWeighted(image, saturation, g3, 1 - saturation, 0, image);
          clamp01(&image);
          break;
        }
        case 3: {
          if (options.hue <= 0) break;
          cv::Mat hsv;
          cv::cvtColor(image, hsv, cv::COLOR_BGR2HSV);  // H in [0, 360).
          const float shift = static_cast<float>(hue * 360.0);
          for (int y = 0; y < hsv.rows; ++y) {
            cv::Vec3f* row = hsv.ptr<cv::Vec3f>(y);
            for (int x = 0; x < hsv.cols; ++x) {
              float h = row[x][0] + shift;
              if (h < 0) h += 360.0f;
              if (h >= 360.0f) h -= 360.0f;
              row[x][0] = h;
            }
          }
          cv::cvtColor(hsv, image, cv::COLOR_HSV2BGR);
          clamp01(&image);
          break;
        }
      }
    }
    cv::Mat out;
    image.convertTo(out, CV_8UC3, 255.0);
    sample->image = out;
    return absl::OkStatus();
  });
}

absl::Status Normalize(const std::array<float, 3>& mean,
                       const std::array<float, 3>& std,
                       DetectionSample* sample) {
  CVT_RETURN_IF_ERROR(NeedBgr8(*sample, "Normalize"));
  for (float s : std) {
    if (!(s > 0) || !std::isfinite(s)) {
      return absl::InvalidArgumentError(
          absl::StrCat("Normalize: std ", s, " must be finite and > 0"));
    }
  }
  // lut[c][v] for output (RGB) channel c; input channel 2 - c.
  float lut[3][256];
  for (int c = 0; c < 3; ++c) {
    for (int v = 0; v < 256; ++v) {
      lut[c][v] = (static_cast<float>(v) / 255.0f - mean[c]) / std[c];
    }
  }
  return CallCatchingExceptions("Normalize", [&]() -> absl::Status {
    const cv::Mat& in = sample->image;
    cv::Mat out(in.rows, in.cols, CV_32FC3);
    for (int y = 0; y < in.rows; ++y) {
      const uint8_t* src = in.ptr<uint8_t>(y);
      float* dst = out.ptr<float>(y);
      for (int x = 0; x < in.cols; ++x) {
        dst[3 * x + 0] = lut[0][src[3 * x + 2]];
        dst[3 * x + 1] = lut[1][src[3 * x + 1]];
        dst[3 * x + 2] = lut[2][src[3 * x + 0]];
      }
    }
    sample->image = out;
    return absl::OkStatus();
  });
}

absl::Status ValidateTransformOptions(const TransformOptions& options) {
  const auto bad = [](absl::string_view field, absl::string_view rule) {
    return absl::InvalidArgumentError(absl::StrCat(field, " ", rule));
  };
  for (int size : options.train_min_sizes) {
    if (size < 1) return bad("train_min_sizes", "must all be >= 1");
  }
  if (options.eval_min_size < 1) return bad("eval_min_size", "must be >= 1");
  if (options.max_size < 0) return bad("max_size", "must be >= 0");
  if (options.letterbox_size < 0) return bad("letterbox_size", "must be >= 0");
  if (!InUnit(options.horizontal_flip_probability)) {
    return bad("horizontal_flip_probability", "must be in [0, 1]");
  }
  if (options.random_crop.has_value()) {
    const RandomCropOptions& crop = *options.random_crop;
    if (!InUnit(crop.probability)) {
      return bad("random_crop.probability", "must be in [0, 1]");
    }
    for (int size : crop.pre_resize_sizes) {
      if (size < 1) return bad("random_crop.pre_resize_sizes", "must be >= 1");
    }
    if (crop.min_size < 1) return bad("random_crop.min_size", "must be >= 1");
    if (crop.max_size < crop.min_size) {
      return bad("random_crop.max_size", "must be >= random_crop.min_size");
    }
    if (!InUnit(crop.min_box_visibility)) {
      return bad("random_crop.min_box_visibility", "must be in [0, 1]");
    }
  }
  const ColorJitterOptions& jitter = options.color_jitter;
  if (!(jitter.brightness >= 0)) {
    return bad("color_jitter.brightness", "must be >= 0");
  }
  if (!(jitter.contrast >= 0))
    return bad("color_jitter.contrast", "must be >= 0");
  if (!(jitter.saturation >= 0)) {
    return bad("color_jitter.saturation", "must be >= 0");
  }
  if (!(jitter.hue >= 0 && jitter.hue <= 0.5)) {
    return bad("color_jitter.hue", "must be in [0, 0.5]");
  }
  for (float s : options.std) {
    if (!(s > 0) || !std::isfinite(s))
      return bad("std", "must be finite and > 0");
  }
  for (float m : options.mean) {
    if (!std::isfinite(m)) return bad("mean", "must be finite");
  }
  return absl::OkStatus();
}

absl::StatusOr<TransformPipeline> TransformPipeline::Create(
    TransformOptions options, bool train) {
  CVT_RETURN_IF_ERROR(ValidateTransformOptions(options));
  if (options.train_min_sizes.empty()) {
    options.train_min_sizes = {options.eval_min_size};
  }
  return TransformPipeline(std::move(options), train);
}

absl::Status TransformPipeline::Apply(DetectionSample* sample, Rng* rng) const {
  const TransformOptions& o = options_;
  if (!train_) {
    if (o.letterbox_size > 0) {
      CVT_RETURN_IF_ERROR(Letterbox(o.letterbox_size, sample));
    } else {
      CVT_RETURN_IF_ERROR(
          ResizeShortestEdge(o.eval_min_size, o.max_size, sample));
    }
    return Normalize(o.mean, o.std, sample);
  }
  if (rng == nullptr) {
    return absl::InvalidArgumentError(
        "TransformPipeline: training transforms need an RNG");
  }
  if (Bernoulli(rng, o.horizontal_flip_probability)) {
    CVT_RETURN_IF_ERROR(HorizontalFlip(sample));
  }
  if (o.random_crop.has_value() && Bernoulli(rng, o.random_crop->probability)) {
    CVT_RETURN_IF_ERROR(RandomCrop(*o.random_crop, rng, sample));
  }
  if (o.letterbox_size > 0) {
    CVT_RETURN_IF_ERROR(Letterbox(o.letterbox_size, sample));
  } else {
    const int64_t pick =
        UniformInt(rng, 0, static_cast<int64_t>(o.train_min_sizes.size()) - 1);
    CVT_RETURN_IF_ERROR(
        ResizeShortestEdge(o.train_min_sizes[pick], o.max_size, sample));
  }
  CVT_RETURN_IF_ERROR(ColorJitter(o.color_jitter, rng, sample));
  return Normalize(o.mean, o.std, sample);
}

}  // namespace cvt
