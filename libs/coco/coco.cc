#include "libs/coco/coco.h"

#include <cmath>
#include <iostream>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "libs/base/file_io.h"
#include "libs/base/json.h"
#include "libs/base/status_macros.h"
#include "rapidjson/document.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace cvt {
namespace {

using rapidjson::Value;

// Reports a problem: an error when `problems` is null, else records it.
class ProblemSink {
 public:
  ProblemSink(absl::string_view source, std::vector<CocoProblem>* problems)
      : source_(source), problems_(problems) {}

  // Returns false when parsing must stop (`status()` holds the error).
  bool Report(absl::string_view kind, absl::string_view where,
              absl::string_view message) {
    std::string text = absl::StrCat(source_, ": ", where, ": ", message);
    if (problems_ == nullptr) {
      status_ = absl::InvalidArgumentError(text);
      return false;
    }
    problems_->push_back({std::string(kind), std::move(text)});
    return true;
  }
  const absl::Status& status() const { return status_; }

 private:
  std::string source_;
  std::vector<CocoProblem>* problems_;
  absl::Status status_;
};

// Reads an integral id. Accepts JSON integers and integral doubles.
bool ReadId(const Value& v, int64_t* out) {
  if (v.IsInt64()) {
    *out = v.GetInt64();
    return true;
  }
  if (v.IsDouble()) {
    const double d = v.GetDouble();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.2e18) {
      *out = static_cast<int64_t>(d);
      return true;
    }
  }
  return false;
}

// Why a member is unusable as an id, or empty if it is fine.
std::string IdError(const Value& object, const char* key, int64_t* out) {
  const auto it = object.FindMember(key);
  if (it == object.MemberEnd())
    return absl::StrCat("missing key \"", key, "\"");
  if (!ReadId(it->value, out)) {
    return absl::StrCat(
        "\"", key, "\" must be an integer",
        it->value.IsString() ? " (string ids are not supported)" : "");
  }
  return "";
}

bool ReadBox(const Value& object, std::array<double, 4>* box) {
  const auto it = object.FindMember("bbox");
  if (it == object.MemberEnd() || !it->value.IsArray() ||
      it->value.Size() != 4) {
    return false;
  }
  for (rapidjson::SizeType i = 0; i < 4; ++i) {
    if (!it->value[i].IsNumber()) return false;
    (*box)[i] = it->value[i].GetDouble();
  }
  return true;
}

std::string Where(absl::string_view list, size_t index, const Value& record) {
  std::string where = absl::StrCat(list, "[", index, "]");
  int64_t id = 0;
  if (record.IsObject()) {
    const auto it = record.FindMember("id");
    if (it != record.MemberEnd() && ReadId(it->value, &id)) {
      absl::StrAppend(&where, " (id ", id, ")");
    }
  }
  return where;
}

std::string RawJson(const Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

const Value* FindArray(const Value& root, const char* key) {
  const auto it = root.FindMember(key);
  if (it == root.MemberEnd()) return nullptr;
  return &it->value;
}

// Parses one list of records; `parse_one` returns "" or "kind:message".
template <typename T, typename Fn>
bool ParseList(const Value& root, const char* key, ProblemSink& sink,
               std::vector<T>* out, Fn parse_one) {
  const Value* list = FindArray(root, key);
  if (list == nullptr) {
    return sink.Report("missing_key", "top level",
                       absl::StrCat("missing key \"", key, "\""));
  }
  if (!list->IsArray()) {
    return sink.Report("bad_type", key, "must be a list");
  }
  out->reserve(list->Size());
  for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
    const Value& record = (*list)[i];
    T item;
    std::string kind = "bad_type";
    std::string error = record.IsObject() ? parse_one(record, &item, &kind)
                                          : std::string("must be an object");
    if (error.empty()) {
      out->push_back(std::move(item));
    } else if (!sink.Report(kind, Where(key, i, record), error)) {
      return false;
    }
  }
  return true;
}

std::string ParseImage(const Value& v, CocoImage* image, std::string* kind) {
  *kind = "missing_key";
  std::string error = IdError(v, "id", &image->id);
  if (!error.empty()) return error;
  const auto name = v.FindMember("file_name");
  if (name == v.MemberEnd()) return "missing key \"file_name\"";
  *kind = "bad_type";
  if (!name->value.IsString()) return "\"file_name\" must be a string";
  image->file_name = name->value.GetString();
  for (const char* key : {"width", "height"}) {
    const auto it = v.FindMember(key);
    if (it == v.MemberEnd()) continue;
    int64_t size = 0;
    if (!ReadId(it->value, &size) || size < 0) {
      return absl::StrCat("\"", key, "\" must be a non-negative integer");
    }
    (key[0] == 'w' ? image->width : image->height) = size;
  }
  return "";
}

