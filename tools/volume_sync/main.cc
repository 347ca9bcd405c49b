// volume_sync: crash-safe, incremental sync of checkpoints to Volumes or DBFS.

#include <signal.h>

#include <atomic>
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
          "Destination: a local path, /Volumes/<catalog>/<schema>/<volume>/... "
          "or dbfs:/...");
ABSL_FLAG(std::string, transport, "auto",
          "How to reach --dst: auto (dbfs:/ -> DBFS API; /Volumes/... -> the "
          "local FUSE mount if /Volumes exists, else the Files API; other "
          "paths -> local), local, files_api or dbfs_api.");
ABSL_FLAG(std::vector<std::string>, include, {},
          "Comma-separated globs to copy (default: all). Without '/', a glob "
          "matches base names at any depth ('*.ckpt'); with '/', the whole "
          "relative path ('plots/*').");
ABSL_FLAG(std::vector<std::string>, exclude, {},
          "Comma-separated globs to skip (same rules as --include).");
ABSL_FLAG(bool, follow, false,
          "Keep syncing while training runs; exit after a final pass when "
          "run.json has a final status (or on SIGTERM/SIGINT).");
ABSL_FLAG(double, interval_s, 10, "Seconds between passes with --follow.");
ABSL_FLAG(double, settle_s, 2,
          "With --follow, seconds a file must be unmodified before it is "
          "copied (checkpoints listed in checkpoints.json are exempt).");
ABSL_FLAG(bool, delete, false,
          "Delete destination files whose source is gone (mirrors train's "
          "top-k deletions); files outside --include/--exclude are kept.");
ABSL_FLAG(std::string, verify, "size",
          "Check copies by 'size' (always done) or also 'sha256' (re-reads "
          "every copy from the destination).");
ABSL_FLAG(bool, dry_run, false,
          "Print what would be copied and deleted; change nothing.");
ABSL_FLAG(int, threads, 0, "Parallel copies; 0 = 4.");
ABSL_FLAG(std::string, progress, "auto",
          "Progress on stderr: auto (a bar on a terminal), bar, json, none.");
ABSL_FLAG(std::string, profile, "",
          "Databricks config profile in ~/.databrickscfg (default: "
          "DATABRICKS_CONFIG_PROFILE, else DATABRICKS_HOST/DATABRICKS_TOKEN "
          "or DATABRICKS_CLIENT_ID/DATABRICKS_CLIENT_SECRET, else DEFAULT).");
ABSL_FLAG(std::string, ca_bundle, "",
          "PEM file of trusted CAs for HTTPS (default: the system store).");
ABSL_FLAG(bool, verbose_http, false,
          "Trace HTTP requests and responses to stderr (credentials "
          "redacted).");

namespace {

std::atomic<bool> stop_requested{false};

void RequestStop(int) { stop_requested.store(true); }

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Copies a run directory's finished files (checkpoints, metrics, "
      "plots) to persistent storage, crash-safely and incrementally.\n"
      "Usage: volume_sync --src DIR --dst DEST [--include GLOB ...] "
      "[--exclude GLOB ...] [--follow] [--delete] [--verify size|sha256] "
      "[--dry_run] [--threads N]\n"
      "Prints one JSON summary line on stdout. Credentials for /Volumes "
      "(Files API) and dbfs:/ come from the environment or "
      "~/.databrickscfg, never from flags.");
  cvt::ParseFlagsOrExit2(argc, argv);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  struct sigaction action = {};
  action.sa_handler = RequestStop;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);

  cvt::VolumeSyncOptions options;
  options.src_dir = cvt::ResolveUserPath(absl::GetFlag(FLAGS_src));
  std::string dst = absl::GetFlag(FLAGS_dst);
  // Remote paths are not relative to the working directory.
  options.dst = dst.rfind("dbfs:", 0) == 0 || dst.rfind("/Volumes/", 0) == 0
                    ? dst
                    : cvt::ResolveUserPath(dst);
  options.transport = absl::GetFlag(FLAGS_transport);
  options.include = absl::GetFlag(FLAGS_include);
  options.exclude = absl::GetFlag(FLAGS_exclude);
  options.follow = absl::GetFlag(FLAGS_follow);
  options.interval_s = absl::GetFlag(FLAGS_interval_s);
  options.settle_s = absl::GetFlag(FLAGS_settle_s);
  options.delete_extra = absl::GetFlag(FLAGS_delete);
  options.verify = absl::GetFlag(FLAGS_verify);
  options.dry_run = absl::GetFlag(FLAGS_dry_run);
  options.threads = absl::GetFlag(FLAGS_threads);
  options.progress = absl::GetFlag(FLAGS_progress);
  options.profile = absl::GetFlag(FLAGS_profile);
  options.ca_bundle = absl::GetFlag(FLAGS_ca_bundle);
  options.verbose_http = absl::GetFlag(FLAGS_verbose_http);
  options.stop = [] { return stop_requested.load(); };
  return cvt::ExitCode("volume_sync", cvt::RunVolumeSync(options));
}
