// -----------------------------------------------------------------------------
// File: early_stopping.h
// -----------------------------------------------------------------------------
//
// Lightning's EarlyStopping (training_semantics.md §2.4) as pure logic: feed
// it the monitored value after each validation and it says whether to stop.
// Patience counts validation checks, not epochs.
//
// Each `Check` takes the first branch that matches; branches 1-3 leave the
// best score unchanged:
//   1. `check_finite` and the value is NaN or +-inf      -> stop
//   2. `stopping_threshold` set and the value is strictly better -> stop
//   3. `divergence_threshold` set and the value is strictly worse -> stop
//   4. improvement by more than `min_delta`
//      (max: v - d > best; min: v + d < best)             -> best = v, wait = 0
//   5. otherwise wait += 1, and stop once wait >= patience
// The best score starts at the worst value (-inf in max mode, +inf in min).
//
// Example:
//
//   CVT_ASSIGN_OR_RETURN(EarlyStoppingOptions options,
//                        EarlyStoppingOptionsFromProto(config.early_stopping()));
//   CVT_ASSIGN_OR_RETURN(EarlyStopping early_stopping,
//                        EarlyStopping::Create(options));
//   ...
//   CVT_ASSIGN_OR_RETURN(EarlyStoppingDecision decision,
//                        early_stopping.CheckMetrics(metrics, epoch));
//   if (decision.stop) LOG(INFO) << decision.reason;
//   checkpoint["callbacks"]["EarlyStopping"] =
//       EarlyStoppingStateToJson(early_stopping.state());
//
// Thread safety: not thread-safe; const methods may run concurrently.

#ifndef LIBS_TRAIN_EARLY_STOPPING_H_
#define LIBS_TRAIN_EARLY_STOPPING_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cvt {

class EarlyStoppingConfig;  // libs/config/early_stopping_config.proto

// Whether larger (kMax) or smaller (kMin) values of the metric are better.
enum class EarlyStoppingMode {
  kMin,
  kMax,
};

// Mirrors `EarlyStoppingConfig` (its `enabled` flag is the caller's: it
// decides whether to build an `EarlyStopping` at all).
struct EarlyStoppingOptions {
  // Metric name as logged ("val/map"); must not be empty.
  // Default: `"val/map"`.
  std::string monitor = "val/map";
  // Default: `kMax` (the config's default; Lightning's is min).
  EarlyStoppingMode mode = EarlyStoppingMode::kMax;
  // Checks without improvement before stopping, >= 0. Default: `3`.
  int64_t patience = 3;
  // Minimum change that counts as an improvement, absolute, finite and >= 0.
  // Default: `0.0`.
  double min_delta = 0.0;
  // Stop when the value is NaN or +-inf. Default: `true`.
  bool check_finite = true;
  // Stop as soon as the value is strictly better than this (not NaN).
  // Default: unset (never).
  std::optional<double> stopping_threshold;
  // Stop as soon as the value is strictly worse than this (not NaN).
  // Default: unset (never).
  std::optional<double> divergence_threshold;
};

// Maps the config 1:1 (`enabled` aside) and validates it as
// `EarlyStopping::Create` does. InvalidArgument "EarlyStoppingConfig: ...".
absl::StatusOr<EarlyStoppingOptions> EarlyStoppingOptionsFromProto(
    const EarlyStoppingConfig& config);

// The outcome of one check.
struct EarlyStoppingDecision {
  // Signal the trainer to stop (it stops at the end of this epoch).
  bool stop = false;
  // The value became the new best (branch 4).
  bool improved = false;
  // Lightning's message, e.g. "Monitored metric val/map did not improve in
  // the last 3 records. Best score: 0.512. Signaling Trainer to stop.", or
  // "Metric val/map improved ..."; empty when there is nothing to say.
  std::string reason;
};

// Lightning's EarlyStopping `state_dict`, stored in checkpoints.
struct EarlyStoppingState {
  // Checks since the last improvement.
  int64_t wait_count = 0;
  // Epoch (0-based) at which a stop was signalled; 0 if none.
  int64_t stopped_epoch = 0;
  // Best value so far; +-inf (the worst) before the first improvement.
  double best_score = 0;
  int64_t patience = 0;
};

// {"wait_count":..,"stopped_epoch":..,"best_score":..,"patience":..}; an
// infinite best score is written as the Python literal `Infinity` /
// `-Infinity` (read back by `EarlyStoppingStateFromJson`).
std::string EarlyStoppingStateToJson(const EarlyStoppingState& state);

// Parses `EarlyStoppingStateToJson` output. InvalidArgument for malformed
// JSON or a missing or mistyped field.
absl::StatusOr<EarlyStoppingState> EarlyStoppingStateFromJson(
    absl::string_view json);

class EarlyStopping {
 public:
  // InvalidArgument for an empty monitor, a negative patience, a `min_delta`
  // that is negative or not finite, or a NaN threshold.
  static absl::StatusOr<EarlyStopping> Create(EarlyStoppingOptions options);

  // Runs one check on `value`, the monitored metric after the validation of
  // `epoch` (0-based; recorded as `stopped_epoch` when this stops).
  EarlyStoppingDecision Check(double value, int64_t epoch);

  // `Check(metrics.at(monitor), epoch)`. InvalidArgument naming the monitor
  // and the available keys when `metrics` lacks it (Lightning's `strict`).
  absl::StatusOr<EarlyStoppingDecision> CheckMetrics(
      const std::map<std::string, double>& metrics, int64_t epoch);

  // The state to store in a checkpoint.
  EarlyStoppingState state() const;

  // Restores `wait_count`, `stopped_epoch` and `best_score` (resume).
  // Decision: the configured patience wins over `state.patience` (Lightning
  // restores the stored one), because `patience` is one of the overrides a
  // resume may apply (§2.3) and the config itself comes from the checkpoint.
  // InvalidArgument if `wait_count` or `stopped_epoch` is negative or
  // `best_score` is NaN.
  absl::Status RestoreState(const EarlyStoppingState& state);

  const EarlyStoppingOptions& options() const { return options_; }
  int64_t wait_count() const { return wait_count_; }
  int64_t stopped_epoch() const { return stopped_epoch_; }
  double best_score() const { return best_score_; }

 private:
  explicit EarlyStopping(EarlyStoppingOptions options);

  // Whether `a` is strictly better than `b` in this mode.
  bool Better(double a, double b) const;

  EarlyStoppingOptions options_;
  int64_t wait_count_ = 0;
  int64_t stopped_epoch_ = 0;
  double best_score_;
};

}  // namespace cvt

#endif  // LIBS_TRAIN_EARLY_STOPPING_H_
