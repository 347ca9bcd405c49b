#include "libs/data/collate.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "ATen/ops/zeros.h"
#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "libs/base/exceptions.h"
#include "opencv2/core.hpp"

namespace cvt {

absl::StatusOr<DetectionBatch> Collate(std::vector<DetectionSample> samples,
                                       int size_divisor) {
  if (samples.empty()) {
    return absl::InvalidArgumentError("Collate: no samples");
  }
  if (size_divisor < 1) {
    return absl::InvalidArgumentError(
        absl::StrFormat("Collate: size_divisor %d must be >= 1", size_divisor));
  }
  int64_t height = 0;
  int64_t width = 0;
  for (size_t b = 0; b < samples.size(); ++b) {
    const cv::Mat& image = samples[b].image;
    if (image.empty() || image.type() != CV_32FC3) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "Collate: sample %d (image id %d) is not a normalised CV_32FC3 "
          "image; run Normalize last",
          b, samples[b].target.image_id));
    }
    height = std::max<int64_t>(height, image.rows);
    width = std::max<int64_t>(width, image.cols);
  }
  height = (height + size_divisor - 1) / size_divisor * size_divisor;
  width = (width + size_divisor - 1) / size_divisor * size_divisor;
  const int64_t count = static_cast<int64_t>(samples.size());

  return CallCatchingExceptions(
      "Collate", [&]() -> absl::StatusOr<DetectionBatch> {
        DetectionBatch batch;
        batch.images = at::zeros({count, 3, height, width}, at::kFloat);
        batch.pixel_mask = at::zeros({count, height, width}, at::kBool);
        float* images = batch.images.data_ptr<float>();
        bool* mask = batch.pixel_mask.data_ptr<bool>();
        const int64_t plane = height * width;
        for (int64_t b = 0; b < count; ++b) {
          const cv::Mat& image = samples[b].image;
          float* r = images + (b * 3 + 0) * plane;
          float* g = images + (b * 3 + 1) * plane;
          float* bl = images + (b * 3 + 2) * plane;
          bool* m = mask + b * plane;
          for (int y = 0; y < image.rows; ++y) {
            const float* src = image.ptr<float>(y);
            const int64_t row = y * width;
            for (int x = 0; x < image.cols; ++x) {
              r[row + x] = src[3 * x + 0];
              g[row + x] = src[3 * x + 1];
              bl[row + x] = src[3 * x + 2];
            }
            std::fill(m + row, m + row + image.cols, true);
          }
        }
        batch.targets.reserve(samples.size());
        for (DetectionSample& sample : samples) {
          batch.targets.push_back(std::move(sample.target));
        }
        return batch;
      });
}

}  // namespace cvt
