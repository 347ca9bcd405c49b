#include "libs/storage/source_tree.h"

#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/file_io.h"
#include "libs/base/sha256.h"
#include "libs/base/status_matchers.h"
#include "libs/base/testdata.h"

namespace cvt {
namespace {

using ::testing::_;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

std::vector<std::string> Keys(const SourceScan& scan) {
  std::vector<std::string> keys;
  for (const auto& [path, file] : scan.ready) keys.push_back(path);
  return keys;
}

class SourceTreeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = TestTempPath(
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_EQ(mkdir(root_.c_str(), 0777), 0);
  }
  void Write(const std::string& relative, const std::string& data) {
    std::string path = root_ + "/" + relative;
    ASSERT_THAT(MakeDirs(path.substr(0, path.find_last_of('/'))), IsOk());
    ASSERT_THAT(WriteFileAtomically(path, data), IsOk());
  }
  std::string root_;
};

TEST_F(SourceTreeTest, FiltersByBaseNameOrWholePath) {
  EXPECT_TRUE(PassesFilters("checkpoints/a.ckpt", {"*.ckpt"}, {}));
  EXPECT_FALSE(PassesFilters("checkpoints/a.ckpt", {"*.json"}, {}));
  EXPECT_FALSE(PassesFilters("tmp/x/y.bin", {}, {"tmp/*"}));
  EXPECT_TRUE(PassesFilters("a/tmp/y.bin", {}, {"tmp/*"}));
  EXPECT_FALSE(PassesFilters("a/b.ckpt", {"*.ckpt"}, {"a/*"}));
  EXPECT_TRUE(PassesFilters("anything", {}, {}));
}

TEST_F(SourceTreeTest, ListsFilesSkipsTempNamesAndFollowsFileLinks) {
  Write("metrics.jsonl", "{}\n");
  Write("plots/loss.png", "png");
  Write("plots/.loss.png.tmp-12-3-4", "partial");
  ASSERT_EQ(symlink("metrics.jsonl", (root_ + "/link.jsonl").c_str()), 0);
  ASSERT_EQ(symlink("plots", (root_ + "/plots_link").c_str()), 0);
  ASSERT_EQ(symlink("nowhere", (root_ + "/dangling").c_str()), 0);
  auto scan = ScanSource(root_, {});
  ASSERT_THAT(scan, IsOk());
  EXPECT_THAT(Keys(*scan),
              ElementsAre("link.jsonl", "metrics.jsonl", "plots/loss.png"));
  EXPECT_EQ(scan->ready["link.jsonl"].size, 3);
  ASSERT_EQ(scan->warnings.size(), 1u);
  EXPECT_THAT(scan->warnings[0], HasSubstr("dangling"));
}

TEST_F(SourceTreeTest, OnlyListedCheckpointsAreReady) {
  Write("checkpoints/epoch=0-step=10.ckpt", "zero");
  Write("checkpoints/epoch=1-step=20.ckpt", "one, still being written");
  Write("checkpoints/last.ckpt", "last");
  Write("checkpoints/notes.txt", "not a checkpoint");
  Write("checkpoints/checkpoints.json",
        R"({"version": 1, "checkpoints": [
             {"file": "epoch=0-step=10.ckpt", "size": 4,
              "sha256": ")" +
            Sha256Hex("zero") + R"("},
             {"file": "checkpoints/last.ckpt", "size": 4},
             {"file": "epoch=1-step=20.ckpt", "size": 3}]})");
  auto scan = ScanSource(root_, {});
  ASSERT_THAT(scan, IsOk());
  EXPECT_THAT(Keys(*scan),
              ElementsAre("checkpoints/checkpoints.json",
                          "checkpoints/epoch=0-step=10.ckpt",
                          "checkpoints/last.ckpt", "checkpoints/notes.txt"));
  EXPECT_EQ(scan->ready["checkpoints/epoch=0-step=10.ckpt"].expected_sha256,
            Sha256Hex("zero"));
  EXPECT_THAT(scan->not_ready, ElementsAre("checkpoints/epoch=1-step=20.ckpt"));
}

TEST_F(SourceTreeTest, UnreadableIndexHoldsBackEveryCheckpoint) {
  Write("checkpoints/a.ckpt", "a");
  Write("checkpoints/checkpoints.json", "{\"checkpoints\": [");
  auto scan = ScanSource(root_, {});
  ASSERT_THAT(scan, IsOk());
  EXPECT_TRUE(scan->ready.empty());
  EXPECT_THAT(scan->not_ready, ElementsAre("checkpoints/a.ckpt",
                                           "checkpoints/checkpoints.json"));
  ASSERT_EQ(scan->warnings.size(), 1u);
  EXPECT_THAT(scan->warnings[0], HasSubstr("checkpoints.json"));
}

TEST_F(SourceTreeTest, UnsettledFilesWaitUnlessListed) {
  Write("metrics.jsonl", "x");
  Write("checkpoints/a.ckpt", "a");
  Write("checkpoints/checkpoints.json",
        R"({"checkpoints": [{"file": "a.ckpt"}]})");
  SourceScanOptions options;
  options.require_settled = true;
  options.now = absl::Now();
  auto scan = ScanSource(root_, options);
  ASSERT_THAT(scan, IsOk());
  EXPECT_THAT(Keys(*scan), ElementsAre("checkpoints/a.ckpt"));
  options.now = absl::Now() + absl::Seconds(3);
  EXPECT_EQ(ScanSource(root_, options)->ready.size(), 3u);
}

TEST_F(SourceTreeTest, MissingSourceIsNamed) {
  absl::Status s = ScanSource(root_ + "/nope", {}).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(s.message(), HasSubstr(root_ + "/nope"));
  Write("f", "x");
  EXPECT_THAT(ScanSource(root_ + "/f", {}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

}  // namespace
}  // namespace cvt
