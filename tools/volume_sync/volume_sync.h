// -----------------------------------------------------------------------------
// File: volume_sync.h
// -----------------------------------------------------------------------------
//
// Crash-safe, incremental copy of a run directory to persistent storage: a
// local path (FUSE mounts of /Volumes and /dbfs on a cluster), a Unity
// Catalog Volume through the Databricks Files API, or DBFS through the DBFS
// API. See libs/storage/sync_engine.h for the algorithm and the README for
// the guarantees.

#ifndef TOOLS_VOLUME_SYNC_VOLUME_SYNC_H_
#define TOOLS_VOLUME_SYNC_VOLUME_SYNC_H_

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace cvt {

struct VolumeSyncOptions {
  std::string src_dir;
  // Local path, /Volumes/... or dbfs:/...
  std::string dst;
  // How to reach `dst`: "auto" (dbfs:/ uses the DBFS API; /Volumes/... uses
  // the local FUSE mount when /Volumes exists here, else the Files API;
  // anything else is local), "local", "files_api" or "dbfs_api".
  // Default: "auto".
  std::string transport = "auto";
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  // Keep syncing while training runs; exit when the run ends.
  bool follow = false;
  // Seconds between passes with `follow`. Default: 10.
  double interval_s = 10;
  // With `follow`, seconds a file must be unmodified before it is copied
  // (files listed in checkpoints.json are exempt). Default: 2.
  double settle_s = 2;
  // Mirror deletions (checkpoints that left the top-k).
  bool delete_extra = false;
  // "size" or "sha256".
  std::string verify = "size";
  // Print what would be copied; copy nothing.
  bool dry_run = false;
  // Parallel copies; 0 = 4.
  int threads = 0;
  // "auto", "bar", "json" or "none".
  std::string progress = "auto";
  // Databricks config profile (else DATABRICKS_CONFIG_PROFILE / env).
  std::string profile;
  // PEM bundle of trusted CAs for HTTPS; empty = system store.
  std::string ca_bundle;
  // Trace HTTP requests (credentials redacted) to stderr.
  bool verbose_http = false;
  // Returning true stops --follow after a final pass (SIGTERM/SIGINT).
  std::function<bool()> stop;
  // Where the plan (dry run) and the one-line JSON summary go; nullptr
  // means stdout.
  std::ostream* out = nullptr;
};

// Runs one sync, or follows a live run. Prints plan lines (dry run) and a
// final JSON summary line: {"copied", "skipped", "deleted", "deferred",
// "cleaned", "bytes", "passes", "seconds", "dry_run", "destination"}.
// Errors: InvalidArgument for bad options, NotFound for a missing source,
// FailedPrecondition for an unusable destination (all exit code 2), others
// from the copy naming the file (exit code 1).
absl::Status RunVolumeSync(const VolumeSyncOptions& options);

}  // namespace cvt

#endif  // TOOLS_VOLUME_SYNC_VOLUME_SYNC_H_
