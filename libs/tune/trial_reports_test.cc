#include "libs/tune/trial_reports.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/file_io.h"
#include "libs/base/status_matchers.h"
#include "libs/base/testdata.h"

namespace cvt {
namespace {

using ::testing::HasSubstr;

std::string Line(const std::string& name, double value, int epoch,
                 int64_t timestamp) {
  return absl::StrCat("{\"name\":\"", name, "\",\"value\":", value,
                      ",\"step\":", epoch * 4, ",\"epoch\":", epoch,
                      ",\"timestamp_ms\":", timestamp, "}\n");
}

void Append(const std::string& path, const std::string& text) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, text.data(), text.size()),
            static_cast<ssize_t>(text.size()));
  close(fd);
}

std::vector<int64_t> Times(const std::vector<TrialReport>& reports) {
  std::vector<int64_t> out;
  for (const TrialReport& r : reports) out.push_back(r.time);
  return out;
}

TEST(ReadNewReportsTest, ReadsWholeLinesOfTheMetricOncePerEpoch) {
  const std::string path = TestTempPath("whole/metrics.jsonl");
  ASSERT_THAT(MakeDirs(TestTempPath("whole")), IsOk());
  ReportCursor cursor;
  absl::StatusOr<std::vector<TrialReport>> none =
      ReadNewReports(path, "val/loss", cursor);
  ASSERT_THAT(none, IsOk());  // No file yet.
  EXPECT_TRUE(none->empty());

  Append(path,
         Line("train/loss", 9, 0, 100) + Line("val/loss", 5, 0, 101) +
             Line("val/loss", 4.5, 0, 102) +  // Same epoch: ignored.
             "{\"name\":\"val/loss\",\"value\":1,\"timestamp_ms\":103}\n");
  absl::StatusOr<std::vector<TrialReport>> first =
      ReadNewReports(path, "val/loss", cursor);
  ASSERT_THAT(first, IsOk());
  ASSERT_EQ(first->size(), 1u);
  EXPECT_EQ((*first)[0].time, 1);
  EXPECT_EQ((*first)[0].value, 5);
  EXPECT_EQ((*first)[0].timestamp_ms, 101);

  // Half a line waits for its end.
  const std::string next = Line("val/loss", 3, 1, 200);
  Append(path, next.substr(0, 10));
  absl::StatusOr<std::vector<TrialReport>> partial =
      ReadNewReports(path, "val/loss", cursor);
  ASSERT_THAT(partial, IsOk());
  EXPECT_TRUE(partial->empty());
  Append(path, next.substr(10));
  absl::StatusOr<std::vector<TrialReport>> second =
      ReadNewReports(path, "val/loss", cursor);
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(Times(*second), std::vector<int64_t>({2}));
  EXPECT_EQ(cursor.last_time, 2);
}

// `train fit --resume last` cuts the file back and writes the same epochs
// again (with new timestamps): nothing is reported twice, nothing is lost.
TEST(ReadNewReportsTest, SurvivesATruncatedAndRewrittenFile) {
  const std::string path = TestTempPath("resume.jsonl");
  const std::string epochs01 =
      Line("val/loss", 5, 0, 100) + Line("val/loss", 4, 1, 200);
  ASSERT_THAT(WriteFileAtomically(path, epochs01 + Line("val/loss", 3, 2, 300)),
              IsOk());
  ReportCursor cursor;
  ASSERT_THAT(ReadNewReports(path, "val/loss", cursor), IsOk());
  EXPECT_EQ(cursor.last_time, 3);
  // Cut back to epoch 1, then epochs 2 and 3 again: longer than before.
  ASSERT_THAT(WriteFileAtomically(path, epochs01 + Line("val/loss", 3, 2, 901) +
                                            Line("val/loss", 2, 3, 902)),
              IsOk());
  absl::StatusOr<std::vector<TrialReport>> after =
      ReadNewReports(path, "val/loss", cursor);
  ASSERT_THAT(after, IsOk());
  EXPECT_EQ(Times(*after), std::vector<int64_t>({4}));
  // Shorter than the offset.
  ASSERT_THAT(WriteFileAtomically(path, Line("val/loss", 5, 0, 100)), IsOk());
  after = ReadNewReports(path, "val/loss", cursor);
  ASSERT_THAT(after, IsOk());
  EXPECT_TRUE(after->empty());
  Append(path, Line("val/loss", 1, 4, 1000));
  after = ReadNewReports(path, "val/loss", cursor);
  ASSERT_THAT(after, IsOk());
  EXPECT_EQ(Times(*after), std::vector<int64_t>({5}));
}

TEST(ReadNewReportsTest, MalformedLinesAreNamed) {
  const std::string path = TestTempPath("bad.jsonl");
  ASSERT_THAT(WriteFileAtomically(path, Line("val/loss", 5, 0, 1) + "{oops\n"),
              IsOk());
  ReportCursor cursor;
  EXPECT_THAT(
      ReadNewReports(path, "val/loss", cursor),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bad.jsonl:2")));
}

}  // namespace
}  // namespace cvt
