// -----------------------------------------------------------------------------
// File: volume_sync.h
// -----------------------------------------------------------------------------
//
// Crash-safe, incremental copy of a run's checkpoints to a local path, a Unity
// Catalog Volume (/Volumes/...) or DBFS (dbfs:/...).

#ifndef TOOLS_VOLUME_SYNC_VOLUME_SYNC_H_
#define TOOLS_VOLUME_SYNC_VOLUME_SYNC_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace cvt {

struct VolumeSyncOptions {
  std::string src_dir;
  // Local path, /Volumes/... or dbfs:/...
  std::string dst;
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  // Keep syncing while training runs; exit when the run ends.
  bool follow = false;
  // Mirror deletions (checkpoints that left the top-k).
  bool delete_extra = false;
  // "size" or "sha256".
  std::string verify = "size";
  // Print what would be copied; copy nothing.
  bool dry_run = false;
  // Parallel copies; 0 = 4.
  int threads = 0;
};

// InvalidArgument for missing or malformed options.
absl::Status RunVolumeSync(const VolumeSyncOptions& options);

}  // namespace cvt

#endif  // TOOLS_VOLUME_SYNC_VOLUME_SYNC_H_
