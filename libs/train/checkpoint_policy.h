// -----------------------------------------------------------------------------
// File: checkpoint_policy.h
// -----------------------------------------------------------------------------
//
// Which checkpoint files `train` writes and deletes after each validation:
// Lightning's ModelCheckpoint (training_semantics.md §2.1) as pure logic. The
// policy never touches files itself; it plans, the trainer writes, and the
// plan is then committed:
//
//   CVT_ASSIGN_OR_RETURN(
//       ModelCheckpointPolicy policy,
//       ModelCheckpointPolicy::Create(options, {"val/map", "val/loss"}));
//   ...  // after every validation:
//   CVT_ASSIGN_OR_RETURN(SavePlan plan, policy.Plan(epoch, step, metrics));
//   if (plan.top_k_path) {
//     Save(*plan.top_k_path, policy.StateToJson(plan.state_for_top_k_file));
//   }
//   if (plan.last_path) {
//     Save(*plan.last_path, policy.StateToJson(plan.state_after));
//   }
//   for (const std::string& path : plan.paths_to_delete_after_save) {
//     Remove(path);
//   }
//   CVT_RETURN_IF_ERROR(policy.Commit(plan));
//
// File names. A template such as "detr-{epoch}-{val_map:.4f}" is rendered
// with auto-inserted names ("detr-epoch=3-val_map=0.5123"), then `/` and `\`
// in the stem become `_`, then `-v<n>` may be appended, then ".ckpt".
//   * A placeholder is `{name}` or `{name:spec}`; the name runs to the first
//     `:` or `}`. Every `{` opens a placeholder and every `}` closes one.
//   * `epoch` is the 0-based current epoch and `step` the number of completed
//     optimizer steps (they take precedence over metrics of the same name).
//   * Any other name refers to a metric. Metric names as logged may contain
//     `/` ("val/map"), which cannot appear in a template (and would make a
//     subdirectory), so a placeholder names the metric with every `/`
//     replaced by `_`: `{val_map}` is the metric "val/map" (or a metric
//     literally called "val_map", which wins if both exist).
//   * Placeholders are substituted longest name first, as Lightning does, so
//     `{val_map}` never clobbers `{val_map_50}`; our templates are tokenized,
//     which gives the same result by construction.
//   * Specs: none (Python `str`: 0.5 -> "0.5", 1.0 -> "1.0"), `d`, `0Nd`
//     (integers: epoch and step), `.Nf`, `.Ne`, `.Ng` (any value). NaN renders
//     as "nan" and infinities as "inf" / "-inf".
//   * Decision: an unknown placeholder is an error at construction (Lightning
//     renders a missing key as 0, silently), checked against the catalogue
//     of metric names the trainer will log.
//
// Top-k (k = save_top_k). A validation's score is the monitored metric; a
// NaN score is stored as the worst value (+inf in min mode, -inf in max). It
// is accepted iff k == -1, fewer than k are kept, or it is strictly better
// than the kth (worst kept) score: ties are rejected. Accepting into a full
// set pops the worst entry P_del, renders the new path (versioned `-v1`,
// `-v2`, ... while the path exists and is not P_del), and deletes P_del after
// the save unless it is the new path, the resume source or outside dirpath.
// k = -1 keeps every file, k = 0 writes none. Top-k is considered only after
// epochs with (epoch + 1) % every_n_epochs == 0. Without a monitor, k = 1
// keeps only the newest file and k = -1 keeps all.
//
// Last. With save_last the file "last.ckpt" is (re)written after every
// validation, after top-k; while that name exists and is not the current
// `last_model_path` it is versioned "last-v1.ckpt", ... (so a second fresh
// run into the same directory writes last-v1.ckpt, Lightning #5030), and the
// previous last file is deleted after the save if it differs and lies inside
// dirpath.
//
// Thread safety: not thread-safe; const methods may run concurrently.

#ifndef LIBS_TRAIN_CHECKPOINT_POLICY_H_
#define LIBS_TRAIN_CHECKPOINT_POLICY_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace cvt {

class CheckpointConfig;  // libs/config/checkpoint_config.proto

// Whether larger (kMax) or smaller (kMin) monitored values are better.
enum class CheckpointMode {
  kMin,
  kMax,
};

