#include "libs/storage/sync_engine.h"

#include <algorithm>
#include <iostream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "glog/logging.h"
#include "libs/base/file_io.h"
#include "libs/base/json.h"
#include "libs/base/parallel.h"
#include "libs/base/status.h"
#include "libs/base/status_macros.h"
#include "libs/storage/sync_manifest.h"

namespace cvt {
namespace {

std::string BaseName(absl::string_view path) {
  return std::string(path.substr(path.find_last_of('/') + 1));
}

struct CopyJob {
  std::string relative_path;
  SourceFile source;
};

class Pass {
 public:
  Pass(Destination& destination, const SyncOptions& options)
      : destination_(destination), options_(options) {}

  absl::StatusOr<SyncStats> Run(const std::string& source_root,
                                const SourceScanOptions& scan_options);

 private:
  void Warn(const std::string& line) {
    if (options_.warn) {
      options_.warn(line);
    } else {
      LOG(WARNING) << line;
    }
  }
  absl::Status WriteManifest();
  absl::Status CopyBatch(std::vector<CopyJob>& jobs,
                         ProgressReporter& progress);

  Destination& destination_;
  const SyncOptions& options_;
  SyncManifest manifest_;
  SyncStats stats_;
  absl::Time last_manifest_write_ = absl::InfinitePast();
  bool manifest_dirty_ = false;
};

absl::Status Pass::WriteManifest() {
  // Renames committed so far must be durable before a manifest that lists
  // them is.
  CVT_RETURN_IF_ERROR(destination_.Flush());
  CVT_RETURN_IF_ERROR(destination_.WriteSmallFile(
      kSyncManifestName, SerializeSyncManifest(manifest_)));
  last_manifest_write_ = absl::Now();
  manifest_dirty_ = false;
  return absl::OkStatus();
}

absl::Status Pass::CopyBatch(std::vector<CopyJob>& jobs,
                             ProgressReporter& progress) {
  std::vector<absl::StatusOr<StagedFile>> results(
      jobs.size(), absl::UnknownError("not run"));
  ParallelFor(
      static_cast<int64_t>(jobs.size()), options_.threads, [&](int64_t i) {
        results[i] = destination_.Stage(jobs[i].source, jobs[i].relative_path);
        if (results[i].ok()) progress.Add(results[i]->size);
      });
  std::vector<StagedFile> staged;
  absl::Status first_error;
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (results[i].ok()) {
      staged.push_back(*std::move(results[i]));
    } else if (results[i].status().code() == absl::StatusCode::kAborted) {
      ++stats_.deferred;
      ++stats_.changed;
      stats_.last_changed = jobs[i].relative_path;
      Warn(absl::StrCat("will retry ", jobs[i].relative_path, ": ",
                        results[i].status().message()));
    } else if (first_error.ok()) {
      first_error = Annotate(results[i].status(),
                             absl::StrCat("copying ", jobs[i].relative_path));
    }
  }
  // Files staged before an error are still committed: their bytes are
  // complete and verified.
  absl::Status committed = destination_.Commit(staged);
  if (!committed.ok()) return committed;
  for (const StagedFile& file : staged) {
    if (options_.verify == VerifyMode::kSha256) {
      absl::StatusOr<std::string> hash =
          destination_.HashFile(file.relative_path);
      if (!hash.ok()) {
        return Annotate(hash.status(),
                        absl::StrCat("verifying ", file.relative_path));
      }
      if (*hash != file.sha256) {
        return absl::DataLossError(absl::StrCat(
            destination_.Describe(), "/", file.relative_path,
            ": sha256 after copy is ", *hash, ", expected ", file.sha256));
      }
    }
    manifest_.files[file.relative_path] =
        ManifestEntry{file.size, file.mtime_ns, file.sha256};
    ++stats_.copied;
    stats_.bytes += file.size;
    manifest_dirty_ = true;
  }
  if (!first_error.ok()) return first_error;
  if (absl::Now() - last_manifest_write_ >=
      absl::Seconds(options_.manifest_interval_s)) {
    CVT_RETURN_IF_ERROR(WriteManifest());
  }
  return absl::OkStatus();
}

absl::StatusOr<SyncStats> Pass::Run(const std::string& source_root,
                                    const SourceScanOptions& scan_options) {
  stats_.passes = 1;
  // The source scan and the destination listing (plus the manifest) are
  // independent: run them side by side. On a no-op pass over 10k files they
  // are nearly all of the work (two stats per file).
  absl::StatusOr<absl::btree_map<std::string, DestinationFile>> listing;
  absl::StatusOr<std::string> manifest_text;
  std::thread lister([&] {
    listing = destination_.ListFiles();
    if (listing.ok()) {
      manifest_text = destination_.ReadSmallFile(kSyncManifestName);
    }
  });
  absl::StatusOr<SourceScan> scanned = ScanSource(source_root, scan_options);
  lister.join();
  CVT_RETURN_IF_ERROR(scanned.status());
  CVT_RETURN_IF_ERROR(listing.status());
  SourceScan& scan = *scanned;
  for (const std::string& warning : scan.warnings) Warn(warning);
  // The source's own manifest (a destination synced back) is not data.
  scan.ready.erase(kSyncManifestName);
  scan.not_ready.erase(kSyncManifestName);
  stats_.deferred += static_cast<int64_t>(scan.not_ready.size());

  // Whether the manifest on disk must be rewritten before copying: it is
  // missing or invalid, or it has entries that no longer hold.
  bool manifest_stale = true;
  if (manifest_text.ok()) {
    absl::StatusOr<SyncManifest> parsed = ParseSyncManifest(
        *manifest_text,
        absl::StrCat(destination_.Describe(), "/", kSyncManifestName));
    if (parsed.ok()) {
      manifest_ = *std::move(parsed);
      manifest_stale = false;
    } else {
      Warn(
          absl::StrCat("rebuilding the manifest: ", parsed.status().message()));
    }
  } else if (manifest_text.status().code() != absl::StatusCode::kNotFound) {
    return Annotate(manifest_text.status(), "reading the manifest");
  }
  // Keep the entries the destination still backs.
  for (auto entry = manifest_.files.begin(); entry != manifest_.files.end();) {
    auto it = listing->find(entry->first);
    if (it == listing->end() || it->second.size != entry->second.size ||
        (it->second.mtime_ns >= 0 &&
         it->second.mtime_ns != entry->second.mtime_ns)) {
      entry = manifest_.files.erase(entry);
      manifest_stale = true;
    } else {
      ++entry;
    }
  }

  // Plan.
  std::vector<CopyJob> copies;
  std::vector<CopyJob> index_copies;  // checkpoints.json files, copied last.
  int64_t bytes_to_copy = 0;
  for (const auto& [path, source] : scan.ready) {
    auto entry = manifest_.files.find(path);
    if (entry != manifest_.files.end() && entry->second.size == source.size &&
        entry->second.mtime_ns == source.mtime_ns) {
      ++stats_.skipped;
      continue;
    }
    bytes_to_copy += source.size;
    (BaseName(path) == kCheckpointsIndexName ? index_copies : copies)
        .push_back({path, source});
  }
  std::vector<std::string> stale;
  std::vector<std::string> deletions;
  for (const auto& [path, file] : *listing) {
    if (path == kSyncManifestName) continue;
    if (IsTempName(BaseName(path))) {
      stale.push_back(path);
      continue;
    }
    if (options_.delete_extra && !scan.ready.contains(path) &&
        !scan.not_ready.contains(path) &&
        PassesFilters(path, scan_options.include, scan_options.exclude)) {
      deletions.push_back(path);
    }
  }

  if (options_.dry_run) {
    std::ostream& out =
        options_.plan_stream != nullptr ? *options_.plan_stream : std::cout;
    for (const auto* list : {&copies, &index_copies}) {
      for (const CopyJob& job : *list) {
        out << "copy " << job.relative_path << " (" << job.source.size
            << " bytes)\n";
        ++stats_.copied;
        stats_.bytes += job.source.size;
      }
    }
    for (const std::string& path : deletions) {
      out << "delete " << path << "\n";
      ++stats_.deleted;
    }
    out.flush();
    return stats_;
  }

  for (const std::string& path : stale) {
    CVT_RETURN_IF_ERROR(
        Annotate(destination_.Delete(path), "removing a stale temporary file"));
    ++stats_.cleaned;
  }
  // Entries of files about to change go first.
  for (const auto* list : {&copies, &index_copies}) {
    for (const CopyJob& job : *list) {
      if (manifest_.files.erase(job.relative_path) > 0) manifest_stale = true;
    }
  }
  for (const std::string& path : deletions) {
    if (manifest_.files.erase(path) > 0) manifest_stale = true;
  }
  if (manifest_stale) {
    CVT_RETURN_IF_ERROR(WriteManifest());
  }

  ProgressReporter progress("volume_sync", bytes_to_copy, options_.progress);
  for (std::vector<CopyJob>* list : {&copies, &index_copies}) {
    size_t begin = 0;
    while (begin < list->size()) {
      size_t end = begin;
      int64_t batch_bytes = 0;
      while (end < list->size() &&
             static_cast<int>(end - begin) < options_.batch_files &&
             (end == begin || batch_bytes < options_.batch_bytes)) {
        batch_bytes += (*list)[end].source.size;
        ++end;
      }
      std::vector<CopyJob> batch(list->begin() + begin, list->begin() + end);
      absl::Status status = CopyBatch(batch, progress);
      if (!status.ok()) {
        // Record what did land before reporting the error.
        absl::Status saved = WriteManifest();
        if (!saved.ok()) LOG(ERROR) << saved;
        return status;
      }
      begin = end;
    }
  }
  progress.Finish();
  for (const std::string& path : deletions) {
    CVT_RETURN_IF_ERROR(destination_.Delete(path));
    ++stats_.deleted;
  }
  if (manifest_dirty_ || stats_.deleted > 0) {
    CVT_RETURN_IF_ERROR(WriteManifest());
  }
  return stats_;
}

}  // namespace

