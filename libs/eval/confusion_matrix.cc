#include "libs/eval/confusion_matrix.h"

#include <algorithm>
#include <numeric>

#include "absl/container/flat_hash_map.h"
#include "libs/eval/coco_eval.h"

namespace cvt {

ConfusionMatrix ComputeConfusionMatrix(
    const CocoDataset& gt, const std::vector<CocoDetection>& detections,
    const CategoryMap& categories, double iou_threshold,
    double score_threshold) {
  ConfusionMatrix cm;
  const int K = categories.size();
  cm.num_classes = K;
  cm.iou_threshold = iou_threshold;
  cm.score_threshold = score_threshold;
  cm.counts.assign(static_cast<size_t>(K + 1) * (K + 1), 0);
  auto add = [&](int truth, int detected) {
    ++cm.counts[static_cast<size_t>(truth) * (K + 1) + detected];
  };
  absl::flat_hash_map<int64_t, std::vector<int>> gts_of, dts_of;
  for (size_t j = 0; j < gt.annotations.size(); ++j) {
    const CocoAnnotation& a = gt.annotations[j];
    if (a.iscrowd.value_or(0) != 0 || categories.IndexOf(a.category_id) < 0)
      continue;
    gts_of[a.image_id].push_back(static_cast<int>(j));
  }
  for (size_t j = 0; j < detections.size(); ++j) {
    const CocoDetection& d = detections[j];
    if (d.score < score_threshold || categories.IndexOf(d.category_id) < 0)
      continue;
    dts_of[d.image_id].push_back(static_cast<int>(j));
  }
  for (const CocoImage& image : gt.images) {
    std::vector<int>& gts = gts_of[image.id];
    std::vector<int>& dts = dts_of[image.id];
    std::stable_sort(dts.begin(), dts.end(), [&](int x, int y) {
      return detections[x].score > detections[y].score;
    });
    std::vector<bool> taken(gts.size(), false);
    for (int d : dts) {
      const CocoDetection& det = detections[d];
      int best = -1;
      double best_iou = iou_threshold;
      for (size_t g = 0; g < gts.size(); ++g) {
        if (taken[g]) continue;
        const double iou =
            CocoBoxIou(det.bbox, gt.annotations[gts[g]].bbox, false);
        if (iou >= best_iou && (best < 0 || iou > best_iou)) {
          best = static_cast<int>(g);
          best_iou = iou;
        }
      }
      const int detected = categories.IndexOf(det.category_id);
      if (best < 0) {
        add(K, detected);
      } else {
        taken[best] = true;
        add(categories.IndexOf(gt.annotations[gts[best]].category_id),
            detected);
      }
    }
    for (size_t g = 0; g < gts.size(); ++g) {
      if (!taken[g])
        add(categories.IndexOf(gt.annotations[gts[g]].category_id), K);
    }
  }
  return cm;
}

}  // namespace cvt
