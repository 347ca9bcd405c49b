// -----------------------------------------------------------------------------
// File: plots.h
// -----------------------------------------------------------------------------
//
// The PNG plots in coco_prep's output folder, drawn with OpenCV so that a
// person can eyeball a prepared data set: a class histogram per split, a
// box-size histogram, and a contact sheet of images with their boxes.
// Every plot is a deterministic function of its inputs (fixed sizes, Hershey
// fonts, PNG at a fixed compression level), so outputs stay byte-identical.
//
// Thread safety: pure functions.

#ifndef TOOLS_COCO_PREP_PLOTS_H_
#define TOOLS_COCO_PREP_PLOTS_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "opencv2/core.hpp"

namespace cvt {

// Horizontal bars, one row per class: `counts[i]` boxes of `names[i]`.
absl::StatusOr<std::string> ClassHistogramPng(
    const std::string& title, const std::vector<std::string>& names,
    const std::vector<int64_t>& counts);

// Upper edges of the box-size bins, in sqrt(area) pixels; the last bin is
// open. 32 and 96 are COCO's small/medium/large bounds.
inline constexpr std::array<double, 11> kBoxSizeBinEdges = {
    8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384};

// Bars per sqrt(area) bin, one colour per split. `sqrt_areas[s]` are the
// box sizes of split `split_names[s]`.
absl::StatusOr<std::string> BoxSizeHistogramPng(
    const std::vector<std::string>& split_names,
    const std::vector<std::vector<double>>& sqrt_areas);

struct SheetBox {
  // x, y, width, height in pixels of the tile's image.
  std::array<double, 4> bbox = {0, 0, 0, 0};
  // Colour and label: the category index and name.
  int category = 0;
  std::string label;
};

struct SheetTile {
  // CV_8UC3 BGR.
  cv::Mat image;
  std::string caption;
  std::vector<SheetBox> boxes;
};

// A grid of `columns` tiles, each image fitted into `tile_px` squared, with
// its boxes and labels drawn.
absl::StatusOr<std::string> ContactSheetPng(const std::vector<SheetTile>& tiles,
                                            int columns = 4, int tile_px = 256);

}  // namespace cvt

#endif  // TOOLS_COCO_PREP_PLOTS_H_
