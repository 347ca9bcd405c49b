#include "libs/storage/local_destination.h"

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

using ::testing::HasSubstr;
using ::testing::IsEmpty;

int64_t MtimeNs(const std::string& path) {
  struct stat st;
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 +
         st.st_mtim.tv_nsec;
}

SourceFile MakeSource(const std::string& path, const std::string& data) {
  EXPECT_THAT(WriteFileAtomically(path, data), IsOk());
  SourceFile source;
  source.local_path = path;
  source.size = static_cast<int64_t>(data.size());
  source.mtime_ns = MtimeNs(path);
  return source;
}

class LocalDestinationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = TestTempPath(
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_EQ(mkdir(base_.c_str(), 0777), 0);
    root_ = base_ + "/dst";
  }
  std::string base_;
  std::string root_;
};

TEST_F(LocalDestinationTest, StagedFilesAreInvisibleUntilCommitted) {
  LocalDestination dst(root_);
  ASSERT_THAT(dst.Open(/*dry_run=*/false), IsOk());
  std::string data(3 << 20, 'x');
  data[12345] = 'y';
  SourceFile source = MakeSource(base_ + "/src.ckpt", data);
  auto staged = dst.Stage(source, "checkpoints/sub/last.ckpt");
  ASSERT_THAT(staged, IsOk());
  EXPECT_EQ(staged->sha256, Sha256Hex(data));
  EXPECT_EQ(staged->size, static_cast<int64_t>(data.size()));
  std::string final_path = root_ + "/checkpoints/sub/last.ckpt";
  EXPECT_NE(access(final_path.c_str(), F_OK), 0);
  auto listing = dst.ListFiles();
  ASSERT_THAT(listing, IsOk());
  ASSERT_EQ(listing->size(), 1u);
  EXPECT_TRUE(IsTempName(listing->begin()->first.substr(
      listing->begin()->first.find_last_of('/') + 1)));

  ASSERT_THAT(dst.Commit({*staged}), IsOk());
  ASSERT_THAT(dst.Flush(), IsOk());
  EXPECT_THAT(ReadFileToString(final_path), IsOkAndHolds(data));
  EXPECT_EQ(MtimeNs(final_path), source.mtime_ns);
  listing = dst.ListFiles();
  ASSERT_EQ(listing->size(), 1u);
  EXPECT_EQ(listing->begin()->first, "checkpoints/sub/last.ckpt");
  EXPECT_EQ(listing->begin()->second.mtime_ns, source.mtime_ns);
  EXPECT_THAT(dst.HashFile("checkpoints/sub/last.ckpt"),
              IsOkAndHolds(Sha256Hex(data)));
}

TEST_F(LocalDestinationTest, SourceChangedSinceListingIsAborted) {
  LocalDestination dst(root_);
  ASSERT_THAT(dst.Open(false), IsOk());
  SourceFile source = MakeSource(base_ + "/a", "first");
  ASSERT_THAT(WriteFileAtomically(base_ + "/a", "second!"), IsOk());
  EXPECT_THAT(dst.Stage(source, "a"), StatusIs(absl::StatusCode::kAborted));
  SourceFile wrong_hash = MakeSource(base_ + "/b", "bytes");
  wrong_hash.expected_sha256 = Sha256Hex("other bytes");
  EXPECT_THAT(dst.Stage(wrong_hash, "b"), StatusIs(absl::StatusCode::kAborted));
  // Nothing is left behind, not even temporary files.
  EXPECT_THAT(*dst.ListFiles(), IsEmpty());
}

TEST_F(LocalDestinationTest, OpenChecksTheDestination) {
  LocalDestination missing_parent(base_ + "/no/such/dst");
  absl::Status s = missing_parent.Open(false);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(s.message(), HasSubstr(base_ + "/no/such/dst"));

  ASSERT_THAT(WriteFileAtomically(base_ + "/file", "x"), IsOk());
  EXPECT_THAT(LocalDestination(base_ + "/file").Open(false),
              StatusIs(absl::StatusCode::kFailedPrecondition));

  LocalDestination dry(root_);
  ASSERT_THAT(dry.Open(/*dry_run=*/true), IsOk());
  EXPECT_NE(access(root_.c_str(), F_OK), 0) << "a dry run created " << root_;

  LocalDestination first(root_);
  ASSERT_THAT(first.Open(false), IsOk());
  LocalDestination second(root_);
  absl::Status locked = second.Open(false);
  EXPECT_THAT(locked, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(locked.message(), HasSubstr("another volume_sync"));
}

TEST_F(LocalDestinationTest, DeleteRemovesEmptiedFolders) {
  LocalDestination dst(root_);
  ASSERT_THAT(dst.Open(false), IsOk());
  SourceFile a = MakeSource(base_ + "/a", "a");
  SourceFile b = MakeSource(base_ + "/b", "b");
  auto sa = dst.Stage(a, "x/y/a");
  auto sb = dst.Stage(b, "x/b");
  ASSERT_THAT(dst.Commit({*sa, *sb}), IsOk());
  ASSERT_THAT(dst.Delete("x/y/a"), IsOk());
  EXPECT_NE(access((root_ + "/x/y").c_str(), F_OK), 0);
  EXPECT_EQ(access((root_ + "/x/b").c_str(), F_OK), 0);
  EXPECT_THAT(dst.Delete("x/missing"), IsOk());
  // A folder that was removed is made again when needed.
  auto again = dst.Stage(a, "x/y/a");
  ASSERT_THAT(again, IsOk());
  EXPECT_THAT(dst.Commit({*again}), IsOk());
}

TEST_F(LocalDestinationTest, SmallFilesAreReplacedAtomically) {
  LocalDestination dst(root_);
  ASSERT_THAT(dst.Open(false), IsOk());
  EXPECT_THAT(dst.ReadSmallFile("m.json"),
              StatusIs(absl::StatusCode::kNotFound));
  ASSERT_THAT(dst.WriteSmallFile("m.json", "{1}"), IsOk());
  ASSERT_THAT(dst.WriteSmallFile("m.json", "{2}"), IsOk());
  EXPECT_THAT(dst.ReadSmallFile("m.json"), IsOkAndHolds("{2}"));
}

}  // namespace
}  // namespace cvt
