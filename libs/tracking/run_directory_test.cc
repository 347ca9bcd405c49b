#include "libs/tracking/run_directory.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/file_io.h"
#include "libs/base/status_matchers.h"
#include "libs/base/testdata.h"

namespace cvt {
namespace {

using ::testing::HasSubstr;

std::string Fixture() { return TestDataPath("testdata/run_dir_small"); }

TEST(RunDirectoryTest, ReadsTheFixtureRun) {
  auto run = ReadRunRecord(Fixture());
  ASSERT_THAT(run, IsOk());
  EXPECT_EQ(run->status, "FINISHED");
  EXPECT_EQ(run->start_time_ms, 1764583200000);
  EXPECT_EQ(run->end_time_ms, 1764583800000);
  EXPECT_EQ(run->model_name, "yolo_small");
  EXPECT_EQ(run->hyperparameters.size(), 22u);
  EXPECT_EQ(run->hyperparameters.at("optimizer.lr"), "0.001");
  EXPECT_EQ(run->tags.at("dataset"), "bccd");
}

TEST(RunDirectoryTest, ReadsMetricsWithNaNAndResumesByOffset) {
  std::string path = Fixture() + "/metrics.jsonl";
  auto all = ReadMetricLines(path, 0, 1 << 30);
  ASSERT_THAT(all, IsOk());
  ASSERT_EQ(all->points.size(), 62u);
  int nans = 0;
  for (const MetricPoint& p : all->points) nans += std::isnan(p.value);
  EXPECT_EQ(nans, 1);
  EXPECT_EQ(all->points[0].epoch, 0);
  auto head = ReadMetricLines(path, 0, 10);
  ASSERT_THAT(head, IsOk());
  ASSERT_EQ(head->points.size(), 10u);
  auto tail = ReadMetricLines(path, head->next_offset, 1 << 30, 11);
  ASSERT_THAT(tail, IsOk());
  ASSERT_EQ(tail->points.size(), 52u);
  EXPECT_EQ(tail->points[0].step, all->points[10].step);
  EXPECT_EQ(tail->points[0].value, all->points[10].value);
  EXPECT_EQ(head->end_offsets.back(), head->next_offset);
}

TEST(RunDirectoryTest, IncompleteLastLineWaitsAndBadLinesAreNamed) {
  std::string path = TestTempPath("metrics.jsonl");
  ASSERT_THAT(WriteFileAtomically(
                  path,
                  "{\"name\": \"a\", \"value\": 0.1, \"step\": 1, "
                  "\"timestamp_ms\": 5}\n\n{\"name\": \"a\", \"value\": "
                  "\"Infinity\", \"step\": 2, \"timestamp_ms\": 6}\n{\"name\""),
              IsOk());
  auto chunk = ReadMetricLines(path, 0, 100);
  ASSERT_THAT(chunk, IsOk());
  ASSERT_EQ(chunk->points.size(), 2u);
  EXPECT_TRUE(std::isinf(chunk->points[1].value));
  EXPECT_EQ(chunk->points[1].epoch, -1);  // The line has no "epoch".
  EXPECT_EQ(chunk->lines, 3);
  EXPECT_LT(chunk->next_offset, 200);
  ASSERT_THAT(WriteFileAtomically(path, "{\"name\": \"a\"}\n"), IsOk());
  absl::Status bad = ReadMetricLines(path, 0, 100, 7).status();
  EXPECT_THAT(bad, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(bad.message(), HasSubstr(path + ":7"));
  EXPECT_THAT(ReadMetricLines(path, 1000, 100),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(ReadMetricLines(TestTempPath("none.jsonl"), 0, 10), IsOk());
}

TEST(RunDirectoryTest, ReadsCheckpointRecords) {
  auto records = ReadCheckpointRecords(Fixture());
  ASSERT_THAT(records, IsOk());
  ASSERT_EQ(records->size(), 3u);
  int best = 0, last = 0;
  for (const CheckpointRecord& r : *records) {
    best += r.best;
    last += r.last;
    EXPECT_GT(r.size, 0);
  }
  EXPECT_EQ(best, 1);
  EXPECT_EQ(last, 1);
}

TEST(RunDirectoryTest, TellsADeadTrainerFromALiveOne) {
  RunRecord run;
  run.status = "RUNNING";
  run.pid = getpid();
  EXPECT_FALSE(TrainerIsGone(run, 0));
  run.pid = 0x7ffffff0;  // No such process.
  EXPECT_TRUE(TrainerIsGone(run, 0));
  run.pid = 0;
  run.hostname = "another-host";
  run.heartbeat_ms = 1000;
  EXPECT_FALSE(TrainerIsGone(run, 2000));
  EXPECT_TRUE(TrainerIsGone(run, 1000 + 11 * 60 * 1000));
  run.status = "FINISHED";
  EXPECT_FALSE(TrainerIsGone(run, 1 << 30));
}

TEST(RunDirectoryTest, BadRunJsonIsNamed) {
  std::string dir = TestTempPath("bad_run");
  ASSERT_EQ(mkdir(dir.c_str(), 0777), 0);
  ASSERT_THAT(WriteFileAtomically(dir + "/run.json",
                                  R"({"status": "DONE", "start_time_ms": 1})"),
              IsOk());
  absl::Status s = ReadRunRecord(dir).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(s.message(), HasSubstr(dir + "/run.json: \"status\""));
  EXPECT_THAT(ReadRunRecord(dir + "/missing"),
              StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace cvt
