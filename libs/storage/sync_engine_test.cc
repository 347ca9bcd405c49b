#include "libs/storage/sync_engine.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/file_io.h"
#include "libs/base/sha256.h"
#include "libs/base/status_matchers.h"
#include "libs/base/testdata.h"
#include "libs/storage/local_destination.h"
#include "libs/storage/sync_manifest.h"

namespace cvt {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Wraps a real LocalDestination to record the order of commits and to inject
// failures or source changes at a chosen Stage call.
class InstrumentedDestination : public Destination {
 public:
  explicit InstrumentedDestination(std::string root) : inner_(root) {}

  std::string Describe() const override { return inner_.Describe(); }
  absl::Status Open(bool dry_run) override { return inner_.Open(dry_run); }
  absl::StatusOr<absl::btree_map<std::string, DestinationFile>> ListFiles()
      override {
    return inner_.ListFiles();
  }
  absl::StatusOr<std::string> ReadSmallFile(const std::string& p) override {
    return inner_.ReadSmallFile(p);
  }
  absl::Status WriteSmallFile(const std::string& p,
                              absl::string_view c) override {
    return inner_.WriteSmallFile(p, c);
  }
  absl::StatusOr<StagedFile> Stage(const SourceFile& source,
                                   const std::string& path) override {
    int call = stage_calls_++;
    if (before_stage) before_stage(call, source, path);
    if (call == fail_at_stage) return absl::UnavailableError("injected");
    return inner_.Stage(source, path);
  }
  absl::Status Commit(const std::vector<StagedFile>& batch) override {
    for (const StagedFile& f : batch) committed.push_back(f.relative_path);
    return inner_.Commit(batch);
  }
  absl::Status Delete(const std::string& p) override {
    deleted.push_back(p);
    return inner_.Delete(p);
  }
  absl::StatusOr<std::string> HashFile(const std::string& p) override {
    return inner_.HashFile(p);
  }
  absl::Status Flush() override { return inner_.Flush(); }

  std::vector<std::string> committed;
  std::vector<std::string> deleted;
  int fail_at_stage = -1;
  std::function<void(int, const SourceFile&, const std::string&)> before_stage;

 private:
  LocalDestination inner_;
  std::atomic<int> stage_calls_{0};
};

class SyncEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = TestTempPath(
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_EQ(mkdir(base_.c_str(), 0777), 0);
    src_ = base_ + "/run";
    dst_ = base_ + "/dst";
    ASSERT_EQ(mkdir(src_.c_str(), 0777), 0);
    options_.progress.mode = ProgressMode::kNone;
    options_.warn = [this](const std::string& line) {
      warnings_.push_back(line);
    };
  }

  void Write(const std::string& relative, const std::string& data) {
    std::string path = src_ + "/" + relative;
    ASSERT_THAT(MakeDirs(path.substr(0, path.find_last_of('/'))), IsOk());
    ASSERT_THAT(WriteFileAtomically(path, data), IsOk());
  }

  // Every file under dst (manifest excluded) with its contents.
  std::map<std::string, std::string> DestinationContents() {
    std::map<std::string, std::string> out;
    LocalDestination view(dst_);
    auto listing = view.ListFiles();
    EXPECT_THAT(listing, IsOk());
    for (const auto& [path, file] : *listing) {
      if (path == kSyncManifestName) continue;
      out[path] = *ReadFileToString(dst_ + "/" + path);
    }
    return out;
  }

  // Asserts the manifest invariant: every entry describes its file exactly.
  SyncManifest CheckManifest() {
    auto text = ReadFileToString(dst_ + "/" + kSyncManifestName);
    EXPECT_THAT(text, IsOk());
    auto manifest = ParseSyncManifest(*text, "manifest");
    EXPECT_THAT(manifest, IsOk());
    for (const auto& [path, entry] : manifest->files) {
      auto data = ReadFileToString(dst_ + "/" + path);
      EXPECT_THAT(data, IsOk()) << path;
      if (!data.ok()) continue;
      EXPECT_EQ(static_cast<int64_t>(data->size()), entry.size) << path;
      EXPECT_EQ(Sha256Hex(*data), entry.sha256) << path;
    }
    return *manifest;
  }

