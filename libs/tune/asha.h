// -----------------------------------------------------------------------------
// File: asha.h
// -----------------------------------------------------------------------------
//
// Ray Tune's `AsyncHyperBandScheduler` (= `ASHAScheduler`), the stopping
// variant of ASHA, as pure logic (training_semantics.md §4.1): feed it each
// trial's results and it answers CONTINUE or STOP. Time is whatever the caller
// counts (`tune` counts completed epochs, 1-based); rewards are the metric in
// max mode and its negation in min mode.
//
//   - Bracket s (0 <= s < brackets) has
//     R_s = int(ln(max_t / grace) / ln(rf) - s + 1) rungs with milestones
//     grace * rf^(k + s), k = 0..R_s-1, kept highest first.
//   - A result at time t >= max_t STOPs (with `stop_last_trials`) and is not
//     recorded. Otherwise the rungs are walked from the highest: the first
//     rung whose milestone t has reached and that has not recorded the trial
//     judges it: cutoff = the (1 - 1/rf) * 100th percentile of the rung's
//     recorded rewards (linear interpolation, NaN ignored, as numpy's
//     `nanpercentile`), computed before the reward is inserted; STOP iff the
//     rung was not empty and reward < cutoff (strictly). The reward is
//     recorded either way. So the first trial at a rung passes, and a reward
//     equal to the cutoff passes.
//   - `OnTrialComplete` runs the same walk on the final result: it records,
//     and its decision is ignored.
//   - A trial's bracket is drawn with probability proportional to
//     exp(R_i - max_j R_j), from a seeded generator (Ray's is unseeded).
//   - Non-finite rewards (§4.4, our decision; Ray has no policy): a NaN or
//     +-inf reward is recorded as -inf and STOPs whenever the judging rung
//     already holds a finite reward. -inf recorded in a rung makes an
//     interpolated cutoff -inf where numpy would give NaN; either way it
//     stops no finite reward.
//
// Example:
//
//   CVT_ASSIGN_OR_RETURN(AshaScheduler asha,
//                        AshaScheduler::Create({.max_t = 10, .grace_period = 1,
//                                               .reduction_factor = 2,
//                                               .mode = AshaMode::kMin},
//                                              /*seed=*/7));
//   CVT_RETURN_IF_ERROR(asha.AddTrial("trial_0000").status());
//   CVT_ASSIGN_OR_RETURN(AshaDecision d,
//                        asha.OnTrialResult("trial_0000", /*time=*/1, 0.42));
//   if (d.action == AshaAction::kStop) ...
//
// Thread safety: not thread-safe; const methods may run concurrently.

#ifndef LIBS_TUNE_ASHA_H_
#define LIBS_TUNE_ASHA_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "libs/base/json.h"
#include "libs/tune/rng.h"
#include "rapidjson/document.h"

namespace cvt {

// Whether larger (kMax) or smaller (kMin) metric values are better.
enum class AshaMode {
  kMin,
  kMax,
};

// Ray's `ASHAScheduler` arguments (its `time_attr` and `metric` are the
// caller's: it passes the time and the metric value).
struct AshaOptions {
  // Time at which every trial stops, > 0 and >= `grace_period`.
  // Default: `100`.
  double max_t = 100;
  // First milestone: no trial stops before this time, > 0. Default: `1`.
  double grace_period = 1;
  // Rung growth and the cutoff percentile (1 - 1/rf), > 1. Default: `4`.
  double reduction_factor = 4;
  // Number of brackets, >= 1. Default: `1`.
  int brackets = 1;
  // Default: `kMax`.
  AshaMode mode = AshaMode::kMax;
  // STOP results at t >= max_t (Ray's `stop_last_trials`). Default: `true`.
  bool stop_last_trials = true;
};

// InvalidArgument unless max_t > 0, max_t >= grace_period > 0, rf > 1 and
// brackets >= 1 (Ray's asserts), naming the option.
absl::Status ValidateAshaOptions(const AshaOptions& options);

enum class AshaAction {
  kContinue,
  kStop,
};

// What a result led to, with the reason for logs and tests.
struct AshaDecision {
  AshaAction action = AshaAction::kContinue;
  // The milestone of the rung that judged the result; unset when none did
  // (time or metric missing, t >= max_t, no milestone reached, or the trial
  // already recorded at every reached rung).
  std::optional<double> milestone;
  // That rung's cutoff before the result was inserted; unset when the rung
  // was empty (then the trial passes) or when no rung judged.
  std::optional<double> cutoff;
  // True when the reward was recorded in the judging rung.
  bool recorded = false;
  // True for the STOP at t >= max_t (the budget is spent, not a loss).
  bool max_t_reached = false;
};

// numpy's `nanpercentile(values, percent)` with linear interpolation: NaNs are
// dropped, the rest sorted, and the value at rank percent/100 * (n - 1)
// interpolated as numpy's `_lerp` does (so finite inputs give numpy's
// double). A -inf lower neighbour gives -inf (numpy: NaN). nullopt when
// `values` is empty; NaN when every value is NaN. `percent` in [0, 100].
std::optional<double> NanPercentile(std::vector<double> values, double percent);

// One rung: a milestone and the rewards recorded there, in insertion order.
struct AshaRung {
  double milestone = 0;
  std::vector<std::pair<std::string, double>> recorded;

