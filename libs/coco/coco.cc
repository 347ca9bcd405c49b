#include "libs/coco/coco.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iostream>
#include <iterator>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "libs/base/file_io.h"
#include "libs/base/huge_pages.h"
#include "libs/base/json.h"
#include "libs/base/status_macros.h"
#include "rapidjson/document.h"
#include "rapidjson/error/en.h"
#include "rapidjson/memorystream.h"
#include "rapidjson/reader.h"
#include "rapidjson/stream.h"
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

namespace {

// Streams a results list straight into CocoDetection records (no DOM): the
// results file is the large input of evaluate_map. Messages and the order of
// the checks match those of the ground-truth records.
class ResultsHandler
    : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, ResultsHandler> {
 public:
  ResultsHandler(ProblemSink& sink, std::vector<CocoDetection>& out)
      : sink_(sink), out_(out) {}

  bool not_a_list() const { return not_a_list_; }
  bool stopped() const { return stopped_; }

  bool StartObject() { return Open(/*object=*/true); }
  bool StartArray() { return Open(/*object=*/false); }
  bool EndObject(rapidjson::SizeType) { return Close(); }
  bool EndArray(rapidjson::SizeType) { return Close(); }

  bool Key(const char* key, rapidjson::SizeType length, bool) {
    if (depth_ != 2 || non_object_) return true;
    const absl::string_view name(key, length);
    field_ = kOther;
    if (name == "image_id") field_ = kImageId;
    if (name == "category_id") field_ = kCategoryId;
    if (name == "bbox") field_ = kBbox;
    if (name == "score") field_ = kScore;
    return true;
  }

  bool Null() { return Scalar(Kind::kOther, 0, 0); }
  bool Bool(bool) { return Scalar(Kind::kOther, 0, 0); }
  bool String(const char*, rapidjson::SizeType, bool) {
    return Scalar(Kind::kString, 0, 0);
  }
  bool Int(int v) { return Scalar(Kind::kInteger, v, v); }
  bool Uint(unsigned v) { return Scalar(Kind::kInteger, v, v); }
  bool Int64(int64_t v) {
    return Scalar(Kind::kInteger, static_cast<double>(v), v);
  }
  bool Uint64(uint64_t v) {
    if (v > static_cast<uint64_t>(INT64_MAX)) {
      return Scalar(Kind::kNumber, static_cast<double>(v), 0);
    }
    return Scalar(Kind::kInteger, static_cast<double>(v),
                  static_cast<int64_t>(v));
  }
  bool Double(double v) { return Scalar(Kind::kNumber, v, 0); }

 private:
  enum Field { kOther, kImageId, kCategoryId, kBbox, kScore };
  enum class Kind { kInteger, kNumber, kString, kOther };
  // A field's state: absent, ok, or present with the wrong type.
  enum State { kAbsent, kOk, kBad, kBadString };

  bool Open(bool object) {
    ++depth_;
    if (depth_ == 1) {
      if (object) {
        not_a_list_ = true;
        return false;
      }
      return true;
    }
    if (depth_ == 2) {
      BeginElement();
      if (!object) non_object_ = true;
      return true;
    }
    if (depth_ == 3 && !non_object_ && field_ == kBbox && bbox_ == kAbsent &&
        !object) {
      in_bbox_ = true;
      bbox_count_ = 0;
      bbox_bad_ = false;
      return true;
    }
    if (depth_ == 3 && !non_object_) {
      MarkBad(kBad);  // A nested value where ours expect a scalar.
    }
    if (in_bbox_) bbox_bad_ = true;
    return true;
  }

  bool Close() {
    --depth_;
    if (depth_ == 2 && in_bbox_) {
      in_bbox_ = false;
      bbox_ = (bbox_count_ == 4 && !bbox_bad_) ? kOk : kBad;
    } else if (depth_ == 1) {
      return EndElement();
    }
    return true;
  }

  bool Scalar(Kind kind, double value, int64_t integer) {
    if (depth_ == 0) {
      not_a_list_ = true;
      return false;
    }
    if (depth_ == 1) {  // A non-object element of the list.
      BeginElement();
      non_object_ = true;
      return EndElement();
    }
    if (in_bbox_ && depth_ == 3) {
      if (kind == Kind::kInteger || kind == Kind::kNumber) {
        if (bbox_count_ < 4) det_.bbox[bbox_count_] = value;
        ++bbox_count_;
      } else {
        bbox_bad_ = true;
      }
      return true;
    }
    if (depth_ != 2 || non_object_) return true;
    switch (field_) {
      case kImageId:
      case kCategoryId: {
        State& state = field_ == kImageId ? image_id_ : category_id_;
        if (state != kAbsent) return true;  // The first occurrence wins.
        int64_t id = integer;
        bool ok = kind == Kind::kInteger;
        if (kind == Kind::kNumber && std::isfinite(value) &&
            value == std::floor(value) && std::fabs(value) < 9.2e18) {
          id = static_cast<int64_t>(value);
          ok = true;
        }
        state = ok ? kOk : (kind == Kind::kString ? kBadString : kBad);
        (field_ == kImageId ? det_.image_id : det_.category_id) = id;
        break;
      }
      case kBbox:
        if (bbox_ == kAbsent) bbox_ = kBad;
        break;
      case kScore:
        if (score_ != kAbsent) return true;
        score_ = (kind == Kind::kInteger || kind == Kind::kNumber) ? kOk : kBad;
        det_.score = value;
        break;
      case kOther:
        break;
    }
    return true;
  }

  void MarkBad(State bad) {
    switch (field_) {
      case kImageId:
        if (image_id_ == kAbsent) image_id_ = bad;
        break;
      case kCategoryId:
        if (category_id_ == kAbsent) category_id_ = bad;
        break;
      case kBbox:
        if (bbox_ == kAbsent) bbox_ = bad;
        break;
      case kScore:
        if (score_ == kAbsent) score_ = bad;
        break;
      case kOther:
        break;
    }
  }

  void BeginElement() {
    det_ = CocoDetection();
    image_id_ = category_id_ = bbox_ = score_ = kAbsent;
    field_ = kOther;
    non_object_ = false;
    in_bbox_ = false;
  }

  static std::string IdProblem(const char* key, State state) {
    if (state == kAbsent) return absl::StrCat("missing key \"", key, "\"");
    return absl::StrCat(
        "\"", key, "\" must be an integer",
        state == kBadString ? " (string ids are not supported)" : "");
  }

  bool EndElement() {
    std::string kind = "missing_key";
    std::string error;
    if (non_object_) {
      kind = "bad_type";
      error = "must be an object";
    } else if (image_id_ != kOk) {
      error = IdProblem("image_id", image_id_);
    } else if (category_id_ != kOk) {
      error = IdProblem("category_id", category_id_);
    } else if (bbox_ == kAbsent) {
      error = "missing key \"bbox\"";
    } else if (score_ == kAbsent) {
      error = "missing key \"score\"";
    } else if (bbox_ != kOk) {
      kind = "bad_bbox";
      error = "bbox must be a list of 4 numbers";
    } else if (score_ != kOk) {
      kind = "bad_type";
      error = "\"score\" must be a number";
    }
    const size_t index = index_++;
    if (error.empty()) {
      out_.push_back(det_);
      return true;
    }
    if (sink_.Report(kind, absl::StrCat("results[", index, "]"), error)) {
      return true;
    }
    stopped_ = true;
    return false;
  }

  ProblemSink& sink_;
  std::vector<CocoDetection>& out_;
  int depth_ = 0;
  size_t index_ = 0;
  bool not_a_list_ = false;
  bool stopped_ = false;
  // The element being read.
  CocoDetection det_;
  Field field_ = kOther;
  State image_id_ = kAbsent, category_id_ = kAbsent, bbox_ = kAbsent,
        score_ = kAbsent;
  bool non_object_ = false;
  bool in_bbox_ = false;
  bool bbox_bad_ = false;
  int bbox_count_ = 0;
};

}  // namespace

