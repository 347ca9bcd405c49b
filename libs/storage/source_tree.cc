#include "libs/storage/source_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>

#include <cerrno>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "libs/base/file_io.h"
#include "libs/tracking/run_directory.h"

namespace cvt {
namespace {

bool GlobMatches(const std::string& pattern, absl::string_view path) {
  std::string subject(pattern.find('/') == std::string::npos
                          ? path.substr(path.find_last_of('/') + 1)
                          : path);
  return fnmatch(pattern.c_str(), subject.c_str(), 0) == 0;
}

struct Walker {
  const SourceScanOptions& options;
  absl::Time now;
  SourceScan* scan;

  absl::Status Walk(const std::string& dir, const std::string& prefix) {
    DIR* handle = opendir(dir.c_str());
    if (handle == nullptr) return ErrnoStatus(errno, "cannot list folder", dir);
    int dir_fd = dirfd(handle);
    struct Entry {
      std::string name;
      struct stat st;
    };
    std::vector<Entry> files;
    std::vector<std::string> subdirs;
    bool has_index = false;
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
        status =
            ErrnoStatus(errno, "cannot stat", absl::StrCat(dir, "/", name));
        break;
      }
      if (S_ISLNK(st.st_mode)) {
        struct stat target;
        if (fstatat(dir_fd, entry->d_name, &target, 0) != 0) {
          scan->warnings.push_back(
              absl::StrCat("skipping ", dir, "/", name, ": a link to nothing"));
          continue;
        }
        if (!S_ISREG(target.st_mode)) continue;  // Links to folders.
        st = target;
      }
      if (S_ISDIR(st.st_mode)) {
        subdirs.push_back(std::string(name));
      } else if (S_ISREG(st.st_mode)) {
        if (name == kCheckpointsIndexName) has_index = true;
        files.push_back({std::string(name), st});
      }
    }
    closedir(handle);
    if (!status.ok()) return status;

    absl::flat_hash_map<std::string, CheckpointRecord> listed;
    bool index_ok = true;
    if (has_index) {
      std::string index_path = absl::StrCat(dir, "/", kCheckpointsIndexName);
      auto parsed = ReadCheckpointIndex(index_path);
      if (parsed.ok()) {
        for (CheckpointRecord& record : *parsed) {
          listed[record.file] = std::move(record);
        }
      } else {
        index_ok = false;
        scan->warnings.push_back(
            absl::StrCat("not copying checkpoints from ", dir,
                         " this pass: ", parsed.status().message()));
      }
    }
    for (Entry& file : files) {
      std::string relative = absl::StrCat(prefix, file.name);
      if (IsTempName(file.name)) continue;
      if (!PassesFilters(relative, options.include, options.exclude)) continue;
      SourceFile source;
      source.local_path = absl::StrCat(dir, "/", file.name);
      source.size = file.st.st_size;
      source.mtime_ns = MtimeNs(file.st);
      source.mode = file.st.st_mode & 07777;
      bool ready = true;
      bool vouched = false;  // Listed by the trainer as complete.
      if (has_index && absl::EndsWith(file.name, ".ckpt")) {
        auto it = listed.find(file.name);
        if (!index_ok || it == listed.end() ||
            (it->second.size >= 0 && it->second.size != source.size)) {
          ready = false;
        } else {
          vouched = true;
          source.expected_sha256 = it->second.sha256;
        }
      }
      if (has_index && !index_ok && file.name == kCheckpointsIndexName) {
        ready = false;
      }
      if (ready && options.require_settled && !vouched &&
          absl::FromUnixNanos(source.mtime_ns) + options.settle > now) {
        ready = false;
      }
      if (ready) {
        scan->ready[relative] = std::move(source);
      } else {
        scan->not_ready.insert(relative);
      }
    }
    for (const std::string& sub : subdirs) {
      absl::Status s =
          Walk(absl::StrCat(dir, "/", sub), absl::StrCat(prefix, sub, "/"));
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }
};

}  // namespace

bool PassesFilters(absl::string_view relative_path,
                   const std::vector<std::string>& include,
                   const std::vector<std::string>& exclude) {
  if (!include.empty()) {
    bool any = false;
    for (const std::string& pattern : include) {
      if (GlobMatches(pattern, relative_path)) {
        any = true;
        break;
      }
    }
    if (!any) return false;
  }
  for (const std::string& pattern : exclude) {
    if (GlobMatches(pattern, relative_path)) return false;
  }
  return true;
}

absl::StatusOr<SourceScan> ScanSource(const std::string& root,
                                      const SourceScanOptions& options) {
  struct stat st;
  if (stat(root.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return absl::NotFoundError(
          absl::StrCat("source folder ", root, " does not exist"));
    }
    return ErrnoStatus(errno, "cannot stat", root);
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("source ", root, " is not a folder"));
  }
  SourceScan scan;
  Walker walker{options,
                options.now == absl::InfinitePast() ? absl::Now() : options.now,
                &scan};
  std::string clean = root;
  while (clean.size() > 1 && clean.back() == '/') clean.pop_back();
  absl::Status status = walker.Walk(clean, "");
  if (!status.ok()) return status;
  return scan;
}

}  // namespace cvt
