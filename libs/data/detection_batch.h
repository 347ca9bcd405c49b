// -----------------------------------------------------------------------------
// File: detection_batch.h
// -----------------------------------------------------------------------------
//
// A collated batch: the images padded bottom/right to the largest input in
// the batch (rounded up to `size_divisor` by the collator), the pixel mask,
// and the canonical targets (detection_sample.h) in the input frame.

#ifndef LIBS_DATA_DETECTION_BATCH_H_
#define LIBS_DATA_DETECTION_BATCH_H_

#include <vector>

#include "ATen/core/Tensor.h"
#include "libs/data/detection_sample.h"

namespace cvt {

struct DetectionBatch {
  // [B, 3, H, W] float32, normalised RGB; padding is 0.
  at::Tensor images;
  // [B, H, W] bool: true on image pixels, false on padding.
  at::Tensor pixel_mask;
  std::vector<DetectionTarget> targets;

  int64_t size() const { return static_cast<int64_t>(targets.size()); }
};

}  // namespace cvt

#endif  // LIBS_DATA_DETECTION_BATCH_H_
