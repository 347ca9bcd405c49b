#include "libs/train/trainer.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <vector>

#include "ATen/ATen.h"
#include "ATen/Parallel.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/text_format.h"
#include "libs/adapters/make_output_adapter.h"
#include "libs/base/exceptions.h"
#include "libs/base/file_io.h"
#include "libs/base/json.h"
#include "libs/base/parallel.h"
#include "libs/base/sha256.h"
#include "libs/base/status_macros.h"
#include "libs/coco/category_map.h"
#include "libs/config/flatten_config.h"
#include "libs/data/detection_dataset.h"
#include "libs/data/detection_loader.h"
#include "libs/data/options_from_proto.h"
#include "libs/data/seed_mix.h"
#include "libs/dist/communicator.h"
#include "libs/eval/coco_eval.h"
#include "libs/models/make_detector.h"
#include "libs/tracking/run_writer.h"
#include "libs/train/adamw.h"
#include "libs/train/checkpoint_io.h"
#include "libs/train/checkpoint_policy.h"
#include "libs/train/early_stopping.h"
#include "libs/train/lr_schedule.h"
#include "libs/train/training_curves.h"

namespace cvt {
namespace {

constexpr char kToolVersion[] = "cvtools 0.5";
// Seeds the model's generator apart from the data seeds (MixSeed(seed, e)).
constexpr uint64_t kModelSeedTag = 0x6d6f64656cULL;  // "model"

std::atomic<int> g_stop_signal{0};

void OnStopSignal(int signal) { g_stop_signal.store(signal); }

class StopSignals {
 public:
  StopSignals() {
    g_stop_signal.store(0);
    struct sigaction sa = {};
    sa.sa_handler = OnStopSignal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, &old_term_);
    sigaction(SIGINT, &sa, &old_int_);
  }
  ~StopSignals() {
    sigaction(SIGTERM, &old_term_, nullptr);
    sigaction(SIGINT, &old_int_, nullptr);
  }

 private:
  struct sigaction old_term_ = {}, old_int_ = {};
};

void SetThreads(int threads) { at::set_num_threads(ResolveThreads(threads)); }

// Everything a run needs, built from a config and a data folder.
struct Session {
  PipelineConfig config;
  CategoryMap categories;
  std::unique_ptr<Detector> model;
  std::unique_ptr<OutputAdapter> adapter;
};

absl::StatusOr<Session> MakeSession(const PipelineConfig& config,
                                    const CategoryMap& categories) {
  Session s;
  s.config = config;
  s.categories = categories;
  at::manual_seed(static_cast<uint64_t>(
      MixSeed(config.trainer().seed(), kModelSeedTag) & 0x7fffffffffffffffULL));
  CVT_ASSIGN_OR_RETURN(s.model,
                       MakeDetector(config.model(), categories.size()));
  CVT_ASSIGN_OR_RETURN(s.adapter,
                       MakeOutputAdapter(config.model(), categories.size()));
  return s;
}

std::map<std::string, at::Tensor> ModelState(Detector& model) {
  std::map<std::string, at::Tensor> out;
  for (auto& [name, t] : model.named_parameters()) out[name] = t.detach();
  for (auto& [name, t] : model.named_buffers()) out[name] = t.detach();
  return out;
}

absl::Status LoadModelState(Detector& model,
                            const std::map<std::string, at::Tensor>& state,
                            const std::string& source) {
  at::NoGradGuard no_grad;
  for (NamedTensors named : {model.named_parameters(), model.named_buffers()}) {
    for (auto& [name, t] : named) {
      auto it = state.find(name);
      if (it == state.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat(source, ": missing tensor '", name, "'"));
      }
      if (!it->second.sizes().equals(t.sizes())) {
        return absl::InvalidArgumentError(
            absl::StrCat(source, ": tensor '", name, "' has the wrong shape"));
      }
      t.copy_(it->second);
    }
  }
  return absl::OkStatus();
}

// Parameter groups: (backbone or not) x (decay or not), empty ones dropped,
// in that order; named pg1.. for the lr metrics.
std::vector<AdamWGroup> MakeGroups(Detector& model,
                                   const OptimizerConfig& opt) {
  const std::string backbone = model.backbone_prefix();
  AdamWGroup groups[4];
  for (auto& [name, t] : model.named_parameters()) {
    if (!t.requires_grad()) continue;
    const bool is_backbone =
        !backbone.empty() && absl::StartsWith(name, backbone);
    const bool no_decay = opt.no_weight_decay_on_norm_and_bias() &&
                          (t.dim() <= 1 || absl::EndsWith(name, ".bias"));
    AdamWGroup& g = groups[(is_backbone ? 2 : 0) + (no_decay ? 1 : 0)];
    g.params.push_back(t);
    g.names.push_back(name);
  }
  std::vector<AdamWGroup> out;
  for (int i = 0; i < 4; ++i) {
    if (groups[i].params.empty()) continue;
    AdamWGroup g = std::move(groups[i]);
    g.lr = g.initial_lr =
        opt.lr() * (i >= 2 ? opt.backbone_lr_multiplier() : 1.0);
    g.weight_decay = (i % 2 == 1) ? 0.0 : opt.weight_decay();
    out.push_back(std::move(g));
  }
  return out;
}