// Mirrors `CheckpointConfig`, plus the directory (which comes from a flag).
struct ModelCheckpointOptions {
  // Directory that holds the checkpoints; must not be empty. Paths in plans
  // are `dirpath + "/" + file name`. Default: empty (required).
  std::string dirpath;
  // Metric that ranks top-k checkpoints, as logged ("val/map"); empty means
  // no monitor (save_top_k must then be -1, 0 or 1). Default: `"val/map"`.
  std::string monitor = "val/map";
  // Default: `kMax` (the config's default; Lightning's is min).
  CheckpointMode mode = CheckpointMode::kMax;
  // Best checkpoints kept: -1 all, 0 none, k >= 1. Default: `1`.
  int64_t save_top_k = 1;
  // Write last.ckpt after every validation. Default: `true`.
  bool save_last = true;
  // File-stem template (see the file comment); empty means Lightning's
  // "{epoch}-{step}". Default: `"{epoch}-{step}-{val_map:.4f}"`.
  std::string filename = "{epoch}-{step}-{val_map:.4f}";
  // Consider a top-k save only after every n-th epoch, n >= 1. Default: `1`.
  int64_t every_n_epochs = 1;
};

// Maps the config 1:1 and sets `dirpath`. InvalidArgument
// "CheckpointConfig: ..." when `save_top_k` < -1 or `every_n_epochs` is 0
// (the template and monitor are checked by `ModelCheckpointPolicy::Create`,
// which knows the metric catalogue).
absl::StatusOr<ModelCheckpointOptions> ModelCheckpointOptionsFromProto(
    const CheckpointConfig& config, absl::string_view dirpath);

inline constexpr absl::string_view kCheckpointExtension = ".ckpt";
inline constexpr absl::string_view kDefaultCheckpointTemplate =
    "{epoch}-{step}";
inline constexpr absl::string_view kLastCheckpointStem = "last";

// The placeholder name of a logged metric: every '/' becomes '_'
// ("val/map" -> "val_map").
std::string PlaceholderName(absl::string_view metric_name);

// Checks `filename_template` without rendering it: syntax, format specs, and
// that every placeholder is `epoch`, `step` or, through `PlaceholderName`,
// exactly one of `known_metrics` (a metric with that exact name wins).
// InvalidArgument naming the placeholder otherwise; an integer spec (`d`,
// `0Nd`) on a metric is an error.
absl::Status ValidateTemplate(absl::string_view filename_template,
                              absl::Span<const std::string> known_metrics);

// Renders the file name "<stem>[-v<version>].ckpt" (no directory) for
// `epoch`, `step` and `metrics` (keys as logged). An empty template is
// "{epoch}-{step}"; `version` 0 means unversioned. InvalidArgument for a
// malformed template or a placeholder with no value (Decision: Lightning
// would render 0).
//
//   RenderCheckpointName("{epoch}-{val_loss:.2f}", 2, 0,
//                        {{"val_loss", 0.123456}})
//       -> "epoch=2-val_loss=0.12.ckpt"
absl::StatusOr<std::string> RenderCheckpointName(
    absl::string_view filename_template, int64_t epoch, int64_t step,
    const std::map<std::string, double>& metrics, int version = 0);

// Whether `path` names an existing file system entry (stat(2) succeeds).
bool PathExists(const std::string& path);

// The policy's bookkeeping: Lightning's ModelCheckpoint state. Paths are
// full (`dirpath/name`); the JSON form stores them relative to dirpath.
struct ModelCheckpointState {
  // Kept top-k files with their scores, in insertion order (ties between
  // equal scores go to the earliest entry, as Python's min/max do). Scores
  // are never NaN (NaN is stored as the worst value).
  std::vector<std::pair<std::string, double>> best_k_models;
  // The worst kept entry, once k entries are kept (else empty).
  std::string kth_best_model_path;
  // Its score; the worst possible value (+inf in min mode, -inf in max
  // mode) until then.
  double kth_value = 0;
  // The best kept entry (without a monitor: the newest top-k file).
  std::string best_model_path;
  std::optional<double> best_model_score;
  // Score of the latest accepted top-k save.
  std::optional<double> current_score;
  // The last.ckpt (or last-vN.ckpt) this run writes.
  std::string last_model_path;
};

// What to do after one validation. Produced by `Plan`, applied by the
// trainer, then passed to `Commit`.
struct SavePlan {
  int64_t epoch = 0;
  int64_t step = 0;
  // Write a top-k checkpoint here (full path), embedding
  // `state_for_top_k_file`.
  std::optional<std::string> top_k_path;
  // The score recorded for it (NaN already mapped to the worst value);
  // unset without a monitor.
  std::optional<double> top_k_score;
  // The entry popped from the top-k set to make room (P_del), whether or
  // not it may be deleted.
  std::optional<std::string> evicted_path;
  // Write last.ckpt here (full path), embedding `state_after`.
  std::optional<std::string> last_path;
  // Delete these, in order, once every file above is safely written. Never
  // contains a path written by this plan, a path still referenced by
  // `state_after`, the resume source, or a path outside dirpath.
  std::vector<std::string> paths_to_delete_after_save;
  // The state as it is when the top-k file is saved (Lightning updates the
  // top-k bookkeeping before saving, and `last` afterwards).
  ModelCheckpointState state_for_top_k_file;
  // The state after this plan; what `Commit` installs.
  ModelCheckpointState state_after;
  // The policy generation the plan was made against (checked by `Commit`).
  uint64_t generation = 0;
};

