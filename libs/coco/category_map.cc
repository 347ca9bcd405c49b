#include "libs/coco/category_map.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "libs/base/file_io.h"
#include "libs/base/json.h"
#include "libs/base/status_macros.h"

namespace cvt {

absl::StatusOr<CategoryMap> CategoryMap::FromCategories(
    std::vector<CocoCategory> categories) {
  std::stable_sort(
      categories.begin(), categories.end(),
      [](const CocoCategory& a, const CocoCategory& b) { return a.id < b.id; });
  CategoryMap map;
  for (size_t i = 0; i < categories.size(); ++i) {
    if (!map.index_of_.emplace(categories[i].id, static_cast<int>(i)).second) {
      return absl::InvalidArgumentError(absl::StrCat("duplicate category id ",
                                                     categories[i].id, " ('",
                                                     categories[i].name, "')"));
    }
  }
  map.categories_ = std::move(categories);
  return map;
}

absl::StatusOr<CategoryMap> CategoryMap::FromJson(
    absl::string_view json, absl::string_view source_name) {
  CVT_ASSIGN_OR_RETURN(rapidjson::Document doc, ParseJson(json, source_name));
  auto bad = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(source_name, ": ", what));
  };
  if (!doc.IsObject() || !doc.HasMember("categories") ||
      !doc["categories"].IsArray()) {
    return bad("not a cvtools category map (needs a \"categories\" list)");
  }
  if (!doc.HasMember("version") || !doc["version"].IsInt() ||
      doc["version"].GetInt() != 1) {
    return bad("unsupported category map version (expected 1)");
  }
  std::vector<CocoCategory> categories;
  const auto& list = doc["categories"];
  for (rapidjson::SizeType i = 0; i < list.Size(); ++i) {
    const auto& entry = list[i];
    if (!entry.IsObject() || !entry.HasMember("index") ||
        !entry["index"].IsInt() || !entry.HasMember("id") ||
        !entry["id"].IsInt64() || !entry.HasMember("name") ||
        !entry["name"].IsString()) {
      return bad(absl::StrCat("categories[", i,
                              "] needs an integer index and id and a name"));
    }
    if (entry["index"].GetInt() != static_cast<int>(i)) {
      return bad(absl::StrCat("categories[", i, "] has index ",
                              entry["index"].GetInt(), ", expected ", i));
    }
    if (i > 0 && entry["id"].GetInt64() <= categories.back().id) {
      return bad(absl::StrCat("categories[", i, "]: ids must ascend"));
    }
    CocoCategory cat;
    cat.id = entry["id"].GetInt64();
    cat.name = entry["name"].GetString();
    if (entry.HasMember("supercategory") && entry["supercategory"].IsString()) {
      cat.supercategory = entry["supercategory"].GetString();
    }
    categories.push_back(std::move(cat));
  }
  return FromCategories(std::move(categories));
}

absl::StatusOr<CategoryMap> CategoryMap::Read(absl::string_view path) {
  CVT_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  return FromJson(text, path);
}

std::string CategoryMap::ToJson() const {
  JsonWriter json({.indent = 2});
  json.StartObject();
  json.Key("format");
  json.String("cvtools.categories");
  json.Key("version");
  json.Int(1);
  json.Key("categories");
  json.StartArray();
  for (size_t i = 0; i < categories_.size(); ++i) {
    json.StartObject();
    json.Key("index");
    json.Int(static_cast<int64_t>(i));
    json.Key("id");
    json.Int(categories_[i].id);
    json.Key("name");
    json.String(categories_[i].name);
    json.Key("supercategory");
    json.String(categories_[i].supercategory);
    json.EndObject();
  }
  json.EndArray();
  json.EndObject();
  return json.Finish().value_or("");
}

absl::Status CategoryMap::Write(absl::string_view path) const {
  return WriteFileAtomically(path, ToJson());
}

int CategoryMap::IndexOf(int64_t category_id) const {
  const auto it = index_of_.find(category_id);
  return it == index_of_.end() ? -1 : it->second;
}

}  // namespace cvt
