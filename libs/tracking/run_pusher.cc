#include "libs/tracking/run_pusher.h"

#include <fcntl.h>
#include <glob.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "libs/base/file_io.h"
#include "libs/base/json.h"
#include "libs/base/sha256.h"
#include "libs/base/status.h"
#include "libs/base/status_macros.h"

namespace cvt {
namespace {

constexpr char kStateName[] = ".mlflow_push_state.json";
constexpr char kLockName[] = ".mlflow_push.lock";
constexpr char kRunKeyTag[] = "cvtools.run_key";

struct UploadedFile {
  int64_t size = 0;
  int64_t mtime_ns = 0;
};

struct PushState {
  std::string tracking;
  std::string experiment_id;
  std::string run_id;
  std::string run_key;
  int64_t metrics_offset = 0;
  int64_t metrics_points = 0;
  bool params_done = false;
  std::map<std::string, UploadedFile> artifacts;
  std::string final_status;
};

absl::StatusOr<PushState> ReadState(const std::string& path) {
  PushState state;
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) {
    if (text.status().code() == absl::StatusCode::kNotFound) return state;
    return text.status();
  }
  CVT_ASSIGN_OR_RETURN(rapidjson::Document doc, ParseJson(*text, path));
  auto str = [&](const char* key) -> std::string {
    auto it = doc.FindMember(key);
    return it != doc.MemberEnd() && it->value.IsString() ? it->value.GetString()
                                                         : "";
  };
  auto num = [&](const char* key) -> int64_t {
    auto it = doc.FindMember(key);
    return it != doc.MemberEnd() && it->value.IsInt64() ? it->value.GetInt64()
                                                        : 0;
  };
  if (!doc.IsObject()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not an object"));
  }
  state.tracking = str("tracking");
  state.experiment_id = str("experiment_id");
  state.run_id = str("run_id");
  state.run_key = str("run_key");
  state.metrics_offset = num("metrics_offset");
  state.metrics_points = num("metrics_points");
  state.final_status = str("final_status");
  auto params = doc.FindMember("params_done");
  state.params_done = params != doc.MemberEnd() && params->value.IsBool() &&
                      params->value.GetBool();
  auto artifacts = doc.FindMember("artifacts");
  if (artifacts != doc.MemberEnd() && artifacts->value.IsObject()) {
    for (const auto& m : artifacts->value.GetObject()) {
      UploadedFile f;
      if (m.value.IsObject()) {
        auto size = m.value.FindMember("size");
        auto mtime = m.value.FindMember("mtime_ns");
        if (size != m.value.MemberEnd() && size->value.IsInt64()) {
          f.size = size->value.GetInt64();
        }
        if (mtime != m.value.MemberEnd() && mtime->value.IsInt64()) {
          f.mtime_ns = mtime->value.GetInt64();
        }
      }
      state.artifacts[m.name.GetString()] = f;
    }
  }
  return state;
}

absl::Status WriteState(const std::string& path, const PushState& state) {
  JsonWriter json(JsonWriterOptions{NonFinitePolicy::kReject, 1});
  json.StartObject();
  json.Key("version");
  json.Int(1);
  json.Key("tracking");
  json.String(state.tracking);
  json.Key("experiment_id");
  json.String(state.experiment_id);
  json.Key("run_id");
  json.String(state.run_id);
  json.Key("run_key");
  json.String(state.run_key);
  json.Key("metrics_offset");
  json.Int(state.metrics_offset);
  json.Key("metrics_points");
  json.Int(state.metrics_points);
  json.Key("params_done");
  json.Bool(state.params_done);
  json.Key("final_status");
  json.String(state.final_status);
  json.Key("artifacts");
  json.StartObject();
  for (const auto& [name, f] : state.artifacts) {
    json.Key(name);
    json.StartObject();
    json.Key("size");
    json.Int(f.size);
    json.Key("mtime_ns");
    json.Int(f.mtime_ns);
    json.EndObject();
  }
  json.EndObject();
  json.EndObject();
  CVT_ASSIGN_OR_RETURN(std::string text, json.Finish());
  return WriteFileAtomically(path, text + "\n");
}

std::string RealPath(const std::string& path) {
  char* real = realpath(path.c_str(), nullptr);
  if (real == nullptr) return path;
  std::string out(real);
  free(real);
  return out;
}

std::string YamlScalar(const std::string& s) {
  if (s.empty()) return "''";
  return absl::StrCat("'", absl::StrReplaceAll(s, {{"'", "''"}}), "'");
}

std::string YamlFloat(double v) {
  if (std::isnan(v)) return ".nan";
  if (std::isinf(v)) return v > 0 ? ".inf" : "-.inf";
  return FormatDouble(v);
}

std::string Hyper(const RunRecord& run, const std::string& key,
                  const std::string& fallback) {
  auto it = run.hyperparameters.find(key);
  return it == run.hyperparameters.end() ? fallback : it->second;
}

bool StatFile(const std::string& path, UploadedFile* out) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  out->size = st.st_size;
  out->mtime_ns = MtimeNs(st);
  return true;
}

