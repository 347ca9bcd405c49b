// -----------------------------------------------------------------------------
// File: source_tree.h
// -----------------------------------------------------------------------------
//
// Lists what volume_sync may copy from a run directory, and what it must
// leave alone for now:
//
//   * Filters: a file is considered when it matches an `include` glob (or
//     none are given) and no `exclude` glob. A glob without '/' matches the
//     file's base name at any depth ("*.ckpt"); one with '/' matches the
//     whole relative path, and there '*' also matches '/' ("tmp/*" is
//     everything under tmp/). Files outside the filters are invisible: never
//     copied, never deleted.
//   * In-progress writes: names made by `TempNameFor` (".x.tmp-...") are
//     skipped.
//   * Checkpoints: in a folder that holds train's `checkpoints.json`, a
//     `*.ckpt` file is ready only when that file lists it (and, where it
//     gives them, with the size the file has now; its sha256 is then
//     enforced by the copy). Other .ckpt files there are being written or
//     are leftovers. The format:
//
//       {"version": 1, "checkpoints": [{"file": "epoch=3-step=400.ckpt",
//        "epoch": 3, "step": 400, "monitor": "val/map", "value": 0.41,
//        "best": true, "last": false, "size": 1834021, "sha256": "..."}]}
//
//     (fields other than file/size/sha256 are ignored here).
//   * Settling (for --follow): with `require_settled`, a file modified less
//     than `settle` ago is not ready yet; checkpoint files listed in
//     checkpoints.json are exempt, because the trainer lists a file only once
//     it is complete.
//
// Symbolic links to files are followed (Lightning's `save_last="link"`
// writes last.ckpt as one), links to folders are not.
//
// Example:
//
//   SourceScanOptions options;
//   options.include = {"*.ckpt", "*.json"};
//   CVT_ASSIGN_OR_RETURN(SourceScan scan, ScanSource("/local/run", options));

#ifndef LIBS_STORAGE_SOURCE_TREE_H_
#define LIBS_STORAGE_SOURCE_TREE_H_

#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "libs/storage/destination.h"

namespace cvt {

// The file train rewrites atomically after every checkpoint save.
inline constexpr char kCheckpointsIndexName[] = "checkpoints.json";

struct SourceScanOptions {
  // Globs; see the header comment. Default: none (everything).
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  // Treat recently modified files as not ready. Default: false.
  bool require_settled = false;
  // How long a file must be unmodified to count as settled. Default: 2 s.
  absl::Duration settle = absl::Seconds(2);
  // "Now", for settling; InfinitePast means absl::Now(). Default: now.
  absl::Time now = absl::InfinitePast();
};

struct SourceScan {
  // Files ready to copy, by relative path.
  absl::btree_map<std::string, SourceFile> ready;
  // Files that exist and pass the filters but are not ready (in-progress
  // checkpoints, unsettled files). They are not copied and their
  // destination copies are not deleted.
  absl::btree_set<std::string> not_ready;
  // Problems worth a warning (an unreadable checkpoints.json, a dangling
  // link), one line each.
  std::vector<std::string> warnings;
};

// True when `relative_path` passes the include/exclude globs.
bool PassesFilters(absl::string_view relative_path,
                   const std::vector<std::string>& include,
                   const std::vector<std::string>& exclude);

// Scans `root`. Errors: NotFound / FailedPrecondition naming `root` when it
// is missing or not a folder; errors listing or stating files, naming them.
absl::StatusOr<SourceScan> ScanSource(const std::string& root,
                                      const SourceScanOptions& options);

}  // namespace cvt

#endif  // LIBS_STORAGE_SOURCE_TREE_H_
