#include "libs/train/lr_schedule.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "glog/logging.h"
#include "libs/base/json.h"
#include "libs/base/status_macros.h"
#include "libs/config/lr_schedule_config.pb.h"

namespace cvt {
namespace {

constexpr double kPi = 3.14159265358979323846;

absl::Status OutOfRange(absl::string_view field, absl::string_view rule,
                        double value) {
  return absl::InvalidArgumentError(absl::StrCat(
      "lr schedule: ", field, " ", rule, ", got ", FormatDouble(value)));
}

// floor(fraction * total) computed on doubles, exactly as Python's
// `int(fraction * total)` for non-negative values.
int64_t WarmupSteps(double warmup_fraction, int64_t total_steps) {
  return static_cast<int64_t>(
      std::floor(warmup_fraction * static_cast<double>(total_steps)));
}

absl::StatusOr<LrScheduleKind> KindFromName(absl::string_view name) {
  if (name == "cosine") return LrScheduleKind::kCosine;
  if (name == "step") return LrScheduleKind::kStep;
  if (name == "constant") return LrScheduleKind::kConstant;
  return absl::InvalidArgumentError(
      absl::StrCat("lr schedule JSON: unknown kind \"", name, "\""));
}

// Field readers for `FromJson`; each names the field in its error.
absl::Status Missing(absl::string_view key, absl::string_view type) {
  return absl::InvalidArgumentError(absl::StrCat(
      "lr schedule JSON: field \"", key, "\" is missing or not ", type));
}

absl::StatusOr<int64_t> GetInt(const rapidjson::Value& object,
                               const char* key) {
  const auto it = object.FindMember(key);
  if (it == object.MemberEnd() || !it->value.IsInt64()) {
    return Missing(key, "an integer");
  }
  return it->value.GetInt64();
}

absl::StatusOr<double> GetDouble(const rapidjson::Value& object,
                                 const char* key) {
  const auto it = object.FindMember(key);
  if (it == object.MemberEnd() || !it->value.IsNumber()) {
    return Missing(key, "a number");
  }
  return it->value.GetDouble();
}

}  // namespace

absl::string_view LrScheduleKindName(LrScheduleKind kind) {
  switch (kind) {
    case LrScheduleKind::kCosine:
      return "cosine";
    case LrScheduleKind::kStep:
      return "step";
    case LrScheduleKind::kConstant:
      return "constant";
  }
  return "unknown";
}

absl::Status ValidateLrScheduleOptions(const LrScheduleOptions& options) {
  if (!(options.warmup_fraction >= 0 && options.warmup_fraction < 1)) {
    return OutOfRange("warmup_fraction", "must be in [0, 1)",
                      options.warmup_fraction);
  }
  if (!(options.warmup_start_factor > 0 && options.warmup_start_factor <= 1)) {
    return OutOfRange("warmup_start_factor", "must be in (0, 1]",
                      options.warmup_start_factor);
  }
  switch (options.kind) {
    case LrScheduleKind::kCosine:
      if (!(options.eta_min >= 0 && std::isfinite(options.eta_min))) {
        return OutOfRange("eta_min", "must be finite and >= 0",
                          options.eta_min);
      }
      break;
    case LrScheduleKind::kStep:
      if (!(options.gamma > 0 && options.gamma <= 1)) {
        return OutOfRange("gamma", "must be in (0, 1]", options.gamma);
      }
      for (size_t i = 0; i < options.milestone_epochs.size(); ++i) {
        const int64_t m = options.milestone_epochs[i];
        if (m < 1) {
          return absl::InvalidArgumentError(absl::StrCat(
              "lr schedule: milestone_epochs[", i, "] must be >= 1, got ", m));
        }
        if (i > 0 && m <= options.milestone_epochs[i - 1]) {
          return absl::InvalidArgumentError(
              absl::StrCat("lr schedule: milestone_epochs[", i,
                           "] must be greater than the previous milestone (",
                           options.milestone_epochs[i - 1], "), got ", m));
        }
      }
      break;
    case LrScheduleKind::kConstant:
      break;
  }
  return absl::OkStatus();
}

absl::StatusOr<LrScheduleOptions> LrScheduleOptionsFromProto(
    const LrScheduleConfig& config) {
  LrScheduleOptions options;
  options.warmup_fraction = config.warmup_fraction();
  options.warmup_start_factor = config.warmup_start_factor();
  switch (config.schedule_case()) {
    case LrScheduleConfig::kCosine:
      options.kind = LrScheduleKind::kCosine;
      options.eta_min = config.cosine().eta_min();
      break;
    case LrScheduleConfig::kStep:
      options.kind = LrScheduleKind::kStep;
      options.milestone_epochs.assign(config.step().milestone_epochs().begin(),
                                      config.step().milestone_epochs().end());
      options.gamma = config.step().gamma();
      break;
    case LrScheduleConfig::kConstant:
      options.kind = LrScheduleKind::kConstant;
      break;
    case LrScheduleConfig::SCHEDULE_NOT_SET:
      options.kind = LrScheduleKind::kCosine;
      options.eta_min = CosineSchedule().eta_min();
      break;
  }
  const absl::Status status = ValidateLrScheduleOptions(options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("LrScheduleConfig: ", status.message()));
  }
  return options;
}

