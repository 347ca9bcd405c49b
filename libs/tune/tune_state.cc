#include "libs/tune/tune_state.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/base/file_io.h"
#include "libs/base/json.h"
#include "libs/base/status_macros.h"
#include "libs/tune/json_fields.h"

namespace cvt {
namespace {

constexpr int kStateVersion = 1;

void OptionalDouble(JsonWriter& json, const char* key,
                    const std::optional<double>& value) {
  json.Key(key);
  WriteOptionalDouble(json, value);
}

absl::StatusOr<std::optional<double>> GetOptionalDouble(
    const rapidjson::Value& object, const char* key, absl::string_view where) {
  CVT_ASSIGN_OR_RETURN(const rapidjson::Value* v,
                       GetMember(object, key, where));
  if (v->IsNull()) return std::optional<double>();
  CVT_ASSIGN_OR_RETURN(double d, GetDouble(object, key, where));
  return std::optional<double>(d);
}

absl::StatusOr<TrialStatus> ParseStatus(const std::string& name,
                                        absl::string_view where) {
  for (TrialStatus s :
       {TrialStatus::kPending, TrialStatus::kRunning, TrialStatus::kCompleted,
        TrialStatus::kStopped, TrialStatus::kError}) {
    if (name == TrialStatusName(s)) return s;
  }
  return absl::InvalidArgumentError(
      absl::StrCat(where, ": unknown trial status '", name, "'"));
}

void WriteSearch(JsonWriter& json, const TuneSearchSettings& s) {
  json.StartObject();
  json.Key("config_sha256");
  json.String(s.config_sha256);
  json.Key("search_space_sha256");
  json.String(s.search_space_sha256);
  json.Key("set");
  json.StartArray();
  for (const std::string& set : s.sets) json.String(set);
  json.EndArray();
  json.Key("num_trials");
  json.Int(s.num_trials);
  json.Key("metric");
  json.String(s.metric);
  json.Key("mode");
  json.String(s.mode);
  json.Key("grace_period");
  json.Int(s.grace_period);
  json.Key("reduction_factor");
  json.Double(s.reduction_factor);
  json.Key("max_t");
  json.Int(s.max_t);
  json.Key("brackets");
  json.Int(s.brackets);
  json.Key("stop_last_trials");
  json.Bool(s.stop_last_trials);
  json.Key("seed");
  json.Uint(s.seed);
  json.EndObject();
}

absl::StatusOr<TuneSearchSettings> ReadSearch(const rapidjson::Value& o,
                                              absl::string_view where) {
  TuneSearchSettings s;
  CVT_ASSIGN_OR_RETURN(s.config_sha256, GetString(o, "config_sha256", where));
  CVT_ASSIGN_OR_RETURN(s.search_space_sha256,
                       GetString(o, "search_space_sha256", where));
  CVT_ASSIGN_OR_RETURN(const rapidjson::Value* sets, GetArray(o, "set", where));
  for (const rapidjson::Value& v : sets->GetArray()) {
    if (!v.IsString()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": \"set\" must hold strings"));
    }
    s.sets.push_back(v.GetString());
  }
  CVT_ASSIGN_OR_RETURN(s.num_trials, GetInt(o, "num_trials", where));
  CVT_ASSIGN_OR_RETURN(s.metric, GetString(o, "metric", where));
  CVT_ASSIGN_OR_RETURN(s.mode, GetString(o, "mode", where));
  CVT_ASSIGN_OR_RETURN(s.grace_period, GetInt(o, "grace_period", where));
  CVT_ASSIGN_OR_RETURN(s.reduction_factor,
                       GetDouble(o, "reduction_factor", where));
  CVT_ASSIGN_OR_RETURN(s.max_t, GetInt(o, "max_t", where));
  CVT_ASSIGN_OR_RETURN(s.brackets, GetInt(o, "brackets", where));
  CVT_ASSIGN_OR_RETURN(s.stop_last_trials,
                       GetBool(o, "stop_last_trials", where));
  CVT_ASSIGN_OR_RETURN(s.seed, GetUint64(o, "seed", where));
  return s;
}

