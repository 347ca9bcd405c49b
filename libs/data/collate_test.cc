#include "libs/data/collate.h"

#include <vector>

#include "ATen/core/Tensor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/status_matchers.h"
#include "libs/data/detection_sample.h"
#include "opencv2/core.hpp"

namespace cvt {
namespace {

using ::testing::HasSubstr;

// A CV_32FC3 image whose pixel (y, x) channel c is 1 + 1000 b + 100 c +
// 10 y + x (never 0, so padding is recognisable).
DetectionSample FloatSample(int b, int width, int height) {
  DetectionSample sample;
  sample.image = cv::Mat(height, width, CV_32FC3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      for (int c = 0; c < 3; ++c) {
        sample.image.at<cv::Vec3f>(y, x)[c] =
            1 + 1000 * b + 100 * c + 10 * y + x;
      }
    }
  }
  sample.target.image_id = 10 + b;
  sample.target.boxes = {{0, 0, 1, 1}};
  sample.target.labels = {b};
  sample.target.iscrowd = {0};
  sample.target.annotation_ids = {5};
  return sample;
}

TEST(CollateTest, PadsBottomRightWithZerosAndMasks) {
  std::vector<DetectionSample> samples;
  samples.push_back(FloatSample(0, 5, 3));
  samples.push_back(FloatSample(1, 2, 4));
  auto batch = Collate(std::move(samples));
  ASSERT_THAT(batch, IsOk());
  ASSERT_EQ(batch->images.sizes(), (std::vector<int64_t>{2, 3, 4, 5}));
  ASSERT_EQ(batch->pixel_mask.sizes(), (std::vector<int64_t>{2, 4, 5}));
  EXPECT_EQ(batch->images.scalar_type(), at::kFloat);
  EXPECT_EQ(batch->pixel_mask.scalar_type(), at::kBool);
  EXPECT_TRUE(batch->images.is_contiguous());
  const auto images = batch->images.accessor<float, 4>();
  const auto mask = batch->pixel_mask.accessor<bool, 3>();
  const int widths[2] = {5, 2};
  const int heights[2] = {3, 4};
  for (int b = 0; b < 2; ++b) {
    for (int y = 0; y < 4; ++y) {
      for (int x = 0; x < 5; ++x) {
        const bool inside = y < heights[b] && x < widths[b];
        EXPECT_EQ(mask[b][y][x], inside) << b << " " << y << " " << x;
        for (int c = 0; c < 3; ++c) {
          EXPECT_EQ(images[b][c][y][x],
                    inside ? 1 + 1000 * b + 100 * c + 10 * y + x : 0.0f);
        }
      }
    }
  }
  ASSERT_EQ(batch->size(), 2);
  EXPECT_EQ(batch->targets[0].image_id, 10);
  EXPECT_EQ(batch->targets[1].image_id, 11);
  EXPECT_EQ(batch->targets[1].labels, std::vector<int64_t>{1});
}

TEST(CollateTest, RoundsUpToSizeDivisor) {
  std::vector<DetectionSample> samples;
  samples.push_back(FloatSample(0, 33, 20));
  auto batch = Collate(std::move(samples), 32);
  ASSERT_THAT(batch, IsOk());
  EXPECT_EQ(batch->images.sizes(), (std::vector<int64_t>{1, 3, 32, 64}));
  EXPECT_EQ(batch->pixel_mask.sum().item<int64_t>(), 33 * 20);
  samples.clear();
  samples.push_back(FloatSample(0, 32, 32));
  batch = Collate(std::move(samples), 32);
  ASSERT_THAT(batch, IsOk());
  EXPECT_EQ(batch->images.sizes(), (std::vector<int64_t>{1, 3, 32, 32}));
}

TEST(CollateTest, RejectsBadInput) {
  EXPECT_THAT(Collate({}), StatusIs(absl::StatusCode::kInvalidArgument));
  std::vector<DetectionSample> samples;
  samples.push_back(FloatSample(0, 2, 2));
  EXPECT_THAT(Collate(samples, 0),
              StatusIs(absl::StatusCode::kInvalidArgument));
  samples[0].image = cv::Mat(2, 2, CV_8UC3, cv::Scalar::all(0));
  EXPECT_THAT(Collate(samples), StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("Normalize")));
}

}  // namespace
}  // namespace cvt
