#include "libs/eval/eval_plots.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/status_matchers.h"
#include "libs/base/testdata.h"
#include "opencv2/imgcodecs.hpp"

namespace cvt {
namespace {

TEST(EvalPlotsTest, WritesDecodablePngsWithCurves) {
  CocoDataset gt;
  gt.images = {{1, "a.jpg", 100, 100}, {2, "b.jpg", 100, 100}};
  gt.categories = {{1, "cat", ""}, {3, "dog", ""}};
  for (int i = 0; i < 4; ++i) {
    CocoAnnotation a;
    a.id = i + 1;
    a.image_id = 1 + i % 2;
    a.category_id = i < 2 ? 1 : 3;
    a.bbox = {10.0 * i, 10, 20, 20};
    a.area = 400;
    a.iscrowd = 0;
    gt.annotations.push_back(a);
  }
  std::vector<CocoDetection> dets = {{1, 1, {0, 10, 20, 20}, 0.9},
                                     {2, 1, {12, 10, 20, 20}, 0.8},
                                     {2, 3, {70, 70, 20, 20}, 0.7}};
  absl::StatusOr<CocoEvalResult> result = EvaluateCocoBbox(gt, dets);
  ASSERT_THAT(result, IsOk());
  absl::StatusOr<CategoryMap> map = CategoryMap::FromCategories(gt.categories);
  ASSERT_THAT(map, IsOk());
  const ConfusionMatrix cm = ComputeConfusionMatrix(gt, dets, *map);
  const std::string dir = TestTempPath("plots");
  absl::StatusOr<std::vector<std::string>> paths =
      WriteEvalPlots(*result, cm, *map, dir);
  ASSERT_THAT(paths, IsOk());
  ASSERT_EQ(paths->size(), 3u);
  for (const std::string& path : *paths) {
    const cv::Mat img = cv::imread(path, cv::IMREAD_COLOR);
    ASSERT_FALSE(img.empty()) << path;
    EXPECT_GT(img.cols, 100);
    // Not blank: some pixels are neither white nor grid grey.
    int colored = 0;
    for (int y = 0; y < img.rows; ++y) {
      for (int x = 0; x < img.cols; ++x) {
        const cv::Vec3b p = img.at<cv::Vec3b>(y, x);
        if (p[0] != p[1] || p[1] != p[2]) ++colored;
      }
    }
    EXPECT_GT(colored, 50) << path;
  }
  EXPECT_THAT(WriteEvalPlots(*result, cm, *map, TestTempPath("missing/deeper")),
              StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace cvt
