#include "libs/tracking/run_pusher.h"

#include <cmath>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/status_matchers.h"

namespace cvt {
namespace {

using ::testing::HasSubstr;

TEST(RunPusherTest, MetricKeysAreMadeLegal) {
  EXPECT_EQ(SanitizeMetricKey("val/map@0.5"), "val/map_0.5");
  EXPECT_EQ(SanitizeMetricKey("/train//loss/"), "train/loss");
  EXPECT_EQ(SanitizeMetricKey("lr-group 0"), "lr-group 0");
  EXPECT_EQ(SanitizeMetricKey("é"), "__");
}

TEST(RunPusherTest, CheckpointMetadataFollowsLightning) {
  RunRecord run;
  run.hyperparameters = {{"checkpoint.mode", "max"},
                         {"checkpoint.monitor", "val/map"},
                         {"checkpoint.save_top_k", "3"}};
  CheckpointRecord ckpt;
  ckpt.file = "epoch=1-step=200.ckpt";
  ckpt.has_value = true;
  ckpt.value = 0.42;
  EXPECT_EQ(CheckpointMetadataYaml(ckpt, run),
            "Checkpoint:\n"
            "  _every_n_train_steps: 0\n"
            "  mode: 'max'\n"
            "  monitor: 'val/map'\n"
            "  save_last: true\n"
            "  save_top_k: 3\n"
            "  save_weights_only: false\n"
            "original_filename: 'epoch=1-step=200.ckpt'\n"
            "score: 0.42\n");
  ckpt.has_value = false;
  EXPECT_THAT(CheckpointMetadataYaml(ckpt, run), HasSubstr("score: null\n"));
  ckpt.has_value = true;
  ckpt.value = std::nan("");
  EXPECT_THAT(CheckpointMetadataYaml(ckpt, run), HasSubstr("score: .nan\n"));
}

TEST(RunPusherTest, ParsesCheckpointPolicies) {
  EXPECT_THAT(ParseCheckpointPolicy("best"),
              IsOkAndHolds(CheckpointPolicy::kBest));
  EXPECT_THAT(ParseCheckpointPolicy("some"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace cvt
