#include "libs/config/flatten_config.h"

#include "gtest/gtest.h"
#include "libs/config/pipeline.pb.h"

namespace cvt {
namespace {

TEST(FlattenConfigTest, ListsEffectiveValuesOfTheChosenOneofOnly) {
  PipelineConfig config;
  config.mutable_optimizer()->set_lr(0.001);
  config.mutable_model()->mutable_yolo()->set_size(YoloConfig::SMALL);
  config.mutable_augmentation()->add_train_min_sizes(480);
  config.mutable_augmentation()->add_train_min_sizes(512);
  (*config.mutable_tracking()->mutable_tags())["team"] = "vision";
  std::map<std::string, std::string> flat = FlattenConfig(config);
  EXPECT_EQ(flat.at("optimizer.lr"), "0.001");
  EXPECT_EQ(flat.at("optimizer.weight_decay"), "1e-04");  // a default
  EXPECT_EQ(flat.at("model.yolo.size"), "SMALL");
  EXPECT_EQ(flat.count("model.detr.hidden_dim"), 0u);
  EXPECT_EQ(flat.at("augmentation.train_min_sizes"), "[480, 512]");
  EXPECT_EQ(flat.at("tracking.tags.team"), "vision");
  EXPECT_EQ(flat.at("trainer.seed"), "42");
}

}  // namespace
}  // namespace cvt
