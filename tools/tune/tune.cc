#include "tools/tune/tune.h"

#include <dirent.h>
#include <ftw.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "libs/base/file_io.h"
#include "libs/base/json.h"
#include "libs/base/sha256.h"
#include "libs/base/status.h"
#include "libs/base/status_macros.h"
#include "libs/base/subprocess.h"
#include "libs/base/tool_main.h"
#include "libs/config/load_config.h"
#include "libs/config/overrides.h"
#include "libs/tracking/run_directory.h"
#include "libs/tracking/run_writer.h"
#include "libs/tune/asha.h"
#include "libs/tune/search_space.h"
#include "libs/tune/trial_reports.h"
#include "libs/tune/tune_results.h"
#include "libs/tune/tune_state.h"

namespace cvt {
namespace {

using Clock = std::chrono::steady_clock;

// The key tune sets itself in every trial's config.
constexpr char kMaxEpochsKey[] = "trainer.max_epochs";

std::string Absolute(const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  char cwd[4096];
  if (getcwd(cwd, sizeof(cwd)) == nullptr) return path;
  return absl::StrCat(cwd, "/", path);
}

bool IsExecutableFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
         access(path.c_str(), X_OK) == 0;
}

// True when `dir` does not exist or holds nothing.
bool IsMissingOrEmpty(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return errno == ENOENT;
  bool empty = true;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") {
      empty = false;
      break;
    }
  }
  closedir(d);
  return empty;
}

int RemoveEntry(const char* path, const struct stat*, int type, FTW*) {
  return type == FTW_DP ? rmdir(path) : unlink(path);
}

// Deletes everything in `dir` except the names in `keep` (like a fresh run
// directory that kept its log and config).
absl::Status ClearDirectory(const std::string& dir,
                            const std::set<std::string>& keep) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return absl::OkStatus();
    return ErrnoStatus(errno, "cannot list", dir);
  }
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != ".." && keep.count(name) == 0) {
      names.push_back(name);
    }
  }
  closedir(d);
  for (const std::string& name : names) {
    const std::string path = absl::StrCat(dir, "/", name);
    if (nftw(path.c_str(), RemoveEntry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
      return ErrnoStatus(errno, "cannot remove", path);
    }
  }
  return absl::OkStatus();
}

// True when `<run_dir>/checkpoints` holds a last*.ckpt that train fit
// --resume last can continue from.
bool HasLastCheckpoint(const std::string& run_dir) {
  DIR* d = opendir(absl::StrCat(run_dir, "/checkpoints").c_str());
  if (d == nullptr) return false;
  bool found = false;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (!IsTempName(name) && absl::StartsWith(name, "last") &&
        absl::EndsWith(name, ".ckpt")) {
      found = true;
      break;
    }
  }
  closedir(d);
  return found;
}

// The trainer's last "error:" line in its log, else its last line.
std::string LastErrorLine(const std::string& log_path) {
  absl::StatusOr<std::string> text = ReadFileToString(log_path);
  if (!text.ok()) return "";
  std::vector<absl::string_view> lines =
      absl::StrSplit(*text, '\n', absl::SkipWhitespace());
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    if (absl::StrContains(*it, "error:")) return std::string(*it);
  }
  return lines.empty() ? "" : std::string(lines.back());
}

std::string ValueText(double value) {
  if (!std::isfinite(value)) return absl::StrCat(value);
  return absl::StrFormat("%.6g", value);
}

std::string ParamsText(const TrialParams& params) {
  std::vector<std::string> parts;
  for (const ParamValue& p : params) parts.push_back(p.Assignment());
  return absl::StrJoin(parts, " ");
}

// Everything derived from the options before anything is written.
struct Search {
  TuneSearchSettings settings;
  AshaOptions asha;
  SearchSpace space;
  std::vector<std::string> keys;
  std::vector<TrialParams> trials;
  // The resolved config of each trial (config.textproto's text).
  std::vector<std::string> configs;
  std::string out_dir;
  std::string data_dir;
  std::string train_bin;
};

