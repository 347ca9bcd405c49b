#include "libs/data/detection_dataset.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/status_matchers.h"
#include "libs/base/testdata.h"
#include "libs/coco/category_map.h"
#include "libs/coco/coco.h"
#include "libs/data/dataset_for_test.h"
#include "libs/data/test_images.h"
#include "opencv2/core.hpp"

namespace cvt {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string Prepared(const std::string& name, const CocoDataset& coco) {
  const std::string dir = TestTempPath(name);
  WritePreparedDatasetForTest(dir, "train", coco);
  return dir;
}

TEST(DetectionDatasetTest, OpensPreparedFolderSortedByImageId) {
  const CocoDataset coco = MakeCocoForTest(6);
  const std::string dir = Prepared("sorted", coco);
  auto dataset = DetectionDataset::OpenPrepared(dir, "train");
  ASSERT_THAT(dataset, IsOk());
  EXPECT_EQ(dataset->size(), 6);
  EXPECT_THAT(dataset->image_ids(), ElementsAre(965, 972, 979, 986, 993, 1000));
  EXPECT_EQ(dataset->image_path(0), dir + "/images/img_5.jpg");
  EXPECT_EQ(dataset->category_map().size(), 3);
  EXPECT_EQ(dataset->ground_truth().annotations.size(),
            coco.annotations.size());
}

TEST(DetectionDatasetTest, LoadConvertsBoxesAndLabels) {
  const CocoDataset coco = MakeCocoForTest(6);
  auto dataset =
      DetectionDataset::OpenPrepared(Prepared("load", coco), "train");
  ASSERT_THAT(dataset, IsOk());
  // Index 3 is image id 986 = file image 2: 3 boxes, box 1 a crowd region.
  auto sample = dataset->Load(3);
  ASSERT_THAT(sample, IsOk());
  EXPECT_EQ(sample->image.type(), CV_8UC3);
  EXPECT_EQ(sample->image.cols, 96);
  EXPECT_EQ(sample->image.rows, 64);
  const DetectionTarget& t = sample->target;
  EXPECT_EQ(t.image_id, 986);
  EXPECT_EQ(t.dataset_index, 3);
  EXPECT_EQ(t.geometry.original_width, 96);
  EXPECT_EQ(t.geometry.original_height, 64);
  EXPECT_EQ(t.geometry.input_width, 96);
  EXPECT_EQ(t.geometry.input_height, 64);
  EXPECT_EQ(t.geometry.scale_x, 1);
  EXPECT_EQ(t.geometry.offset_x, 0);
  ASSERT_EQ(t.size(), 3);
  EXPECT_THAT(t.boxes[0], ElementsAre(4, 4, 20, 16));
  EXPECT_THAT(t.boxes[1], ElementsAre(14, 10, 34, 24));
  EXPECT_THAT(t.boxes[2], ElementsAre(24, 16, 48, 32));
  // Categories {1, 3, 7}[(2 + j) % 3] = 7, 1, 3 -> indices 2, 0, 1.
  EXPECT_THAT(t.labels, ElementsAre(2, 0, 1));
  EXPECT_THAT(t.iscrowd, ElementsAre(0, 1, 0));
  EXPECT_THAT(t.annotation_ids, ElementsAre(4, 5, 6));
  // The drawn rectangle is where the box says.
  const cv::Vec3b inside = sample->image.at<cv::Vec3b>(10, 10);
  const cv::Vec3b outside = sample->image.at<cv::Vec3b>(60, 90);
  EXPECT_GT(cv::norm(cv::Vec3d(inside) - cv::Vec3d(outside)), 60);
}

TEST(DetectionDatasetTest, CrowdDroppedOnRequestButKeptInGroundTruth) {
  const CocoDataset coco = MakeCocoForTest(6);
  DetectionDatasetOptions options;
  options.keep_crowd_as_ignore = false;
  auto dataset = DetectionDataset::OpenPrepared(Prepared("nocrowd", coco),
                                                "train", options);
  ASSERT_THAT(dataset, IsOk());
  auto sample = dataset->Load(3);
  ASSERT_THAT(sample, IsOk());
  EXPECT_THAT(sample->target.annotation_ids, ElementsAre(4, 6));
  EXPECT_THAT(sample->target.iscrowd, ElementsAre(0, 0));
  EXPECT_EQ(dataset->ground_truth().annotations.size(),
            coco.annotations.size());
}

TEST(DetectionDatasetTest, ImagesWithoutAnnotationsFlowThrough) {
  auto dataset = DetectionDataset::OpenPrepared(
      Prepared("empty", MakeCocoForTest(6)), "train");
  ASSERT_THAT(dataset, IsOk());
  // Image id 979 = file image 3, which has no annotations.
  auto sample = dataset->Load(2);
  ASSERT_THAT(sample, IsOk());
  EXPECT_EQ(sample->target.image_id, 979);
  EXPECT_THAT(sample->target.boxes, IsEmpty());
  EXPECT_THAT(sample->target.labels, IsEmpty());
}

TEST(DetectionDatasetTest, ClipsBoxesAndDropsDegenerateOnes) {
  CocoDataset coco = MakeCocoForTest(1);  // Image id 1000, 64x48, one box.
  coco.annotations[0].bbox = {-10, 40, 30, 20};  // Sticks out left and below.
  CocoAnnotation flat = coco.annotations[0];
  flat.id = 2;
  flat.bbox = {5, 5, 0, 10};
  CocoAnnotation outside = coco.annotations[0];
  outside.id = 3;
  outside.bbox = {70, 5, 5, 5};
  coco.annotations.push_back(flat);
  coco.annotations.push_back(outside);
  auto dataset =
      DetectionDataset::OpenPrepared(Prepared("clip", coco), "train");
  ASSERT_THAT(dataset, IsOk());
  auto sample = dataset->Load(0);
  ASSERT_THAT(sample, IsOk());
  ASSERT_EQ(sample->target.size(), 1);
  EXPECT_THAT(sample->target.boxes[0], ElementsAre(0, 40, 20, 48));
  EXPECT_THAT(sample->target.annotation_ids, ElementsAre(1));
}

TEST(DetectionDatasetTest, UnknownCategoryNamesFileAndAnnotation) {
  CocoDataset coco = MakeCocoForTest(3);
  coco.annotations[1].category_id = 99;
  const std::string dir = TestTempPath("unknown_category");
  WritePreparedDatasetForTest(dir, "train", MakeCocoForTest(3));
  WriteFileForTest(dir + "/annotations/bad.json", CocoDatasetToJson(coco));
  EXPECT_THAT(DetectionDataset::OpenPrepared(dir, "bad"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(HasSubstr("bad.json"),
                                        HasSubstr("annotation id 2"),
                                        HasSubstr("category_id 99"))));
}

TEST(DetectionDatasetTest, AnnotationOfUnknownImageAndDuplicateImageFail) {
  CocoDataset coco = MakeCocoForTest(2);
  coco.annotations[0].image_id = 5;
  EXPECT_THAT(
      DetectionDataset::FromCoco(coco, "a.json", "/images", CategoryMap()),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("image id 5")));
  coco = MakeCocoForTest(2);
  coco.images[1].id = coco.images[0].id;
  auto categories = CategoryMap::FromCategories(coco.categories);
  ASSERT_THAT(categories, IsOk());
  EXPECT_THAT(
      DetectionDataset::FromCoco(coco, "a.json", "/images", *categories),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("more than once")));
}