absl::StatusOr<int64_t> OptimizerStepsPerEpoch(
    int64_t batches_per_epoch_per_rank, int64_t accumulate_grad_batches) {
  if (batches_per_epoch_per_rank < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("batches_per_epoch_per_rank must be >= 1, got ",
                     batches_per_epoch_per_rank));
  }
  if (accumulate_grad_batches < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "accumulate_grad_batches must be >= 1, got ", accumulate_grad_batches));
  }
  return (batches_per_epoch_per_rank + accumulate_grad_batches - 1) /
         accumulate_grad_batches;
}

absl::StatusOr<int64_t> TotalOptimizerSteps(int64_t max_epochs,
                                            int64_t batches_per_epoch_per_rank,
                                            int64_t accumulate_grad_batches) {
  if (max_epochs < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_epochs must be >= 1, got ", max_epochs));
  }
  CVT_ASSIGN_OR_RETURN(const int64_t per_epoch,
                       OptimizerStepsPerEpoch(batches_per_epoch_per_rank,
                                              accumulate_grad_batches));
  if (per_epoch > std::numeric_limits<int64_t>::max() / max_epochs) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_epochs * steps per epoch overflows: ", max_epochs,
                     " * ", per_epoch));
  }
  return max_epochs * per_epoch;
}

bool ShouldLogStepMetrics(int64_t steps_completed, int64_t log_every_n_steps) {
  return log_every_n_steps > 0 && steps_completed % log_every_n_steps == 0;
}

int64_t StepMetricsIndex(int64_t steps_completed) {
  return steps_completed - 1;
}

absl::StatusOr<LrSchedule> LrSchedule::Create(const LrScheduleOptions& options,
                                              std::vector<double> base_lrs,
                                              int64_t total_steps,
                                              int64_t steps_per_epoch) {
  CVT_RETURN_IF_ERROR(ValidateLrScheduleOptions(options));
  if (base_lrs.empty()) {
    return absl::InvalidArgumentError(
        "lr schedule: needs at least one parameter group's base lr");
  }
  for (size_t i = 0; i < base_lrs.size(); ++i) {
    if (!(base_lrs[i] >= 0 && std::isfinite(base_lrs[i]))) {
      return OutOfRange(absl::StrCat("base_lrs[", i, "]"),
                        "must be finite and >= 0", base_lrs[i]);
    }
  }
  if (total_steps < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "lr schedule: total_steps must be >= 1, got ", total_steps));
  }
  if (options.kind == LrScheduleKind::kStep ? steps_per_epoch < 1
                                            : steps_per_epoch < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "lr schedule: steps_per_epoch must be >= ",
        options.kind == LrScheduleKind::kStep ? "1" : "0", " for a ",
        LrScheduleKindName(options.kind), " schedule, got ", steps_per_epoch));
  }
  const int64_t warmup_steps =
      WarmupSteps(options.warmup_fraction, total_steps);
  return LrSchedule(options, std::move(base_lrs), total_steps, warmup_steps,
                    steps_per_epoch);
}

double LrSchedule::LearningRate(int group, int64_t step) const {
  CHECK_GE(group, 0);
  CHECK_LT(group, num_groups());
  const double base = base_lrs_[group];
  const int64_t s = step < 0 ? 0 : step;
  const double warmup = s < warmup_steps_
                            ? options_.warmup_start_factor +
                                  (1.0 - options_.warmup_start_factor) *
                                      static_cast<double>(s) /
                                      static_cast<double>(warmup_steps_)
                            : 1.0;
  switch (options_.kind) {
    case LrScheduleKind::kCosine: {
      if (s < warmup_steps_) return base * warmup;
      if (s >= total_steps_) return options_.eta_min;
      const double progress = static_cast<double>(s - warmup_steps_) /
                              static_cast<double>(total_steps_ - warmup_steps_);
      return options_.eta_min +
             (base - options_.eta_min) * (1.0 + std::cos(kPi * progress)) / 2.0;
    }
    case LrScheduleKind::kStep: {
      const int64_t epoch = s / steps_per_epoch_;
      double factor = 1.0;
      for (const int64_t milestone : options_.milestone_epochs) {
        if (milestone <= epoch) factor *= options_.gamma;
      }
      return base * warmup * factor;
    }
    case LrScheduleKind::kConstant:
      return base * warmup;
  }
  return base;
}

std::vector<double> LrSchedule::LearningRates(int64_t step) const {
  std::vector<double> lrs;
  lrs.reserve(base_lrs_.size());
  for (int g = 0; g < num_groups(); ++g) lrs.push_back(LearningRate(g, step));
  return lrs;
}

double LrSchedule::Multiplier(int group, int64_t step) const {
  const double lr = LearningRate(group, step);
  const double base = base_lrs_[group];
  return base == 0 ? 0.0 : lr / base;
}

