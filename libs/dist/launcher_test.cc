#include "libs/dist/launcher.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/status_matchers.h"

namespace cvt {
namespace {

using ::testing::ElementsAre;

std::string TempDir() {
  const char* t = std::getenv("TEST_TMPDIR");
  return t != nullptr ? t : "/tmp";
}

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(DropFlagTest, RemovesBothSpellings) {
  EXPECT_THAT(DropFlag({"fit", "--nproc_per_node", "2", "--data", "d"},
                       "nproc_per_node"),
              ElementsAre("fit", "--data", "d"));
  EXPECT_THAT(DropFlag({"fit", "--nproc_per_node=2", "-nproc_per_node=3",
                        "--nproc_per_node_x=1"},
                       "nproc_per_node"),
              ElementsAre("fit", "--nproc_per_node_x=1"));
}

TEST(LauncherTest, WorkersGetTheTorchrunVariables) {
  const std::string dir = TempDir() + "/env";
  ASSERT_EQ(system(("rm -rf " + dir + " && mkdir -p " + dir).c_str()), 0);
  LaunchOptions options;
  options.nproc = 3;
  options.master_port = 29999;
  options.argv = {"/bin/sh", "-c",
                  "echo $WORLD_SIZE $RANK $LOCAL_RANK $LOCAL_WORLD_SIZE "
                  "$MASTER_ADDR $MASTER_PORT $OMP_NUM_THREADS > " +
                      dir + "/$RANK"};
  ASSERT_OK_AND_ASSIGN(int code, LaunchLocalWorkers(options));
  EXPECT_EQ(code, 0);
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(Read(dir + "/" + std::to_string(r)),
              "3 " + std::to_string(r) + " " + std::to_string(r) +
                  " 3 127.0.0.1 29999 1\n");
  }
}

TEST(LauncherTest, AFailedWorkerStopsTheOthers) {
  LaunchOptions options;
  options.nproc = 2;
  options.grace_s = 2;
  // Rank 1 fails at once; rank 0 would run for a minute, ignoring SIGTERM,
  // so the launcher must fall back to SIGKILL after the grace period.
  options.argv = {"/bin/sh", "-c",
                  "if [ $RANK = 1 ]; then exit 7; fi; trap '' TERM; "
                  "sleep 60"};
  const auto start = std::chrono::steady_clock::now();
  ASSERT_OK_AND_ASSIGN(int code, LaunchLocalWorkers(options));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  EXPECT_EQ(code, 7);
  EXPECT_LT(seconds, 30);
}

TEST(LauncherTest, BadOptions) {
  LaunchOptions options;
  options.nproc = 0;
  options.argv = {"/bin/true"};
  EXPECT_EQ(LaunchLocalWorkers(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.nproc = 2;
  options.argv = {"/nonexistent/binary"};
  absl::StatusOr<int> missing = LaunchLocalWorkers(options);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(),
              ::testing::HasSubstr("/nonexistent/binary"));
}

}  // namespace
}  // namespace cvt
