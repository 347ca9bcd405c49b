#include "libs/base/json.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "libs/base/file_io.h"
#include "rapidjson/error/en.h"

namespace cvt {

absl::StatusOr<rapidjson::Document> ParseJson(absl::string_view text,
                                              absl::string_view source_name) {
  rapidjson::Document document;
  constexpr unsigned kFlags =
      rapidjson::kParseFullPrecisionFlag | rapidjson::kParseNanAndInfFlag;
  document.Parse<kFlags>(text.data(), text.size());
  if (!document.HasParseError()) return document;
  return JsonErrorAt(text, source_name, document.GetErrorOffset(),
                     rapidjson::GetParseError_En(document.GetParseError()));
}

absl::Status JsonErrorAt(absl::string_view text, absl::string_view source_name,
                         size_t offset, absl::string_view message) {
  offset = std::min(offset, text.size());
  const absl::string_view before = text.substr(0, offset);
  const size_t line = 1 + std::count(before.begin(), before.end(), '\n');
  const size_t line_start = before.rfind('\n');
  const size_t column =
      line_start == absl::string_view::npos ? offset + 1 : offset - line_start;
  return absl::InvalidArgumentError(
      absl::StrCat(source_name, ":", line, ":", column, ": ", message));
}

absl::StatusOr<rapidjson::Document> ReadJsonFile(absl::string_view path) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  return ParseJson(*text, path);
}

std::string FormatDouble(double value) {
  char buffer[64];
  const std::to_chars_result result =
      std::to_chars(buffer, buffer + sizeof(buffer), value);
  std::string text(buffer, result.ptr);
  if (text.find_first_of(".eEn") == std::string::npos) {
    text += ".0";
  }
  return text;
}

JsonWriter::JsonWriter(JsonWriterOptions options) : options_(options) {
  if (options_.indent > 0) {
    pretty_ =
        std::make_unique<rapidjson::PrettyWriter<rapidjson::StringBuffer>>(
            buffer_);
    pretty_->SetIndent(' ', static_cast<unsigned>(options_.indent));
  } else {
    compact_ =
        std::make_unique<rapidjson::Writer<rapidjson::StringBuffer>>(buffer_);
  }
}

JsonWriter::~JsonWriter() = default;

template <typename Fn>
void JsonWriter::Write(Fn&& fn) {
  if (pretty_ != nullptr) {
    fn(*pretty_);
  } else {
    fn(*compact_);
  }
}

void JsonWriter::StartObject() {
  Write([](auto& w) { w.StartObject(); });
}
void JsonWriter::EndObject() {
  Write([](auto& w) { w.EndObject(); });
}
void JsonWriter::StartArray() {
  Write([](auto& w) { w.StartArray(); });
}
void JsonWriter::EndArray() {
  Write([](auto& w) { w.EndArray(); });
}
void JsonWriter::Key(absl::string_view key) {
  last_key_ = std::string(key);
  Write([key](auto& w) {
    w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  });
}
void JsonWriter::String(absl::string_view value) {
  Write([value](auto& w) {
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  });
}
void JsonWriter::Bool(bool value) {
  Write([value](auto& w) { w.Bool(value); });
}
void JsonWriter::Null() {
  Write([](auto& w) { w.Null(); });
}
void JsonWriter::Int(int64_t value) {
  Write([value](auto& w) { w.Int64(value); });
}
void JsonWriter::Uint(uint64_t value) {
  Write([value](auto& w) { w.Uint64(value); });
}

void JsonWriter::Double(double value) {
  std::string text;
  if (std::isfinite(value)) {
    text = FormatDouble(value);
  } else {
    switch (options_.non_finite) {
      case NonFinitePolicy::kReject:
        if (status_.ok()) {
          status_ = absl::InvalidArgumentError(absl::StrCat(
              "cannot write the non-finite number ", value,
              last_key_.empty() ? ""
                                : absl::StrCat(" (key \"", last_key_, "\")"),
              " as JSON"));
        }
        text = "null";
        break;
      case NonFinitePolicy::kNull:
        text = "null";
        break;
      case NonFinitePolicy::kPythonLiterals:
        text =
            std::isnan(value) ? "NaN" : (value > 0 ? "Infinity" : "-Infinity");
        break;
    }
  }
  Write([&text](auto& w) {
    w.RawValue(text.data(), text.size(), rapidjson::kNumberType);
  });
}

void JsonWriter::Raw(absl::string_view json_text) {
  Write([json_text](auto& w) {
    w.RawValue(json_text.data(), json_text.size(), rapidjson::kObjectType);
  });
}

absl::StatusOr<std::string> JsonWriter::Finish() {
  if (!status_.ok()) return status_;
  const bool complete =
      pretty_ != nullptr ? pretty_->IsComplete() : compact_->IsComplete();
  if (!complete) {
    return absl::InvalidArgumentError("incomplete JSON document");
  }
  std::string text(buffer_.GetString(), buffer_.GetSize());
  if (options_.indent > 0) text += "\n";
  return text;
}

}  // namespace cvt