namespace {

constexpr unsigned kResultsParseFlags =
    rapidjson::kParseFullPrecisionFlag | rapidjson::kParseNanAndInfFlag;

// A strict scanner for the common shape of results files: a list of flat
// objects with exactly the keys image_id, category_id, bbox (4 numbers) and
// score, in any order. Anything else (other keys, escapes, NaN, nesting,
// errors) makes it return false, and the RapidJSON parser takes over, which
// also produces the exact error messages. Numbers are correctly rounded:
// Clinger's fast path (mantissa < 2^53, |exponent| <= 22, one IEEE
// operation) covers the decimals results files contain; anything else goes
// through strtod.
class FastResultsScanner {
 public:
  explicit FastResultsScanner(absl::string_view text)
      : p_(text.data()), end_(text.data() + text.size()) {}

  // Scans a whole list "[...]".
  bool Scan(std::vector<CocoDetection>& out) {
    return ScanRange(out, true, true);
  }

  // Scans comma-separated objects, preceded by '[' if `open` and followed by
  // ']' if `close`; a slice of a list between element boundaries otherwise.
  bool ScanRange(std::vector<CocoDetection>& out, bool open, bool close) {
    return ScanEach(open, close, [&out](const CocoDetection& det) {
      out.push_back(det);
      return true;
    });
  }

