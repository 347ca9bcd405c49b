#include "libs/eval/confusion_matrix.h"

#include "gtest/gtest.h"
#include "libs/coco/category_map.h"

namespace cvt {
namespace {

TEST(ConfusionMatrixTest, CountsMatchesConfusionsMissesAndBackground) {
  CocoDataset gt;
  gt.images = {{1, "a.jpg", 100, 100}};
  gt.categories = {{1, "cat", ""}, {2, "dog", ""}};
  auto ann = [](int64_t id, int64_t cat, std::array<double, 4> box,
                int crowd = 0) {
    CocoAnnotation a;
    a.id = id;
    a.image_id = 1;
    a.category_id = cat;
    a.bbox = box;
    a.area = box[2] * box[3];
    a.iscrowd = crowd;
    return a;
  };
  gt.annotations = {ann(1, 1, {0, 0, 10, 10}), ann(2, 2, {50, 50, 10, 10}),
                    ann(3, 1, {80, 0, 10, 10}),
                    ann(4, 2, {0, 80, 20, 20}, /*crowd=*/1)};
  std::vector<CocoDetection> dets = {
      {1, 1, {0, 0, 10, 10}, 0.9},    // cat -> cat
      {1, 1, {50, 50, 10, 10}, 0.8},  // dog detected as cat
      {1, 2, {30, 30, 5, 5}, 0.7},    // background detected as dog
      {1, 2, {0, 80, 20, 20}, 0.6},   // on the crowd region: background
      {1, 1, {80, 0, 10, 10}, 0.1},   // below the score threshold: GT 3 missed
  };
  absl::StatusOr<CategoryMap> map = CategoryMap::FromCategories(gt.categories);
  ASSERT_TRUE(map.ok());
  const ConfusionMatrix cm = ComputeConfusionMatrix(gt, dets, *map, 0.5, 0.25);
  ASSERT_EQ(cm.num_classes, 2);
  EXPECT_EQ(cm.At(0, 0), 1);  // cat as cat
  EXPECT_EQ(cm.At(1, 0), 1);  // dog as cat
  EXPECT_EQ(cm.At(2, 1), 2);  // background as dog
  EXPECT_EQ(cm.At(0, 2), 1);  // cat missed
  EXPECT_EQ(cm.At(1, 1), 0);
  int64_t total = 0;
  for (int64_t c : cm.counts) total += c;
  EXPECT_EQ(total, 5);
}

}  // namespace
}  // namespace cvt
