// -----------------------------------------------------------------------------
// File: test_batches.h
// -----------------------------------------------------------------------------
//
// Test helpers (testonly): a generated shapes data set (synthetic_coco.h)
// loaded as one full batch of square, ImageNet-normalised images with their
// canonical targets, for the adapter and model tests.

#ifndef LIBS_ADAPTERS_TEST_BATCHES_H_
#define LIBS_ADAPTERS_TEST_BATCHES_H_

#include <string>
#include <vector>

#include "ATen/core/Tensor.h"
#include "libs/config/augmentation_config.pb.h"
#include "libs/data/detection_dataset.h"
#include "libs/data/detection_sample.h"

namespace cvt {

struct FullBatch {
  at::Tensor images;                     // [B, 3, side, side]
  at::Tensor mask;                       // [B, side, side], all true
  std::vector<DetectionTarget> targets;  // input frame, geometry set
};

// Resizes every image of `data` to side x side (bilinear; aspect ratio is not
// kept, the geometry records both scales). CHECK-fails on errors.
FullBatch LoadFullBatch(const DetectionDataset& data, int side);

// The whole data set as one batch through the real loader (2 workers) with
// the evaluation transforms of `augmentation` (resize or letterbox, then
// normalisation), padded to `size_divisor`. CHECK-fails on errors.
FullBatch LoadThroughLoader(const DetectionDataset& data,
                            const AugmentationConfig& augmentation,
                            int size_divisor);

// Writes a prepared-layout shapes data set of `num_images` square images of
// `size` px with 1..2 objects of 3 classes under TEST_TMPDIR and opens it.
DetectionDataset MakeShapesDataset(const std::string& name, int num_images,
                                   int size, uint64_t seed);
// The same with sides drawn from [min_size, max_size].
DetectionDataset MakeShapesDataset(const std::string& name, int num_images,
                                   int min_size, int max_size, uint64_t seed);

}  // namespace cvt

#endif  // LIBS_ADAPTERS_TEST_BATCHES_H_