absl::Status CheckOptions(const TuneOptions& o) {
  CVT_RETURN_IF_ERROR(RequireFlag(o.config_path, "config"));
  CVT_RETURN_IF_ERROR(RequireFlag(o.search_space_path, "search_space"));
  CVT_RETURN_IF_ERROR(RequireFlag(o.data_dir, "data"));
  CVT_RETURN_IF_ERROR(RequireFlag(o.out_dir, "out"));
  CVT_RETURN_IF_ERROR(RequireFlag(o.metric, "metric"));
  if (o.mode != "min" && o.mode != "max") {
    return absl::InvalidArgumentError(
        absl::StrCat("--mode must be 'min' or 'max', not '", o.mode, "'"));
  }
  if (o.num_trials < 1 || o.max_concurrent < 1 || o.grace_period < 1 ||
      o.brackets < 1 || o.threads_per_trial < 1) {
    return absl::InvalidArgumentError(
        "--num_trials, --max_concurrent, --grace_period, --brackets and "
        "--threads_per_trial must be >= 1");
  }
  if (!(o.reduction_factor > 1) || !std::isfinite(o.reduction_factor)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--reduction_factor must be > 1 (got ", o.reduction_factor, ")"));
  }
  if (o.max_t < 0 || o.max_failures < 0 || !(o.stop_grace_s > 0) ||
      !(o.poll_interval_s > 0)) {
    return absl::InvalidArgumentError(
        "--max_t and --max_failures must be >= 0, --stop_grace_s and "
        "--poll_interval_s > 0");
  }
  if (o.train_bin.empty()) {
    return absl::InvalidArgumentError(
        "--train_bin is required (no train binary beside tune)");
  }
  if (!IsExecutableFile(o.train_bin)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--train_bin ", o.train_bin, ": not an executable file"));
  }
  return absl::OkStatus();
}

// Loads the inputs, samples the trials and resolves every trial's config, so
// a bad input fails before anything is written.
absl::StatusOr<Search> PrepareSearch(const TuneOptions& o) {
  CVT_RETURN_IF_ERROR(CheckOptions(o));
  Search search;
  search.out_dir = Absolute(o.out_dir);
  search.data_dir = Absolute(o.data_dir);
  search.train_bin = Absolute(o.train_bin);

  CVT_ASSIGN_OR_RETURN(std::string config_text,
                       ReadFileToString(o.config_path));
  CVT_ASSIGN_OR_RETURN(
      PipelineConfig base,
      LoadPipelineConfig(o.config_path, {.overrides = o.overrides}));
  CVT_ASSIGN_OR_RETURN(std::string space_text,
                       ReadFileToString(o.search_space_path));
  CVT_ASSIGN_OR_RETURN(search.space, LoadSearchSpace(o.search_space_path));

  const int max_t =
      o.max_t > 0 ? o.max_t : static_cast<int>(base.trainer().max_epochs());
  search.asha = {.max_t = static_cast<double>(max_t),
                 .grace_period = static_cast<double>(o.grace_period),
                 .reduction_factor = o.reduction_factor,
                 .brackets = o.brackets,
                 .mode = o.mode == "min" ? AshaMode::kMin : AshaMode::kMax,
                 .stop_last_trials = o.stop_last_trials};
  if (max_t < o.grace_period) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--grace_period ", o.grace_period, " exceeds --max_t ", max_t,
        o.max_t > 0 ? "" : " (the config's trainer.max_epochs)"));
  }
  CVT_RETURN_IF_ERROR(ValidateAshaOptions(search.asha));

  // Each param's key and every value it can take must fit the config.
  for (int i = 0; i < search.space.param_size(); ++i) {
    const SearchParam& p = search.space.param(i);
    search.keys.push_back(p.key());
    const std::string where = absl::StrCat(o.search_space_path, ": param ",
                                           i + 1, " '", p.key(), "'");
    if (p.key() == kMaxEpochsKey) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": tune sets trainer.max_epochs to --max_t itself"));
    }
    for (const std::string& value : RepresentativeValues(p)) {
      PipelineConfig copy = base;
      absl::Status applied = ApplyOverride(p.key() + "=" + value, &copy);
      if (!applied.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": value '", value, "': ", applied.message()));
      }
    }
  }

  Rng rng(DeriveSeed(o.seed, kSamplerStream));
  search.trials = SampleTrials(search.space, o.num_trials, rng);
  if (static_cast<int64_t>(search.trials.size()) > kMaxTrials) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--num_trials ", o.num_trials, " x ", GridSize(search.space),
        " grid combinations exceeds ", kMaxTrials, " trials"));
  }
  for (size_t i = 0; i < search.trials.size(); ++i) {
    PipelineConfig config = base;
    const std::string where =
        absl::StrCat(o.search_space_path, ": trial ", i, " (",
                     ParamsText(search.trials[i]), ")");
    for (const ParamValue& p : search.trials[i]) {
      absl::Status applied = ApplyOverride(p.Assignment(), &config);
      if (!applied.ok()) return Annotate(applied, where);
    }
    CVT_RETURN_IF_ERROR(
        ApplyOverride(absl::StrCat(kMaxEpochsKey, "=", max_t), &config));
    CVT_RETURN_IF_ERROR(Annotate(ValidatePipelineConfig(config), where));
    search.configs.push_back(PipelineConfigToText(config));
  }

  search.settings = {.config_sha256 = Sha256Hex(config_text),
                     .search_space_sha256 = Sha256Hex(space_text),
                     .sets = o.overrides,
                     .num_trials = o.num_trials,
                     .metric = o.metric,
                     .mode = o.mode,
                     .grace_period = o.grace_period,
                     .reduction_factor = o.reduction_factor,
                     .max_t = max_t,
                     .brackets = o.brackets,
                     .stop_last_trials = o.stop_last_trials,
                     .seed = o.seed};
  return search;
}

