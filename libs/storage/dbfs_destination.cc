#include "libs/storage/dbfs_destination.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "libs/base/file_io.h"
#include "libs/base/json.h"
#include "libs/base/sha256.h"
#include "libs/base/status.h"
#include "libs/base/status_macros.h"

namespace cvt {
namespace {

std::string JsonObject(
    const std::vector<std::pair<std::string, std::string>>& strings,
    const std::vector<std::pair<std::string, bool>>& bools = {},
    const std::vector<std::pair<std::string, int64_t>>& ints = {}) {
  JsonWriter json;
  json.StartObject();
  for (const auto& [key, value] : strings) {
    json.Key(key);
    json.String(value);
  }
  for (const auto& [key, value] : bools) {
    json.Key(key);
    json.Bool(value);
  }
  for (const auto& [key, value] : ints) {
    json.Key(key);
    json.Int(value);
  }
  json.EndObject();
  return *json.Finish();
}

std::string Parent(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

DbfsDestination::DbfsDestination(std::string root, RestClient* client)
    : root_(std::move(root)), client_(client) {
  if (absl::StartsWith(root_, "dbfs:")) root_ = root_.substr(5);
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

std::string DbfsDestination::Describe() const {
  return absl::StrCat("dbfs:", root_, " (DBFS API at ", client_->host(), ")");
}

std::string DbfsDestination::PathOf(const std::string& relative_path) const {
  return absl::StrCat(root_ == "/" ? "" : root_, "/", relative_path);
}

absl::Status DbfsDestination::Open(bool dry_run) {
  if (root_.empty() || root_.front() != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("--dst dbfs:", root_, " must be an absolute DBFS path"));
  }
  absl::StatusOr<rapidjson::Document> status =
      client_->GetJson("/api/2.0/dbfs/get-status", {{"path", root_}});
  if (status.ok()) {
    auto is_dir = status->FindMember("is_dir");
    if (is_dir == status->MemberEnd() || !is_dir->value.IsBool() ||
        !is_dir->value.GetBool()) {
      return absl::FailedPreconditionError(
          absl::StrCat("destination dbfs:", root_, " is not a folder"));
    }
    return absl::OkStatus();
  }
  if (status.status().code() != absl::StatusCode::kNotFound) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot reach dbfs:", root_, ": ", status.status().message()));
  }
  std::string parent = Parent(root_);
  absl::StatusOr<rapidjson::Document> parent_status =
      client_->GetJson("/api/2.0/dbfs/get-status", {{"path", parent}});
  if (!parent_status.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "destination dbfs:", root_,
        " does not exist and neither does its parent dbfs:", parent));
  }
  if (dry_run) return absl::OkStatus();
  absl::Status made =
      client_->PostJson("/api/2.0/dbfs/mkdirs", JsonObject({{"path", root_}}))
          .status();
  if (!made.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot create destination dbfs:", root_, ": ", made.message()));
  }
  return absl::OkStatus();
}