class ModelCheckpointPolicy {
 public:
  using FileExistsFn = std::function<bool(const std::string& path)>;

  // `known_metrics`: every metric name (as logged) the trainer may report.
  // InvalidArgument for an empty dirpath, save_top_k < -1, every_n_epochs <
  // 1, a monitor that is not in `known_metrics`, no monitor with save_top_k
  // > 1, or a template `ValidateTemplate` rejects.
  static absl::StatusOr<ModelCheckpointPolicy> Create(
      ModelCheckpointOptions options,
      absl::Span<const std::string> known_metrics);

  // Plans the saves and deletions after the validation of `epoch` (0-based)
  // at `step` completed optimizer steps, with `metrics` keyed as logged.
  // `exists` answers whether a file exists (injected for tests; the overload
  // without it uses `PathExists`). Does not change the policy.
  // InvalidArgument for a negative epoch or step, for a monitor missing from
  // `metrics` when top-k is considered (the error names it and lists the
  // available keys), or when the template cannot be rendered;
  // FailedPrecondition if no free `-vN` name is found in 100000 tries.
  absl::StatusOr<SavePlan> Plan(int64_t epoch, int64_t step,
                                const std::map<std::string, double>& metrics,
                                const FileExistsFn& exists) const;
  absl::StatusOr<SavePlan> Plan(
      int64_t epoch, int64_t step,
      const std::map<std::string, double>& metrics) const;

  // A plan that writes only the last checkpoint, whatever `save_last` says:
  // a mid-epoch preemption save. The same `last` naming (`last-vN` beside a
  // foreign last.ckpt) and deletion rules as `Plan`; top-k is untouched.
  absl::StatusOr<SavePlan> PlanLast(int64_t epoch, int64_t step,
                                    const FileExistsFn& exists) const;
  absl::StatusOr<SavePlan> PlanLast(int64_t epoch, int64_t step) const;

  // Installs `plan.state_after`. FailedPrecondition if the plan was not made
  // against the current state (an older plan, or one committed already).
  absl::Status Commit(const SavePlan& plan);

  // The checkpoint a run resumed from; it is never deleted.
  void SetResumePath(std::string path) { resume_path_ = std::move(path); }

  const ModelCheckpointOptions& options() const { return options_; }
  const ModelCheckpointState& state() const { return state_; }
  const std::string& best_model_path() const { return state_.best_model_path; }
  std::optional<double> best_model_score() const {
    return state_.best_model_score;
  }
  const std::string& last_model_path() const { return state_.last_model_path; }

  // `state` as the JSON object stored in checkpoints: {"monitor", "mode"
  // ("min"/"max"), "dirpath", "best_model_score", "best_model_path",
  // "current_score", "best_k_models" ([{"path", "score"}] in order),
  // "kth_best_model_path", "kth_value", "last_model_path"}. Paths inside
  // dirpath are written relative to it; unset scores are `null`; infinite
  // scores are the literals `Infinity` / `-Infinity`.
  std::string StateToJson(const ModelCheckpointState& state) const;
  std::string StateToJson() const { return StateToJson(state_); }

  // Restores a `StateToJson` object (resume). Relative paths are joined to
  // this policy's dirpath, so a moved run directory keeps its top-k state
  // (the stored "dirpath" is informational). FailedPrecondition if the state
  // was written for another monitor or mode; InvalidArgument for malformed
  // JSON or a missing or mistyped field.
  absl::Status RestoreStateFromJson(absl::string_view json);

 private:
  explicit ModelCheckpointPolicy(ModelCheckpointOptions options);
  absl::StatusOr<SavePlan> PlanImpl(
      int64_t epoch, int64_t step, const std::map<std::string, double>& metrics,
      const FileExistsFn& exists, bool consider_top_k, bool write_last) const;

  // The worst possible score in this mode.
  double WorstScore() const;
  // Whether `a` is strictly better than `b` in this mode.
  bool Better(double a, double b) const;
  // Whether `previous` may be deleted once `current` is written.
  bool MayDelete(const std::string& previous, const std::string& current) const;
  // `dirpath/stem.ckpt`, versioned while `exists` and not `allowed`.
  absl::StatusOr<std::string> FreePath(const std::string& stem,
                                       const FileExistsFn& exists,
                                       const std::string& allowed) const;

  ModelCheckpointOptions options_;
  ModelCheckpointState state_;
  std::string resume_path_;
  uint64_t generation_ = 0;
};

}  // namespace cvt

#endif  // LIBS_TRAIN_CHECKPOINT_POLICY_H_
