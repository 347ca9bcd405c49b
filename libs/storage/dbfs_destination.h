// -----------------------------------------------------------------------------
// File: dbfs_destination.h
// -----------------------------------------------------------------------------
//
// A `Destination` on DBFS through the DBFS API 2.0 (the legacy fallback for
// workspaces without Unity Catalog Volumes).
//
// Atomicity: a DBFS file is visible, and growing, from `create` on, so
// `Stage` writes `.<name>.tmp-...` next to the final name (create, add-block
// in 768 KiB blocks, which base64 keeps under the 1 MB request limit, close)
// and checks the stored size with get-status; `Commit` deletes the old final
// file and `move`s the temporary one onto it. A reader can therefore find the
// final name briefly absent during a replacement, but never partial. A
// temporary file left by a crash is removed by the next sync.
//
// Retries: add-block is not idempotent (a retried block that had in fact
// been applied would duplicate data), so an add-block that fails ambiguously,
// or whose handle expired, restarts the whole file under a new temporary
// name (up to 3 times); 429/503 answers, which did nothing, are retried in
// place. The final size check catches anything else.
//
// Example:
//
//   DbfsDestination dst("/checkpoints/run-7", &client);

#ifndef LIBS_STORAGE_DBFS_DESTINATION_H_
#define LIBS_STORAGE_DBFS_DESTINATION_H_

#include <functional>
#include <string>
#include <vector>

#include "libs/http/rest_client.h"
#include "libs/storage/destination.h"

namespace cvt {

class DbfsDestination : public Destination {
 public:
  // `root` is an absolute DBFS path ("/x/y"; a "dbfs:" prefix is removed).
  // `client` must outlive this object.
  DbfsDestination(std::string root, RestClient* client);

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

  // Raw bytes per add-block (base64 makes 1 MiB of it).
  static constexpr int64_t kBlockBytes = 768 << 10;

 private:
  std::string PathOf(const std::string& relative_path) const;
  absl::StatusOr<std::string> UploadOnce(int fd, int64_t size,
                                         const std::string& temp_path);
  absl::Status Move(const std::string& from, const std::string& to);
  // Reads a whole file through dbfs/read in 1 MiB pieces.
  absl::Status ReadChunks(const std::string& path,
                          const std::function<void(absl::string_view)>& sink);
  absl::Status ListInto(const std::string& absolute_dir,
                        const std::string& prefix,
                        absl::btree_map<std::string, DestinationFile>* out);

  std::string root_;
  RestClient* const client_;
};

}  // namespace cvt

#endif  // LIBS_STORAGE_DBFS_DESTINATION_H_