  // As ScanRange, into exactly `count` preallocated slots; false unless the
  // slice holds exactly that many records.
  bool ScanInto(CocoDetection* out, size_t count, bool open, bool close) {
    size_t n = 0;
    const bool ok = ScanEach(open, close, [&](const CocoDetection& det) {
      if (n == count) return false;
      out[n++] = det;
      return true;
    });
    return ok && n == count;
  }

 private:
  template <typename Emit>
  bool ScanEach(bool open, bool close, Emit&& emit) {
    Skip();
    if (open) {
      if (!Eat('[')) return false;
      Skip();
      if (close && Eat(']')) return AtEnd();
    }
    while (true) {
      CocoDetection det;
      if (!Object(det) || !emit(det)) return false;
      Skip();
      if (Eat(',')) {
        Skip();
        continue;
      }
      if (close) return Eat(']') && AtEnd();
      return AtEnd();
    }
  }

  void Skip() {
    while (p_ < end_ &&
           (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t'))
      ++p_;
  }
  bool Eat(char c) {
    if (p_ < end_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }
  bool AtEnd() {
    Skip();
    return p_ == end_;
  }

  bool Object(CocoDetection& det) {
    if (!Eat('{')) return false;
    unsigned seen = 0;
    while (true) {
      Skip();
      if (!Eat('"')) return false;
      const char* key = p_;
      while (p_ < end_ && *p_ != '"' && *p_ != '\\') ++p_;
      if (p_ >= end_ || *p_ != '"') return false;
      const absl::string_view name(key, p_ - key);
      ++p_;
      Skip();
      if (!Eat(':')) return false;
      Skip();
      unsigned bit = 0;
      bool ok = false;
      if (name == "image_id") {
        bit = 1;
        ok = Integer(det.image_id);
      } else if (name == "category_id") {
        bit = 2;
        ok = Integer(det.category_id);
      } else if (name == "bbox") {
        bit = 4;
        ok = Box(det.bbox);
      } else if (name == "score") {
        bit = 8;
        ok = Number(det.score);
      }
      if (!ok || (seen & bit) != 0) return false;
      seen |= bit;
      Skip();
      if (Eat(',')) continue;
      if (Eat('}')) return seen == 15;
      return false;
    }
  }

  bool Box(std::array<double, 4>& box) {
    if (!Eat('[')) return false;
    for (int i = 0; i < 4; ++i) {
      Skip();
      if (!Number(box[i])) return false;
      Skip();
      if (!Eat(i < 3 ? ',' : ']')) return false;
    }
    return true;
  }

  bool Integer(int64_t& value) {
    const char* start = p_;
    const bool negative = Eat('-');
    uint64_t v = 0;
    int digits = 0;
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') {
      v = v * 10 + (*p_++ - '0');
      ++digits;
    }
    if (digits == 0 || digits > 18 || (digits > 1 && start[negative] == '0'))
      return false;
    if (p_ < end_ && (*p_ == '.' || *p_ == 'e' || *p_ == 'E')) return false;
    value = negative ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
    return true;
  }

  bool Number(double& value) {
    static constexpr double kPow10[] = {
        1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const char* start = p_;
    const bool negative = Eat('-');
    uint64_t mantissa = 0;
    int digits = 0;
    int exponent = 0;
    const char* int_start = p_;
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') {
      if (digits < 19) mantissa = mantissa * 10 + (*p_ - '0');
      ++digits;
      ++p_;
    }
    const int int_digits = static_cast<int>(p_ - int_start);
    if (int_digits == 0 || (int_digits > 1 && *int_start == '0')) return false;
    if (Eat('.')) {
      const char* frac = p_;
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') {
        if (digits < 19) {
          mantissa = mantissa * 10 + (*p_ - '0');
          --exponent;
        }
        ++digits;
        ++p_;
      }
      if (p_ == frac) return false;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      bool exp_negative = false;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) exp_negative = *p_++ == '-';
      int e = 0;
      const char* exp_start = p_;
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9' && e < 100000)
        e = e * 10 + (*p_++ - '0');
      if (p_ == exp_start) return false;
      exponent += exp_negative ? -e : e;
    }
    if (digits <= 19 && mantissa <= (uint64_t{1} << 53) && exponent >= -22 &&
        exponent <= 22) {
      double v = static_cast<double>(mantissa);
      v = exponent < 0 ? v / kPow10[-exponent] : v * kPow10[exponent];
      value = negative ? -v : v;
      return true;
    }
    // Rare: long mantissas or large exponents. strtod is correctly rounded.
    const std::string token(start, p_ - start);
    value = std::strtod(token.c_str(), nullptr);
    return std::isfinite(value);
  }