std::string ParseAnnotation(const Value& v, CocoAnnotation* ann,
                            std::string* kind) {
  *kind = "missing_key";
  for (auto [key, out] : {std::pair<const char*, int64_t*>{"id", &ann->id},
                          {"image_id", &ann->image_id},
                          {"category_id", &ann->category_id}}) {
    std::string error = IdError(v, key, out);
    if (!error.empty()) return error;
  }
  if (!v.HasMember("bbox")) return "missing key \"bbox\"";
  *kind = "bad_bbox";
  if (!ReadBox(v, &ann->bbox)) return "bbox must be a list of 4 numbers";
  *kind = "bad_type";
  const auto area = v.FindMember("area");
  if (area != v.MemberEnd()) {
    if (!area->value.IsNumber()) return "\"area\" must be a number";
    ann->area = area->value.GetDouble();
  }
  for (auto [key, out] :
       {std::pair<const char*, std::optional<int>*>{"iscrowd", &ann->iscrowd},
        {"ignore", &ann->ignore}}) {
    const auto it = v.FindMember(key);
    if (it == v.MemberEnd()) continue;
    int64_t flag = 0;
    if (it->value.IsBool()) {
      flag = it->value.GetBool();
    } else if (!ReadId(it->value, &flag)) {
      return absl::StrCat("\"", key, "\" must be 0 or 1");
    }
    *out = static_cast<int>(flag != 0);
  }
  return "";
}

std::string ParseCategory(const Value& v, CocoCategory* cat,
                          std::string* kind) {
  *kind = "missing_key";
  std::string error = IdError(v, "id", &cat->id);
  if (!error.empty()) return error;
  const auto name = v.FindMember("name");
  if (name == v.MemberEnd()) return "missing key \"name\"";
  *kind = "bad_type";
  if (!name->value.IsString()) return "\"name\" must be a string";
  cat->name = name->value.GetString();
  const auto super = v.FindMember("supercategory");
  if (super != v.MemberEnd() && super->value.IsString()) {
    cat->supercategory = super->value.GetString();
  }
  return "";
}

std::string ParseDetection(const Value& v, CocoDetection* det,
                           std::string* kind) {
  *kind = "missing_key";
  for (auto [key, out] :
       {std::pair<const char*, int64_t*>{"image_id", &det->image_id},
        {"category_id", &det->category_id}}) {
    std::string error = IdError(v, key, out);
    if (!error.empty()) return error;
  }
  if (!v.HasMember("bbox")) return "missing key \"bbox\"";
  const auto score = v.FindMember("score");
  if (score == v.MemberEnd()) return "missing key \"score\"";
  *kind = "bad_bbox";
  if (!ReadBox(v, &det->bbox)) return "bbox must be a list of 4 numbers";
  *kind = "bad_type";
  if (!score->value.IsNumber()) return "\"score\" must be a number";
  det->score = score->value.GetDouble();
  return "";
}

void WriteBox(JsonWriter& json, const std::array<double, 4>& box) {
  json.Key("bbox");
  json.StartArray();
  for (double v : box) json.Double(v);
  json.EndArray();
}

}  // namespace

absl::StatusOr<CocoDataset> ParseCocoDataset(
    absl::string_view json, absl::string_view source_name,
    std::vector<CocoProblem>* problems) {
  CVT_ASSIGN_OR_RETURN(rapidjson::Document doc, ParseJson(json, source_name));
  if (!doc.IsObject()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_name,
                     ": a COCO annotation file must be a JSON object with "
                     "images, annotations and categories"));
  }
  ProblemSink sink(source_name, problems);
  CocoDataset dataset;
  if (!ParseList(doc, "images", sink, &dataset.images, ParseImage) ||
      !ParseList(doc, "annotations", sink, &dataset.annotations,
                 ParseAnnotation) ||
      !ParseList(doc, "categories", sink, &dataset.categories, ParseCategory)) {
    return sink.status();
  }
  if (doc.HasMember("info")) dataset.info_json = RawJson(doc["info"]);
  if (doc.HasMember("licenses"))
    dataset.licenses_json = RawJson(doc["licenses"]);
  return dataset;
}

