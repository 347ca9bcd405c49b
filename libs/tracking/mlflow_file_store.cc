#include "libs/tracking/mlflow_file_store.h"

#include <dirent.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "libs/base/file_io.h"
#include "libs/base/json.h"
#include "libs/base/status_macros.h"
#include "libs/tracking/mlflow_rest_store.h"

namespace cvt {
namespace {

constexpr int kStatusRunning = 1;

int StatusNumber(const std::string& status) {
  if (status == "RUNNING") return 1;
  if (status == "SCHEDULED") return 2;
  if (status == "FINISHED") return 3;
  if (status == "FAILED") return 4;
  if (status == "KILLED") return 5;
  return 0;
}

std::string StatusName(int number) {
  switch (number) {
    case 1:
      return "RUNNING";
    case 2:
      return "SCHEDULED";
    case 3:
      return "FINISHED";
    case 4:
      return "FAILED";
    case 5:
      return "KILLED";
    default:
      return "";
  }
}

// YAML single-quoted scalar.
std::string Quote(const std::string& s) {
  return absl::StrCat("'", absl::StrReplaceAll(s, {{"'", "''"}}), "'");
}

std::string Unquote(absl::string_view v) {
  v = absl::StripAsciiWhitespace(v);
  if (v.size() >= 2 && v.front() == '\'' && v.back() == '\'') {
    return absl::StrReplaceAll(v.substr(1, v.size() - 2), {{"''", "'"}});
  }
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
    return std::string(v.substr(1, v.size() - 2));
  }
  return std::string(v);
}

// The flat "key: value" YAML MLflow writes for meta.yaml.
std::map<std::string, std::string> ReadMeta(const std::string& path) {
  std::map<std::string, std::string> out;
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return out;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    size_t colon = line.find(':');
    if (colon == absl::string_view::npos || line.empty() || line[0] == ' ') {
      continue;
    }
    out[std::string(line.substr(0, colon))] = Unquote(line.substr(colon + 1));
  }
  return out;
}

std::vector<std::string> ListDir(const std::string& dir, bool dirs) {
  std::vector<std::string> names;
  DIR* handle = opendir(dir.c_str());
  if (handle == nullptr) return names;
  while (struct dirent* e = readdir(handle)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st;
    if (stat(absl::StrCat(dir, "/", name).c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode) == dirs) names.push_back(name);
  }
  closedir(handle);
  return names;
}

// Files under `dir` with '/'-joined relative names (nested keys).
void ListKeys(const std::string& dir, const std::string& prefix,
              std::vector<std::string>* out) {
  for (const std::string& f : ListDir(dir, false)) {
    if (!IsTempName(f)) out->push_back(prefix + f);
  }
  for (const std::string& d : ListDir(dir, true)) {
    ListKeys(absl::StrCat(dir, "/", d), absl::StrCat(prefix, d, "/"), out);
  }
}

std::string RandomDigits(int n, bool hex) {
  std::random_device device;
  std::string out;
  const char* digits = hex ? "0123456789abcdef" : "0123456789";
  int base = hex ? 16 : 10;
  for (int i = 0; i < n; ++i) {
    out.push_back(digits[device() % base]);
    if (!hex && i == 0 && out[0] == '0') out[0] = '1';
  }
  return out;
}

std::string UserName() {
  if (const char* user = getenv("USER"); user != nullptr && *user) return user;
  if (struct passwd* pw = getpwuid(getuid()); pw != nullptr) return pw->pw_name;
  return "unknown";
}

absl::Status CheckKey(const std::string& key) {
  // The same rules as artifact paths, which also keep keys inside the run.
  absl::Status s = CheckArtifactPath(key);
  if (!s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("bad key '", key, "'"));
  }
  return absl::OkStatus();
}

absl::Status WriteValue(const std::string& path, const std::string& value) {
  CVT_RETURN_IF_ERROR(MakeDirs(path.substr(0, path.find_last_of('/'))));
  return WriteFileAtomically(path, value);
}

}  // namespace

