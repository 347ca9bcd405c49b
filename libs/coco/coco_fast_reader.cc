#include "libs/coco/coco_fast_reader.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "rapidjson/error/error.h"
#include "rapidjson/reader.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace cvt {
namespace coco_internal {
namespace {

// The flags of libs/base/json.h's ParseJson, so that every number parses to
// the same double.
constexpr unsigned kFlags =
    rapidjson::kParseFullPrecisionFlag | rapidjson::kParseNanAndInfFlag;

// A RapidJSON input stream over [begin, end), optionally preceded by a short
// synthetic prefix. Peek() returns '\0' at the end.
class SpanStream {
 public:
  using Ch = char;

  SpanStream(const char* begin, const char* end) : cur_(begin), end_(end) {}
  SpanStream(absl::string_view prefix, const char* begin, const char* end)
      : cur_(prefix.data()),
        end_(prefix.data() + prefix.size()),
        next_(begin),
        next_end_(end) {
    if (cur_ == end_) Advance();
  }

  Ch Peek() const { return cur_ != end_ ? *cur_ : '\0'; }
  Ch Take() {
    if (cur_ == end_) return '\0';
    const Ch c = *cur_++;
    ++consumed_;
    if (cur_ == end_) Advance();
    return c;
  }
  size_t Tell() const { return consumed_; }

  // Unused: only for in-situ parsing.
  Ch* PutBegin() { return nullptr; }
  void Put(Ch) {}
  void Flush() {}
  size_t PutEnd(Ch*) { return 0; }

 private:
  void Advance() {
    if (next_ != nullptr) {
      cur_ = next_;
      end_ = next_end_;
      next_ = nullptr;
    }
  }

  const char* cur_;
  const char* end_;
  const char* next_ = nullptr;
  const char* next_end_ = nullptr;
  size_t consumed_ = 0;
};

enum class List { kNone, kImages, kAnnotations, kCategories };

// A JSON number as the DOM reader would store it.
struct Number {
  bool is_int64 = false;  // Fits int64_t (Int, Uint, Int64, small Uint64).
  bool is_double = false;
  bool is_big_uint64 = false;  // A Uint64 beyond int64_t.
  int64_t i = 0;
  uint64_t u = 0;
  double d = 0;  // For doubles, and for big Uint64 values.

  double AsDouble() const { return is_int64 ? static_cast<double>(i) : d; }
  // As coco.cc's ReadId.
  bool AsId(int64_t* out) const {
    if (is_int64) {
      *out = i;
      return true;
    }
    if (is_double && std::isfinite(d) && d == std::floor(d) &&
        std::fabs(d) < 9.2e18) {
      *out = static_cast<int64_t>(d);
      return true;
    }
    return false;
  }
};

// Builds a CocoDataset from SAX events, or gives up (`unclean`) on anything
// the DOM reader would have to report or resolve.
class CleanHandler {
 public:
  // `annotation_capacity`: reserved up front, so that the list never moves
  // while it grows (untouched capacity costs address space, not memory).
  explicit CleanHandler(size_t annotation_capacity) {
    dataset_.annotations.reserve(annotation_capacity);
  }

  bool Null() { return Scalar(nullptr, nullptr, nullptr); }
  bool Bool(bool b) { return Scalar(&b, nullptr, nullptr); }
  bool Int(int v) { return IntValue(v); }
  bool Uint(unsigned v) { return IntValue(v); }
  bool Int64(int64_t v) { return IntValue(v); }
  bool Uint64(uint64_t v) {
    if (v <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return IntValue(static_cast<int64_t>(v));
    }
    Number n;
    n.is_big_uint64 = true;
    n.u = v;
    n.d = static_cast<double>(v);
    return Scalar(nullptr, &n, nullptr);
  }
  bool Double(double v) {
    Number n;
    n.is_double = true;
    n.d = v;
    return Scalar(nullptr, &n, nullptr);
  }
  bool RawNumber(const char*, rapidjson::SizeType, bool) { return Fail(); }
  bool String(const char* s, rapidjson::SizeType n, bool) {
    const absl::string_view text(s, n);
    return Scalar(nullptr, nullptr, &text);
  }
  bool StartObject() { return Start(/*object=*/true); }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    if (skip_depth_ > 0) return true;
    if (raw_depth_ > 0) return raw_->Key(s, n) || Fail();
    return OnKey(absl::string_view(s, n));
  }
  bool EndObject(rapidjson::SizeType) { return End(/*object=*/true); }
  bool StartArray() { return Start(/*object=*/false); }
  bool EndArray(rapidjson::SizeType) { return End(/*object=*/false); }