SyncStats& SyncStats::operator+=(const SyncStats& other) {
  copied += other.copied;
  skipped += other.skipped;
  deleted += other.deleted;
  deferred += other.deferred;
  bytes += other.bytes;
  passes += other.passes;
  cleaned += other.cleaned;
  changed += other.changed;
  if (!other.last_changed.empty()) last_changed = other.last_changed;
  return *this;
}

absl::StatusOr<SyncStats> SyncOnce(const std::string& source_root,
                                   const SourceScanOptions& scan_options,
                                   Destination& destination,
                                   const SyncOptions& options) {
  Pass pass(destination, options);
  return pass.Run(source_root, scan_options);
}

std::string ReadRunStatus(const std::string& run_dir) {
  absl::StatusOr<rapidjson::Document> doc =
      ReadJsonFile(absl::StrCat(run_dir, "/run.json"));
  if (!doc.ok() || !doc->IsObject()) return "";
  auto status = doc->FindMember("status");
  if (status == doc->MemberEnd() || !status->value.IsString()) return "";
  return status->value.GetString();
}

absl::StatusOr<SyncStats> SyncUntilStable(const std::string& source_root,
                                          const SourceScanOptions& scan_options,
                                          Destination& destination,
                                          const SyncOptions& options) {
  SyncStats total;
  for (int attempt = 0;; ++attempt) {
    CVT_ASSIGN_OR_RETURN(SyncStats stats, SyncOnce(source_root, scan_options,
                                                   destination, options));
    // A retry pass skips what the first pass copied; count files once.
    int64_t skipped = attempt == 0 ? stats.skipped : total.skipped;
    total += stats;
    total.skipped = skipped;
    total.deferred = stats.deferred;
    total.changed = stats.changed;
    if (stats.changed == 0 || options.dry_run) return total;
    if (attempt == 2) {
      return absl::AbortedError(absl::StrCat(
          source_root, "/", stats.last_changed,
          " kept changing while being copied (is something still writing "
          "it? use --follow beside a live run)"));
    }
  }
}

