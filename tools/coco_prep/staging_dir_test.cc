#include "tools/coco_prep/staging_dir.h"

#include <filesystem>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/file_io.h"
#include "libs/base/status_matchers.h"
#include "libs/base/testdata.h"

namespace cvt {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string Fresh(const std::string& name) {
  const std::string dir = TestTempPath(name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

TEST(StagingDirTest, CommitMakesTheFolderAppearWhole) {
  const std::string root = Fresh("staging_commit");
  auto staging = StagingDir::Create(root + "/out/");
  ASSERT_THAT(staging, IsOk());
  EXPECT_EQ((*staging)->target(), root + "/out");
  ASSERT_THAT(WriteFileAtomically((*staging)->path() + "/a.txt", "a"), IsOk());
  EXPECT_FALSE(fs::exists(root + "/out"));
  EXPECT_EQ(Entries(root).size(), 1u);  // Only the hidden temporary folder.
  EXPECT_EQ(Entries(root)[0].rfind(".out.coco_prep-tmp-", 0), 0u);
  ASSERT_THAT((*staging)->Commit(), IsOk());
  staging->reset();
  EXPECT_THAT(Entries(root), ElementsAre("out"));
  EXPECT_THAT(ReadFileToString(root + "/out/a.txt"), IsOkAndHolds("a"));
}

TEST(StagingDirTest, WithoutCommitNothingIsLeft) {
  const std::string root = Fresh("staging_abandon");
  {
    auto staging = StagingDir::Create(root + "/out");
    ASSERT_THAT(staging, IsOk());
    ASSERT_THAT(WriteFileAtomically((*staging)->path() + "/a.txt", "a"),
                IsOk());
  }
  EXPECT_THAT(Entries(root), IsEmpty());
}

TEST(StagingDirTest, NeverOverwritesAndNeedsTheParent) {
  const std::string root = Fresh("staging_refuse");
  fs::create_directories(root + "/out");
  EXPECT_THAT(
      StagingDir::Create(root + "/out"),
      StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("already exists")));
  ASSERT_THAT(WriteFileAtomically(root + "/file", "x"), IsOk());
  EXPECT_THAT(StagingDir::Create(root + "/file"),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(
      StagingDir::Create(root + "/no/such/out"),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("parent folder")));
  EXPECT_THAT(Entries(root), ElementsAre("file", "out"));
}

TEST(StagingDirTest, CommitFailsIfTheTargetAppearedMeanwhile) {
  const std::string root = Fresh("staging_race");
  auto staging = StagingDir::Create(root + "/out");
  ASSERT_THAT(staging, IsOk());
  ASSERT_THAT(WriteFileAtomically((*staging)->path() + "/a.txt", "a"), IsOk());
  fs::create_directories(root + "/out");
  ASSERT_THAT(WriteFileAtomically(root + "/out/theirs.txt", "b"), IsOk());
  EXPECT_FALSE((*staging)->Commit().ok());
  staging->reset();
  EXPECT_THAT(Entries(root), ElementsAre("out"));
  EXPECT_THAT(Entries(root + "/out"), ElementsAre("theirs.txt"));
}

}  // namespace
}  // namespace cvt