  bool unclean() const { return unclean_; }
  bool done() const { return mode_ == Mode::kDone; }
  // For split verification: inside a list, between records, after at
  // least one record.
  bool BetweenRecords(List* list) const {
    *list = list_;
    return mode_ == Mode::kList && records_in_list_ > 0 && pending_ == kNone;
  }

  CocoDataset& dataset() { return dataset_; }
  bool seen(List list) const { return seen_[static_cast<int>(list)]; }
  bool seen_info() const { return seen_info_; }
  bool seen_licenses() const { return seen_licenses_; }

 private:
  enum class Mode { kStart, kTop, kList, kRecord, kBbox, kDone };
  // What the next value is for.
  enum Pending {
    kNone,
    kList,
    kInfo,
    kLicenses,
    kSkip,
    kId,
    kImageId,
    kCategoryId,
    kFileName,
    kWidth,
    kHeight,
    kBboxField,
    kArea,
    kIscrowd,
    kIgnore,
    kName,
    kSupercategory,
    kNumPending,
  };

  bool Fail() {
    unclean_ = true;
    return false;
  }

  bool IntValue(int64_t v) {
    Number n;
    n.is_int64 = true;
    n.i = v;
    return Scalar(nullptr, &n, nullptr);
  }

  // Exactly one of `b`, `n`, `s` is set, or none for null.
  bool Scalar(const bool* b, const Number* n, const absl::string_view* s) {
    if (skip_depth_ > 0) return true;
    if (raw_depth_ > 0) return RawScalar(b, n, s);
    switch (mode_) {
      case Mode::kStart:
      case Mode::kTop:
      case Mode::kList:
      case Mode::kDone:
        break;  // A scalar where a structure belongs.
      case Mode::kBbox:
        if (n == nullptr || bbox_count_ >= 4) return Fail();
        record_bbox_[bbox_count_++] = n->AsDouble();
        return true;
      case Mode::kRecord:
        return RecordScalar(b, n, s);
    }
    if (mode_ == Mode::kTop && (pending_ == kSkip)) {
      pending_ = kNone;
      return true;
    }
    if (mode_ == Mode::kTop && (pending_ == kInfo || pending_ == kLicenses)) {
      // A scalar info/licenses value.
      BeginRaw();
      raw_depth_ = 0;
      if (!RawScalar(b, n, s)) return false;
      return FinishRaw();
    }
    return Fail();
  }

  bool RecordScalar(const bool* b, const Number* n,
                    const absl::string_view* s) {
    const Pending field = pending_;
    pending_ = kNone;
    switch (field) {
      case kSkip:
        return true;
      case kId:
      case kImageId:
      case kCategoryId: {
        int64_t id;
        if (n == nullptr || !n->AsId(&id)) return Fail();
        (field == kId        ? id_
         : field == kImageId ? image_id_
                             : category_id_) = id;
        return true;
      }
      case kFileName:
      case kName:
        if (s == nullptr) return Fail();
        text_ = std::string(*s);
        return true;
      case kSupercategory:
        if (s != nullptr) supercategory_ = std::string(*s);
        return true;
      case kWidth:
      case kHeight: {
        int64_t size;
        if (n == nullptr || !n->AsId(&size) || size < 0) return Fail();
        (field == kWidth ? width_ : height_) = size;
        return true;
      }
      case kArea:
        if (n == nullptr) return Fail();
        area_ = n->AsDouble();
        return true;
      case kIscrowd:
      case kIgnore: {
        int64_t flag;
        if (b != nullptr) {
          flag = *b;
        } else if (n == nullptr || !n->AsId(&flag)) {
          return Fail();
        }
        (field == kIscrowd ? iscrowd_ : ignore_) = static_cast<int>(flag != 0);
        return true;
      }
      case kBboxField:  // Not an array.
      case kNone:
      case kList:
      case kInfo:
      case kLicenses:
      case kNumPending:
        break;
    }
    return Fail();
  }

