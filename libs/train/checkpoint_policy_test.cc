#include "libs/train/checkpoint_policy.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/file_io.h"
#include "libs/base/status_matchers.h"
#include "libs/base/testdata.h"
#include "libs/config/checkpoint_config.pb.h"

namespace cvt {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Optional;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

constexpr double kInf = std::numeric_limits<double>::infinity();
const double kNan = std::nan("");
const std::vector<std::string> kMetrics = {"val/map", "val/map_50", "val/loss",
                                           "train_loss"};

std::string Name(absl::string_view filename_template, int64_t epoch,
                 int64_t step, const std::map<std::string, double>& metrics,
                 int version = 0) {
  absl::StatusOr<std::string> name =
      RenderCheckpointName(filename_template, epoch, step, metrics, version);
  EXPECT_THAT(name, IsOk());
  return name.ok() ? *name : "";
}

// A directory of fake files: applies plans the way the trainer does.
class FakeRun {
 public:
  explicit FakeRun(ModelCheckpointOptions options,
                   std::set<std::string> files = {})
      : files_(std::move(files)) {
    absl::StatusOr<ModelCheckpointPolicy> policy =
        ModelCheckpointPolicy::Create(std::move(options), kMetrics);
    EXPECT_THAT(policy, IsOk());
    policy_.emplace(*std::move(policy));
  }

  // Plans, "writes" and "deletes" the files, commits; returns the plan.
  SavePlan Validate(int64_t epoch, int64_t step,
                    const std::map<std::string, double>& metrics) {
    absl::StatusOr<SavePlan> plan =
        policy_->Plan(epoch, step, metrics, exists());
    EXPECT_THAT(plan, IsOk());
    if (!plan.ok()) return {};
    if (plan->top_k_path) files_.insert(*plan->top_k_path);
    if (plan->last_path) files_.insert(*plan->last_path);
    for (const std::string& path : plan->paths_to_delete_after_save) {
      EXPECT_EQ(files_.erase(path), 1u) << path;
    }
    EXPECT_THAT(policy_->Commit(*plan), IsOk());
    return *std::move(plan);
  }

  // Validation with only the monitored metric (val/map or val/loss).
  SavePlan ValidateMap(int64_t epoch, double value) {
    return Validate(epoch, 10 * (epoch + 1), {{"val/map", value}});
  }
  SavePlan ValidateLoss(int64_t epoch, double value) {
    return Validate(epoch, 10 * (epoch + 1), {{"val/loss", value}});
  }

  ModelCheckpointPolicy::FileExistsFn exists() const {
    return [this](const std::string& path) { return files_.count(path) > 0; };
  }

  ModelCheckpointPolicy& policy() { return *policy_; }
  std::set<std::string>& files() { return files_; }

