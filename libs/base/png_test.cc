#include "libs/base/png.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/status_matchers.h"
#include "opencv2/core.hpp"
#include "opencv2/imgcodecs.hpp"

namespace cvt {
namespace {

TEST(PngTest, OpenCvDecodesTheExactPixels) {
  const int w = 37, h = 11;
  std::vector<uint8_t> rgb(w * h * 3);
  for (size_t i = 0; i < rgb.size(); ++i)
    rgb[i] = static_cast<uint8_t>(i * 7 % 251);
  absl::StatusOr<std::string> png = EncodePngRgb(w, h, rgb);
  ASSERT_THAT(png, IsOk());
  std::vector<uint8_t> bytes(png->begin(), png->end());
  const cv::Mat img = cv::imdecode(bytes, cv::IMREAD_UNCHANGED);
  ASSERT_EQ(img.cols, w);
  ASSERT_EQ(img.rows, h);
  ASSERT_EQ(img.channels(), 3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const cv::Vec3b bgr = img.at<cv::Vec3b>(y, x);
      const uint8_t* want = &rgb[(y * w + x) * 3];
      ASSERT_EQ(bgr[2], want[0]);
      ASSERT_EQ(bgr[1], want[1]);
      ASSERT_EQ(bgr[0], want[2]);
    }
  }
}

TEST(PngTest, RejectsMismatchedSizes) {
  EXPECT_THAT(EncodePngRgb(2, 2, std::vector<uint8_t>(11)),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace cvt
