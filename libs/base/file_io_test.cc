#include "libs/base/file_io.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/status_matchers.h"
#include "libs/base/testdata.h"

namespace cvt {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string MakeDir(absl::string_view name) {
  const std::string dir = TestTempPath(name);
  mkdir(dir.c_str(), 0755);
  return dir;
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* handle = opendir(dir.c_str());
  while (const dirent* entry = readdir(handle)) {
    const std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  closedir(handle);
  return names;
}

// A self-checking payload: "v=<k> n=<size>\n" then filler up to <size> bytes.
std::string Payload(int version) {
  const size_t size = 50000 + (version % 7) * 120000;
  std::string text = absl::StrCat("v=", version, " n=", size, "\n");
  text.resize(size, static_cast<char>('a' + version % 26));
  return text;
}

// Returns the version if `text` is a complete payload, -1 otherwise.
int CompleteVersion(const std::string& text) {
  const size_t newline = text.find('\n');
  if (newline == std::string::npos || !absl::StartsWith(text, "v=")) return -1;
  int version = 0;
  const size_t space = text.find(' ');
  if (!absl::SimpleAtoi(text.substr(2, space - 2), &version)) return -1;
  return text == Payload(version) ? version : -1;
}

TEST(FileIoTest, WritesAndReplacesWithoutLeavingTempFiles) {
  const std::string dir = MakeDir("replace");
  const std::string path = dir + "/result.json";
  ASSERT_THAT(WriteFileAtomically(path, "first"), IsOk());
  EXPECT_THAT(ReadFileToString(path), IsOkAndHolds("first"));
  ASSERT_THAT(WriteFileAtomically(path, "second, longer"), IsOk());
  EXPECT_THAT(ReadFileToString(path), IsOkAndHolds("second, longer"));
  EXPECT_THAT(ListDir(dir), testing::ElementsAre("result.json"));
}

TEST(FileIoTest, StreamingWriterPublishesOnlyOnCommit) {
  const std::string dir = MakeDir("stream");
  const std::string path = dir + "/model.ckpt";
  ASSERT_THAT(WriteFileAtomically(path, "old"), IsOk());
  {
    auto writer = AtomicFileWriter::Open(path);
    ASSERT_THAT(writer, IsOk());
    ASSERT_THAT((*writer)->Append("new "), IsOk());
    ASSERT_THAT((*writer)->Append("data"), IsOk());
    EXPECT_THAT(ReadFileToString(path), IsOkAndHolds("old"));
    EXPECT_THAT(ReadFileToString((*writer)->temp_path()),
                IsOkAndHolds("new data"));
    ASSERT_THAT((*writer)->Commit(), IsOk());
    EXPECT_THAT((*writer)->Commit(),
                StatusIs(absl::StatusCode::kFailedPrecondition));
    EXPECT_THAT((*writer)->Append("x"),
                StatusIs(absl::StatusCode::kFailedPrecondition));
  }
  EXPECT_THAT(ReadFileToString(path), IsOkAndHolds("new data"));
  EXPECT_THAT(ListDir(dir), testing::ElementsAre("model.ckpt"));
}

TEST(FileIoTest, AbandonedWriterLeavesOldFileAndNoTemp) {
  const std::string dir = MakeDir("abandon");
  const std::string path = dir + "/a.json";
  ASSERT_THAT(WriteFileAtomically(path, "kept"), IsOk());
  {
    auto writer = AtomicFileWriter::Open(path);
    ASSERT_THAT(writer, IsOk());
    ASSERT_THAT((*writer)->Append("never published"), IsOk());
  }
  EXPECT_THAT(ReadFileToString(path), IsOkAndHolds("kept"));
  EXPECT_THAT(ListDir(dir), testing::ElementsAre("a.json"));
}

TEST(FileIoTest, ErrorsNameThePath) {
  const std::string missing = TestTempPath("no_such_dir/out.json");
  EXPECT_THAT(WriteFileAtomically(missing, "x"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no_such_dir")));
  EXPECT_THAT(ReadFileToString(missing),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(missing)));
  EXPECT_THAT(
      ReadFileToString(TestTempPath("")),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("folder")));
  EXPECT_THAT(WriteFileAtomically(TestTempPath("x/"), "x"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(FileIoTest, MappedFileViewsTheWholeFileAndMoves) {
  const std::string path = TestTempPath("mapped.bin");
  ASSERT_THAT(WriteFileAtomically(path, Payload(3)), IsOk());
  absl::StatusOr<MappedFile> file = MappedFile::Open(path);
  ASSERT_THAT(file, IsOk());
  EXPECT_EQ(file->contents(), Payload(3));
  MappedFile moved = *std::move(file);
  EXPECT_EQ(moved.contents(), Payload(3));
  const std::string empty = TestTempPath("empty.bin");
  ASSERT_THAT(WriteFileAtomically(empty, ""), IsOk());
  absl::StatusOr<MappedFile> none = MappedFile::Open(empty);
  ASSERT_THAT(none, IsOk());
  EXPECT_EQ(none->contents(), "");
  EXPECT_THAT(MappedFile::Open(TestTempPath("nope.bin")),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nope.bin")));
}

TEST(FileIoTest, ReadOnlyFolderIsPermissionDenied) {
  if (geteuid() == 0) {
    GTEST_SKIP() << "root ignores folder permissions";
  }
  const std::string dir = MakeDir("readonly");
  chmod(dir.c_str(), 0555);
  EXPECT_THAT(WriteFileAtomically(dir + "/x", "x"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr(dir)));
}

// The crash-safety contract: a writer killed between writing the data and the
// rename leaves the old file under the final name, intact.
TEST(FileIoTest, ChildKilledBetweenWriteAndRenameLeavesOldFile) {
  const std::string dir = MakeDir("kill_before_rename");
  const std::string path = dir + "/checkpoint.bin";
  ASSERT_THAT(WriteFileAtomically(path, Payload(1)), IsOk());
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto writer = AtomicFileWriter::Open(path);
    if (!writer.ok() || !(*writer)->Append(Payload(2)).ok()) _exit(3);
    const char byte = 1;
    if (write(ready[1], &byte, 1) != 1) _exit(4);
    pause();  // Killed here: data written, no rename yet.
    _exit(5);
  }
  char byte = 0;
  ASSERT_EQ(read(ready[0], &byte, 1), 1);
  kill(child, SIGKILL);
  int wait_status = 0;
  ASSERT_EQ(waitpid(child, &wait_status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(wait_status));
  close(ready[0]);
  close(ready[1]);
  absl::StatusOr<std::string> contents = ReadFileToString(path);
  ASSERT_THAT(contents, IsOk());
  EXPECT_EQ(CompleteVersion(*contents), 1);
  // The dead writer's temp file is left behind under a temp name, and can be
  // cleaned up.
  EXPECT_THAT(RemoveStaleTempFiles(dir), IsOkAndHolds(1));
  EXPECT_THAT(ListDir(dir), testing::ElementsAre("checkpoint.bin"));
}

// Kills a child that rewrites the same file in a loop at arbitrary moments;
// each time the final name holds nothing or one complete version.
TEST(FileIoTest, ChildKilledAtRandomMomentsNeverLeavesAPartialFile) {
  const std::string dir = MakeDir("kill_random");
  const std::string path = dir + "/metrics.json";
  std::srand(1234);
  int versions_seen = 0;
  for (int round = 0; round < 25; ++round) {
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      for (int version = round * 1000;; ++version) {
        if (!WriteFileAtomically(path, Payload(version)).ok()) _exit(3);
      }
    }
    usleep(1000 + std::rand() % 20000);
    kill(child, SIGKILL);
    int wait_status = 0;
    ASSERT_EQ(waitpid(child, &wait_status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(wait_status)) << "child failed to write";
    absl::StatusOr<std::string> contents = ReadFileToString(path);
    if (!contents.ok()) {
      EXPECT_THAT(contents, StatusIs(absl::StatusCode::kNotFound));
      continue;
    }
    const int version = CompleteVersion(*contents);
    EXPECT_GE(version, 0) << "partial file after round " << round << ": "
                          << contents->size() << " bytes";
    ++versions_seen;
  }
  EXPECT_GT(versions_seen, 0);
  ASSERT_THAT(RemoveStaleTempFiles(dir), IsOk());
  EXPECT_THAT(ListDir(dir), testing::ElementsAre("metrics.json"));
}

TEST(FileIoTest, MakeDirsCreatesParentsAndRefusesFilesInTheWay) {
  std::string base = TestTempPath("make_dirs");
  ASSERT_THAT(MakeDirs(base + "/a/b/c/"), IsOk());
  struct stat st;
  ASSERT_EQ(stat((base + "/a/b/c").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_THAT(MakeDirs(base + "/a/b"), IsOk());
  ASSERT_THAT(WriteFileAtomically(base + "/file", "x"), IsOk());
  EXPECT_THAT(MakeDirs(base + "/file/sub"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(FileIoTest, CopyFileAtomicallyCopiesLargeFiles) {
  std::string data;
  for (int i = 0; i < (3 << 20) + 5; ++i) data.push_back(static_cast<char>(i));
  std::string from = TestTempPath("copy_from.bin");
  std::string to = TestTempPath("copy_to.bin");
  ASSERT_THAT(WriteFileAtomically(from, data), IsOk());
  ASSERT_THAT(CopyFileAtomically(from, to), IsOk());
  EXPECT_THAT(ReadFileToString(to), IsOkAndHolds(data));
  EXPECT_THAT(CopyFileAtomically(TestTempPath("nope"), to),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(ReadFileToString(to), IsOkAndHolds(data));
}

}  // namespace
}  // namespace cvt
