#include "libs/data/dataset_for_test.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "libs/coco/category_map.h"
#include "libs/data/test_images.h"
#include "opencv2/imgproc.hpp"

namespace cvt {

CocoDataset MakeCocoForTest(int num_images) {
  CocoDataset coco;
  coco.categories = {
      {1, "cat", "animal"}, {3, "dog", "animal"}, {7, "bird", "animal"}};
  const int64_t category_ids[3] = {1, 3, 7};
  int64_t annotation_id = 1;
  for (int i = 0; i < num_images; ++i) {
    CocoImage image;
    image.id = 1000 - 7 * i;
    image.file_name = absl::StrCat("img_", i, ".jpg");
    image.width = 64 + 16 * (i % 4);
    image.height = 48 + 8 * (i % 3);
    coco.images.push_back(image);
    if (i % 4 == 3) continue;
    for (int j = 0; j < 1 + i % 3; ++j) {
      CocoAnnotation annotation;
      annotation.id = annotation_id++;
      annotation.image_id = image.id;
      annotation.category_id = category_ids[(i + j) % 3];
      annotation.bbox = {4.0 + 10 * j, 4.0 + 6 * j, 16.0 + 4 * j, 12.0 + 2 * j};
      annotation.area = annotation.bbox[2] * annotation.bbox[3];
      annotation.iscrowd = (i == 2 && j == 1) ? 1 : 0;
      coco.annotations.push_back(annotation);
    }
  }
  return coco;
}

cv::Mat DrawImageForTest(const CocoDataset& coco, const CocoImage& image) {
  const int level = 30 + static_cast<int>(image.id % 50);
  cv::Mat picture(static_cast<int>(image.height), static_cast<int>(image.width),
                  CV_8UC3, cv::Scalar::all(level));
  for (const CocoAnnotation& annotation : coco.annotations) {
    if (annotation.image_id != image.id) continue;
    const int c = static_cast<int>(annotation.category_id);
    const cv::Scalar colour((c * 70) % 256, 255 - (c * 30) % 200,
                            (c * 110) % 256);
    const auto& b = annotation.bbox;
    cv::rectangle(picture,
                  cv::Rect(static_cast<int>(b[0]), static_cast<int>(b[1]),
                           static_cast<int>(b[2]), static_cast<int>(b[3])),
                  colour, cv::FILLED);
  }
  return picture;
}

void WritePreparedDatasetForTest(const std::string& dir,
                                 const std::string& split,
                                 const CocoDataset& coco) {
  std::filesystem::create_directories(dir + "/images");
  std::filesystem::create_directories(dir + "/annotations");
  for (const CocoImage& image : coco.images) {
    WriteFileForTest(dir + "/images/" + image.file_name,
                     EncodeJpegForTest(DrawImageForTest(coco, image)));
  }
  WriteFileForTest(dir + "/annotations/" + split + ".json",
                   CocoDatasetToJson(coco));
  auto categories = CategoryMap::FromCategories(coco.categories);
  CHECK(categories.ok()) << categories.status();
  WriteFileForTest(dir + "/categories.json", categories->ToJson());
}

}  // namespace cvt
