// -----------------------------------------------------------------------------
// File: staging_dir.h
// -----------------------------------------------------------------------------
//
// A folder that appears complete or not at all. Everything is written into a
// temporary folder beside the target (".<name>.coco_prep-tmp-<pid>"), and
// `Commit()` flushes it to disk with one syncfs(2) (so files inside need no
// fsync of their own), renames it onto the target and fsyncs the parent. If
// `Commit()` is never reached, the destructor deletes the temporary folder. A
// killed process can leave the temporary folder behind, never a partial
// target. The target must not exist: a folder is never overwritten.
//
// Example:
//
//   CVT_ASSIGN_OR_RETURN(auto staging, StagingDir::Create(out));
//   CVT_RETURN_IF_ERROR(WriteEverything(staging->path()));
//   return staging->Commit();
//
// Thread safety: files may be written below `path()` from any thread;
// `Commit()` runs once, after they are closed.

#ifndef TOOLS_COCO_PREP_STAGING_DIR_H_
#define TOOLS_COCO_PREP_STAGING_DIR_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cvt {

class StagingDir {
 public:
  // Creates the temporary folder for `target`. AlreadyExists if `target`
  // exists (file or folder), NotFound if its parent folder does not.
  static absl::StatusOr<std::unique_ptr<StagingDir>> Create(
      absl::string_view target);

  StagingDir(const StagingDir&) = delete;
  StagingDir& operator=(const StagingDir&) = delete;

  // Deletes the temporary folder unless committed.
  ~StagingDir();

  // The temporary folder to write into.
  const std::string& path() const { return temp_; }
  // The final folder, normalised (no trailing slash).
  const std::string& target() const { return target_; }

  // Flushes and renames the temporary folder onto the target. After a failed
  // Commit the temporary folder is still deleted by the destructor.
  absl::Status Commit();

 private:
  StagingDir(std::string temp, std::string target, std::string parent)
      : temp_(std::move(temp)),
        target_(std::move(target)),
        parent_(std::move(parent)) {}

  std::string temp_;
  std::string target_;
  std::string parent_;
  bool committed_ = false;
};

}  // namespace cvt

#endif  // TOOLS_COCO_PREP_STAGING_DIR_H_
