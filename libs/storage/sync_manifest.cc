#include "libs/storage/sync_manifest.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/base/json.h"
#include "libs/base/sha256.h"

namespace cvt {

bool IsCleanRelativePath(absl::string_view path) {
  if (path.empty() || path.front() == '/') return false;
  for (absl::string_view segment : absl::StrSplit(path, '/')) {
    if (segment.empty() || segment == "." || segment == "..") return false;
  }
  return true;
}

absl::StatusOr<SyncManifest> ParseSyncManifest(absl::string_view text,
                                               absl::string_view source_name) {
  absl::StatusOr<rapidjson::Document> doc = ParseJson(text, source_name);
  if (!doc.ok()) return doc.status();
  auto error = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(source_name, ": ", what));
  };
  if (!doc->IsObject()) return error("not a JSON object");
  auto version = doc->FindMember("version");
  if (version == doc->MemberEnd() || !version->value.IsInt() ||
      version->value.GetInt() != 1) {
    return error("unsupported manifest version (expected \"version\": 1)");
  }
  auto files = doc->FindMember("files");
  if (files == doc->MemberEnd() || !files->value.IsObject()) {
    return error("\"files\" must be an object");
  }
  SyncManifest manifest;
  for (const auto& member : files->value.GetObject()) {
    std::string path(member.name.GetString(), member.name.GetStringLength());
    if (!IsCleanRelativePath(path)) {
      return error(absl::StrCat("bad path '", path, "'"));
    }
    const rapidjson::Value& v = member.value;
    auto size = v.IsObject() ? v.FindMember("size") : v.MemberEnd();
    auto mtime = v.IsObject() ? v.FindMember("mtime_ns") : v.MemberEnd();
    auto sha = v.IsObject() ? v.FindMember("sha256") : v.MemberEnd();
    if (!v.IsObject() || size == v.MemberEnd() || !size->value.IsInt64() ||
        size->value.GetInt64() < 0 || mtime == v.MemberEnd() ||
        !mtime->value.IsInt64() || sha == v.MemberEnd() ||
        !sha->value.IsString() || !IsSha256Hex(sha->value.GetString())) {
      return error(absl::StrCat(
          "entry '", path,
          "' needs size (>= 0), mtime_ns (integer) and sha256 (64 hex)"));
    }
    manifest.files[path] =
        ManifestEntry{size->value.GetInt64(), mtime->value.GetInt64(),
                      sha->value.GetString()};
  }
  return manifest;
}

std::string SerializeSyncManifest(const SyncManifest& manifest) {
  // Written by hand rather than with JsonWriter to get one entry per line.
  std::string out = "{\"version\": 1, \"files\": {";
  bool first = true;
  for (const auto& [path, entry] : manifest.files) {
    JsonWriter key;
    key.String(path);
    absl::StrAppend(&out, first ? "\n  " : ",\n  ", *key.Finish(),
                    ": {\"size\": ", entry.size,
                    ", \"mtime_ns\": ", entry.mtime_ns, ", \"sha256\": \"",
                    entry.sha256, "\"}");
    first = false;
  }
  absl::StrAppend(&out, first ? "}}\n" : "\n}}\n");
  return out;
}

}  // namespace cvt