  bool Start(bool object) {
    if (skip_depth_ > 0) {
      ++skip_depth_;
      return true;
    }
    if (raw_depth_ > 0) {
      ++raw_depth_;
      return (object ? raw_->StartObject() : raw_->StartArray()) || Fail();
    }
    switch (mode_) {
      case Mode::kStart:
        if (!object) return Fail();
        mode_ = Mode::kTop;
        return true;
      case Mode::kTop:
        if (pending_ == kSkip) {
          pending_ = kNone;
          skip_depth_ = 1;
          return true;
        }
        if (pending_ == kInfo || pending_ == kLicenses) {
          BeginRaw();
          raw_depth_ = 1;
          return (object ? raw_->StartObject() : raw_->StartArray()) || Fail();
        }
        if (pending_ == kList && !object) {
          pending_ = kNone;
          mode_ = Mode::kList;
          records_in_list_ = 0;
          return true;
        }
        return Fail();
      case Mode::kList:
        if (!object) return Fail();
        mode_ = Mode::kRecord;
        ResetRecord();
        return true;
      case Mode::kRecord:
        if (pending_ == kBboxField && !object) {
          pending_ = kNone;
          mode_ = Mode::kBbox;
          bbox_count_ = 0;
          return true;
        }
        if (pending_ == kSkip || pending_ == kSupercategory) {
          pending_ = kNone;
          skip_depth_ = 1;
          return true;
        }
        return Fail();
      case Mode::kBbox:
      case Mode::kDone:
        break;
    }
    return Fail();
  }

  bool End(bool object) {
    if (skip_depth_ > 0) {
      --skip_depth_;
      return true;
    }
    if (raw_depth_ > 0) {
      if (!(object ? raw_->EndObject() : raw_->EndArray())) return Fail();
      if (--raw_depth_ == 0) return FinishRaw();
      return true;
    }
    switch (mode_) {
      case Mode::kTop:
        if (!object || pending_ != kNone) return Fail();
        mode_ = Mode::kDone;
        return true;
      case Mode::kList:
        if (object) return Fail();
        mode_ = Mode::kTop;
        list_ = List::kNone;
        return true;
      case Mode::kRecord:
        if (!object || pending_ != kNone) return Fail();
        mode_ = Mode::kList;
        ++records_in_list_;
        return FinishRecord();
      case Mode::kBbox:
        if (object || bbox_count_ != 4) return Fail();
        mode_ = Mode::kRecord;
        have_bbox_ = true;
        return true;
      case Mode::kStart:
      case Mode::kDone:
        break;
    }
    return Fail();
  }

  bool OnKey(absl::string_view key) {
    if (mode_ == Mode::kTop) {
      if (pending_ != kNone) return Fail();
      List list = List::kNone;
      if (key == "images") list = List::kImages;
      if (key == "annotations") list = List::kAnnotations;
      if (key == "categories") list = List::kCategories;
      if (list != List::kNone) {
        bool& seen = seen_[static_cast<int>(list)];
        if (seen) return Fail();  // Duplicate key: the DOM takes the first.
        seen = true;
        list_ = list;
        pending_ = kList;
        return true;
      }
      if (key == "info" || key == "licenses") {
        bool& seen = key == "info" ? seen_info_ : seen_licenses_;
        if (seen) return Fail();
        seen = true;
        pending_ = key == "info" ? kInfo : kLicenses;
        return true;
      }
      pending_ = kSkip;
      return true;
    }
    if (mode_ != Mode::kRecord || pending_ != kNone) return Fail();
    Pending field = kSkip;
    if (key == "id") {
      field = kId;
    } else {
      switch (list_) {
        case List::kImages:
          if (key == "file_name") field = kFileName;
          if (key == "width") field = kWidth;
          if (key == "height") field = kHeight;
          break;
        case List::kAnnotations:
          if (key == "image_id") field = kImageId;
          if (key == "category_id") field = kCategoryId;
          if (key == "bbox") field = kBboxField;
          if (key == "area") field = kArea;
          if (key == "iscrowd") field = kIscrowd;
          if (key == "ignore") field = kIgnore;
          break;
        case List::kCategories:
          if (key == "name") field = kName;
          if (key == "supercategory") field = kSupercategory;
          break;
        case List::kNone:
          return Fail();
      }
    }
    if (field != kSkip) {
      if (fields_seen_ & (1u << field)) return Fail();  // Duplicate key.
      fields_seen_ |= 1u << field;
    }
    pending_ = field;
    return true;
  }

  void ResetRecord() {
    fields_seen_ = 0;
    have_bbox_ = false;
    area_.reset();
    iscrowd_.reset();
    ignore_.reset();
    width_ = height_ = 0;
    text_.clear();
    supercategory_.clear();
  }