std::vector<std::string> GlobFiles(const std::string& run_dir,
                                   const std::string& folder,
                                   const std::string& suffix) {
  // Recursive walk of run_dir/folder for files ending in `suffix`.
  std::vector<std::string> out;
  std::vector<std::string> stack = {folder};
  while (!stack.empty()) {
    std::string rel = stack.back();
    stack.pop_back();
    std::string dir = absl::StrCat(run_dir, "/", rel);
    glob_t g;
    if (glob(absl::StrCat(dir, "/*").c_str(), 0, nullptr, &g) == 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i) {
        std::string full = g.gl_pathv[i];
        std::string name = full.substr(full.find_last_of('/') + 1);
        struct stat st;
        if (stat(full.c_str(), &st) != 0 || IsTempName(name)) continue;
        if (S_ISDIR(st.st_mode)) {
          stack.push_back(absl::StrCat(rel, "/", name));
        } else if (absl::EndsWith(name, suffix)) {
          out.push_back(absl::StrCat(rel, "/", name));
        }
      }
    }
    globfree(&g);
  }
  std::sort(out.begin(), out.end());
  return out;
}

class Pusher {
 public:
  Pusher(const std::string& run_dir, TrackingStore& store,
         const PushOptions& options)
      : run_dir_(run_dir),
        store_(store),
        options_(options),
        state_path_(absl::StrCat(run_dir, "/", kStateName)) {}

  absl::StatusOr<PushSummary> Run();

 private:
  void Log(const std::string& line) {
    if (options_.log) options_.log(line);
  }
  absl::Status Save() { return WriteState(state_path_, state_); }
  absl::Status EnsureRun(const RunRecord& run);
  absl::Status PushParamsAndTags(const RunRecord& run);
  absl::Status PushMetrics();
  absl::Status PushArtifacts(const RunRecord& run);
  absl::Status Upload(const std::string& local, const std::string& remote,
                      const UploadedFile& stat);
  absl::Status UploadText(const std::string& text, const std::string& remote);
  absl::Status Pass(RunRecord* run);

  const std::string run_dir_;
  TrackingStore& store_;
  const PushOptions& options_;
  const std::string state_path_;
  PushState state_;
  TrackedRun tracked_;
  PushSummary summary_;
};

absl::Status Pusher::EnsureRun(const RunRecord& run) {
  if (state_.tracking != store_.Describe()) {
    if (!state_.tracking.empty()) {
      Log(absl::StrCat("this run directory was pushed to ", state_.tracking,
                       " before; starting over for ", store_.Describe()));
    }
    state_ = PushState();
    state_.tracking = store_.Describe();
  }
  state_.run_key =
      Sha256Hex(absl::StrCat(RealPath(run_dir_), "\n", run.start_time_ms))
          .substr(0, 32);
  if (state_.experiment_id.empty()) {
    std::string name = options_.experiment;
    if (name.empty()) {
      name = absl::StrCat("cvtools-",
                          run.model_name.empty() ? "runs" : run.model_name);
    }
    CVT_ASSIGN_OR_RETURN(state_.experiment_id,
                         store_.GetOrCreateExperiment(name));
  }
  if (!state_.run_id.empty()) {
    absl::StatusOr<TrackedRun> existing = store_.GetRun(state_.run_id);
    if (existing.ok()) {
      tracked_ = *std::move(existing);
      return absl::OkStatus();
    }
    if (existing.status().code() != absl::StatusCode::kNotFound) {
      return existing.status();
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "run ", state_.run_id, " recorded in ", state_path_,
        " no longer exists on ", store_.Describe(),
        " (deleted?); remove the state file to push as a new run"));
  }
  for (int attempt = 0; attempt < 3; ++attempt) {
    CVT_ASSIGN_OR_RETURN(
        std::vector<TrackedRun> found,
        store_.FindRunsByTag(state_.experiment_id, kRunKeyTag, state_.run_key));
    if (!found.empty()) {
      tracked_ = found.front();
      state_.run_id = tracked_.run_id;
      Log(absl::StrCat("continuing run ", tracked_.run_id));
      return Save();
    }
    KeyValues tags = {
        {kRunKeyTag, state_.run_key},
        {"mlflow.runName",
         options_.run_name.empty() ? run.run_name : options_.run_name},
        {"mlflow.source.name", "cvtools train"},
        {"mlflow.source.type",
         std::getenv("DATABRICKS_JOB_ID") != nullptr ? "JOB" : "LOCAL"},
        {"mlflow.user",
         std::getenv("USER") != nullptr ? std::getenv("USER") : "unknown"},
        {"cvtools.version", options_.cvtools_version}};
    if (!options_.parent_run_id.empty()) {
      tags.emplace_back("mlflow.parentRunId", options_.parent_run_id);
    }
    absl::StatusOr<TrackedRun> created = store_.CreateRun(
        state_.experiment_id,
        options_.run_name.empty() ? run.run_name : options_.run_name,
        run.start_time_ms, tags);
    if (created.ok()) {
      tracked_ = *std::move(created);
      state_.run_id = tracked_.run_id;
      summary_.created = true;
      Log(absl::StrCat("created run ", tracked_.run_id, " in experiment ",
                       state_.experiment_id));
      return Save();
    }
    absl::StatusCode code = created.status().code();
    if (code != absl::StatusCode::kUnavailable &&
        code != absl::StatusCode::kDeadlineExceeded &&
        code != absl::StatusCode::kUnknown) {
      return created.status();
    }
    // Ambiguous: the server may have created it. Give it a moment, then
    // search before creating again.
    Log(absl::StrCat("runs/create failed ambiguously (",
                     created.status().message(), "); searching first"));
    absl::SleepFor(absl::Seconds(2));
  }
  return absl::UnavailableError("could not create the MLflow run");
}

