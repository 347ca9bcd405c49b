#include "libs/eval/eval_plots.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "libs/base/exceptions.h"
#include "libs/base/file_io.h"
#include "libs/base/png.h"
#include "libs/base/status_macros.h"
#include "opencv2/core.hpp"
#include "opencv2/imgproc.hpp"

namespace cvt {
namespace {

const cv::Scalar kBlack(0, 0, 0), kGrey(200, 200, 200), kWhite(255, 255, 255);
const cv::Scalar kColors[] = {{200, 80, 30}, {40, 160, 40}, {30, 30, 200}};

// Mean over categories (entries > -1) of precision at each recall point.
std::vector<double> MeanCurve(const CocoEvalResult& r,
                              const std::vector<int>& ts, int k_only) {
  std::vector<double> curve(r.R, -1);
  for (int rr = 0; rr < r.R; ++rr) {
    double sum = 0;
    int n = 0;
    for (int t : ts) {
      for (int k = 0; k < r.K; ++k) {
        if (k_only >= 0 && k != k_only) continue;
        const double p = r.Precision(t, rr, k, 0, r.M - 1);
        if (p > -1) {
          sum += p;
          ++n;
        }
      }
    }
    if (n > 0) curve[rr] = sum / n;
  }
  return curve;
}

void DrawAxes(cv::Mat& img, cv::Rect area, const std::string& title,
              double scale) {
  cv::rectangle(img, area, kBlack, 1);
  for (int i = 1; i < 10; ++i) {
    const int x = area.x + area.width * i / 10;
    const int y = area.y + area.height * i / 10;
    cv::line(img, {x, area.y}, {x, area.y + area.height}, kGrey, 1);
    cv::line(img, {area.x, y}, {area.x + area.width, y}, kGrey, 1);
  }
  cv::putText(img, title, {area.x, area.y - 6}, cv::FONT_HERSHEY_SIMPLEX,
              0.5 * scale, kBlack, 1, cv::LINE_AA);
  if (scale < 1.0) return;  // Small panels: no tick labels.
  for (int i = 0; i <= 10; i += 5) {
    const std::string label = i == 0 ? "0" : (i == 5 ? "0.5" : "1");
    cv::putText(img, label,
                {area.x + area.width * i / 10 - 8, area.y + area.height + 16},
                cv::FONT_HERSHEY_SIMPLEX, 0.4, kBlack, 1, cv::LINE_AA);
    cv::putText(img, label,
                {area.x - 28, area.y + area.height - area.height * i / 10 + 4},
                cv::FONT_HERSHEY_SIMPLEX, 0.4, kBlack, 1, cv::LINE_AA);
  }
}

void DrawCurve(cv::Mat& img, cv::Rect area, const std::vector<double>& recall,
               const std::vector<double>& curve, const cv::Scalar& color) {
  std::vector<cv::Point> points;
  for (size_t i = 0; i < curve.size(); ++i) {
    if (curve[i] < 0) continue;
    points.emplace_back(
        area.x + static_cast<int>(std::lround(recall[i] * area.width)),
        area.y + area.height -
            static_cast<int>(std::lround(curve[i] * area.height)));
  }
  if (points.size() > 1)
    cv::polylines(img, points, false, color, 2, cv::LINE_AA);
}

absl::Status WritePng(const cv::Mat& bgr, const std::string& path) {
  std::vector<uint8_t> rgb(static_cast<size_t>(bgr.rows) * bgr.cols * 3);
  for (int y = 0; y < bgr.rows; ++y) {
    for (int x = 0; x < bgr.cols; ++x) {
      const cv::Vec3b p = bgr.at<cv::Vec3b>(y, x);
      uint8_t* out = &rgb[(static_cast<size_t>(y) * bgr.cols + x) * 3];
      out[0] = p[2];
      out[1] = p[1];
      out[2] = p[0];
    }
  }
  CVT_ASSIGN_OR_RETURN(std::string png, EncodePngRgb(bgr.cols, bgr.rows, rgb));
  return WriteFileAtomically(path, png);
}

cv::Mat PrCurves(const CocoEvalResult& r) {
  cv::Mat img(560, 640, CV_8UC3, kWhite);
  const cv::Rect area(60, 40, 540, 440);
  DrawAxes(img, area, "Precision-recall, all classes (area all)", 1.0);
  std::vector<int> all_t(r.T);
  for (int t = 0; t < r.T; ++t) all_t[t] = t;
  std::vector<std::pair<std::string, std::vector<int>>> series;
  for (double iou : {0.5, 0.75}) {
    for (int t = 0; t < r.T; ++t) {
      if (r.iou_thresholds[t] == iou)
        series.push_back({absl::StrFormat("IoU %.2f", iou), {t}});
    }
  }
  series.push_back({"IoU 0.50:0.95", all_t});
  for (size_t s = 0; s < series.size(); ++s) {
    const cv::Scalar& color = kColors[s % 3];
    DrawCurve(img, area, r.recall_thresholds,
              MeanCurve(r, series[s].second, -1), color);
    const int y = area.y + 20 + 20 * static_cast<int>(s);
    cv::line(img, {area.x + area.width - 150, y - 4},
             {area.x + area.width - 120, y - 4}, color, 2);
    cv::putText(img, series[s].first, {area.x + area.width - 115, y},
                cv::FONT_HERSHEY_SIMPLEX, 0.45, kBlack, 1, cv::LINE_AA);
  }
  cv::putText(img, "recall", {area.x + area.width / 2 - 20, 520},
              cv::FONT_HERSHEY_SIMPLEX, 0.5, kBlack, 1, cv::LINE_AA);
  cv::putText(img, "precision", {4, area.y + area.height / 2},
              cv::FONT_HERSHEY_SIMPLEX, 0.45, kBlack, 1, cv::LINE_AA);
  return img;
}

cv::Mat PrPerClass(const CocoEvalResult& r, const CategoryMap& categories) {
  const int K = r.K;
  const int cols = std::max(1, static_cast<int>(std::ceil(std::sqrt(K))));
  const int rows = std::max(1, (K + cols - 1) / cols);
  const int cell = 180;
  cv::Mat img(rows * cell, cols * cell, CV_8UC3, kWhite);
  int t50 = 0;
  for (int t = 0; t < r.T; ++t) {
    if (r.iou_thresholds[t] == 0.5) t50 = t;
  }
  for (int k = 0; k < K; ++k) {
    const cv::Rect area((k % cols) * cell + 14, (k / cols) * cell + 24,
                        cell - 24, cell - 40);
    const std::string name =
        k < categories.size() ? categories.NameAt(k) : "all";
    DrawAxes(img, area, name.substr(0, 20), 0.8);
    DrawCurve(img, area, r.recall_thresholds, MeanCurve(r, {t50}, k),
              kColors[0]);
  }
  return img;
}

cv::Mat ConfusionImage(const ConfusionMatrix& cm,
                       const CategoryMap& categories) {
  const int n = cm.num_classes + 1;
  const int cell = n <= 12 ? 48 : (n <= 40 ? 24 : 12);
  const int margin = 140;
  cv::Mat img(margin + n * cell + 20, margin + n * cell + 20, CV_8UC3, kWhite);
  for (int i = 0; i < n; ++i) {
    int64_t row_total = 0;
    for (int j = 0; j < n; ++j) row_total += cm.At(i, j);
    for (int j = 0; j < n; ++j) {
      const double v =
          row_total > 0 ? static_cast<double>(cm.At(i, j)) / row_total : 0;
      const int shade = 255 - static_cast<int>(std::lround(v * 200));
      const cv::Rect box(margin + j * cell, margin + i * cell, cell, cell);
      cv::rectangle(img, box, cv::Scalar(255, shade, shade), cv::FILLED);
      cv::rectangle(img, box, kGrey, 1);
      if (cell >= 24 && cm.At(i, j) > 0) {
        cv::putText(img, std::to_string(cm.At(i, j)),
                    {box.x + 2, box.y + cell / 2 + 4}, cv::FONT_HERSHEY_SIMPLEX,
                    cell >= 48 ? 0.4 : 0.3, kBlack, 1, cv::LINE_AA);
      }
    }
    const std::string label = i < cm.num_classes
                                  ? categories.NameAt(i).substr(0, 16)
                                  : std::string("background");
    if (cell >= 12) {
      cv::putText(img, label, {4, margin + i * cell + cell / 2 + 4},
                  cv::FONT_HERSHEY_SIMPLEX, 0.35, kBlack, 1, cv::LINE_AA);
    }
  }
  cv::putText(
      img,
      absl::StrFormat(
          "rows: ground truth, columns: detected (IoU %.2f, score >= %.2f)",
          cm.iou_threshold, cm.score_threshold),
      {4, 20}, cv::FONT_HERSHEY_SIMPLEX, 0.4, kBlack, 1, cv::LINE_AA);
  return img;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> WriteEvalPlots(
    const CocoEvalResult& result, const ConfusionMatrix& confusion,
    const CategoryMap& categories, absl::string_view dir) {
  const std::string folder(dir);
  if (mkdir(folder.c_str(), 0777) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, "cannot create folder", folder);
  }
  std::vector<std::string> paths = {folder + "/pr_curves.png",
                                    folder + "/pr_per_class.png",
                                    folder + "/confusion_matrix.png"};
  cv::Mat images[3];
  CVT_RETURN_IF_ERROR(
      CallCatchingExceptions("drawing plots", [&]() -> absl::Status {
        images[0] = PrCurves(result);
        images[1] = PrPerClass(result, categories);
        images[2] = ConfusionImage(confusion, categories);
        return absl::OkStatus();
      }));
  for (int i = 0; i < 3; ++i)
    CVT_RETURN_IF_ERROR(WritePng(images[i], paths[i]));
  return paths;
}

}  // namespace cvt
