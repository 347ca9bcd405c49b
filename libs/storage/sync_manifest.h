// -----------------------------------------------------------------------------
// File: sync_manifest.h
// -----------------------------------------------------------------------------
//
// The manifest volume_sync keeps at the root of a destination,
// `.volume_sync_manifest.json`:
//
//   {"version": 1,
//    "files": {"checkpoints/last.ckpt":
//                {"size": 1834021, "mtime_ns": 1732000999123456789,
//                 "sha256": "9f86d0..."}}}
//
// One entry per file that has been completely copied: its size and SHA-256
// (of the bytes now at the destination) and the source's modification time
// when it was copied. volume_sync keeps the invariant that every entry
// describes the destination file exactly, at every moment: entries of files
// about to be replaced or deleted are dropped (and the manifest rewritten
// atomically) before the files are touched, and an entry is added only once
// its file is committed. A run killed at any point leaves a manifest that
// may miss files, never one that lies.
//
// Example:
//
//   CVT_ASSIGN_OR_RETURN(SyncManifest manifest, ParseSyncManifest(text, name));
//   manifest.files["a.ckpt"] = {.size = 3, .mtime_ns = 1, .sha256 = "..."};
//   CVT_ASSIGN_OR_RETURN(std::string json, SerializeSyncManifest(manifest));

#ifndef LIBS_STORAGE_SYNC_MANIFEST_H_
#define LIBS_STORAGE_SYNC_MANIFEST_H_

#include <cstdint>
#include <string>

#include "absl/container/btree_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cvt {

// The manifest's file name at the destination root.
inline constexpr char kSyncManifestName[] = ".volume_sync_manifest.json";

struct ManifestEntry {
  int64_t size = 0;
  // Source modification time (ns since the epoch) of the copied version.
  int64_t mtime_ns = 0;
  // Lowercase hex SHA-256 of the content.
  std::string sha256;

  bool operator==(const ManifestEntry& other) const {
    return size == other.size && mtime_ns == other.mtime_ns &&
           sha256 == other.sha256;
  }
};

struct SyncManifest {
  // Keyed by '/'-separated path relative to the destination root.
  absl::btree_map<std::string, ManifestEntry> files;
};

// Parses a manifest. Errors: InvalidArgument naming `source_name` and the
// offending key (wrong version, missing or mistyped fields, a path that is
// absolute or contains "..").
absl::StatusOr<SyncManifest> ParseSyncManifest(absl::string_view text,
                                               absl::string_view source_name);

// Serialises with sorted keys, one file per line (diffable).
std::string SerializeSyncManifest(const SyncManifest& manifest);

// True for a clean relative path: no leading '/', no empty, "." or ".."
// segment.
bool IsCleanRelativePath(absl::string_view path);

}  // namespace cvt

#endif  // LIBS_STORAGE_SYNC_MANIFEST_H_