  const char* p_;
  const char* end_;
};

// Parses one self-contained results list; false on any parse error or
// problem (the caller then re-parses sequentially for the exact message).
bool ParseResultsChunk(std::string& chunk, std::vector<CocoDetection>& out) {
  const size_t before = out.size();
  if (FastResultsScanner(chunk).Scan(out)) return true;
  out.resize(before);
  ProblemSink sink("", nullptr);
  ResultsHandler handler(sink, out);
  rapidjson::Reader reader;
  // In situ: the chunk is our own copy, so strings need no copying.
  rapidjson::InsituStringStream stream(chunk.data());
  return static_cast<bool>(
      reader.Parse<kResultsParseFlags | rapidjson::kParseInsituFlag>(stream,
                                                                     handler));
}

// Occurrences of `c` in `text` (memchr is vectorised; a plain loop is not).
size_t CountChar(absl::string_view text, char c) {
  size_t n = 0;
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) {
    p = static_cast<const char*>(std::memchr(p, c, end - p));
    if (p == nullptr) break;
    ++n;
    ++p;
  }
  return n;
}

// Offsets of '}' characters that end a top-level element and are followed by
// ", {": candidate split points near each 1/n of `json`. A candidate inside a
// string or a nested value makes its chunk fail to parse (the appended ']'
// cannot close everything), so a wrong guess is always detected.
std::vector<size_t> SplitPoints(absl::string_view json, int n) {
  std::vector<size_t> cuts;
  for (int part = 1; part < n; ++part) {
    size_t pos = json.size() * part / n;
    while (pos < json.size()) {
      pos = json.find('}', pos);
      if (pos == absl::string_view::npos) break;
      size_t next = json.find_first_not_of(" \t\r\n", pos + 1);
      if (next != absl::string_view::npos && json[next] == ',') {
        next = json.find_first_not_of(" \t\r\n", next + 1);
        if (next != absl::string_view::npos && json[next] == '{') {
          cuts.push_back(pos);
          break;
        }
      }
      ++pos;
    }
  }
  return cuts;
}

