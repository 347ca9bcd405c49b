// -----------------------------------------------------------------------------
// File: sync_engine.h
// -----------------------------------------------------------------------------
//
// One-way incremental sync of a run directory to a `Destination`, the core
// of volume_sync.
//
// A pass (`SyncOnce`):
//   1. scans the source (`ScanSource`) and lists the destination;
//   2. loads the manifest (sync_manifest.h) and keeps only entries that still
//      match the destination's listing (size, and mtime where the service
//      keeps it);
//   3. plans: a ready file is skipped, without being read, when its manifest
//      entry has the source's size and mtime and the destination file is
//      there; otherwise it is copied. With `delete_extra`, destination files
//      that pass the filters and have no source file are deleted. Temporary
//      files of crashed runs are removed;
//   4. rewrites the manifest without the entries of files about to be
//      replaced or deleted, so it never describes a file that changes;
//   5. copies in batches (`Stage` on `threads` threads, then `Commit`),
//      `checkpoints.json` files last so that a reader of the destination
//      never finds one that names a checkpoint not yet there; adds entries
//      and checkpoints the manifest every `manifest_interval_s`;
//   6. deletes, flushes, writes the final manifest.
// A pass killed at any point leaves no partial file under a final name and a
// manifest that describes the destination correctly; the next pass
// converges.
//
// `FollowSync` repeats passes while the run is live (settled files only) and
// ends with a full pass once the run's run.json has a final status, or when
// `stop` returns true.
//
// Example:
//
//   LocalDestination dst("/Volumes/main/cv/ckpt/run-7");
//   CVT_RETURN_IF_ERROR(dst.Open(false));
//   CVT_ASSIGN_OR_RETURN(SyncStats stats,
//                        SyncOnce("/local/run-7", {}, dst, SyncOptions()));

#ifndef LIBS_STORAGE_SYNC_ENGINE_H_
#define LIBS_STORAGE_SYNC_ENGINE_H_

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/base/progress.h"
#include "libs/storage/destination.h"
#include "libs/storage/source_tree.h"

namespace cvt {

enum class VerifyMode {
  // Sizes are checked on every copy (always).
  kSize,
  // Also re-reads each copy from the destination and compares its SHA-256.
  kSha256,
};

struct SyncOptions {
  // Print the plan ("copy PATH (N bytes)", "delete PATH") to `plan_stream`
  // and change nothing. Default: false.
  bool dry_run = false;
  // Delete destination files whose source is gone. Default: false.
  bool delete_extra = false;
  VerifyMode verify = VerifyMode::kSize;
  // Parallel transfers. Default: 4.
  int threads = 4;
  // A batch commits after this many files or bytes. Defaults: 512, 256 MiB.
  int batch_files = 512;
  int64_t batch_bytes = int64_t{256} << 20;
  // Seconds between manifest checkpoints during a pass. Default: 1.
  double manifest_interval_s = 1;
  // Progress over the bytes to copy (task "volume_sync").
  ProgressOptions progress;
  // Where dry runs print their plan; nullptr means stdout.
  std::ostream* plan_stream = nullptr;
  // Where warnings go, one line each; default logs them.
  std::function<void(const std::string&)> warn;
};

struct SyncStats {
  int64_t copied = 0;
  int64_t skipped = 0;
  int64_t deleted = 0;
  // Not ready (in-progress checkpoints, unsettled files) or changed while
  // being copied; a later pass picks them up.
  int64_t deferred = 0;
  int64_t bytes = 0;
  int64_t passes = 0;
  // Stale temporary files removed.
  int64_t cleaned = 0;
  // Of `deferred`: files that changed while being copied, and the last one.
  int64_t changed = 0;
  std::string last_changed;

  SyncStats& operator+=(const SyncStats& other);
};

// One pass; see the header comment. Errors: those of the scan and the
// destination, annotated with the path involved; DataLoss when --verify
// sha256 finds a copy that differs.
absl::StatusOr<SyncStats> SyncOnce(const std::string& source_root,
                                   const SourceScanOptions& scan_options,
                                   Destination& destination,
                                   const SyncOptions& options);

// The status train wrote to `<run_dir>/run.json` ("RUNNING", "FINISHED",
// "FAILED", "KILLED"), or "" when there is no readable run.json yet.
std::string ReadRunStatus(const std::string& run_dir);

struct FollowOptions {
  // Seconds between passes. Default: 10.
  double interval_s = 10;
  // Called often; returning true ends following (after a final pass), as on
  // SIGTERM. Default: never.
  std::function<bool()> stop;
  // Called after each pass with the totals so far.
  std::function<void(const SyncStats&)> on_pass;
};

// Passes until the run ends (see the header comment). Then, like a plain
// sync, files that changed while being copied are retried.
absl::StatusOr<SyncStats> FollowSync(const std::string& source_root,
                                     SourceScanOptions scan_options,
                                     Destination& destination,
                                     const SyncOptions& options,
                                     const FollowOptions& follow);

// A plain sync: one pass, repeated (up to 3 passes) while files changed
// during their copy. Errors: as `SyncOnce`; Aborted naming a file that kept
// changing.
absl::StatusOr<SyncStats> SyncUntilStable(const std::string& source_root,
                                          const SourceScanOptions& scan_options,
                                          Destination& destination,
                                          const SyncOptions& options);

}  // namespace cvt

#endif  // LIBS_STORAGE_SYNC_ENGINE_H_
