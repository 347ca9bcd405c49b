#include "libs/models/nms.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "ATen/ATen.h"
#include "absl/status/statusor.h"
#include "libs/base/exceptions.h"
#include "libs/models/yolo.h"

namespace cvt {
namespace {

struct Candidate {
  float score;
  int64_t index;  // box * K + class
};

// The order of step 2: score descending, then (box, class) ascending. A
// strict total order, so any sort gives the same result.
bool Before(const Candidate& a, const Candidate& b) {
  if (a.score != b.score) return a.score > b.score;
  return a.index < b.index;
}

double Area(const float* b) {
  return std::max(0.0, static_cast<double>(b[2]) - b[0]) *
         std::max(0.0, static_cast<double>(b[3]) - b[1]);
}

double Iou(const float* a, const float* b) {
  double w = std::min<double>(a[2], b[2]) - std::max<double>(a[0], b[0]);
  double h = std::min<double>(a[3], b[3]) - std::max<double>(a[1], b[1]);
  double inter = std::max(0.0, w) * std::max(0.0, h);
  double uni = Area(a) + Area(b) - inter;
  return uni > 0 ? inter / uni : 0.0;
}

bool ValidShapes(const at::Tensor& boxes, const at::Tensor& scores) {
  return boxes.defined() && scores.defined() && boxes.dim() == 2 &&
         boxes.size(1) == 4 && scores.dim() == 2 &&
         scores.size(0) == boxes.size(0);
}

std::vector<ScoredBox> Suppress(const float* boxes, const float* scores,
                                int64_t n, int64_t k, double score_threshold,
                                double iou_threshold, int64_t max_detections) {
  std::vector<Candidate> candidates;
  for (int64_t i = 0; i < n * k; ++i) {
    // NaN scores fail the comparison and never become candidates.
    if (static_cast<double>(scores[i]) >= score_threshold) {
      candidates.push_back({scores[i], i});
    }
  }
  size_t count = std::min<size_t>(candidates.size(), kMaxNmsCandidates);
  std::partial_sort(candidates.begin(), candidates.begin() + count,
                    candidates.end(), Before);
  candidates.resize(count);

  std::vector<ScoredBox> kept;
  std::vector<std::vector<int64_t>> kept_boxes(k);  // per class
  for (const Candidate& c : candidates) {
    if (static_cast<int64_t>(kept.size()) >= max_detections) break;
    int64_t box = c.index / k, label = c.index % k;
    const float* b = boxes + 4 * box;
    bool suppressed = false;
    for (int64_t other : kept_boxes[label]) {
      if (Iou(boxes + 4 * other, b) > iou_threshold) {
        suppressed = true;
        break;
      }
    }
    if (suppressed) continue;
    kept_boxes[label].push_back(box);
    kept.push_back({{b[0], b[1], b[2], b[3]}, c.score, label});
  }
  return kept;
}

}  // namespace

std::vector<ScoredBox> NonMaxSuppression(const at::Tensor& boxes,
                                         const at::Tensor& scores,
                                         double score_threshold,
                                         double iou_threshold,
                                         int64_t max_detections) {
  if (!ValidShapes(boxes, scores) || max_detections <= 0) return {};
  // Only the conversion below can throw (it should not for valid shapes).
  absl::StatusOr<std::vector<ScoredBox>> kept = CallCatchingExceptions(
      "NMS", [&]() -> absl::StatusOr<std::vector<ScoredBox>> {
        at::NoGradGuard no_grad;
        at::Tensor b = boxes.detach().to(at::kCPU, at::kFloat).contiguous();
        at::Tensor s = scores.detach().to(at::kCPU, at::kFloat).contiguous();
        return Suppress(b.data_ptr<float>(), s.data_ptr<float>(), s.size(0),
                        s.size(1), score_threshold, iou_threshold,
                        max_detections);
      });
  return kept.ok() ? *std::move(kept) : std::vector<ScoredBox>();
}

std::vector<std::vector<ScoredBox>> YoloPostprocess(const YoloOutput& output,
                                                    double score_threshold,
                                                    double iou_threshold,
                                                    int64_t max_detections) {
  const at::Tensor& boxes = output.boxes;
  const at::Tensor& logits = output.logits;
  if (!boxes.defined() || !logits.defined() || boxes.dim() != 3 ||
      logits.dim() != 3 || boxes.size(0) != logits.size(0)) {
    return {};
  }
  std::vector<std::vector<ScoredBox>> out(boxes.size(0));
  absl::StatusOr<bool> done =
      CallCatchingExceptions("YOLO postprocess", [&]() -> absl::StatusOr<bool> {
        at::NoGradGuard no_grad;
        for (int64_t b = 0; b < boxes.size(0); ++b) {
          out[b] =
              NonMaxSuppression(boxes[b], logits[b].sigmoid(), score_threshold,
                                iou_threshold, max_detections);
        }
        return true;
      });
  if (!done.ok()) out.assign(boxes.size(0), {});
  return out;
}

}  // namespace cvt