// Parses large files in parallel chunks; nullopt if it cannot (then the
// sequential parser runs and reports any error exactly).
std::optional<std::vector<CocoDetection>> ParseResultsInParallel(
    absl::string_view json) {
  constexpr size_t kMinChunk = size_t{4} << 20;
  const int n = static_cast<int>(
      std::min<size_t>({std::max(1u, std::thread::hardware_concurrency()), 8,
                        json.size() / kMinChunk}));
  if (n < 2) return std::nullopt;
  const std::vector<size_t> cuts = SplitPoints(json, n);
  if (static_cast<int>(cuts.size()) != n - 1) return std::nullopt;
  // First try the strict scanner on slices of the mapped text (no copies).
  {
    std::vector<absl::string_view> slices;
    size_t begin = 0;
    for (size_t cut : cuts) {
      slices.push_back(json.substr(begin, cut + 1 - begin));
      begin = json.find(',', cut) + 1;
    }
    slices.push_back(json.substr(begin));
    const size_t n_slices = slices.size();
    // In the strict grammar every '{' opens a record, so counting them
    // sizes each slice's share of one output vector exactly (a miscount
    // only means the scan fails and the general parser runs).
    std::vector<size_t> offsets(n_slices + 1, 0);
    {
      std::vector<std::thread> counters;
      for (size_t i = 1; i < n_slices; ++i) {
        counters.emplace_back(
            [&, i] { offsets[i + 1] = CountChar(slices[i], '{'); });
      }
      offsets[1] = CountChar(slices[0], '{');
      for (std::thread& counter : counters) counter.join();
      for (size_t i = 1; i <= n_slices; ++i) offsets[i] += offsets[i - 1];
    }
    std::vector<CocoDetection> all;
    all.reserve(offsets[n_slices]);
    AdviseHugePages(all.data(), offsets[n_slices] * sizeof(CocoDetection));
    all.resize(offsets[n_slices]);
    std::vector<char> ok(n_slices, 0);
    auto scan = [&](size_t i) {
      ok[i] = FastResultsScanner(slices[i]).ScanInto(
          all.data() + offsets[i], offsets[i + 1] - offsets[i], i == 0,
          i + 1 == n_slices);
    };
    std::vector<std::thread> workers;
    for (size_t i = 1; i < n_slices; ++i) workers.emplace_back(scan, i);
    scan(0);
    for (std::thread& worker : workers) worker.join();
    if (std::find(ok.begin(), ok.end(), 0) == ok.end()) return all;
  }
  std::vector<std::string> chunks;
  size_t begin = 0;
  for (size_t cut : cuts) {
    std::string chunk = begin == 0 ? "" : "[";
    chunk.append(json.data() + begin, cut + 1 - begin);
    chunk += "]";
    chunks.push_back(std::move(chunk));
    begin = json.find(',', cut) + 1;
  }
  chunks.push_back("[" + std::string(json.substr(begin)));
  std::vector<std::vector<CocoDetection>> parts(chunks.size());
  std::vector<char> ok(chunks.size(), 0);
  for (auto& part : parts) part.reserve(json.size() / chunks.size() / 96);
  std::vector<std::thread> workers;
  for (size_t i = 1; i < chunks.size(); ++i) {
    workers.emplace_back(
        [&, i] { ok[i] = ParseResultsChunk(chunks[i], parts[i]); });
  }
  ok[0] = ParseResultsChunk(chunks[0], parts[0]);
  for (std::thread& worker : workers) worker.join();
  if (std::find(ok.begin(), ok.end(), 0) != ok.end()) return std::nullopt;
  std::vector<CocoDetection> all;
  size_t total = 0;
  for (const auto& part : parts) total += part.size();
  all.reserve(total);
  for (const auto& part : parts)
    all.insert(all.end(), part.begin(), part.end());
  return all;
}

}  // namespace

absl::StatusOr<std::vector<CocoDetection>> ParseCocoResults(
    absl::string_view json, absl::string_view source_name,
    std::vector<CocoProblem>* problems) {
  if (problems == nullptr) {
    std::optional<std::vector<CocoDetection>> fast =
        ParseResultsInParallel(json);
    if (fast.has_value()) return *std::move(fast);
    std::vector<CocoDetection> scanned;
    scanned.reserve(json.size() / 96);
    if (FastResultsScanner(json).Scan(scanned)) return scanned;
  }
  ProblemSink sink(source_name, problems);
  std::vector<CocoDetection> detections;
  detections.reserve(json.size() / 96);
  ResultsHandler handler(sink, detections);
  rapidjson::Reader reader;
  rapidjson::MemoryStream stream(json.data(), json.size());
  const rapidjson::ParseResult ok =
      reader.Parse<kResultsParseFlags>(stream, handler);
  if (handler.not_a_list()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_name,
                     ": a COCO results file must be a JSON list of "
                     "{image_id, category_id, bbox, score}"));
  }
  if (handler.stopped()) return sink.status();
  if (!ok) {
    return JsonErrorAt(json, source_name, ok.Offset(),
                       rapidjson::GetParseError_En(ok.Code()));
  }
  return detections;
}

absl::StatusOr<std::vector<CocoDetection>> ReadCocoResults(
    absl::string_view path, std::vector<CocoProblem>* problems) {
  if (path == "-") {
    std::string text(std::istreambuf_iterator<char>(std::cin), {});
    return ParseCocoResults(text, "<stdin>", problems);
  }
  CVT_ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open(path));
  return ParseCocoResults(file.contents(), path, problems);
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
