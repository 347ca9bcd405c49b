#include "libs/tune/asha.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "libs/base/status_macros.h"
#include "libs/tune/json_fields.h"

namespace cvt {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// numpy's `_lerp(a, b, t)`: a + (b - a) * t, or b - (b - a) * (1 - t) for
// t >= 0.5, which keeps the result monotone and exact at t = 1.
double Lerp(double a, double b, double t) {
  if (a == b) return a;         // Also -inf == -inf.
  if (std::isinf(a)) return a;  // The limit; numpy gives NaN.
  const double diff = b - a;
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

const char* ModeName(AshaMode mode) {
  switch (mode) {
    case AshaMode::kMin:
      return "min";
    case AshaMode::kMax:
      return "max";
  }
  return "max";
}

}  // namespace

absl::Status ValidateAshaOptions(const AshaOptions& options) {
  if (!(options.max_t > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_t must be > 0 (got ", options.max_t, ")"));
  }
  if (!(options.grace_period > 0) || !(options.max_t >= options.grace_period)) {
    return absl::InvalidArgumentError(
        absl::StrCat("grace_period must be > 0 and <= max_t (got ",
                     options.grace_period, " with max_t ", options.max_t, ")"));
  }
  if (!(options.reduction_factor > 1) ||
      !std::isfinite(options.reduction_factor)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "reduction_factor must be > 1 (got ", options.reduction_factor, ")"));
  }
  if (options.brackets < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("brackets must be >= 1 (got ", options.brackets, ")"));
  }
  return absl::OkStatus();
}

std::optional<double> NanPercentile(std::vector<double> values,
                                    double percent) {
  if (values.empty()) return std::nullopt;
  values.erase(std::remove_if(values.begin(), values.end(),
                              [](double v) { return std::isnan(v); }),
               values.end());
  if (values.empty()) return std::nan("");
  std::sort(values.begin(), values.end());
  const double q = percent / 100;
  const double n = static_cast<double>(values.size());
  const double virtual_index = (n - 1) * q;
  if (virtual_index >= n - 1) return values.back();
  if (virtual_index < 0) return values.front();
  const double previous = std::floor(virtual_index);
  const size_t lo = static_cast<size_t>(previous);
  return Lerp(values[lo], values[lo + 1], virtual_index - previous);
}

bool AshaRung::Has(absl::string_view trial_id) const {
  for (const auto& [id, reward] : recorded) {
    if (id == trial_id) return true;
  }
  return false;
}

int Bracket::NumRungs(double min_t, double max_t, double reduction_factor,
                      int s) {
  // Ray: int(np.log(max_t / min_t) / np.log(self.rf) - s + 1).
  const double r = std::log(max_t / min_t) / std::log(reduction_factor) -
                   static_cast<double>(s) + 1;
  return static_cast<int>(r);  // Truncates toward zero, as Python's int().
}

Bracket::Bracket(double min_t, double max_t, double reduction_factor, int s,
                 bool stop_last_trials)
    : reduction_factor_(reduction_factor), stop_last_trials_(stop_last_trials) {
  const int num_rungs = NumRungs(min_t, max_t, reduction_factor, s);
  for (int k = num_rungs - 1; k >= 0; --k) {
    AshaRung rung;
    rung.milestone = min_t * std::pow(reduction_factor, k + s);
    rungs_.push_back(std::move(rung));
  }
}

std::optional<double> Bracket::Cutoff(const AshaRung& rung) const {
  std::vector<double> values;
  values.reserve(rung.recorded.size());
  for (const auto& [id, reward] : rung.recorded) values.push_back(reward);
  return NanPercentile(std::move(values), (1 - 1 / reduction_factor_) * 100);
}