std::vector<double> LrSchedule::CurrentLearningRates() const {
  return LearningRates(last_step_);
}

std::string LrSchedule::ToJson() const {
  JsonWriter json;
  json.StartObject();
  json.Key("kind");
  json.String(LrScheduleKindName(options_.kind));
  json.Key("total_steps");
  json.Int(total_steps_);
  json.Key("warmup_steps");
  json.Int(warmup_steps_);
  json.Key("base_lrs");
  json.StartArray();
  for (const double lr : base_lrs_) json.Double(lr);
  json.EndArray();
  json.Key("last_step");
  json.Int(last_step_);
  json.Key("warmup_fraction");
  json.Double(options_.warmup_fraction);
  json.Key("warmup_start_factor");
  json.Double(options_.warmup_start_factor);
  json.Key("steps_per_epoch");
  json.Int(steps_per_epoch_);
  switch (options_.kind) {
    case LrScheduleKind::kCosine:
      json.Key("eta_min");
      json.Double(options_.eta_min);
      break;
    case LrScheduleKind::kStep:
      json.Key("milestone_epochs");
      json.StartArray();
      for (const int64_t m : options_.milestone_epochs) json.Int(m);
      json.EndArray();
      json.Key("gamma");
      json.Double(options_.gamma);
      break;
    case LrScheduleKind::kConstant:
      break;
  }
  json.EndObject();
  // Every value written is finite (validated at construction) and the
  // document is complete, so Finish() cannot fail.
  absl::StatusOr<std::string> text = json.Finish();
  CHECK(text.ok()) << text.status();
  return *std::move(text);
}

absl::StatusOr<LrSchedule> LrSchedule::FromJson(absl::string_view json) {
  CVT_ASSIGN_OR_RETURN(const rapidjson::Document doc,
                       ParseJson(json, "lr schedule JSON"));
  if (!doc.IsObject()) {
    return absl::InvalidArgumentError("lr schedule JSON: expected an object");
  }
  const auto kind_it = doc.FindMember("kind");
  if (kind_it == doc.MemberEnd() || !kind_it->value.IsString()) {
    return Missing("kind", "a string");
  }
  LrScheduleOptions options;
  CVT_ASSIGN_OR_RETURN(options.kind, KindFromName(absl::string_view(
                                         kind_it->value.GetString(),
                                         kind_it->value.GetStringLength())));
  CVT_ASSIGN_OR_RETURN(options.warmup_fraction,
                       GetDouble(doc, "warmup_fraction"));
  CVT_ASSIGN_OR_RETURN(options.warmup_start_factor,
                       GetDouble(doc, "warmup_start_factor"));
  switch (options.kind) {
    case LrScheduleKind::kCosine: {
      CVT_ASSIGN_OR_RETURN(options.eta_min, GetDouble(doc, "eta_min"));
      break;
    }
    case LrScheduleKind::kStep: {
      CVT_ASSIGN_OR_RETURN(options.gamma, GetDouble(doc, "gamma"));
      const auto it = doc.FindMember("milestone_epochs");
      if (it == doc.MemberEnd() || !it->value.IsArray()) {
        return Missing("milestone_epochs", "an array");
      }
      for (const rapidjson::Value& m : it->value.GetArray()) {
        if (!m.IsInt64()) return Missing("milestone_epochs", "integers");
        options.milestone_epochs.push_back(m.GetInt64());
      }
      break;
    }
    case LrScheduleKind::kConstant:
      break;
  }
  const auto lrs_it = doc.FindMember("base_lrs");
  if (lrs_it == doc.MemberEnd() || !lrs_it->value.IsArray()) {
    return Missing("base_lrs", "an array");
  }
  std::vector<double> base_lrs;
  for (const rapidjson::Value& lr : lrs_it->value.GetArray()) {
    if (!lr.IsNumber()) return Missing("base_lrs", "numbers");
    base_lrs.push_back(lr.GetDouble());
  }
  CVT_ASSIGN_OR_RETURN(const int64_t total_steps, GetInt(doc, "total_steps"));
  CVT_ASSIGN_OR_RETURN(const int64_t warmup_steps, GetInt(doc, "warmup_steps"));
  CVT_ASSIGN_OR_RETURN(const int64_t steps_per_epoch,
                       GetInt(doc, "steps_per_epoch"));
  CVT_ASSIGN_OR_RETURN(const int64_t last_step, GetInt(doc, "last_step"));
  CVT_ASSIGN_OR_RETURN(
      LrSchedule schedule,
      Create(options, std::move(base_lrs), total_steps, steps_per_epoch));
  if (schedule.warmup_steps() != warmup_steps) {
    return absl::InvalidArgumentError(
        absl::StrCat("lr schedule JSON: warmup_steps is ", warmup_steps,
                     " but floor(warmup_fraction * total_steps) is ",
                     schedule.warmup_steps()));
  }
  if (last_step < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "lr schedule JSON: last_step must be >= 0, got ", last_step));
  }
  schedule.set_last_step(last_step);
  return schedule;
}

}  // namespace cvt
