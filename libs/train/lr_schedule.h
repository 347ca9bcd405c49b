// -----------------------------------------------------------------------------
// File: lr_schedule.h
// -----------------------------------------------------------------------------
//
// The learning-rate schedule of `train`, in closed form and double precision
// (training_semantics.md §2.5), plus the per-step counters it depends on: the
// total number of optimizer steps and the index at which step metrics are
// logged. Pure logic: no LibTorch, no I/O.
//
// Every schedule starts with an optional linear warmup over
// `W = floor(warmup_fraction * T)` optimizer steps (the double product is
// floored, as the seed's `int(0.1 * total)` does), from
// `warmup_start_factor * base` to `base` for each parameter group:
//
//   s < W:  lr = base * (f + (1 - f) * s / W)
//
// then, for `s >= W`, one of
//
//   cosine:    lr = eta_min + (base - eta_min) * (1 + cos(pi (s-W)/(T-W))) / 2
//              (eta_min is absolute and the same for every group; for s > T
//              the lr stays at eta_min instead of rising again as torch's
//              periodic closed form would)
//   step:      lr = base * gamma^(number of milestones m <= floor(s / E))
//              with E optimizer steps per epoch; milestones are absolute
//              epochs ("after epoch 200" means from step 200 * E on), and
//              the warmup factor multiplies this during warmup
//   constant:  lr = base
//
// `s` is the number of optimizer steps already taken (torch's `last_epoch`):
// the lr used BY optimizer step s+1 is `LearningRate(group, s)`.
//
// Example:
//
//   CVT_ASSIGN_OR_RETURN(LrScheduleOptions options,
//                        LrScheduleOptionsFromProto(config.lr_schedule()));
//   CVT_ASSIGN_OR_RETURN(int64_t per_epoch,
//                        OptimizerStepsPerEpoch(batches_per_rank, k));
//   CVT_ASSIGN_OR_RETURN(LrSchedule schedule,
//                        LrSchedule::Create(options, {1e-4, 1e-5},
//                                           max_epochs * per_epoch,
//                                           per_epoch));
//   for (...) {  // every optimizer step
//     SetGroupLrs(optimizer, schedule.CurrentLearningRates());
//     optimizer.step();
//     schedule.Step();
//   }
//   checkpoint["lr_schedulers"] = schedule.ToJson();
//
// Thread safety: const methods are thread-safe; `Step`/`set_last_step` are
// not.

#ifndef LIBS_TRAIN_LR_SCHEDULE_H_
#define LIBS_TRAIN_LR_SCHEDULE_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace cvt {

class LrScheduleConfig;  // libs/config/lr_schedule_config.proto

// What happens after the warmup.
enum class LrScheduleKind {
  // Cosine annealing from each base lr down to the absolute `eta_min`.
  kCosine,
  // Multiply by `gamma` at each milestone epoch.
  kStep,
  // Stay at the base lr.
  kConstant,
};

// Returns "cosine", "step" or "constant".
absl::string_view LrScheduleKindName(LrScheduleKind kind);

// Mirrors `LrScheduleConfig` field by field.
struct LrScheduleOptions {
  // Default: `kCosine` (also what an unset `schedule` oneof means).
  LrScheduleKind kind = LrScheduleKind::kCosine;
  // Fraction of all optimizer steps spent in linear warmup, in [0, 1).
  // Default: `0.1`.
  double warmup_fraction = 0.1;
  // Warmup starts at this fraction of each base lr, in (0, 1].
  // Default: `0.1`.
  double warmup_start_factor = 0.1;
  // kCosine only: absolute lr floor of every group, >= 0. Default: `1e-6`.
  double eta_min = 1e-6;
  // kStep only: epochs (0-based counts of completed epochs) after which the
  // lr is multiplied by `gamma`; each >= 1 and strictly increasing.
  // Default: empty (the lr never drops).
  std::vector<int64_t> milestone_epochs;
  // kStep only: multiplier per milestone, in (0, 1]. Default: `0.1`.
  double gamma = 0.1;
};

// Returns InvalidArgument naming the field if `options` is out of range (the
// ranges documented on the fields, and a finite value everywhere).
absl::Status ValidateLrScheduleOptions(const LrScheduleOptions& options);

// Maps the config 1:1 (an unset `schedule` oneof is cosine with the
// `CosineSchedule` defaults) and validates the result. InvalidArgument
// "LrScheduleConfig: <field> ..." when out of range.
absl::StatusOr<LrScheduleOptions> LrScheduleOptionsFromProto(
    const LrScheduleConfig& config);

// ceil(batches_per_epoch_per_rank / accumulate_grad_batches): the optimizer
// steps per epoch, since the optimizer also steps at an epoch's last batch.
// InvalidArgument unless batches_per_epoch_per_rank >= 1 and
// accumulate_grad_batches >= 1.
absl::StatusOr<int64_t> OptimizerStepsPerEpoch(
    int64_t batches_per_epoch_per_rank, int64_t accumulate_grad_batches);