AshaDecision Bracket::OnResult(const std::string& trial_id, double time,
                               std::optional<double> reward) {
  AshaDecision decision;
  for (AshaRung& rung : rungs_) {
    const bool here = rung.Has(trial_id);
    if (time >= rung.milestone && here && !stop_last_trials_) {
      // Ray: the decision to continue was made at this rung already, and
      // milestones descend, so no lower rung is consulted either.
      break;
    }
    if (time < rung.milestone || here) continue;
    decision.milestone = rung.milestone;
    decision.cutoff = Cutoff(rung);
    if (reward.has_value()) {
      if (!std::isfinite(*reward)) {
        // §4.4: recorded as -inf; STOP whenever the rung holds a finite one.
        bool finite = false;
        for (const auto& [id, r] : rung.recorded) finite |= std::isfinite(r);
        if (finite) decision.action = AshaAction::kStop;
        rung.recorded.emplace_back(trial_id, kNegInf);
      } else {
        if (decision.cutoff.has_value() && *reward < *decision.cutoff) {
          decision.action = AshaAction::kStop;
        }
        rung.recorded.emplace_back(trial_id, *reward);
      }
      decision.recorded = true;
    }
    break;
  }
  return decision;
}

AshaScheduler::AshaScheduler(AshaOptions options, uint64_t rng_state)
    : options_(std::move(options)), rng_(rng_state) {
  for (int s = 0; s < options_.brackets; ++s) {
    brackets_.emplace_back(options_.grace_period, options_.max_t,
                           options_.reduction_factor, s,
                           options_.stop_last_trials);
  }
}

absl::StatusOr<AshaScheduler> AshaScheduler::Create(const AshaOptions& options,
                                                    uint64_t seed) {
  CVT_RETURN_IF_ERROR(ValidateAshaOptions(options));
  return AshaScheduler(options, DeriveSeed(seed, kAshaStream));
}

std::vector<double> AshaScheduler::BracketProbabilities() const {
  // Ray: sizes = [len(b._rungs)]; probs = e ** (sizes - sizes.max());
  // normalized = probs / probs.sum().
  int max_size = 0;
  for (const Bracket& b : brackets_) {
    max_size = std::max(max_size, static_cast<int>(b.rungs().size()));
  }
  std::vector<double> probs;
  double sum = 0;
  for (const Bracket& b : brackets_) {
    probs.push_back(std::exp(
        static_cast<double>(static_cast<int>(b.rungs().size()) - max_size)));
    sum += probs.back();
  }
  for (double& p : probs) p /= sum;
  return probs;
}

absl::StatusOr<int> AshaScheduler::AddTrial(const std::string& trial_id) {
  if (trials_.count(trial_id) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("trial ", trial_id, " was added before"));
  }
  // numpy's choice(p=...): the first index whose cumulative probability
  // exceeds a uniform draw (searchsorted side='right' on the normalised cdf).
  const std::vector<double> probs = BracketProbabilities();
  std::vector<double> cdf(probs.size());
  double running = 0;
  for (size_t i = 0; i < probs.size(); ++i) cdf[i] = running += probs[i];
  for (double& c : cdf) c /= cdf.back();
  const double u = rng_.Uniform01();
  int bracket = static_cast<int>(std::upper_bound(cdf.begin(), cdf.end(), u) -
                                 cdf.begin());
  bracket = std::min(bracket, static_cast<int>(brackets_.size()) - 1);
  trials_[trial_id] = TrialInfo{bracket, false};
  order_.push_back(trial_id);
  return bracket;
}

absl::StatusOr<AshaScheduler::TrialInfo*> AshaScheduler::Find(
    const std::string& trial_id) {
  auto it = trials_.find(trial_id);
  if (it == trials_.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("trial ", trial_id, " was never added"));
  }
  if (it->second.completed) {
    return absl::FailedPreconditionError(
        absl::StrCat("trial ", trial_id, " has completed"));
  }
  return &it->second;
}

AshaDecision AshaScheduler::Judge(const TrialInfo& info,
                                  const std::string& trial_id,
                                  std::optional<double> time,
                                  std::optional<double> metric, bool complete) {
  if (!time.has_value() || !metric.has_value()) return AshaDecision();
  if (!complete && *time >= options_.max_t && options_.stop_last_trials) {
    AshaDecision decision;
    decision.action = AshaAction::kStop;
    decision.max_t_reached = true;
    return decision;
  }
  const double reward = options_.mode == AshaMode::kMax ? *metric : -*metric;
  return brackets_[info.bracket].OnResult(trial_id, *time, reward);
}

