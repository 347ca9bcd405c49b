#include "libs/base/subprocess.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/file_io.h"
#include "libs/base/status_matchers.h"
#include "libs/base/testdata.h"

namespace cvt {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<Subprocess> StartShell(const std::string& script,
                                       const std::string& log = "") {
  absl::StatusOr<std::unique_ptr<Subprocess>> child = Subprocess::Start(
      {.argv = {"/bin/sh", "-c", script}, .output_path = log});
  EXPECT_THAT(child, IsOk());
  return *std::move(child);
}

// Polls `fn` for up to 10 s.
template <typename Fn>
bool Eventually(Fn fn) {
  for (int i = 0; i < 1000; ++i) {
    if (fn()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TEST(SubprocessTest, RunsWithOutputAppendedAndReportsTheExitCode) {
  const std::string log = TestTempPath("run.log");
  ASSERT_THAT(WriteFileAtomically(log, "before\n"), IsOk());
  std::unique_ptr<Subprocess> child =
      StartShell("echo out; echo err >&2; read x; exit 3", log);
  absl::StatusOr<ExitStatus> exit = child->Wait();
  ASSERT_THAT(exit, IsOk());
  EXPECT_EQ(exit->code, 3);
  EXPECT_FALSE(exit->success());
  EXPECT_EQ(exit->ToString(), "exit code 3");
  EXPECT_THAT(ReadFileToString(log), IsOkAndHolds("before\nout\nerr\n"));
  // Polling a reaped child gives the same status.
  absl::StatusOr<std::optional<ExitStatus>> again = child->Poll();
  ASSERT_THAT(again, IsOk());
  ASSERT_TRUE(again->has_value());
  EXPECT_EQ((*again)->code, 3);
}

TEST(SubprocessTest, EnvironmentIsTheParentsWithOverrides) {
  const std::string log = TestTempPath("env.log");
  setenv("CVT_SUBPROCESS_KEPT", "kept", 1);
  setenv("CVT_SUBPROCESS_REPLACED", "old", 1);
  SubprocessOptions options;
  options.argv = {"/bin/sh", "-c",
                  "echo $CVT_SUBPROCESS_KEPT $CVT_SUBPROCESS_REPLACED "
                  "$CVT_SUBPROCESS_ADDED; env | grep -c "
                  "CVT_SUBPROCESS_REPLACED"};
  options.output_path = log;
  options.env = {{"CVT_SUBPROCESS_REPLACED", "new"},
                 {"CVT_SUBPROCESS_ADDED", "added"}};
  absl::StatusOr<std::unique_ptr<Subprocess>> child =
      Subprocess::Start(options);
  ASSERT_THAT(child, IsOk());
  absl::StatusOr<ExitStatus> exit = (*child)->Wait();
  ASSERT_THAT(exit, IsOk());
  EXPECT_TRUE(exit->success());
  // Replaced once, not added beside the old value.
  EXPECT_THAT(ReadFileToString(log), IsOkAndHolds("kept new added\n1\n"));
}

TEST(SubprocessTest, MissingBinaryIsNotFound) {
  EXPECT_THAT(
      Subprocess::Start({.argv = {TestTempPath("no_such_binary")}}),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("cannot execute")));
  EXPECT_THAT(Subprocess::Start({.argv = {"/bin/true"},
                                 .output_path = TestTempPath("no/such/dir")}),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(SubprocessTest, PollWhileRunningThenSignal) {
  std::unique_ptr<Subprocess> child =
      StartShell("trap 'echo term; exit 7' TERM; while :; do sleep 0.05; done",
                 TestTempPath("term.log"));
  absl::StatusOr<std::optional<ExitStatus>> running = child->Poll();
  ASSERT_THAT(running, IsOk());
  EXPECT_FALSE(running->has_value());
  EXPECT_TRUE(ProcessExists(child->pid()));
  EXPECT_THAT(ProcessCommandLine(child->pid()), HasSubstr("/bin/sh -c trap"));
  // The shell installs its trap after starting; give it a moment.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_THAT(child->Signal(SIGTERM), IsOk());
  absl::StatusOr<ExitStatus> exit = child->Wait();
  ASSERT_THAT(exit, IsOk());
  EXPECT_EQ(exit->code, 7);
  EXPECT_THAT(child->Signal(SIGTERM), IsOk());  // Reaped: a no-op.

  std::unique_ptr<Subprocess> sleeper = StartShell("exec sleep 30");
  ASSERT_THAT(sleeper->Signal(SIGKILL), IsOk());
  exit = sleeper->Wait();
  ASSERT_THAT(exit, IsOk());
  EXPECT_EQ(exit->signal, SIGKILL);
  EXPECT_THAT(exit->ToString(), HasSubstr("killed by signal 9"));
}

TEST(SubprocessTest, ChildHasItsOwnProcessGroup) {
  std::unique_ptr<Subprocess> child = StartShell("exec sleep 30");
  EXPECT_TRUE(
      Eventually([&] { return getpgid(child->pid()) == child->pid(); }));
  EXPECT_NE(getpgid(child->pid()), getpgrp());
  ASSERT_THAT(child->Signal(SIGKILL), IsOk());
  ASSERT_THAT(child->Wait(), IsOk());
}

// A parent killed with SIGKILL takes its children down with SIGTERM.
TEST(SubprocessTest, ChildGetsSigtermWhenTheParentDies) {
  const std::string pid_file = TestTempPath("grandchild.pid");
  const std::string log = TestTempPath("grandchild.log");
  const pid_t parent = fork();
  ASSERT_GE(parent, 0);
  if (parent == 0) {
    absl::StatusOr<std::unique_ptr<Subprocess>> child = Subprocess::Start(
        {.argv = {"/bin/sh", "-c",
                  "trap 'echo got-term; exit 0' TERM; echo $$ > " + pid_file +
                      ".tmp; mv " + pid_file + ".tmp " + pid_file +
                      "; while :; do sleep 0.05; done"},
         .output_path = log});
    if (!child.ok()) _exit(1);
    while (access(pid_file.c_str(), F_OK) != 0) usleep(10000);
    usleep(200000);  // The trap is installed before the pid file appears.
    kill(getpid(), SIGKILL);
  }
  int status = 0;
  ASSERT_EQ(waitpid(parent, &status, 0), parent);
  ASSERT_TRUE(WIFSIGNALED(status));
  absl::StatusOr<std::string> pid_text = ReadFileToString(pid_file);
  ASSERT_THAT(pid_text, IsOk());
  const pid_t grandchild = std::stoi(*pid_text);
  EXPECT_TRUE(Eventually([&] { return !ProcessExists(grandchild); }));
  EXPECT_TRUE(Eventually([&] {
    absl::StatusOr<std::string> text = ReadFileToString(log);
    return text.ok() && text->find("got-term") != std::string::npos;
  }));
}

}  // namespace
}  // namespace cvt
