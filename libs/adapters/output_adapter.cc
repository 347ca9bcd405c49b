#include "libs/adapters/output_adapter.h"

#include <algorithm>

#include "ATen/ATen.h"
#include "absl/strings/str_cat.h"
#include "libs/base/exceptions.h"
#include "libs/base/status_macros.h"

namespace cvt {

std::array<double, 4> InputXyxyToCocoBox(const BoxXyxy& input,
                                         const ImageGeometry& geometry) {
  BoxXyxy b = geometry.ToOriginal(input);
  const double w = static_cast<double>(geometry.original_width);
  const double h = static_cast<double>(geometry.original_height);
  const double x1 = std::clamp(b[0], 0.0, w);
  const double y1 = std::clamp(b[1], 0.0, h);
  const double x2 = std::clamp(b[2], 0.0, w);
  const double y2 = std::clamp(b[3], 0.0, h);
  return {x1, y1, x2 - x1, y2 - y1};
}

absl::StatusOr<std::vector<AdaptedTarget>> AdaptTargetsXyxy(
    const std::vector<DetectionTarget>& targets, int64_t num_classes) {
  std::vector<AdaptedTarget> out;
  out.reserve(targets.size());
  for (const DetectionTarget& t : targets) {
    if (t.labels.size() != t.boxes.size() ||
        t.iscrowd.size() != t.boxes.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("image ", t.image_id,
                       ": boxes, labels and iscrowd differ in length"));
    }
    std::vector<float> boxes, ignore_boxes;
    std::vector<int64_t> labels, ignore_labels;
    for (size_t i = 0; i < t.boxes.size(); ++i) {
      if (t.labels[i] < 0 || t.labels[i] >= num_classes) {
        return absl::InvalidArgumentError(
            absl::StrCat("image ", t.image_id, ": label ", t.labels[i],
                         " outside 0..", num_classes - 1));
      }
      const bool crowd = t.iscrowd[i] != 0;
      std::vector<float>& b = crowd ? ignore_boxes : boxes;
      for (double v : t.boxes[i]) b.push_back(static_cast<float>(v));
      (crowd ? ignore_labels : labels).push_back(t.labels[i]);
    }
    CVT_RETURN_IF_ERROR(CallCatchingExceptions("adapting targets", [&] {
      AdaptedTarget a;
      a.image_id = t.image_id;
      a.geometry = t.geometry;
      const int64_t n = static_cast<int64_t>(labels.size());
      const int64_t c = static_cast<int64_t>(ignore_labels.size());
      a.labels = at::tensor(labels, at::kLong).reshape({n});
      a.boxes = at::tensor(boxes, at::kFloat).reshape({n, 4});
      a.ignore_labels = at::tensor(ignore_labels, at::kLong).reshape({c});
      a.ignore_boxes = at::tensor(ignore_boxes, at::kFloat).reshape({c, 4});
      out.push_back(std::move(a));
      return absl::OkStatus();
    }));
  }
  return out;
}

absl::StatusOr<CocoDataset> OutputAdapter::FormatTargets(
    const std::vector<AdaptedTarget>& targets,
    const CategoryMap& categories) const {
  CocoDataset gt;
  gt.categories = categories.categories();
  int64_t next_id = 1;
  for (const AdaptedTarget& t : targets) {
    CocoImage image;
    image.id = t.image_id;
    image.width = t.geometry.original_width;
    image.height = t.geometry.original_height;
    gt.images.push_back(image);
    for (int crowd = 0; crowd < 2; ++crowd) {
      const at::Tensor& labels = crowd ? t.ignore_labels : t.labels;
      const at::Tensor& boxes = crowd ? t.ignore_boxes : t.boxes;
      if (!labels.defined() || labels.numel() == 0) continue;
      std::vector<BoxXyxy> input = BoxesToInputXyxy(boxes, t.geometry);
      at::Tensor l = labels.contiguous();
      const int64_t* lp = l.data_ptr<int64_t>();
      for (size_t i = 0; i < input.size(); ++i) {
        if (lp[i] < 0 || lp[i] >= categories.size()) {
          return absl::InvalidArgumentError(
              absl::StrCat("image ", t.image_id, ": label ", lp[i],
                           " outside the category map"));
        }
        CocoAnnotation a;
        a.id = next_id++;
        a.image_id = t.image_id;
        a.category_id = categories.IdAt(static_cast<int>(lp[i]));
        a.bbox = InputXyxyToCocoBox(input[i], t.geometry);
        a.area = a.bbox[2] * a.bbox[3];
        a.iscrowd = crowd;
        gt.annotations.push_back(a);
      }
    }
  }
  return gt;
}

}  // namespace cvt
