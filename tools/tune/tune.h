// -----------------------------------------------------------------------------
// File: tune.h
// -----------------------------------------------------------------------------
//
// ASHA hyperparameter search over `train fit` trials (training_semantics.md
// §4): trials are sampled from a search space, each runs as a `train fit`
// subprocess in its own run directory, reports every epoch through its
// metrics.jsonl, and Ray's AsyncHyperBandScheduler (libs/tune/asha.h) stops
// the losers with SIGTERM (the trainer saves last.ckpt and ends KILLED).
//
// <out>/
//   tune_state.json          the whole search state, rewritten atomically
//                            after every decision (libs/tune/tune_state.h)
//   trials/<trial_id>/       a train run directory (run.json, metrics.jsonl,
//                            checkpoints/, ...) plus config.textproto (the
//                            resolved config) and train.log (its output)
//   results.csv, results.json   one row per trial, best first
//                            (libs/tune/tune_results.h)
//   best_config.textproto    the best trial's resolved config
//   parent_run/              a run directory for MLflow's parent run
//
// Each trial's config is the base config, then `--set`, then its sampled
// params, then `trainer.max_epochs = max_t`, so every trial ends at max_t
// at the latest and the scheduler's STOP at t >= max_t needs no signal.
// Status: COMPLETED (exit 0), STOPPED (ASHA's SIGTERM, SIGKILL after
// `stop_grace_s`), ERROR (any other non-zero exit, after `max_failures`
// retries). A COMPLETED trial's last result goes to `OnTrialComplete`; a
// STOPPED or ERROR one records nothing more.
//
// Example:
//
//   TuneOptions options;
//   options.config_path = "configs/yolo_nano_shapes.textproto";
//   ...
//   return ExitCode("tune", RunTune(options));

#ifndef TOOLS_TUNE_TUNE_H_
#define TOOLS_TUNE_TUNE_H_

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace cvt {

struct TuneOptions {
  // Base pipeline config. Required.
  std::string config_path;
  // `--set` overrides of the base config, applied before the sampled ones.
  std::vector<std::string> overrides;
  // Search space (libs/tune/search_space.proto, text format). Required.
  std::string search_space_path;
  // Dataset folder handed to every trial (`train fit --data`). Required.
  std::string data_dir;
  // Output folder; must be empty or absent unless `resume`. Required.
  std::string out_dir;
  // Ray's num_samples: the search space's grid is repeated this many times
  // (without grid params: this many trials), >= 1. Default: `10`.
  int num_trials = 10;
  // Trials running at once, >= 1. Default: `1`.
  int max_concurrent = 1;
  // The metric trials report (a metrics.jsonl name). Default: `"val/map"`.
  std::string metric = "val/map";
  // "min" or "max". Default: `"max"`.
  std::string mode = "max";
  // ASHA, in epochs: first milestone (>= 1), rung growth (> 1), the epoch
  // budget (0 = the base config's trainer.max_epochs), brackets (>= 1).
  int grace_period = 1;
  double reduction_factor = 4;
  int max_t = 0;
  int brackets = 1;
  // Ray's stop_last_trials. Default: `true`.
  bool stop_last_trials = true;
  // Seeds the sampler and the bracket draws. Default: `0`.
  uint64_t seed = 0;
  // Continue the search saved in `out_dir` (the other options must repeat
  // the ones it was started with, except those below).
  bool resume = false;
  // The `train` binary. Required (main.cc finds the one beside tune).
  std::string train_bin;
  // `train fit --threads` of every trial, >= 1. Default: `1`.
  int threads_per_trial = 1;
  // Failed trainer runs retried per trial (resumed from their last
  // checkpoint) before the trial is ERROR, >= 0. Default: `0`.
  int max_failures = 0;
  // Seconds between SIGTERM and SIGKILL for a trial being stopped, > 0.
  // Default: `60`.
  double stop_grace_s = 60;
  // Seconds between polls of the trials, > 0. Default: `0.2`.
  double poll_interval_s = 0.2;
  // Returns true once tune should stop (SIGTERM/SIGINT): running trials get
  // SIGTERM, the state is saved and `RunTune` returns Aborted. Default:
  // never.
  std::function<bool()> stop;
  // Progress lines ("tune: ..."); nullptr for none. Default: none (main.cc
  // passes `&std::cerr`).
  std::ostream* progress = nullptr;
  // The ranked results table printed at the end; nullptr for none.
  // Default: none (main.cc passes `&std::cout`).
  std::ostream* summary = nullptr;
};

// Runs (or with `resume`, continues) the search.
//   InvalidArgument: missing or malformed options, a bad config or search
//     space (naming the file and the param), a non-empty `out_dir` without
//     `resume`, `resume` with a flag that differs from the saved search
//     (naming the flag);
//   NotFound: a missing input file, or `resume` without a saved state;
//   Aborted: stopped by `stop` (the search can be resumed), or no trial
//     reported a finite metric;
//   other codes: I/O errors.
absl::Status RunTune(const TuneOptions& options);

// The `train` binary that belongs with the tune binary at `tune_path`:
// `<dir>/train` (an installed bin folder) or `<dir>/../train/train` (the
// Bazel output tree), the first that is executable; empty if neither.
std::string FindTrainBinary(const std::string& tune_path);

}  // namespace cvt

#endif  // TOOLS_TUNE_TUNE_H_