// `value` serialised again (NaN and infinities as Python literals, which
// ParseJson reads back).
std::string RawJson(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer, rapidjson::UTF8<>,
                    rapidjson::UTF8<>, rapidjson::CrtAllocator,
                    rapidjson::kWriteNanAndInfFlag>
      writer(buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

// Every metric name validation and training may log (for checkpoint
// templates and monitors, checked at start-up).
std::vector<std::string> KnownMetrics(const OutputAdapter& adapter,
                                      bool with_map) {
  std::vector<std::string> out = {"train/loss", "train/loss_epoch", "val/loss"};
  for (const std::string& term : adapter.loss_terms()) {
    out.push_back("train/" + term);
    out.push_back("val/" + term);
  }
  if (!with_map) return out;
  for (const char* m :
       {"map", "map_50", "map_75", "map_small", "map_medium", "map_large",
        "mar_1", "mar_10", "mar_100", "mar_small", "mar_medium", "mar_large"}) {
    out.push_back(absl::StrCat("val/", m));
  }
  return out;
}

std::string LrMetricName(size_t group, size_t groups) {
  return groups == 1 ? "lr-AdamW" : absl::StrCat("lr-AdamW/pg", group + 1);
}

struct EvalOutcome {
  std::map<std::string, double> metrics;  // "<prefix>/map", ...
  CocoEvalResult eval;
  std::vector<CocoDetection> detections;
};

// Loss and COCO metrics over `loader` (one pass, no gradients).
// Batches used of `total` for a fraction in (0, 1]: ceil(fraction * total),
// at least 1.
int64_t LimitBatches(double fraction, int64_t total) {
  if (!(fraction > 0) || fraction >= 1) return total;
  return std::max<int64_t>(
      1,
      static_cast<int64_t>(std::ceil(fraction * static_cast<double>(total))));
}

// `gt` restricted to the images in `ids`.
CocoDataset RestrictTo(const CocoDataset& gt, const std::set<int64_t>& ids) {
  CocoDataset out;
  out.categories = gt.categories;
  for (const CocoImage& image : gt.images) {
    if (ids.count(image.id)) out.images.push_back(image);
  }
  for (const CocoAnnotation& a : gt.annotations) {
    if (ids.count(a.image_id)) out.annotations.push_back(a);
  }
  return out;
}

// Pools the ranks' evaluation: loss sums over images, detections and the
// image ids seen. An image seen by several ranks keeps the detections of the
// lowest one (shards are disjoint; this guards the metric against padded
// duplicates anyway).
absl::Status GatherEvaluation(Communicator& comm,
                              const std::vector<std::string>& term_names,
                              double& loss_sum, int64_t& images,
                              std::map<std::string, double>& term_sums,
                              std::vector<CocoDetection>& detections,
                              std::set<int64_t>& seen) {
  std::vector<double> sums = {loss_sum, static_cast<double>(images)};
  for (const std::string& name : term_names) sums.push_back(term_sums[name]);
  CVT_ASSIGN_OR_RETURN(sums, comm.Sum(sums));
  loss_sum = sums[0];
  images = static_cast<int64_t>(std::llround(sums[1]));
  for (size_t i = 0; i < term_names.size(); ++i) {
    term_sums[term_names[i]] = sums[i + 2];
  }
  const double rank = comm.rank();
  at::Tensor ids = at::empty({static_cast<int64_t>(seen.size()), 2},
                             at::TensorOptions().dtype(at::kDouble));
  double* i = ids.data_ptr<double>();
  for (int64_t id : seen) {
    *i++ = static_cast<double>(id);
    *i++ = rank;
  }
  at::Tensor dets = at::empty({static_cast<int64_t>(detections.size()), 8},
                              at::TensorOptions().dtype(at::kDouble));
  double* d = dets.data_ptr<double>();
  for (const CocoDetection& det : detections) {
    *d++ = static_cast<double>(det.image_id);
    *d++ = static_cast<double>(det.category_id);
    for (double v : det.bbox) *d++ = v;
    *d++ = det.score;
    *d++ = rank;
  }
  CVT_ASSIGN_OR_RETURN(at::Tensor all_ids, comm.AllGatherRows(ids));
  CVT_ASSIGN_OR_RETURN(at::Tensor all_dets, comm.AllGatherRows(dets));
  std::map<int64_t, int64_t> owner;  // image id -> lowest rank that saw it
  seen.clear();
  const double* a = all_ids.data_ptr<double>();
  for (int64_t row = 0; row < all_ids.size(0); ++row, a += 2) {
    const int64_t id = static_cast<int64_t>(a[0]);
    const int64_t r = static_cast<int64_t>(a[1]);
    auto [it, inserted] = owner.emplace(id, r);
    if (!inserted) it->second = std::min(it->second, r);
    seen.insert(id);
  }
  detections.clear();
  const double* g = all_dets.data_ptr<double>();
  for (int64_t i = 0; i < all_dets.size(0); ++i, g += 8) {
    CocoDetection det;
    det.image_id = static_cast<int64_t>(g[0]);
    det.category_id = static_cast<int64_t>(g[1]);
    det.bbox = {g[2], g[3], g[4], g[5]};
    det.score = g[6];
    if (owner[det.image_id] == static_cast<int64_t>(g[7])) {
      detections.push_back(det);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<EvalOutcome> RunEvaluation(Session& s, DetectionLoader& loader,
                                          const DetectionDataset& data,
                                          const std::string& prefix,
                                          bool compute_map,
                                          double limit_batches = 1.0,
                                          Communicator* comm = nullptr) {
  s.model->train(false);
  at::NoGradGuard no_grad;
  EvalOutcome out;
  CVT_RETURN_IF_ERROR(loader.StartEpoch(0));
  double loss_sum = 0;
  int64_t images = 0;
  std::map<std::string, double> term_sums;
  const int64_t max_batches =
      LimitBatches(limit_batches, loader.batches_per_epoch());
  std::set<int64_t> seen;
  for (int64_t b = 0; b < max_batches; ++b) {
    CVT_ASSIGN_OR_RETURN(std::optional<DetectionBatch> batch, loader.Next());
    if (!batch.has_value()) break;
    for (const DetectionTarget& t : batch->targets) seen.insert(t.image_id);
    CVT_ASSIGN_OR_RETURN(RawOutput raw,
                         s.model->Forward(batch->images, batch->pixel_mask));
    CVT_ASSIGN_OR_RETURN(std::vector<AdaptedTarget> targets,
                         s.adapter->AdaptTargets(batch->targets));
    CVT_ASSIGN_OR_RETURN(ModelOutput loss,
                         s.adapter->AdaptOutput(raw, targets));
    const double n = static_cast<double>(batch->size());
    loss_sum += loss.loss.item<double>() * n;
    for (auto& [name, t] : loss.terms) term_sums[name] += t.item<double>() * n;
    images += batch->size();
    if (compute_map) {
      CVT_ASSIGN_OR_RETURN(
          std::vector<CocoDetection> dets,
          s.adapter->FormatPredictions(raw, batch->targets, s.categories));
      out.detections.insert(out.detections.end(), dets.begin(), dets.end());
    }
  }
  s.model->train(true);
  bool all = max_batches >= loader.batches_per_epoch();
  if (comm != nullptr && comm->world_size() > 1) {
    CVT_RETURN_IF_ERROR(GatherEvaluation(*comm, s.adapter->loss_terms(),
                                         loss_sum, images, term_sums,
                                         out.detections, seen));
    all = all && static_cast<int64_t>(seen.size()) == data.size();
  }
  const double denom = std::max<int64_t>(images, 1);
  out.metrics[prefix + "/loss"] = loss_sum / denom;
  for (auto& [name, sum] : term_sums) {
    out.metrics[absl::StrCat(prefix, "/", name)] = sum / denom;
  }
  if (compute_map) {
    CocoEvalOptions options;
    options.gt_source = data.source_name();
    CVT_ASSIGN_OR_RETURN(
        out.eval, EvaluateCocoBbox(all ? data.ground_truth()
                                       : RestrictTo(data.ground_truth(), seen),
                                   out.detections, options));
    static const char* const kNames[12] = {
        "map",   "map_50", "map_75",  "map_small", "map_medium", "map_large",
        "mar_1", "mar_10", "mar_100", "mar_small", "mar_medium", "mar_large"};
    for (int i = 0; i < 12; ++i) {
      out.metrics[absl::StrCat(prefix, "/", kNames[i])] = out.eval.stats[i];
    }
    for (const CocoClassMetrics& c : out.eval.per_class) {
      const int index = s.categories.IndexOf(c.category_id);
      if (c.ap >= 0) {
        out.metrics[absl::StrCat(prefix, "/map_class_", index)] = c.ap;
      }
      if (c.ar100 >= 0) {
        out.metrics[absl::StrCat(prefix, "/mar_100_class_", index)] = c.ar100;
      }
    }
  }
  return out;
}

std::string NewestLast(const std::string& dir) {
  std::string best;
  int64_t best_mtime = -1;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return "";
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (!absl::StartsWith(name, "last") || !absl::EndsWith(name, ".ckpt")) {
      continue;
    }
    struct stat st;
    const std::string path = dir + "/" + name;
    if (stat(path.c_str(), &st) != 0) continue;
    if (MtimeNs(st) > best_mtime) {
      best_mtime = MtimeNs(st);
      best = path;
    }
  }
  closedir(d);
  return best;
}

bool HasCheckpoints(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return false;
  bool found = false;
  while (dirent* e = readdir(d)) {
    if (absl::EndsWith(e->d_name, ".ckpt")) found = true;
  }
  closedir(d);
  return found;
}

std::string ConfigText(const PipelineConfig& config) {
  std::string text;
  google::protobuf::TextFormat::PrintToString(config, &text);
  return text;
}

absl::StatusOr<PipelineConfig> ConfigFromText(const std::string& text,
                                              const std::string& source) {
  PipelineConfig config;
  if (!google::protobuf::TextFormat::ParseFromString(text, &config)) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": the stored config does not parse"));
  }
  return config;
}

}  // namespace

// ------------------------------------------------------------------ Fit ----

namespace {

class FitRun {
 public:
  FitRun(const PipelineConfig& config, const FitOptions& options)
      : config_(config), options_(options) {}