std::string TrialId(size_t index) {
  return absl::StrFormat("trial_%04d", index);
}

class Driver {
 public:
  Driver(const TuneOptions& options, Search search)
      : options_(options), search_(std::move(search)) {}

  absl::Status Run() {
    CVT_RETURN_IF_ERROR(options_.resume ? Reload() : Create());
    if (options_.resume) CVT_RETURN_IF_ERROR(RecoverUnfinished());
    absl::Status loop = Loop();
    // Whatever happened, the table shows where the search stands.
    absl::Status results = WriteOutputs();
    CVT_RETURN_IF_ERROR(loop);
    CVT_RETURN_IF_ERROR(results);
    if (interrupted_) {
      return absl::AbortedError(absl::StrCat(
          "stopped by a signal with ", Unfinished(),
          " trials unfinished; the state is saved in ", StatePath(),
          ": continue with the same flags and --resume"));
    }
    return Finish();
  }

 private:
  struct Running {
    std::unique_ptr<Subprocess> process;
    // When SIGKILL follows the SIGTERM already sent.
    std::optional<Clock::time_point> kill_at;
  };

  std::string StatePath() const { return search_.out_dir + "/tune_state.json"; }
  std::string TrialDir(size_t i) const {
    return absl::StrCat(search_.out_dir, "/trials/", state_.trials[i].id);
  }

  template <typename... Args>
  void Progress(const Args&... args) {
    if (options_.progress != nullptr) {
      *options_.progress << absl::StrCat("tune: ", args...) << "\n"
                         << std::flush;
    }
  }

  absl::Status Save() { return SaveTuneState(StatePath(), state_); }

