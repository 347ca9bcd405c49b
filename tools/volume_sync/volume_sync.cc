#include "tools/volume_sync/volume_sync.h"

#include <sys/stat.h>

#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "glog/logging.h"
#include "libs/base/json.h"
#include "libs/base/progress.h"
#include "libs/base/status_macros.h"
#include "libs/base/tool_main.h"
#include "libs/storage/destination.h"
#include "libs/storage/make_destination.h"
#include "libs/storage/sync_engine.h"

namespace cvt {
namespace {

std::string Summary(const SyncStats& stats, double seconds, bool dry_run,
                    const std::string& destination) {
  JsonWriter json;
  json.StartObject();
  json.Key("copied");
  json.Int(stats.copied);
  json.Key("skipped");
  json.Int(stats.skipped);
  json.Key("deleted");
  json.Int(stats.deleted);
  json.Key("deferred");
  json.Int(stats.deferred);
  json.Key("cleaned");
  json.Int(stats.cleaned);
  json.Key("bytes");
  json.Int(stats.bytes);
  json.Key("passes");
  json.Int(stats.passes);
  json.Key("seconds");
  json.Double(seconds);
  json.Key("dry_run");
  json.Bool(dry_run);
  json.Key("destination");
  json.String(destination);
  json.EndObject();
  return *json.Finish();
}

}  // namespace

absl::Status RunVolumeSync(const VolumeSyncOptions& options) {
  CVT_RETURN_IF_ERROR(RequireFlag(options.src_dir, "src"));
  CVT_RETURN_IF_ERROR(RequireFlag(options.dst, "dst"));
  SyncOptions sync;
  if (options.verify == "size") {
    sync.verify = VerifyMode::kSize;
  } else if (options.verify == "sha256") {
    sync.verify = VerifyMode::kSha256;
  } else {
    return absl::InvalidArgumentError(
        "--verify must be 'size' or 'sha256', not '" + options.verify + "'");
  }
  if (options.threads < 0 || options.threads > 64) {
    return absl::InvalidArgumentError("--threads must be in [0, 64]");
  }
  if (!(options.interval_s > 0) || !(options.settle_s >= 0)) {
    return absl::InvalidArgumentError(
        "--interval_s must be > 0 and --settle_s >= 0");
  }
  if (!ParseProgressMode(options.progress, &sync.progress.mode)) {
    return absl::InvalidArgumentError(
        "--progress must be auto, bar, json or none, not '" + options.progress +
        "'");
  }
  if (options.dry_run && options.follow) {
    return absl::InvalidArgumentError(
        "--dry_run and --follow cannot be combined");
  }
  DestinationOptions destination_options;
  CVT_ASSIGN_OR_RETURN(destination_options.transport,
                       ParseDestinationTransport(options.transport));
  destination_options.profile = options.profile;
  destination_options.ca_bundle = options.ca_bundle;
  destination_options.verbose_http = options.verbose_http;
  destination_options.threads = options.threads == 0 ? 4 : options.threads;

  // Check the source before touching the destination.
  struct stat st;
  if (stat(options.src_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::NotFoundError(
        absl::StrCat("--src ", options.src_dir, " is not a folder"));
  }
  CVT_ASSIGN_OR_RETURN(std::unique_ptr<Destination> destination,
                       MakeDestination(options.dst, destination_options));
  CVT_RETURN_IF_ERROR(destination->Open(options.dry_run));

  sync.dry_run = options.dry_run;
  sync.delete_extra = options.delete_extra;
  sync.threads = destination_options.threads;
  std::ostream& out = options.out != nullptr ? *options.out : std::cout;
  sync.plan_stream = &out;
  SourceScanOptions scan;
  scan.include = options.include;
  scan.exclude = options.exclude;
  scan.settle = absl::Seconds(options.settle_s);

  absl::Time start = absl::Now();
  absl::StatusOr<SyncStats> stats;
  if (options.follow) {
    FollowOptions follow;
    follow.interval_s = options.interval_s;
    follow.stop = options.stop;
    follow.on_pass = [](const SyncStats& total) {
      LOG(INFO) << "pass " << total.passes << ": " << total.copied
                << " copied, " << total.deleted << " deleted so far";
    };
    stats = FollowSync(options.src_dir, scan, *destination, sync, follow);
  } else {
    stats = SyncUntilStable(options.src_dir, scan, *destination, sync);
  }
  if (!stats.ok()) return stats.status();
  out << Summary(*stats, absl::ToDoubleSeconds(absl::Now() - start),
                 options.dry_run, destination->Describe())
      << std::endl;
  return absl::OkStatus();
}

}  // namespace cvt
