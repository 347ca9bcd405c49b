// -----------------------------------------------------------------------------
// File: json_fields.h
// -----------------------------------------------------------------------------
//
// Typed, checked access to the members of a parsed JSON object, for the state
// files `tune` reads back (`tune_state.json`). Every error is
// InvalidArgument "<where>: \"<key>\" must be <what>", so a damaged or
// hand-edited state file names the field at fault.
//
// Example:
//
//   CVT_ASSIGN_OR_RETURN(double max_t, GetDouble(options, "max_t", where));
//   CVT_ASSIGN_OR_RETURN(const rapidjson::Value* rungs,
//                        GetArray(bracket, "rungs", where));

#ifndef LIBS_TUNE_JSON_FIELDS_H_
#define LIBS_TUNE_JSON_FIELDS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rapidjson/document.h"

namespace cvt {

// The member `key` of `object`, which must be an object. InvalidArgument if
// `object` is not an object or lacks `key`.
absl::StatusOr<const rapidjson::Value*> GetMember(
    const rapidjson::Value& object, const char* key, absl::string_view where);

// A number (NaN and +-Infinity literals included).
absl::StatusOr<double> GetDouble(const rapidjson::Value& object,
                                 const char* key, absl::string_view where);
// An integer that fits int64.
absl::StatusOr<int64_t> GetInt(const rapidjson::Value& object, const char* key,
                               absl::string_view where);
// An unsigned integer that fits uint64.
absl::StatusOr<uint64_t> GetUint64(const rapidjson::Value& object,
                                   const char* key, absl::string_view where);
absl::StatusOr<std::string> GetString(const rapidjson::Value& object,
                                      const char* key, absl::string_view where);
absl::StatusOr<bool> GetBool(const rapidjson::Value& object, const char* key,
                             absl::string_view where);
absl::StatusOr<const rapidjson::Value*> GetArray(const rapidjson::Value& object,
                                                 const char* key,
                                                 absl::string_view where);
absl::StatusOr<const rapidjson::Value*> GetObject(
    const rapidjson::Value& object, const char* key, absl::string_view where);

}  // namespace cvt

#endif  // LIBS_TUNE_JSON_FIELDS_H_
