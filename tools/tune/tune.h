// -----------------------------------------------------------------------------
// File: tune.h
// -----------------------------------------------------------------------------
//
// ASHA hyperparameter search over `train fit` trials.

#ifndef TOOLS_TUNE_TUNE_H_
#define TOOLS_TUNE_TUNE_H_

#include <string>

#include "absl/status/status.h"

namespace cvt {

struct TuneOptions {
  // Base pipeline config.
  std::string config_path;
  // Search space (text proto).
  std::string search_space_path;
  int num_trials = 10;
  int max_concurrent = 1;
  // Metric reported by the trials, e.g. "val/map".
  std::string metric = "val/map";
  // "min" or "max".
  std::string mode = "max";
  // Output folder: one run directory per trial plus the search state.
  std::string out_dir;
  // ASHA: minimum epochs before a trial can stop; rung growth; max epochs.
  int grace_period = 1;
  int reduction_factor = 4;
  int max_t = 0;  // 0 = trainer.max_epochs of the base config.
  int brackets = 1;
  // Continue the search saved in out_dir.
  bool resume = false;
};

// InvalidArgument for missing or malformed options.
absl::Status RunTune(const TuneOptions& options);

}  // namespace cvt

#endif  // TOOLS_TUNE_TUNE_H_
