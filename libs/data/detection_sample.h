// -----------------------------------------------------------------------------
// File: detection_sample.h
// -----------------------------------------------------------------------------
//
// The canonical form of one training/evaluation example, shared by the data
// pipeline (libs/data), the output adapters (libs/adapters) and the trainer.
// No LibTorch here; the batched tensors are in detection_batch.h.
//
// Frames: the *original* frame is the image as the annotation file describes
// it (coco_prep output, or raw COCO). The *input* frame is the unpadded image
// the model sees after every transform. The two are related per axis by an
// affine map (flips give a negative scale, crops an offset, letterboxing a
// pad offset):
//
//   x_input = scale_x * x_original + offset_x
//   y_input = scale_y * y_original + offset_y
//
// Boxes are xyxy in pixels of the current frame (continuous coordinates: a
// box covering pixel column 0 only is [0, 1)), as doubles.
//
// Labels are contiguous indices 0..K-1 of the frozen CategoryMap; crowd
// annotations travel with `iscrowd = 1`: they are ignore regions for
// evaluation and are excluded from every loss.

#ifndef LIBS_DATA_DETECTION_SAMPLE_H_
#define LIBS_DATA_DETECTION_SAMPLE_H_

#include <array>
#include <cstdint>
#include <vector>

#include "opencv2/core.hpp"

namespace cvt {

using BoxXyxy = std::array<double, 4>;

struct ImageGeometry {
  // Size of the image in the original frame, in pixels.
  int64_t original_width = 0;
  int64_t original_height = 0;
  // Size of the unpadded model input, in pixels.
  int64_t input_width = 0;
  int64_t input_height = 0;
  // original -> input, per axis (see the file comment).
  double scale_x = 1, scale_y = 1;
  double offset_x = 0, offset_y = 0;

  // Maps a box between frames; a negative scale swaps x1/x2 (y1/y2) so the
  // result is again x1 <= x2, y1 <= y2.
  BoxXyxy ToInput(const BoxXyxy& original) const;
  BoxXyxy ToOriginal(const BoxXyxy& input) const;
};

struct DetectionTarget {
  int64_t image_id = 0;
  // Position of the image in its dataset (the loader's sample index).
  int64_t dataset_index = 0;
  ImageGeometry geometry;
  // In the input frame; boxes[i], labels[i], iscrowd[i] describe one object.
  std::vector<BoxXyxy> boxes;
  std::vector<int64_t> labels;
  std::vector<uint8_t> iscrowd;
  // COCO annotation ids (0 when unknown), parallel to boxes.
  std::vector<int64_t> annotation_ids;

  int64_t size() const { return static_cast<int64_t>(boxes.size()); }
};

// One example on its way through the transforms.
struct DetectionSample {
  // Before normalisation: CV_8UC3 BGR in the current frame. After
  // normalisation (the last transform): CV_32FC3 RGB, (v / 255 - mean) / std.
  cv::Mat image;
  DetectionTarget target;
};

}  // namespace cvt

#endif  // LIBS_DATA_DETECTION_SAMPLE_H_