  absl::Status Run();

 private:
  absl::Status Prepare();
  absl::Status Resume();
  absl::Status TrainEpoch(int64_t epoch, int64_t skip_batches);
  absl::Status ValidateAndCheckpoint(int64_t epoch);
  absl::Status SaveCheckpoint(const std::string& path, int64_t epoch,
                              int64_t batch_in_epoch, bool epoch_complete,
                              const std::string& policy_state_json);
  absl::Status RecordCheckpoint(const std::string& path, int64_t epoch,
                                double value);
  absl::Status WriteIndex();
  absl::Status DeleteCheckpoints(const std::vector<std::string>& paths);
  absl::Status Log(const std::string& name, double value, int64_t epoch) {
    if (!root()) return absl::OkStatus();  // rank 0 writes the run directory
    return writer_->LogMetric(name, value, StepMetricsIndex(global_step_),
                              epoch);
  }
  bool root() const { return comm_ == nullptr || comm_->is_root(); }
  bool distributed() const {
    return comm_ != nullptr && comm_->world_size() > 1;
  }
  // Progress lines: rank 0 only.
  bool quiet() const { return options_.quiet || !root(); }
  absl::Status Connect();
  absl::Status SyncGradients(const std::vector<at::Tensor>& params,
                             bool stop_local, bool& stop_any);
  std::string CheckpointDir() const {
    return options_.run_dir + "/checkpoints";
  }
  // Batches trained per epoch (limit_train_batches applied).
  int64_t TrainBatchesPerEpoch() const {
    return LimitBatches(config_.trainer().limit_train_batches(),
                        train_loader_->batches_per_epoch());
  }
  std::string TrainerStateJson(const std::string& policy_state_json) const;
  absl::Status RestoreTrainerState(const std::string& json,
                                   const std::string& source);

  PipelineConfig config_;
  FitOptions options_;
  std::unique_ptr<Communicator> comm_;
  std::optional<DetectionDataset> train_, val_;
  Session session_;
  std::unique_ptr<DetectionLoader> train_loader_, val_loader_;
  std::unique_ptr<AdamW> optimizer_;
  std::optional<LrSchedule> schedule_;
  std::optional<ModelCheckpointPolicy> policy_;
  std::optional<EarlyStopping> early_stopping_;
  std::unique_ptr<RunWriter> writer_;
  TrainingCurves curves_;
  int64_t global_step_ = 0;
  int64_t start_epoch_ = 0;
  int64_t skip_batches_ = 0;
  int64_t skipped_batches_ = 0;
  int64_t consecutive_skips_ = 0;
  bool stop_requested_ = false;
  // Stopped by a signal or the test hook (on any rank): the run ends KILLED.
  bool preempted_ = false;
  std::map<std::string, double> last_val_metrics_;
  std::map<std::string, CheckpointRecord> index_;
  std::string preemption_path_;
  // Progress as a bar redrawn in place (stderr is a terminal).
  bool tty_ = isatty(2) != 0;
  // The epoch's training loss so far (kept in preemption saves).
  double epoch_loss_ = 0;
  int64_t epoch_images_ = 0;
};

absl::Status FitRun::Prepare() {
  // "All cores" is shared among the workers of one node.
  SetThreads(
      options_.threads == 0 && options_.dist.local_world_size > 1
          ? std::max(1, ResolveThreads(0) / options_.dist.local_world_size)
          : options_.threads);
  // CPU kernels are deterministic for a fixed thread count; ON/WARN also
  // make LibTorch refuse (or warn about) nondeterministic CUDA kernels.
  switch (config_.trainer().deterministic()) {
    case TrainerConfig::ON:
      at::globalContext().setDeterministicAlgorithms(true, false);
      break;
    case TrainerConfig::WARN:
      at::globalContext().setDeterministicAlgorithms(true, true);
      break;
    case TrainerConfig::OFF:
      at::globalContext().setDeterministicAlgorithms(false, false);
      break;
  }
  const DataConfig& data = config_.data();
  CVT_ASSIGN_OR_RETURN(DetectionDatasetOptions dataset_options,
                       DatasetOptionsFromProto(data));
  CVT_ASSIGN_OR_RETURN(
      DetectionDataset train,
      DetectionDataset::OpenPrepared(options_.data_dir, data.train_split(),
                                     dataset_options));
  CVT_ASSIGN_OR_RETURN(
      DetectionDataset val,
      DetectionDataset::OpenPrepared(options_.data_dir, data.val_split(),
                                     dataset_options));
  if (train.size() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(options_.data_dir, "/annotations/", data.train_split(),
                     ".json: the training split has no images"));
  }
  train_.emplace(std::move(train));
  val_.emplace(std::move(val));
  CVT_ASSIGN_OR_RETURN(session_, MakeSession(config_, train_->category_map()));
  Detector& model = *session_.model;
  if (distributed()) {
    // Every rank starts from rank 0's weights; dropout and other model
    // randomness differ per rank (rank 0 keeps the one-process stream).
    std::vector<at::Tensor> state;
    for (auto& [name, t] : model.named_parameters())
      state.push_back(t.detach());
    for (auto& [name, t] : model.named_buffers()) state.push_back(t.detach());
    CVT_RETURN_IF_ERROR(comm_->Broadcast(state));
    // Training-mode batch norm over all ranks (where the model has it and
    // its config asks). Errors surface as exceptions inside autograd and
    // reach Fit's boundary.
    model.SyncBatchNormAcrossRanks([this](std::vector<at::Tensor>& tensors) {
      absl::Status s = comm_->SumInPlace(tensors);
      if (!s.ok()) throw std::runtime_error(std::string(s.message()));
    });
    if (!root()) {
      at::manual_seed(static_cast<uint64_t>(
          MixSeed(config_.trainer().seed(), kModelSeedTag, comm_->rank()) &
          0x7fffffffffffffffULL));
    }
  }

  CVT_ASSIGN_OR_RETURN(TransformPipeline train_pipeline,
                       MakeTransformPipeline(config_.augmentation(), true));
  CVT_ASSIGN_OR_RETURN(TransformPipeline eval_pipeline,
                       MakeTransformPipeline(config_.augmentation(), false));
  CVT_ASSIGN_OR_RETURN(DetectionLoaderOptions train_options,
                       LoaderOptionsFromProto(data, true));
  train_options.seed = config_.trainer().seed();
  train_options.size_divisor = static_cast<int>(model.size_divisor());
  train_options.rank = comm_->rank();
  train_options.world_size = comm_->world_size();
  CVT_ASSIGN_OR_RETURN(
      train_loader_,
      DetectionLoader::Create(&*train_, train_pipeline, train_options));
  CVT_ASSIGN_OR_RETURN(DetectionLoaderOptions val_options,
                       LoaderOptionsFromProto(data, false));
  val_options.size_divisor = train_options.size_divisor;
  val_options.rank = comm_->rank();
  val_options.world_size = comm_->world_size();
  CVT_ASSIGN_OR_RETURN(
      val_loader_, DetectionLoader::Create(&*val_, eval_pipeline, val_options));

  const OptimizerConfig& opt = config_.optimizer();
  std::vector<AdamWGroup> groups = MakeGroups(model, opt);
  if (groups.empty()) {
    return absl::InvalidArgumentError("the model has no trainable parameters");
  }
  std::vector<double> base_lrs;
  for (size_t i = 0; i < groups.size(); ++i) {
    base_lrs.push_back(groups[i].initial_lr);
    int64_t count = 0;
    for (const at::Tensor& p : groups[i].params) count += p.numel();
    if (!quiet()) {
      std::cerr << absl::StrFormat(
          "train: %s: %d tensors, %d parameters, lr %g, weight decay %g\n",
          LrMetricName(i, 2), groups[i].params.size(), count, groups[i].lr,
          groups[i].weight_decay);
    }
  }
  optimizer_ = std::make_unique<AdamW>(
      std::move(groups), AdamWOptions{opt.beta1(), opt.beta2(), opt.eps()});