  bool Has(Pending field) const { return fields_seen_ & (1u << field); }

  bool FinishRecord() {
    switch (list_) {
      case List::kImages: {
        if (!Has(kId) || !Has(kFileName)) return Fail();
        CocoImage& image = dataset_.images.emplace_back();
        image.id = id_;
        image.file_name = std::move(text_);
        image.width = width_;
        image.height = height_;
        return true;
      }
      case List::kAnnotations: {
        if (!Has(kId) || !Has(kImageId) || !Has(kCategoryId) || !have_bbox_) {
          return Fail();
        }
        CocoAnnotation& ann = dataset_.annotations.emplace_back();
        ann.id = id_;
        ann.image_id = image_id_;
        ann.category_id = category_id_;
        ann.bbox = record_bbox_;
        ann.area = area_;
        ann.iscrowd = iscrowd_;
        ann.ignore = ignore_;
        return true;
      }
      case List::kCategories: {
        if (!Has(kId) || !Has(kName)) return Fail();
        CocoCategory& cat = dataset_.categories.emplace_back();
        cat.id = id_;
        cat.name = std::move(text_);
        cat.supercategory = std::move(supercategory_);
        return true;
      }
      case List::kNone:
        break;
    }
    return Fail();
  }

  void BeginRaw() {
    raw_buffer_.Clear();
    raw_.emplace(raw_buffer_);
  }
  bool RawScalar(const bool* b, const Number* n, const absl::string_view* s) {
    bool ok;
    if (b != nullptr) {
      ok = raw_->Bool(*b);
    } else if (n != nullptr) {
      ok = n->is_int64        ? raw_->Int64(n->i)
           : n->is_big_uint64 ? raw_->Uint64(n->u)
                              : raw_->Double(n->d);
    } else if (s != nullptr) {
      ok = raw_->String(s->data(), static_cast<rapidjson::SizeType>(s->size()));
    } else {
      ok = raw_->Null();
    }
    return ok || Fail();
  }
  bool FinishRaw() {
    std::string text(raw_buffer_.GetString(), raw_buffer_.GetSize());
    (pending_ == kInfo ? dataset_.info_json : dataset_.licenses_json) =
        std::move(text);
    pending_ = kNone;
    raw_.reset();
    return true;
  }

  Mode mode_ = Mode::kStart;
  Pending pending_ = kNone;
  List list_ = List::kNone;
  int64_t records_in_list_ = 0;
  int skip_depth_ = 0;
  int raw_depth_ = 0;
  bool unclean_ = false;
  bool seen_[4] = {false, false, false, false};
  bool seen_info_ = false;
  bool seen_licenses_ = false;

  // The record being read.
  uint32_t fields_seen_ = 0;
  int64_t id_ = 0, image_id_ = 0, category_id_ = 0, width_ = 0, height_ = 0;
  std::array<double, 4> record_bbox_ = {0, 0, 0, 0};
  int bbox_count_ = 0;
  bool have_bbox_ = false;
  std::optional<double> area_;
  std::optional<int> iscrowd_, ignore_;
  std::string text_, supercategory_;

  rapidjson::StringBuffer raw_buffer_;
  std::optional<rapidjson::Writer<rapidjson::StringBuffer>> raw_;

