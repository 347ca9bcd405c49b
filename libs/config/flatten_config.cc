#include "libs/config/flatten_config.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/descriptor.h"
#include "libs/base/json.h"

namespace cvt {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

std::string Scalar(const Message& m, const FieldDescriptor* f, int index) {
  const Reflection* r = m.GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return absl::StrCat(rep ? r->GetRepeatedInt32(m, f, index)
                              : r->GetInt32(m, f));
    case FieldDescriptor::CPPTYPE_INT64:
      return absl::StrCat(rep ? r->GetRepeatedInt64(m, f, index)
                              : r->GetInt64(m, f));
    case FieldDescriptor::CPPTYPE_UINT32:
      return absl::StrCat(rep ? r->GetRepeatedUInt32(m, f, index)
                              : r->GetUInt32(m, f));
    case FieldDescriptor::CPPTYPE_UINT64:
      return absl::StrCat(rep ? r->GetRepeatedUInt64(m, f, index)
                              : r->GetUInt64(m, f));
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return FormatDouble(rep ? r->GetRepeatedDouble(m, f, index)
                              : r->GetDouble(m, f));
    case FieldDescriptor::CPPTYPE_FLOAT:
      return absl::StrCat(rep ? r->GetRepeatedFloat(m, f, index)
                              : r->GetFloat(m, f));
    case FieldDescriptor::CPPTYPE_BOOL:
      return (rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f))
                 ? "true"
                 : "false";
    case FieldDescriptor::CPPTYPE_ENUM:
      return rep ? r->GetRepeatedEnum(m, f, index)->name()
                 : r->GetEnum(m, f)->name();
    case FieldDescriptor::CPPTYPE_STRING:
      return rep ? r->GetRepeatedString(m, f, index) : r->GetString(m, f);
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return "";
  }
  return "";
}

void Flatten(const Message& m, const std::string& prefix,
             std::map<std::string, std::string>& out) {
  const google::protobuf::Descriptor* d = m.GetDescriptor();
  const Reflection* r = m.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    const std::string key = prefix + f->name();
    if (f->containing_oneof() != nullptr && !r->HasField(m, f)) continue;
    if (f->is_map()) {
      for (int k = 0; k < r->FieldSize(m, f); ++k) {
        const Message& entry = r->GetRepeatedMessage(m, f, k);
        const FieldDescriptor* kf = entry.GetDescriptor()->field(0);
        const FieldDescriptor* vf = entry.GetDescriptor()->field(1);
        out[key + "." + Scalar(entry, kf, 0)] = Scalar(entry, vf, 0);
      }
      continue;
    }
    if (f->is_repeated()) {
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        for (int k = 0; k < r->FieldSize(m, f); ++k) {
          Flatten(r->GetRepeatedMessage(m, f, k),
                  absl::StrCat(key, ".", k, "."), out);
        }
        continue;
      }
      std::vector<std::string> items;
      for (int k = 0; k < r->FieldSize(m, f); ++k) {
        items.push_back(Scalar(m, f, k));
      }
      out[key] = absl::StrCat("[", absl::StrJoin(items, ", "), "]");
      continue;
    }
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      Flatten(r->GetMessage(m, f), key + ".", out);
      continue;
    }
    out[key] = Scalar(m, f, 0);
  }
}

}  // namespace

std::map<std::string, std::string> FlattenConfig(const Message& config) {
  std::map<std::string, std::string> out;
  Flatten(config, "", out);
  return out;
}

}  // namespace cvt