  CVT_ASSIGN_OR_RETURN(LrScheduleOptions schedule_options,
                       LrScheduleOptionsFromProto(config_.lr_schedule()));
  CVT_ASSIGN_OR_RETURN(
      int64_t steps_per_epoch,
      OptimizerStepsPerEpoch(
          TrainBatchesPerEpoch(),
          std::max<uint32_t>(1, opt.accumulate_grad_batches())));
  CVT_ASSIGN_OR_RETURN(
      int64_t total, TotalOptimizerSteps(
                         config_.trainer().max_epochs(), TrainBatchesPerEpoch(),
                         std::max<uint32_t>(1, opt.accumulate_grad_batches())));
  CVT_ASSIGN_OR_RETURN(
      LrSchedule schedule,
      LrSchedule::Create(schedule_options, base_lrs, total, steps_per_epoch));
  schedule_.emplace(std::move(schedule));

  CVT_ASSIGN_OR_RETURN(
      ModelCheckpointOptions checkpoint_options,
      ModelCheckpointOptionsFromProto(config_.checkpoint(), CheckpointDir()));
  CVT_ASSIGN_OR_RETURN(ModelCheckpointPolicy policy,
                       ModelCheckpointPolicy::Create(
                           checkpoint_options,
                           KnownMetrics(*session_.adapter,
                                        config_.trainer().compute_val_map())));
  policy_.emplace(std::move(policy));
  // Monitors must be metrics validation logs; without compute_val_map only
  // the losses are.
  if (!config_.trainer().compute_val_map()) {
    for (const auto& [field, monitor] :
         {std::pair<std::string, std::string>{"checkpoint.monitor",
                                              config_.checkpoint().monitor()},
          {"early_stopping.monitor", config_.early_stopping().enabled()
                                         ? config_.early_stopping().monitor()
                                         : std::string()}}) {
      if (absl::StartsWith(monitor, "val/ma")) {
        return absl::InvalidArgumentError(absl::StrCat(
            field, " is '", monitor,
            "' but trainer.compute_val_map is false, so it is never logged"));
      }
    }
  }
  if (config_.early_stopping().enabled()) {
    CVT_ASSIGN_OR_RETURN(
        EarlyStoppingOptions es,
        EarlyStoppingOptionsFromProto(config_.early_stopping()));
    CVT_ASSIGN_OR_RETURN(EarlyStopping early, EarlyStopping::Create(es));
    early_stopping_.emplace(std::move(early));
  }
  return absl::OkStatus();
}

std::string FitRun::TrainerStateJson(
    const std::string& policy_state_json) const {
  JsonWriter w;
  w.StartObject();
  w.Key("lr_schedule");
  w.Raw(schedule_->ToJson());
  w.Key("checkpoint");
  w.Raw(policy_state_json);
  w.Key("early_stopping");
  if (early_stopping_.has_value()) {
    w.Raw(EarlyStoppingStateToJson(early_stopping_->state()));
  } else {
    w.Null();
  }
  w.Key("metrics_offset");
  w.Int(writer_->metrics_offset());
  w.Key("skipped_batches");
  w.Int(skipped_batches_);
  w.Key("epoch_loss_sum");
  w.Double(epoch_loss_);
  w.Key("epoch_images");
  w.Int(epoch_images_);
  w.Key("world_size");
  w.Int(comm_->world_size());
  w.EndObject();
  absl::StatusOr<std::string> text = w.Finish();
  return text.ok() ? *text : "{}";
}

absl::Status FitRun::RestoreTrainerState(const std::string& json,
                                         const std::string& source) {
  CVT_ASSIGN_OR_RETURN(rapidjson::Document doc, ParseJson(json, source));
  const int64_t stored_world = doc.IsObject() && doc.HasMember("world_size") &&
                                       doc["world_size"].IsInt64()
                                   ? doc["world_size"].GetInt64()
                                   : 1;
  if (stored_world != comm_->world_size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": the checkpoint was written by ", stored_world,
        " process(es) and resuming needs the same world size (now ",
        comm_->world_size(), ")"));
  }
  auto raw = [&](const char* key) -> absl::StatusOr<std::string> {
    if (!doc.IsObject() || !doc.HasMember(key)) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": trainer_state has no '", key, "'"));
    }
    return RawJson(doc[key]);
  };
  CVT_ASSIGN_OR_RETURN(std::string schedule, raw("lr_schedule"));
  CVT_ASSIGN_OR_RETURN(LrSchedule restored, LrSchedule::FromJson(schedule));
  schedule_.emplace(std::move(restored));
  CVT_ASSIGN_OR_RETURN(std::string policy, raw("checkpoint"));
  CVT_RETURN_IF_ERROR(policy_->RestoreStateFromJson(policy));
  CVT_ASSIGN_OR_RETURN(std::string early, raw("early_stopping"));
  if (early_stopping_.has_value() && early != "null") {
    CVT_ASSIGN_OR_RETURN(EarlyStoppingState state,
                         EarlyStoppingStateFromJson(early));
    CVT_RETURN_IF_ERROR(early_stopping_->RestoreState(state));
  }
  CVT_ASSIGN_OR_RETURN(std::string offset, raw("metrics_offset"));
  if (root()) {
    CVT_RETURN_IF_ERROR(writer_->TruncateMetrics(std::stoll(offset)));
  }
  CVT_ASSIGN_OR_RETURN(std::string skipped, raw("skipped_batches"));
  skipped_batches_ = std::stoll(skipped);
  if (doc.HasMember("epoch_loss_sum") && doc["epoch_loss_sum"].IsNumber() &&
      doc.HasMember("epoch_images") && doc["epoch_images"].IsInt64()) {
    // Data parallel: the sums over all ranks, kept by rank 0.
    epoch_loss_ = root() ? doc["epoch_loss_sum"].GetDouble() : 0;
    epoch_images_ = root() ? doc["epoch_images"].GetInt64() : 0;
  }
  return absl::OkStatus();
}

