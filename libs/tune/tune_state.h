// -----------------------------------------------------------------------------
// File: tune_state.h
// -----------------------------------------------------------------------------
//
// Everything `tune` needs to continue a search after it was stopped or
// killed, saved as `<out>/tune_state.json` after every decision: the
// settings that define the search (a resume must repeat them), the trial
// table (sampled params, status, report cursors, metric values), the ASHA
// scheduler (brackets, rungs, generator) and the log of every decision.
//
// Example:
//
//   CVT_RETURN_IF_ERROR(SaveTuneState(out + "/tune_state.json", state));
//   CVT_ASSIGN_OR_RETURN(TuneState loaded,
//                        LoadTuneState(out + "/tune_state.json"));
//   CVT_RETURN_IF_ERROR(CheckSameSearch(loaded.search, state.search, path));

#ifndef LIBS_TUNE_TUNE_STATE_H_
#define LIBS_TUNE_TUNE_STATE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "libs/base/json.h"
#include "libs/tune/asha.h"
#include "libs/tune/search_space.h"
#include "libs/tune/trial_reports.h"

namespace cvt {

enum class TrialStatus {
  // Not started yet, or interrupted (with `launches` > 0) and to be resumed.
  kPending,
  // A trainer process is running it.
  kRunning,
  // The trainer exited 0 (it ran to max_t or stopped early by itself).
  kCompleted,
  // ASHA stopped it: SIGTERM, and the trainer saved its state and exited.
  kStopped,
  // The trainer failed (a non-zero exit tune did not cause).
  kError,
};

// "PENDING", "RUNNING", "COMPLETED", "STOPPED", "ERROR".
const char* TrialStatusName(TrialStatus status);
// True for COMPLETED, STOPPED and ERROR.
bool IsFinished(TrialStatus status);

// One row of the trial table.
struct TrialRecord {
  // "trial_0000", ...; also the trial's folder under <out>/trials/.
  std::string id;
  int bracket = 0;
  TrialParams params;
  TrialStatus status = TrialStatus::kPending;
  // Trainer processes started for this trial (1 unless it was resumed).
  int launches = 0;
  // Trainer failures so far (a retry resumes the trial).
  int failures = 0;
  // The running trainer's pid; 0 when none.
  int64_t pid = 0;
  // ASHA said STOP before max_t and SIGTERM was sent.
  bool stop_requested = false;
  // ASHA said STOP because the result reached max_t.
  bool max_t_reached = false;
  // Where the reader stands in the trial's metrics.jsonl (its `last_time`
  // is the last epoch read, judged or not).
  ReportCursor cursor;
  // The epoch of the last report the scheduler judged (later ones, after a
  // STOP, are ignored).
  int64_t last_time = 0;
  std::optional<double> last_value;
  std::optional<double> best_value;
  // The epoch of `best_value`.
  int64_t best_time = 0;
  // How the last trainer process ended ("exit code 1", ...); empty if none.
  std::string exit;
  // Why the trial is ERROR (the exit and the trainer's last error line).
  std::string error;
};

// The settings that define a search: `--resume` must repeat them.
struct TuneSearchSettings {
  std::string config_sha256;
  std::string search_space_sha256;
  std::vector<std::string> sets;
  int64_t num_trials = 0;
  std::string metric;
  std::string mode;
  int64_t grace_period = 0;
  double reduction_factor = 0;
  int64_t max_t = 0;
  int64_t brackets = 0;
  bool stop_last_trials = true;
  uint64_t seed = 0;
};

// InvalidArgument naming the first setting (as its flag, e.g. "--metric")
// that differs between the saved search and this invocation.
absl::Status CheckSameSearch(const TuneSearchSettings& saved,
                             const TuneSearchSettings& now,
                             absl::string_view state_path);

// One scheduler answer, in the order they were made.
struct DecisionRecord {
  std::string trial;
  int64_t time = 0;
  double value = 0;
  // "CONTINUE" or "STOP" (for on_trial_result), "COMPLETE" (on_trial_complete).
  std::string action;
  std::optional<double> milestone;
  std::optional<double> cutoff;
  bool max_t_reached = false;

  bool operator==(const DecisionRecord& o) const;
};

struct TuneState {
  TuneSearchSettings search;
  std::vector<TrialRecord> trials;
  std::optional<AshaScheduler> scheduler;
  std::vector<DecisionRecord> decisions;
};

// JSON pieces shared with the results file: `params` as an object in
// search-space order; a number or null.
void WriteTrialParams(JsonWriter& json, const TrialParams& params);
void WriteOptionalDouble(JsonWriter& json, const std::optional<double>& value);

// The state as JSON (indented; NaN and infinities as Python literals, so
// every double reads back exactly).
std::string TuneStateToJson(const TuneState& state);

// Parses what `TuneStateToJson` wrote. InvalidArgument naming `source` and
// the field.
absl::StatusOr<TuneState> TuneStateFromJson(absl::string_view text,
                                            absl::string_view source);

// Atomic write / read of the file at `path`. Load: NotFound for a missing
// file, InvalidArgument naming it for a malformed one.
absl::Status SaveTuneState(const std::string& path, const TuneState& state);
absl::StatusOr<TuneState> LoadTuneState(const std::string& path);

}  // namespace cvt

#endif  // LIBS_TUNE_TUNE_STATE_H_
