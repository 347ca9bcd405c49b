#include "libs/train/lr_schedule.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/status_matchers.h"
#include "libs/config/lr_schedule_config.pb.h"

namespace cvt {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr double kPi = 3.14159265358979323846;

// The seed's recipe (§2.5): base 1e-4, T = 1000, W = floor(0.1 T) = 100,
// warmup from 0.1 * base, cosine to eta_min = 1e-6.
LrSchedule ReferenceSchedule() {
  absl::StatusOr<LrSchedule> schedule =
      LrSchedule::Create(LrScheduleOptions{}, {1e-4}, 1000, 0);
  EXPECT_THAT(schedule, IsOk());
  return *std::move(schedule);
}

TEST(LrScheduleTest, DefaultsAreTheSeedRecipe) {
  const LrScheduleOptions options;
  EXPECT_EQ(options.kind, LrScheduleKind::kCosine);
  EXPECT_EQ(options.warmup_fraction, 0.1);
  EXPECT_EQ(options.warmup_start_factor, 0.1);
  EXPECT_EQ(options.eta_min, 1e-6);
}

TEST(LrScheduleTest, ReferenceVectors) {
  const LrSchedule schedule = ReferenceSchedule();
  EXPECT_EQ(schedule.total_steps(), 1000);
  EXPECT_EQ(schedule.warmup_steps(), 100);
  EXPECT_DOUBLE_EQ(schedule.LearningRate(0, 0), 1e-5);
  EXPECT_DOUBLE_EQ(schedule.LearningRate(0, 50), 5.5e-5);
  EXPECT_DOUBLE_EQ(schedule.LearningRate(0, 100), 1e-4);
  EXPECT_DOUBLE_EQ(schedule.LearningRate(0, 550), 5.05e-5);
  const double at_999 = schedule.LearningRate(0, 999);
  EXPECT_NEAR(at_999 / 1.0003e-6, 1.0, 1e-5);
  // The exact closed form: eta_min + (base - eta_min) (1 - cos(pi / 900)) / 2.
  EXPECT_DOUBLE_EQ(at_999, 1e-6 + 9.9e-5 * (1 - std::cos(kPi / 900)) / 2);
}

TEST(LrScheduleTest, WarmupIsLinearAndCosineDecreasesToEtaMin) {
  const LrSchedule schedule = ReferenceSchedule();
  for (int64_t s = 0; s < 100; ++s) {
    EXPECT_DOUBLE_EQ(schedule.LearningRate(0, s), 1e-4 * (0.1 + 0.9 * s / 100))
        << s;
    EXPECT_LT(schedule.LearningRate(0, s), schedule.LearningRate(0, s + 1));
  }
  for (int64_t s = 100; s < 1000; ++s) {
    EXPECT_GT(schedule.LearningRate(0, s), schedule.LearningRate(0, s + 1));
  }
  EXPECT_DOUBLE_EQ(schedule.LearningRate(0, 1000), 1e-6);
  // Past T the lr stays at the floor instead of rising again.
  EXPECT_EQ(schedule.LearningRate(0, 1001), 1e-6);
  EXPECT_EQ(schedule.LearningRate(0, 5000), 1e-6);
  // Negative steps are treated as 0.
  EXPECT_EQ(schedule.LearningRate(0, -3), schedule.LearningRate(0, 0));
}

TEST(LrScheduleTest, EtaMinIsAbsoluteForEveryGroup) {
  absl::StatusOr<LrSchedule> schedule =
      LrSchedule::Create(LrScheduleOptions{}, {1e-4, 1e-5}, 1000, 0);
  ASSERT_THAT(schedule, IsOk());
  EXPECT_EQ(schedule->num_groups(), 2);
  EXPECT_THAT(schedule->base_lrs(), ElementsAre(1e-4, 1e-5));
  // Warmup scales each group's own base lr.
  EXPECT_DOUBLE_EQ(schedule->LearningRate(1, 0), 1e-6);
  EXPECT_DOUBLE_EQ(schedule->LearningRate(1, 50), 5.5e-6);
  // Cosine: eta_min + (base - eta_min) * c with the same eta_min for both.
  EXPECT_DOUBLE_EQ(schedule->LearningRate(1, 550), 1e-6 + 9e-6 / 2);
  const std::vector<double> end = schedule->LearningRates(1000);
  EXPECT_DOUBLE_EQ(end[0], 1e-6);
  EXPECT_DOUBLE_EQ(end[1], 1e-6);
  EXPECT_DOUBLE_EQ(schedule->Multiplier(0, 550), 0.505);
  EXPECT_DOUBLE_EQ(schedule->Multiplier(1, 550), 0.55);
  EXPECT_DOUBLE_EQ(schedule->Multiplier(1, 0), 0.1);
}

TEST(LrScheduleTest, ZeroBaseLrHasMultiplierZero) {
  LrScheduleOptions options;
  options.kind = LrScheduleKind::kConstant;
  absl::StatusOr<LrSchedule> schedule =
      LrSchedule::Create(options, {1e-4, 0.0}, 10, 0);
  ASSERT_THAT(schedule, IsOk());
  EXPECT_EQ(schedule->LearningRate(1, 5), 0.0);
  EXPECT_EQ(schedule->Multiplier(1, 5), 0.0);
}

TEST(LrScheduleTest, WarmupStepsFloorTheDoubleProduct) {
  LrScheduleOptions options;
  // 0.29 * 100 is 28.999999999999996 in double; Python's int() gives 28.
  options.warmup_fraction = 0.29;
  absl::StatusOr<LrSchedule> schedule =
      LrSchedule::Create(options, {1.0}, 100, 0);
  ASSERT_THAT(schedule, IsOk());
  EXPECT_EQ(schedule->warmup_steps(), 28);
  options.warmup_fraction = 0.05;
  schedule = LrSchedule::Create(options, {1.0}, 19, 0);
  ASSERT_THAT(schedule, IsOk());
  EXPECT_EQ(schedule->warmup_steps(), 0);  // floor(0.95)
  EXPECT_EQ(schedule->LearningRate(0, 0), 1.0);
}

TEST(LrScheduleTest, NoWarmupStartsAtTheBaseLr) {
  LrScheduleOptions options;
  options.warmup_fraction = 0;
  absl::StatusOr<LrSchedule> schedule =
      LrSchedule::Create(options, {1e-4}, 100, 0);
  ASSERT_THAT(schedule, IsOk());
  EXPECT_EQ(schedule->warmup_steps(), 0);
  EXPECT_DOUBLE_EQ(schedule->LearningRate(0, 0), 1e-4);
  EXPECT_DOUBLE_EQ(schedule->LearningRate(0, 50), 1e-6 + 9.9e-5 / 2);
}

TEST(LrScheduleTest, StepScheduleDropsAfterMilestoneEpochs) {
  // DETR: 300 epochs, lr x 0.1 after epoch 200, no warmup.
  LrScheduleOptions options;
  options.kind = LrScheduleKind::kStep;
  options.warmup_fraction = 0;
  options.milestone_epochs = {200, 250};
  options.gamma = 0.1;
  absl::StatusOr<LrSchedule> schedule =
      LrSchedule::Create(options, {1e-4, 1e-5}, 3000, 10);
  ASSERT_THAT(schedule, IsOk());
  EXPECT_EQ(schedule->LearningRate(0, 0), 1e-4);
  EXPECT_EQ(schedule->LearningRate(0, 1999), 1e-4);         // epoch 199
  EXPECT_DOUBLE_EQ(schedule->LearningRate(0, 2000), 1e-5);  // epoch 200
  EXPECT_DOUBLE_EQ(schedule->LearningRate(1, 2000), 1e-6);
  EXPECT_DOUBLE_EQ(schedule->LearningRate(0, 2499), 1e-5);
  EXPECT_DOUBLE_EQ(schedule->LearningRate(0, 2500), 1e-6);
  EXPECT_DOUBLE_EQ(schedule->LearningRate(0, 2999), 1e-6);
}

TEST(LrScheduleTest, StepScheduleWithWarmupAndNoMilestones) {
  LrScheduleOptions options;
  options.kind = LrScheduleKind::kStep;
  options.milestone_epochs = {1};
  absl::StatusOr<LrSchedule> schedule =
      LrSchedule::Create(options, {1.0}, 100, 50);
  ASSERT_THAT(schedule, IsOk());
  EXPECT_EQ(schedule->warmup_steps(), 10);
  EXPECT_DOUBLE_EQ(schedule->LearningRate(0, 0), 0.1);
  EXPECT_DOUBLE_EQ(schedule->LearningRate(0, 5), 0.55);
  EXPECT_EQ(schedule->LearningRate(0, 10), 1.0);
  EXPECT_EQ(schedule->LearningRate(0, 49), 1.0);
  EXPECT_DOUBLE_EQ(schedule->LearningRate(0, 50), 0.1);

  options.milestone_epochs.clear();
  schedule = LrSchedule::Create(options, {1.0}, 100, 50);
  ASSERT_THAT(schedule, IsOk());
  EXPECT_EQ(schedule->LearningRate(0, 99), 1.0);
}

TEST(LrScheduleTest, StepScheduleNeedsStepsPerEpoch) {
  LrScheduleOptions options;
  options.kind = LrScheduleKind::kStep;
  EXPECT_THAT(LrSchedule::Create(options, {1.0}, 100, 0),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("steps_per_epoch must be >= 1")));
  EXPECT_THAT(LrSchedule::Create(LrScheduleOptions{}, {1.0}, 100, -1),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("steps_per_epoch must be >= 0")));
}

