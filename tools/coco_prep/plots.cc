#include "tools/coco_prep/plots.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "libs/base/exceptions.h"
#include "libs/base/status_macros.h"
#include "libs/data/image_io.h"
#include "opencv2/imgproc.hpp"

namespace cvt {
namespace {

const cv::Scalar kInk(40, 40, 40);
const cv::Scalar kWhite(255, 255, 255);
constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;

// A fixed palette (BGR), indexed modulo its size.
cv::Scalar PaletteColor(int i) {
  static const cv::Scalar kColors[] = {
      {180, 119, 31},  {14, 127, 255}, {44, 160, 44},   {40, 39, 214},
      {189, 103, 148}, {75, 86, 140},  {194, 119, 227}, {127, 127, 127},
      {34, 189, 188},  {207, 190, 23}};
  return kColors[((i % 10) + 10) % 10];
}

absl::StatusOr<std::string> ToPng(const cv::Mat& canvas) {
  // Plots are written once per run for people to look at: favour speed.
  return EncodeImage(canvas, ImageFormat::kPng, {.png_compression = 1});
}

// The contact sheet is a photo mosaic, which Huffman-only coding encodes
// faster and smaller than LZ77.
absl::StatusOr<std::string> PhotoToPng(const cv::Mat& canvas) {
  return EncodeImage(canvas, ImageFormat::kPng,
                     {.png_compression = 1, .png_huffman_only = true});
}

}  // namespace

absl::StatusOr<std::string> ClassHistogramPng(
    const std::string& title, const std::vector<std::string>& names,
    const std::vector<int64_t>& counts) {
  return CallCatchingExceptions("drawing the class histogram", [&]() {
    const int row = 18, label_w = 200, bar_w = 500, top = 40;
    const int height = top + row * std::max<int>(1, names.size()) + 20;
    cv::Mat canvas(height, label_w + bar_w + 80, CV_8UC3, kWhite);
    cv::putText(canvas, title, {10, 25}, kFont, 0.6, kInk, 1, cv::LINE_AA);
    const int64_t max_count = std::max<int64_t>(
        1,
        counts.empty() ? 1 : *std::max_element(counts.begin(), counts.end()));
    for (size_t i = 0; i < names.size(); ++i) {
      const int y = top + static_cast<int>(i) * row;
      const std::string label = names[i].substr(0, 24);
      cv::putText(canvas, label, {10, y + 13}, kFont, 0.4, kInk, 1,
                  cv::LINE_AA);
      const int w = static_cast<int>(
          std::lround(static_cast<double>(counts[i]) * bar_w / max_count));
      if (w > 0) {
        cv::rectangle(canvas, cv::Rect(label_w, y + 2, w, row - 4),
                      PaletteColor(static_cast<int>(i)), cv::FILLED);
      }
      cv::putText(canvas, absl::StrCat(counts[i]), {label_w + w + 5, y + 13},
                  kFont, 0.4, kInk, 1, cv::LINE_AA);
    }
    return ToPng(canvas);
  });
}

absl::StatusOr<std::string> BoxSizeHistogramPng(
    const std::vector<std::string>& split_names,
    const std::vector<std::vector<double>>& sqrt_areas) {
  return CallCatchingExceptions("drawing the box-size histogram", [&]() {
    const int bins = static_cast<int>(kBoxSizeBinEdges.size()) + 1;
    const int splits = static_cast<int>(split_names.size());
    std::vector<std::vector<int64_t>> counts(splits,
                                             std::vector<int64_t>(bins, 0));
    int64_t max_count = 1;
    for (int s = 0; s < splits; ++s) {
      for (double v : sqrt_areas[s]) {
        const int bin =
            static_cast<int>(std::upper_bound(kBoxSizeBinEdges.begin(),
                                              kBoxSizeBinEdges.end(), v) -
                             kBoxSizeBinEdges.begin());
        max_count = std::max(max_count, ++counts[s][bin]);
      }
    }
    const int left = 60, top = 50, plot_h = 300, bin_w = 60;
    cv::Mat canvas(top + plot_h + 60, left + bins * bin_w + 20, CV_8UC3,
                   kWhite);
    cv::putText(canvas, "boxes per sqrt(area) bin (px); | = COCO 32 / 96",
                {10, 25}, kFont, 0.55, kInk, 1, cv::LINE_AA);
    for (int s = 0; s < splits; ++s) {
      cv::rectangle(canvas, cv::Rect(left + 10 + 110 * s, 32, 10, 10),
                    PaletteColor(s), cv::FILLED);
      cv::putText(canvas, split_names[s], {left + 25 + 110 * s, 42}, kFont, 0.4,
                  kInk, 1, cv::LINE_AA);
    }
    const int base = top + plot_h;
    cv::line(canvas, {left, base}, {left + bins * bin_w, base}, kInk);
    cv::putText(canvas, absl::StrCat(max_count), {5, top + 10}, kFont, 0.4,
                kInk, 1, cv::LINE_AA);
    const int bar_w = std::max(1, (bin_w - 8) / std::max(1, splits));
    for (int b = 0; b < bins; ++b) {
      const int x0 = left + b * bin_w;
      for (int s = 0; s < splits; ++s) {
        const int h = static_cast<int>(std::lround(
            static_cast<double>(counts[s][b]) * plot_h / max_count));
        if (h > 0) {
          cv::rectangle(canvas,
                        cv::Rect(x0 + 4 + s * bar_w, base - h, bar_w, h),
                        PaletteColor(s), cv::FILLED);
        }
      }
      const std::string label =
          b < bins - 1 ? absl::StrFormat("<%g", kBoxSizeBinEdges[b])
                       : absl::StrFormat(">=%g", kBoxSizeBinEdges[b - 1]);
      cv::putText(canvas, label, {x0 + 4, base + 18}, kFont, 0.4, kInk, 1,
                  cv::LINE_AA);
      if (b < bins - 1 &&
          (kBoxSizeBinEdges[b] == 32 || kBoxSizeBinEdges[b] == 96)) {
        cv::line(canvas, {x0 + bin_w, top}, {x0 + bin_w, base + 30},
                 cv::Scalar(0, 0, 200), 2);
      }
    }
    return ToPng(canvas);
  });
}

absl::StatusOr<std::string> ContactSheetPng(const std::vector<SheetTile>& tiles,
                                            int columns, int tile_px) {
  return CallCatchingExceptions("drawing the contact sheet", [&]() {
    const int n = std::max<int>(1, tiles.size());
    const int rows = (n + columns - 1) / columns;
    const int cell = tile_px + 24;
    cv::Mat canvas(rows * cell, columns * tile_px, CV_8UC3,
                   cv::Scalar(230, 230, 230));
    for (size_t t = 0; t < tiles.size(); ++t) {
      const SheetTile& tile = tiles[t];
      const int cx = static_cast<int>(t % columns) * tile_px;
      const int cy = static_cast<int>(t / columns) * cell;
      if (tile.image.empty()) continue;
      const double scale =
          std::min(static_cast<double>(tile_px) / tile.image.cols,
                   static_cast<double>(tile_px) / tile.image.rows);
      const int w = std::max(1, static_cast<int>(tile.image.cols * scale));
      const int h = std::max(1, static_cast<int>(tile.image.rows * scale));
      cv::Mat thumb;
      cv::resize(tile.image, thumb, {w, h}, 0, 0, cv::INTER_AREA);
      thumb.copyTo(canvas(cv::Rect(cx, cy, w, h)));
      for (const SheetBox& box : tile.boxes) {
        const cv::Point p0(
            cx + static_cast<int>(std::lround(box.bbox[0] * scale)),
            cy + static_cast<int>(std::lround(box.bbox[1] * scale)));
        const cv::Point p1(cx + static_cast<int>(std::lround(
                                    (box.bbox[0] + box.bbox[2]) * scale)),
                           cy + static_cast<int>(std::lround(
                                    (box.bbox[1] + box.bbox[3]) * scale)));
        const cv::Scalar color = PaletteColor(box.category);
        cv::rectangle(canvas, p0, p1, color, 1);
        cv::putText(canvas, box.label.substr(0, 16),
                    {p0.x + 1, std::max(cy + 9, p0.y - 2)}, kFont, 0.3, color,
                    1, cv::LINE_AA);
      }
      cv::putText(canvas, tile.caption.substr(0, 40), {cx + 4, cy + h + 16},
                  kFont, 0.4, kInk, 1, cv::LINE_AA);
    }
    return PhotoToPng(canvas);
  });
}

}  // namespace cvt