absl::Status FitRun::Resume() {
  std::string path = options_.resume;
  if (path == "last" || path == "best") {
    const std::string last = NewestLast(CheckpointDir());
    if (last.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--resume ", path, ": no last*.ckpt in ", CheckpointDir()));
    }
    path = last;
  }
  CVT_ASSIGN_OR_RETURN(TrainingCheckpoint ckpt, ReadTrainingCheckpoint(path));
  if (options_.resume == "best") {
    CVT_RETURN_IF_ERROR(RestoreTrainerState(ckpt.trainer_state_json, path));
    const std::string best = policy_->best_model_path();
    if (best.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--resume best: ", path, " records no best checkpoint"));
    }
    std::cerr << "train: warning: resuming from the best checkpoint " << best
              << "; epochs after it are discarded\n";
    path = best;
    CVT_ASSIGN_OR_RETURN(ckpt, ReadTrainingCheckpoint(path));
  }
  CVT_ASSIGN_OR_RETURN(PipelineConfig stored,
                       ConfigFromText(ckpt.config_textproto, path));
  // The stored config wins; only the allow-listed fields may change.
  auto without_allowed = [](PipelineConfig c) {
    c.mutable_trainer()->clear_max_epochs();
    c.mutable_trainer()->clear_log_every_n_steps();
    c.mutable_early_stopping()->clear_patience();
    c.mutable_data()->clear_num_workers();
    c.mutable_data()->clear_prefetch_batches();
    return ConfigText(c);
  };
  if (without_allowed(stored) != without_allowed(config_)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--resume ", path,
        ": the config differs from the checkpoint's in fields that cannot "
        "change on resume (allowed: trainer.max_epochs, "
        "trainer.log_every_n_steps, early_stopping.patience, "
        "data.num_workers, data.prefetch_batches)"));
  }
  CVT_RETURN_IF_ERROR(LoadModelState(*session_.model, ckpt.state_dict, path));
  policy_->SetResumePath(path);
  CVT_RETURN_IF_ERROR(optimizer_->LoadState(ckpt.optimizer));
  CVT_RETURN_IF_ERROR(RestoreTrainerState(ckpt.trainer_state_json, path));
  at::Tensor rng = ckpt.rng_cpu;
  if (!root()) {
    const size_t index = static_cast<size_t>(comm_->rank()) - 1;
    rng = index < ckpt.rng_cpu_other_ranks.size()
              ? ckpt.rng_cpu_other_ranks[index]
              : at::Tensor();
  }
  if (rng.defined()) {
    at::Generator generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(rng);
  }
  global_step_ = ckpt.global_step;
  const std::vector<double> lrs = schedule_->CurrentLearningRates();
  for (size_t g = 0; g < lrs.size() && g < optimizer_->groups().size(); ++g) {
    optimizer_->groups()[g].lr = lrs[g];
  }
  if (ckpt.epoch_complete) {
    start_epoch_ = ckpt.epoch + 1;
    skip_batches_ = 0;
  } else {
    start_epoch_ = ckpt.epoch;
    skip_batches_ = ckpt.batch_in_epoch;
  }
  if (!quiet()) {
    std::cerr << "train: resumed from " << path << " at epoch " << start_epoch_
              << ", batch " << skip_batches_ << ", step " << global_step_
              << "\n";
  }
  return absl::OkStatus();
}

absl::Status FitRun::SaveCheckpoint(const std::string& path, int64_t epoch,
                                    int64_t batch_in_epoch, bool epoch_complete,
                                    const std::string& policy_state_json) {
  // Every rank's generator (a collective: all ranks call SaveCheckpoint at
  // the same points); rank 0 writes.
  at::Tensor rng = at::detail::getDefaultCPUGenerator().get_state();
  std::vector<at::Tensor> other_ranks;
  if (distributed()) {
    CVT_ASSIGN_OR_RETURN(at::Tensor all,
                         comm_->AllGatherRows(rng.unsqueeze(0)));
    for (int64_t r = 1; r < all.size(0); ++r)
      other_ranks.push_back(all[r].clone());
  }
  if (!root()) return absl::OkStatus();
  TrainingCheckpoint c;
  c.tool_version = kToolVersion;
  c.epoch = epoch;
  c.global_step = global_step_;
  c.batch_in_epoch = batch_in_epoch;
  c.epoch_complete = epoch_complete;
  c.state_dict = ModelState(*session_.model);
  c.optimizer = optimizer_->State();
  c.rng_cpu = rng;
  c.rng_cpu_other_ranks = std::move(other_ranks);
  c.trainer_state_json = TrainerStateJson(policy_state_json);
  c.config_textproto = ConfigText(config_);
  c.categories_json = session_.categories.ToJson();
  c.hyper_parameters_json = "{}";
  return WriteTrainingCheckpoint(c, path);
}

absl::Status FitRun::RecordCheckpoint(const std::string& path, int64_t epoch,
                                      double value) {
  if (!root()) return absl::OkStatus();
  CheckpointRecord r;
  r.file = path.substr(CheckpointDir().size() + 1);
  r.epoch = epoch;
  r.step = global_step_;
  r.monitor = config_.checkpoint().monitor();
  r.value = value;
  r.has_value = !std::isnan(value);
  CVT_ASSIGN_OR_RETURN(r.sha256, Sha256OfFile(path));
  struct stat st;
  if (stat(path.c_str(), &st) == 0) r.size = st.st_size;
  index_[r.file] = r;
  return absl::OkStatus();
}

absl::Status FitRun::DeleteCheckpoints(const std::vector<std::string>& paths) {
  if (!root()) return absl::OkStatus();
  for (const std::string& path : paths) {
    if (unlink(path.c_str()) != 0 && errno != ENOENT) {
      return ErrnoStatus(errno, "deleting", path);
    }
    index_.erase(path.substr(CheckpointDir().size() + 1));
  }
  return absl::OkStatus();
}

absl::Status FitRun::WriteIndex() {
  if (!root()) return absl::OkStatus();
  std::vector<CheckpointRecord> records;
  const std::string best = policy_->best_model_path();
  const std::string last = policy_->last_model_path();
  for (auto& [file, record] : index_) {
    const std::string full = CheckpointDir() + "/" + file;
    record.best = full == best;
    record.last = full == last;
    records.push_back(record);
  }
  return writer_->WriteCheckpointIndex(records);
}

absl::Status FitRun::Connect() {
  CommunicatorOptions options;
  options.timeout =
      absl::Seconds(std::max<int64_t>(1, options_.dist_timeout_s));
  CVT_ASSIGN_OR_RETURN(comm_, Communicator::Connect(options_.dist, options));
  if (distributed() && !options_.quiet) {
    std::cerr << absl::StrFormat(
        "train: rank %d of %d (local rank %d) joined %s:%d over Gloo\n",
        comm_->rank(), comm_->world_size(), options_.dist.local_rank,
        options_.dist.master_addr, options_.dist.master_port);
  }
  return absl::OkStatus();
}

absl::Status FitRun::SyncGradients(const std::vector<at::Tensor>& params,
                                   bool stop_local, bool& stop_any) {
  stop_any = stop_local;
  if (!distributed()) return absl::OkStatus();
  // One small all-reduce agrees on the stop flag and on which parameters
  // have gradients (one that only some ranks used gets zeros elsewhere, as
  // in DDP with find_unused_parameters), then the bucketed mean.
  std::vector<double> flags;
  flags.reserve(params.size() + 1);
  for (const at::Tensor& p : params)
    flags.push_back(p.grad().defined() ? 1 : 0);
  flags.push_back(stop_local ? 1 : 0);
  CVT_ASSIGN_OR_RETURN(flags, comm_->Sum(flags));
  stop_any = flags.back() > 0;
  std::vector<at::Tensor> grads;
  for (size_t i = 0; i < params.size(); ++i) {
    if (flags[i] == 0) continue;
    at::Tensor p = params[i];
    if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
    grads.push_back(p.grad());
  }
  return comm_->AllReduceMean(grads);
}