  CocoDataset dataset_;
};

// Parses [begin, end) as a whole document. False if not clean.
// No annotation record is shorter than this many bytes:
// {"id":1,"image_id":1,"category_id":1,"bbox":[1,2,3,4]}
constexpr size_t kMinAnnotationBytes = 54;
size_t AnnotationCapacity(size_t bytes) {
  return std::min<size_t>(bytes / kMinAnnotationBytes, size_t{1} << 26);
}

bool ParseWhole(absl::string_view json, CocoDataset* out) {
  CleanHandler handler(AnnotationCapacity(json.size()));
  SpanStream stream(json.data(), json.data() + json.size());
  rapidjson::Reader reader;
  const rapidjson::ParseResult result = reader.Parse<kFlags>(stream, handler);
  if (result.IsError() || handler.unclean() || !handler.done() ||
      !handler.seen(List::kImages) || !handler.seen(List::kAnnotations) ||
      !handler.seen(List::kCategories)) {
    return false;
  }
  *out = std::move(handler.dataset());
  return true;
}

// A position in the second half of the annotations list just before a
// record ("}, {" with any whitespace), or npos. Only a candidate: the split
// is verified by parsing.
size_t SplitCandidate(absl::string_view json) {
  size_t from = json.find("\"annotations\"");
  if (from == absl::string_view::npos) return from;
  from += (json.size() - from) / 2;
  while (from < json.size()) {
    const size_t brace = json.find('}', from);
    if (brace == absl::string_view::npos) return brace;
    size_t p = brace + 1;
    auto skip_ws = [&] {
      while (p < json.size() && (json[p] == ' ' || json[p] == '\n' ||
                                 json[p] == '\r' || json[p] == '\t')) {
        ++p;
      }
    };
    skip_ws();
    if (p < json.size() && json[p] == ',') {
      ++p;
      skip_ws();
      if (p < json.size() && json[p] == '{') return p;
    }
    from = brace + 1;
  }
  return absl::string_view::npos;
}

// Two threads: [0, split) on this one, "{\"annotations\":[" + [split, end)
// on another; the first parse must stop exactly at `split`, between two
// annotation records. False if the split or the file is not clean.
bool ParseSplit(absl::string_view json, size_t split, CocoDataset* out) {
  CleanHandler tail(AnnotationCapacity(json.size() - split));
  rapidjson::ParseResult tail_result;
  std::thread tail_thread([&] {
    SpanStream stream("{\"annotations\":[", json.data() + split,
                      json.data() + json.size());
    rapidjson::Reader reader;
    tail_result = reader.Parse<kFlags>(stream, tail);
  });
  // The head's list receives the tail's records too.
  CleanHandler head(AnnotationCapacity(json.size()));
  SpanStream stream(json.data(), json.data() + split);
  rapidjson::Reader reader;
  const rapidjson::ParseResult head_result = reader.Parse<kFlags>(stream, head);
  tail_thread.join();
  List list;
  // The head must have consumed everything up to `split` and be waiting for
  // the next value of the annotations list.
  if (head.unclean() || !head_result.IsError() ||
      head_result.Code() != rapidjson::kParseErrorValueInvalid ||
      head_result.Offset() != split || !head.BetweenRecords(&list) ||
      list != List::kAnnotations) {
    return false;
  }
  if (tail_result.IsError() || tail.unclean() || !tail.done()) return false;
  // Each top-level key in exactly one half ("annotations" is in both).
  for (List l : {List::kImages, List::kCategories}) {
    if (head.seen(l) == tail.seen(l)) return false;
  }
  if ((head.seen_info() && tail.seen_info()) ||
      (head.seen_licenses() && tail.seen_licenses())) {
    return false;
  }
  CocoDataset& a = head.dataset();
  CocoDataset& b = tail.dataset();
  CocoDataset merged;
  merged.images = std::move(head.seen(List::kImages) ? a.images : b.images);
  merged.categories =
      std::move(head.seen(List::kCategories) ? a.categories : b.categories);
  merged.annotations = std::move(a.annotations);
  merged.annotations.insert(merged.annotations.end(),
                            std::make_move_iterator(b.annotations.begin()),
                            std::make_move_iterator(b.annotations.end()));
  merged.info_json = head.seen_info() ? a.info_json : b.info_json;
  merged.licenses_json =
      head.seen_licenses() ? a.licenses_json : b.licenses_json;
  *out = std::move(merged);
  return true;
}

}  // namespace

FastParseResult TryParseCleanCocoDataset(absl::string_view json, int threads) {
  FastParseResult result;
  constexpr size_t kMinSplitBytes = 1 << 20;
  if (threads >= 2 && json.size() >= kMinSplitBytes) {
    const size_t split = SplitCandidate(json);
    if (split != absl::string_view::npos &&
        ParseSplit(json, split, &result.dataset)) {
      result.clean = true;
      return result;
    }
  }
  result.clean = ParseWhole(json, &result.dataset);
  return result;
}

}  // namespace coco_internal

absl::StatusOr<CocoDataset> ParseCocoDatasetFast(
    absl::string_view json, absl::string_view source_name,
    std::vector<CocoProblem>* problems, int threads) {
  coco_internal::FastParseResult fast =
      coco_internal::TryParseCleanCocoDataset(json, threads);
  if (fast.clean) return std::move(fast.dataset);
  return ParseCocoDataset(json, source_name, problems);
}

}  // namespace cvt
