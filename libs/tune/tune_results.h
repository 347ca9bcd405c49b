// -----------------------------------------------------------------------------
// File: tune_results.h
// -----------------------------------------------------------------------------
//
// The results table of a search: `<out>/results.csv` and
// `<out>/results.json`, one row per trial, best first. The ranking uses each
// trial's best-ever value of the metric (not its last), as the winner is
// chosen in training_semantics.md §4.4; trials that never reported a finite
// value come last; ties keep trial order.
//
// results.csv columns: trial_id, bracket, one column per search-space key
// (its sampled text), status, last_epoch, last_value, best_value,
// best_epoch, rungs (the milestones where ASHA recorded the trial, highest
// first, separated by ';'), launches, run_dir, best_checkpoint.
// results.json holds the same per trial (params as an object, rungs as a
// list, non-finite values as null) under "trials", with "metric", "mode"
// and "best_trial".
//
// Example:
//
//   std::vector<size_t> order = RankTrials(state.trials, AshaMode::kMax);
//   CVT_RETURN_IF_ERROR(WriteResults(out_dir, rows, {.metric = "val/map"}));

#ifndef LIBS_TUNE_TUNE_RESULTS_H_
#define LIBS_TUNE_TUNE_RESULTS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "libs/tune/asha.h"
#include "libs/tune/tune_state.h"

namespace cvt {

// Indices into `trials`, best first (see the file comment).
std::vector<size_t> RankTrials(const std::vector<TrialRecord>& trials,
                               AshaMode mode);

// One trial's row: the record plus what the driver knows about its files.
struct TrialResult {
  TrialRecord trial;
  // Milestones where ASHA recorded the trial, highest first.
  std::vector<double> rungs;
  // The trial's run directory, relative to the output folder.
  std::string run_dir;
  // Its best checkpoint (checkpoints.json), relative to the output folder;
  // empty when none.
  std::string best_checkpoint;
};

struct ResultsOptions {
  std::string metric;
  AshaMode mode = AshaMode::kMax;
  // The search-space keys, in file order (one CSV column each).
  std::vector<std::string> keys;
};

// results.csv's text, rows already in the order given.
std::string ResultsCsv(const std::vector<TrialResult>& rows,
                       const ResultsOptions& options);
// results.json's text, rows already in the order given.
std::string ResultsJson(const std::vector<TrialResult>& rows,
                        const ResultsOptions& options);

// Ranks `rows` and writes both files into `out_dir`, atomically.
absl::Status WriteResults(const std::string& out_dir,
                          std::vector<TrialResult> rows,
                          const ResultsOptions& options);

}  // namespace cvt

#endif  // LIBS_TUNE_TUNE_RESULTS_H_
