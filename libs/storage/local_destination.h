// -----------------------------------------------------------------------------
// File: local_destination.h
// -----------------------------------------------------------------------------
//
// A `Destination` on a local file system path, which is also how FUSE mounts
// of Unity Catalog Volumes (/Volumes/...) and DBFS (/dbfs/...) appear on a
// Databricks cluster.
//
// Atomicity: `Stage` writes `.<name>.tmp-<pid>-<random>` in the final
// folder, hashing the bytes on the way and setting the copy's mtime to the
// source's; `Commit` renames. Durability: before a batch's renames, one
// `syncfs` makes the data of every staged file durable (one barrier per batch
// instead of an fsync per file, which on the CI disk is ~0.3 ms each), and
// `Flush` makes the renames durable. So neither a crash nor a power cut can
// leave a partial file under a final name. (FUSE mounts of object storage
// may not implement rename atomically; there the guarantee is the mount's.)
//
// Example:
//
//   LocalDestination dst("/Volumes/main/cv/ckpt/run-7");
//   CVT_RETURN_IF_ERROR(dst.Open(/*dry_run=*/false));

#ifndef LIBS_STORAGE_LOCAL_DESTINATION_H_
#define LIBS_STORAGE_LOCAL_DESTINATION_H_

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "libs/storage/destination.h"

namespace cvt {

class LocalDestination : public Destination {
 public:
  explicit LocalDestination(std::string root);
  ~LocalDestination() override;

  std::string Describe() const override { return root_; }
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
  absl::Status Flush() override;

 private:
  std::string PathOf(const std::string& relative_path) const;
  absl::Status MakeParents(const std::string& relative_path)
      ABSL_LOCKS_EXCLUDED(mu_);

  std::string root_;
  int root_fd_ = -1;
  absl::Mutex mu_;
  absl::flat_hash_set<std::string> made_dirs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cvt

#endif  // LIBS_STORAGE_LOCAL_DESTINATION_H_
