#include "libs/data/detection_dataset.h"

#include <algorithm>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "libs/base/file_io.h"
#include "libs/base/status.h"
#include "libs/base/status_macros.h"
#include "libs/data/image_io.h"

namespace cvt {
namespace {

std::string JoinPath(absl::string_view dir, absl::string_view name) {
  if (dir.empty()) return std::string(name);
  if (dir.back() == '/') return absl::StrCat(dir, name);
  return absl::StrCat(dir, "/", name);
}

}  // namespace

absl::StatusOr<DetectionDataset> DetectionDataset::OpenPrepared(
    absl::string_view dir, absl::string_view split,
    const DetectionDatasetOptions& options) {
  CVT_ASSIGN_OR_RETURN(CategoryMap categories,
                       CategoryMap::Read(JoinPath(dir, "categories.json")));
  const std::string annotations =
      JoinPath(dir, absl::StrCat("annotations/", split, ".json"));
  CVT_ASSIGN_OR_RETURN(CocoDataset coco, ReadCocoDataset(annotations));
  return FromCoco(std::move(coco), annotations, JoinPath(dir, "images"),
                  std::move(categories), options);
}

absl::StatusOr<DetectionDataset> DetectionDataset::OpenCoco(
    absl::string_view images_dir, absl::string_view annotations_json,
    const DetectionDatasetOptions& options) {
  CVT_ASSIGN_OR_RETURN(CocoDataset coco, ReadCocoDataset(annotations_json));
  absl::StatusOr<CategoryMap> categories =
      CategoryMap::FromCategories(coco.categories);
  if (!categories.ok()) {
    return Annotate(categories.status(), annotations_json);
  }
  return FromCoco(std::move(coco), annotations_json, images_dir,
                  *std::move(categories), options);
}

absl::StatusOr<DetectionDataset> DetectionDataset::OpenCoco(
    absl::string_view images_dir, absl::string_view annotations_json,
    const CategoryMap& category_map, const DetectionDatasetOptions& options) {
  CVT_ASSIGN_OR_RETURN(CocoDataset coco, ReadCocoDataset(annotations_json));
  return FromCoco(std::move(coco), annotations_json, images_dir, category_map,
                  options);
}

absl::StatusOr<DetectionDataset> DetectionDataset::FromCoco(
    CocoDataset coco, absl::string_view source_name,
    absl::string_view images_dir, CategoryMap category_map,
    const DetectionDatasetOptions& options) {
  DetectionDataset dataset;
  dataset.source_name_ = std::string(source_name);
  dataset.options_ = options;
  dataset.category_map_ = std::move(category_map);

  std::vector<size_t> order(coco.images.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return coco.images[a].id < coco.images[b].id;
  });
  absl::flat_hash_map<int64_t, size_t> record_of;
  dataset.records_.reserve(order.size());
  dataset.image_ids_.reserve(order.size());
  for (size_t i : order) {
    const CocoImage& image = coco.images[i];
    if (!record_of.emplace(image.id, dataset.records_.size()).second) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: image id %d appears more than once", source_name, image.id));
    }
    Record record;
    record.image_id = image.id;
    record.path = JoinPath(images_dir, image.file_name);
    record.width = image.width;
    record.height = image.height;
    dataset.records_.push_back(std::move(record));
    dataset.image_ids_.push_back(image.id);
  }

  for (const CocoAnnotation& annotation : coco.annotations) {
    const auto it = record_of.find(annotation.image_id);
    if (it == record_of.end()) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: annotation id %d refers to image id %d, which is not in the "
          "file",
          source_name, annotation.id, annotation.image_id));
    }
    const int label = dataset.category_map_.IndexOf(annotation.category_id);
    if (label < 0) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: annotation id %d has category_id %d, which is not in the "
          "category map",
          source_name, annotation.id, annotation.category_id));
    }
    const bool crowd = annotation.iscrowd.value_or(0) != 0;
    if (crowd && !options.keep_crowd_as_ignore) continue;
    Record& record = dataset.records_[it->second];
    const auto& b = annotation.bbox;
    record.boxes.push_back({b[0], b[1], b[0] + b[2], b[1] + b[3]});
    record.labels.push_back(label);
    record.iscrowd.push_back(crowd ? 1 : 0);
    record.annotation_ids.push_back(annotation.id);
  }
  dataset.ground_truth_ = std::move(coco);
  return dataset;
}

absl::StatusOr<DetectionSample> DetectionDataset::Load(int64_t index) const {
  if (index < 0 || index >= size()) {
    return absl::OutOfRangeError(absl::StrFormat(
        "%s: index %d is outside [0, %d)", source_name_, index, size()));
  }
  const Record& record = records_[index];
  CVT_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(record.path));
  DecodeOptions decode;
  decode.max_pixels = options_.max_image_pixels;
  CVT_ASSIGN_OR_RETURN(DecodedImage decoded,
                       DecodeImage(bytes, record.path, decode));
  const int64_t width = decoded.bgr.cols;
  const int64_t height = decoded.bgr.rows;
  if ((record.width != 0 && record.width != width) ||
      (record.height != 0 && record.height != height)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: decoded size %dx%d differs from the %dx%d that %s states for "
        "image id %d",
        record.path, width, height, record.width, record.height, source_name_,
        record.image_id));
  }

  DetectionSample sample;
  sample.image = std::move(decoded.bgr);
  DetectionTarget& target = sample.target;
  target.image_id = record.image_id;
  target.dataset_index = index;
  target.geometry.original_width = target.geometry.input_width = width;
  target.geometry.original_height = target.geometry.input_height = height;
  const double w = static_cast<double>(width);
  const double h = static_cast<double>(height);
  for (size_t i = 0; i < record.boxes.size(); ++i) {
    const BoxXyxy& box = record.boxes[i];
    const BoxXyxy clipped = {
        std::clamp(box[0], 0.0, w), std::clamp(box[1], 0.0, h),
        std::clamp(box[2], 0.0, w), std::clamp(box[3], 0.0, h)};
    if (!(clipped[2] > clipped[0] && clipped[3] > clipped[1])) continue;
    target.boxes.push_back(clipped);
    target.labels.push_back(record.labels[i]);
    target.iscrowd.push_back(record.iscrowd[i]);
    target.annotation_ids.push_back(record.annotation_ids[i]);
  }
  return sample;
}

}  // namespace cvt
