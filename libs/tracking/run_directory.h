// -----------------------------------------------------------------------------
// File: run_directory.h
// -----------------------------------------------------------------------------
//
// Reads the run directory that `train` writes and that mlflow_push,
// volume_sync and tune read (the contract is in the README, "Run
// directory"):
//
//   run.json            {"version": 1, "status": "RUNNING"|"FINISHED"|"FAILED"|
//                        "KILLED", "start_time_ms", "end_time_ms", "run_name",
//                        "task", "model_name", "hyperparameters": {"a.b": "v"},
//                        "tags": {"k": "v"}, "pid", "hostname",
//                        "heartbeat_ms"}
//   metrics.jsonl       one object per logged value: {"name", "value", "step",
//                        "epoch", "timestamp_ms"}; values may be NaN/Infinity
//                        (Python json literals or strings)
//   checkpoints/checkpoints.json   see libs/storage/source_tree.h
//   plots/*.png, eval/*.json, predictions/*.json
//
// Readers may tail a live run: `ReadMetricLines` consumes only complete
// lines (ending in '\n') and returns the byte offset to resume from.
//
// Example:
//
//   CVT_ASSIGN_OR_RETURN(RunRecord run, ReadRunRecord(dir));
//   CVT_ASSIGN_OR_RETURN(MetricChunk chunk,
//                        ReadMetricLines(dir + "/metrics.jsonl", offset,
//                        1000));

#ifndef LIBS_TRACKING_RUN_DIRECTORY_H_
#define LIBS_TRACKING_RUN_DIRECTORY_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace cvt {

struct RunRecord {
  // "RUNNING", "FINISHED", "FAILED" or "KILLED".
  std::string status;
  int64_t start_time_ms = 0;
  // 0 while running.
  int64_t end_time_ms = 0;
  std::string run_name;
  std::string task;
  std::string model_name;
  // Flattened hyperparameters ("optimizer.lr" -> "0.001").
  std::map<std::string, std::string> hyperparameters;
  std::map<std::string, std::string> tags;
  // The trainer's process, to tell a live run from a dead one; 0 and "" when
  // not recorded.
  int64_t pid = 0;
  std::string hostname;
  // Last time the trainer said it was alive (ms); 0 when not recorded.
  int64_t heartbeat_ms = 0;
};

// Reads `<run_dir>/run.json`. Errors: NotFound, InvalidArgument naming the
// file and field.
absl::StatusOr<RunRecord> ReadRunRecord(const std::string& run_dir);

// True when the run says RUNNING but its trainer is gone: the recorded pid
// does not exist on this host, or the heartbeat is older than
// `stale_after_ms` (when the run records one and the host differs).
bool TrainerIsGone(const RunRecord& run, int64_t now_ms,
                   int64_t stale_after_ms = 10 * 60 * 1000);

struct MetricPoint {
  std::string name;
  double value = 0;
  int64_t step = 0;
  // The 0-based epoch the value belongs to; -1 when the line has none.
  int64_t epoch = -1;
  int64_t timestamp_ms = 0;
};

struct MetricChunk {
  std::vector<MetricPoint> points;
  // For each point, the byte offset just past its line (to resume after it).
  std::vector<int64_t> end_offsets;
  // Byte offset just past the last complete line consumed.
  int64_t next_offset = 0;
  // Complete lines consumed (points plus blank lines).
  int64_t lines = 0;
};

// Reads up to `max_points` points from complete lines starting at byte
// `offset`. A missing file reads as empty. Errors: InvalidArgument naming
// "<path>:<line>" for a malformed complete line (`first_line` is the line
// number of `offset`, for messages).
absl::StatusOr<MetricChunk> ReadMetricLines(const std::string& path,
                                            int64_t offset, int64_t max_points,
                                            int64_t first_line = 1);

struct CheckpointRecord {
  std::string file;  // Relative to the checkpoints folder.
  int64_t epoch = -1;
  int64_t step = -1;
  std::string monitor;
  // Monitored value; NaN when absent.
  double value = 0;
  bool has_value = false;
  bool best = false;
  bool last = false;
  int64_t size = -1;
  std::string sha256;
};

// Reads `<run_dir>/checkpoints/checkpoints.json`; a missing file gives an
// empty list. Errors: InvalidArgument naming the file.
absl::StatusOr<std::vector<CheckpointRecord>> ReadCheckpointRecords(
    const std::string& run_dir);

// Reads one checkpoints.json by its path. `file` entries are reduced to
// their base names; a `sha256` that is not 64 lowercase hex digits is
// dropped. Errors: NotFound, InvalidArgument naming the file.
absl::StatusOr<std::vector<CheckpointRecord>> ReadCheckpointIndex(
    const std::string& path);

}  // namespace cvt

#endif  // LIBS_TRACKING_RUN_DIRECTORY_H_