absl::Status Pusher::PushParamsAndTags(const RunRecord& run) {
  if (state_.params_done) return absl::OkStatus();
  KeyValues params;
  for (const auto& [key, value] : run.hyperparameters) {
    params.emplace_back(key, value.substr(0, options_.max_param_length));
  }
  KeyValues tags = {
      {"cvtools.task", run.task},
      {"cvtools.model_name", run.model_name},
      {"cvtools.version", options_.cvtools_version},
      {"mlflow.runName",
       options_.run_name.empty() ? run.run_name : options_.run_name}};
  for (const auto& [key, value] : run.tags) tags.emplace_back(key, value);
  for (const auto& kv : options_.tags) tags.push_back(kv);
  summary_.params = static_cast<int64_t>(params.size());
  for (const LogBatchChunk& chunk : ChunkLogBatch({}, params, tags)) {
    CVT_RETURN_IF_ERROR(
        store_.LogBatch(state_.run_id, {}, chunk.params, chunk.tags));
  }
  state_.params_done = true;
  return Save();
}

absl::Status Pusher::PushMetrics() {
  std::string path = absl::StrCat(run_dir_, "/metrics.jsonl");
  CVT_ASSIGN_OR_RETURN(MetricChunk chunk,
                       ReadMetricLines(path, state_.metrics_offset,
                                       std::numeric_limits<int64_t>::max()));
  size_t begin = 0;
  while (begin < chunk.points.size()) {
    size_t end = std::min(chunk.points.size(), begin + 1000);
    std::vector<MetricPoint> batch(chunk.points.begin() + begin,
                                   chunk.points.begin() + end);
    for (MetricPoint& m : batch) m.name = SanitizeMetricKey(m.name);
    CVT_RETURN_IF_ERROR(store_.LogBatch(state_.run_id, batch, {}, {}));
    state_.metrics_offset = chunk.end_offsets[end - 1];
    state_.metrics_points += static_cast<int64_t>(end - begin);
    summary_.metrics += static_cast<int64_t>(end - begin);
    CVT_RETURN_IF_ERROR(Save());
    begin = end;
  }
  if (chunk.points.empty() && chunk.next_offset > state_.metrics_offset) {
    state_.metrics_offset = chunk.next_offset;  // Blank lines only.
    CVT_RETURN_IF_ERROR(Save());
  }
  if (summary_.metrics > 0) {
    Log(absl::StrCat("metrics: ", state_.metrics_points, " points pushed"));
  }
  return absl::OkStatus();
}