void WriteTrial(JsonWriter& json, const TrialRecord& t) {
  json.StartObject();
  json.Key("id");
  json.String(t.id);
  json.Key("bracket");
  json.Int(t.bracket);
  json.Key("params");
  WriteTrialParams(json, t.params);
  json.Key("status");
  json.String(TrialStatusName(t.status));
  json.Key("launches");
  json.Int(t.launches);
  json.Key("failures");
  json.Int(t.failures);
  json.Key("pid");
  json.Int(t.pid);
  json.Key("stop_requested");
  json.Bool(t.stop_requested);
  json.Key("max_t_reached");
  json.Bool(t.max_t_reached);
  json.Key("report_offset");
  json.Int(t.cursor.offset);
  json.Key("report_tail");
  json.String(t.cursor.tail);
  json.Key("report_last_time");
  json.Int(t.cursor.last_time);
  json.Key("last_time");
  json.Int(t.last_time);
  OptionalDouble(json, "last_value", t.last_value);
  OptionalDouble(json, "best_value", t.best_value);
  json.Key("best_time");
  json.Int(t.best_time);
  json.Key("exit");
  json.String(t.exit);
  json.Key("error");
  json.String(t.error);
  json.EndObject();
}

absl::StatusOr<TrialRecord> ReadTrial(const rapidjson::Value& o,
                                      absl::string_view source, size_t index) {
  const std::string where = absl::StrCat(source, ": trials[", index, "]");
  TrialRecord t;
  CVT_ASSIGN_OR_RETURN(t.id, GetString(o, "id", where));
  CVT_ASSIGN_OR_RETURN(int64_t bracket, GetInt(o, "bracket", where));
  t.bracket = static_cast<int>(bracket);
  CVT_ASSIGN_OR_RETURN(const rapidjson::Value* params,
                       GetObject(o, "params", where));
  for (const auto& p : params->GetObject()) {
    if (!p.value.IsString()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": \"params\" values must be strings"));
    }
    t.params.push_back({p.name.GetString(), p.value.GetString()});
  }
  CVT_ASSIGN_OR_RETURN(std::string status, GetString(o, "status", where));
  CVT_ASSIGN_OR_RETURN(t.status, ParseStatus(status, where));
  CVT_ASSIGN_OR_RETURN(int64_t launches, GetInt(o, "launches", where));
  t.launches = static_cast<int>(launches);
  CVT_ASSIGN_OR_RETURN(int64_t failures, GetInt(o, "failures", where));
  t.failures = static_cast<int>(failures);
  CVT_ASSIGN_OR_RETURN(t.pid, GetInt(o, "pid", where));
  CVT_ASSIGN_OR_RETURN(t.stop_requested, GetBool(o, "stop_requested", where));
  CVT_ASSIGN_OR_RETURN(t.max_t_reached, GetBool(o, "max_t_reached", where));
  CVT_ASSIGN_OR_RETURN(t.cursor.offset, GetInt(o, "report_offset", where));
  CVT_ASSIGN_OR_RETURN(t.cursor.tail, GetString(o, "report_tail", where));
  CVT_ASSIGN_OR_RETURN(t.cursor.last_time,
                       GetInt(o, "report_last_time", where));
  CVT_ASSIGN_OR_RETURN(t.last_time, GetInt(o, "last_time", where));
  CVT_ASSIGN_OR_RETURN(t.last_value, GetOptionalDouble(o, "last_value", where));
  CVT_ASSIGN_OR_RETURN(t.best_value, GetOptionalDouble(o, "best_value", where));
  CVT_ASSIGN_OR_RETURN(t.best_time, GetInt(o, "best_time", where));
  CVT_ASSIGN_OR_RETURN(t.exit, GetString(o, "exit", where));
  CVT_ASSIGN_OR_RETURN(t.error, GetString(o, "error", where));
  return t;
}

