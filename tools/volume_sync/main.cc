// volume_sync: crash-safe, incremental sync of checkpoints to Volumes or DBFS.

#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "glog/logging.h"
#include "libs/base/status.h"
#include "libs/base/tool_main.h"
#include "tools/volume_sync/volume_sync.h"

ABSL_FLAG(std::string, src, "", "Source folder (a run directory).");
ABSL_FLAG(std::string, dst, "",
          "Destination: local path, /Volumes/... or dbfs:/...");
ABSL_FLAG(std::vector<std::string>, include, {},
          "Glob patterns to copy (default: all).");
ABSL_FLAG(std::vector<std::string>, exclude, {}, "Glob patterns to skip.");
ABSL_FLAG(bool, follow, false,
          "Keep syncing while training runs; exit when it ends.");
ABSL_FLAG(bool, delete, false,
          "Delete destination files gone from the source.");
ABSL_FLAG(std::string, verify, "size", "Check copies by 'size' or 'sha256'.");
ABSL_FLAG(bool, dry_run, false, "Print what would be copied; copy nothing.");
ABSL_FLAG(int, threads, 0, "Parallel copies; 0 = 4.");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Copies finished checkpoints to persistent storage, crash-safely.\n"
      "Usage: volume_sync --src DIR --dst DEST [--include GLOB ...] "
      "[--exclude GLOB ...] [--follow] [--delete] [--verify size|sha256] "
      "[--dry_run] [--threads N]");
  cvt::ParseFlagsOrExit2(argc, argv);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  cvt::VolumeSyncOptions options;
  options.src_dir = cvt::ResolveUserPath(absl::GetFlag(FLAGS_src));
  options.dst = absl::GetFlag(FLAGS_dst);
  options.include = absl::GetFlag(FLAGS_include);
  options.exclude = absl::GetFlag(FLAGS_exclude);
  options.follow = absl::GetFlag(FLAGS_follow);
  options.delete_extra = absl::GetFlag(FLAGS_delete);
  options.verify = absl::GetFlag(FLAGS_verify);
  options.dry_run = absl::GetFlag(FLAGS_dry_run);
  options.threads = absl::GetFlag(FLAGS_threads);
  return cvt::ExitCode("volume_sync", cvt::RunVolumeSync(options));
}