absl::Status DbfsDestination::ListInto(
    const std::string& absolute_dir, const std::string& prefix,
    absl::btree_map<std::string, DestinationFile>* out) {
  absl::StatusOr<rapidjson::Document> listing =
      client_->GetJson("/api/2.0/dbfs/list", {{"path", absolute_dir}});
  if (!listing.ok()) {
    if (listing.status().code() == absl::StatusCode::kNotFound) {
      return absl::OkStatus();
    }
    return listing.status();
  }
  std::vector<std::string> subdirs;
  auto files =
      listing->IsObject() ? listing->FindMember("files") : listing->MemberEnd();
  if (files != listing->MemberEnd() && files->value.IsArray()) {
    for (const auto& item : files->value.GetArray()) {
      if (!item.IsObject()) continue;
      auto path = item.FindMember("path");
      if (path == item.MemberEnd() || !path->value.IsString()) continue;
      std::string full = path->value.GetString();
      if (absl::StartsWith(full, "dbfs:")) full = full.substr(5);
      std::string name = full.substr(full.find_last_of('/') + 1);
      auto is_dir = item.FindMember("is_dir");
      if (is_dir != item.MemberEnd() && is_dir->value.IsBool() &&
          is_dir->value.GetBool()) {
        subdirs.push_back(name);
        continue;
      }
      DestinationFile file;
      auto size = item.FindMember("file_size");
      if (size != item.MemberEnd() && size->value.IsInt64()) {
        file.size = size->value.GetInt64();
      }
      (*out)[absl::StrCat(prefix, name)] = file;
    }
  }
  for (const std::string& sub : subdirs) {
    CVT_RETURN_IF_ERROR(ListInto(absl::StrCat(absolute_dir, "/", sub),
                                 absl::StrCat(prefix, sub, "/"), out));
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::btree_map<std::string, DestinationFile>>
DbfsDestination::ListFiles() {
  absl::btree_map<std::string, DestinationFile> files;
  CVT_RETURN_IF_ERROR(ListInto(root_, "", &files));
  return files;
}

absl::Status DbfsDestination::ReadChunks(
    const std::string& path,
    const std::function<void(absl::string_view)>& sink) {
  constexpr int64_t kChunk = 1 << 20;  // The dbfs/read maximum.
  int64_t offset = 0;
  while (true) {
    CVT_ASSIGN_OR_RETURN(
        rapidjson::Document chunk,
        client_->GetJson("/api/2.0/dbfs/read",
                         {{"path", path},
                          {"offset", std::to_string(offset)},
                          {"length", std::to_string(kChunk)}}));
    auto read = chunk.FindMember("bytes_read");
    auto data = chunk.FindMember("data");
    if (read == chunk.MemberEnd() || !read->value.IsInt64()) {
      return absl::UnavailableError(
          absl::StrCat("dbfs/read of ", path, " answered without bytes_read"));
    }
    int64_t n = read->value.GetInt64();
    if (n > 0) {
      std::string decoded;
      if (data == chunk.MemberEnd() || !data->value.IsString() ||
          !absl::Base64Unescape(data->value.GetString(), &decoded) ||
          static_cast<int64_t>(decoded.size()) != n) {
        return absl::UnavailableError(
            absl::StrCat("dbfs/read of ", path, " sent malformed data"));
      }
      sink(decoded);
      offset += n;
    }
    if (n < kChunk) return absl::OkStatus();
  }
}

absl::StatusOr<std::string> DbfsDestination::ReadSmallFile(
    const std::string& relative_path) {
  std::string out;
  CVT_RETURN_IF_ERROR(
      ReadChunks(PathOf(relative_path), [&out](absl::string_view data) {
        out.append(data.data(), data.size());
      }));
  return out;
}

absl::Status DbfsDestination::Move(const std::string& from,
                                   const std::string& to) {
  // Delete, then move: DBFS refuses to move onto an existing file.
  for (int attempt = 0; attempt < 2; ++attempt) {
    CVT_RETURN_IF_ERROR(
        client_
            ->PostJson("/api/2.0/dbfs/delete",
                       JsonObject({{"path", to}}, {{"recursive", false}}))
            .status());
    absl::Status moved =
        client_
            ->PostJson(
                "/api/2.0/dbfs/move",
                JsonObject({{"source_path", from}, {"destination_path", to}}),
                Idempotency::kNotIdempotent)
            .status();
    if (moved.ok()) return moved;
    if (moved.code() != absl::StatusCode::kAlreadyExists) return moved;
  }
  return absl::AbortedError(absl::StrCat(
      "dbfs:", to, " keeps reappearing; is another writer active?"));
}

absl::Status DbfsDestination::WriteSmallFile(const std::string& relative_path,
                                             absl::string_view contents) {
  std::string final_path = PathOf(relative_path);
  std::string temp_path = absl::StrCat(
      Parent(final_path) == "/" ? "" : Parent(final_path), "/",
      TempNameFor(final_path.substr(final_path.find_last_of('/') + 1)));
  if (contents.size() > (1 << 20)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dbfs:", final_path, ": small files must stay under 1 MiB"));
  }
  CVT_RETURN_IF_ERROR(
      client_
          ->PostJson("/api/2.0/dbfs/put",
                     JsonObject({{"path", temp_path},
                                 {"contents", absl::Base64Escape(contents)}},
                                {{"overwrite", true}}))
          .status());
  return Move(temp_path, final_path);
}

absl::StatusOr<std::string> DbfsDestination::UploadOnce(
    int fd, int64_t size, const std::string& temp_path) {
  CVT_ASSIGN_OR_RETURN(rapidjson::Document created,
                       client_->PostJson("/api/2.0/dbfs/create",
                                         JsonObject({{"path", temp_path}},
                                                    {{"overwrite", true}}),
                                         Idempotency::kNotIdempotent));
  auto handle_member = created.FindMember("handle");
  if (handle_member == created.MemberEnd() || !handle_member->value.IsInt64()) {
    return absl::UnavailableError("dbfs/create answered without a handle");
  }
  int64_t handle = handle_member->value.GetInt64();
  Sha256 hash;
  std::string buffer(kBlockBytes, '\0');
  int64_t offset = 0;
  while (offset < size) {
    ssize_t n = pread(fd, buffer.data(),
                      static_cast<size_t>(std::min(kBlockBytes, size - offset)),
                      offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return ErrnoStatus(n < 0 ? errno : EIO, "cannot read", temp_path);
    }
    absl::string_view block(buffer.data(), static_cast<size_t>(n));
    hash.Update(block);
    JsonWriter json;
    json.StartObject();
    json.Key("handle");
    json.Int(handle);
    json.Key("data");
    json.String(absl::Base64Escape(block));
    json.EndObject();
    CVT_RETURN_IF_ERROR(client_
                            ->PostJson("/api/2.0/dbfs/add-block",
                                       *json.Finish(),
                                       Idempotency::kNotIdempotent)
                            .status());
    offset += n;
  }
  JsonWriter close_json;
  close_json.StartObject();
  close_json.Key("handle");
  close_json.Int(handle);
  close_json.EndObject();
  CVT_RETURN_IF_ERROR(client_
                          ->PostJson("/api/2.0/dbfs/close",
                                     *close_json.Finish(),
                                     Idempotency::kNotIdempotent)
                          .status());
  CVT_ASSIGN_OR_RETURN(
      rapidjson::Document status,
      client_->GetJson("/api/2.0/dbfs/get-status", {{"path", temp_path}}));
  auto stored = status.FindMember("file_size");
  if (stored == status.MemberEnd() || !stored->value.IsInt64() ||
      stored->value.GetInt64() != size) {
    return absl::DataLossError(absl::StrCat("dbfs:", temp_path,
                                            ": stored size differs from the ",
                                            size, " bytes sent"));
  }
  return hash.HexDigest();
}

absl::StatusOr<StagedFile> DbfsDestination::Stage(
    const SourceFile& source, const std::string& relative_path) {
  std::string final_path = PathOf(relative_path);
  std::string dir = Parent(final_path);
  std::string name = final_path.substr(final_path.find_last_of('/') + 1);
  int fd = open(source.local_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "cannot open", source.local_path);
  struct stat before;
  if (fstat(fd, &before) != 0 || before.st_size != source.size ||
      MtimeNs(before) != source.mtime_ns) {
    close(fd);
    return absl::AbortedError(
        absl::StrCat(source.local_path, " changed since it was listed"));
  }
  absl::Status last;
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::string temp_path =
        absl::StrCat(dir == "/" ? "" : dir, "/", TempNameFor(name));
    absl::StatusOr<std::string> sha256 =
        UploadOnce(fd, before.st_size, temp_path);
    if (sha256.ok()) {
      struct stat after;
      bool changed = fstat(fd, &after) != 0 ||
                     after.st_size != before.st_size ||
                     MtimeNs(after) != MtimeNs(before);
      close(fd);
      if (changed || (!source.expected_sha256.empty() &&
                      *sha256 != source.expected_sha256)) {
        client_
            ->PostJson(
                "/api/2.0/dbfs/delete",
                JsonObject({{"path", temp_path}}, {{"recursive", false}}))
            .IgnoreError();
        return absl::AbortedError(absl::StrCat(
            source.local_path, changed ? " changed while it was being uploaded"
                                       : " does not have the sha256 its "
                                         "checkpoints.json lists"));
      }
      StagedFile staged;
      staged.relative_path = relative_path;
      staged.sha256 = *std::move(sha256);
      staged.size = before.st_size;
      staged.mtime_ns = MtimeNs(before);
      staged.temp_path = std::move(temp_path);
      return staged;
    }
    last = sha256.status();
    // Best effort: the next sync removes it otherwise.
    client_
        ->PostJson("/api/2.0/dbfs/delete",
                   JsonObject({{"path", temp_path}}, {{"recursive", false}}))
        .IgnoreError();
    bool restartable = last.code() == absl::StatusCode::kUnavailable ||
                       last.code() == absl::StatusCode::kDeadlineExceeded ||
                       last.code() == absl::StatusCode::kNotFound ||
                       last.code() == absl::StatusCode::kDataLoss;
    if (!restartable) break;
  }
  close(fd);
  return Annotate(last, absl::StrCat("uploading ", source.local_path,
                                     " to dbfs:", final_path));
}

absl::Status DbfsDestination::Commit(const std::vector<StagedFile>& batch) {
  for (const StagedFile& file : batch) {
    CVT_RETURN_IF_ERROR(Move(file.temp_path, PathOf(file.relative_path)));
  }
  return absl::OkStatus();
}

absl::Status DbfsDestination::Delete(const std::string& relative_path) {
  return client_
      ->PostJson(
          "/api/2.0/dbfs/delete",
          JsonObject({{"path", PathOf(relative_path)}}, {{"recursive", false}}))
      .status();
}

absl::StatusOr<std::string> DbfsDestination::HashFile(
    const std::string& relative_path) {
  Sha256 hash;
  CVT_RETURN_IF_ERROR(
      ReadChunks(PathOf(relative_path),
                 [&hash](absl::string_view data) { hash.Update(data); }));
  return hash.HexDigest();
}

}  // namespace cvt