std::string FileStoreValueText(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  return FormatDouble(value);
}

MlflowFileStore::MlflowFileStore(std::string root) : root_(std::move(root)) {}

std::string MlflowFileStore::Describe() const {
  return absl::StrCat("file://", root_);
}

absl::StatusOr<std::string> MlflowFileStore::GetOrCreateExperiment(
    const std::string& name) {
  absl::MutexLock lock(&mu_);
  CVT_RETURN_IF_ERROR(MakeDirs(root_));
  int64_t now = absl::ToUnixMillis(absl::Now());
  auto write_experiment = [&](const std::string& id,
                              const std::string& exp_name) {
    std::string dir = absl::StrCat(root_, "/", id);
    return WriteValue(
        absl::StrCat(dir, "/meta.yaml"),
        absl::StrCat("artifact_location: ", Quote("file://" + dir), "\n",
                     "creation_time: ", now, "\n", "experiment_id: ", Quote(id),
                     "\n", "last_update_time: ", now, "\n",
                     "lifecycle_stage: active\n", "name: ", Quote(exp_name),
                     "\n"));
  };
  std::vector<std::string> ids = ListDir(root_, true);
  if (ids.empty()) {
    // MLflow's own file store always has the Default experiment.
    CVT_RETURN_IF_ERROR(write_experiment("0", "Default"));
    ids.push_back("0");
  }
  for (const std::string& id : ids) {
    auto meta = ReadMeta(absl::StrCat(root_, "/", id, "/meta.yaml"));
    if (meta["name"] == name && meta["experiment_id"] == id) {
      if (meta["lifecycle_stage"] == "deleted") {
        return absl::FailedPreconditionError(
            absl::StrCat("experiment '", name, "' in ", root_, " is deleted"));
      }
      return id;
    }
  }
  std::string id = RandomDigits(18, /*hex=*/false);
  CVT_RETURN_IF_ERROR(write_experiment(id, name));
  return id;
}

absl::StatusOr<std::vector<TrackedRun>> MlflowFileStore::FindRunsByTag(
    const std::string& experiment_id, const std::string& key,
    const std::string& value) {
  std::vector<TrackedRun> runs;
  std::string exp_dir = absl::StrCat(root_, "/", experiment_id);
  for (const std::string& run_id : ListDir(exp_dir, true)) {
    absl::StatusOr<std::string> tag =
        ReadFileToString(absl::StrCat(exp_dir, "/", run_id, "/tags/", key));
    if (!tag.ok() || *tag != value) continue;
    absl::StatusOr<TrackedRun> run = GetRun(run_id);
    if (run.ok()) runs.push_back(*std::move(run));
  }
  std::sort(runs.begin(), runs.end(), [](const auto& a, const auto& b) {
    return a.start_time_ms < b.start_time_ms;
  });
  return runs;
}

absl::Status MlflowFileStore::WriteRunMeta(const std::string& dir,
                                           const TrackedRun& run,
                                           const std::string& run_name,
                                           const std::string& user) {
  return WriteValue(
      absl::StrCat(dir, "/meta.yaml"),
      absl::StrCat(
          "artifact_uri: ", Quote(run.artifact_uri), "\n", "end_time: ",
          run.end_time_ms > 0 ? std::to_string(run.end_time_ms) : "null", "\n",
          "entry_point_name: ''\n", "experiment_id: ", Quote(run.experiment_id),
          "\n", "lifecycle_stage: active\n", "run_id: ", run.run_id, "\n",
          "run_name: ", Quote(run_name), "\n", "run_uuid: ", run.run_id, "\n",
          "source_name: ''\n", "source_type: 4\n", "source_version: ''\n",
          "start_time: ", run.start_time_ms, "\n",
          "status: ", StatusNumber(run.status), "\n", "tags: []\n",
          "user_id: ", Quote(user), "\n"));
}

