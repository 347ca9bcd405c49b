// -----------------------------------------------------------------------------
// File: detection_dataset.h
// -----------------------------------------------------------------------------
//
// Random access to a COCO detection data set: the records of one split, and
// `Load(index)`, which decodes one image into a `DetectionSample` in the
// original frame (detection_sample.h). The loader (detection_loader.h)
// augments and batches the samples; the trainer evaluates against
// `ground_truth()`.
//
// Sources:
//   - a coco_prep folder: DIR/images/<file_name>, DIR/annotations/<split>.json
//     and the frozen DIR/categories.json (`OpenPrepared`);
//   - raw COCO: an images folder and an annotation file, with a given
//     category map (a checkpoint's) or one built from the file's own
//     `categories` (`OpenCoco`).
//
// Records are sorted by image id, so index i means the same image whatever
// the file order; images without annotations are records too (they train as
// pure background).
//
// Rules applied to every annotation:
//   - COCO `[x, y, w, h]` becomes xyxy `[x, y, x + w, y + h]`.
//   - The label is `category_map().IndexOf(category_id)`; an unknown category
//     fails the open with InvalidArgument naming the file and annotation id.
//   - `iscrowd` != 0 marks a crowd region. With `keep_crowd_as_ignore` it is
//     kept with `iscrowd = 1` (an ignore region for matchers and losses);
//     otherwise it is dropped from the samples. `ground_truth()` always keeps
//     it (COCO evaluation needs the ignore regions).
//   - At `Load`, boxes are clipped to the decoded image and boxes with zero
//     width or height after clipping are dropped (DETR's
//     ConvertCocoPolysToMask; reference/training_semantics.md D1).
//
// Example:
//
//   CVT_ASSIGN_OR_RETURN(DetectionDataset train,
//                        DetectionDataset::OpenPrepared(dir, "train"));
//   CVT_ASSIGN_OR_RETURN(DetectionSample sample, train.Load(0));
//   // sample.image: CV_8UC3 BGR; sample.target.boxes: xyxy original pixels.
//
// Thread safety: immutable after opening; `Load` may run on many threads.

#ifndef LIBS_DATA_DETECTION_DATASET_H_
#define LIBS_DATA_DETECTION_DATASET_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "libs/coco/category_map.h"
#include "libs/coco/coco.h"
#include "libs/data/detection_sample.h"

namespace cvt {

struct DetectionDatasetOptions {
  // Decompression-bomb guard: `Load` refuses images whose header declares
  // more pixels. Default: 178956970 (`DataConfig.max_image_pixels`).
  uint64_t max_image_pixels = 178956970;
  // Keep crowd annotations as ignore regions (`iscrowd = 1`) in the samples;
  // false drops them. Default: true (`DataConfig.keep_crowd_as_ignore`).
  bool keep_crowd_as_ignore = true;
};

class DetectionDataset {
 public:
  // Opens split `split` of the coco_prep folder `dir`. NotFound if
  // categories.json or annotations/<split>.json is missing; InvalidArgument
  // (naming the file) for malformed JSON, duplicate image ids, annotations of
  // unknown images or categories.
  static absl::StatusOr<DetectionDataset> OpenPrepared(
      absl::string_view dir, absl::string_view split,
      const DetectionDatasetOptions& options = {});

  // Opens raw COCO: `annotations_json` describes images under `images_dir`.
  // The category map is built from the file's `categories` (ascending id
  // order), or is `category_map` (for example the one a checkpoint stores).
  // Errors as `OpenPrepared`.
  static absl::StatusOr<DetectionDataset> OpenCoco(
      absl::string_view images_dir, absl::string_view annotations_json,
      const DetectionDatasetOptions& options = {});
  static absl::StatusOr<DetectionDataset> OpenCoco(
      absl::string_view images_dir, absl::string_view annotations_json,
      const CategoryMap& category_map,
      const DetectionDatasetOptions& options = {});

  // Builds a data set from parsed ground truth. `source_name` (the file name)
  // prefixes errors. Errors as `OpenPrepared`.
  static absl::StatusOr<DetectionDataset> FromCoco(
      CocoDataset coco, absl::string_view source_name,
      absl::string_view images_dir, CategoryMap category_map,
      const DetectionDatasetOptions& options = {});

  DetectionDataset(DetectionDataset&&) = default;
  DetectionDataset& operator=(DetectionDataset&&) = default;

  // Number of images (records).
  int64_t size() const { return static_cast<int64_t>(records_.size()); }

  // Reads and decodes image `index` (0 <= index < size()):
  //   - `image`: CV_8UC3 BGR as decoded (image_io.h rules: EXIF orientation
  //     applied, alpha over black), the original frame;
  //   - `target`: image id, `dataset_index = index`, identity geometry whose
  //     original and input sizes are the decoded size, and the boxes (xyxy,
  //     original pixels), labels, crowd flags and annotation ids, in file
  //     order, after the clipping rule above.
  // OutOfRange for a bad index; NotFound if the file is missing;
  // InvalidArgument naming the file if it does not decode (or exceeds
  // `max_image_pixels`), or if its decoded size differs from the width and
  // height the annotation file states (0 there means "not stated").
  absl::StatusOr<DetectionSample> Load(int64_t index) const;

  const CategoryMap& category_map() const { return category_map_; }
  // `image_ids()[i]` is the COCO image id of index i; ascending.
  const std::vector<int64_t>& image_ids() const { return image_ids_; }
  // Path of image `index` (images folder joined with its `file_name`).
  const std::string& image_path(int64_t index) const {
    return records_[index].path;
  }
  // The ground truth exactly as read (original ids, xywh boxes, crowd
  // annotations included, file order): what evaluation compares against.
  const CocoDataset& ground_truth() const { return ground_truth_; }
  // The annotation file's name, as errors quote it.
  const std::string& source_name() const { return source_name_; }

 private:
  struct Record {
    int64_t image_id = 0;
    std::string path;
    // As the annotation file states them; 0 = not stated.
    int64_t width = 0;
    int64_t height = 0;
    std::vector<BoxXyxy> boxes;
    std::vector<int64_t> labels;
    std::vector<uint8_t> iscrowd;
    std::vector<int64_t> annotation_ids;
  };

  DetectionDataset() = default;

  std::string source_name_;
  DetectionDatasetOptions options_;
  CategoryMap category_map_;
  CocoDataset ground_truth_;
  std::vector<Record> records_;
  std::vector<int64_t> image_ids_;
};

}  // namespace cvt

#endif  // LIBS_DATA_DETECTION_DATASET_H_
