// Loads and validates every configs/*.textproto, and checks the recipe numbers
// that the configs promise in their comments.

#include <dirent.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/status_matchers.h"
#include "libs/base/testdata.h"
#include "libs/config/load_config.h"

namespace cvt {
namespace {

std::vector<std::string> ConfigFiles() {
  const std::string dir = TestDataPath("configs");
  std::vector<std::string> files;
  DIR* handle = opendir(dir.c_str());
  if (handle == nullptr) return files;
  while (const dirent* entry = readdir(handle)) {
    const std::string name = entry->d_name;
    if (absl::EndsWith(name, ".textproto")) files.push_back(dir + "/" + name);
  }
  closedir(handle);
  return files;
}

TEST(ConfigsTest, EveryConfigLoadsAndValidates) {
  const std::vector<std::string> files = ConfigFiles();
  ASSERT_GE(files.size(), 2u);
  for (const std::string& file : files) {
    EXPECT_THAT(LoadPipelineConfig(file), IsOk()) << file;
  }
}

TEST(ConfigsTest, DetrConfigFollowsThePaperRecipe) {
  absl::StatusOr<PipelineConfig> config =
      LoadPipelineConfig(TestDataPath("configs/detr_r50_coco.textproto"));
  ASSERT_THAT(config, IsOk());
  const DetrConfig& detr = config->model().detr();
  EXPECT_EQ(detr.backbone().depth(), 50u);
  EXPECT_EQ(detr.num_queries(), 100u);
  EXPECT_EQ(detr.encoder_layers(), 6u);
  EXPECT_EQ(detr.decoder_layers(), 6u);
  EXPECT_TRUE(detr.auxiliary_loss());
  EXPECT_FLOAT_EQ(detr.no_object_weight(), 0.1f);
  EXPECT_DOUBLE_EQ(config->optimizer().lr(), 1e-4);
  EXPECT_DOUBLE_EQ(
      config->optimizer().lr() * config->optimizer().backbone_lr_multiplier(),
      1e-5);
  EXPECT_DOUBLE_EQ(config->optimizer().gradient_clip_norm(), 0.1);
  EXPECT_EQ(config->trainer().max_epochs(), 300u);
  EXPECT_THAT(config->lr_schedule().step().milestone_epochs(),
              testing::ElementsAre(200));
}

TEST(ConfigsTest, YoloConfigIsAYoloModel) {
  absl::StatusOr<PipelineConfig> config =
      LoadPipelineConfig(TestDataPath("configs/yolo_small_bccd.textproto"));
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->model().architecture_case(), ModelConfig::kYolo);
  EXPECT_EQ(config->augmentation().letterbox_size(), 416u);
}

}  // namespace
}  // namespace cvt
