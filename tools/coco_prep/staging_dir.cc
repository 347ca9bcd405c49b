#include "tools/coco_prep/staging_dir.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/base/file_io.h"

namespace cvt {

namespace fs = std::filesystem;

absl::StatusOr<std::unique_ptr<StagingDir>> StagingDir::Create(
    absl::string_view target) {
  fs::path clean = fs::path(std::string(target)).lexically_normal();
  if (clean.filename().empty()) clean = clean.parent_path();  // "out/"
  std::error_code error;
  if (fs::exists(clean, error) || fs::is_symlink(clean, error)) {
    return absl::AlreadyExistsError(
        absl::StrCat(target,
                     " already exists; a new folder is written, never over "
                     "an existing one"));
  }
  const fs::path parent =
      clean.has_parent_path() ? clean.parent_path() : fs::path(".");
  if (!fs::is_directory(parent, error)) {
    return absl::NotFoundError(absl::StrCat("the parent folder ",
                                            parent.string(), " of ", target,
                                            " does not exist"));
  }
  const fs::path temp = parent / absl::StrCat(".", clean.filename().string(),
                                              ".coco_prep-tmp-", getpid());
  fs::remove_all(temp, error);  // A stale one of an earlier run of this pid.
  if (!fs::create_directory(temp, error) || error) {
    return absl::InternalError(
        absl::StrCat("cannot create ", temp.string(), ": ", error.message()));
  }
  return std::unique_ptr<StagingDir>(
      new StagingDir(temp.string(), clean.string(), parent.string()));
}

StagingDir::~StagingDir() {
  if (!committed_) {
    std::error_code error;
    fs::remove_all(temp_, error);
  }
}

absl::Status StagingDir::Commit() {
  const int fd = open(temp_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "open", temp_);
  const int synced = syncfs(fd);
  const int saved = errno;
  close(fd);
  if (synced != 0) return ErrnoStatus(saved, "syncfs", temp_);
  if (std::rename(temp_.c_str(), target_.c_str()) != 0) {
    return ErrnoStatus(errno, absl::StrCat("rename to ", target_), temp_);
  }
  committed_ = true;
  const int dir = open(parent_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    fsync(dir);
    close(dir);
  }
  return absl::OkStatus();
}

}  // namespace cvt
