#include "libs/base/file_io.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace cvt {
namespace {

// Splits "a/b/c.json" into ("a/b", "c.json"); "c.json" into (".", "c.json").
std::pair<std::string, std::string> SplitDirAndName(absl::string_view path) {
  const size_t slash = path.rfind('/');
  if (slash == absl::string_view::npos) {
    return {".", std::string(path)};
  }
  std::string dir(path.substr(0, slash));
  if (dir.empty()) dir = "/";
  return {dir, std::string(path.substr(slash + 1))};
}

std::string TempSuffix() {
  static std::atomic<uint64_t> counter{0};
  std::random_device device;
  return absl::StrCat(".tmp-", getpid(), "-", device() % 1000000, "-",
                      counter.fetch_add(1));
}

}  // namespace

std::string TempNameFor(absl::string_view name) {
  return absl::StrCat(".", name, TempSuffix());
}

bool IsTempName(absl::string_view name) {
  return absl::StartsWith(name, ".") && absl::StrContains(name, ".tmp-");
}

namespace {

absl::Status FsyncDir(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "cannot open folder", dir);
  const int rc = fsync(fd);
  const int saved_errno = errno;
  close(fd);
  // Some file systems (FUSE mounts among them) do not support fsync on a
  // folder; the rename itself has happened, so that is not an error.
  if (rc != 0 && saved_errno != EINVAL && saved_errno != ENOTSUP) {
    return ErrnoStatus(saved_errno, "cannot fsync folder", dir);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ErrnoStatus(int errno_value, absl::string_view what,
                         absl::string_view path) {
  return absl::Status(
      absl::ErrnoToStatusCode(errno_value),
      absl::StrCat(what, " ", path, ": ", std::strerror(errno_value)));
}

absl::StatusOr<std::string> ReadFileToString(absl::string_view path) {
  const std::string file(path);
  const int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "cannot open", path);
  struct stat info = {};
  if (fstat(fd, &info) == 0 && S_ISDIR(info.st_mode)) {
    close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read ", path, ": is a folder, not a file"));
  }
  // Read straight into a buffer of the file's size (one allocation, no
  // copies); keep reading past it in case the file grew.
  std::string contents;
  size_t size = info.st_size > 0 ? static_cast<size_t>(info.st_size) : 0;
  contents.resize(size + 1);
  size_t used = 0;
  while (true) {
    if (used == contents.size()) contents.resize(contents.size() * 2 + 4096);
    const ssize_t n = read(fd, contents.data() + used, contents.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int saved_errno = errno;
      close(fd);
      return ErrnoStatus(saved_errno, "cannot read", path);
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  contents.resize(used);
  close(fd);
  return contents;
}

absl::StatusOr<MappedFile> MappedFile::Open(absl::string_view path) {
  const std::string file(path);
  const int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "cannot open", path);
  struct stat info = {};
  const bool regular = fstat(fd, &info) == 0 && S_ISREG(info.st_mode);
  MappedFile mapped;
  if (regular && info.st_size > 0) {
    void* data = mmap(nullptr, static_cast<size_t>(info.st_size), PROT_READ,
                      MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (data != MAP_FAILED) {
      close(fd);
      mapped.mapping_ = data;
      mapped.mapped_size_ = static_cast<size_t>(info.st_size);
      mapped.view_ = absl::string_view(static_cast<const char*>(data),
                                       mapped.mapped_size_);
      return mapped;
    }
  }
  close(fd);
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  mapped.owned_ = *std::move(text);
  mapped.view_ = mapped.owned_;
  return mapped;
}

MappedFile::MappedFile(MappedFile&& other) noexcept {
  *this = std::move(other);
}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this == &other) return *this;
  if (mapping_ != nullptr) munmap(mapping_, mapped_size_);
  mapping_ = other.mapping_;
  mapped_size_ = other.mapped_size_;
  owned_ = std::move(other.owned_);
  view_ = mapping_ != nullptr ? other.view_ : absl::string_view(owned_);
  other.mapping_ = nullptr;
  other.mapped_size_ = 0;
  other.view_ = absl::string_view();
  return *this;
}

MappedFile::~MappedFile() {
  if (mapping_ != nullptr) munmap(mapping_, mapped_size_);
}

absl::StatusOr<std::unique_ptr<AtomicFileWriter>> AtomicFileWriter::Open(
    absl::string_view path) {
  if (path.empty() || path.back() == '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("not a file path: '", path, "'"));
  }
  const auto [dir, name] = SplitDirAndName(path);
  const std::string temp_path =
      absl::StrCat(dir == "/" ? "" : dir, "/", TempNameFor(name));
  const int fd =
      open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) {
    return ErrnoStatus(errno, "cannot create a file in folder", dir);
  }
  return std::unique_ptr<AtomicFileWriter>(
      new AtomicFileWriter(std::string(path), temp_path, fd));
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) close(fd_);
  if (!committed_) unlink(temp_path_.c_str());
}

