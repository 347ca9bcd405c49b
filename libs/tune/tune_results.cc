#include "libs/tune/tune_results.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "libs/base/file_io.h"
#include "libs/base/json.h"
#include "libs/base/status_macros.h"

namespace cvt {
namespace {

std::string CsvField(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  return absl::StrCat("\"", absl::StrReplaceAll(text, {{"\"", "\"\""}}), "\"");
}

std::string NumberText(const std::optional<double>& value) {
  if (!value.has_value()) return "";
  if (std::isnan(*value)) return "nan";
  if (std::isinf(*value)) return *value > 0 ? "inf" : "-inf";
  return FormatDouble(*value);
}

std::string ParamValueOf(const TrialRecord& trial, const std::string& key) {
  for (const ParamValue& p : trial.params) {
    if (p.key == key) return p.value;
  }
  return "";
}

}  // namespace

std::vector<size_t> RankTrials(const std::vector<TrialRecord>& trials,
                               AshaMode mode) {
  std::vector<size_t> order(trials.size());
  std::iota(order.begin(), order.end(), 0);
  auto has = [&](size_t i) {
    return trials[i].best_value.has_value() &&
           std::isfinite(*trials[i].best_value);
  };
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (has(a) != has(b)) return has(a);
    if (!has(a)) return false;
    const double va = *trials[a].best_value, vb = *trials[b].best_value;
    return mode == AshaMode::kMax ? va > vb : va < vb;
  });
  return order;
}

std::string ResultsCsv(const std::vector<TrialResult>& rows,
                       const ResultsOptions& options) {
  std::vector<std::string> header = {"trial_id", "bracket"};
  for (const std::string& key : options.keys) header.push_back(CsvField(key));
  for (const char* c :
       {"status", "last_epoch", "last_value", "best_value", "best_epoch",
        "rungs", "launches", "run_dir", "best_checkpoint"}) {
    header.push_back(c);
  }
  std::string csv = absl::StrJoin(header, ",") + "\n";
  for (const TrialResult& row : rows) {
    const TrialRecord& t = row.trial;
    std::vector<std::string> fields = {CsvField(t.id), absl::StrCat(t.bracket)};
    for (const std::string& key : options.keys) {
      fields.push_back(CsvField(ParamValueOf(t, key)));
    }
    std::vector<std::string> rungs;
    for (double m : row.rungs) rungs.push_back(FormatDouble(m));
    fields.push_back(TrialStatusName(t.status));
    fields.push_back(absl::StrCat(t.last_time));
    fields.push_back(NumberText(t.last_value));
    fields.push_back(NumberText(t.best_value));
    fields.push_back(t.best_value.has_value() ? absl::StrCat(t.best_time) : "");
    fields.push_back(absl::StrJoin(rungs, ";"));
    fields.push_back(absl::StrCat(t.launches));
    fields.push_back(CsvField(row.run_dir));
    fields.push_back(CsvField(row.best_checkpoint));
    csv += absl::StrJoin(fields, ",") + "\n";
  }
  return csv;
}

std::string ResultsJson(const std::vector<TrialResult>& rows,
                        const ResultsOptions& options) {
  JsonWriter json({.non_finite = NonFinitePolicy::kNull, .indent = 2});
  json.StartObject();
  json.Key("metric");
  json.String(options.metric);
  json.Key("mode");
  json.String(options.mode == AshaMode::kMax ? "max" : "min");
  json.Key("best_trial");
  if (!rows.empty() && rows[0].trial.best_value.has_value() &&
      std::isfinite(*rows[0].trial.best_value)) {
    json.String(rows[0].trial.id);
  } else {
    json.Null();
  }
  json.Key("trials");
  json.StartArray();
  for (const TrialResult& row : rows) {
    const TrialRecord& t = row.trial;
    json.StartObject();
    json.Key("trial_id");
    json.String(t.id);
    json.Key("bracket");
    json.Int(t.bracket);
    json.Key("params");
    WriteTrialParams(json, t.params);
    json.Key("status");
    json.String(TrialStatusName(t.status));
    json.Key("last_epoch");
    json.Int(t.last_time);
    json.Key("last_value");
    WriteOptionalDouble(json, t.last_value);
    json.Key("best_value");
    WriteOptionalDouble(json, t.best_value);
    json.Key("best_epoch");
    if (t.best_value.has_value()) {
      json.Int(t.best_time);
    } else {
      json.Null();
    }
    json.Key("rungs");
    json.StartArray();
    for (double m : row.rungs) json.Double(m);
    json.EndArray();
    json.Key("launches");
    json.Int(t.launches);
    json.Key("run_dir");
    json.String(row.run_dir);
    json.Key("best_checkpoint");
    json.String(row.best_checkpoint);
    json.Key("error");
    json.String(t.error);
    json.EndObject();
  }
  json.EndArray();
  json.EndObject();
  return json.Finish().value() + "\n";  // kNull never fails.
}

absl::Status WriteResults(const std::string& out_dir,
                          std::vector<TrialResult> rows,
                          const ResultsOptions& options) {
  std::vector<TrialRecord> trials;
  for (const TrialResult& row : rows) trials.push_back(row.trial);
  std::vector<TrialResult> ranked;
  for (size_t i : RankTrials(trials, options.mode)) {
    ranked.push_back(std::move(rows[i]));
  }
  CVT_RETURN_IF_ERROR(WriteFileAtomically(absl::StrCat(out_dir, "/results.csv"),
                                          ResultsCsv(ranked, options)));
  return WriteFileAtomically(absl::StrCat(out_dir, "/results.json"),
                             ResultsJson(ranked, options));
}

}  // namespace cvt