TEST(DetectionDatasetTest, MissingSplitIsNotFound) {
  const std::string dir = Prepared("missing_split", MakeCocoForTest(2));
  EXPECT_THAT(DetectionDataset::OpenPrepared(dir, "val"),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(DetectionDatasetTest, SizeMismatchNamesTheFile) {
  CocoDataset coco = MakeCocoForTest(2);
  const std::string dir = Prepared("mismatch", coco);
  coco.images[0].width += 1;  // Image id 1000 = index 1.
  WriteFileForTest(dir + "/annotations/wrong.json", CocoDatasetToJson(coco));
  auto dataset = DetectionDataset::OpenPrepared(dir, "wrong");
  ASSERT_THAT(dataset, IsOk());
  EXPECT_THAT(dataset->Load(0), IsOk());
  EXPECT_THAT(
      dataset->Load(1),
      StatusIs(absl::StatusCode::kInvalidArgument,
               ::testing::AllOf(HasSubstr("img_0.jpg"), HasSubstr("64x48"),
                                HasSubstr("65x48"))));
}

TEST(DetectionDatasetTest, UndecodableImageNamesTheFile) {
  const std::string dir = Prepared("undecodable", MakeCocoForTest(2));
  WriteFileForTest(dir + "/images/img_1.jpg", "not an image at all");
  auto dataset = DetectionDataset::OpenPrepared(dir, "train");
  ASSERT_THAT(dataset, IsOk());
  EXPECT_THAT(dataset->Load(0), StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("img_1.jpg")));
  EXPECT_THAT(dataset->Load(2), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(dataset->Load(-1), StatusIs(absl::StatusCode::kOutOfRange));
}

TEST(DetectionDatasetTest, PixelLimitApplies) {
  DetectionDatasetOptions options;
  options.max_image_pixels = 100;
  auto dataset = DetectionDataset::OpenPrepared(
      Prepared("bomb", MakeCocoForTest(1)), "train", options);
  ASSERT_THAT(dataset, IsOk());
  EXPECT_THAT(dataset->Load(0), StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("img_0.jpg")));
}

TEST(DetectionDatasetTest, RawCocoWithOwnOrGivenCategories) {
  const std::string dir = Prepared("raw", MakeCocoForTest(4));
  const std::string json = dir + "/annotations/train.json";
  auto own = DetectionDataset::OpenCoco(dir + "/images", json);
  ASSERT_THAT(own, IsOk());
  EXPECT_EQ(own->size(), 4);
  EXPECT_EQ(own->category_map().IdAt(2), 7);

  // A map with an extra category shifts nothing that is present...
  auto given = CategoryMap::FromCategories(
      {{1, "cat", ""}, {2, "cow", ""}, {3, "dog", ""}, {7, "bird", ""}});
  ASSERT_THAT(given, IsOk());
  auto with_map = DetectionDataset::OpenCoco(dir + "/images", json, *given);
  ASSERT_THAT(with_map, IsOk());
  auto sample = with_map->Load(3);  // Image id 1000: one box, category 1.
  ASSERT_THAT(sample, IsOk());
  EXPECT_THAT(sample->target.labels, ElementsAre(0));
  sample = with_map->Load(2);  // Image id 993: categories 3, 7.
  ASSERT_THAT(sample, IsOk());
  EXPECT_THAT(sample->target.labels, ElementsAre(2, 3));

  // ...and a map lacking a used category is an error.
  auto small = CategoryMap::FromCategories({{1, "cat", ""}});
  ASSERT_THAT(small, IsOk());
  EXPECT_THAT(
      DetectionDataset::OpenCoco(dir + "/images", json, *small),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("train.json")));
}

}  // namespace
}  // namespace cvt
