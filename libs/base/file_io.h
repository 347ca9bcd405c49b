// -----------------------------------------------------------------------------
// File: file_io.h
// -----------------------------------------------------------------------------
//
// Reading whole files, and crash-safe writing: every result a cvtools tool
// writes goes through `WriteFileAtomically` or `AtomicFileWriter`, so a crash
// (or `kill -9`) at any moment leaves either the old file or no file under the
// final name, never a truncated one.
//
// Protocol: the data goes to a temporary file in the destination folder
// (`.<name>.tmp-<pid>-<random>`), which is fsync'ed, closed and renamed over
// the final name; then the folder itself is fsync'ed so the rename survives a
// power loss. A crashed writer can leave its temporary file behind; it never
// has the final name. `RemoveStaleTempFiles` cleans them up.
//
// Error codes name the path: NotFound (missing folder), PermissionDenied,
// ResourceExhausted (disk full), Internal/Unknown for other errno values.
//
// Thread safety: an `AtomicFileWriter` is used by one thread at a time;
// different writers (even to the same final path) may run concurrently, and
// the last `Commit` wins.

#ifndef LIBS_BASE_FILE_IO_H_
#define LIBS_BASE_FILE_IO_H_

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cvt {

// Returns the contents of the file at `path`.
absl::StatusOr<std::string> ReadFileToString(absl::string_view path);

// A read-only view of a whole file: memory-mapped for regular files (no copy
// of the page cache, no zero-filled buffer), read into memory otherwise.
// Movable, not copyable.
class MappedFile {
 public:
  // NotFound / PermissionDenied / InvalidArgument (a folder) name the path.
  static absl::StatusOr<MappedFile> Open(absl::string_view path);
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  ~MappedFile();

  absl::string_view contents() const { return view_; }

 private:
  MappedFile() = default;
  void* mapping_ = nullptr;
  size_t mapped_size_ = 0;
  std::string owned_;  // When not mapped.
  absl::string_view view_;
};

// Replaces (or creates) the file at `path` with `contents`, atomically.
absl::Status WriteFileAtomically(absl::string_view path,
                                 absl::string_view contents);

// Streams a file that appears under its final name only on `Commit()`.
//
// Example:
//
//   CVT_ASSIGN_OR_RETURN(auto writer, AtomicFileWriter::Open(path));
//   for (const auto& chunk : chunks) {
//     CVT_RETURN_IF_ERROR(writer->Append(chunk));
//   }
//   return writer->Commit();
class AtomicFileWriter {
 public:
  // Creates the temporary file next to `path` (mode 0666 & ~umask).
  static absl::StatusOr<std::unique_ptr<AtomicFileWriter>> Open(
      absl::string_view path);

  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  // Removes the temporary file unless `Commit()` succeeded.
  ~AtomicFileWriter();

  // Appends `data`; retries short writes and EINTR.
  absl::Status Append(absl::string_view data);

  // Flushes to disk and renames onto the final path. After a failed `Commit`
  // the final path is unchanged and the temporary file is removed.
  // FailedPrecondition if called twice.
  absl::Status Commit();

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }

 private:
  AtomicFileWriter(std::string path, std::string temp_path, int fd)
      : path_(std::move(path)), temp_path_(std::move(temp_path)), fd_(fd) {}

  std::string path_;
  std::string temp_path_;
  int fd_;
  bool committed_ = false;
};

// Deletes temporary files that crashed `AtomicFileWriter`s left in `dir`
// (names starting with "." and containing ".tmp-"). Returns how many.
absl::StatusOr<int> RemoveStaleTempFiles(absl::string_view dir);

// A stat result's modification time in nanoseconds since the epoch.
int64_t MtimeNs(const struct stat& st);

// Creates `path` and its missing parents (mode 0777 & ~umask), like
// `mkdir -p`. Errors name the folder that could not be made.
absl::Status MakeDirs(absl::string_view path);

// Copies the file `from` to `to` through `AtomicFileWriter` in 1 MiB pieces
// (never the whole file in memory); `to`'s folder must exist.
absl::Status CopyFileAtomically(absl::string_view from, absl::string_view to);

// The temporary name `AtomicFileWriter` uses for a file named `name`
// (".<name>.tmp-<pid>-<random>-<counter>"), unique within this process.
std::string TempNameFor(absl::string_view name);

// True for names `TempNameFor` makes (start with "." and contain ".tmp-"):
// in-progress or abandoned writes, never finished files.
bool IsTempName(absl::string_view name);

// Returns an error status for the failed system call `what` on `path`, with
// the code derived from `errno_value` and the message
// "<what> <path>: <strerror>".
absl::Status ErrnoStatus(int errno_value, absl::string_view what,
                         absl::string_view path);

}  // namespace cvt

#endif  // LIBS_BASE_FILE_IO_H_