  // True when `trial_id` has a reward here.
  bool Has(absl::string_view trial_id) const;
};

// Ray's `_Bracket`.
class Bracket {
 public:
  // Bracket `s` of a scheduler with these arguments (already validated).
  Bracket(double min_t, double max_t, double reduction_factor, int s,
          bool stop_last_trials);

  // R_s = int(ln(max_t / min_t) / ln(rf) - s + 1), computed in the same
  // double operations as Ray; <= 0 means a bracket without rungs.
  static int NumRungs(double min_t, double max_t, double reduction_factor,
                      int s);

  // The rungs, highest milestone first.
  const std::vector<AshaRung>& rungs() const { return rungs_; }
  std::vector<AshaRung>& mutable_rungs() { return rungs_; }

  // The cutoff a result judged at `rung` would face now: the
  // (1 - 1/rf) * 100th percentile of its recorded rewards, nullopt if none.
  std::optional<double> Cutoff(const AshaRung& rung) const;

  // Ray's `_Bracket.on_result` (no t >= max_t rule: that is the
  // scheduler's). `reward` nullopt: judged but not recorded, never STOP.
  AshaDecision OnResult(const std::string& trial_id, double time,
                        std::optional<double> reward);

 private:
  double reduction_factor_;
  bool stop_last_trials_;
  std::vector<AshaRung> rungs_;
};

// Ray's `AsyncHyperBandScheduler`.
class AshaScheduler {
 public:
  // InvalidArgument from `ValidateAshaOptions`. `seed` seeds the bracket
  // draws (through `DeriveSeed(seed, kAshaStream)`).
  static absl::StatusOr<AshaScheduler> Create(const AshaOptions& options,
                                              uint64_t seed);

  // The stream number `Create` mixes into `seed`.
  static constexpr uint64_t kAshaStream = 2;

  // Ray's `on_trial_add`: draws the trial's bracket and returns its index.
  // FailedPrecondition if the trial was added before.
  absl::StatusOr<int> AddTrial(const std::string& trial_id);

  // Ray's `on_trial_result`. `time` or `metric` nullopt: the result lacks it
  // (CONTINUE, nothing recorded). FailedPrecondition for a trial never added
  // or already completed.
  absl::StatusOr<AshaDecision> OnTrialResult(const std::string& trial_id,
                                             std::optional<double> time,
                                             std::optional<double> metric);

  // Ray's `on_trial_complete`: the same walk on the final result, recording;
  // the returned decision is informational (Ray ignores it). Afterwards the
  // trial takes no more results. FailedPrecondition as `OnTrialResult`.
  absl::StatusOr<AshaDecision> OnTrialComplete(const std::string& trial_id,
                                               std::optional<double> time,
                                               std::optional<double> metric);

  // The draw probabilities of the brackets, exp(R_i - max R) normalised.
  std::vector<double> BracketProbabilities() const;

  // The bracket of `trial_id`, or -1 if it was never added.
  int BracketOf(absl::string_view trial_id) const;

  // The milestones at which `trial_id` has a recorded reward, highest first.
  std::vector<double> RecordedMilestones(absl::string_view trial_id) const;

  const AshaOptions& options() const { return options_; }
  const std::vector<Bracket>& brackets() const { return brackets_; }

  // The whole state (options, generator, trials, rungs) as one JSON object,
  // so `FromJson` continues with identical decisions and draws. Non-finite
  // rewards need `NonFinitePolicy::kPythonLiterals` (or kNull loses them).
  void WriteJson(JsonWriter& json) const;

  // Restores what `WriteJson` wrote. InvalidArgument naming `where` and the
  // field for malformed or inconsistent state.
  static absl::StatusOr<AshaScheduler> FromJson(const rapidjson::Value& json,
                                                absl::string_view where);

 private:
  AshaScheduler(AshaOptions options, uint64_t rng_state);

  struct TrialInfo {
    int bracket = 0;
    bool completed = false;
  };

  absl::StatusOr<TrialInfo*> Find(const std::string& trial_id);
  AshaDecision Judge(const TrialInfo& info, const std::string& trial_id,
                     std::optional<double> time, std::optional<double> metric,
                     bool complete);

  AshaOptions options_;
  Rng rng_;
  std::vector<Bracket> brackets_;
  std::map<std::string, TrialInfo> trials_;
  // Trial ids in the order they were added (for a stable JSON).
  std::vector<std::string> order_;
};

}  // namespace cvt

#endif  // LIBS_TUNE_ASHA_H_
