// -----------------------------------------------------------------------------
// File: coco.h
// -----------------------------------------------------------------------------
//
// The COCO formats every cvtools tool reads and writes; no other code parses
// COCO JSON.
//
//   - Ground truth (`instances_*.json`): an object with `images`,
//     `annotations` and `categories` (`info` and `licenses` optional and kept
//     verbatim).
//   - Results: a list of `{image_id, category_id, bbox, score}`.
//
// Boxes are `[x, y, width, height]` in pixels of the image as described by the
// file, doubles exactly as parsed (correctly rounded, like Python's `json`).
// Ids are integers (JSON integers, or doubles with an integral value); string
// ids are rejected.
//
// Parsing checks structure and types: a record with a missing key or a value
// of the wrong type is a *problem* naming the file, the record and the key
// ("gt.json: annotations[17] (id 42): bbox must be 4 finite numbers"). With
// `problems == nullptr` the first problem is an InvalidArgument error;
// otherwise each bad record is skipped and its problem appended, so a tool
// can report everything at once (coco_prep's --on_error=skip). Semantic checks
// (unknown ids, boxes outside images) belong to the tools.

#ifndef LIBS_COCO_COCO_H_
#define LIBS_COCO_COCO_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cvt {

struct CocoImage {
  int64_t id = 0;
  std::string file_name;
  // As stated in the file; 0 when absent.
  int64_t width = 0;
  int64_t height = 0;
};

struct CocoAnnotation {
  int64_t id = 0;
  int64_t image_id = 0;
  int64_t category_id = 0;
  // x, y, width, height in image pixels.
  std::array<double, 4> bbox = {0, 0, 0, 0};
  // `area` and `iscrowd` as stated; absent fields stay empty (pycocotools
  // refuses such ground truth; coco_prep fills them in).
  std::optional<double> area;
  std::optional<int> iscrowd;
  // A user `ignore` flag, when present (pycocotools overwrites it).
  std::optional<int> ignore;
};

struct CocoCategory {
  int64_t id = 0;
  std::string name;
  std::string supercategory;
};

struct CocoDataset {
  std::vector<CocoImage> images;
  std::vector<CocoAnnotation> annotations;
  std::vector<CocoCategory> categories;
  // Raw JSON text of the optional top-level `info` and `licenses` values.
  std::optional<std::string> info_json;
  std::optional<std::string> licenses_json;
};

// One detection of a results file.
struct CocoDetection {
  int64_t image_id = 0;
  int64_t category_id = 0;
  std::array<double, 4> bbox = {0, 0, 0, 0};
  double score = 0;
};

// A malformed record found while parsing.
struct CocoProblem {
  // Stable kind for counting, e.g. "missing_key", "bad_bbox", "bad_type".
  std::string kind;
  // "<source>: annotations[17] (id 42): bbox must be 4 finite numbers".
  std::string message;
};

absl::StatusOr<CocoDataset> ParseCocoDataset(
    absl::string_view json, absl::string_view source_name,
    std::vector<CocoProblem>* problems = nullptr);

// Reads a ground-truth file; NotFound if it does not exist.
absl::StatusOr<CocoDataset> ReadCocoDataset(
    absl::string_view path, std::vector<CocoProblem>* problems = nullptr);

// Serialises `dataset` (keys in COCO's usual order; doubles round-trip
// exactly; `area`/`iscrowd` written only when present).
std::string CocoDatasetToJson(const CocoDataset& dataset);

// Writes `dataset` to `path` atomically.
absl::Status WriteCocoDataset(const CocoDataset& dataset,
                              absl::string_view path);

// Parses a results list. Each detection needs image_id, category_id, a bbox
// of 4 numbers and a score; NaN/Infinity parse (Python writes them) and are
// left to the caller to judge.
absl::StatusOr<std::vector<CocoDetection>> ParseCocoResults(
    absl::string_view json, absl::string_view source_name,
    std::vector<CocoProblem>* problems = nullptr);

// Reads a results file; "-" reads standard input.
absl::StatusOr<std::vector<CocoDetection>> ReadCocoResults(
    absl::string_view path, std::vector<CocoProblem>* problems = nullptr);

std::string CocoResultsToJson(const std::vector<CocoDetection>& detections);

absl::Status WriteCocoResults(const std::vector<CocoDetection>& detections,
                              absl::string_view path);

}  // namespace cvt

#endif  // LIBS_COCO_COCO_H_
