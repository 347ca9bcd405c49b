// -----------------------------------------------------------------------------
// File: synthetic_coco.h
// -----------------------------------------------------------------------------
//
// A deterministic generator of a real COCO detection data set: JPEG images
// of coloured shapes on textured backgrounds, with exact boxes. It feeds the
// overfit tests, the benchmarks and the pipeline's bundled default data.
//
// Classes (up to 4, in this order; ids 1..K, names as given):
//   0 "square"   a filled axis-aligned rectangle, warm colours
//   1 "disc"     a filled ellipse, green hues
//   2 "triangle" a filled upward triangle, blue hues
//   3 "ring"     an elliptical ring (thick outline), magenta hues
// Each shape's box is the tight bounding box of its drawn pixels, in COCO
// [x, y, w, h] of continuous pixel coordinates (a shape covering columns
// x0..x1 inclusive has x = x0, w = x1 - x0 + 1). Objects do not overlap
// (placements that would touch an earlier box grown by 2 px are redrawn),
// are at least `min_object_size` px on each side, and lie inside the image.
// The background is a smooth colour gradient plus uniform noise; the
// colours of shapes are kept apart from it so the task is learnable.
//
// Everything is a function of `seed` (std::mt19937_64 streams per image), so
// the same options give byte-identical files.
//
// Layouts:
//   - raw: OUT/images/<id>.jpg and OUT/annotations.json (a coco_prep input);
//   - prepared (`prepared_layout`): OUT/images/<id>.jpg,
//     OUT/annotations/<split>.json and OUT/categories.json, i.e. what
//     coco_prep writes, with every image in split `split`.
//
// Example:
//
//   SyntheticCocoOptions options;
//   options.num_images = 8;
//   CVT_RETURN_IF_ERROR(WriteSyntheticCoco(options, "/tmp/shapes"));

#ifndef LIBS_DATA_SYNTHETIC_COCO_H_
#define LIBS_DATA_SYNTHETIC_COCO_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "libs/coco/coco.h"

namespace cvt {

struct SyntheticCocoOptions {
  // Default: 8.
  int num_images = 8;
  // Image sizes are drawn uniformly from [min_size, max_size] per side.
  // Default: 128..128.
  int min_size = 128;
  int max_size = 128;
  // Classes, 1..4. Default: 3.
  int num_classes = 3;
  // Objects per image, uniform in [min_objects, max_objects]. Default: 1..3.
  int min_objects = 1;
  int max_objects = 3;
  // Object side range as a fraction of the shorter image side.
  // Default: 0.18..0.45.
  double min_object_fraction = 0.18;
  double max_object_fraction = 0.45;
  int min_object_size = 8;
  // JPEG quality. Default: 92.
  int jpeg_quality = 92;
  // Default: 1.
  uint64_t seed = 1;
  // Write the coco_prep output layout instead of the raw one. Default: false.
  bool prepared_layout = false;
  // Split name for the prepared layout. Default: "train".
  std::string split = "train";
  // First image id. Default: 1.
  int64_t first_image_id = 1;
};

// The data set `WriteSyntheticCoco` writes, with its images encoded.
struct SyntheticCoco {
  CocoDataset dataset;
  // Parallel to dataset.images: the JPEG bytes.
  std::vector<std::string> jpegs;
};

// InvalidArgument for bad options (sizes, counts, classes outside 1..4).
absl::StatusOr<SyntheticCoco> MakeSyntheticCoco(
    const SyntheticCocoOptions& options);

// Writes the data set under `out_dir` (created; existing files with the same
// names are replaced atomically).
absl::Status WriteSyntheticCoco(const SyntheticCocoOptions& options,
                                const std::string& out_dir);

}  // namespace cvt

#endif  // LIBS_DATA_SYNTHETIC_COCO_H_