absl::Status Pusher::Upload(const std::string& local, const std::string& remote,
                            const UploadedFile& stat) {
  auto it = state_.artifacts.find(remote);
  if (it != state_.artifacts.end() && it->second.size == stat.size &&
      it->second.mtime_ns == stat.mtime_ns) {
    return absl::OkStatus();
  }
  CVT_RETURN_IF_ERROR(store_.UploadArtifact(tracked_, local, remote));
  state_.artifacts[remote] = stat;
  ++summary_.artifacts;
  summary_.artifact_bytes += stat.size;
  Log(absl::StrCat("uploaded ", remote, " (", stat.size, " bytes)"));
  return Save();
}

absl::Status Pusher::UploadText(const std::string& text,
                                const std::string& remote) {
  // Small generated files: recorded by content hash in place of mtime.
  UploadedFile id;
  id.size = static_cast<int64_t>(text.size());
  std::string digest = Sha256Hex(text);
  id.mtime_ns = static_cast<int64_t>(
      std::strtoull(digest.substr(0, 15).c_str(), nullptr, 16));
  auto it = state_.artifacts.find(remote);
  if (it != state_.artifacts.end() && it->second.size == id.size &&
      it->second.mtime_ns == id.mtime_ns) {
    return absl::OkStatus();
  }
  // Uploads stream from files, so the text goes through a private one.
  std::string temp = absl::StrCat("/tmp/", TempNameFor("mlflow_push_text"));
  absl::Status written = WriteFileAtomically(temp, text);
  absl::Status uploaded =
      written.ok() ? store_.UploadArtifact(tracked_, temp, remote) : written;
  unlink(temp.c_str());
  CVT_RETURN_IF_ERROR(uploaded);
  state_.artifacts[remote] = id;
  ++summary_.artifacts;
  summary_.artifact_bytes += id.size;
  return Save();
}

absl::Status Pusher::PushArtifacts(const RunRecord& run) {
  CVT_ASSIGN_OR_RETURN(std::vector<CheckpointRecord> checkpoints,
                       ReadCheckpointRecords(run_dir_));
  for (const CheckpointRecord& ckpt : checkpoints) {
    bool wanted = false;
    switch (options_.checkpoints) {
      case CheckpointPolicy::kAll:
        wanted = true;
        break;
      case CheckpointPolicy::kBest:
        wanted = ckpt.best;
        break;
      case CheckpointPolicy::kLast:
        wanted = ckpt.last;
        break;
      case CheckpointPolicy::kNone:
        wanted = false;
        break;
    }
    if (!wanted) continue;
    std::string local = absl::StrCat(run_dir_, "/checkpoints/", ckpt.file);
    UploadedFile stat;
    // Listed but not there, or not yet the listed size: being replaced.
    if (!StatFile(local, &stat) || (ckpt.size >= 0 && ckpt.size != stat.size)) {
      continue;
    }
    std::string stem = absl::EndsWith(ckpt.file, ".ckpt")
                           ? ckpt.file.substr(0, ckpt.file.size() - 5)
                           : ckpt.file.substr(0, ckpt.file.find_last_of('.'));
    CVT_RETURN_IF_ERROR(
        Upload(local, absl::StrCat(stem, "/", ckpt.file), stat));
    CVT_RETURN_IF_ERROR(UploadText(CheckpointMetadataYaml(ckpt, run),
                                   absl::StrCat(stem, "/metadata.yaml")));
    CVT_RETURN_IF_ERROR(
        UploadText(ckpt.best ? "['latest', 'best']" : "['latest']",
                   absl::StrCat(stem, "/aliases.txt")));
  }
  for (const auto& [folder, suffix] :
       std::vector<std::pair<std::string, std::string>>{
           {"plots", ".png"}, {"eval", ".json"}, {"predictions", ".json"}}) {
    for (const std::string& rel : GlobFiles(run_dir_, folder, suffix)) {
      std::string local = absl::StrCat(run_dir_, "/", rel);
      UploadedFile stat;
      if (!StatFile(local, &stat)) continue;
      CVT_RETURN_IF_ERROR(Upload(local, rel, stat));
    }
  }
  return absl::OkStatus();
}