absl::StatusOr<SyncStats> FollowSync(const std::string& source_root,
                                     SourceScanOptions scan_options,
                                     Destination& destination,
                                     const SyncOptions& options,
                                     const FollowOptions& follow) {
  SyncStats total;
  auto stopped = [&] { return follow.stop && follow.stop(); };
  while (true) {
    std::string status = ReadRunStatus(source_root);
    bool ended = !status.empty() && status != "RUNNING";
    if (ended || stopped()) break;
    scan_options.require_settled = true;
    scan_options.now = absl::InfinitePast();
    CVT_ASSIGN_OR_RETURN(SyncStats stats, SyncOnce(source_root, scan_options,
                                                   destination, options));
    stats.deferred = 0;  // Only the final pass's count means anything.
    stats.changed = 0;
    total += stats;
    if (follow.on_pass) follow.on_pass(total);
    absl::Time wake = absl::Now() + absl::Seconds(follow.interval_s);
    while (absl::Now() < wake && !stopped()) {
      absl::SleepFor(std::min(absl::Milliseconds(100), wake - absl::Now()));
    }
  }
  scan_options.require_settled = false;
  CVT_ASSIGN_OR_RETURN(
      SyncStats last,
      SyncUntilStable(source_root, scan_options, destination, options));
  total += last;
  total.deferred = last.deferred;
  if (follow.on_pass) follow.on_pass(total);
  return total;
}

}  // namespace cvt