void WriteDecision(JsonWriter& json, const DecisionRecord& d) {
  json.StartObject();
  json.Key("trial");
  json.String(d.trial);
  json.Key("time");
  json.Int(d.time);
  json.Key("value");
  json.Double(d.value);
  json.Key("action");
  json.String(d.action);
  OptionalDouble(json, "milestone", d.milestone);
  OptionalDouble(json, "cutoff", d.cutoff);
  json.Key("max_t_reached");
  json.Bool(d.max_t_reached);
  json.EndObject();
}

absl::StatusOr<DecisionRecord> ReadDecision(const rapidjson::Value& o,
                                            absl::string_view where) {
  DecisionRecord d;
  CVT_ASSIGN_OR_RETURN(d.trial, GetString(o, "trial", where));
  CVT_ASSIGN_OR_RETURN(d.time, GetInt(o, "time", where));
  CVT_ASSIGN_OR_RETURN(d.value, GetDouble(o, "value", where));
  CVT_ASSIGN_OR_RETURN(d.action, GetString(o, "action", where));
  CVT_ASSIGN_OR_RETURN(d.milestone, GetOptionalDouble(o, "milestone", where));
  CVT_ASSIGN_OR_RETURN(d.cutoff, GetOptionalDouble(o, "cutoff", where));
  CVT_ASSIGN_OR_RETURN(d.max_t_reached, GetBool(o, "max_t_reached", where));
  return d;
}

template <typename T>
absl::Status Differs(absl::string_view flag, const T& saved, const T& now,
                     absl::string_view state_path) {
  return absl::InvalidArgumentError(absl::StrCat(
      "--", flag, " differs from the search saved in ", state_path, " (", saved,
      " there, ", now, " now): --resume must repeat the flags of the ",
      "search it continues"));
}

}  // namespace

void WriteTrialParams(JsonWriter& json, const TrialParams& params) {
  json.StartObject();
  for (const ParamValue& p : params) {
    json.Key(p.key);
    json.String(p.value);
  }
  json.EndObject();
}

void WriteOptionalDouble(JsonWriter& json, const std::optional<double>& value) {
  if (value.has_value()) {
    json.Double(*value);
  } else {
    json.Null();
  }
}

const char* TrialStatusName(TrialStatus status) {
  switch (status) {
    case TrialStatus::kPending:
      return "PENDING";
    case TrialStatus::kRunning:
      return "RUNNING";
    case TrialStatus::kCompleted:
      return "COMPLETED";
    case TrialStatus::kStopped:
      return "STOPPED";
    case TrialStatus::kError:
      return "ERROR";
  }
  return "PENDING";
}

bool IsFinished(TrialStatus status) {
  return status == TrialStatus::kCompleted || status == TrialStatus::kStopped ||
         status == TrialStatus::kError;
}

bool DecisionRecord::operator==(const DecisionRecord& o) const {
  return trial == o.trial && time == o.time && value == o.value &&
         action == o.action && milestone == o.milestone && cutoff == o.cutoff &&
         max_t_reached == o.max_t_reached;
}

absl::Status CheckSameSearch(const TuneSearchSettings& saved,
                             const TuneSearchSettings& now,
                             absl::string_view state_path) {
  if (saved.config_sha256 != now.config_sha256) {
    return Differs("config", "sha256 " + saved.config_sha256.substr(0, 12),
                   "sha256 " + now.config_sha256.substr(0, 12), state_path);
  }
  if (saved.search_space_sha256 != now.search_space_sha256) {
    return Differs(
        "search_space", "sha256 " + saved.search_space_sha256.substr(0, 12),
        "sha256 " + now.search_space_sha256.substr(0, 12), state_path);
  }
  if (saved.sets != now.sets) {
    return Differs("set", "[" + absl::StrJoin(saved.sets, " ") + "]",
                   "[" + absl::StrJoin(now.sets, " ") + "]", state_path);
  }
  if (saved.num_trials != now.num_trials) {
    return Differs("num_trials", saved.num_trials, now.num_trials, state_path);
  }
  if (saved.metric != now.metric) {
    return Differs("metric", saved.metric, now.metric, state_path);
  }
  if (saved.mode != now.mode) {
    return Differs("mode", saved.mode, now.mode, state_path);
  }
  if (saved.grace_period != now.grace_period) {
    return Differs("grace_period", saved.grace_period, now.grace_period,
                   state_path);
  }
  if (saved.reduction_factor != now.reduction_factor) {
    return Differs("reduction_factor", saved.reduction_factor,
                   now.reduction_factor, state_path);
  }
  if (saved.max_t != now.max_t) {
    return Differs("max_t", saved.max_t, now.max_t, state_path);
  }
  if (saved.brackets != now.brackets) {
    return Differs("brackets", saved.brackets, now.brackets, state_path);
  }
  if (saved.stop_last_trials != now.stop_last_trials) {
    return Differs("stop_last_trials",
                   saved.stop_last_trials ? "true" : "false",
                   now.stop_last_trials ? "true" : "false", state_path);
  }
  if (saved.seed != now.seed) {
    return Differs("seed", saved.seed, now.seed, state_path);
  }
  return absl::OkStatus();
}