absl::StatusOr<CocoDataset> ReadCocoDataset(
    absl::string_view path, std::vector<CocoProblem>* problems) {
  CVT_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  return ParseCocoDataset(text, path, problems);
}

std::string CocoDatasetToJson(const CocoDataset& dataset) {
  JsonWriter json({.non_finite = NonFinitePolicy::kPythonLiterals});
  json.StartObject();
  if (dataset.info_json.has_value()) {
    json.Key("info");
    json.Raw(*dataset.info_json);
  }
  if (dataset.licenses_json.has_value()) {
    json.Key("licenses");
    json.Raw(*dataset.licenses_json);
  }
  json.Key("images");
  json.StartArray();
  for (const CocoImage& image : dataset.images) {
    json.StartObject();
    json.Key("id");
    json.Int(image.id);
    json.Key("file_name");
    json.String(image.file_name);
    json.Key("width");
    json.Int(image.width);
    json.Key("height");
    json.Int(image.height);
    json.EndObject();
  }
  json.EndArray();
  json.Key("annotations");
  json.StartArray();
  for (const CocoAnnotation& ann : dataset.annotations) {
    json.StartObject();
    json.Key("id");
    json.Int(ann.id);
    json.Key("image_id");
    json.Int(ann.image_id);
    json.Key("category_id");
    json.Int(ann.category_id);
    WriteBox(json, ann.bbox);
    if (ann.area.has_value()) {
      json.Key("area");
      json.Double(*ann.area);
    }
    if (ann.iscrowd.has_value()) {
      json.Key("iscrowd");
      json.Int(*ann.iscrowd);
    }
    if (ann.ignore.has_value()) {
      json.Key("ignore");
      json.Int(*ann.ignore);
    }
    json.EndObject();
  }
  json.EndArray();
  json.Key("categories");
  json.StartArray();
  for (const CocoCategory& cat : dataset.categories) {
    json.StartObject();
    json.Key("id");
    json.Int(cat.id);
    json.Key("name");
    json.String(cat.name);
    json.Key("supercategory");
    json.String(cat.supercategory);
    json.EndObject();
  }
  json.EndArray();
  json.EndObject();
  return json.Finish().value_or("");
}

absl::Status WriteCocoDataset(const CocoDataset& dataset,
                              absl::string_view path) {
  return WriteFileAtomically(path, CocoDatasetToJson(dataset));
}

absl::StatusOr<std::vector<CocoDetection>> ParseCocoResults(
    absl::string_view json, absl::string_view source_name,
    std::vector<CocoProblem>* problems) {
  CVT_ASSIGN_OR_RETURN(rapidjson::Document doc, ParseJson(json, source_name));
  if (!doc.IsArray()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_name,
                     ": a COCO results file must be a JSON list of "
                     "{image_id, category_id, bbox, score}"));
  }
  ProblemSink sink(source_name, problems);
  std::vector<CocoDetection> detections;
  detections.reserve(doc.Size());
  for (rapidjson::SizeType i = 0; i < doc.Size(); ++i) {
    CocoDetection det;
    std::string kind = "bad_type";
    std::string error = doc[i].IsObject() ? ParseDetection(doc[i], &det, &kind)
                                          : std::string("must be an object");
    if (error.empty()) {
      detections.push_back(det);
    } else if (!sink.Report(kind, absl::StrCat("results[", i, "]"), error)) {
      return sink.status();
    }
  }
  return detections;
}

absl::StatusOr<std::vector<CocoDetection>> ReadCocoResults(
    absl::string_view path, std::vector<CocoProblem>* problems) {
  if (path == "-") {
    std::string text(std::istreambuf_iterator<char>(std::cin), {});
    return ParseCocoResults(text, "<stdin>", problems);
  }
  CVT_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  return ParseCocoResults(text, path, problems);
}

std::string CocoResultsToJson(const std::vector<CocoDetection>& detections) {
  JsonWriter json({.non_finite = NonFinitePolicy::kPythonLiterals});
  json.StartArray();
  for (const CocoDetection& det : detections) {
    json.StartObject();
    json.Key("image_id");
    json.Int(det.image_id);
    json.Key("category_id");
    json.Int(det.category_id);
    WriteBox(json, det.bbox);
    json.Key("score");
    json.Double(det.score);
    json.EndObject();
  }
  json.EndArray();
  return json.Finish().value_or("[]");
}

absl::Status WriteCocoResults(const std::vector<CocoDetection>& detections,
                              absl::string_view path) {
  return WriteFileAtomically(path, CocoResultsToJson(detections));
}

}  // namespace cvt