absl::StatusOr<TrackedRun> MlflowFileStore::CreateRun(
    const std::string& experiment_id, const std::string& run_name,
    int64_t start_time_ms, const KeyValues& tags) {
  absl::MutexLock lock(&mu_);
  TrackedRun run;
  run.run_id = RandomDigits(32, /*hex=*/true);
  run.experiment_id = experiment_id;
  run.status = StatusName(kStatusRunning);
  run.start_time_ms = start_time_ms;
  run.lifecycle_stage = "active";
  std::string dir = absl::StrCat(root_, "/", experiment_id, "/", run.run_id);
  run.artifact_uri = absl::StrCat("file://", dir, "/artifacts");
  for (const char* sub : {"/artifacts", "/metrics", "/params", "/tags"}) {
    CVT_RETURN_IF_ERROR(MakeDirs(dir + sub));
  }
  std::string user = UserName();
  for (const auto& [key, value] : tags) {
    CVT_RETURN_IF_ERROR(CheckKey(key));
    CVT_RETURN_IF_ERROR(WriteValue(absl::StrCat(dir, "/tags/", key), value));
    run.tags[key] = value;
  }
  CVT_RETURN_IF_ERROR(
      WriteValue(absl::StrCat(dir, "/tags/mlflow.runName"), run_name));
  CVT_RETURN_IF_ERROR(WriteValue(absl::StrCat(dir, "/tags/mlflow.user"), user));
  // meta.yaml last: a run folder without it is ignored by readers.
  CVT_RETURN_IF_ERROR(WriteRunMeta(dir, run, run_name, user));
  return run;
}

absl::StatusOr<std::string> MlflowFileStore::RunDir(const std::string& run_id) {
  for (const std::string& exp : ListDir(root_, true)) {
    std::string dir = absl::StrCat(root_, "/", exp, "/", run_id);
    struct stat st;
    if (stat(absl::StrCat(dir, "/meta.yaml").c_str(), &st) == 0) return dir;
  }
  return absl::NotFoundError(
      absl::StrCat("run ", run_id, " is not in ", root_));
}

absl::StatusOr<TrackedRun> MlflowFileStore::GetRun(const std::string& run_id) {
  CVT_ASSIGN_OR_RETURN(std::string dir, RunDir(run_id));
  auto meta = ReadMeta(absl::StrCat(dir, "/meta.yaml"));
  TrackedRun run;
  run.run_id = run_id;
  run.experiment_id = meta["experiment_id"];
  int status = 0;
  absl::SimpleAtoi(meta["status"], &status);
  run.status = StatusName(status);
  run.artifact_uri = meta["artifact_uri"];
  run.lifecycle_stage = meta["lifecycle_stage"];
  absl::SimpleAtoi(meta["start_time"], &run.start_time_ms);
  absl::SimpleAtoi(meta["end_time"], &run.end_time_ms);
  if (run.lifecycle_stage == "deleted") {
    return absl::NotFoundError(absl::StrCat("run ", run_id, " was deleted"));
  }
  std::vector<std::string> keys;
  ListKeys(absl::StrCat(dir, "/params"), "", &keys);
  for (const std::string& k : keys) {
    run.params[k] = *ReadFileToString(absl::StrCat(dir, "/params/", k));
  }
  keys.clear();
  ListKeys(absl::StrCat(dir, "/tags"), "", &keys);
  for (const std::string& k : keys) {
    run.tags[k] = *ReadFileToString(absl::StrCat(dir, "/tags/", k));
  }
  keys.clear();
  ListKeys(absl::StrCat(dir, "/metrics"), "", &keys);
  for (const std::string& k : keys) {
    absl::StatusOr<std::string> text =
        ReadFileToString(absl::StrCat(dir, "/metrics/", k));
    if (!text.ok()) continue;
    // "Latest" = the largest (step, timestamp, value), as MLflow picks it.
    bool have = false;
    MetricPoint best;
    for (absl::string_view line : absl::StrSplit(*text, '\n')) {
      std::vector<absl::string_view> f = absl::StrSplit(line, ' ');
      if (f.size() < 2) continue;
      MetricPoint p;
      p.name = k;
      absl::SimpleAtoi(f[0], &p.timestamp_ms);
      p.value = f[1] == "nan"   ? std::nan("")
                : f[1] == "inf" ? HUGE_VAL
                : f[1] == "-inf"
                    ? -HUGE_VAL
                    : std::strtod(std::string(f[1]).c_str(), nullptr);
      if (f.size() > 2) absl::SimpleAtoi(f[2], &p.step);
      if (!have || std::tie(p.step, p.timestamp_ms) >
                       std::tie(best.step, best.timestamp_ms)) {
        best = p;
        have = true;
      }
    }
    if (have) run.latest_metrics[k] = best;
  }
  return run;
}

