// -----------------------------------------------------------------------------
// File: dataset_for_test.h
// -----------------------------------------------------------------------------
//
// Generated coco_prep-like folders for tests (testonly): real JPEG files
// written with OpenCV, the split's COCO JSON and categories.json.
//
// Example:
//
//   const std::string dir = TestTempPath("prepared");
//   const CocoDataset coco = MakeCocoForTest(12);
//   WritePreparedDatasetForTest(dir, "train", coco);
//   auto dataset = DetectionDataset::OpenPrepared(dir, "train");

#ifndef LIBS_DATA_DATASET_FOR_TEST_H_
#define LIBS_DATA_DATASET_FOR_TEST_H_

#include <string>

#include "libs/coco/coco.h"
#include "opencv2/core.hpp"

namespace cvt {

// A small data set with `num_images` images, in this file order:
//   - image i: id 1000 - 7 * i (so the file order is descending by id),
//     file "img_<i>.jpg", width 64 + 16 * (i % 4), height 48 + 8 * (i % 3);
//   - images with i % 4 == 3 have no annotation; the others have
//     1 + i % 3 boxes, box j at [4 + 10 j, 4 + 6 j, 16 + 4 j, 12 + 2 j] (xywh)
//     with category {1, 3, 7}[(i + j) % 3]; box 1 of image 2 is a crowd
//     region; annotation ids count from 1 in file order;
//   - categories 1 "cat", 3 "dog", 7 "bird" (non-contiguous ids).
CocoDataset MakeCocoForTest(int num_images);

// The picture `WritePreparedDatasetForTest` encodes for `image`: a grey
// background whose level depends on the image id, each annotation of the
// image drawn as a filled rectangle (colour from its category).
cv::Mat DrawImageForTest(const CocoDataset& coco, const CocoImage& image);

// Writes DIR/images/<file_name> (JPEG, quality 100, of `DrawImageForTest`),
// DIR/annotations/<split>.json (`coco`) and DIR/categories.json (from
// `coco.categories`). CHECK-fails on error.
void WritePreparedDatasetForTest(const std::string& dir,
                                 const std::string& split,
                                 const CocoDataset& coco);

}  // namespace cvt

#endif  // LIBS_DATA_DATASET_FOR_TEST_H_
