#include "libs/config/load_config.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/file_io.h"
#include "libs/base/status_matchers.h"
#include "libs/base/testdata.h"

namespace cvt {
namespace {

using ::testing::HasSubstr;

constexpr char kMinimal[] = R"pb(
  # A small YOLO run.
  model { yolo { size: SMALL } }
  trainer { max_epochs: 5 }
  augmentation { letterbox_size: 320 train_min_sizes: 320 }
)pb";

std::string WriteTemp(const std::string& name, const std::string& text) {
  const std::string path = TestTempPath(name);
  EXPECT_THAT(WriteFileAtomically(path, text), IsOk());
  return path;
}

TEST(LoadPipelineConfigTest, LoadsTextProtoWithDefaults) {
  const std::string path = WriteTemp("minimal.textproto", kMinimal);
  absl::StatusOr<PipelineConfig> config = LoadPipelineConfig(path);
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->model().yolo().size(), YoloConfig::SMALL);
  EXPECT_EQ(config->trainer().max_epochs(), 5u);
  EXPECT_EQ(config->optimizer().lr(), 1e-4);  // Schema default.
  EXPECT_EQ(config->checkpoint().monitor(), "val/map");
}

TEST(LoadPipelineConfigTest, OverrideFilesThenSetOverridesInOrder) {
  const std::string path = WriteTemp("base.textproto", kMinimal);
  const std::string file =
      WriteTemp("override.textproto", "trainer { max_epochs: 9 seed: 7 }\n");
  absl::StatusOr<PipelineConfig> config = LoadPipelineConfig(
      path, {.override_files = {file},
             .overrides = {"trainer.max_epochs=20", "optimizer.lr=3e-4"}});
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->trainer().max_epochs(), 20u);
  EXPECT_EQ(config->trainer().seed(), 7u);
  EXPECT_EQ(config->optimizer().lr(), 3e-4);
}

TEST(LoadPipelineConfigTest, UnknownOverrideFailsNamingThePath) {
  const std::string path = WriteTemp("base2.textproto", kMinimal);
  EXPECT_THAT(
      LoadPipelineConfig(path, {.overrides = {"trainer.max_epoch=20"}}),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("--set trainer.max_epoch=20: trainer.max_epoch: "
                         "cvt.TrainerConfig has no field named "
                         "'max_epoch'")));
}

TEST(LoadPipelineConfigTest, UnknownFieldInFileFailsWithLocation) {
  const std::string path = WriteTemp(
      "typo.textproto", "model { yolo {} }\ntrainer {\n  max_epoch: 3\n}\n");
  EXPECT_THAT(LoadPipelineConfig(path),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(path + ":3:12: ")));
}

TEST(LoadPipelineConfigTest, InvalidValuesNameTheFieldPath) {
  const std::string path = WriteTemp("base3.textproto", kMinimal);
  EXPECT_THAT(
      LoadPipelineConfig(path, {.overrides = {"optimizer.lr=-0.001"}}),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr(path + ": optimizer.lr: must be > 0 (got -0.001)")));
  EXPECT_THAT(LoadPipelineConfig(path, {.overrides = {"trainer.max_epochs=0"}}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("trainer.max_epochs: must be >= 1 (got 0)")));
  EXPECT_THAT(
      LoadPipelineConfig(path,
                         {.overrides = {"model.detr.backbone.depth=101"}}),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("model.detr.backbone.depth: must be 18, 34 or 50")));
  EXPECT_THAT(
      LoadPipelineConfig(
          path, {.overrides = {"lr_schedule.step.milestone_epochs=[5, 3]"}}),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("lr_schedule.step.milestone_epochs[1]: milestones "
                         "must increase")));
  EXPECT_THAT(LoadPipelineConfig(
                  path, {.overrides = {"checkpoint.filename=a/{epoch}"}}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("checkpoint.filename: must not contain '/'")));
}

TEST(LoadPipelineConfigTest, MissingArchitectureIsAnError) {
  const std::string path =
      WriteTemp("noarch.textproto", "trainer { max_epochs: 3 }");
  EXPECT_THAT(LoadPipelineConfig(path),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("model: no architecture")));
}

TEST(LoadPipelineConfigTest, LoadsJsonAndRejectsUnknownJsonFields) {
  const std::string path = WriteTemp(
      "run.json",
      R"({"model": {"detr": {"numQueries": 50}}, "trainer": {"max_epochs": 2}})");
  absl::StatusOr<PipelineConfig> config = LoadPipelineConfig(path);
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->model().detr().num_queries(), 50u);
  EXPECT_EQ(config->trainer().max_epochs(), 2u);
  const std::string bad = WriteTemp(
      "bad.json", R"({"model": {"detr": {}}, "trainer": {"max_epochz": 2}})");
  EXPECT_THAT(
      LoadPipelineConfig(bad),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_epochz")));
}

TEST(LoadPipelineConfigTest, MissingFileIsNotFound) {
  EXPECT_THAT(
      LoadPipelineConfig(TestTempPath("nope.textproto")),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("nope.textproto")));
  EXPECT_THAT(LoadPipelineConfig(""),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(PipelineConfigToTextTest, RoundTrips) {
  const std::string path = WriteTemp("rt.textproto", kMinimal);
  absl::StatusOr<PipelineConfig> config =
      LoadPipelineConfig(path, {.overrides = {"tracking.tags.team=cv"}});
  ASSERT_THAT(config, IsOk());
  const std::string text = PipelineConfigToText(*config);
  EXPECT_THAT(text, HasSubstr("# proto-message: cvt.PipelineConfig"));
  absl::StatusOr<PipelineConfig> back =
      ParsePipelineConfig(text, "saved", false);
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(back->SerializeAsString(), config->SerializeAsString());
}

}  // namespace
}  // namespace cvt