absl::Status FitRun::TrainEpoch(int64_t epoch, int64_t skip_batches) {
  const TrainerConfig& trainer = config_.trainer();
  const int64_t accumulate =
      std::max<uint32_t>(1, config_.optimizer().accumulate_grad_batches());
  const int64_t batches = TrainBatchesPerEpoch();
  CVT_RETURN_IF_ERROR(train_loader_->StartEpoch(epoch, skip_batches));
  session_.model->train(true);
  const std::vector<at::Tensor> params = optimizer_->AllParameters();
  int64_t batch_index = skip_batches;
  if (skip_batches == 0) {
    epoch_loss_ = 0;
    epoch_images_ = 0;
  }
  std::map<std::string, double> step_terms;
  double step_loss = 0;
  int64_t step_images = 0;
  auto window_start = std::chrono::steady_clock::now();
  int64_t window_images = 0;
  optimizer_->ZeroGrad();
  while (batch_index < batches) {
    CVT_ASSIGN_OR_RETURN(std::optional<DetectionBatch> batch,
                         train_loader_->Next());
    if (!batch.has_value()) break;
    CVT_ASSIGN_OR_RETURN(RawOutput raw, session_.model->Forward(
                                            batch->images, batch->pixel_mask));
    CVT_ASSIGN_OR_RETURN(std::vector<AdaptedTarget> targets,
                         session_.adapter->AdaptTargets(batch->targets));
    CVT_ASSIGN_OR_RETURN(ModelOutput out,
                         distributed()
                             ? session_.adapter->AdaptOutputAcrossRanks(
                                   raw, targets, comm_->world_size(),
                                   [this](const std::vector<double>& v) {
                                     return comm_->Sum(v);
                                   })
                             : session_.adapter->AdaptOutput(raw, targets));
    const double loss = out.loss.item<double>();
    ++batch_index;
    bool nonfinite = !std::isfinite(loss);
    if (distributed()) {
      // Every rank takes the same branch (skip or stop) for this batch.
      CVT_ASSIGN_OR_RETURN(std::vector<double> flags,
                           comm_->Sum({nonfinite ? 1.0 : 0.0}));
      nonfinite = flags[0] > 0;
    }
    if (nonfinite) {
      std::vector<std::string> ids;
      for (const DetectionTarget& t : batch->targets) {
        ids.push_back(absl::StrCat(t.image_id));
      }
      std::vector<std::string> terms;
      for (auto& [name, t] : out.terms) {
        terms.push_back(absl::StrCat(name, "=", t.item<double>()));
      }
      const std::string what = absl::StrCat(
          std::isfinite(loss) ? "another rank's" : "non-finite",
          " training loss ", loss, " at epoch ", epoch, ", batch ",
          batch_index - 1, ", step ", global_step_, " (images ",
          absl::StrJoin(ids, ","), "; terms ", absl::StrJoin(terms, ", "),
          "; lr ", optimizer_->groups()[0].lr, ")");
      if (trainer.on_nonfinite_loss() == TrainerConfig::SKIP &&
          ++consecutive_skips_ <= trainer.max_consecutive_skips()) {
        ++skipped_batches_;
        std::cerr << "train: warning: skipped the batch: " << what << "\n";
        optimizer_->ZeroGrad();
        continue;
      }
      return absl::DataLossError(what);
    }
    consecutive_skips_ = 0;
    (out.loss / static_cast<double>(accumulate)).backward();
    const double n = static_cast<double>(batch->size());
    epoch_loss_ += loss * n;
    epoch_images_ += batch->size();
    step_loss += loss * n;
    step_images += batch->size();
    window_images += batch->size();
    for (auto& [name, t] : out.terms) step_terms[name] += t.item<double>() * n;

    const bool boundary =
        batch_index % accumulate == 0 || batch_index == batches;
    if (!boundary) continue;
    // A stop (signal or test hook) on any rank stops all ranks after this
    // step.
    const bool stop_local = g_stop_signal.load() != 0 ||
                            (options_.stop_after_steps > 0 &&
                             global_step_ + 1 >= options_.stop_after_steps);
    bool stop_any = stop_local;
    CVT_RETURN_IF_ERROR(SyncGradients(params, stop_local, stop_any));
    const double grad_norm =
        ClipGradNorm(params, config_.optimizer().gradient_clip_norm());
    optimizer_->Step();
    optimizer_->ZeroGrad();
    ++global_step_;
    schedule_->Step();
    const std::vector<double> lrs = schedule_->CurrentLearningRates();
    for (size_t g = 0; g < lrs.size(); ++g) optimizer_->groups()[g].lr = lrs[g];

    if (ShouldLogStepMetrics(global_step_, trainer.log_every_n_steps())) {
      if (distributed()) {
        // The step's loss over all ranks' images.
        std::vector<double> sums = {step_loss, static_cast<double>(step_images),
                                    static_cast<double>(window_images)};
        const std::vector<std::string> names = session_.adapter->loss_terms();
        for (const std::string& name : names) sums.push_back(step_terms[name]);
        CVT_ASSIGN_OR_RETURN(sums, comm_->Sum(sums));
        step_loss = sums[0];
        step_images = static_cast<int64_t>(std::llround(sums[1]));
        window_images = static_cast<int64_t>(std::llround(sums[2]));
        for (size_t i = 0; i < names.size(); ++i) {
          step_terms[names[i]] = sums[i + 3];
        }
      }
      CVT_RETURN_IF_ERROR(Log("train/loss", step_loss / step_images, epoch));
      for (auto& [name, sum] : step_terms) {
        CVT_RETURN_IF_ERROR(Log("train/" + name, sum / step_images, epoch));
      }
      for (size_t g = 0; g < lrs.size(); ++g) {
        CVT_RETURN_IF_ERROR(Log(LrMetricName(g, lrs.size()),
                                optimizer_->groups()[g].lr, epoch));
      }
      CVT_RETURN_IF_ERROR(Log("grad_norm", grad_norm, epoch));
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                        window_start)
              .count();
      if (!quiet()) {
        const std::string line = absl::StrFormat(
            "train: epoch %d/%d batch %d/%d step %d loss %.4f lr %.3g "
            "%.1f img/s",
            epoch + 1, trainer.max_epochs(), batch_index, batches, global_step_,
            step_loss / step_images, optimizer_->groups()[0].lr,
            window_images / std::max(seconds, 1e-9));
        if (tty_) {
          // One status line redrawn in place, with a bar over the epoch.
          const int width = 20;
          const int filled = static_cast<int>(width * batch_index /
                                              std::max<int64_t>(batches, 1));
          std::cerr << "\r\x1b[K[" << std::string(filled, '#')
                    << std::string(width - filled, ' ') << "] " << line
                    << std::flush;
          if (batch_index == batches) std::cerr << "\n";
        } else {
          std::cerr << line << "\n";
        }
      }
      curves_.Add("train/loss", global_step_, step_loss / step_images);
      window_start = std::chrono::steady_clock::now();
      window_images = 0;
    }
    step_loss = 0;
    step_images = 0;
    step_terms.clear();

    if (stop_any) {
      stop_requested_ = true;
      preempted_ = true;
      if (batch_index < batches) {
        if (distributed()) {
          // The epoch's loss so far over all ranks, kept by rank 0.
          CVT_ASSIGN_OR_RETURN(
              std::vector<double> sums,
              comm_->Sum({epoch_loss_, static_cast<double>(epoch_images_)}));
          epoch_loss_ = root() ? sums[0] : 0;
          epoch_images_ =
              root() ? static_cast<int64_t>(std::llround(sums[1])) : 0;
        }
        // A preemption save: resume continues at the next batch. It is the
        // run's `last`, so the next epoch's `last` replaces it.
        CVT_ASSIGN_OR_RETURN(SavePlan plan,
                             policy_->PlanLast(epoch, global_step_));
        const std::string& last = *plan.last_path;
        CVT_RETURN_IF_ERROR(
            SaveCheckpoint(last, epoch, batch_index, false,
                           policy_->StateToJson(plan.state_after)));
        CVT_RETURN_IF_ERROR(policy_->Commit(plan));
        preemption_path_ = last;
        CVT_RETURN_IF_ERROR(RecordCheckpoint(last, epoch, std::nan("")));
        CVT_RETURN_IF_ERROR(DeleteCheckpoints(plan.paths_to_delete_after_save));
        CVT_RETURN_IF_ERROR(WriteIndex());
        return comm_->Barrier();
      }
      break;
    }
  }
  if (distributed()) {
    CVT_ASSIGN_OR_RETURN(
        std::vector<double> sums,
        comm_->Sum({epoch_loss_, static_cast<double>(epoch_images_)}));
    const double loss_sum = sums[0];
    const int64_t images = static_cast<int64_t>(std::llround(sums[1]));
    if (images > 0) {
      CVT_RETURN_IF_ERROR(Log("train/loss_epoch", loss_sum / images, epoch));
    }
    return absl::OkStatus();
  }
  if (epoch_images_ > 0) {
    CVT_RETURN_IF_ERROR(
        Log("train/loss_epoch", epoch_loss_ / epoch_images_, epoch));
  }
  return absl::OkStatus();
}