std::string TuneStateToJson(const TuneState& state) {
  JsonWriter json(
      {.non_finite = NonFinitePolicy::kPythonLiterals, .indent = 1});
  json.StartObject();
  json.Key("version");
  json.Int(kStateVersion);
  json.Key("search");
  WriteSearch(json, state.search);
  json.Key("trials");
  json.StartArray();
  for (const TrialRecord& t : state.trials) WriteTrial(json, t);
  json.EndArray();
  json.Key("scheduler");
  if (state.scheduler.has_value()) {
    state.scheduler->WriteJson(json);
  } else {
    json.Null();
  }
  json.Key("decisions");
  json.StartArray();
  for (const DecisionRecord& d : state.decisions) WriteDecision(json, d);
  json.EndArray();
  json.EndObject();
  // Python literals never fail and the document is complete.
  return json.Finish().value() + "\n";
}

absl::StatusOr<TuneState> TuneStateFromJson(absl::string_view text,
                                            absl::string_view source) {
  CVT_ASSIGN_OR_RETURN(rapidjson::Document doc, ParseJson(text, source));
  CVT_ASSIGN_OR_RETURN(int64_t version, GetInt(doc, "version", source));
  if (version != kStateVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": state version ", version, " (this tune reads ",
                     kStateVersion, ")"));
  }
  TuneState state;
  CVT_ASSIGN_OR_RETURN(const rapidjson::Value* search,
                       GetObject(doc, "search", source));
  CVT_ASSIGN_OR_RETURN(state.search,
                       ReadSearch(*search, absl::StrCat(source, ": search")));
  CVT_ASSIGN_OR_RETURN(const rapidjson::Value* trials,
                       GetArray(doc, "trials", source));
  for (rapidjson::SizeType i = 0; i < trials->Size(); ++i) {
    CVT_ASSIGN_OR_RETURN(TrialRecord t, ReadTrial((*trials)[i], source, i));
    state.trials.push_back(std::move(t));
  }
  CVT_ASSIGN_OR_RETURN(const rapidjson::Value* scheduler,
                       GetMember(doc, "scheduler", source));
  if (!scheduler->IsNull()) {
    CVT_ASSIGN_OR_RETURN(AshaScheduler asha,
                         AshaScheduler::FromJson(*scheduler, source));
    state.scheduler = std::move(asha);
  }
  CVT_ASSIGN_OR_RETURN(const rapidjson::Value* decisions,
                       GetArray(doc, "decisions", source));
  for (const rapidjson::Value& d : decisions->GetArray()) {
    CVT_ASSIGN_OR_RETURN(
        DecisionRecord record,
        ReadDecision(d, absl::StrCat(source, ": decisions[]")));
    state.decisions.push_back(std::move(record));
  }
  return state;
}

absl::Status SaveTuneState(const std::string& path, const TuneState& state) {
  return WriteFileAtomically(path, TuneStateToJson(state));
}

absl::StatusOr<TuneState> LoadTuneState(const std::string& path) {
  CVT_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  return TuneStateFromJson(text, path);
}

}  // namespace cvt
