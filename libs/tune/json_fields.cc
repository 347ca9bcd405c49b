#include "libs/tune/json_fields.h"

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "libs/base/status_macros.h"

namespace cvt {
namespace {

absl::Status TypeError(const char* key, absl::string_view where,
                       absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat(where, ": \"", key, "\" must be ", what));
}

}  // namespace

absl::StatusOr<const rapidjson::Value*> GetMember(
    const rapidjson::Value& object, const char* key, absl::string_view where) {
  if (!object.IsObject()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": expected an object holding \"", key, "\""));
  }
  auto it = object.FindMember(key);
  if (it == object.MemberEnd()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": missing \"", key, "\""));
  }
  return &it->value;
}

absl::StatusOr<double> GetDouble(const rapidjson::Value& object,
                                 const char* key, absl::string_view where) {
  CVT_ASSIGN_OR_RETURN(const rapidjson::Value* v,
                       GetMember(object, key, where));
  if (!v->IsNumber()) return TypeError(key, where, "a number");
  return v->GetDouble();
}

absl::StatusOr<int64_t> GetInt(const rapidjson::Value& object, const char* key,
                               absl::string_view where) {
  CVT_ASSIGN_OR_RETURN(const rapidjson::Value* v,
                       GetMember(object, key, where));
  if (!v->IsInt64()) return TypeError(key, where, "an integer");
  return v->GetInt64();
}

absl::StatusOr<uint64_t> GetUint64(const rapidjson::Value& object,
                                   const char* key, absl::string_view where) {
  CVT_ASSIGN_OR_RETURN(const rapidjson::Value* v,
                       GetMember(object, key, where));
  if (!v->IsUint64()) return TypeError(key, where, "an unsigned integer");
  return v->GetUint64();
}

absl::StatusOr<std::string> GetString(const rapidjson::Value& object,
                                      const char* key,
                                      absl::string_view where) {
  CVT_ASSIGN_OR_RETURN(const rapidjson::Value* v,
                       GetMember(object, key, where));
  if (!v->IsString()) return TypeError(key, where, "a string");
  return std::string(v->GetString(), v->GetStringLength());
}

absl::StatusOr<bool> GetBool(const rapidjson::Value& object, const char* key,
                             absl::string_view where) {
  CVT_ASSIGN_OR_RETURN(const rapidjson::Value* v,
                       GetMember(object, key, where));
  if (!v->IsBool()) return TypeError(key, where, "true or false");
  return v->GetBool();
}

absl::StatusOr<const rapidjson::Value*> GetArray(const rapidjson::Value& object,
                                                 const char* key,
                                                 absl::string_view where) {
  CVT_ASSIGN_OR_RETURN(const rapidjson::Value* v,
                       GetMember(object, key, where));
  if (!v->IsArray()) return TypeError(key, where, "an array");
  return v;
}

absl::StatusOr<const rapidjson::Value*> GetObject(
    const rapidjson::Value& object, const char* key, absl::string_view where) {
  CVT_ASSIGN_OR_RETURN(const rapidjson::Value* v,
                       GetMember(object, key, where));
  if (!v->IsObject()) return TypeError(key, where, "an object");
  return v;
}

}  // namespace cvt