  absl::StatusOr<SyncStats> Sync(Destination& dst) {
    absl::Status opened = dst.Open(options_.dry_run);
    if (!opened.ok()) return opened;
    return SyncUntilStable(src_, scan_, dst, options_);
  }

  std::string base_, src_, dst_;
  SyncOptions options_;
  SourceScanOptions scan_;
  std::vector<std::string> warnings_;
};

TEST_F(SyncEngineTest, CopiesThenSkipsUnchangedThenCopiesChanges) {
  Write("run.json", R"({"status": "FINISHED"})");
  Write("metrics.jsonl", "a\n");
  Write("plots/loss.png", std::string(100000, 'p'));
  {
    LocalDestination dst(dst_);
    auto stats = Sync(dst);
    ASSERT_THAT(stats, IsOk());
    EXPECT_EQ(stats->copied, 3);
    EXPECT_EQ(stats->bytes, 22 + 2 + 100000);
  }
  EXPECT_EQ(DestinationContents(),
            (std::map<std::string, std::string>{
                {"metrics.jsonl", "a\n"},
                {"plots/loss.png", std::string(100000, 'p')},
                {"run.json", R"({"status": "FINISHED"})"}}));
  EXPECT_EQ(CheckManifest().files.size(), 3u);
  {
    LocalDestination dst(dst_);
    auto stats = Sync(dst);
    ASSERT_THAT(stats, IsOk());
    EXPECT_EQ(stats->copied, 0);
    EXPECT_EQ(stats->skipped, 3);
  }
  Write("metrics.jsonl", "a\nb\n");
  ASSERT_EQ(unlink((dst_ + "/plots/loss.png").c_str()), 0);  // Lost copy.
  {
    LocalDestination dst(dst_);
    auto stats = Sync(dst);
    ASSERT_THAT(stats, IsOk());
    EXPECT_EQ(stats->copied, 2);
    EXPECT_EQ(stats->skipped, 1);
  }
  EXPECT_EQ(DestinationContents()["metrics.jsonl"], "a\nb\n");
  EXPECT_EQ(DestinationContents()["plots/loss.png"].size(), 100000u);
  CheckManifest();
}

TEST_F(SyncEngineTest, SameSizeRewriteIsDetectedByMtime) {
  Write("a.bin", "1111");
  {
    LocalDestination first(dst_);
    ASSERT_THAT(Sync(first), IsOk());
  }
  // Same size, new content, later mtime.
  struct stat st;
  ASSERT_EQ(stat((src_ + "/a.bin").c_str(), &st), 0);
  Write("a.bin", "2222");
  struct timespec times[2] = {st.st_atim, st.st_mtim};
  times[1].tv_sec += 5;
  ASSERT_EQ(utimensat(AT_FDCWD, (src_ + "/a.bin").c_str(), times, 0), 0);
  LocalDestination second(dst_);
  auto stats = Sync(second);
  ASSERT_THAT(stats, IsOk());
  EXPECT_EQ(stats->copied, 1);
  EXPECT_EQ(DestinationContents()["a.bin"], "2222");
  CheckManifest();
}

