#include "libs/base/tool_main.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

ABSL_FLAG(int, threads, 0, "Worker threads.");
ABSL_FLAG(bool, verbose, false, "Say more.");
ABSL_FLAG(std::string, out, "", "Output file.");

namespace cvt {
namespace {

using ::testing::ElementsAre;

std::vector<std::string> Parse(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  std::vector<char*> rest =
      ParseFlagsOrExit2(static_cast<int>(argv.size()), argv.data());
  return std::vector<std::string>(rest.begin(), rest.end());
}

class ToolMainTest : public testing::Test {
 protected:
  void SetUp() override {
    absl::SetFlag(&FLAGS_threads, 0);
    absl::SetFlag(&FLAGS_verbose, false);
    absl::SetFlag(&FLAGS_out, "");
  }
};

TEST_F(ToolMainTest, ParsesAllFlagFormsAndKeepsPositionals) {
  EXPECT_THAT(Parse({"tool", "fit", "--threads=4", "--verbose", "--out",
                     "a.json", "extra"}),
              ElementsAre("tool", "fit", "extra"));
  EXPECT_EQ(absl::GetFlag(FLAGS_threads), 4);
  EXPECT_TRUE(absl::GetFlag(FLAGS_verbose));
  EXPECT_EQ(absl::GetFlag(FLAGS_out), "a.json");

  absl::SetFlag(&FLAGS_out, "");
  EXPECT_THAT(Parse({"tool", "-threads", "2", "--noverbose", "--", "--out=x"}),
              ElementsAre("tool", "--out=x"));
  EXPECT_EQ(absl::GetFlag(FLAGS_threads), 2);
  EXPECT_FALSE(absl::GetFlag(FLAGS_verbose));
  EXPECT_EQ(absl::GetFlag(FLAGS_out), "");
}

TEST_F(ToolMainTest, UnknownFlagExitsTwo) {
  EXPECT_EXIT(Parse({"tool", "--thread=4"}), testing::ExitedWithCode(2),
              "tool: error: unknown flag --thread");
}

TEST_F(ToolMainTest, MalformedValueExitsTwo) {
  EXPECT_EXIT(Parse({"tool", "--threads=many"}), testing::ExitedWithCode(2),
              "bad value 'many' for --threads");
  EXPECT_EXIT(Parse({"tool", "--verbose=maybe"}), testing::ExitedWithCode(2),
              "for --verbose");
}

TEST_F(ToolMainTest, MissingValueExitsTwo) {
  EXPECT_EXIT(Parse({"tool", "--out"}), testing::ExitedWithCode(2),
              "flag --out needs a value");
}

TEST_F(ToolMainTest, AbslParserOnlyFlagsAreRefused) {
  EXPECT_EXIT(Parse({"tool", "--flagfile=f"}), testing::ExitedWithCode(2),
              "--flagfile is not supported");
}

TEST_F(ToolMainTest, VersionAndHelpExitZero) {
  EXPECT_EXIT(Parse({"tool", "--version"}), testing::ExitedWithCode(0), "");
  EXPECT_EXIT(Parse({"tool", "--help"}), testing::ExitedWithCode(0), "");
}

TEST(RequireFlagTest, NamesTheMissingFlag) {
  EXPECT_TRUE(RequireFlag("x", "gt").ok());
  const absl::Status status = RequireFlag("", "gt");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "--gt is required");
}

TEST(ResolveUserPathTest, RelativeToBuildWorkingDirectory) {
  setenv("BUILD_WORKING_DIRECTORY", "/home/me/project", 1);
  EXPECT_EQ(ResolveUserPath("data/gt.json"), "/home/me/project/data/gt.json");
  EXPECT_EQ(ResolveUserPath("/abs/gt.json"), "/abs/gt.json");
  EXPECT_EQ(ResolveUserPath("-"), "-");
  EXPECT_EQ(ResolveUserPath(""), "");
  unsetenv("BUILD_WORKING_DIRECTORY");
  EXPECT_EQ(ResolveUserPath("data/gt.json"), "data/gt.json");
}

}  // namespace
}  // namespace cvt

namespace cvt {
namespace {

// Every occurrence, in order, both spellings, commas kept; other arguments
// (and everything after "--") stay in place.
TEST(TakeRepeatedFlagTest, CollectsEveryOccurrenceWhole) {
  std::vector<std::string> storage = {"train",
                                      "fit",
                                      "--set=a.b=1",
                                      "--config",
                                      "c.textproto",
                                      "--set",
                                      "augmentation.train_min_sizes=[480,512]",
                                      "--settle=3",
                                      "--",
                                      "--set=x=2"};
  std::vector<char*> argv;
  for (std::string& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);
  int argc = static_cast<int>(storage.size());
  std::vector<std::string> values = TakeRepeatedFlag(argc, argv.data(), "set");
  EXPECT_EQ(values, (std::vector<std::string>{
                        "a.b=1", "augmentation.train_min_sizes=[480,512]"}));
  std::vector<std::string> rest(argv.data(), argv.data() + argc);
  EXPECT_EQ(rest,
            (std::vector<std::string>{"train", "fit", "--config", "c.textproto",
                                      "--settle=3", "--", "--set=x=2"}));
  EXPECT_EQ(argv[argc], nullptr);
}

}  // namespace
}  // namespace cvt
