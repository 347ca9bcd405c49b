#include "libs/storage/files_api_destination.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/base/file_io.h"
#include "libs/base/json.h"
#include "libs/base/sha256.h"
#include "libs/base/status.h"
#include "libs/base/status_macros.h"

namespace cvt {
namespace {

bool Accept404(int status) { return status == 404; }

// The volume itself: "/Volumes/c/s/v".
std::string VolumeRoot(const std::string& root) {
  std::vector<std::string> parts = absl::StrSplit(root, '/');
  // "", "Volumes", c, s, v, ...
  if (parts.size() < 5) return root;
  return absl::StrCat("/", parts[1], "/", parts[2], "/", parts[3], "/",
                      parts[4]);
}

}  // namespace

FilesApiDestination::FilesApiDestination(std::string root, RestClient* client)
    : root_(std::move(root)), client_(client) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

std::string FilesApiDestination::Describe() const {
  return absl::StrCat(root_, " (Files API at ", client_->host(), ")");
}

std::string FilesApiDestination::FileUrl(
    const std::string& relative_path) const {
  return absl::StrCat("/api/2.0/fs/files", PercentEncodePath(absl::StrCat(
                                               root_, "/", relative_path)));
}

std::string FilesApiDestination::DirectoryUrl(
    const std::string& absolute_path) const {
  return absl::StrCat("/api/2.0/fs/directories",
                      PercentEncodePath(absolute_path));
}

absl::Status FilesApiDestination::Open(bool dry_run) {
  std::vector<std::string> parts = absl::StrSplit(root_, '/');
  if (parts.size() < 5 || !parts[0].empty() || parts[1] != "Volumes" ||
      parts[2].empty() || parts[3].empty() || parts[4].empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--dst ", root_,
        " is not a volume path (/Volumes/<catalog>/<schema>/<volume>/...)"));
  }
  std::string volume = VolumeRoot(root_);
  HttpRequest head;
  head.method = "HEAD";
  head.url = DirectoryUrl(volume);
  absl::StatusOr<HttpResponse> response =
      client_->Call(head, Idempotency::kIdempotent, Accept404);
  if (!response.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot reach volume ", volume, ": ", response.status().message()));
  }
  if (response->status == 404) {
    return absl::FailedPreconditionError(absl::StrCat(
        "volume ", volume, " does not exist (create it in Unity Catalog; ",
        "volume_sync creates only folders inside it)"));
  }
  if (dry_run || root_ == volume) return absl::OkStatus();
  HttpRequest mkdir;
  mkdir.method = "PUT";
  mkdir.url = DirectoryUrl(root_);
  absl::StatusOr<HttpResponse> made = client_->Call(mkdir);
  if (!made.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot create destination ", root_, ": ", made.status().message()));
  }
  return absl::OkStatus();
}