TEST_F(SyncEngineTest, DeleteMirrorsRemovalsButSparesFilteredAndPending) {
  Write("checkpoints/epoch=0.ckpt", "0");
  Write("checkpoints/epoch=1.ckpt", "1");
  Write("keep.txt", "k");
  Write("checkpoints/checkpoints.json",
        R"({"checkpoints": [{"file": "epoch=0.ckpt"},
                            {"file": "epoch=1.ckpt"}]})");
  {
    LocalDestination first(dst_);
    ASSERT_THAT(Sync(first), IsOk());
  }
  ASSERT_EQ(DestinationContents().size(), 4u);

  // Top-k drops epoch=0; epoch=2 is being written (not listed yet).
  ASSERT_EQ(unlink((src_ + "/checkpoints/epoch=0.ckpt").c_str()), 0);
  ASSERT_EQ(unlink((src_ + "/keep.txt").c_str()), 0);
  Write("checkpoints/epoch=2.ckpt", "2-partial");
  Write("checkpoints/checkpoints.json",
        R"({"checkpoints": [{"file": "epoch=1.ckpt"}]})");
  options_.delete_extra = true;
  scan_.exclude = {"keep.txt"};
  InstrumentedDestination dst(dst_);
  auto stats = Sync(dst);
  ASSERT_THAT(stats, IsOk());
  EXPECT_EQ(stats->deleted, 1);
  EXPECT_EQ(stats->deferred, 1);
  EXPECT_THAT(dst.deleted, ElementsAre("checkpoints/epoch=0.ckpt"));
  auto contents = DestinationContents();
  EXPECT_EQ(contents.count("checkpoints/epoch=2.ckpt"), 0u);
  EXPECT_EQ(contents.count("keep.txt"), 1u) << "excluded files are spared";
  EXPECT_EQ(CheckManifest().files.count("checkpoints/epoch=0.ckpt"), 0u);
}

TEST_F(SyncEngineTest, CheckpointIndexIsCommittedLast) {
  for (int i = 0; i < 5; ++i) {
    Write("checkpoints/epoch=" + std::to_string(i) + ".ckpt",
          std::string(1000 * (i + 1), 'c'));
  }
  Write("checkpoints/checkpoints.json",
        R"({"checkpoints": [{"file": "epoch=0.ckpt"}, {"file": "epoch=1.ckpt"},
            {"file": "epoch=2.ckpt"}, {"file": "epoch=3.ckpt"},
            {"file": "epoch=4.ckpt"}]})");
  Write("zz_last_alphabetically.txt", "z");
  options_.batch_files = 2;
  InstrumentedDestination dst(dst_);
  ASSERT_THAT(Sync(dst), IsOk());
  ASSERT_EQ(dst.committed.size(), 7u);
  EXPECT_EQ(dst.committed.back(), "checkpoints/checkpoints.json");
}

TEST_F(SyncEngineTest, FailureMidwayLeavesAConsistentManifestAndConverges) {
  for (int i = 0; i < 40; ++i) {
    Write("f" + std::to_string(i), std::string(i * 100, 'a' + i % 26));
  }
  options_.batch_files = 8;
  options_.threads = 2;
  {
    InstrumentedDestination dst(dst_);
    dst.fail_at_stage = 20;
    auto stats = Sync(dst);
    EXPECT_THAT(stats, StatusIs(absl::StatusCode::kUnavailable));
    EXPECT_THAT(stats.status().message(), HasSubstr("injected"));
  }
  SyncManifest partial = CheckManifest();
  EXPECT_GE(partial.files.size(), 16u);
  EXPECT_LT(partial.files.size(), 40u);
  for (const auto& [path, contents] : DestinationContents()) {
    EXPECT_FALSE(IsTempName(path)) << path;
  }
  InstrumentedDestination dst(dst_);
  auto stats = Sync(dst);
  ASSERT_THAT(stats, IsOk());
  EXPECT_EQ(stats->copied + stats->skipped, 40);
  EXPECT_EQ(stats->skipped, static_cast<int64_t>(partial.files.size()));
  EXPECT_EQ(CheckManifest().files.size(), 40u);
}

TEST_F(SyncEngineTest, StaleTempFilesAreRemoved) {
  Write("a", "a");
  ASSERT_EQ(mkdir(dst_.c_str(), 0777), 0);
  ASSERT_THAT(WriteFileAtomically(dst_ + "/.a.tmp-1-2-3", "partial"), IsOk());
  LocalDestination dst(dst_);
  auto stats = Sync(dst);
  ASSERT_THAT(stats, IsOk());
  EXPECT_EQ(stats->cleaned, 1);
  EXPECT_EQ(DestinationContents(),
            (std::map<std::string, std::string>{{"a", "a"}}));
}

