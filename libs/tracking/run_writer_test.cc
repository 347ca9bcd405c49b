#include "libs/tracking/run_writer.h"

#include <cmath>
#include <cstdlib>
#include <string>

#include "gtest/gtest.h"
#include "libs/base/file_io.h"
#include "libs/base/status_matchers.h"
#include "libs/tracking/run_directory.h"

namespace cvt {
namespace {

std::string TempDir(const std::string& name) {
  return std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
}

// What the writer writes, the reader (mlflow_push, volume_sync, tune) reads.
TEST(RunWriterTest, ReaderSeesWhatTheWriterWrote) {
  const std::string dir = TempDir("run");
  RunRecord info;
  info.run_name = "r1";
  info.task = "detection";
  info.model_name = "yolo_nano";
  info.hyperparameters = {{"optimizer.lr", "0.001"}};
  info.tags = {{"dataset", "shapes"}};
  ASSERT_OK_AND_ASSIGN(auto writer, RunWriter::Open(dir, info));
  ASSERT_OK_AND_ASSIGN(RunRecord running, ReadRunRecord(dir));
  EXPECT_EQ(running.status, "RUNNING");
  EXPECT_EQ(running.run_name, "r1");
  EXPECT_EQ(running.hyperparameters.at("optimizer.lr"), "0.001");
  EXPECT_EQ(running.tags.at("dataset"), "shapes");
  EXPECT_GT(running.pid, 0);
  EXPECT_GT(running.start_time_ms, 0);
  EXPECT_EQ(running.end_time_ms, 0);

  ASSERT_THAT(writer->LogMetric("train/loss", 0.5, 9, 0), IsOk());
  const int64_t offset = writer->metrics_offset();
  ASSERT_THAT(writer->LogMetric("val/map", std::nan(""), 10, 0), IsOk());
  ASSERT_OK_AND_ASSIGN(MetricChunk chunk,
                       ReadMetricLines(dir + "/metrics.jsonl", 0, 100));
  ASSERT_EQ(chunk.points.size(), 2u);
  EXPECT_EQ(chunk.points[0].name, "train/loss");
  EXPECT_EQ(chunk.points[0].step, 9);
  EXPECT_TRUE(std::isnan(chunk.points[1].value));
  EXPECT_EQ(chunk.end_offsets[0], offset);

  // A resumed run cuts back to the checkpoint's offset.
  ASSERT_THAT(writer->TruncateMetrics(offset), IsOk());
  ASSERT_OK_AND_ASSIGN(chunk, ReadMetricLines(dir + "/metrics.jsonl", 0, 100));
  EXPECT_EQ(chunk.points.size(), 1u);
  EXPECT_FALSE(writer->TruncateMetrics(offset + 1000).ok());

  CheckpointRecord r;
  r.file = "last.ckpt";
  r.epoch = 0;
  r.step = 10;
  r.monitor = "val/map";
  r.value = 0.25;
  r.has_value = true;
  r.last = true;
  r.size = 123;
  r.sha256 = std::string(64, 'a');
  ASSERT_THAT(writer->WriteCheckpointIndex({r}), IsOk());
  ASSERT_OK_AND_ASSIGN(std::vector<CheckpointRecord> index,
                       ReadCheckpointRecords(dir));
  ASSERT_EQ(index.size(), 1u);
  EXPECT_EQ(index[0].file, "last.ckpt");
  EXPECT_DOUBLE_EQ(index[0].value, 0.25);
  EXPECT_TRUE(index[0].last);
  EXPECT_EQ(index[0].sha256, r.sha256);

  ASSERT_THAT(writer->Finish("FINISHED"), IsOk());
  ASSERT_OK_AND_ASSIGN(RunRecord done, ReadRunRecord(dir));
  EXPECT_EQ(done.status, "FINISHED");
  EXPECT_GE(done.end_time_ms, done.start_time_ms);

  // Reopening (a resume) keeps the metrics and appends after them.
  writer.reset();
  ASSERT_OK_AND_ASSIGN(writer, RunWriter::Open(dir, info));
  EXPECT_EQ(writer->metrics_offset(), offset);
  ASSERT_OK_AND_ASSIGN(RunRecord again, ReadRunRecord(dir));
  EXPECT_EQ(again.status, "RUNNING");
}

}  // namespace
}  // namespace cvt