absl::StatusOr<AshaDecision> AshaScheduler::OnTrialResult(
    const std::string& trial_id, std::optional<double> time,
    std::optional<double> metric) {
  CVT_ASSIGN_OR_RETURN(TrialInfo * info, Find(trial_id));
  return Judge(*info, trial_id, time, metric, /*complete=*/false);
}

absl::StatusOr<AshaDecision> AshaScheduler::OnTrialComplete(
    const std::string& trial_id, std::optional<double> time,
    std::optional<double> metric) {
  CVT_ASSIGN_OR_RETURN(TrialInfo * info, Find(trial_id));
  AshaDecision decision = Judge(*info, trial_id, time, metric,
                                /*complete=*/true);
  info->completed = true;
  return decision;
}

int AshaScheduler::BracketOf(absl::string_view trial_id) const {
  auto it = trials_.find(std::string(trial_id));
  return it == trials_.end() ? -1 : it->second.bracket;
}

std::vector<double> AshaScheduler::RecordedMilestones(
    absl::string_view trial_id) const {
  std::vector<double> out;
  const int bracket = BracketOf(trial_id);
  if (bracket < 0) return out;
  for (const AshaRung& rung : brackets_[bracket].rungs()) {
    if (rung.Has(trial_id)) out.push_back(rung.milestone);
  }
  return out;
}

void AshaScheduler::WriteJson(JsonWriter& json) const {
  json.StartObject();
  json.Key("options");
  json.StartObject();
  json.Key("max_t");
  json.Double(options_.max_t);
  json.Key("grace_period");
  json.Double(options_.grace_period);
  json.Key("reduction_factor");
  json.Double(options_.reduction_factor);
  json.Key("brackets");
  json.Int(options_.brackets);
  json.Key("mode");
  json.String(ModeName(options_.mode));
  json.Key("stop_last_trials");
  json.Bool(options_.stop_last_trials);
  json.EndObject();
  json.Key("rng_state");
  json.Uint(rng_.state());
  json.Key("trials");
  json.StartArray();
  for (const std::string& id : order_) {
    const TrialInfo& info = trials_.at(id);
    json.StartObject();
    json.Key("id");
    json.String(id);
    json.Key("bracket");
    json.Int(info.bracket);
    json.Key("completed");
    json.Bool(info.completed);
    json.EndObject();
  }
  json.EndArray();
  json.Key("brackets");
  json.StartArray();
  for (const Bracket& bracket : brackets_) {
    json.StartObject();
    json.Key("rungs");
    json.StartArray();
    for (const AshaRung& rung : bracket.rungs()) {
      json.StartObject();
      json.Key("milestone");
      json.Double(rung.milestone);
      json.Key("recorded");
      json.StartArray();
      for (const auto& [id, reward] : rung.recorded) {
        json.StartArray();
        json.String(id);
        json.Double(reward);
        json.EndArray();
      }
      json.EndArray();
      json.EndObject();
    }
    json.EndArray();
    json.EndObject();
  }
  json.EndArray();
  json.EndObject();
}