// T = max_epochs * ceil(batches_per_epoch_per_rank / accumulate_grad_batches),
// the length of the schedule (§2.5). InvalidArgument unless every argument is
// >= 1 (or the product overflows int64).
absl::StatusOr<int64_t> TotalOptimizerSteps(int64_t max_epochs,
                                            int64_t batches_per_epoch_per_rank,
                                            int64_t accumulate_grad_batches);

// Whether step metrics are written once `steps_completed` optimizer steps are
// done (this one included): `log_every_n_steps > 0` and
// `steps_completed % log_every_n_steps == 0`. The trainer also writes them at
// a stop, whatever this returns. `log_every_n_steps == 0` turns them off.
bool ShouldLogStepMetrics(int64_t steps_completed, int64_t log_every_n_steps);

// The step index step metrics are recorded at, Lightning's 0-based counter of
// batches that stepped: `steps_completed - 1`. With n = 50 the first point is
// recorded at step 49 (§2.5; MLflow parity with the seed).
int64_t StepMetricsIndex(int64_t steps_completed);

// A warmup-then-{cosine, step, constant} schedule over a fixed number of
// optimizer steps, for one or more parameter groups. Its only mutable state
// is `last_step`.
class LrSchedule {
 public:
  // `base_lrs`: one lr per parameter group (each finite and >= 0; at least
  // one). `total_steps`: T >= 1, usually `TotalOptimizerSteps(...)`.
  // `steps_per_epoch`: optimizer steps per epoch; >= 1 for kStep, ignored
  // (may be 0) otherwise. InvalidArgument for anything out of range.
  // `last_step` starts at 0.
  static absl::StatusOr<LrSchedule> Create(const LrScheduleOptions& options,
                                           std::vector<double> base_lrs,
                                           int64_t total_steps,
                                           int64_t steps_per_epoch);

  // Rebuilds a schedule, `last_step` included, from `ToJson()` output.
  // Everything comes from the JSON (as Lightning restores a scheduler's
  // state, T included), so a resumed run continues the original schedule.
  // InvalidArgument for malformed JSON, a missing or mistyped field, values
  // out of range, or `warmup_steps` inconsistent with the other fields.
  static absl::StatusOr<LrSchedule> FromJson(absl::string_view json);

  // The lr of parameter group `group` (0-based, < num_groups(); checked)
  // after `step` optimizer steps. `step < 0` is treated as 0.
  double LearningRate(int group, int64_t step) const;

  // `LearningRate(g, step)` for every group.
  std::vector<double> LearningRates(int64_t step) const;

  // `LearningRate(group, step) / base_lr(group)`; 0 when the base lr is 0.
  double Multiplier(int group, int64_t step) const;

  // `LearningRates(last_step())`: what the next optimizer step should use.
  std::vector<double> CurrentLearningRates() const;

  // Records one optimizer step: `last_step` += 1.
  void Step() { ++last_step_; }

  // Number of optimizer steps taken so far (>= 0).
  int64_t last_step() const { return last_step_; }
  // Sets it directly (resume); negative values are stored as 0.
  void set_last_step(int64_t last_step) {
    last_step_ = last_step < 0 ? 0 : last_step;
  }

  const LrScheduleOptions& options() const { return options_; }
  LrScheduleKind kind() const { return options_.kind; }
  int64_t total_steps() const { return total_steps_; }
  // W = floor(warmup_fraction * T).
  int64_t warmup_steps() const { return warmup_steps_; }
  int64_t steps_per_epoch() const { return steps_per_epoch_; }
  int num_groups() const { return static_cast<int>(base_lrs_.size()); }
  absl::Span<const double> base_lrs() const { return base_lrs_; }

  // One JSON object, the checkpoint's `lr_schedulers` entry (§2.2):
  // {"kind", "total_steps", "warmup_steps", "base_lrs", "last_step"} plus
  // what rebuilds the schedule: "warmup_fraction", "warmup_start_factor",
  // "steps_per_epoch", and "eta_min" (cosine) or "milestone_epochs" and
  // "gamma" (step). Doubles are written as shortest round-trip decimals, so
  // `FromJson(ToJson())` is exact.
  std::string ToJson() const;

 private:
  LrSchedule(LrScheduleOptions options, std::vector<double> base_lrs,
             int64_t total_steps, int64_t warmup_steps, int64_t steps_per_epoch)
      : options_(std::move(options)),
        base_lrs_(std::move(base_lrs)),
        total_steps_(total_steps),
        warmup_steps_(warmup_steps),
        steps_per_epoch_(steps_per_epoch) {}

  LrScheduleOptions options_;
  std::vector<double> base_lrs_;
  int64_t total_steps_;
  int64_t warmup_steps_;
  int64_t steps_per_epoch_;
  int64_t last_step_ = 0;
};

}  // namespace cvt

#endif  // LIBS_TRAIN_LR_SCHEDULE_H_
