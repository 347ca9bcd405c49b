#include "libs/config/overrides.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/status_matchers.h"
#include "libs/config/pipeline.pb.h"

namespace cvt {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ApplyOverrideTest, SetsScalarsOfEveryKind) {
  PipelineConfig config;
  ASSERT_THAT(ApplyOverride("trainer.max_epochs=20", &config), IsOk());
  ASSERT_THAT(ApplyOverride("optimizer.lr=1e-5", &config), IsOk());
  ASSERT_THAT(
      ApplyOverride("optimizer.no_weight_decay_on_norm_and_bias=true", &config),
      IsOk());
  ASSERT_THAT(ApplyOverride("checkpoint.mode=MIN", &config), IsOk());
  ASSERT_THAT(ApplyOverride("tracking.run_name=my run", &config), IsOk());
  ASSERT_THAT(ApplyOverride("checkpoint.monitor=\"val/loss\"", &config),
              IsOk());
  EXPECT_EQ(config.trainer().max_epochs(), 20u);
  EXPECT_EQ(config.optimizer().lr(), 1e-5);
  EXPECT_TRUE(config.optimizer().no_weight_decay_on_norm_and_bias());
  EXPECT_EQ(config.checkpoint().mode(), MIN);
  EXPECT_EQ(config.tracking().run_name(), "my run");
  EXPECT_EQ(config.checkpoint().monitor(), "val/loss");
}

TEST(ApplyOverrideTest, ReplacesRepeatedFields) {
  PipelineConfig config;
  config.mutable_augmentation()->add_train_min_sizes(800);
  ASSERT_THAT(ApplyOverride("augmentation.train_min_sizes=[480, 512]", &config),
              IsOk());
  EXPECT_THAT(config.augmentation().train_min_sizes(), ElementsAre(480, 512));
  ASSERT_THAT(ApplyOverride("sync.include=*.ckpt, checkpoints.json", &config),
              IsOk());
  EXPECT_THAT(config.sync().include(),
              ElementsAre("*.ckpt", "checkpoints.json"));
  ASSERT_THAT(ApplyOverride("augmentation.train_min_sizes=[]", &config),
              IsOk());
  EXPECT_THAT(config.augmentation().train_min_sizes(), ElementsAre());
}

TEST(ApplyOverrideTest, MessagesReplaceAndOneofSwitches) {
  PipelineConfig config;
  ASSERT_THAT(ApplyOverride("model.detr.num_queries=50", &config), IsOk());
  ASSERT_THAT(ApplyOverride("model.detr.backbone={depth: 18}", &config),
              IsOk());
  EXPECT_EQ(config.model().detr().num_queries(), 50u);
  EXPECT_EQ(config.model().detr().backbone().depth(), 18u);
  ASSERT_THAT(
      ApplyOverride("model.detr.backbone=frozen_batch_norm: false", &config),
      IsOk());
  EXPECT_FALSE(config.model().detr().backbone().has_depth());  // Replaced.
  ASSERT_THAT(ApplyOverride("model.yolo={}", &config), IsOk());
  EXPECT_EQ(config.model().architecture_case(), ModelConfig::kYolo);
  ASSERT_THAT(ApplyOverride("model.yolo.size=SMALL", &config), IsOk());
  EXPECT_EQ(config.model().yolo().size(), YoloConfig::SMALL);
}

TEST(ApplyOverrideTest, SetsOneMapKey) {
  PipelineConfig config;
  ASSERT_THAT(ApplyOverride("tracking.tags.team=vision", &config), IsOk());
  ASSERT_THAT(ApplyOverride("tracking.tags.dataset=bccd", &config), IsOk());
  ASSERT_THAT(ApplyOverride("tracking.tags.team=perception", &config), IsOk());
  EXPECT_EQ(config.tracking().tags().size(), 2u);
  EXPECT_EQ(config.tracking().tags().at("team"), "perception");
}

TEST(ApplyOverrideTest, UnknownFieldNamesThePath) {
  PipelineConfig config;
  EXPECT_THAT(ApplyOverride("trainer.max_epoch=3", &config),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("trainer.max_epoch: cvt.TrainerConfig has no "
                                 "field named 'max_epoch'")));
  EXPECT_THAT(ApplyOverride("trainr.max_epochs=3", &config),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("trainr.max_epochs: cvt.PipelineConfig has no "
                                 "field named 'trainr'")));
  EXPECT_THAT(
      ApplyOverride("trainer.max_epochs.x=3", &config),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a message")));
}

TEST(ApplyOverrideTest, BadValuesNameThePathAndValue) {
  PipelineConfig config;
  EXPECT_THAT(ApplyOverride("trainer.max_epochs=many", &config),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("trainer.max_epochs: bad value 'many'")));
  EXPECT_THAT(ApplyOverride("trainer.max_epochs=-1", &config),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("trainer.max_epochs: bad value '-1'")));
  EXPECT_THAT(ApplyOverride("checkpoint.mode=BIGGEST", &config),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("checkpoint.mode: bad value 'BIGGEST'")));
  EXPECT_THAT(ApplyOverride("model.detr.backbone={depht: 18}", &config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("depht")));
  EXPECT_THAT(ApplyOverride("trainer.max_epochs", &config),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("path.to.field=value")));
  EXPECT_FALSE(config.has_trainer() && config.trainer().has_max_epochs());
}

TEST(MergeTextProtoTest, ReportsLineAndColumn) {
  PipelineConfig config;
  EXPECT_THAT(
      MergeTextProto("trainer {\n  max_epochs: 3\n  max_epoch: 4\n}\n",
                     "a.textproto", &config),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("a.textproto:3:12: Message type \"cvt.TrainerConfig\" "
                         "has no field named \"max_epoch\"")));
}

}  // namespace
}  // namespace cvt