  absl::Status Create() {
    if (!IsMissingOrEmpty(search_.out_dir)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--out ", search_.out_dir,
          " is not empty: pass --resume to continue the search saved there, "
          "or choose a new folder"));
    }
    CVT_RETURN_IF_ERROR(MakeDirs(search_.out_dir + "/trials"));
    state_.search = search_.settings;
    CVT_ASSIGN_OR_RETURN(
        AshaScheduler asha,
        AshaScheduler::Create(search_.asha, search_.settings.seed));
    for (size_t i = 0; i < search_.trials.size(); ++i) {
      TrialRecord t;
      t.id = TrialId(i);
      t.params = search_.trials[i];
      CVT_ASSIGN_OR_RETURN(t.bracket, asha.AddTrial(t.id));
      state_.trials.push_back(std::move(t));
    }
    state_.scheduler = std::move(asha);
    Progress(state_.trials.size(), " trials (", search_.settings.num_trials,
             " x ", GridSize(search_.space), " grid), ASHA milestones ",
             MilestonesText(), ", metric ", search_.settings.metric, " (",
             search_.settings.mode, ")");
    return Save();
  }

  std::string MilestonesText() const {
    std::vector<std::string> brackets;
    for (const Bracket& b : state_.scheduler->brackets()) {
      std::vector<std::string> m;
      for (const AshaRung& r : b.rungs()) m.push_back(ValueText(r.milestone));
      brackets.push_back("[" + absl::StrJoin(m, ",") + "]");
    }
    return absl::StrJoin(brackets, " ");
  }

  absl::Status Reload() {
    absl::StatusOr<TuneState> loaded = LoadTuneState(StatePath());
    if (absl::IsNotFound(loaded.status())) {
      return absl::NotFoundError(absl::StrCat(
          "--resume: ", StatePath(), " does not exist: nothing to resume"));
    }
    CVT_RETURN_IF_ERROR(loaded.status());
    state_ = *std::move(loaded);
    CVT_RETURN_IF_ERROR(
        CheckSameSearch(state_.search, search_.settings, StatePath()));
    if (!state_.scheduler.has_value() ||
        state_.trials.size() != search_.trials.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(StatePath(),
                       ": the trial table does not match the "
                       "search space and seed"));
    }
    for (size_t i = 0; i < state_.trials.size(); ++i) {
      if (state_.trials[i].params != search_.trials[i]) {
        return absl::InvalidArgumentError(
            absl::StrCat(StatePath(), ": ", state_.trials[i].id,
                         " has other params than the search space gives"));
      }
    }
    Progress("resuming ", StatePath(), ": ", CountText());
    return absl::OkStatus();
  }

  std::string CountText() const {
    std::map<std::string, int> counts;
    for (const TrialRecord& t : state_.trials)
      ++counts[TrialStatusName(t.status)];
    std::vector<std::string> parts;
    for (const auto& [name, n] : counts)
      parts.push_back(absl::StrCat(n, " ", name));
    return absl::StrJoin(parts, ", ");
  }

  int Unfinished() const {
    int n = 0;
    for (const TrialRecord& t : state_.trials) n += !IsFinished(t.status);
    return n;
  }

  // After a crash or kill of tune: trainers that outlived it are stopped,
  // reports written meanwhile are judged, and the rest resume later.
  absl::Status RecoverUnfinished() {
    std::vector<size_t> started;
    for (size_t i = 0; i < state_.trials.size(); ++i) {
      TrialRecord& t = state_.trials[i];
      if (IsFinished(t.status) || t.launches == 0) continue;
      started.push_back(i);
      if (t.pid > 0) StopOrphan(i);
      t.pid = 0;
      t.status = TrialStatus::kPending;
    }
    CVT_RETURN_IF_ERROR(ReadAndJudge(started));
    for (size_t i : started) {
      TrialRecord& t = state_.trials[i];
      if (t.stop_requested) {
        t.status = TrialStatus::kStopped;
        Progress(t.id,
                 " STOPPED (decided on reports written while tune was "
                 "down)");
        continue;
      }
      absl::StatusOr<RunRecord> run = ReadRunRecord(TrialDir(i));
      if (run.ok() && run->status == "FINISHED") {
        CVT_RETURN_IF_ERROR(Complete(i));
      }
    }
    return Save();
  }

  // A trainer still running from a tune that died (it only happens when the
  // kernel's parent-death signal could not reach it): SIGTERM, then SIGKILL.
  void StopOrphan(size_t i) {
    const pid_t pid = static_cast<pid_t>(state_.trials[i].pid);
    if (!ProcessExists(pid) ||
        !absl::StrContains(ProcessCommandLine(pid), TrialDir(i))) {
      return;
    }
    Progress(state_.trials[i].id, ": stopping its trainer (pid ", pid,
             ") left from the previous tune");
    kill(pid, SIGTERM);
    const Clock::time_point deadline =
        Clock::now() +
        std::chrono::duration_cast<Clock::duration>(
            std::chrono::duration<double>(options_.stop_grace_s));
    while (ProcessExists(pid) && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (ProcessExists(pid)) kill(pid, SIGKILL);
    while (ProcessExists(pid)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  absl::Status Loop() {
    while (true) {
      if (!interrupted_ && options_.stop && options_.stop()) {
        interrupted_ = true;
        Progress("stopping: SIGTERM to ", running_.size(),
                 " running trials; their state is kept for --resume");
        for (auto& [i, r] : running_) CVT_RETURN_IF_ERROR(SendStop(r));
      }
      // Reap first, so the reports read next include each ended trial's last.
      std::vector<std::pair<size_t, ExitStatus>> exited;
      for (auto& [i, r] : running_) {
        CVT_ASSIGN_OR_RETURN(std::optional<ExitStatus> exit, r.process->Poll());
        if (exit.has_value()) exited.emplace_back(i, *exit);
      }
      std::vector<size_t> reading;
      for (const auto& [i, r] : running_) reading.push_back(i);
      CVT_RETURN_IF_ERROR(ReadAndJudge(reading));
      for (const auto& [i, exit] : exited) CVT_RETURN_IF_ERROR(OnExit(i, exit));
      for (auto& [i, r] : running_) {
        if (r.kill_at.has_value() && Clock::now() >= *r.kill_at) {
          Progress(state_.trials[i].id, " did not stop within ",
                   options_.stop_grace_s, " s: SIGKILL");
          CVT_RETURN_IF_ERROR(r.process->Signal(SIGKILL));
          r.kill_at.reset();
        }
      }
      if (!interrupted_) CVT_RETURN_IF_ERROR(LaunchWhileRoom());
      if (running_.empty() && (interrupted_ || !NextPending().has_value())) {
        return absl::OkStatus();
      }
      std::this_thread::sleep_for(
          std::chrono::duration<double>(options_.poll_interval_s));
    }
  }

  // Trials to start, resumed ones first, then in trial order.
  std::optional<size_t> NextPending() const {
    std::optional<size_t> fresh;
    for (size_t i = 0; i < state_.trials.size(); ++i) {
      const TrialRecord& t = state_.trials[i];
      if (t.status != TrialStatus::kPending || running_.count(i) != 0) continue;
      if (t.launches > 0) return i;
      if (!fresh.has_value()) fresh = i;
    }
    return fresh;
  }

  absl::Status LaunchWhileRoom() {
    while (static_cast<int>(running_.size()) < options_.max_concurrent) {
      std::optional<size_t> next = NextPending();
      if (!next.has_value()) break;
      CVT_RETURN_IF_ERROR(Launch(*next));
    }
    return absl::OkStatus();
  }

  absl::Status Launch(size_t i) {
    TrialRecord& t = state_.trials[i];
    const std::string dir = TrialDir(i);
    const bool resume = t.launches > 0 && HasLastCheckpoint(dir);
    if (!resume) {
      // A fresh start: nothing of an earlier attempt may leak into it (train
      // refuses a run directory with checkpoints, and would append to
      // metrics.jsonl). The reports already judged are skipped by epoch.
      CVT_RETURN_IF_ERROR(MakeDirs(dir));
      CVT_RETURN_IF_ERROR(ClearDirectory(dir, {"train.log"}));
    }
    const std::string config_path = dir + "/config.textproto";
    CVT_RETURN_IF_ERROR(WriteFileAtomically(config_path, ConfigText(i)));
    // Recorded before the process exists: if tune dies in between, resume
    // treats the trial as started.
    ++t.launches;
    t.status = TrialStatus::kRunning;
    t.pid = 0;
    CVT_RETURN_IF_ERROR(Save());
    std::vector<std::string> argv = {
        search_.train_bin, "fit",
        "--config",        config_path,
        "--data",          search_.data_dir,
        "--run_dir",       dir,
        "--threads",       absl::StrCat(options_.threads_per_trial)};
    if (resume) {
      argv.push_back("--resume");
      argv.push_back("last");
    }
    absl::StatusOr<std::unique_ptr<Subprocess>> process =
        Subprocess::Start({.argv = argv, .output_path = dir + "/train.log"});
    if (!process.ok()) {
      t.status = TrialStatus::kError;
      t.error = std::string(process.status().message());
      Progress(t.id, " ERROR: ", t.error);
      return Save();
    }
    t.pid = (*process)->pid();
    running_[i] = Running{*std::move(process), std::nullopt};
    Progress(t.id, resume ? " resumed" : " started", " (bracket ", t.bracket,
             "): ", ParamsText(t.params), " [", running_.size(), " running]");
    return Save();
  }

  // config.textproto: the resolved config, its header naming the trial
  // after the proto-file lines (and `note` before the trial line).
  std::string ConfigText(size_t i, absl::string_view note = "") const {
    const std::string& text = search_.configs[i];
    const size_t body = text.find("\n\n");
    std::vector<std::string> sets;
    for (const std::string& s : search_.settings.sets)
      sets.push_back("--set " + s);
    for (const ParamValue& p : state_.trials[i].params) {
      sets.push_back("--set " + p.Assignment());
    }
    sets.push_back(
        absl::StrCat("--set ", kMaxEpochsKey, "=", search_.settings.max_t));
    return absl::StrCat(text.substr(0, body + 1), note, "# tune ",
                        state_.trials[i].id, ": ", options_.config_path, " ",
                        absl::StrJoin(sets, " "), text.substr(body));
  }

  absl::Status SendStop(Running& r) {
    r.kill_at = Clock::now() +
                std::chrono::duration_cast<Clock::duration>(
                    std::chrono::duration<double>(options_.stop_grace_s));
    return r.process->Signal(SIGTERM);
  }

  // Reads the new reports of `trials` and feeds them to the scheduler in one
  // total order: by the time the trainer wrote them, ties by trial.
  absl::Status ReadAndJudge(const std::vector<size_t>& trials) {
    struct Event {
      int64_t timestamp_ms;
      size_t trial;
      TrialReport report;
    };
    std::vector<Event> events;
    for (size_t i : trials) {
      TrialRecord& t = state_.trials[i];
      absl::StatusOr<std::vector<TrialReport>> reports = ReadNewReports(
          TrialDir(i) + "/metrics.jsonl", search_.settings.metric, t.cursor);
      if (!reports.ok()) {
        Progress(t.id, ": warning: ", reports.status().message());
        continue;
      }
      for (const TrialReport& r : *reports)
        events.push_back({r.timestamp_ms, i, r});
    }
    std::stable_sort(events.begin(), events.end(),
                     [](const Event& a, const Event& b) {
                       return a.timestamp_ms != b.timestamp_ms
                                  ? a.timestamp_ms < b.timestamp_ms
                                  : a.trial < b.trial;
                     });
    for (const Event& e : events) CVT_RETURN_IF_ERROR(Judge(e.trial, e.report));
    return absl::OkStatus();
  }

  absl::Status Judge(size_t i, const TrialReport& report) {
    TrialRecord& t = state_.trials[i];
    // As Ray: results after a STOP are ignored.
    if (t.stop_requested || t.max_t_reached) return absl::OkStatus();
    t.last_time = report.time;
    t.last_value = report.value;
    const bool better =
        std::isfinite(report.value) &&
        (!t.best_value.has_value() ||
         (search_.asha.mode == AshaMode::kMax ? report.value > *t.best_value
                                              : report.value < *t.best_value));
    if (better) {
      t.best_value = report.value;
      t.best_time = report.time;
    }
    CVT_ASSIGN_OR_RETURN(
        AshaDecision d,
        state_.scheduler->OnTrialResult(t.id, static_cast<double>(report.time),
                                        report.value));
    const bool stop = d.action == AshaAction::kStop;
    state_.decisions.push_back({.trial = t.id,
                                .time = report.time,
                                .value = report.value,
                                .action = stop ? "STOP" : "CONTINUE",
                                .milestone = d.milestone,
                                .cutoff = d.cutoff,
                                .max_t_reached = d.max_t_reached});
    std::string why;
    if (d.max_t_reached) {
      why = " (max_t reached)";
    } else if (d.milestone.has_value()) {
      // The cutoff in the metric's own terms (rewards negate it in min mode).
      const double sign = search_.asha.mode == AshaMode::kMin ? -1 : 1;
      why = absl::StrCat(
          " at rung ", ValueText(*d.milestone),
          d.cutoff.has_value()
              ? absl::StrCat(" (cutoff ", ValueText(sign * *d.cutoff), ")")
              : std::string(" (first there)"));
    }
    Progress(t.id, " epoch ", report.time, ": ", search_.settings.metric, "=",
             ValueText(report.value), " -> ", stop ? "STOP" : "CONTINUE", why);
    if (stop && d.max_t_reached) {
      // The trainer's max_epochs is max_t: it ends by itself.
      t.max_t_reached = true;
    } else if (stop) {
      t.stop_requested = true;
      auto it = running_.find(i);
      if (it != running_.end()) CVT_RETURN_IF_ERROR(SendStop(it->second));
    }
    return Save();
  }

  absl::Status OnExit(size_t i, const ExitStatus& exit) {
    TrialRecord& t = state_.trials[i];
    running_.erase(i);
    t.pid = 0;
    t.exit = exit.ToString();
    if (t.stop_requested) {
      t.status = TrialStatus::kStopped;
      Progress(t.id, " STOPPED after ", t.last_time, " epochs (", t.exit, ")");
      return Save();
    }
    if (exit.success()) return Complete(i);
    if (interrupted_) {
      t.status = TrialStatus::kPending;  // Resumable: launches > 0.
      Progress(t.id, " interrupted after ", t.last_time, " epochs");
      return Save();
    }
    ++t.failures;
    t.error =
        absl::StrCat(t.exit, ": ", LastErrorLine(TrialDir(i) + "/train.log"));
    if (t.failures <= options_.max_failures) {
      t.status = TrialStatus::kPending;
      Progress(t.id, " failed (", t.error, "); retry ", t.failures, " of ",
               options_.max_failures);
    } else {
      t.status = TrialStatus::kError;
      Progress(t.id, " ERROR: ", t.error);
    }
    return Save();
  }

  // The trainer finished: its last result goes to on_trial_complete.
  absl::Status Complete(size_t i) {
    TrialRecord& t = state_.trials[i];
    t.status = TrialStatus::kCompleted;
    std::optional<double> time, value;
    if (t.last_time > 0 && t.last_value.has_value()) {
      time = static_cast<double>(t.last_time);
      value = t.last_value;
    }
    CVT_ASSIGN_OR_RETURN(AshaDecision d,
                         state_.scheduler->OnTrialComplete(t.id, time, value));
    if (time.has_value()) {
      state_.decisions.push_back({.trial = t.id,
                                  .time = t.last_time,
                                  .value = *value,
                                  .action = "COMPLETE",
                                  .milestone = d.milestone,
                                  .cutoff = d.cutoff});
    }
    if (t.last_time == 0) {
      Progress(t.id, ": warning: its trainer logged no ",
               search_.settings.metric,
               " (--metric must be a metrics.jsonl name logged every epoch)");
    }
    Progress(
        t.id, " COMPLETED after ", t.last_time, " epochs",
        t.best_value.has_value()
            ? absl::StrCat(", best ", search_.settings.metric, " ",
                           ValueText(*t.best_value), " at epoch ", t.best_time)
            : std::string());
    return Save();
  }

  std::vector<TrialResult> Rows() const {
    std::vector<TrialResult> rows;
    for (size_t i = 0; i < state_.trials.size(); ++i) {
      const TrialRecord& t = state_.trials[i];
      TrialResult row;
      row.trial = t;
      row.rungs = state_.scheduler->RecordedMilestones(t.id);
      row.run_dir = "trials/" + t.id;
      absl::StatusOr<std::vector<CheckpointRecord>> ckpts =
          ReadCheckpointRecords(TrialDir(i));
      if (ckpts.ok()) {
        for (const CheckpointRecord& c : *ckpts) {
          if (c.best)
            row.best_checkpoint = row.run_dir + "/checkpoints/" + c.file;
        }
      }
      rows.push_back(std::move(row));
    }
    return rows;
  }

  absl::Status WriteOutputs() {
    return WriteResults(search_.out_dir, Rows(),
                        {.metric = search_.settings.metric,
                         .mode = search_.asha.mode,
                         .keys = search_.keys});
  }

  // The search is over: the best config, MLflow's parent run, the summary.
  absl::Status Finish() {
    const std::vector<size_t> order =
        RankTrials(state_.trials, search_.asha.mode);
    const TrialRecord& best = state_.trials[order[0]];
    if (!best.best_value.has_value() || !std::isfinite(*best.best_value)) {
      return absl::AbortedError(absl::StrCat(
          "no trial reported a finite ", search_.settings.metric, " (",
          CountText(), "); see ", search_.out_dir, "/trials/*/train.log"));
    }
    const std::string header = absl::StrCat(
        "# tune: the best of ", state_.trials.size(), " trials: ", best.id,
        ", best ", search_.settings.metric, " ", FormatDouble(*best.best_value),
        " at epoch ", best.best_time, "\n");
    CVT_RETURN_IF_ERROR(
        WriteFileAtomically(search_.out_dir + "/best_config.textproto",
                            ConfigText(order[0], header)));
    CVT_RETURN_IF_ERROR(WriteParentRun(best));
    Progress("done: ", CountText(), "; best ", best.id, " (",
             search_.settings.metric, " ", ValueText(*best.best_value),
             "); results in ", search_.out_dir, "/results.csv");
    if (options_.summary != nullptr) {
      std::ostream& out = *options_.summary;
      out << absl::StrFormat("%-12s %-9s %6s %12s  %s\n", "trial", "status",
                             "epochs", "best", "params");
      for (size_t i : order) {
        const TrialRecord& t = state_.trials[i];
        out << absl::StrFormat(
            "%-12s %-9s %6d %12s  %s\n", t.id, TrialStatusName(t.status),
            t.last_time,
            t.best_value.has_value() ? ValueText(*t.best_value) : "-",
            ParamsText(t.params));
      }
    }
    return absl::OkStatus();
  }

  // <out>/parent_run: a finished run directory that mlflow_push turns into
  // the parent of the trials' runs (push_children.sh).
  absl::Status WriteParentRun(const TrialRecord& best) {
    const std::string dir = search_.out_dir + "/parent_run";
    CVT_RETURN_IF_ERROR(ClearDirectory(dir, {}));
    RunRecord run;
    const std::string out(absl::StripSuffix(search_.out_dir, "/"));
    run.run_name = "tune-" + out.substr(out.find_last_of('/') + 1);
    run.task = "tune";
    // The trials' model, so mlflow_push's default experiment is theirs.
    absl::StatusOr<RunRecord> best_run =
        ReadRunRecord(absl::StrCat(search_.out_dir, "/trials/", best.id));
    if (best_run.ok()) run.model_name = best_run->model_name;
    const TuneSearchSettings& s = search_.settings;
    run.hyperparameters = {
        {"tune.metric", s.metric},
        {"tune.mode", s.mode},
        {"tune.num_trials", absl::StrCat(s.num_trials)},
        {"tune.trials", absl::StrCat(state_.trials.size())},
        {"tune.grace_period", absl::StrCat(s.grace_period)},
        {"tune.reduction_factor", FormatDouble(s.reduction_factor)},
        {"tune.max_t", absl::StrCat(s.max_t)},
        {"tune.brackets", absl::StrCat(s.brackets)},
        {"tune.seed", absl::StrCat(s.seed)},
        {"tune.config", options_.config_path},
        {"tune.search_space", options_.search_space_path}};
    for (const ParamValue& p : best.params) {
      run.hyperparameters["best." + p.key] = p.value;
    }
    run.tags = {{"tune.best_trial", best.id}};
    CVT_ASSIGN_OR_RETURN(std::unique_ptr<RunWriter> writer,
                         RunWriter::Open(dir, run));
    CVT_RETURN_IF_ERROR(writer->LogMetric(s.metric, *best.best_value,
                                          best.best_time, best.best_time - 1));
    return writer->Finish("FINISHED");
  }

  const TuneOptions& options_;
  Search search_;
  TuneState state_;
  std::map<size_t, Running> running_;
  bool interrupted_ = false;
};

}  // namespace

std::string FindTrainBinary(const std::string& tune_path) {
  const size_t slash = tune_path.find_last_of('/');
  const std::string dir =
      slash == std::string::npos ? "." : tune_path.substr(0, slash);
  for (const std::string& candidate :
       {dir + "/train", dir + "/../train/train"}) {
    if (IsExecutableFile(candidate)) return candidate;
  }
  return "";
}

absl::Status RunTune(const TuneOptions& options) {
  CVT_ASSIGN_OR_RETURN(Search search, PrepareSearch(options));
  Driver driver(options, std::move(search));
  return driver.Run();
}

}  // namespace cvt