 private:
  std::set<std::string> files_;
  std::optional<ModelCheckpointPolicy> policy_;
};

// ---------------------------------------------------------------------------
// File names.

TEST(RenderCheckpointNameTest, LightningDocumentedExamples) {
  EXPECT_EQ(Name("{epoch}-{val_loss:.2f}", 2, 0, {{"val_loss", 0.123456}}),
            "epoch=2-val_loss=0.12.ckpt");
  EXPECT_EQ(Name("{epoch:03d}", 5, 0, {}), "epoch=005.ckpt");
  EXPECT_EQ(Name("{epoch}-{step}", 0, 100, {}), "epoch=0-step=100.ckpt");
  // An empty template is Lightning's default "{epoch}-{step}".
  EXPECT_EQ(Name("", 0, 100, {}), "epoch=0-step=100.ckpt");
  EXPECT_EQ(Name("", 0, 100, {}, 2), "epoch=0-step=100-v2.ckpt");
}

TEST(RenderCheckpointNameTest, SlashesInTheStemBecomeUnderscores) {
  // The seed's template would have made a subdirectory "facebook/".
  EXPECT_EQ(Name("facebook/detr-resnet-50-{epoch}-{val_map:.2f}", 3, 0,
                 {{"val/map", 0.1234}}),
            "facebook_detr-resnet-50-epoch=3-val_map=0.12.ckpt");
  EXPECT_EQ(Name("a\\b-{epoch}", 1, 0, {}), "a_b-epoch=1.ckpt");
}

TEST(RenderCheckpointNameTest, SlashMetricsAreNamedWithUnderscores) {
  EXPECT_EQ(PlaceholderName("val/map"), "val_map");
  EXPECT_EQ(PlaceholderName("lr-AdamW/pg1"), "lr-AdamW_pg1");
  EXPECT_EQ(PlaceholderName("train_loss"), "train_loss");
  EXPECT_EQ(Name("{val_map:.4f}", 0, 0, {{"val/map", 0.51234}}),
            "val_map=0.5123.ckpt");
  // A metric literally named "val_map" wins over "val/map".
  EXPECT_EQ(Name("{val_map:.1f}", 0, 0, {{"val/map", 0.5}, {"val_map", 0.7}}),
            "val_map=0.7.ckpt");
}

TEST(RenderCheckpointNameTest, LongerNamesAreNotClobberedByPrefixes) {
  const std::map<std::string, double> metrics = {{"val/map", 0.5},
                                                 {"val/map_50", 0.75}};
  EXPECT_EQ(Name("{val_map}-{val_map_50:.3f}", 0, 0, metrics),
            "val_map=0.5-val_map_50=0.750.ckpt");
  EXPECT_EQ(Name("{val_map_50:.3f}-{val_map}", 0, 0, metrics),
            "val_map_50=0.750-val_map=0.5.ckpt");
  EXPECT_EQ(Name("{step}{epoch}{val_map_50:.1f}{val_map:.1f}", 4, 7, metrics),
            "step=7epoch=4val_map_50=0.8val_map=0.5.ckpt");
}

TEST(RenderCheckpointNameTest, FormatSpecs) {
  const std::map<std::string, double> m = {{"a", 0.000123456}, {"b", 1.0}};
  EXPECT_EQ(Name("{a:.2e}", 0, 0, m), "a=1.23e-04.ckpt");
  EXPECT_EQ(Name("{a:.3g}", 0, 0, m), "a=0.000123.ckpt");
  EXPECT_EQ(Name("{a:.0f}", 0, 0, m), "a=0.ckpt");
  EXPECT_EQ(Name("{b:.3g}", 0, 0, m), "b=1.ckpt");
  EXPECT_EQ(Name("{epoch:d}-{step:06d}", 12, 345, {}),
            "epoch=12-step=000345.ckpt");
  // Integers accept float formats, as in Python.
  EXPECT_EQ(Name("{epoch:.2f}", 2, 0, {}), "epoch=2.00.ckpt");
  EXPECT_EQ(Name("{step:.1e}", 0, 12345, {}), "step=1.2e+04.ckpt");
}

TEST(RenderCheckpointNameTest, NoSpecIsPythonStr) {
  const auto render = [](double value) {
    return Name("{x}", 0, 0, {{"x", value}});
  };
  EXPECT_EQ(render(0.5), "x=0.5.ckpt");
  EXPECT_EQ(render(1.0), "x=1.0.ckpt");
  EXPECT_EQ(render(-0.0), "x=-0.0.ckpt");
  EXPECT_EQ(render(0.0001), "x=0.0001.ckpt");
  EXPECT_EQ(render(0.00001), "x=1e-05.ckpt");
  EXPECT_EQ(render(1.5e-7), "x=1.5e-07.ckpt");
  EXPECT_EQ(render(123456.0), "x=123456.0.ckpt");
  EXPECT_EQ(render(1e16), "x=1e+16.ckpt");
  EXPECT_EQ(render(1234567890123456.0), "x=1234567890123456.0.ckpt");
  EXPECT_EQ(render(0.1 + 0.2), "x=0.30000000000000004.ckpt");
  EXPECT_EQ(render(1.5e300), "x=1.5e+300.ckpt");
}

TEST(RenderCheckpointNameTest, NonFiniteValues) {
  for (const char* spec : {"", ":.4f", ":.2e", ":.3g"}) {
    const std::string t = absl::StrCat("{x", spec, "}");
    EXPECT_EQ(Name(t, 0, 0, {{"x", kNan}}), "x=nan.ckpt") << t;
    EXPECT_EQ(Name(t, 0, 0, {{"x", -kNan}}), "x=nan.ckpt") << t;
    EXPECT_EQ(Name(t, 0, 0, {{"x", kInf}}), "x=inf.ckpt") << t;
    EXPECT_EQ(Name(t, 0, 0, {{"x", -kInf}}), "x=-inf.ckpt") << t;
  }
}

TEST(RenderCheckpointNameTest, Errors) {
  const auto error = [](absl::string_view t,
                        const std::map<std::string, double>& m = {}) {
    return RenderCheckpointName(t, 1, 2, m).status();
  };
  EXPECT_THAT(error("{epoch}-{val_map}"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("placeholder {val_map} has no value")));
  EXPECT_THAT(error("{epoch:5d}"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unsupported format spec \":5d\"")));
  EXPECT_THAT(error("{epoch:.2x}"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unsupported format spec")));
  EXPECT_THAT(error("{epoch:.f}"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unsupported format spec")));
  EXPECT_THAT(error("{epoch:00d}"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unsupported format spec")));
  EXPECT_THAT(error("{epoch"), StatusIs(absl::StatusCode::kInvalidArgument,
                                        HasSubstr("unclosed '{'")));
  EXPECT_THAT(error("epoch}"), StatusIs(absl::StatusCode::kInvalidArgument,
                                        HasSubstr("unmatched '}'")));
  EXPECT_THAT(error("{{epoch}}"), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("nested '{'")));
  EXPECT_THAT(error("{}"), StatusIs(absl::StatusCode::kInvalidArgument,
                                    HasSubstr("empty placeholder name")));
  EXPECT_THAT(error("{:d}"), StatusIs(absl::StatusCode::kInvalidArgument,
                                      HasSubstr("empty placeholder name")));
  EXPECT_THAT(error("{x:d}", {{"x", 1.0}}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("integer format \":d\" on the metric {x}")));
  EXPECT_THAT(error("{a_b}", {{"a/b", 1.0}, {"a_b/", 2.0}}), IsOk());
  EXPECT_THAT(
      error("{a_b_c}", {{"a/b_c", 1.0}, {"a_b/c", 2.0}}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ambiguous")));
  EXPECT_THAT(
      RenderCheckpointName("{epoch}", 0, 0, {}, -1),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("version")));
}

TEST(ValidateTemplateTest, ChecksPlaceholdersAgainstTheCatalogue) {
  EXPECT_THAT(ValidateTemplate("detr-{epoch}-{step}-{val_map:.4f}", kMetrics),
              IsOk());
  EXPECT_THAT(ValidateTemplate("{val_map_50:.3f}-{train_loss:.2e}", kMetrics),
              IsOk());
  EXPECT_THAT(ValidateTemplate("", {}), IsOk());
  EXPECT_THAT(ValidateTemplate("{epoch:03d}-{step:.1e}", {}), IsOk());
  EXPECT_THAT(
      ValidateTemplate("{epoch}-{val_mAP:.4f}", kMetrics),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("unknown placeholder {val_mAP}; known: epoch, step, "
                         "val_map (val/map), val_map_50 (val/map_50), "
                         "val_loss (val/loss), train_loss")));
  // The logged spelling matches exactly too (its '/' is sanitised to '_' in
  // the rendered stem), though configs write the '_' form.
  EXPECT_THAT(ValidateTemplate("{val/map}", kMetrics), IsOk());
  EXPECT_THAT(ValidateTemplate("{val_map:d}", kMetrics),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("integer format")));
  EXPECT_THAT(ValidateTemplate("{val_map:03d}", kMetrics),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("integer format")));
  EXPECT_THAT(ValidateTemplate("{epoch:x}", kMetrics),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unsupported format spec")));
  EXPECT_THAT(ValidateTemplate("{a_b}", {"a/b", "a_b"}), IsOk());
  EXPECT_THAT(ValidateTemplate("{a_b_c}", {"a/b_c", "a_b/c"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("ambiguous: it names a/b_c and a_b/c")));
}

// ---------------------------------------------------------------------------
// Construction.

TEST(ModelCheckpointPolicyTest, DefaultsMatchTheConfigSchema) {
  const ModelCheckpointOptions options;
  const CheckpointConfig config;
  EXPECT_EQ(options.monitor, config.monitor());
  EXPECT_EQ(options.mode, CheckpointMode::kMax);
  EXPECT_EQ(config.mode(), MonitorMode::MAX);
  EXPECT_EQ(options.save_top_k, config.save_top_k());
  EXPECT_EQ(options.save_last, config.save_last());
  EXPECT_EQ(options.filename, config.filename());
  EXPECT_EQ(options.every_n_epochs, config.every_n_epochs());
}

TEST(ModelCheckpointPolicyTest, OptionsFromProtoMapsEveryField) {
  CheckpointConfig config;
  config.set_monitor("val/loss");
  config.set_mode(MonitorMode::MIN);
  config.set_save_top_k(3);
  config.set_save_last(false);
  config.set_filename("m-{epoch}");
  config.set_every_n_epochs(2);
  absl::StatusOr<ModelCheckpointOptions> options =
      ModelCheckpointOptionsFromProto(config, "/run/checkpoints");
  ASSERT_THAT(options, IsOk());
  EXPECT_EQ(options->dirpath, "/run/checkpoints");
  EXPECT_EQ(options->monitor, "val/loss");
  EXPECT_EQ(options->mode, CheckpointMode::kMin);
  EXPECT_EQ(options->save_top_k, 3);
  EXPECT_FALSE(options->save_last);
  EXPECT_EQ(options->filename, "m-{epoch}");
  EXPECT_EQ(options->every_n_epochs, 2);

  config.set_every_n_epochs(0);
  EXPECT_THAT(ModelCheckpointOptionsFromProto(config, "d"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("CheckpointConfig: every_n_epochs")));
  config.set_every_n_epochs(1);
  config.set_save_top_k(-2);
  EXPECT_THAT(ModelCheckpointOptionsFromProto(config, "d"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("CheckpointConfig: save_top_k")));
}

TEST(ModelCheckpointPolicyTest, CreateRejectsBadOptions) {
  const auto create = [](ModelCheckpointOptions options) {
    return ModelCheckpointPolicy::Create(std::move(options), kMetrics).status();
  };
  EXPECT_THAT(create({}), StatusIs(absl::StatusCode::kInvalidArgument,
                                   HasSubstr("dirpath is empty")));
  EXPECT_THAT(create({.dirpath = "d", .save_top_k = -2}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("save_top_k must be >= -1")));
  EXPECT_THAT(create({.dirpath = "d", .every_n_epochs = 0}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("every_n_epochs must be >= 1")));
  EXPECT_THAT(create({.dirpath = "d",
                      .monitor = "",
                      .save_top_k = 2,
                      .filename = "{epoch}"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("without a monitor")));
  EXPECT_THAT(
      create({.dirpath = "d", .monitor = "val/mAP"}),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("monitor \"val/mAP\" is not among the logged metrics: "
                         "val/map, val/map_50, val/loss, train_loss")));
  EXPECT_THAT(create({.dirpath = "d", .filename = "{epoch}-{val_acc}"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unknown placeholder {val_acc}")));
  absl::StatusOr<ModelCheckpointPolicy> policy =
      ModelCheckpointPolicy::Create({.dirpath = "d", .filename = ""}, kMetrics);
  ASSERT_THAT(policy, IsOk());
  EXPECT_EQ(policy->options().filename, "{epoch}-{step}");
  EXPECT_EQ(policy->state().kth_value, -kInf);  // max mode: worst is -inf
}

// ---------------------------------------------------------------------------
// Top-k.

TEST(ModelCheckpointPolicyTest, TopKInMinModeRejectsTies) {
  FakeRun run({.dirpath = "/ck",
               .monitor = "val/loss",
               .mode = CheckpointMode::kMin,
               .save_top_k = 2,
               .save_last = false,
               .filename = "{epoch}"});
  EXPECT_EQ(run.policy().state().kth_value, kInf);

  SavePlan plan = run.ValidateLoss(0, 0.5);
  EXPECT_EQ(plan.top_k_path, "/ck/epoch=0.ckpt");
  EXPECT_EQ(plan.top_k_score, 0.5);
  EXPECT_FALSE(plan.evicted_path.has_value());
  EXPECT_THAT(plan.paths_to_delete_after_save, IsEmpty());
  EXPECT_FALSE(plan.last_path.has_value());
  EXPECT_EQ(run.policy().best_model_path(), "/ck/epoch=0.ckpt");
  EXPECT_THAT(run.policy().best_model_score(), Optional(0.5));
  EXPECT_EQ(run.policy().state().kth_best_model_path, "");  // not full yet

  plan = run.ValidateLoss(1, 0.4);
  EXPECT_EQ(plan.top_k_path, "/ck/epoch=1.ckpt");
  EXPECT_EQ(run.policy().best_model_path(), "/ck/epoch=1.ckpt");
  EXPECT_EQ(run.policy().state().kth_best_model_path, "/ck/epoch=0.ckpt");
  EXPECT_EQ(run.policy().state().kth_value, 0.5);

  // A tie with the kth is rejected; so is anything worse.
  plan = run.ValidateLoss(2, 0.5);
  EXPECT_FALSE(plan.top_k_path.has_value());
  plan = run.ValidateLoss(3, 0.9);
  EXPECT_FALSE(plan.top_k_path.has_value());
  EXPECT_THAT(plan.paths_to_delete_after_save, IsEmpty());

  // Strictly better than the kth: evicts it, deleted after the save.
  plan = run.ValidateLoss(4, 0.45);
  EXPECT_EQ(plan.top_k_path, "/ck/epoch=4.ckpt");
  EXPECT_EQ(plan.evicted_path, "/ck/epoch=0.ckpt");
  EXPECT_THAT(plan.paths_to_delete_after_save, ElementsAre("/ck/epoch=0.ckpt"));
  EXPECT_THAT(run.policy().state().best_k_models,
              ElementsAre(Pair("/ck/epoch=1.ckpt", 0.4),
                          Pair("/ck/epoch=4.ckpt", 0.45)));
  EXPECT_EQ(run.policy().state().kth_best_model_path, "/ck/epoch=4.ckpt");
  EXPECT_EQ(run.policy().state().kth_value, 0.45);
  EXPECT_EQ(run.policy().best_model_path(), "/ck/epoch=1.ckpt");
  EXPECT_THAT(run.policy().state().current_score, Optional(0.45));

  plan = run.ValidateLoss(5, 0.1);
  EXPECT_EQ(plan.evicted_path, "/ck/epoch=4.ckpt");
  EXPECT_EQ(run.policy().best_model_path(), "/ck/epoch=5.ckpt");
  EXPECT_THAT(run.policy().best_model_score(), Optional(0.1));
  EXPECT_THAT(run.files(),
              UnorderedElementsAre("/ck/epoch=1.ckpt", "/ck/epoch=5.ckpt"));
}

TEST(ModelCheckpointPolicyTest, TopKInMaxModeRanksNanWorst) {
  FakeRun run({.dirpath = "/ck",
               .save_top_k = 2,
               .save_last = false,
               .filename = "{epoch}"});
  // A NaN is accepted while fewer than k are kept, stored as -inf.
  SavePlan plan = run.ValidateMap(0, kNan);
  EXPECT_EQ(plan.top_k_path, "/ck/epoch=0.ckpt");
  EXPECT_EQ(plan.top_k_score, -kInf);
  EXPECT_THAT(run.policy().state().current_score, Optional(-kInf));
  EXPECT_THAT(run.policy().best_model_score(), Optional(-kInf));

  run.ValidateMap(1, 0.3);
  EXPECT_EQ(run.policy().best_model_path(), "/ck/epoch=1.ckpt");
  EXPECT_EQ(run.policy().state().kth_best_model_path, "/ck/epoch=0.ckpt");
  EXPECT_EQ(run.policy().state().kth_value, -kInf);

  // A NaN never beats the kth, even when the kth is the stored NaN (-inf).
  plan = run.ValidateMap(2, kNan);
  EXPECT_FALSE(plan.top_k_path.has_value());

  // The NaN entry is evicted first.
  plan = run.ValidateMap(3, 0.2);
  EXPECT_EQ(plan.evicted_path, "/ck/epoch=0.ckpt");
  EXPECT_THAT(plan.paths_to_delete_after_save, ElementsAre("/ck/epoch=0.ckpt"));
  EXPECT_EQ(run.policy().state().kth_value, 0.2);

  EXPECT_FALSE(run.ValidateMap(4, 0.2).top_k_path.has_value());  // tie
  EXPECT_FALSE(run.ValidateMap(5, kNan).top_k_path.has_value());
  plan = run.ValidateMap(6, 0.7);
  EXPECT_EQ(plan.evicted_path, "/ck/epoch=3.ckpt");
  EXPECT_EQ(run.policy().best_model_path(), "/ck/epoch=6.ckpt");
  EXPECT_THAT(run.policy().state().best_k_models,
              ElementsAre(Pair("/ck/epoch=1.ckpt", 0.3),
                          Pair("/ck/epoch=6.ckpt", 0.7)));
  EXPECT_THAT(run.files(),
              UnorderedElementsAre("/ck/epoch=1.ckpt", "/ck/epoch=6.ckpt"));
}

TEST(ModelCheckpointPolicyTest, EqualScoresGoToTheEarliestEntry) {
  FakeRun run({.dirpath = "/ck",
               .save_top_k = 3,
               .save_last = false,
               .filename = "{epoch}"});
  run.ValidateMap(0, 0.5);
  run.ValidateMap(1, 0.5);
  run.ValidateMap(2, 0.5);
  EXPECT_EQ(run.policy().best_model_path(), "/ck/epoch=0.ckpt");
  EXPECT_EQ(run.policy().state().kth_best_model_path, "/ck/epoch=0.ckpt");
  const SavePlan plan = run.ValidateMap(3, 0.6);
  EXPECT_EQ(plan.evicted_path, "/ck/epoch=0.ckpt");
  EXPECT_EQ(run.policy().state().kth_best_model_path, "/ck/epoch=1.ckpt");
}

TEST(ModelCheckpointPolicyTest, ClashingNamesAreVersioned) {
  // ".1f" renders 0.51 and 0.52 alike (the seed's ".2f" problem, D12).
  FakeRun run({.dirpath = "/ck",
               .save_top_k = 3,
               .save_last = false,
               .filename = "{val_map:.1f}"});
  EXPECT_EQ(run.ValidateMap(0, 0.51).top_k_path, "/ck/val_map=0.5.ckpt");
  EXPECT_EQ(run.ValidateMap(1, 0.52).top_k_path, "/ck/val_map=0.5-v1.ckpt");
  EXPECT_EQ(run.ValidateMap(2, 0.53).top_k_path, "/ck/val_map=0.5-v2.ckpt");
  // Full: evicts val_map=0.5.ckpt (0.51), whose name the new file may reuse:
  // it is overwritten, not versioned, and not deleted.
  const SavePlan plan = run.ValidateMap(3, 0.54);
  EXPECT_EQ(plan.evicted_path, "/ck/val_map=0.5.ckpt");
  EXPECT_EQ(plan.top_k_path, "/ck/val_map=0.5.ckpt");
  EXPECT_THAT(plan.paths_to_delete_after_save, IsEmpty());
  EXPECT_THAT(run.policy().state().best_k_models,
              ElementsAre(Pair("/ck/val_map=0.5-v1.ckpt", 0.52),
                          Pair("/ck/val_map=0.5-v2.ckpt", 0.53),
                          Pair("/ck/val_map=0.5.ckpt", 0.54)));
  EXPECT_EQ(run.policy().best_model_path(), "/ck/val_map=0.5.ckpt");
}

TEST(ModelCheckpointPolicyTest, ForeignFilesAreNeverOverwritten) {
  FakeRun run({.dirpath = "/ck", .save_last = false, .filename = "{epoch}"},
              {"/ck/epoch=0.ckpt", "/ck/epoch=0-v1.ckpt"});
  EXPECT_EQ(run.ValidateMap(0, 0.5).top_k_path, "/ck/epoch=0-v2.ckpt");
}

TEST(ModelCheckpointPolicyTest, SaveTopKAllKeepsEverything) {
  FakeRun run({.dirpath = "/ck",
               .mode = CheckpointMode::kMax,
               .save_top_k = -1,
               .save_last = false,
               .filename = "{epoch}"});
  for (int epoch = 0; epoch < 5; ++epoch) {
    const SavePlan plan = run.ValidateMap(epoch, epoch == 2 ? kNan : 0.1);
    EXPECT_TRUE(plan.top_k_path.has_value());
    EXPECT_FALSE(plan.evicted_path.has_value());
    EXPECT_THAT(plan.paths_to_delete_after_save, IsEmpty());
  }
  EXPECT_EQ(run.files().size(), 5u);
  EXPECT_EQ(run.policy().state().best_k_models.size(), 5u);
  EXPECT_EQ(run.policy().best_model_path(), "/ck/epoch=0.ckpt");
  EXPECT_EQ(run.policy().state().kth_best_model_path, "/ck/epoch=2.ckpt");
  EXPECT_EQ(run.policy().state().kth_value, -kInf);
}

TEST(ModelCheckpointPolicyTest, SaveTopKZeroWritesOnlyLast) {
  FakeRun run({.dirpath = "/ck", .save_top_k = 0, .filename = "{epoch}"});
  for (int epoch = 0; epoch < 3; ++epoch) {
    const SavePlan plan = run.Validate(epoch, epoch, {});  // no monitor needed
    EXPECT_FALSE(plan.top_k_path.has_value());
    EXPECT_EQ(plan.last_path, "/ck/last.ckpt");
    EXPECT_THAT(plan.paths_to_delete_after_save, IsEmpty());
  }
  EXPECT_THAT(run.files(), ElementsAre("/ck/last.ckpt"));
  EXPECT_EQ(run.policy().best_model_path(), "");
}

TEST(ModelCheckpointPolicyTest, SaveTopKOneKeepsTheBest) {
  FakeRun run({.dirpath = "/ck", .filename = "{epoch}-{val_map:.2f}"});
  SavePlan plan = run.ValidateMap(0, 0.3);
  EXPECT_EQ(plan.top_k_path, "/ck/epoch=0-val_map=0.30.ckpt");
  EXPECT_EQ(plan.last_path, "/ck/last.ckpt");
  plan = run.ValidateMap(1, 0.2);
  EXPECT_FALSE(plan.top_k_path.has_value());
  EXPECT_EQ(plan.last_path, "/ck/last.ckpt");
  plan = run.ValidateMap(2, 0.4);
  EXPECT_EQ(plan.top_k_path, "/ck/epoch=2-val_map=0.40.ckpt");
  EXPECT_THAT(plan.paths_to_delete_after_save,
              ElementsAre("/ck/epoch=0-val_map=0.30.ckpt"));
  EXPECT_THAT(run.files(), UnorderedElementsAre("/ck/epoch=2-val_map=0.40.ckpt",
                                                "/ck/last.ckpt"));
  EXPECT_EQ(run.policy().state().kth_best_model_path,
            "/ck/epoch=2-val_map=0.40.ckpt");
}

TEST(ModelCheckpointPolicyTest, EveryNEpochsGatesTopKButNotLast) {
  FakeRun run({.dirpath = "/ck",
               .save_top_k = -1,
               .filename = "{epoch}",
               .every_n_epochs = 3});
  std::vector<int64_t> top_k_epochs;
  for (int64_t epoch = 0; epoch < 9; ++epoch) {
    const SavePlan plan = run.ValidateMap(epoch, 0.1 * epoch);
    if (plan.top_k_path) top_k_epochs.push_back(epoch);
    EXPECT_EQ(plan.last_path, "/ck/last.ckpt") << epoch;
  }
  EXPECT_THAT(top_k_epochs, ElementsAre(2, 5, 8));
  // Off-cycle epochs do not even need the monitor.
  EXPECT_THAT(run.policy().Plan(9, 100, {}, run.exists()), IsOk());
  EXPECT_THAT(run.policy().Plan(11, 100, {}, run.exists()),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ModelCheckpointPolicyTest, MissingMonitorIsAnErrorNamingIt) {
  FakeRun run({.dirpath = "/ck", .filename = "{epoch}"});
  EXPECT_THAT(
      run.policy().Plan(0, 10, {{"val/loss", 1.0}, {"val_map", 0.5}},
                        run.exists()),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("the monitored metric \"val/map\" is missing from "
                         "this validation's metrics (available: val/loss, "
                         "val_map)")));
  EXPECT_THAT(run.policy().Plan(-1, 0, {{"val/map", 1.0}}, run.exists()),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ModelCheckpointPolicyTest, TemplateMetricMissingAtRenderTime) {
  FakeRun run({.dirpath = "/ck", .filename = "{epoch}-{val_loss:.3f}"});
  EXPECT_THAT(run.policy().Plan(0, 10, {{"val/map", 0.5}}, run.exists()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("{val_loss} has no value")));
  absl::StatusOr<SavePlan> plan = run.policy().Plan(
      0, 10, {{"val/map", 0.5}, {"val/loss", 2.0}}, run.exists());
  ASSERT_THAT(plan, IsOk());
  EXPECT_EQ(plan->top_k_path, "/ck/epoch=0-val_loss=2.000.ckpt");
}

TEST(ModelCheckpointPolicyTest, WithoutMonitorTopOneKeepsTheNewest) {
  FakeRun run({.dirpath = "/ck",
               .monitor = "",
               .save_top_k = 1,
               .save_last = false,
               .filename = "{epoch}-{step}"});
  run.Validate(0, 10, {});
  const SavePlan plan = run.Validate(1, 20, {});
  EXPECT_EQ(plan.top_k_path, "/ck/epoch=1-step=20.ckpt");
  EXPECT_FALSE(plan.top_k_score.has_value());
  EXPECT_THAT(plan.paths_to_delete_after_save,
              ElementsAre("/ck/epoch=0-step=10.ckpt"));
  EXPECT_EQ(run.policy().best_model_path(), "/ck/epoch=1-step=20.ckpt");
  EXPECT_THAT(run.policy().state().best_k_models, IsEmpty());

  FakeRun all({.dirpath = "/ck",
               .monitor = "",
               .save_top_k = -1,
               .save_last = false,
               .filename = "{epoch}"});
  all.Validate(0, 10, {});
  all.Validate(1, 20, {});
  EXPECT_EQ(all.files().size(), 2u);
}

// ---------------------------------------------------------------------------
// last.ckpt.

TEST(ModelCheckpointPolicyTest, LastIsRefreshedEveryValidation) {
  FakeRun run({.dirpath = "/ck", .filename = "{epoch}"});
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    const SavePlan plan = run.ValidateMap(epoch, 0.5 - 0.1 * epoch);
    EXPECT_EQ(plan.last_path, "/ck/last.ckpt");
  }
  EXPECT_EQ(run.policy().last_model_path(), "/ck/last.ckpt");
  // The top-k file embeds the state before `last` moves, the last file after.
  absl::StatusOr<SavePlan> plan =
      run.policy().Plan(3, 40, {{"val/map", 0.9}}, run.exists());
  ASSERT_THAT(plan, IsOk());
  EXPECT_EQ(plan->state_for_top_k_file.best_model_path, "/ck/epoch=3.ckpt");
  EXPECT_EQ(plan->state_after.best_model_path, "/ck/epoch=3.ckpt");
  EXPECT_EQ(plan->state_after.last_model_path, "/ck/last.ckpt");
}

TEST(ModelCheckpointPolicyTest, FreshRunIntoADirWithLastWritesLastV1) {
  // Lightning #5030 / #11451: an earlier run left last.ckpt behind.
  FakeRun run({.dirpath = "/ck", .save_top_k = 0},
              {"/ck/last.ckpt", "/ck/epoch=7.ckpt"});
  SavePlan plan = run.Validate(0, 10, {});
  EXPECT_EQ(plan.last_path, "/ck/last-v1.ckpt");
  EXPECT_THAT(plan.paths_to_delete_after_save, IsEmpty());
  // From then on this run keeps writing last-v1.ckpt, and never deletes the
  // other run's last.ckpt.
  plan = run.Validate(1, 20, {});
  EXPECT_EQ(plan.last_path, "/ck/last-v1.ckpt");
  EXPECT_THAT(plan.paths_to_delete_after_save, IsEmpty());
  EXPECT_THAT(run.files(),
              UnorderedElementsAre("/ck/last.ckpt", "/ck/last-v1.ckpt",
                                   "/ck/epoch=7.ckpt"));
}

TEST(ModelCheckpointPolicyTest, LastMovesBackWhenTheOldOneIsFreed) {
  FakeRun run({.dirpath = "/ck", .save_top_k = 0}, {"/ck/last.ckpt"});
  run.Validate(0, 10, {});
  EXPECT_EQ(run.policy().last_model_path(), "/ck/last-v1.ckpt");
  run.files().erase("/ck/last.ckpt");  // the user removes the stale file
  const SavePlan plan = run.Validate(1, 20, {});
  EXPECT_EQ(plan.last_path, "/ck/last.ckpt");
  EXPECT_THAT(plan.paths_to_delete_after_save, ElementsAre("/ck/last-v1.ckpt"));
  EXPECT_THAT(run.files(), ElementsAre("/ck/last.ckpt"));
}

TEST(ModelCheckpointPolicyTest, TopKFileNamedLastIsNotClobbered) {
  FakeRun run({.dirpath = "/ck", .save_top_k = -1, .filename = "last"});
  const SavePlan plan = run.ValidateMap(0, 0.5);
  EXPECT_EQ(plan.top_k_path, "/ck/last.ckpt");
  EXPECT_EQ(plan.last_path, "/ck/last-v1.ckpt");
}

// ---------------------------------------------------------------------------
// Plan / Commit.

TEST(ModelCheckpointPolicyTest, PlanDoesNotChangeTheStateUntilCommit) {
  FakeRun run({.dirpath = "/ck", .filename = "{epoch}"});
  absl::StatusOr<SavePlan> plan =
      run.policy().Plan(0, 10, {{"val/map", 0.5}}, run.exists());
  ASSERT_THAT(plan, IsOk());
  EXPECT_EQ(run.policy().best_model_path(), "");
  EXPECT_EQ(run.policy().last_model_path(), "");
  absl::StatusOr<SavePlan> again =
      run.policy().Plan(0, 10, {{"val/map", 0.5}}, run.exists());
  ASSERT_THAT(again, IsOk());
  ASSERT_THAT(run.policy().Commit(*plan), IsOk());
  EXPECT_EQ(run.policy().best_model_path(), "/ck/epoch=0.ckpt");
  EXPECT_THAT(run.policy().Commit(*plan),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(run.policy().Commit(*again),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("older state")));
}

TEST(ModelCheckpointPolicyTest, DefaultExistsUsesTheFileSystem) {
  const std::string dir = TestTempPath("stat_dir");
  ASSERT_THAT(MakeDirs(dir), IsOk());
  ASSERT_THAT(WriteFileAtomically(dir + "/epoch=0.ckpt", "x"), IsOk());
  ASSERT_THAT(WriteFileAtomically(dir + "/last.ckpt", "x"), IsOk());
  EXPECT_TRUE(PathExists(dir + "/last.ckpt"));
  EXPECT_FALSE(PathExists(dir + "/missing.ckpt"));
  absl::StatusOr<ModelCheckpointPolicy> policy = ModelCheckpointPolicy::Create(
      {.dirpath = dir, .filename = "{epoch}"}, kMetrics);
  ASSERT_THAT(policy, IsOk());
  absl::StatusOr<SavePlan> plan = policy->Plan(0, 5, {{"val/map", 0.5}});
  ASSERT_THAT(plan, IsOk());
  EXPECT_EQ(plan->top_k_path, dir + "/epoch=0-v1.ckpt");
  EXPECT_EQ(plan->last_path, dir + "/last-v1.ckpt");
}

TEST(ModelCheckpointPolicyTest, InfiniteVersionsFail) {
  absl::StatusOr<ModelCheckpointPolicy> policy = ModelCheckpointPolicy::Create(
      {.dirpath = "/ck", .filename = "{epoch}"}, kMetrics);
  ASSERT_THAT(policy, IsOk());
  EXPECT_THAT(policy->Plan(0, 5, {{"val/map", 0.5}},
                           [](const std::string&) { return true; }),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("no free name")));
}

// ---------------------------------------------------------------------------
// State.

TEST(ModelCheckpointStateTest, JsonStoresPathsRelativeToDirpath) {
  FakeRun run({.dirpath = "/run/ck",
               .save_top_k = 2,
               .filename = "{epoch}-{val_map:.2f}"});
  run.ValidateMap(0, kNan);
  run.ValidateMap(1, 0.25);
  EXPECT_EQ(
      run.policy().StateToJson(),
      "{\"monitor\":\"val/map\",\"mode\":\"max\",\"dirpath\":\"/run/ck\","
      "\"best_model_score\":0.25,\"best_model_path\":\"epoch=1-val_map=0.25."
      "ckpt\",\"current_score\":0.25,\"best_k_models\":[{\"path\":\"epoch=0-"
      "val_map=nan.ckpt\",\"score\":-Infinity},{\"path\":\"epoch=1-val_map=0."
      "25.ckpt\",\"score\":0.25}],\"kth_best_model_path\":\"epoch=0-val_map="
      "nan.ckpt\",\"kth_value\":-Infinity,\"last_model_path\":\"last.ckpt\"}");

  absl::StatusOr<ModelCheckpointPolicy> fresh =
      ModelCheckpointPolicy::Create({.dirpath = "/run/ck",
                                     .save_top_k = 2,
                                     .filename = "{epoch}-{val_map:.2f}"},
                                    kMetrics);
  ASSERT_THAT(fresh, IsOk());
  EXPECT_EQ(fresh->StateToJson(),
            "{\"monitor\":\"val/map\",\"mode\":\"max\",\"dirpath\":\"/run/ck\","
            "\"best_model_score\":null,\"best_model_path\":\"\","
            "\"current_score\":null,\"best_k_models\":[],"
            "\"kth_best_model_path\":\"\",\"kth_value\":-Infinity,"
            "\"last_model_path\":\"\"}");
}

TEST(ModelCheckpointStateTest, RoundTripAfterMovingTheRunDirectory) {
  const ModelCheckpointOptions options = {.dirpath = "/old/ck",
                                          .monitor = "val/loss",
                                          .mode = CheckpointMode::kMin,
                                          .save_top_k = 2,
                                          .filename = "{epoch}"};
  FakeRun run(options);
  run.ValidateLoss(0, 0.9);
  run.ValidateLoss(1, 0.5);
  run.ValidateLoss(2, 0.7);
  const std::string json = run.policy().StateToJson();

  // Resume in /new/ck, where the files now live (AC8).
  ModelCheckpointOptions moved = options;
  moved.dirpath = "/new/ck/";  // a trailing slash changes nothing
  std::set<std::string> files;
  for (const std::string& path : run.files()) {
    files.insert("/new/ck/" + path.substr(std::string("/old/ck/").size()));
  }
  FakeRun resumed(moved, files);
  ASSERT_THAT(resumed.policy().RestoreStateFromJson(json), IsOk());
  const ModelCheckpointState& state = resumed.policy().state();
  EXPECT_THAT(state.best_k_models,
              ElementsAre(Pair("/new/ck/epoch=1.ckpt", 0.5),
                          Pair("/new/ck/epoch=2.ckpt", 0.7)));
  EXPECT_EQ(state.kth_best_model_path, "/new/ck/epoch=2.ckpt");
  EXPECT_EQ(state.kth_value, 0.7);
  EXPECT_EQ(state.best_model_path, "/new/ck/epoch=1.ckpt");
  EXPECT_THAT(state.best_model_score, Optional(0.5));
  EXPECT_THAT(state.current_score, Optional(0.7));
  EXPECT_EQ(state.last_model_path, "/new/ck/last.ckpt");

  // It keeps writing last.ckpt and evicts the restored kth.
  const SavePlan plan = resumed.ValidateLoss(3, 0.6);
  EXPECT_EQ(plan.last_path, "/new/ck/last.ckpt");
  EXPECT_EQ(plan.top_k_path, "/new/ck/epoch=3.ckpt");
  EXPECT_THAT(plan.paths_to_delete_after_save,
              ElementsAre("/new/ck/epoch=2.ckpt"));
  // Round trip of the restored state is the identity (up to the dirpath).
  absl::StatusOr<ModelCheckpointPolicy> again =
      ModelCheckpointPolicy::Create(moved, kMetrics);
  ASSERT_THAT(again, IsOk());
  ASSERT_THAT(again->RestoreStateFromJson(resumed.policy().StateToJson()),
              IsOk());
  EXPECT_EQ(again->StateToJson(), resumed.policy().StateToJson());
}

TEST(ModelCheckpointStateTest, NeverDeletesOutsideDirpathOrTheResumeSource) {
  const ModelCheckpointOptions options = {.dirpath = "/ck",
                                          .save_top_k = 1,
                                          .save_last = false,
                                          .filename = "{epoch}"};
  FakeRun run(options, {"/ck/../elsewhere/epoch=0.ckpt"});
  ASSERT_THAT(
      run.policy().RestoreStateFromJson(
          "{\"monitor\":\"val/map\",\"mode\":\"max\",\"dirpath\":\"/x\","
          "\"best_model_score\":0.1,\"best_model_path\":\"../elsewhere/"
          "epoch=0.ckpt\",\"current_score\":0.1,\"best_k_models\":[{\"path\":"
          "\"../elsewhere/epoch=0.ckpt\",\"score\":0.1}],"
          "\"kth_best_model_path\":\"../elsewhere/epoch=0.ckpt\","
          "\"kth_value\":0.1,\"last_model_path\":\"\"}"),
      IsOk());
  SavePlan plan = run.ValidateMap(1, 0.2);
  EXPECT_EQ(plan.evicted_path, "/ck/../elsewhere/epoch=0.ckpt");
  EXPECT_THAT(plan.paths_to_delete_after_save, IsEmpty());

  // The checkpoint a run resumed from is kept too.
  run.policy().SetResumePath("/ck/./epoch=1.ckpt");
  plan = run.ValidateMap(2, 0.3);
  EXPECT_EQ(plan.evicted_path, "/ck/epoch=1.ckpt");
  EXPECT_THAT(plan.paths_to_delete_after_save, IsEmpty());
  plan = run.ValidateMap(3, 0.4);
  EXPECT_THAT(plan.paths_to_delete_after_save, ElementsAre("/ck/epoch=2.ckpt"));
}

TEST(ModelCheckpointStateTest, RelativeDirpathWorks) {
  FakeRun run({.dirpath = "run/ck", .filename = "{epoch}"});
  run.ValidateMap(0, 0.1);
  const SavePlan plan = run.ValidateMap(1, 0.2);
  EXPECT_EQ(plan.top_k_path, "run/ck/epoch=1.ckpt");
  EXPECT_THAT(plan.paths_to_delete_after_save,
              ElementsAre("run/ck/epoch=0.ckpt"));
  EXPECT_THAT(run.policy().StateToJson(),
              HasSubstr("\"best_model_path\":\"epoch=1.ckpt\""));
}

TEST(ModelCheckpointStateTest, RestoreRejectsForeignOrMalformedState) {
  absl::StatusOr<ModelCheckpointPolicy> policy = ModelCheckpointPolicy::Create(
      {.dirpath = "/ck", .filename = "{epoch}"}, kMetrics);
  ASSERT_THAT(policy, IsOk());
  const std::string good = policy->StateToJson();
  ASSERT_THAT(policy->RestoreStateFromJson(good), IsOk());

  std::string bad = good;
  bad.replace(bad.find("\"max\""), 5, "\"min\"");
  EXPECT_THAT(policy->RestoreStateFromJson(bad),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("ranks \"val/map\" (min), but this run ranks "
                                 "\"val/map\" (max)")));
  bad = good;
  bad.replace(bad.find("\"val/map\""), 9, "\"val/loss\"");
  EXPECT_THAT(policy->RestoreStateFromJson(bad),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  bad = good;
  bad.replace(bad.find("\"kth_value\":-Infinity"), 21, "\"kth_value\":null");
  EXPECT_THAT(
      policy->RestoreStateFromJson(bad),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"kth_value\"")));
  bad = good;
  bad.replace(bad.find("\"best_k_models\":[]"), 18,
              "\"best_k_models\":[{\"path\":1,\"score\":1}]");
  EXPECT_THAT(
      policy->RestoreStateFromJson(bad),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"path\"")));
  EXPECT_THAT(policy->RestoreStateFromJson("[]"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("expected an object")));
  EXPECT_THAT(policy->RestoreStateFromJson("{"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("checkpoint policy state JSON:1:2")));

  // Restoring invalidates outstanding plans.
  absl::StatusOr<SavePlan> plan = policy->Plan(
      0, 1, {{"val/map", 0.5}}, [](const std::string&) { return false; });
  ASSERT_THAT(plan, IsOk());
  ASSERT_THAT(policy->RestoreStateFromJson(good), IsOk());
  EXPECT_THAT(policy->Commit(*plan),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(ModelCheckpointStateTest, StoredNanScoresAreTheWorst) {
  absl::StatusOr<ModelCheckpointPolicy> policy = ModelCheckpointPolicy::Create(
      {.dirpath = "/ck", .mode = CheckpointMode::kMax, .filename = "{epoch}"},
      kMetrics);
  ASSERT_THAT(policy, IsOk());
  ASSERT_THAT(
      policy->RestoreStateFromJson(
          "{\"monitor\":\"val/map\",\"mode\":\"max\",\"dirpath\":\"/ck\","
          "\"best_model_score\":NaN,\"best_model_path\":\"a.ckpt\","
          "\"current_score\":null,\"best_k_models\":[{\"path\":\"a.ckpt\","
          "\"score\":NaN}],\"kth_best_model_path\":\"a.ckpt\","
          "\"kth_value\":NaN,\"last_model_path\":\"\"}"),
      IsOk());
  EXPECT_THAT(policy->state().best_k_models,
              ElementsAre(Pair("/ck/a.ckpt", -kInf)));
  EXPECT_EQ(policy->state().kth_value, -kInf);
}

// A mid-epoch preemption save writes only `last`, with the same naming
// (a foreign last.ckpt in the folder makes it last-v1.ckpt), and the next
// validation's `last` replaces it; top-k is untouched.
TEST(ModelCheckpointPolicyTest, PlanLastWritesOnlyTheRunsLast) {
  FakeRun run({.dirpath = "/r", .save_top_k = 1, .filename = "{epoch}"},
              {"/r/last.ckpt"});
  absl::StatusOr<SavePlan> plan = run.policy().PlanLast(0, 3, run.exists());
  ASSERT_THAT(plan, IsOk());
  EXPECT_EQ(plan->top_k_path, std::nullopt);
  EXPECT_THAT(plan->last_path, Optional(std::string("/r/last-v1.ckpt")));
  EXPECT_THAT(plan->paths_to_delete_after_save, IsEmpty());
  run.files().insert(*plan->last_path);
  ASSERT_THAT(run.policy().Commit(*plan), IsOk());
  EXPECT_EQ(run.policy().last_model_path(), "/r/last-v1.ckpt");
  EXPECT_THAT(run.policy().state().best_k_models, IsEmpty());

  SavePlan next = run.ValidateMap(0, 0.5);
  EXPECT_THAT(next.last_path, Optional(std::string("/r/last-v1.ckpt")));
  EXPECT_THAT(next.top_k_path, Optional(std::string("/r/epoch=0.ckpt")));
}

}  // namespace
}  // namespace cvt