TEST(LrScheduleTest, ConstantScheduleKeepsTheBaseAfterWarmup) {
  LrScheduleOptions options;
  options.kind = LrScheduleKind::kConstant;
  absl::StatusOr<LrSchedule> schedule =
      LrSchedule::Create(options, {2e-4}, 1000, 0);
  ASSERT_THAT(schedule, IsOk());
  EXPECT_DOUBLE_EQ(schedule->LearningRate(0, 0), 2e-5);
  EXPECT_EQ(schedule->LearningRate(0, 100), 2e-4);
  EXPECT_EQ(schedule->LearningRate(0, 999), 2e-4);
  EXPECT_EQ(schedule->LearningRate(0, 100000), 2e-4);
}

TEST(LrScheduleTest, RejectsOutOfRangeOptions) {
  const auto create = [](LrScheduleOptions options) {
    return LrSchedule::Create(options, {1e-4}, 100, 10).status();
  };
  LrScheduleOptions options;
  options.warmup_fraction = 1.0;
  EXPECT_THAT(create(options), StatusIs(absl::StatusCode::kInvalidArgument,
                                        HasSubstr("warmup_fraction")));
  options = {};
  options.warmup_fraction = -0.1;
  EXPECT_THAT(create(options), StatusIs(absl::StatusCode::kInvalidArgument,
                                        HasSubstr("warmup_fraction")));
  options = {};
  options.warmup_fraction = std::nan("");
  EXPECT_THAT(create(options), StatusIs(absl::StatusCode::kInvalidArgument,
                                        HasSubstr("warmup_fraction")));
  options = {};
  options.warmup_start_factor = 0;
  EXPECT_THAT(create(options), StatusIs(absl::StatusCode::kInvalidArgument,
                                        HasSubstr("warmup_start_factor")));
  options = {};
  options.eta_min = -1e-6;
  EXPECT_THAT(create(options), StatusIs(absl::StatusCode::kInvalidArgument,
                                        HasSubstr("eta_min")));
  options = {};
  options.kind = LrScheduleKind::kStep;
  options.gamma = 0;
  EXPECT_THAT(create(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("gamma")));
  options.gamma = 0.1;
  options.milestone_epochs = {5, 3};
  EXPECT_THAT(create(options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("milestone_epochs[1] must be greater")));
  options.milestone_epochs = {0};
  EXPECT_THAT(create(options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("milestone_epochs[0] must be >= 1")));

  EXPECT_THAT(
      LrSchedule::Create(LrScheduleOptions{}, {}, 100, 0),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at least one")));
  EXPECT_THAT(
      LrSchedule::Create(LrScheduleOptions{}, {1e-4, -1}, 100, 0),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("base_lrs[1]")));
  EXPECT_THAT(
      LrSchedule::Create(LrScheduleOptions{},
                         {std::numeric_limits<double>::infinity()}, 100, 0),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("base_lrs[0]")));
  EXPECT_THAT(LrSchedule::Create(LrScheduleOptions{}, {1e-4}, 0, 0),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("total_steps must be >= 1")));
}