absl::Status FitRun::ValidateAndCheckpoint(int64_t epoch) {
  CVT_ASSIGN_OR_RETURN(
      EvalOutcome outcome,
      RunEvaluation(session_, *val_loader_, *val_, "val",
                    config_.trainer().compute_val_map(),
                    config_.trainer().limit_val_batches(), comm_.get()));
  for (const auto& [name, value] : outcome.metrics) {
    CVT_RETURN_IF_ERROR(Log(name, value, epoch));
  }
  last_val_metrics_ = outcome.metrics;
  if (config_.trainer().compute_val_map() && root()) {
    // The latest validation predictions (COCO results, original ids).
    CVT_RETURN_IF_ERROR(MakeDirs(options_.run_dir + "/predictions"));
    CVT_RETURN_IF_ERROR(WriteCocoResults(
        outcome.detections, options_.run_dir + "/predictions/val.json"));
  }
  if (outcome.metrics.count("val/map")) {
    curves_.Add("val/map", global_step_, outcome.metrics["val/map"]);
    curves_.Add("val/map_50", global_step_, outcome.metrics["val/map_50"]);
  }
  curves_.Add("val/loss", global_step_, outcome.metrics["val/loss"]);
  if (!quiet()) {
    std::cerr << absl::StrFormat("train: epoch %d validation: loss %.4f",
                                 epoch + 1, outcome.metrics["val/loss"]);
    if (outcome.metrics.count("val/map")) {
      std::cerr << absl::StrFormat(" mAP %.4f mAP50 %.4f",
                                   outcome.metrics["val/map"],
                                   outcome.metrics["val/map_50"]);
    }
    std::cerr << "\n";
  }
  bool stop = false;
  if (early_stopping_.has_value()) {
    auto it = outcome.metrics.find(early_stopping_->options().monitor);
    if (it == outcome.metrics.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "early_stopping.monitor '", early_stopping_->options().monitor,
          "' was not logged by validation"));
    }
    EarlyStoppingDecision d = early_stopping_->Check(it->second, epoch);
    if (d.stop) {
      if (root()) std::cerr << "train: " << d.reason << "\n";
      stop = true;
    }
  }
  CVT_ASSIGN_OR_RETURN(SavePlan plan,
                       policy_->Plan(epoch, global_step_, outcome.metrics));
  const double value = outcome.metrics.count(config_.checkpoint().monitor())
                           ? outcome.metrics[config_.checkpoint().monitor()]
                           : std::nan("");
  // Lightning's order: the top-k file (with the top-k bookkeeping already
  // updated), then last (with the state after this plan), then deletions.
  if (plan.top_k_path.has_value()) {
    CVT_RETURN_IF_ERROR(
        SaveCheckpoint(*plan.top_k_path, epoch, 0, true,
                       policy_->StateToJson(plan.state_for_top_k_file)));
    CVT_RETURN_IF_ERROR(RecordCheckpoint(*plan.top_k_path, epoch, value));
  }
  if (plan.last_path.has_value()) {
    CVT_RETURN_IF_ERROR(SaveCheckpoint(*plan.last_path, epoch, 0, true,
                                       policy_->StateToJson(plan.state_after)));
    CVT_RETURN_IF_ERROR(RecordCheckpoint(*plan.last_path, epoch, value));
  }
  CVT_RETURN_IF_ERROR(policy_->Commit(plan));
  CVT_RETURN_IF_ERROR(DeleteCheckpoints(plan.paths_to_delete_after_save));
  CVT_RETURN_IF_ERROR(WriteIndex());
  if (stop) stop_requested_ = true;
  // The other ranks wait while rank 0 writes.
  return comm_->Barrier();
}

absl::Status FitRun::Run() {
  if (options_.data_dir.empty() || options_.run_dir.empty()) {
    return absl::InvalidArgumentError("train fit needs --data and --run_dir");
  }
  // Join the other ranks first, so that a rank failing any check below
  // fails the others quickly instead of leaving them at the rendezvous.
  CVT_RETURN_IF_ERROR(Connect());
  if (options_.resume.empty() && !options_.exist_ok &&
      HasCheckpoints(CheckpointDir())) {
    return absl::InvalidArgumentError(absl::StrCat(
        CheckpointDir(),
        " already holds checkpoints: pass --resume last to continue that run, "
        "or --exist_ok to train a fresh run beside them"));
  }
  CVT_RETURN_IF_ERROR(Prepare());
  RunRecord info;
  info.run_name = absl::StrCat(session_.model->name(), "-", NowMs() / 1000);
  info.task = "detection";
  info.model_name = session_.model->name();
  info.hyperparameters = FlattenConfig(config_);
  for (const auto& [k, v] : config_.tracking().tags()) info.tags[k] = v;
  info.hyperparameters["trainer.world_size"] =
      absl::StrCat(comm_->world_size());
  info.hyperparameters["trainer.effective_batch_size"] = absl::StrCat(
      static_cast<int64_t>(config_.data().batch_size()) * comm_->world_size() *
      std::max<uint32_t>(1, config_.optimizer().accumulate_grad_batches()));
  if (!options_.resume.empty()) {
    absl::StatusOr<RunRecord> previous = ReadRunRecord(options_.run_dir);
    if (previous.ok()) {
      info.run_name = previous->run_name;
      info.start_time_ms = previous->start_time_ms;
    }
  }
  if (root()) {
    CVT_ASSIGN_OR_RETURN(writer_, RunWriter::Open(options_.run_dir, info));
  }
  if (!options_.resume.empty()) {
    CVT_RETURN_IF_ERROR(Resume());
    absl::StatusOr<std::vector<CheckpointRecord>> records =
        ReadCheckpointRecords(options_.run_dir);
    if (records.ok() && root()) {
      for (const CheckpointRecord& r : *records) index_[r.file] = r;
    }
  }
  StopSignals signals;
  absl::Status status = absl::OkStatus();
  const int64_t max_epochs = config_.trainer().max_epochs();
  const int64_t every =
      std::max<uint32_t>(1, config_.trainer().check_val_every_n_epoch());
  for (int64_t epoch = start_epoch_; epoch < max_epochs && status.ok();
       ++epoch) {
    status = TrainEpoch(epoch, epoch == start_epoch_ ? skip_batches_ : 0);
    if (!status.ok()) break;
    if (preempted_) break;
    if ((epoch + 1) % every == 0 || epoch + 1 == max_epochs) {
      status = ValidateAndCheckpoint(epoch);
      if (!status.ok()) break;
    }
    if (root()) CVT_RETURN_IF_ERROR(writer_->Heartbeat());
    // A signal during validation (on any rank) stops after it: its
    // checkpoints are written, so the run resumes at the next epoch.
    absl::StatusOr<std::vector<double>> signalled =
        comm_->Sum({g_stop_signal.load() != 0 ? 1.0 : 0.0});
    if (!signalled.ok()) {
      status = signalled.status();
      break;
    }
    if ((*signalled)[0] > 0) preempted_ = stop_requested_ = true;
    if (stop_requested_) break;
  }
  if (!root())
    return status.ok() && preempted_
               ? absl::AbortedError("stopped with the other ranks")
               : status;
  absl::Status plots =
      curves_.WritePng(options_.run_dir + "/plots/training_curves.png");
  if (!plots.ok() && !quiet()) {
    std::cerr << "train: warning: " << plots << "\n";
  }
  if (!status.ok()) {
    CVT_RETURN_IF_ERROR(writer_->Finish("FAILED"));
    return status;
  }
  if (preempted_) {
    CVT_RETURN_IF_ERROR(writer_->Finish("KILLED"));
    return absl::AbortedError(absl::StrCat(
        "stopped by ",
        g_stop_signal.load() == 0 && distributed()
            ? "a signal to another rank"
            : (g_stop_signal.load() == SIGINT ? "SIGINT" : "SIGTERM"),
        " at step ", global_step_, "; ",
        preemption_path_.empty() ? policy_->last_model_path()
                                 : preemption_path_,
        " holds the state: continue with --resume last"));
  }
  return writer_->Finish("FINISHED");
}

}  // namespace

