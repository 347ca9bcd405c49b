#include "tools/coco_prep/plots.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "libs/base/status_matchers.h"
#include "libs/data/image_io.h"
#include "opencv2/core.hpp"

namespace cvt {
namespace {

cv::Mat Decode(const std::string& png) {
  auto image = DecodeImage(png, "plot.png");
  EXPECT_THAT(image, IsOk());
  return image.ok() ? image->bgr : cv::Mat();
}

TEST(PlotsTest, ClassHistogramHasOneRowPerClassAndIsDeterministic) {
  auto a = ClassHistogramPng("train", {"cat", "dog", "bird"}, {10, 0, 3});
  auto b = ClassHistogramPng("train", {"cat", "dog", "bird"}, {10, 0, 3});
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(*a, *b);
  const cv::Mat image = Decode(*a);
  EXPECT_EQ(image.rows, 40 + 3 * 18 + 20);
  // The longest bar (cat) spans the full bar width in the first palette
  // colour; the empty class (dog) draws no bar.
  EXPECT_EQ(image.at<cv::Vec3b>(40 + 9, 200 + 250), cv::Vec3b(180, 119, 31));
  EXPECT_EQ(image.at<cv::Vec3b>(40 + 18 + 9, 200 + 250),
            cv::Vec3b(255, 255, 255));
  auto other = ClassHistogramPng("train", {"cat", "dog", "bird"}, {10, 5, 3});
  ASSERT_THAT(other, IsOk());
  EXPECT_NE(*a, *other);
}

TEST(PlotsTest, BoxSizeHistogramCountsBins) {
  auto png = BoxSizeHistogramPng({"train", "val"}, {{4, 4, 40}, {500}});
  ASSERT_THAT(png, IsOk());
  const cv::Mat image = Decode(*png);
  EXPECT_EQ(image.cols, 60 + 12 * 60 + 20);
  // Bin 0 of train holds the maximum (2): its bar reaches the top.
  EXPECT_EQ(image.at<cv::Vec3b>(51, 60 + 6), cv::Vec3b(180, 119, 31));
}

TEST(PlotsTest, ContactSheetDrawsBoxes) {
  SheetTile tile;
  tile.image = cv::Mat(100, 200, CV_8UC3, cv::Scalar(0, 0, 0));
  tile.caption = "a.jpg";
  tile.boxes.push_back({{50, 20, 100, 60}, 2, "person"});
  auto png = ContactSheetPng({tile, tile}, 2, 100);
  ASSERT_THAT(png, IsOk());
  const cv::Mat image = Decode(*png);
  EXPECT_EQ(image.cols, 200);
  EXPECT_EQ(image.rows, 124);
  // Scale 0.5: the box's left edge is at x = 25, from y = 10 to 40.
  EXPECT_EQ(image.at<cv::Vec3b>(30, 25), cv::Vec3b(44, 160, 44));
  EXPECT_EQ(image.at<cv::Vec3b>(30, 60), cv::Vec3b(0, 0, 0));
}

}  // namespace
}  // namespace cvt
