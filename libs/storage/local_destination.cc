#include "libs/storage/local_destination.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "libs/base/file_io.h"
#include "libs/base/sha256.h"

namespace cvt {
namespace {

absl::Status WalkFiles(const std::string& dir, const std::string& prefix,
                       absl::btree_map<std::string, DestinationFile>* out) {
  DIR* handle = opendir(dir.c_str());
  if (handle == nullptr) return ErrnoStatus(errno, "cannot list folder", dir);
  int dir_fd = dirfd(handle);
  std::vector<std::string> subdirs;
  absl::Status status;
  while (true) {
    errno = 0;
    struct dirent* entry = readdir(handle);
    if (entry == nullptr) {
      if (errno != 0) status = ErrnoStatus(errno, "cannot list folder", dir);
      break;
    }
    absl::string_view name(entry->d_name);
    if (name == "." || name == "..") continue;
    struct stat st;
    if (fstatat(dir_fd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;  // Deleted while listing.
      status = ErrnoStatus(errno, "cannot stat", absl::StrCat(dir, "/", name));
      break;
    }
    std::string relative = absl::StrCat(prefix, name);
    if (S_ISDIR(st.st_mode)) {
      subdirs.push_back(std::string(name));
    } else if (S_ISREG(st.st_mode)) {
      (*out)[relative] = DestinationFile{st.st_size, MtimeNs(st)};
    }
  }
  closedir(handle);
  if (!status.ok()) return status;
  for (const std::string& sub : subdirs) {
    absl::Status s = WalkFiles(absl::StrCat(dir, "/", sub),
                               absl::StrCat(prefix, sub, "/"), out);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status WriteAll(int fd, const char* data, size_t size,
                      const std::string& what) {
  while (size > 0) {
    ssize_t n = write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "cannot write", what);
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

}  // namespace

LocalDestination::LocalDestination(std::string root) : root_(std::move(root)) {
  if (!root_.empty() && root_.front() != '/') {
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof(cwd)) != nullptr) {
      root_ = absl::StrCat(cwd, "/", root_);
    }
  }
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

LocalDestination::~LocalDestination() {
  if (root_fd_ >= 0) close(root_fd_);
}

std::string LocalDestination::PathOf(const std::string& relative_path) const {
  return absl::StrCat(root_, "/", relative_path);
}

absl::Status LocalDestination::Open(bool dry_run) {
  struct stat st;
  if (stat(root_.c_str(), &st) != 0) {
    if (errno != ENOENT) return ErrnoStatus(errno, "cannot stat", root_);
    std::string parent = root_.substr(0, root_.find_last_of('/'));
    if (parent.empty()) parent = "/";
    struct stat parent_st;
    if (stat(parent.c_str(), &parent_st) != 0 || !S_ISDIR(parent_st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat("destination ", root_,
                       " does not exist and neither does its parent ", parent));
    }
    if (dry_run) return absl::OkStatus();
    if (mkdir(root_.c_str(), 0777) != 0 && errno != EEXIST) {
      int saved = errno;
      return absl::FailedPreconditionError(
          absl::StrCat("cannot create destination ", root_, ": ",
                       ErrnoStatus(saved, "mkdir", root_).message()));
    }
  } else if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("destination ", root_, " is not a folder"));
  }
  if (dry_run) return absl::OkStatus();
  if (access(root_.c_str(), W_OK | X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("destination ", root_, " is not writable"));
  }
  root_fd_ = open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root_fd_ < 0) return ErrnoStatus(errno, "cannot open folder", root_);
  // One writer per destination: the lock on the folder itself goes away
  // with the process, however it ends, and leaves no file behind.
  if (flock(root_fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return absl::FailedPreconditionError(
          absl::StrCat("another volume_sync is already writing to ", root_));
    }
    // Some FUSE mounts do not support locks; carry on without one.
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::btree_map<std::string, DestinationFile>>
LocalDestination::ListFiles() {
  absl::btree_map<std::string, DestinationFile> files;
  struct stat st;
  if (stat(root_.c_str(), &st) != 0 && errno == ENOENT) return files;
  absl::Status status = WalkFiles(root_, "", &files);
  if (!status.ok()) return status;
  return files;
}

absl::StatusOr<std::string> LocalDestination::ReadSmallFile(
    const std::string& relative_path) {
  return ReadFileToString(PathOf(relative_path));
}

absl::Status LocalDestination::WriteSmallFile(const std::string& relative_path,
                                              absl::string_view contents) {
  return WriteFileAtomically(PathOf(relative_path), contents);
}

absl::Status LocalDestination::MakeParents(const std::string& relative_path) {
  size_t slash = relative_path.find('/');
  while (slash != std::string::npos) {
    std::string dir = relative_path.substr(0, slash);
    {
      absl::MutexLock lock(&mu_);
      if (made_dirs_.contains(dir)) {
        slash = relative_path.find('/', slash + 1);
        continue;
      }
    }
    std::string path = PathOf(dir);
    if (mkdir(path.c_str(), 0777) != 0 && errno != EEXIST) {
      return ErrnoStatus(errno, "cannot create folder", path);
    }
    struct stat st;
    if (stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot create folder ", path,
          ": a file of that name is in the way (--delete removes it)"));
    }
    absl::MutexLock lock(&mu_);
    made_dirs_.insert(dir);
    slash = relative_path.find('/', slash + 1);
  }
  return absl::OkStatus();
}

absl::StatusOr<StagedFile> LocalDestination::Stage(
    const SourceFile& source, const std::string& relative_path) {
  absl::Status parents = MakeParents(relative_path);
  if (!parents.ok()) return parents;
  const std::string final_path = PathOf(relative_path);
  size_t slash = final_path.find_last_of('/');
  std::string temp_path =
      absl::StrCat(final_path.substr(0, slash + 1),
                   TempNameFor(final_path.substr(slash + 1)));

  int in = open(source.local_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return ErrnoStatus(errno, "cannot open", source.local_path);
  struct stat before;
  if (fstat(in, &before) != 0) {
    int saved = errno;
    close(in);
    return ErrnoStatus(saved, "cannot stat", source.local_path);
  }
  if (before.st_size != source.size || MtimeNs(before) != source.mtime_ns) {
    close(in);
    return absl::AbortedError(
        absl::StrCat(source.local_path, " changed since it was listed"));
  }
  posix_fadvise(in, 0, 0, POSIX_FADV_SEQUENTIAL);
  int out = open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                 source.mode & 07777);
  if (out < 0) {
    int saved = errno;
    close(in);
    return ErrnoStatus(saved, "cannot create", temp_path);
  }
  auto fail = [&](absl::Status status) -> absl::StatusOr<StagedFile> {
    close(in);
    close(out);
    unlink(temp_path.c_str());
    return status;
  };

  thread_local std::string buffer(1 << 20, '\0');
  Sha256 hash;
  int64_t copied = 0;
  while (true) {
    ssize_t n = read(in, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(ErrnoStatus(errno, "cannot read", source.local_path));
    }
    if (n == 0) break;
    hash.Update(absl::string_view(buffer.data(), static_cast<size_t>(n)));
    absl::Status written =
        WriteAll(out, buffer.data(), static_cast<size_t>(n), final_path);
    if (!written.ok()) return fail(written);
    copied += n;
  }
  struct stat after;
  if (fstat(in, &after) != 0) {
    return fail(ErrnoStatus(errno, "cannot stat", source.local_path));
  }
  if (after.st_size != before.st_size || MtimeNs(after) != MtimeNs(before) ||
      copied != before.st_size) {
    return fail(absl::AbortedError(
        absl::StrCat(source.local_path, " changed while it was being copied")));
  }
  std::string sha256 = hash.HexDigest();
  if (!source.expected_sha256.empty() && sha256 != source.expected_sha256) {
    return fail(absl::AbortedError(
        absl::StrCat(source.local_path,
                     " does not have the sha256 its checkpoints.json "
                     "lists (being rewritten?)")));
  }
  struct timespec times[2];
  times[0].tv_sec = 0;
  times[0].tv_nsec = UTIME_NOW;
  times[1] = before.st_mtim;
  if (futimens(out, times) != 0) {
    return fail(ErrnoStatus(errno, "cannot set the time of", final_path));
  }
  struct stat written;
  if (fstat(out, &written) != 0 || written.st_size != copied) {
    return fail(absl::DataLossError(
        absl::StrCat(final_path, ": size after copy differs from the source")));
  }
  close(in);
  if (close(out) != 0) {
    int saved = errno;
    unlink(temp_path.c_str());
    return ErrnoStatus(saved, "cannot write", final_path);
  }
  StagedFile staged;
  staged.relative_path = relative_path;
  staged.sha256 = std::move(sha256);
  staged.size = copied;
  staged.mtime_ns = MtimeNs(before);
  staged.temp_path = std::move(temp_path);
  return staged;
}

absl::Status LocalDestination::Commit(const std::vector<StagedFile>& batch) {
  if (batch.empty()) return absl::OkStatus();
  // One barrier for the whole batch: every staged file's data is on disk
  // before any of them gets its final name.
  if (syncfs(root_fd_) != 0) return ErrnoStatus(errno, "cannot sync", root_);
  for (const StagedFile& file : batch) {
    std::string final_path = PathOf(file.relative_path);
    if (rename(file.temp_path.c_str(), final_path.c_str()) != 0) {
      return ErrnoStatus(errno, "cannot rename into", final_path);
    }
  }
  return absl::OkStatus();
}

absl::Status LocalDestination::Delete(const std::string& relative_path) {
  std::string path = PathOf(relative_path);
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus(errno, "cannot delete", path);
  }
  // Remove folders the deletion emptied, up to (not including) the root.
  std::string dir = relative_path;
  for (size_t slash = dir.find_last_of('/'); slash != std::string::npos;
       slash = dir.find_last_of('/')) {
    dir.resize(slash);
    if (rmdir(PathOf(dir).c_str()) != 0) break;
    absl::MutexLock lock(&mu_);
    made_dirs_.erase(dir);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> LocalDestination::HashFile(
    const std::string& relative_path) {
  return Sha256OfFile(PathOf(relative_path));
}

absl::Status LocalDestination::Flush() {
  if (root_fd_ < 0) return absl::OkStatus();
  if (syncfs(root_fd_) != 0) return ErrnoStatus(errno, "cannot sync", root_);
  return absl::OkStatus();
}

}  // namespace cvt