absl::Status Fit(const PipelineConfig& config, const FitOptions& options) {
  FitRun run(config, options);
  return CallCatchingExceptions("training", [&] { return run.Run(); });
}

// ------------------------------------------------- Evaluate / Predict ----

namespace {

absl::StatusOr<Session> SessionFromCheckpoint(const std::string& path,
                                              int threads) {
  SetThreads(threads);
  CVT_ASSIGN_OR_RETURN(TrainingCheckpoint ckpt, ReadTrainingCheckpoint(path));
  CVT_ASSIGN_OR_RETURN(PipelineConfig config,
                       ConfigFromText(ckpt.config_textproto, path));
  CVT_ASSIGN_OR_RETURN(CategoryMap categories,
                       CategoryMap::FromJson(ckpt.categories_json, path));
  CVT_ASSIGN_OR_RETURN(Session s, MakeSession(config, categories));
  CVT_RETURN_IF_ERROR(LoadModelState(*s.model, ckpt.state_dict, path));
  return s;
}

// The evaluation loader of a checkpoint's config over `dataset` (no
// shuffling, no augmentation, disjoint shards).
absl::StatusOr<std::unique_ptr<DetectionLoader>> MakeEvalLoader(
    Session& s, const DetectionDataset& dataset) {
  CVT_ASSIGN_OR_RETURN(TransformPipeline pipeline,
                       MakeTransformPipeline(s.config.augmentation(), false));
  CVT_ASSIGN_OR_RETURN(DetectionLoaderOptions options,
                       LoaderOptionsFromProto(s.config.data(), false));
  options.size_divisor = static_cast<int>(s.model->size_divisor());
  return DetectionLoader::Create(&dataset, pipeline, options);
}

absl::Status CheckSameCategories(const CategoryMap& a, const CategoryMap& b,
                                 const std::string& source) {
  if (a.ToJson() != b.ToJson()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": its categories differ from the checkpoint's category map"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::map<std::string, double>> Evaluate(
    const EvaluateOptions& options) {
  return CallCatchingExceptions(
      "evaluating", [&]() -> absl::StatusOr<std::map<std::string, double>> {
        CVT_ASSIGN_OR_RETURN(
            Session s,
            SessionFromCheckpoint(options.checkpoint, options.threads));
        const DataConfig& data = s.config.data();
        const std::string split =
            options.split == "test" ? data.test_split() : data.val_split();
        CVT_ASSIGN_OR_RETURN(DetectionDatasetOptions dataset_options,
                             DatasetOptionsFromProto(data));
        CVT_ASSIGN_OR_RETURN(DetectionDataset dataset,
                             DetectionDataset::OpenPrepared(
                                 options.data_dir, split, dataset_options));
        CVT_RETURN_IF_ERROR(CheckSameCategories(
            s.categories, dataset.category_map(), dataset.source_name()));
        CVT_ASSIGN_OR_RETURN(std::unique_ptr<DetectionLoader> loader,
                             MakeEvalLoader(s, dataset));
        CVT_ASSIGN_OR_RETURN(
            EvalOutcome outcome,
            RunEvaluation(s, *loader, dataset, options.split, true));
        if (!options.quiet) std::cout << FormatCocoSummary(outcome.eval);
        if (!options.out_path.empty()) {
          JsonWriter w({.non_finite = NonFinitePolicy::kNull, .indent = 2});
          w.StartObject();
          for (const auto& [name, value] : outcome.metrics) {
            w.Key(name);
            w.Double(value);
          }
          w.EndObject();
          CVT_ASSIGN_OR_RETURN(std::string text, w.Finish());
          CVT_RETURN_IF_ERROR(
              WriteFileAtomically(options.out_path, text + "\n"));
        }
        return outcome.metrics;
      });
}

absl::Status Predict(const PredictOptions& options) {
  return CallCatchingExceptions("predicting", [&]() -> absl::Status {
    if (options.out_path.empty()) {
      return absl::InvalidArgumentError("train predict needs --out");
    }
    if (options.images_dir.empty() == options.data_dir.empty()) {
      return absl::InvalidArgumentError(
          "train predict needs exactly one of --images and --data");
    }
    CVT_ASSIGN_OR_RETURN(
        Session s, SessionFromCheckpoint(options.checkpoint, options.threads));
    const DataConfig& data = s.config.data();
    CVT_ASSIGN_OR_RETURN(DetectionDatasetOptions dataset_options,
                         DatasetOptionsFromProto(data));
    std::optional<DetectionDataset> dataset;
    if (!options.data_dir.empty()) {
      CVT_ASSIGN_OR_RETURN(
          DetectionDataset d,
          DetectionDataset::OpenPrepared(options.data_dir, data.test_split(),
                                         dataset_options));
      CVT_RETURN_IF_ERROR(
          CheckSameCategories(s.categories, d.category_map(), d.source_name()));
      dataset.emplace(std::move(d));
    } else {
      CocoDataset coco;
      coco.categories = s.categories.categories();
      DIR* d = opendir(options.images_dir.c_str());
      if (d == nullptr) {
        return ErrnoStatus(errno, "listing", options.images_dir);
      }
      std::vector<std::string> names;
      while (dirent* e = readdir(d)) {
        const std::string name = e->d_name;
        const std::string lower = absl::AsciiStrToLower(name);
        if (absl::EndsWith(lower, ".jpg") || absl::EndsWith(lower, ".jpeg") ||
            absl::EndsWith(lower, ".png")) {
          names.push_back(name);
        }
      }
      closedir(d);
      std::sort(names.begin(), names.end());
      if (names.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(options.images_dir, ": no .jpg/.jpeg/.png images"));
      }
      for (size_t i = 0; i < names.size(); ++i) {
        coco.images.push_back({static_cast<int64_t>(i + 1), names[i], 0, 0});
      }
      CVT_ASSIGN_OR_RETURN(
          DetectionDataset built,
          DetectionDataset::FromCoco(std::move(coco), options.images_dir,
                                     options.images_dir, s.categories,
                                     dataset_options));
      dataset.emplace(std::move(built));
    }
    CVT_ASSIGN_OR_RETURN(std::unique_ptr<DetectionLoader> loader,
                         MakeEvalLoader(s, *dataset));
    s.model->train(false);
    at::NoGradGuard no_grad;
    CVT_RETURN_IF_ERROR(loader->StartEpoch(0));
    std::vector<CocoDetection> all;
    while (true) {
      CVT_ASSIGN_OR_RETURN(std::optional<DetectionBatch> batch, loader->Next());
      if (!batch.has_value()) break;
      CVT_ASSIGN_OR_RETURN(RawOutput raw,
                           s.model->Forward(batch->images, batch->pixel_mask));
      CVT_ASSIGN_OR_RETURN(
          std::vector<CocoDetection> dets,
          s.adapter->FormatPredictions(raw, batch->targets, s.categories));
      all.insert(all.end(), dets.begin(), dets.end());
    }
    CVT_RETURN_IF_ERROR(WriteCocoResults(all, options.out_path));
    if (!options.quiet) {
      std::cerr << "train: wrote " << all.size() << " detections for "
                << dataset->size() << " images to " << options.out_path << "\n";
    }
    return absl::OkStatus();
  });
}

}  // namespace cvt
