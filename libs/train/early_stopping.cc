#include "libs/train/early_stopping.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "libs/base/json.h"
#include "libs/base/status_macros.h"
#include "libs/config/early_stopping_config.pb.h"

namespace cvt {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Python's repr of a float: shortest round-trip digits, "nan", "inf".
std::string Repr(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  return FormatDouble(value);
}

// Python's f"{value:.3f}" (never "-nan").
std::string Fixed3(double value) {
  if (std::isnan(value)) return "nan";
  return absl::StrFormat("%.3f", value);
}

absl::StatusOr<int64_t> GetInt(const rapidjson::Value& object,
                               const char* key) {
  const auto it = object.FindMember(key);
  if (it == object.MemberEnd() || !it->value.IsInt64()) {
    return absl::InvalidArgumentError(
        absl::StrCat("early stopping state JSON: field \"", key,
                     "\" is missing or not an integer"));
  }
  return it->value.GetInt64();
}

}  // namespace

absl::StatusOr<EarlyStoppingOptions> EarlyStoppingOptionsFromProto(
    const EarlyStoppingConfig& config) {
  EarlyStoppingOptions options;
  options.monitor = config.monitor();
  options.mode = config.mode() == MonitorMode::MIN ? EarlyStoppingMode::kMin
                                                   : EarlyStoppingMode::kMax;
  options.patience = config.patience();
  options.min_delta = config.min_delta();
  options.check_finite = config.check_finite();
  if (config.has_stopping_threshold()) {
    options.stopping_threshold = config.stopping_threshold();
  }
  if (config.has_divergence_threshold()) {
    options.divergence_threshold = config.divergence_threshold();
  }
  const absl::StatusOr<EarlyStopping> check = EarlyStopping::Create(options);
  if (!check.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("EarlyStoppingConfig: ", check.status().message()));
  }
  return options;
}

std::string EarlyStoppingStateToJson(const EarlyStoppingState& state) {
  JsonWriter json({.non_finite = NonFinitePolicy::kPythonLiterals});
  json.StartObject();
  json.Key("wait_count");
  json.Int(state.wait_count);
  json.Key("stopped_epoch");
  json.Int(state.stopped_epoch);
  json.Key("best_score");
  json.Double(state.best_score);
  json.Key("patience");
  json.Int(state.patience);
  json.EndObject();
  // Complete and with every non-finite value allowed: cannot fail.
  return *json.Finish();
}

absl::StatusOr<EarlyStoppingState> EarlyStoppingStateFromJson(
    absl::string_view json) {
  CVT_ASSIGN_OR_RETURN(const rapidjson::Document doc,
                       ParseJson(json, "early stopping state JSON"));
  if (!doc.IsObject()) {
    return absl::InvalidArgumentError(
        "early stopping state JSON: expected an object");
  }
  EarlyStoppingState state;
  CVT_ASSIGN_OR_RETURN(state.wait_count, GetInt(doc, "wait_count"));
  CVT_ASSIGN_OR_RETURN(state.stopped_epoch, GetInt(doc, "stopped_epoch"));
  CVT_ASSIGN_OR_RETURN(state.patience, GetInt(doc, "patience"));
  const auto it = doc.FindMember("best_score");
  if (it == doc.MemberEnd() || !it->value.IsNumber()) {
    return absl::InvalidArgumentError(
        "early stopping state JSON: field \"best_score\" is missing or not a "
        "number");
  }
  state.best_score = it->value.GetDouble();
  return state;
}

absl::StatusOr<EarlyStopping> EarlyStopping::Create(
    EarlyStoppingOptions options) {
  if (options.monitor.empty()) {
    return absl::InvalidArgumentError("early stopping: monitor is empty");
  }
  if (options.patience < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "early stopping: patience must be >= 0, got ", options.patience));
  }
  if (!(options.min_delta >= 0 && std::isfinite(options.min_delta))) {
    return absl::InvalidArgumentError(
        absl::StrCat("early stopping: min_delta must be finite and >= 0, got ",
                     Repr(options.min_delta)));
  }
  if (options.stopping_threshold.has_value() &&
      std::isnan(*options.stopping_threshold)) {
    return absl::InvalidArgumentError(
        "early stopping: stopping_threshold is NaN");
  }
  if (options.divergence_threshold.has_value() &&
      std::isnan(*options.divergence_threshold)) {
    return absl::InvalidArgumentError(
        "early stopping: divergence_threshold is NaN");
  }
  return EarlyStopping(std::move(options));
}

