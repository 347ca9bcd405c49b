// -----------------------------------------------------------------------------
// File: destination.h
// -----------------------------------------------------------------------------
//
// Where volume_sync copies to, behind one interface: a local folder (which is
// also how FUSE mounts of /Volumes/... and /dbfs/... appear on a cluster),
// the Databricks Files API for Unity Catalog Volumes, and the DBFS API.
//
// Copies are two-phase so that a reader never sees a partial file under its
// final name:
//   * `Stage` transfers one file's bytes somewhere invisible (or, where the
//     service commits a whole upload atomically, straight to its final
//     name), verifies the size that arrived and returns the SHA-256 of the
//     bytes sent;
//   * `Commit` makes a batch of staged files visible under their final
//     names (renames; one durability barrier per batch).
// Every implementation documents how it keeps that promise.
//
// Paths are '/'-separated and relative to the destination root. Temporary
// names follow `TempNameFor` (file_io.h) so they are recognisable
// (`IsTempName`) and removable after a crash.
//
// Thread safety: `Stage` may be called concurrently; other methods are
// called from one thread at a time.

#ifndef LIBS_STORAGE_DESTINATION_H_
#define LIBS_STORAGE_DESTINATION_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cvt {

// A file at the destination.
struct DestinationFile {
  int64_t size = 0;
  // Modification time in ns since the epoch; -1 where the service does not
  // keep a settable one (Files API, DBFS), so only the size can be checked.
  int64_t mtime_ns = -1;
};

// A source file to copy.
struct SourceFile {
  std::string local_path;
  int64_t size = 0;
  int64_t mtime_ns = 0;
  // Permission bits to give the copy (local destinations).
  uint32_t mode = 0644;
  // When non-empty, the SHA-256 the content must have (from train's
  // checkpoints.json); `Stage` fails with Aborted before the file becomes
  // visible if the bytes read differ.
  std::string expected_sha256;
};

// A file whose bytes have been transferred but which is not yet visible under
// its final name (see `Commit`).
struct StagedFile {
  std::string relative_path;
  // SHA-256 and size of the bytes transferred.
  std::string sha256;
  int64_t size = 0;
  int64_t mtime_ns = 0;
  // Implementation detail: the temporary name, when there is one.
  std::string temp_path;
};

class Destination {
 public:
  virtual ~Destination() = default;

  // What the destination is, for messages ("/Volumes/main/cv/ckpt (Files
  // API at https://host)"); never includes credentials.
  virtual std::string Describe() const = 0;

  // Checks the destination before a sync: the root exists, or its parent
  // does (then the root is created unless `dry_run`), and it is writable.
  // Errors: FailedPrecondition naming the path (missing parent, not a
  // folder, not writable), PermissionDenied/Unauthenticated from a service.
  virtual absl::Status Open(bool dry_run) = 0;

  // Every file under the root, recursively, temporary files and the manifest
  // included. Errors: as the service reports them.
  virtual absl::StatusOr<absl::btree_map<std::string, DestinationFile>>
  ListFiles() = 0;

  // Reads a small file (the manifest). NotFound if it does not exist.
  virtual absl::StatusOr<std::string> ReadSmallFile(
      const std::string& relative_path) = 0;

  // Replaces a small file atomically and durably.
  virtual absl::Status WriteSmallFile(const std::string& relative_path,
                                      absl::string_view contents) = 0;

  // Transfers `source` for `relative_path` (creating parent folders). Errors:
  // Aborted when the source changed while being read (size or mtime moved:
  // it is still being written; try again later), DataLoss when the size
  // that arrived differs from the size sent, others naming the path.
  virtual absl::StatusOr<StagedFile> Stage(
      const SourceFile& source, const std::string& relative_path) = 0;

  // Makes `batch` visible under final names, in order. On error, some files
  // of the batch may be committed and the rest are left staged (temporary
  // names a later run removes).
  virtual absl::Status Commit(const std::vector<StagedFile>& batch) = 0;

  // Deletes a file; a missing file is not an error.
  virtual absl::Status Delete(const std::string& relative_path) = 0;

  // SHA-256 of the file now at `relative_path` (for --verify sha256).
  virtual absl::StatusOr<std::string> HashFile(
      const std::string& relative_path) = 0;

  // Makes everything committed so far durable (a no-op where commits are
  // durable on their own).
  virtual absl::Status Flush() = 0;
};

}  // namespace cvt

#endif  // LIBS_STORAGE_DESTINATION_H_