TEST(LrScheduleTest, StepAdvancesLastStep) {
  LrSchedule schedule = ReferenceSchedule();
  EXPECT_EQ(schedule.last_step(), 0);
  EXPECT_THAT(schedule.CurrentLearningRates(), ElementsAre(1e-4 * 0.1));
  for (int i = 0; i < 50; ++i) schedule.Step();
  EXPECT_EQ(schedule.last_step(), 50);
  EXPECT_DOUBLE_EQ(schedule.CurrentLearningRates()[0], 5.5e-5);
  schedule.set_last_step(-4);
  EXPECT_EQ(schedule.last_step(), 0);
}

TEST(LrScheduleTest, JsonRoundTripIsExactForEveryKind) {
  LrScheduleOptions cosine;
  cosine.warmup_fraction = 0.05;
  cosine.eta_min = 3e-7;
  LrScheduleOptions step;
  step.kind = LrScheduleKind::kStep;
  step.milestone_epochs = {3, 7};
  step.gamma = 0.3;
  LrScheduleOptions constant;
  constant.kind = LrScheduleKind::kConstant;
  constant.warmup_start_factor = 0.25;
  for (const LrScheduleOptions& options : {cosine, step, constant}) {
    absl::StatusOr<LrSchedule> schedule =
        LrSchedule::Create(options, {1e-4, 1.0 / 3}, 997, 13);
    ASSERT_THAT(schedule, IsOk());
    schedule->set_last_step(421);
    const std::string json = schedule->ToJson();
    absl::StatusOr<LrSchedule> restored = LrSchedule::FromJson(json);
    ASSERT_THAT(restored, IsOk()) << json;
    EXPECT_EQ(restored->kind(), options.kind);
    EXPECT_EQ(restored->last_step(), 421);
    EXPECT_EQ(restored->total_steps(), 997);
    EXPECT_EQ(restored->warmup_steps(), schedule->warmup_steps());
    EXPECT_EQ(restored->steps_per_epoch(), 13);
    EXPECT_EQ(restored->options().milestone_epochs, options.milestone_epochs);
    EXPECT_EQ(restored->ToJson(), json);
    for (int64_t s = 0; s <= 1000; s += 7) {
      EXPECT_EQ(restored->LearningRates(s), schedule->LearningRates(s)) << s;
    }
  }
}