absl::Status MlflowFileStore::LogBatch(const std::string& run_id,
                                       const std::vector<MetricPoint>& metrics,
                                       const KeyValues& params,
                                       const KeyValues& tags) {
  absl::MutexLock lock(&mu_);
  CVT_ASSIGN_OR_RETURN(std::string dir, RunDir(run_id));
  for (const auto& [key, value] : params) {
    CVT_RETURN_IF_ERROR(CheckKey(key));
    std::string path = absl::StrCat(dir, "/params/", key);
    absl::StatusOr<std::string> old = ReadFileToString(path);
    if (old.ok()) {
      if (*old == value) continue;
      return absl::InvalidArgumentError(
          absl::StrCat("param '", key, "' of run ", run_id, " is already '",
                       *old, "'; changing param values is not allowed"));
    }
    CVT_RETURN_IF_ERROR(WriteValue(path, value));
  }
  for (const auto& [key, value] : tags) {
    CVT_RETURN_IF_ERROR(CheckKey(key));
    CVT_RETURN_IF_ERROR(WriteValue(absl::StrCat(dir, "/tags/", key), value));
  }
  std::map<std::string, std::vector<const MetricPoint*>> by_key;
  for (const MetricPoint& m : metrics) by_key[m.name].push_back(&m);
  for (const auto& [key, points] : by_key) {
    CVT_RETURN_IF_ERROR(CheckKey(key));
    std::string path = absl::StrCat(dir, "/metrics/", key);
    std::string text = ReadFileToString(path).value_or("");
    absl::flat_hash_set<std::string> have;
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      if (!line.empty()) have.insert(std::string(line));
    }
    bool changed = false;
    for (const MetricPoint* p : points) {
      std::string line = absl::StrCat(
          p->timestamp_ms, " ", FileStoreValueText(p->value), " ", p->step);
      if (have.insert(line).second) {
        absl::StrAppend(&text, line, "\n");
        changed = true;
      }
    }
    if (changed) CVT_RETURN_IF_ERROR(WriteValue(path, text));
  }
  return absl::OkStatus();
}

absl::Status MlflowFileStore::UpdateRun(const std::string& run_id,
                                        const std::string& status,
                                        int64_t end_time_ms) {
  absl::MutexLock lock(&mu_);
  CVT_ASSIGN_OR_RETURN(std::string dir, RunDir(run_id));
  auto meta = ReadMeta(absl::StrCat(dir, "/meta.yaml"));
  TrackedRun run;
  run.run_id = run_id;
  run.experiment_id = meta["experiment_id"];
  run.artifact_uri = meta["artifact_uri"];
  absl::SimpleAtoi(meta["start_time"], &run.start_time_ms);
  run.status = status;
  run.end_time_ms = end_time_ms;
  return WriteRunMeta(dir, run, meta["run_name"], meta["user_id"]);
}

absl::Status MlflowFileStore::UploadArtifact(const TrackedRun& run,
                                             const std::string& local_path,
                                             const std::string& artifact_path) {
  CVT_RETURN_IF_ERROR(CheckArtifactPath(artifact_path));
  std::string root(absl::StripPrefix(run.artifact_uri, "file://"));
  std::string target = absl::StrCat(root, "/", artifact_path);
  CVT_RETURN_IF_ERROR(MakeDirs(target.substr(0, target.find_last_of('/'))));
  return CopyFileAtomically(local_path, target);
}

}  // namespace cvt
