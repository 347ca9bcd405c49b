#include "libs/data/synthetic_coco.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "libs/base/file_io.h"
#include "libs/base/status_macros.h"
#include "libs/coco/category_map.h"
#include "libs/data/image_io.h"
#include "opencv2/imgproc.hpp"

namespace cvt {
namespace {

constexpr const char* kNames[] = {"square", "disc", "triangle", "ring"};

int Uniform(std::mt19937_64& rng, int lo, int hi) {
  return std::uniform_int_distribution<int>(lo, hi)(rng);
}

// A BGR colour for class `k`, away from the background's grey-ish range.
cv::Scalar ClassColour(int k, std::mt19937_64& rng) {
  const int a = Uniform(rng, 0, 40), b = Uniform(rng, 0, 40);
  switch (k) {
    case 0:
      return cv::Scalar(20 + a, 60 + b, 215 + a / 2);  // red/orange
    case 1:
      return cv::Scalar(30 + a, 200 + b / 2, 30 + b);  // green
    case 2:
      return cv::Scalar(220 + a / 2, 70 + b, 20 + a);  // blue
    default:
      return cv::Scalar(210 + a / 2, 30 + b, 210 + a / 2);  // magenta
  }
}

// Draws class `k` into the box (x, y, w, h) so that its pixels span exactly
// columns x..x+w-1 and rows y..y+h-1.
void DrawShape(cv::Mat& image, int k, int x, int y, int w, int h,
               const cv::Scalar& colour) {
  const int x1 = x + w - 1, y1 = y + h - 1;
  switch (k) {
    case 0:
      cv::rectangle(image, cv::Point(x, y), cv::Point(x1, y1), colour,
                    cv::FILLED, cv::LINE_8);
      break;
    case 1:
    case 3: {
      // Rasterise the ellipse ourselves so the extent is exact.
      const double cx = x + (w - 1) / 2.0, cy = y + (h - 1) / 2.0;
      const double rx = w / 2.0, ry = h / 2.0;
      const double inner = k == 3 ? 0.55 : -1;
      for (int r = y; r <= y1; ++r) {
        for (int c = x; c <= x1; ++c) {
          const double dx = (c - cx) / rx, dy = (r - cy) / ry;
          const double d = dx * dx + dy * dy;
          if (d <= 1.0 && (inner < 0 || d >= inner * inner)) {
            image.at<cv::Vec3b>(r, c) = cv::Vec3b(
                static_cast<uchar>(colour[0]), static_cast<uchar>(colour[1]),
                static_cast<uchar>(colour[2]));
          }
        }
      }
      // The extreme rows/columns of a rasterised ellipse may be empty; mark
      // the four extreme points so the box stays tight.
      const cv::Vec3b v(static_cast<uchar>(colour[0]),
                        static_cast<uchar>(colour[1]),
                        static_cast<uchar>(colour[2]));
      image.at<cv::Vec3b>(y, x + w / 2) = v;
      image.at<cv::Vec3b>(y1, x + w / 2) = v;
      image.at<cv::Vec3b>(y + h / 2, x) = v;
      image.at<cv::Vec3b>(y + h / 2, x1) = v;
      break;
    }
    case 2: {
      std::vector<cv::Point> tri = {cv::Point(x + w / 2, y), cv::Point(x, y1),
                                    cv::Point(x1, y1)};
      cv::fillConvexPoly(image, tri, colour, cv::LINE_8);
      break;
    }
  }
}

absl::Status CheckOptions(const SyntheticCocoOptions& o) {
  if (o.num_images < 1 || o.min_size < 32 || o.max_size < o.min_size ||
      o.num_classes < 1 || o.num_classes > 4 || o.min_objects < 0 ||
      o.max_objects < o.min_objects || o.min_object_fraction <= 0 ||
      o.max_object_fraction < o.min_object_fraction ||
      o.max_object_fraction > 0.9 || o.min_object_size < 4) {
    return absl::InvalidArgumentError(
        "synthetic data: need num_images >= 1, 32 <= min_size <= max_size, "
        "1..4 classes, 0 <= min_objects <= max_objects, "
        "0 < min_object_fraction <= max_object_fraction <= 0.9");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SyntheticCoco> MakeSyntheticCoco(
    const SyntheticCocoOptions& options) {
  CVT_RETURN_IF_ERROR(CheckOptions(options));
  SyntheticCoco out;
  for (int k = 0; k < options.num_classes; ++k) {
    out.dataset.categories.push_back({k + 1, kNames[k], "shape"});
  }
  int64_t annotation_id = 1;
  for (int i = 0; i < options.num_images; ++i) {
    std::mt19937_64 rng(options.seed * 0x9E3779B97F4A7C15ULL +
                        static_cast<uint64_t>(i) * 0xD1B54A32D192ED03ULL + 1);
    const int w = Uniform(rng, options.min_size, options.max_size);
    const int h = Uniform(rng, options.min_size, options.max_size);
    cv::Mat image(h, w, CV_8UC3);
    const std::array<int, 3> base = {
        Uniform(rng, 90, 150), Uniform(rng, 90, 150), Uniform(rng, 90, 150)};
    const double gx = Uniform(rng, -40, 40) / static_cast<double>(w);
    const double gy = Uniform(rng, -40, 40) / static_cast<double>(h);
    std::uniform_int_distribution<int> noise(-12, 12);
    for (int r = 0; r < h; ++r) {
      for (int c = 0; c < w; ++c) {
        cv::Vec3b& p = image.at<cv::Vec3b>(r, c);
        for (int ch = 0; ch < 3; ++ch) {
          const int v =
              static_cast<int>(base[ch] + gx * c + gy * r) + noise(rng);
          p[ch] = static_cast<uchar>(std::clamp(v, 0, 255));
        }
      }
    }
    const int64_t image_id = options.first_image_id + i;
    CocoImage record;
    record.id = image_id;
    record.file_name = absl::StrFormat("%06d.jpg", image_id);
    record.width = w;
    record.height = h;
    out.dataset.images.push_back(record);

    const int objects = Uniform(rng, options.min_objects, options.max_objects);
    std::vector<std::array<int, 4>> placed;
    const int shorter = std::min(w, h);
    const int lo =
        std::max(options.min_object_size,
                 static_cast<int>(options.min_object_fraction * shorter));
    const int hi =
        std::max(lo, static_cast<int>(options.max_object_fraction * shorter));
    for (int o = 0; o < objects; ++o) {
      for (int attempt = 0; attempt < 50; ++attempt) {
        const int bw = Uniform(rng, lo, hi), bh = Uniform(rng, lo, hi);
        const int bx = Uniform(rng, 0, w - bw), by = Uniform(rng, 0, h - bh);
        bool overlaps = false;
        for (const auto& p : placed) {
          if (bx < p[0] + p[2] + 2 && p[0] < bx + bw + 2 &&
              by < p[1] + p[3] + 2 && p[1] < by + bh + 2) {
            overlaps = true;
            break;
          }
        }
        if (overlaps) continue;
        const int k = Uniform(rng, 0, options.num_classes - 1);
        DrawShape(image, k, bx, by, bw, bh, ClassColour(k, rng));
        placed.push_back({bx, by, bw, bh});
        CocoAnnotation a;
        a.id = annotation_id++;
        a.image_id = image_id;
        a.category_id = k + 1;
        a.bbox = {static_cast<double>(bx), static_cast<double>(by),
                  static_cast<double>(bw), static_cast<double>(bh)};
        a.area = static_cast<double>(bw) * bh;
        a.iscrowd = 0;
        out.dataset.annotations.push_back(a);
        break;
      }
    }
    EncodeOptions encode;
    encode.jpeg_quality = options.jpeg_quality;
    CVT_ASSIGN_OR_RETURN(std::string jpeg,
                         EncodeImage(image, ImageFormat::kJpeg, encode));
    out.jpegs.push_back(std::move(jpeg));
  }
  return out;
}

absl::Status WriteSyntheticCoco(const SyntheticCocoOptions& options,
                                const std::string& out_dir) {
  CVT_ASSIGN_OR_RETURN(SyntheticCoco data, MakeSyntheticCoco(options));
  CVT_RETURN_IF_ERROR(MakeDirs(absl::StrCat(out_dir, "/images")));
  for (size_t i = 0; i < data.jpegs.size(); ++i) {
    CVT_RETURN_IF_ERROR(WriteFileAtomically(
        absl::StrCat(out_dir, "/images/", data.dataset.images[i].file_name),
        data.jpegs[i]));
  }
  if (!options.prepared_layout) {
    return WriteCocoDataset(data.dataset,
                            absl::StrCat(out_dir, "/annotations.json"));
  }
  CVT_RETURN_IF_ERROR(MakeDirs(absl::StrCat(out_dir, "/annotations")));
  CVT_RETURN_IF_ERROR(WriteCocoDataset(
      data.dataset,
      absl::StrCat(out_dir, "/annotations/", options.split, ".json")));
  CVT_ASSIGN_OR_RETURN(CategoryMap map,
                       CategoryMap::FromCategories(data.dataset.categories));
  return map.Write(absl::StrCat(out_dir, "/categories.json"));
}

}  // namespace cvt
