// -----------------------------------------------------------------------------
// File: files_api_destination.h
// -----------------------------------------------------------------------------
//
// A `Destination` in a Unity Catalog Volume through the Databricks Files API
// (`/api/2.0/fs/files`, `/api/2.0/fs/directories`), for machines without the
// /Volumes FUSE mount.
//
// Atomicity: the Files API has no rename. A file is uploaded with one
// `PUT ...?overwrite=true` whose body is streamed from disk; the service
// stores it in cloud object storage, where an object becomes visible only
// once its upload has completed, so an interrupted upload (killed process,
// dropped connection) leaves the previous version or nothing under the final
// name, never a prefix. `Stage` therefore is the commit; it first hashes the
// source through the same file descriptor it then uploads, and afterwards
// checks the stored size with HEAD. Uploads are limited to the single-request
// maximum of 5 GiB (larger files fail with a clear error; use the FUSE mount
// or DBFS for them).
//
// Retries: throttling (429 with Retry-After), 5xx and dropped connections
// are retried (retry.h); a PUT of a whole file is idempotent.
//
// Example:
//
//   FilesApiDestination dst("/Volumes/main/cv/ckpt/run-7", &client);

#ifndef LIBS_STORAGE_FILES_API_DESTINATION_H_
#define LIBS_STORAGE_FILES_API_DESTINATION_H_

#include <string>
#include <vector>

#include "libs/http/rest_client.h"
#include "libs/storage/destination.h"

namespace cvt {

class FilesApiDestination : public Destination {
 public:
  // `root` is an absolute /Volumes/<catalog>/<schema>/<volume>[/...] path.
  // `client` must outlive this object.
  FilesApiDestination(std::string root, RestClient* client);

  std::string Describe() const override;
  absl::Status Open(bool dry_run) override;
  absl::StatusOr<absl::btree_map<std::string, DestinationFile>> ListFiles()
      override;
  absl::StatusOr<std::string> ReadSmallFile(
      const std::string& relative_path) override;
  absl::Status WriteSmallFile(const std::string& relative_path,
                              absl::string_view contents) override;
  absl::StatusOr<StagedFile> Stage(const SourceFile& source,
                                   const std::string& relative_path) override;
  absl::Status Commit(const std::vector<StagedFile>& batch) override;
  absl::Status Delete(const std::string& relative_path) override;
  absl::StatusOr<std::string> HashFile(
      const std::string& relative_path) override;
  absl::Status Flush() override { return absl::OkStatus(); }

  // The single-PUT limit of the Files API.
  static constexpr int64_t kMaxUploadBytes = int64_t{5} << 30;

 private:
  std::string FileUrl(const std::string& relative_path) const;
  std::string DirectoryUrl(const std::string& absolute_path) const;
  absl::Status ListInto(const std::string& absolute_dir,
                        const std::string& prefix,
                        absl::btree_map<std::string, DestinationFile>* out);

  std::string root_;
  RestClient* const client_;
};

}  // namespace cvt

#endif  // LIBS_STORAGE_FILES_API_DESTINATION_H_
