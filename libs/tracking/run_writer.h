// -----------------------------------------------------------------------------
// File: run_writer.h
// -----------------------------------------------------------------------------
//
// Writes the run directory (README "Run directory"; read by run_directory.h,
// mlflow_push, volume_sync and tune), while training runs:
//
//   - run.json is replaced atomically on every change of status and on
//     `Heartbeat()`;
//   - metrics.jsonl only grows by whole lines (one write(2) per line on an
//     O_APPEND descriptor), so a reader tailing it never sees half a line;
//     `TruncateMetrics(offset)` cuts it back to a line boundary recorded in a
//     checkpoint, so a resumed run does not repeat points;
//   - checkpoints/checkpoints.json is replaced atomically after every save.
//
// Example:
//
//   CVT_ASSIGN_OR_RETURN(auto writer, RunWriter::Open(dir, info));
//   CVT_RETURN_IF_ERROR(writer->LogMetric("train/loss", 0.7, 49, 0));
//   CVT_RETURN_IF_ERROR(writer->Finish("FINISHED"));

#ifndef LIBS_TRACKING_RUN_WRITER_H_
#define LIBS_TRACKING_RUN_WRITER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "libs/tracking/run_directory.h"

namespace cvt {

class RunWriter {
 public:
  // Creates `run_dir` (and checkpoints/), writes run.json with status
  // RUNNING and `run`'s fields (start time = now when 0, pid and hostname of
  // this process), and opens metrics.jsonl for appending (kept when it
  // exists: a resumed run continues it).
  static absl::StatusOr<std::unique_ptr<RunWriter>> Open(
      const std::string& run_dir, RunRecord run);
  ~RunWriter();

  // Appends {"name","value","step","epoch","timestamp_ms"}; NaN and
  // infinities as Python's json writes them.
  absl::Status LogMetric(const std::string& name, double value, int64_t step,
                         int64_t epoch);
  // Byte size of metrics.jsonl (a line boundary).
  int64_t metrics_offset() const { return metrics_offset_; }
  // Cuts metrics.jsonl back to `offset` (a value metrics_offset() returned
  // earlier). InvalidArgument if the file is shorter.
  absl::Status TruncateMetrics(int64_t offset);

  absl::Status WriteCheckpointIndex(
      const std::vector<CheckpointRecord>& records);

  // Rewrites run.json with a fresh heartbeat_ms.
  absl::Status Heartbeat();
  // Sets the final status ("FINISHED", "FAILED" or "KILLED") and the end
  // time, and rewrites run.json.
  absl::Status Finish(const std::string& status);

  const std::string& run_dir() const { return run_dir_; }
  const RunRecord& record() const { return run_; }

 private:
  RunWriter(std::string run_dir, RunRecord run, int fd, int64_t offset)
      : run_dir_(std::move(run_dir)),
        run_(std::move(run)),
        fd_(fd),
        metrics_offset_(offset) {}
  absl::Status WriteRunJson();

  std::string run_dir_;
  RunRecord run_;
  int fd_ = -1;
  int64_t metrics_offset_ = 0;
};

// run.json's text for `run` (what RunWriter writes).
std::string RunRecordToJson(const RunRecord& run);

int64_t NowMs();

}  // namespace cvt

#endif  // LIBS_TRACKING_RUN_WRITER_H_