absl::StatusOr<AshaScheduler> AshaScheduler::FromJson(
    const rapidjson::Value& json, absl::string_view where) {
  const std::string at = absl::StrCat(where, ": scheduler");
  CVT_ASSIGN_OR_RETURN(const rapidjson::Value* o,
                       GetObject(json, "options", at));
  const std::string at_options = absl::StrCat(at, ".options");
  AshaOptions options;
  CVT_ASSIGN_OR_RETURN(options.max_t, GetDouble(*o, "max_t", at_options));
  CVT_ASSIGN_OR_RETURN(options.grace_period,
                       GetDouble(*o, "grace_period", at_options));
  CVT_ASSIGN_OR_RETURN(options.reduction_factor,
                       GetDouble(*o, "reduction_factor", at_options));
  CVT_ASSIGN_OR_RETURN(int64_t brackets, GetInt(*o, "brackets", at_options));
  options.brackets = static_cast<int>(brackets);
  CVT_ASSIGN_OR_RETURN(std::string mode, GetString(*o, "mode", at_options));
  if (mode != "min" && mode != "max") {
    return absl::InvalidArgumentError(
        absl::StrCat(at_options, ": \"mode\" must be \"min\" or \"max\""));
  }
  options.mode = mode == "min" ? AshaMode::kMin : AshaMode::kMax;
  CVT_ASSIGN_OR_RETURN(options.stop_last_trials,
                       GetBool(*o, "stop_last_trials", at_options));
  absl::Status valid = ValidateAshaOptions(options);
  if (!valid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(at_options, ": ", valid.message()));
  }
  CVT_ASSIGN_OR_RETURN(uint64_t rng_state, GetUint64(json, "rng_state", at));
  AshaScheduler scheduler(options, rng_state);

  CVT_ASSIGN_OR_RETURN(const rapidjson::Value* trials,
                       GetArray(json, "trials", at));
  for (const rapidjson::Value& t : trials->GetArray()) {
    const std::string at_trial = absl::StrCat(at, ".trials[]");
    CVT_ASSIGN_OR_RETURN(std::string id, GetString(t, "id", at_trial));
    CVT_ASSIGN_OR_RETURN(int64_t bracket, GetInt(t, "bracket", at_trial));
    CVT_ASSIGN_OR_RETURN(bool completed, GetBool(t, "completed", at_trial));
    if (bracket < 0 || bracket >= options.brackets ||
        scheduler.trials_.count(id) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(at_trial, ": trial ", id,
                       " is repeated or has no bracket ", bracket));
    }
    scheduler.trials_[id] = TrialInfo{static_cast<int>(bracket), completed};
    scheduler.order_.push_back(id);
  }

  CVT_ASSIGN_OR_RETURN(const rapidjson::Value* brackets_json,
                       GetArray(json, "brackets", at));
  if (brackets_json->Size() != scheduler.brackets_.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(at, ": ", brackets_json->Size(), " brackets, expected ",
                     scheduler.brackets_.size()));
  }
  for (size_t b = 0; b < scheduler.brackets_.size(); ++b) {
    const std::string at_bracket = absl::StrCat(at, ".brackets[", b, "]");
    CVT_ASSIGN_OR_RETURN(const rapidjson::Value* rungs,
                         GetArray((*brackets_json)[b], "rungs", at_bracket));
    std::vector<AshaRung>& expected = scheduler.brackets_[b].mutable_rungs();
    if (rungs->Size() != expected.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(at_bracket, ": ", rungs->Size(), " rungs, expected ",
                       expected.size()));
    }
    for (size_t r = 0; r < expected.size(); ++r) {
      const std::string at_rung = absl::StrCat(at_bracket, ".rungs[", r, "]");
      const rapidjson::Value& rung = (*rungs)[r];
      CVT_ASSIGN_OR_RETURN(double milestone,
                           GetDouble(rung, "milestone", at_rung));
      if (milestone != expected[r].milestone) {
        return absl::InvalidArgumentError(absl::StrCat(at_rung, ": milestone ",
                                                       milestone, ", expected ",
                                                       expected[r].milestone));
      }
      CVT_ASSIGN_OR_RETURN(const rapidjson::Value* recorded,
                           GetArray(rung, "recorded", at_rung));
      for (const rapidjson::Value& pair : recorded->GetArray()) {
        if (!pair.IsArray() || pair.Size() != 2 || !pair[0].IsString() ||
            !pair[1].IsNumber() ||
            scheduler.trials_.count(pair[0].GetString()) == 0) {
          return absl::InvalidArgumentError(absl::StrCat(
              at_rung, ": \"recorded\" must hold [known trial id, reward]"));
        }
        expected[r].recorded.emplace_back(pair[0].GetString(),
                                          pair[1].GetDouble());
      }
    }
  }
  return scheduler;
}

}  // namespace cvt