EarlyStopping::EarlyStopping(EarlyStoppingOptions options)
    : options_(std::move(options)),
      best_score_(options_.mode == EarlyStoppingMode::kMax ? -kInf : kInf) {}

bool EarlyStopping::Better(double a, double b) const {
  return options_.mode == EarlyStoppingMode::kMax ? a > b : a < b;
}

EarlyStoppingDecision EarlyStopping::Check(double value, int64_t epoch) {
  const std::string& monitor = options_.monitor;
  const bool max = options_.mode == EarlyStoppingMode::kMax;
  EarlyStoppingDecision decision;
  // Lightning shifts by min_delta towards "worse" before comparing:
  // max: v - d > best; min: v + d < best.
  const double shifted =
      max ? value - options_.min_delta : value + options_.min_delta;
  if (options_.check_finite && !std::isfinite(value)) {
    decision.stop = true;
    decision.reason =
        absl::StrCat("Monitored metric ", monitor, " = ", Repr(value),
                     " is not finite. Previous best value was ",
                     Fixed3(best_score_), ". Signaling Trainer to stop.");
  } else if (options_.stopping_threshold.has_value() &&
             Better(value, *options_.stopping_threshold)) {
    decision.stop = true;
    decision.reason = absl::StrCat("Stopping threshold reached: ", monitor,
                                   " = ", Repr(value), max ? " > " : " < ",
                                   Repr(*options_.stopping_threshold),
                                   ". Signaling Trainer to stop.");
  } else if (options_.divergence_threshold.has_value() &&
             Better(*options_.divergence_threshold, value)) {
    // Lightning prints the "better" sign here; ours prints the true relation.
    decision.stop = true;
    decision.reason = absl::StrCat("Divergence threshold reached: ", monitor,
                                   " = ", Repr(value), max ? " < " : " > ",
                                   Repr(*options_.divergence_threshold),
                                   ". Signaling Trainer to stop.");
  } else if (Better(shifted, best_score_)) {
    decision.improved = true;
    decision.reason =
        std::isfinite(best_score_)
            ? absl::StrCat("Metric ", monitor, " improved by ",
                           Fixed3(std::fabs(best_score_ - value)),
                           " >= min_delta = ", Repr(options_.min_delta),
                           ". New best score: ", Fixed3(value))
            : absl::StrCat("Metric ", monitor,
                           " improved. New best score: ", Fixed3(value));
    best_score_ = value;
    wait_count_ = 0;
  } else {
    ++wait_count_;
    if (wait_count_ >= options_.patience) {
      decision.stop = true;
      decision.reason = absl::StrCat(
          "Monitored metric ", monitor, " did not improve in the last ",
          wait_count_, " records. Best score: ", Fixed3(best_score_),
          ". Signaling Trainer to stop.");
    }
  }
  if (decision.stop) stopped_epoch_ = epoch;
  return decision;
}

absl::StatusOr<EarlyStoppingDecision> EarlyStopping::CheckMetrics(
    const std::map<std::string, double>& metrics, int64_t epoch) {
  const auto it = metrics.find(options_.monitor);
  if (it == metrics.end()) {
    std::string available;
    for (const auto& [name, unused] : metrics) {
      absl::StrAppend(&available, available.empty() ? "" : ", ", "`", name,
                      "`");
    }
    return absl::InvalidArgumentError(
        absl::StrCat("Early stopping conditioned on metric `", options_.monitor,
                     "` which is not available. Available metrics are: ",
                     available.empty() ? "(none)" : available));
  }
  return Check(it->second, epoch);
}

EarlyStoppingState EarlyStopping::state() const {
  return EarlyStoppingState{.wait_count = wait_count_,
                            .stopped_epoch = stopped_epoch_,
                            .best_score = best_score_,
                            .patience = options_.patience};
}

absl::Status EarlyStopping::RestoreState(const EarlyStoppingState& state) {
  if (state.wait_count < 0 || state.stopped_epoch < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "early stopping state: wait_count (", state.wait_count,
        ") and stopped_epoch (", state.stopped_epoch, ") must be >= 0"));
  }
  if (std::isnan(state.best_score)) {
    return absl::InvalidArgumentError(
        "early stopping state: best_score is NaN");
  }
  wait_count_ = state.wait_count;
  stopped_epoch_ = state.stopped_epoch;
  best_score_ = state.best_score;
  return absl::OkStatus();
}

}  // namespace cvt
