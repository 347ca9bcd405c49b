// -----------------------------------------------------------------------------
// File: trial_reports.h
// -----------------------------------------------------------------------------
//
// Tails a trial's metrics.jsonl (libs/tracking/run_writer.h) for the metric
// `tune` schedules on. A report is the first complete line of that metric
// for an epoch; its time is the epoch count, 1-based (the line's 0-based
// "epoch" + 1), so ASHA's milestones are in epochs even when validation is
// sparse. Only whole lines are consumed.
//
// A resumed trainer (`train fit --resume last`) cuts metrics.jsonl back to
// its checkpoint and writes the same lines again. The cursor notices
// (the file is shorter than the offset, or the bytes before the offset
// changed) and reads from the start, skipping the epochs it has already
// reported, so no report is lost or repeated.
//
// Example:
//
//   ReportCursor cursor;  // or the one saved in tune_state.json
//   CVT_ASSIGN_OR_RETURN(std::vector<TrialReport> reports,
//                        ReadNewReports(dir + "/metrics.jsonl", "val/map",
//                                       cursor));

#ifndef LIBS_TUNE_TRIAL_REPORTS_H_
#define LIBS_TUNE_TRIAL_REPORTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace cvt {

struct TrialReport {
  // Completed epochs, 1-based.
  int64_t time = 0;
  // The metric's value (may be NaN or +-inf).
  double value = 0;
  // When the trainer wrote it (ms since the epoch), for ordering reports
  // across trials.
  int64_t timestamp_ms = 0;
};

// Where a reader stands in one metrics.jsonl; saved with the search state.
struct ReportCursor {
  // Byte offset just past the last consumed line.
  int64_t offset = 0;
  // The (up to 32) bytes just before `offset`, to detect a rewritten file.
  std::string tail;
  // The last reported time; reports at or before it are skipped.
  int64_t last_time = 0;
};

// Returns the new reports of `metric` in file order and advances `cursor`.
// A missing file has none. Lines without an "epoch" are skipped.
// InvalidArgument "<path>:<line>: ..." for a malformed complete line (after
// one re-read from the start, in case the file was being rewritten).
absl::StatusOr<std::vector<TrialReport>> ReadNewReports(
    const std::string& metrics_path, const std::string& metric,
    ReportCursor& cursor);

}  // namespace cvt

#endif  // LIBS_TUNE_TRIAL_REPORTS_H_