TEST(LrScheduleTest, JsonHoldsTheCheckpointFields) {
  LrSchedule schedule = ReferenceSchedule();
  schedule.set_last_step(7);
  EXPECT_EQ(schedule.ToJson(),
            "{\"kind\":\"cosine\",\"total_steps\":1000,\"warmup_steps\":100,"
            "\"base_lrs\":[1e-04],\"last_step\":7,\"warmup_fraction\":0.1,"
            "\"warmup_start_factor\":0.1,\"steps_per_epoch\":0,"
            "\"eta_min\":1e-06}");
}

TEST(LrScheduleTest, FromJsonRejectsBadInput) {
  EXPECT_THAT(LrSchedule::FromJson("{"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("lr schedule JSON:1:2")));
  EXPECT_THAT(LrSchedule::FromJson("[]"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("expected an object")));
  const std::string good = ReferenceSchedule().ToJson();
  std::string bad = good;
  bad.replace(bad.find("\"cosine\""), 8, "\"linear\"");
  EXPECT_THAT(LrSchedule::FromJson(bad),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unknown kind \"linear\"")));
  bad = good;
  bad.replace(bad.find("\"warmup_steps\":100"), 18, "\"warmup_steps\":99");
  EXPECT_THAT(LrSchedule::FromJson(bad),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("warmup_steps is 99")));
  bad = good;
  bad.replace(bad.find("\"total_steps\":1000"), 18, "\"total_steps\":1.5");
  EXPECT_THAT(LrSchedule::FromJson(bad),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("\"total_steps\" is missing")));
  bad = good;
  bad.replace(bad.find("\"eta_min\":1e-06"), 15, "\"eta_min\":-1.0");
  EXPECT_THAT(
      LrSchedule::FromJson(bad),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("eta_min")));
  bad = good;
  bad.replace(bad.find("\"last_step\":0"), 13, "\"last_step\":-1");
  EXPECT_THAT(LrSchedule::FromJson(bad),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("last_step must be >= 0")));
}