absl::Status AtomicFileWriter::Append(absl::string_view data) {
  if (committed_ || fd_ < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("append to ", path_, " after commit"));
  }
  while (!data.empty()) {
    const ssize_t n = write(fd_, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "cannot write", path_);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status AtomicFileWriter::Commit() {
  if (committed_ || fd_ < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("commit of ", path_, " twice"));
  }
  const int fd = fd_;
  fd_ = -1;
  if (fsync(fd) != 0) {
    const int saved_errno = errno;
    close(fd);
    return ErrnoStatus(saved_errno, "cannot fsync", path_);
  }
  if (close(fd) != 0) return ErrnoStatus(errno, "cannot close", path_);
  if (rename(temp_path_.c_str(), path_.c_str()) != 0) {
    return ErrnoStatus(errno, "cannot rename onto", path_);
  }
  committed_ = true;
  return FsyncDir(SplitDirAndName(path_).first);
}

absl::Status WriteFileAtomically(absl::string_view path,
                                 absl::string_view contents) {
  absl::StatusOr<std::unique_ptr<AtomicFileWriter>> writer =
      AtomicFileWriter::Open(path);
  if (!writer.ok()) return writer.status();
  absl::Status status = (*writer)->Append(contents);
  if (!status.ok()) return status;
  return (*writer)->Commit();
}

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 +
         st.st_mtim.tv_nsec;
}

absl::Status MakeDirs(absl::string_view path) {
  std::string p(path);
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  if (p.empty()) return absl::OkStatus();
  struct stat st;
  if (stat(p.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create folder ", p, ": a file is in the way"));
  }
  size_t slash = p.find_last_of('/');
  if (slash != std::string::npos && slash > 0) {
    absl::Status parent = MakeDirs(absl::string_view(p).substr(0, slash));
    if (!parent.ok()) return parent;
  }
  if (mkdir(p.c_str(), 0777) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, "cannot create folder", p);
  }
  return absl::OkStatus();
}

absl::Status CopyFileAtomically(absl::string_view from, absl::string_view to) {
  std::string source(from);
  const int fd = open(source.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "cannot open", source);
  absl::StatusOr<std::unique_ptr<AtomicFileWriter>> writer =
      AtomicFileWriter::Open(to);
  if (!writer.ok()) {
    close(fd);
    return writer.status();
  }
  std::string buffer(1 << 20, '\0');
  while (true) {
    const ssize_t n = read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int saved = errno;
      close(fd);
      return ErrnoStatus(saved, "cannot read", source);
    }
    if (n == 0) break;
    absl::Status appended = (*writer)->Append(
        absl::string_view(buffer.data(), static_cast<size_t>(n)));
    if (!appended.ok()) {
      close(fd);
      return appended;
    }
  }
  close(fd);
  return (*writer)->Commit();
}

absl::StatusOr<int> RemoveStaleTempFiles(absl::string_view dir) {
  const std::string folder(dir);
  DIR* handle = opendir(folder.c_str());
  if (handle == nullptr) return ErrnoStatus(errno, "cannot list", dir);
  int removed = 0;
  absl::Status status = absl::OkStatus();
  while (const dirent* entry = readdir(handle)) {
    const absl::string_view name(entry->d_name);
    if (!IsTempName(name)) {
      continue;
    }
    const std::string file = absl::StrCat(folder, "/", name);
    if (unlink(file.c_str()) == 0) {
      ++removed;
    } else if (errno != ENOENT && status.ok()) {
      status = ErrnoStatus(errno, "cannot remove", file);
    }
  }
  closedir(handle);
  if (!status.ok()) return status;
  return removed;
}

}  // namespace cvt