absl::Status Pusher::Pass(RunRecord* run) {
  ++summary_.passes;
  CVT_ASSIGN_OR_RETURN(*run, ReadRunRecord(run_dir_));
  CVT_RETURN_IF_ERROR(EnsureRun(*run));
  summary_.experiment_id = state_.experiment_id;
  summary_.run_id = state_.run_id;
  CVT_RETURN_IF_ERROR(PushParamsAndTags(*run));
  CVT_RETURN_IF_ERROR(PushMetrics());
  CVT_RETURN_IF_ERROR(PushArtifacts(*run));
  std::string status = run->status;
  int64_t end_time = run->end_time_ms;
  int64_t now = absl::ToUnixMillis(absl::Now());
  if (status == "RUNNING" && TrainerIsGone(*run, now)) {
    status = "FAILED";
    end_time = run->heartbeat_ms > 0 ? run->heartbeat_ms : now;
    Log("the trainer is gone without a final status: marking the run FAILED");
  }
  if (status != "RUNNING" &&
      (state_.final_status != status || tracked_.status != status)) {
    CVT_RETURN_IF_ERROR(
        store_.UpdateRun(state_.run_id, status, end_time > 0 ? end_time : now));
    state_.final_status = status;
    tracked_.status = status;
    CVT_RETURN_IF_ERROR(Save());
  }
  summary_.status = status;
  return absl::OkStatus();
}

absl::StatusOr<PushSummary> Pusher::Run() {
  struct stat st;
  if (stat(run_dir_.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::NotFoundError(
        absl::StrCat("run directory ", run_dir_, " does not exist"));
  }
  // A run directory without a readable run.json is refused before anything
  // is written next to it.
  CVT_RETURN_IF_ERROR(ReadRunRecord(run_dir_).status());
  std::string lock_path = absl::StrCat(run_dir_, "/", kLockName);
  int lock = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock < 0) return ErrnoStatus(errno, "cannot open", lock_path);
  if (flock(lock, LOCK_EX | LOCK_NB) != 0) {
    close(lock);
    return absl::FailedPreconditionError(
        absl::StrCat("another mlflow_push is pushing ", run_dir_));
  }
  auto status = [&]() -> absl::Status {
    CVT_ASSIGN_OR_RETURN(state_, ReadState(state_path_));
    RunRecord run;
    while (true) {
      CVT_RETURN_IF_ERROR(Pass(&run));
      if (!options_.follow || summary_.status != "RUNNING") break;
      absl::Time wake = absl::Now() + absl::Seconds(options_.interval_s);
      bool stopped = false;
      while (absl::Now() < wake) {
        if (options_.stop && options_.stop()) {
          stopped = true;
          break;
        }
        absl::SleepFor(absl::Milliseconds(100));
      }
      if (stopped) break;
    }
    return absl::OkStatus();
  }();
  close(lock);
  if (!status.ok()) return status;
  return summary_;
}

}  // namespace

absl::StatusOr<CheckpointPolicy> ParseCheckpointPolicy(absl::string_view text) {
  if (text == "all") return CheckpointPolicy::kAll;
  if (text == "best") return CheckpointPolicy::kBest;
  if (text == "last") return CheckpointPolicy::kLast;
  if (text == "none") return CheckpointPolicy::kNone;
  return absl::InvalidArgumentError(absl::StrCat(
      "--log_checkpoints must be all, best, last or none, not '", text, "'"));
}

std::string SanitizeMetricKey(absl::string_view key) {
  std::string out;
  for (char c : key) {
    bool ok = absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
              c == '/' || c == '.' || c == '-' || c == ' ';
    char next = ok ? c : '_';
    if (next == '/' && (out.empty() || out.back() == '/')) continue;
    out.push_back(next);
  }
  while (!out.empty() && out.back() == '/') out.pop_back();
  return out.empty() ? "_" : out;
}

std::string CheckpointMetadataYaml(const CheckpointRecord& checkpoint,
                                   const RunRecord& run) {
  std::string monitor = !checkpoint.monitor.empty()
                            ? checkpoint.monitor
                            : Hyper(run, "checkpoint.monitor", "");
  return absl::StrCat(
      "Checkpoint:\n", "  _every_n_train_steps: ",
      Hyper(run, "checkpoint.every_n_train_steps", "0"), "\n",
      "  mode: ", YamlScalar(Hyper(run, "checkpoint.mode", "min")), "\n",
      "  monitor: ", monitor.empty() ? "null" : YamlScalar(monitor), "\n",
      "  save_last: ", Hyper(run, "checkpoint.save_last", "true"), "\n",
      "  save_top_k: ", Hyper(run, "checkpoint.save_top_k", "1"), "\n",
      "  save_weights_only: ",
      Hyper(run, "checkpoint.save_weights_only", "false"), "\n",
      "original_filename: ", YamlScalar(checkpoint.file), "\n",
      "score: ", checkpoint.has_value ? YamlFloat(checkpoint.value) : "null",
      "\n");
}

absl::StatusOr<PushSummary> PushRunDirectory(const std::string& run_dir,
                                             TrackingStore& store,
                                             const PushOptions& options) {
  Pusher pusher(run_dir, store, options);
  return pusher.Run();
}

}  // namespace cvt