TEST(LrScheduleTest, OptionsFromProtoMapsEveryField) {
  LrScheduleConfig config;
  absl::StatusOr<LrScheduleOptions> options =
      LrScheduleOptionsFromProto(config);
  ASSERT_THAT(options, IsOk());  // Unset oneof: cosine with its defaults.
  EXPECT_EQ(options->kind, LrScheduleKind::kCosine);
  EXPECT_EQ(options->warmup_fraction, 0.1);
  EXPECT_EQ(options->warmup_start_factor, 0.1);
  EXPECT_EQ(options->eta_min, 1e-6);

  config.set_warmup_fraction(0.05);
  config.set_warmup_start_factor(0.2);
  config.mutable_cosine()->set_eta_min(1e-7);
  options = LrScheduleOptionsFromProto(config);
  ASSERT_THAT(options, IsOk());
  EXPECT_EQ(options->kind, LrScheduleKind::kCosine);
  EXPECT_EQ(options->warmup_fraction, 0.05);
  EXPECT_EQ(options->warmup_start_factor, 0.2);
  EXPECT_EQ(options->eta_min, 1e-7);

  config.mutable_step()->add_milestone_epochs(200);
  config.mutable_step()->set_gamma(0.5);
  options = LrScheduleOptionsFromProto(config);
  ASSERT_THAT(options, IsOk());
  EXPECT_EQ(options->kind, LrScheduleKind::kStep);
  EXPECT_THAT(options->milestone_epochs, ElementsAre(200));
  EXPECT_EQ(options->gamma, 0.5);

  config.mutable_constant();
  options = LrScheduleOptionsFromProto(config);
  ASSERT_THAT(options, IsOk());
  EXPECT_EQ(options->kind, LrScheduleKind::kConstant);

  config.set_warmup_fraction(1.5);
  EXPECT_THAT(LrScheduleOptionsFromProto(config),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("LrScheduleConfig: lr schedule: "
                                 "warmup_fraction must be in [0, 1)")));
}

TEST(OptimizerStepsTest, TotalIsEpochsTimesCeilOfBatchesOverAccumulation) {
  EXPECT_THAT(OptimizerStepsPerEpoch(100, 1), IsOkAndHolds(100));
  EXPECT_THAT(OptimizerStepsPerEpoch(95, 4), IsOkAndHolds(24));
  EXPECT_THAT(OptimizerStepsPerEpoch(96, 4), IsOkAndHolds(24));
  EXPECT_THAT(OptimizerStepsPerEpoch(3, 8), IsOkAndHolds(1));
  EXPECT_THAT(TotalOptimizerSteps(10, 95, 4), IsOkAndHolds(240));
  EXPECT_THAT(TotalOptimizerSteps(50, 100, 1), IsOkAndHolds(5000));
  EXPECT_THAT(TotalOptimizerSteps(1, 1, 1), IsOkAndHolds(1));

  absl::StatusOr<int64_t> total = TotalOptimizerSteps(10, 95, 4);
  ASSERT_THAT(total, IsOk());
  absl::StatusOr<LrSchedule> schedule =
      LrSchedule::Create(LrScheduleOptions{}, {1e-4}, *total, 24);
  ASSERT_THAT(schedule, IsOk());
  EXPECT_EQ(schedule->warmup_steps(), 24);
}

TEST(OptimizerStepsTest, RejectsNonPositiveArguments) {
  EXPECT_THAT(
      TotalOptimizerSteps(0, 10, 1),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_epochs")));
  EXPECT_THAT(TotalOptimizerSteps(1, 0, 1),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("batches_per_epoch_per_rank")));
  EXPECT_THAT(TotalOptimizerSteps(1, 10, 0),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("accumulate_grad_batches")));
  EXPECT_THAT(
      TotalOptimizerSteps(std::numeric_limits<int64_t>::max(), 2, 1),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("overflows")));
}

TEST(StepMetricsTest, LoggedEveryNStepsAtTheZeroBasedIndex) {
  std::vector<int64_t> logged;
  for (int64_t completed = 1; completed <= 150; ++completed) {
    if (ShouldLogStepMetrics(completed, 50)) {
      logged.push_back(StepMetricsIndex(completed));
    }
  }
  EXPECT_THAT(logged, ElementsAre(49, 99, 149));
  EXPECT_TRUE(ShouldLogStepMetrics(1, 1));
  EXPECT_EQ(StepMetricsIndex(1), 0);
  for (int64_t completed = 1; completed <= 100; ++completed) {
    EXPECT_FALSE(ShouldLogStepMetrics(completed, 0));
  }
}

}  // namespace
}  // namespace cvt
