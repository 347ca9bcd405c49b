#include "libs/train/training_curves.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_format.h"
#include "libs/base/file_io.h"
#include "libs/base/png.h"
#include "libs/base/status_macros.h"
#include "opencv2/core.hpp"
#include "opencv2/imgproc.hpp"

namespace cvt {
namespace {

const cv::Scalar kColours[] = {{200, 80, 30}, {30, 30, 200}, {40, 160, 40}};

void DrawPanel(
    cv::Mat& img, cv::Rect area, const std::string& title,
    const std::vector<
        std::pair<std::string, const std::vector<std::pair<int64_t, double>>*>>&
        lines) {
  cv::rectangle(img, area, cv::Scalar(0, 0, 0), 1);
  cv::putText(img, title, {area.x, area.y - 8}, cv::FONT_HERSHEY_SIMPLEX, 0.5,
              cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  double x_max = 1, y_min = 0, y_max = 0;
  bool any = false;
  for (const auto& [name, points] : lines) {
    if (points == nullptr) continue;
    for (const auto& [x, y] : *points) {
      x_max = std::max(x_max, static_cast<double>(x));
      y_min = any ? std::min(y_min, y) : y;
      y_max = any ? std::max(y_max, y) : y;
      any = true;
    }
  }
  if (!any) return;
  if (y_max <= y_min) y_max = y_min + 1;
  y_min = std::min(y_min, 0.0);
  auto to_px = [&](double x, double y) {
    return cv::Point(area.x + static_cast<int>(x / x_max * (area.width - 1)),
                     area.y + area.height - 1 -
                         static_cast<int>((y - y_min) / (y_max - y_min) *
                                          (area.height - 1)));
  };
  for (int t = 0; t <= 4; ++t) {
    const double y = y_min + (y_max - y_min) * t / 4;
    cv::Point p = to_px(0, y);
    cv::line(img, {area.x, p.y}, {area.x + area.width, p.y},
             cv::Scalar(220, 220, 220), 1);
    cv::putText(img, absl::StrFormat("%.3g", y), {area.x - 48, p.y + 4},
                cv::FONT_HERSHEY_SIMPLEX, 0.35, cv::Scalar(0, 0, 0), 1,
                cv::LINE_AA);
  }
  cv::putText(img, absl::StrFormat("step %d", static_cast<int64_t>(x_max)),
              {area.x + area.width - 70, area.y + area.height + 16},
              cv::FONT_HERSHEY_SIMPLEX, 0.35, cv::Scalar(0, 0, 0), 1,
              cv::LINE_AA);
  int legend = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const auto* points = lines[i].second;
    if (points == nullptr || points->empty()) continue;
    const cv::Scalar& c = kColours[i % 3];
    for (size_t k = 1; k < points->size(); ++k) {
      cv::line(img, to_px((*points)[k - 1].first, (*points)[k - 1].second),
               to_px((*points)[k].first, (*points)[k].second), c, 2,
               cv::LINE_AA);
    }
    for (const auto& [x, y] : *points) cv::circle(img, to_px(x, y), 2, c, -1);
    cv::putText(img, lines[i].first, {area.x + 8, area.y + 16 + 16 * legend++},
                cv::FONT_HERSHEY_SIMPLEX, 0.4, c, 1, cv::LINE_AA);
  }
}

}  // namespace

void TrainingCurves::Add(const std::string& series, int64_t step,
                         double value) {
  if (std::isfinite(value)) series_[series].emplace_back(step, value);
}

absl::Status TrainingCurves::WritePng(const std::string& path) const {
  cv::Mat img(360, 960, CV_8UC3, cv::Scalar(255, 255, 255));
  auto get = [&](const char* name) {
    auto it = series_.find(name);
    return it == series_.end() ? nullptr : &it->second;
  };
  DrawPanel(img, cv::Rect(60, 30, 400, 290), "loss",
            {{"train/loss", get("train/loss")}, {"val/loss", get("val/loss")}});
  DrawPanel(img, cv::Rect(540, 30, 400, 290), "validation mAP",
            {{"val/map", get("val/map")}, {"val/map_50", get("val/map_50")}});
  cv::Mat rgb;
  cv::cvtColor(img, rgb, cv::COLOR_BGR2RGB);
  CVT_ASSIGN_OR_RETURN(
      std::string png,
      EncodePngRgb(rgb.cols, rgb.rows,
                   absl::MakeConstSpan(rgb.data, rgb.total() * 3)));
  const size_t slash = path.rfind('/');
  if (slash != std::string::npos) {
    CVT_RETURN_IF_ERROR(MakeDirs(path.substr(0, slash)));
  }
  return WriteFileAtomically(path, png);
}

}  // namespace cvt
