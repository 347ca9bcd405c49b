// -----------------------------------------------------------------------------
// File: collate.h
// -----------------------------------------------------------------------------
//
// Turns transformed samples into one `DetectionBatch` (detection_batch.h):
// images of different sizes are padded bottom/right to a common size, with a
// pixel mask that tells the model which pixels are real (DETR / HF
// `do_pad` + `pixel_mask`).
//
// Example:
//
//   CVT_ASSIGN_OR_RETURN(DetectionBatch batch,
//                        Collate(std::move(samples), /*size_divisor=*/32));
//   // batch.images: [B, 3, H, W]; batch.pixel_mask: [B, H, W].
//
// Thread safety: thread-safe.

#ifndef LIBS_DATA_COLLATE_H_
#define LIBS_DATA_COLLATE_H_

#include <vector>

#include "absl/status/statusor.h"
#include "libs/data/detection_batch.h"
#include "libs/data/detection_sample.h"

namespace cvt {

// Collates normalised samples (CV_32FC3 RGB images, as `Normalize` leaves
// them) in order:
//   - H and W are the largest image height and width in the batch, each
//     rounded up to a multiple of `size_divisor` (1 = no rounding);
//   - `images` [B, 3, H, W] float32 (CHW, contiguous, CPU) holds image b in
//     its top-left corner and 0 elsewhere (padding after normalisation, as
//     DETR);
//   - `pixel_mask` [B, H, W] bool is true exactly on the image's pixels;
//   - `targets` are the samples' targets, moved, unchanged (boxes stay in
//     the unpadded input frame).
// InvalidArgument for no samples, size_divisor < 1, or an image that is not
// a non-empty CV_32FC3; ResourceExhausted if the tensors cannot be
// allocated.
absl::StatusOr<DetectionBatch> Collate(std::vector<DetectionSample> samples,
                                       int size_divisor = 1);

}  // namespace cvt

#endif  // LIBS_DATA_COLLATE_H_
