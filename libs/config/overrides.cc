#include "libs/config/overrides.h"

#include <memory>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

namespace cvt {
namespace {

using ::google::protobuf::Descriptor;
using ::google::protobuf::FieldDescriptor;
using ::google::protobuf::Message;

class CollectErrors : public google::protobuf::io::ErrorCollector {
 public:
  explicit CollectErrors(std::string source) : source_(std::move(source)) {}
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (first_.empty()) {
      first_ =
          absl::StrCat(source_, ":", line + 1, ":", column + 1, ": ", message);
    }
  }
  const std::string& first() const { return first_; }

 private:
  std::string source_;
  std::string first_;
};

// Parses `text` into `message` with errors reported by a bare message (for
// override values, where line and column mean nothing to the user).
bool ParseValueText(const std::string& text, Message* message,
                    std::string* error) {
  CollectErrors errors("");
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  if (parser.MergeFromString(text, message)) return true;
  // Drop the ":<line>:<column>: " prefix.
  const std::string& first = errors.first();
  const size_t cut = first.find(": ");
  *error = cut == std::string::npos ? first : first.substr(cut + 2);
  return false;
}

std::string FieldNames(const Descriptor* type) {
  std::vector<std::string> names;
  for (int i = 0; i < type->field_count(); ++i) {
    names.push_back(type->field(i)->name());
  }
  return absl::StrJoin(names, ", ");
}

// Quotes `value` for a string field unless the user already quoted it.
std::string QuoteString(absl::string_view value) {
  if (value.size() >= 2 && ((value.front() == '"' && value.back() == '"') ||
                            (value.front() == '\'' && value.back() == '\''))) {
    return std::string(value);
  }
  return absl::StrCat("\"", absl::CEscape(value), "\"");
}

// Builds the text-format body that sets `field` to `value`.
std::string FieldText(const FieldDescriptor* field, absl::string_view value) {
  const std::string& name = field->name();
  if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
    absl::string_view body = absl::StripAsciiWhitespace(value);
    if (field->is_repeated()) {
      if (absl::StartsWith(body, "[")) return absl::StrCat(name, ": ", body);
      return absl::StrCat(name, ": [", body, "]");
    }
    if (absl::StartsWith(body, "{")) return absl::StrCat(name, " ", body);
    return absl::StrCat(name, " { ", body, " }");
  }
  if (field->is_repeated()) {
    absl::string_view list = absl::StripAsciiWhitespace(value);
    if (absl::StartsWith(list, "[") && absl::EndsWith(list, "]")) {
      list = list.substr(1, list.size() - 2);
    }
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_STRING) {
      return absl::StrCat(name, ": [", list, "]");
    }
    std::vector<std::string> items;
    for (absl::string_view item :
         absl::StrSplit(list, ',', absl::SkipWhitespace())) {
      items.push_back(QuoteString(absl::StripAsciiWhitespace(item)));
    }
    return absl::StrCat(name, ": [", absl::StrJoin(items, ", "), "]");
  }
  if (field->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
    return absl::StrCat(name, ": ", QuoteString(value));
  }
  return absl::StrCat(name, ": ", value);
}

}  // namespace

absl::Status MergeTextProto(absl::string_view text,
                            absl::string_view source_name, Message* message) {
  CollectErrors errors{std::string(source_name)};
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  if (!parser.MergeFromString(std::string(text), message)) {
    return absl::InvalidArgumentError(
        errors.first().empty() ? absl::StrCat(source_name, ": cannot parse")
                               : errors.first());
  }
  return absl::OkStatus();
}

absl::Status ApplyOverride(absl::string_view assignment, Message* message) {
  const size_t equals = assignment.find('=');
  if (equals == absl::string_view::npos || equals == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "override '", assignment, "' is not of the form path.to.field=value"));
  }
  const std::string path(
      absl::StripAsciiWhitespace(assignment.substr(0, equals)));
  const absl::string_view value = assignment.substr(equals + 1);
  const std::vector<std::string> parts = absl::StrSplit(path, '.');

  Message* parent = message;
  for (size_t i = 0; i < parts.size(); ++i) {
    const Descriptor* type = parent->GetDescriptor();
    const FieldDescriptor* field = type->FindFieldByName(parts[i]);
    if (field == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": ", type->full_name(), " has no field named '",
                       parts[i], "' (fields: ", FieldNames(type), ")"));
    }
    const bool last = i + 1 == parts.size();
    if (field->is_map() && i + 2 == parts.size()) {
      // path.to.map.KEY=VALUE: set one entry, keep the others.
      const FieldDescriptor* key = field->message_type()->map_key();
      const FieldDescriptor* val = field->message_type()->map_value();
      if (key->cpp_type() != FieldDescriptor::CPPTYPE_STRING) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": only string-keyed maps can be set by key"));
      }
      std::unique_ptr<Message> scratch(parent->New());
      std::string error;
      const std::string text =
          absl::StrCat(field->name(), " { key: ", QuoteString(parts[i + 1]),
                       " ", FieldText(val, value), " }");
      if (!ParseValueText(text, scratch.get(), &error)) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": bad value '", value, "': ", error));
      }
      parent->MergeFrom(*scratch);
      return absl::OkStatus();
    }
    if (!last) {
      if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
        return absl::InvalidArgumentError(absl::StrCat(
            path, ": '", parts[i], "' is a ", field->cpp_type_name(),
            ", not a message, so it has no field '", parts[i + 1], "'"));
      }
      if (field->is_repeated()) {
        return absl::InvalidArgumentError(absl::StrCat(
            path, ": '", parts[i], "' is a repeated field; set it whole with ",
            parts[i], "=[...]"));
      }
      parent = parent->GetReflection()->MutableMessage(parent, field);
      continue;
    }
    std::unique_ptr<Message> scratch(parent->New());
    std::string error;
    if (!ParseValueText(FieldText(field, value), scratch.get(), &error)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": bad value '", value, "': ", error));
    }
    parent->GetReflection()->ClearField(parent, field);
    parent->MergeFrom(*scratch);
    // An empty message value ("model.yolo={}") must still select the field.
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
        !field->is_repeated()) {
      parent->GetReflection()->MutableMessage(parent, field);
    }
  }
  return absl::OkStatus();
}

}  // namespace cvt