absl::Status FilesApiDestination::ListInto(
    const std::string& absolute_dir, const std::string& prefix,
    absl::btree_map<std::string, DestinationFile>* out) {
  std::string page_token;
  std::vector<std::string> subdirs;
  do {
    QueryParams query = {{"page_size", "1000"}};
    if (!page_token.empty()) query.emplace_back("page_token", page_token);
    HttpRequest request;
    request.method = "GET";
    request.url = WithQuery(DirectoryUrl(absolute_dir), query);
    CVT_ASSIGN_OR_RETURN(
        HttpResponse response,
        client_->Call(request, Idempotency::kIdempotent, Accept404));
    if (response.status == 404) return absl::OkStatus();  // Not there yet.
    CVT_ASSIGN_OR_RETURN(
        rapidjson::Document doc,
        ParseJson(response.body, absl::StrCat("listing of ", absolute_dir)));
    page_token.clear();
    if (!doc.IsObject()) {
      return absl::UnavailableError(
          absl::StrCat("listing of ", absolute_dir, " is not a JSON object"));
    }
    auto contents = doc.FindMember("contents");
    if (contents != doc.MemberEnd() && contents->value.IsArray()) {
      for (const auto& item : contents->value.GetArray()) {
        if (!item.IsObject()) continue;
        auto name = item.FindMember("name");
        if (name == item.MemberEnd() || !name->value.IsString()) continue;
        std::string entry_name = name->value.GetString();
        auto is_dir = item.FindMember("is_directory");
        if (is_dir != item.MemberEnd() && is_dir->value.IsBool() &&
            is_dir->value.GetBool()) {
          subdirs.push_back(entry_name);
          continue;
        }
        DestinationFile file;
        auto size = item.FindMember("file_size");
        if (size != item.MemberEnd() && size->value.IsInt64()) {
          file.size = size->value.GetInt64();
        }
        (*out)[absl::StrCat(prefix, entry_name)] = file;
      }
    }
    auto next = doc.FindMember("next_page_token");
    if (next != doc.MemberEnd() && next->value.IsString()) {
      page_token = next->value.GetString();
    }
  } while (!page_token.empty());
  for (const std::string& sub : subdirs) {
    CVT_RETURN_IF_ERROR(ListInto(absl::StrCat(absolute_dir, "/", sub),
                                 absl::StrCat(prefix, sub, "/"), out));
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::btree_map<std::string, DestinationFile>>
FilesApiDestination::ListFiles() {
  absl::btree_map<std::string, DestinationFile> files;
  CVT_RETURN_IF_ERROR(ListInto(root_, "", &files));
  return files;
}

absl::StatusOr<std::string> FilesApiDestination::ReadSmallFile(
    const std::string& relative_path) {
  HttpRequest request;
  request.method = "GET";
  request.url = FileUrl(relative_path);
  CVT_ASSIGN_OR_RETURN(HttpResponse response, client_->Call(request));
  return response.body;
}

absl::Status FilesApiDestination::WriteSmallFile(
    const std::string& relative_path, absl::string_view contents) {
  HttpRequest request;
  request.method = "PUT";
  request.url = absl::StrCat(FileUrl(relative_path), "?overwrite=true");
  request.headers = {{"Content-Type", "application/octet-stream"}};
  request.body = std::string(contents);
  return client_->Call(request).status();
}

absl::StatusOr<StagedFile> FilesApiDestination::Stage(
    const SourceFile& source, const std::string& relative_path) {
  if (source.size > kMaxUploadBytes) {
    return absl::FailedPreconditionError(absl::StrCat(
        source.local_path, " is ", source.size,
        " bytes; the Files API takes at most 5 GiB in one upload (use the "
        "/Volumes FUSE mount with --transport local, or DBFS)"));
  }
  int fd = open(source.local_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "cannot open", source.local_path);
  auto close_fd = [fd] { close(fd); };
  struct stat before;
  if (fstat(fd, &before) != 0) {
    int saved = errno;
    close_fd();
    return ErrnoStatus(saved, "cannot stat", source.local_path);
  }
  if (before.st_size != source.size || MtimeNs(before) != source.mtime_ns) {
    close_fd();
    return absl::AbortedError(
        absl::StrCat(source.local_path, " changed since it was listed"));
  }
  // Hash first, through the descriptor that the upload then streams.
  Sha256 hash;
  {
    std::string buffer(1 << 20, '\0');
    int64_t offset = 0;
    while (offset < before.st_size) {
      ssize_t n = pread(fd, buffer.data(), buffer.size(), offset);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        int saved = n < 0 ? errno : EIO;
        close_fd();
        return ErrnoStatus(saved, "cannot read", source.local_path);
      }
      hash.Update(absl::string_view(buffer.data(), static_cast<size_t>(n)));
      offset += n;
    }
  }
  std::string sha256 = hash.HexDigest();
  if (!source.expected_sha256.empty() && sha256 != source.expected_sha256) {
    close_fd();
    return absl::AbortedError(absl::StrCat(
        source.local_path,
        " does not have the sha256 its checkpoints.json lists (being "
        "rewritten?)"));
  }
  HttpRequest put;
  put.method = "PUT";
  put.url = absl::StrCat(FileUrl(relative_path), "?overwrite=true");
  put.headers = {{"Content-Type", "application/octet-stream"}};
  put.body_fd = fd;
  put.body_length = before.st_size;
  put.timeout_s = 0;  // Large files: rely on the low-speed limit.
  absl::StatusOr<HttpResponse> uploaded = client_->Call(put);
  struct stat after;
  bool changed = fstat(fd, &after) != 0 || after.st_size != before.st_size ||
                 MtimeNs(after) != MtimeNs(before);
  close_fd();
  if (!uploaded.ok()) {
    return Annotate(uploaded.status(),
                    absl::StrCat("uploading ", source.local_path));
  }
  if (changed) {
    return absl::AbortedError(absl::StrCat(
        source.local_path, " changed while it was being uploaded"));
  }
  HttpRequest head;
  head.method = "HEAD";
  head.url = FileUrl(relative_path);
  CVT_ASSIGN_OR_RETURN(HttpResponse stored, client_->Call(head));
  int64_t stored_size = -1;
  if (!absl::SimpleAtoi(stored.Header("Content-Length"), &stored_size) ||
      stored_size != before.st_size) {
    return absl::DataLossError(
        absl::StrCat(root_, "/", relative_path, ": the service stores ",
                     stored.Header("Content-Length"),
                     " bytes after an upload of ", before.st_size));
  }
  StagedFile staged;
  staged.relative_path = relative_path;
  staged.sha256 = std::move(sha256);
  staged.size = before.st_size;
  staged.mtime_ns = MtimeNs(before);
  return staged;
}

absl::Status FilesApiDestination::Commit(const std::vector<StagedFile>&) {
  // Each upload committed itself atomically in Stage.
  return absl::OkStatus();
}

absl::Status FilesApiDestination::Delete(const std::string& relative_path) {
  HttpRequest request;
  request.method = "DELETE";
  request.url = FileUrl(relative_path);
  return client_->Call(request, Idempotency::kIdempotent, Accept404).status();
}

absl::StatusOr<std::string> FilesApiDestination::HashFile(
    const std::string& relative_path) {
  // The body streams into the hash, so an interrupted download must start a
  // fresh hash: retry here rather than inside the client.
  absl::Status last;
  for (int attempt = 0; attempt < 3; ++attempt) {
    Sha256 hash;
    HttpRequest request;
    request.method = "GET";
    request.url = FileUrl(relative_path);
    request.timeout_s = 0;
    request.response_sink = [&hash](absl::string_view data) {
      hash.Update(data);
      return true;
    };
    absl::StatusOr<HttpResponse> response =
        client_->Call(request, Idempotency::kNotIdempotent);
    if (response.ok()) return hash.HexDigest();
    last = response.status();
    if (last.code() != absl::StatusCode::kUnavailable &&
        last.code() != absl::StatusCode::kDeadlineExceeded) {
      break;
    }
  }
  return last;
}

}  // namespace cvt
