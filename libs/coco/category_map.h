// -----------------------------------------------------------------------------
// File: category_map.h
// -----------------------------------------------------------------------------
//
// The frozen category map shared by train, predict and evaluate_map: original
// COCO category ids and names <-> contiguous indices 0..K-1, in ascending id
// order (the order pycocotools evaluates them in). It is computed once per
// dataset (coco_prep writes it as categories.json) and travels inside
// checkpoints, so every split and every tool agrees on index k.
//
// Thread safety: immutable after construction.

#ifndef LIBS_COCO_CATEGORY_MAP_H_
#define LIBS_COCO_CATEGORY_MAP_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "libs/coco/coco.h"

namespace cvt {

class CategoryMap {
 public:
  CategoryMap() = default;

  // Sorts `categories` by id. InvalidArgument on a duplicate id.
  static absl::StatusOr<CategoryMap> FromCategories(
      std::vector<CocoCategory> categories);

  // Parses categories.json (see ToJson). InvalidArgument if malformed or if
  // indices are not 0..K-1 in ascending id order.
  static absl::StatusOr<CategoryMap> FromJson(absl::string_view json,
                                              absl::string_view source_name);
  static absl::StatusOr<CategoryMap> Read(absl::string_view path);

  // {"format": "cvtools.categories", "version": 1, "categories":
  //  [{"index": 0, "id": 1, "name": "person", "supercategory": "..."}, ...]}
  std::string ToJson() const;
  absl::Status Write(absl::string_view path) const;

  int size() const { return static_cast<int>(categories_.size()); }
  // Contiguous index of `category_id`, or -1 if it is not in the map.
  int IndexOf(int64_t category_id) const;
  int64_t IdAt(int index) const { return categories_[index].id; }
  const std::string& NameAt(int index) const { return categories_[index].name; }
  // Sorted by id; position = index.
  const std::vector<CocoCategory>& categories() const { return categories_; }

 private:
  std::vector<CocoCategory> categories_;
  absl::flat_hash_map<int64_t, int> index_of_;
};

}  // namespace cvt

#endif  // LIBS_COCO_CATEGORY_MAP_H_