TEST_F(SyncEngineTest, FileChangingDuringCopyIsRetried) {
  Write("growing.log", "v1");
  InstrumentedDestination dst(dst_);
  dst.before_stage = [&](int call, const SourceFile&, const std::string&) {
    if (call == 0) {
      ASSERT_THAT(WriteFileAtomically(src_ + "/growing.log", "v2, longer"),
                  IsOk());
    }
  };
  auto stats = Sync(dst);
  ASSERT_THAT(stats, IsOk());
  EXPECT_EQ(stats->copied, 1);
  EXPECT_EQ(DestinationContents()["growing.log"], "v2, longer");
  ASSERT_FALSE(warnings_.empty());
  EXPECT_THAT(warnings_[0], HasSubstr("will retry growing.log"));
}

TEST_F(SyncEngineTest, DryRunPrintsThePlanAndWritesNothing) {
  Write("a", "aa");
  Write("b/c", "ccc");
  options_.dry_run = true;
  std::ostringstream plan;
  options_.plan_stream = &plan;
  LocalDestination dst(dst_);
  auto stats = Sync(dst);
  ASSERT_THAT(stats, IsOk());
  EXPECT_EQ(stats->copied, 2);
  EXPECT_EQ(plan.str(), "copy a (2 bytes)\ncopy b/c (3 bytes)\n");
  EXPECT_NE(access(dst_.c_str(), F_OK), 0);
}

TEST_F(SyncEngineTest, VerifySha256ReadsBackEveryCopy) {
  Write("a", std::string(5 << 20, 'v'));
  options_.verify = VerifyMode::kSha256;
  LocalDestination dst(dst_);
  auto stats = Sync(dst);
  ASSERT_THAT(stats, IsOk());
  EXPECT_EQ(stats->copied, 1);
}

TEST_F(SyncEngineTest, FollowEndsWhenTheRunEnds) {
  Write("run.json", R"({"status": "RUNNING"})");
  std::thread trainer([&] {
    for (int epoch = 0; epoch < 3; ++epoch) {
      Write("checkpoints/epoch=" + std::to_string(epoch) + ".ckpt",
            std::string(1000, 'e'));
      std::string index = "{\"checkpoints\": [";
      for (int e = 0; e <= epoch; ++e) {
        index += (e ? "," : "") + std::string("{\"file\": \"epoch=") +
                 std::to_string(e) + ".ckpt\"}";
      }
      Write("checkpoints/checkpoints.json", index + "]}");
      absl::SleepFor(absl::Milliseconds(150));
    }
    Write("run.json", R"({"status": "FINISHED"})");
  });
  LocalDestination dst(dst_);
  ASSERT_THAT(dst.Open(false), IsOk());
  FollowOptions follow;
  follow.interval_s = 0.05;
  int passes = 0;
  follow.on_pass = [&](const SyncStats&) { ++passes; };
  auto stats = FollowSync(src_, scan_, dst, options_, follow);
  trainer.join();
  ASSERT_THAT(stats, IsOk());
  EXPECT_GT(passes, 2);
  auto contents = DestinationContents();
  EXPECT_EQ(contents.size(), 5u);
  EXPECT_EQ(contents["run.json"], R"({"status": "FINISHED"})");
  EXPECT_EQ(CheckManifest().files.size(), 5u);
}

TEST_F(SyncEngineTest, FollowStopsOnRequestAfterAFinalPass) {
  Write("a", "a");
  LocalDestination dst(dst_);
  ASSERT_THAT(dst.Open(false), IsOk());
  FollowOptions follow;
  follow.interval_s = 0.05;
  std::atomic<int> polls{0};
  follow.stop = [&] { return ++polls > 3; };
  auto stats = FollowSync(src_, scan_, dst, options_, follow);
  ASSERT_THAT(stats, IsOk());
  EXPECT_EQ(DestinationContents()["a"], "a");
}

}  // namespace
}  // namespace cvt
