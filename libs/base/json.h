// -----------------------------------------------------------------------------
// File: json.h
// -----------------------------------------------------------------------------
//
// RapidJSON helpers shared by every tool that reads or writes JSON.
//
// Reading: full-precision number parsing (every double is the correctly
// rounded value of its decimal text, as Python's `json` gives), NaN/Infinity
// literals accepted (Python's `json.dump` writes them), and parse errors
// reported as "<source>:<line>:<column>: <message>" with 1-based line and
// byte column.
//
// Writing: doubles are printed as the shortest decimal that parses back to
// the same double (at most 17 significant digits; `0.1` prints as "0.1",
// `1.0` as "1.0"), so every value round-trips exactly. Non-finite values
// follow an explicit `NonFinitePolicy`.
//
// Example:
//
//   CVT_ASSIGN_OR_RETURN(rapidjson::Document doc, ReadJsonFile(path));
//
//   JsonWriter json({.non_finite = NonFinitePolicy::kNull, .indent = 2});
//   json.StartObject();
//   json.Key("map");
//   json.Double(0.5123);
//   json.EndObject();
//   CVT_ASSIGN_OR_RETURN(std::string text, json.Finish());

#ifndef LIBS_BASE_JSON_H_
#define LIBS_BASE_JSON_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rapidjson/document.h"
#include "rapidjson/prettywriter.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace cvt {

// Parses `text`. On failure returns InvalidArgument
// "<source_name>:<line>:<column>: <message>".
absl::StatusOr<rapidjson::Document> ParseJson(absl::string_view text,
                                              absl::string_view source_name);

// Returns InvalidArgument "<source_name>:<line>:<column>: <message>" for a
// byte `offset` into `text` (for SAX parsers that report offsets).
absl::Status JsonErrorAt(absl::string_view text, absl::string_view source_name,
                         size_t offset, absl::string_view message);

// Reads and parses the file at `path` (errors name the path as the source).
absl::StatusOr<rapidjson::Document> ReadJsonFile(absl::string_view path);

// Returns the shortest decimal text that parses back to exactly `value`, with
// ".0" added to integral values ("3.0", "1e+20", "0.1"). `value` must be
// finite.
std::string FormatDouble(double value);

// What a `JsonWriter` does with NaN and +-Infinity, which JSON cannot express.
enum class NonFinitePolicy {
  // `Finish()` fails with InvalidArgument naming the first offending key.
  kReject,
  // Writes `null`.
  kNull,
  // Writes the bare tokens `NaN`, `Infinity`, `-Infinity`, as Python's `json`
  // module does (and MLflow's server accepts). Not standard JSON.
  kPythonLiterals,
};

struct JsonWriterOptions {
  NonFinitePolicy non_finite = NonFinitePolicy::kReject;
  // Spaces per nesting level; 0 writes everything on one line.
  int indent = 0;
};

// Builds a JSON text. Not thread-safe.
class JsonWriter {
 public:
  explicit JsonWriter(JsonWriterOptions options = {});
  ~JsonWriter();

  void StartObject();
  void EndObject();
  void StartArray();
  void EndArray();
  void Key(absl::string_view key);
  void String(absl::string_view value);
  void Bool(bool value);
  void Null();
  void Int(int64_t value);
  void Uint(uint64_t value);
  void Double(double value);
  // Inserts `json_text`, an already-serialised JSON value, verbatim.
  void Raw(absl::string_view json_text);

  // Returns the text, or InvalidArgument if a non-finite value was rejected
  // or the document is incomplete.
  absl::StatusOr<std::string> Finish();

 private:
  template <typename Fn>
  void Write(Fn&& fn);

  JsonWriterOptions options_;
  rapidjson::StringBuffer buffer_;
  std::unique_ptr<rapidjson::Writer<rapidjson::StringBuffer>> compact_;
  std::unique_ptr<rapidjson::PrettyWriter<rapidjson::StringBuffer>> pretty_;
  std::string last_key_;
  absl::Status status_;
};

}  // namespace cvt

#endif  // LIBS_BASE_JSON_H_
