#include "libs/storage/sync_manifest.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/sha256.h"
#include "libs/base/status_matchers.h"

namespace cvt {
namespace {

using ::testing::HasSubstr;

TEST(SyncManifestTest, RoundTripsEveryField) {
  SyncManifest manifest;
  manifest.files["checkpoints/epoch=3-step=400.ckpt"] = {
      1834021, 1732000999123456789, Sha256Hex("a")};
  manifest.files["run dir/é \"quoted\".json"] = {0, -5, Sha256Hex("")};
  std::string text = SerializeSyncManifest(manifest);
  auto parsed = ParseSyncManifest(text, "m.json");
  ASSERT_THAT(parsed, IsOk());
  EXPECT_TRUE(parsed->files == manifest.files);
  EXPECT_THAT(ParseSyncManifest(SerializeSyncManifest({}), "m"), IsOk());
}

TEST(SyncManifestTest, RejectsBadManifestsNamingTheProblem) {
  std::string sha = Sha256Hex("x");
  EXPECT_THAT(ParseSyncManifest(R"({"version": 2, "files": {}})", "m.json"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  absl::Status bad_path =
      ParseSyncManifest(
          R"({"version": 1, "files": {"../x": {"size": 1, "mtime_ns": 1,
          "sha256": ")" +
              sha + R"("}}})",
          "m.json")
          .status();
  EXPECT_THAT(bad_path.message(), HasSubstr("m.json: bad path '../x'"));
  absl::Status bad_entry =
      ParseSyncManifest(
          R"({"version": 1, "files": {"a": {"size": -1, "mtime_ns": 1,
          "sha256": ")" +
              sha + R"("}}})",
          "m.json")
          .status();
  EXPECT_THAT(bad_entry.message(), HasSubstr("entry 'a'"));
  EXPECT_THAT(ParseSyncManifest(R"({"version": 1, "files": {"a":
      {"size": 1, "mtime_ns": 1, "sha256": "abc"}}})",
                                "m"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseSyncManifest("{\"version\": 1, \"files\": {", "m.json"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(SyncManifestTest, CleanRelativePaths) {
  EXPECT_TRUE(IsCleanRelativePath("a/b.ckpt"));
  EXPECT_FALSE(IsCleanRelativePath("/a"));
  EXPECT_FALSE(IsCleanRelativePath("a//b"));
  EXPECT_FALSE(IsCleanRelativePath("a/./b"));
  EXPECT_FALSE(IsCleanRelativePath(""));
}

}  // namespace
}  // namespace cvt
