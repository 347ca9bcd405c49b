#include "libs/train/early_stopping.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/status_matchers.h"
#include "libs/config/early_stopping_config.pb.h"

namespace cvt {
namespace {

using ::testing::HasSubstr;

constexpr double kInf = std::numeric_limits<double>::infinity();
const double kNan = std::nan("");

EarlyStopping Make(EarlyStoppingOptions options) {
  absl::StatusOr<EarlyStopping> early_stopping =
      EarlyStopping::Create(std::move(options));
  EXPECT_THAT(early_stopping, IsOk());
  return *std::move(early_stopping);
}

// Feeds `values` at epochs 0, 1, ... and returns the stop flags.
std::vector<bool> CheckAll(EarlyStopping& early_stopping,
                           const std::vector<double>& values) {
  std::vector<bool> stops;
  for (size_t i = 0; i < values.size(); ++i) {
    stops.push_back(
        early_stopping.Check(values[i], static_cast<int64_t>(i)).stop);
  }
  return stops;
}

TEST(EarlyStoppingTest, DefaultsMatchTheConfigSchema) {
  const EarlyStoppingOptions options;
  const EarlyStoppingConfig config;
  EXPECT_EQ(options.monitor, config.monitor());
  EXPECT_EQ(options.mode, EarlyStoppingMode::kMax);
  EXPECT_EQ(config.mode(), MonitorMode::MAX);
  EXPECT_EQ(options.patience, config.patience());
  EXPECT_EQ(options.min_delta, config.min_delta());
  EXPECT_EQ(options.check_finite, config.check_finite());
  EXPECT_FALSE(options.stopping_threshold.has_value());
  EXPECT_FALSE(options.divergence_threshold.has_value());
}

TEST(EarlyStoppingTest, BestStartsAtTheWorstValue) {
  EXPECT_EQ(Make({.mode = EarlyStoppingMode::kMax}).best_score(), -kInf);
  EXPECT_EQ(Make({.mode = EarlyStoppingMode::kMin}).best_score(), kInf);
}

TEST(EarlyStoppingTest, MaxModeStopsAfterPatienceChecksWithoutImprovement) {
  EarlyStopping early_stopping = Make({.monitor = "val/map", .patience = 3});
  EarlyStoppingDecision first = early_stopping.Check(0.3, 0);
  EXPECT_FALSE(first.stop);
  EXPECT_TRUE(first.improved);
  EXPECT_EQ(first.reason, "Metric val/map improved. New best score: 0.300");

  EarlyStoppingDecision second = early_stopping.Check(0.512, 1);
  EXPECT_TRUE(second.improved);
  EXPECT_EQ(second.reason,
            "Metric val/map improved by 0.212 >= min_delta = 0.0. New best "
            "score: 0.512");
  // A tie is not an improvement.
  EXPECT_FALSE(early_stopping.Check(0.512, 2).improved);
  EXPECT_EQ(early_stopping.wait_count(), 1);
  EXPECT_FALSE(early_stopping.Check(0.4, 3).stop);
  EXPECT_EQ(early_stopping.wait_count(), 2);
  const EarlyStoppingDecision last = early_stopping.Check(0.5, 4);
  EXPECT_TRUE(last.stop);
  EXPECT_FALSE(last.improved);
  EXPECT_EQ(last.reason,
            "Monitored metric val/map did not improve in the last 3 records. "
            "Best score: 0.512. Signaling Trainer to stop.");
  EXPECT_EQ(early_stopping.wait_count(), 3);
  EXPECT_EQ(early_stopping.stopped_epoch(), 4);
  EXPECT_EQ(early_stopping.best_score(), 0.512);
}

TEST(EarlyStoppingTest, ImprovementResetsTheWaitCount) {
  EarlyStopping early_stopping = Make({.patience = 2});
  EXPECT_EQ(
      CheckAll(early_stopping, {0.1, 0.1, 0.2, 0.1, 0.3, 0.3, 0.3}),
      (std::vector<bool>{false, false, false, false, false, false, true}));
  EXPECT_EQ(early_stopping.stopped_epoch(), 6);
}

TEST(EarlyStoppingTest, MinModeWithMinDelta) {
  EarlyStopping early_stopping = Make({.monitor = "val/loss",
                                       .mode = EarlyStoppingMode::kMin,
                                       .patience = 2,
                                       .min_delta = 0.25});
  EXPECT_TRUE(early_stopping.Check(1.0, 0).improved);
  // Improves only if v + 0.25 < best: 0.75 + 0.25 == 1.0 is not enough.
  EarlyStoppingDecision decision = early_stopping.Check(0.75, 1);
  EXPECT_FALSE(decision.improved);
  EXPECT_FALSE(decision.stop);
  EXPECT_EQ(early_stopping.best_score(), 1.0);
  decision = early_stopping.Check(0.5, 2);
  EXPECT_TRUE(decision.improved);
  EXPECT_EQ(decision.reason,
            "Metric val/loss improved by 0.500 >= min_delta = 0.25. New best "
            "score: 0.500");
  EXPECT_EQ(early_stopping.wait_count(), 0);
  EXPECT_FALSE(early_stopping.Check(0.4, 3).stop);
  decision = early_stopping.Check(0.3, 4);
  EXPECT_TRUE(decision.stop);
  EXPECT_EQ(decision.reason,
            "Monitored metric val/loss did not improve in the last 2 records. "
            "Best score: 0.500. Signaling Trainer to stop.");
}

TEST(EarlyStoppingTest, MaxModeWithMinDelta) {
  EarlyStopping early_stopping = Make({.patience = 5, .min_delta = 0.125});
  early_stopping.Check(0.5, 0);
  // Improves only if v - 0.125 > best.
  EXPECT_FALSE(early_stopping.Check(0.625, 1).improved);
  EXPECT_TRUE(early_stopping.Check(0.75, 2).improved);
  EXPECT_EQ(early_stopping.best_score(), 0.75);
}

TEST(EarlyStoppingTest, NonFiniteValueStopsFirstAndKeepsTheBest) {
  EarlyStopping early_stopping =
      Make({.patience = 3, .stopping_threshold = 0.0});
  EXPECT_FALSE(early_stopping.Check(-0.5, 0).stop);
  EarlyStoppingDecision decision = early_stopping.Check(kNan, 7);
  EXPECT_TRUE(decision.stop);
  EXPECT_EQ(decision.reason,
            "Monitored metric val/map = nan is not finite. Previous best value "
            "was -0.500. Signaling Trainer to stop.");
  EXPECT_EQ(early_stopping.best_score(), -0.5);
  EXPECT_EQ(early_stopping.wait_count(), 0);
  EXPECT_EQ(early_stopping.stopped_epoch(), 7);

  // +inf would beat the stopping threshold, but branch 1 comes first.
  decision = early_stopping.Check(kInf, 8);
  EXPECT_TRUE(decision.stop);
  EXPECT_THAT(decision.reason, HasSubstr("val/map = inf is not finite"));

  EarlyStopping fresh = Make({.mode = EarlyStoppingMode::kMin});
  decision = fresh.Check(-kInf, 0);
  EXPECT_TRUE(decision.stop);
  EXPECT_EQ(decision.reason,
            "Monitored metric val/map = -inf is not finite. Previous best "
            "value was inf. Signaling Trainer to stop.");
}

TEST(EarlyStoppingTest, WithoutCheckFiniteNanCountsAsNoImprovement) {
  EarlyStopping early_stopping = Make({.patience = 2, .check_finite = false});
  EXPECT_EQ(CheckAll(early_stopping, {0.5, kNan, kNan}),
            (std::vector<bool>{false, false, true}));
  EXPECT_EQ(early_stopping.best_score(), 0.5);
  // +inf is a (final) improvement in max mode.
  EarlyStopping other = Make({.patience = 1, .check_finite = false});
  EXPECT_TRUE(other.Check(kInf, 0).improved);
  EXPECT_EQ(other.best_score(), kInf);
  EXPECT_TRUE(other.Check(kInf, 1).stop);
}

TEST(EarlyStoppingTest, StoppingThresholdNeedsAStrictlyBetterValue) {
  EarlyStopping early_stopping = Make({.stopping_threshold = 0.9});
  EXPECT_FALSE(early_stopping.Check(0.9, 0).stop);  // equal: improves
  EXPECT_EQ(early_stopping.best_score(), 0.9);
  const EarlyStoppingDecision decision = early_stopping.Check(0.95, 1);
  EXPECT_TRUE(decision.stop);
  EXPECT_FALSE(decision.improved);
  EXPECT_EQ(decision.reason,
            "Stopping threshold reached: val/map = 0.95 > 0.9. Signaling "
            "Trainer to stop.");
  EXPECT_EQ(early_stopping.best_score(), 0.9);  // unchanged by branch 2

  EarlyStopping min = Make({.monitor = "val/loss",
                            .mode = EarlyStoppingMode::kMin,
                            .stopping_threshold = 0.1});
  EXPECT_FALSE(min.Check(0.1, 0).stop);
  EXPECT_EQ(min.Check(0.05, 1).reason,
            "Stopping threshold reached: val/loss = 0.05 < 0.1. Signaling "
            "Trainer to stop.");
}

TEST(EarlyStoppingTest, DivergenceThresholdNeedsAStrictlyWorseValue) {
  EarlyStopping early_stopping = Make({.monitor = "val/loss",
                                       .mode = EarlyStoppingMode::kMin,
                                       .divergence_threshold = 5.0});
  EXPECT_FALSE(early_stopping.Check(5.0, 0).stop);
  EXPECT_EQ(early_stopping.best_score(), 5.0);
  const EarlyStoppingDecision decision = early_stopping.Check(6.0, 1);
  EXPECT_TRUE(decision.stop);
  EXPECT_EQ(decision.reason,
            "Divergence threshold reached: val/loss = 6.0 > 5.0. Signaling "
            "Trainer to stop.");
  EXPECT_EQ(early_stopping.best_score(), 5.0);
  EXPECT_EQ(early_stopping.wait_count(), 0);

  EarlyStopping max = Make({.divergence_threshold = 0.1});
  EXPECT_EQ(max.Check(0.05, 3).reason,
            "Divergence threshold reached: val/map = 0.05 < 0.1. Signaling "
            "Trainer to stop.");
  EXPECT_EQ(max.stopped_epoch(), 3);
}

TEST(EarlyStoppingTest, StoppingThresholdIsCheckedBeforeDivergence) {
  EarlyStopping early_stopping =
      Make({.stopping_threshold = 0.5, .divergence_threshold = 0.8});
  EXPECT_THAT(early_stopping.Check(0.6, 0).reason,
              HasSubstr("Stopping threshold reached"));
}

TEST(EarlyStoppingTest, ZeroPatienceStopsAtTheFirstNonImprovement) {
  EarlyStopping early_stopping = Make({.patience = 0});
  EXPECT_EQ(CheckAll(early_stopping, {0.1, 0.2, 0.2}),
            (std::vector<bool>{false, false, true}));
}

TEST(EarlyStoppingTest, PatienceCountsChecksNotEpochs) {
  // Validation every 10 epochs with patience 3 runs to epoch 40.
  EarlyStopping early_stopping = Make({.patience = 3});
  int64_t stop_epoch = -1;
  for (int64_t epoch = 0; epoch < 100; epoch += 10) {
    if (early_stopping.Check(epoch == 0 ? 0.5 : 0.4, epoch).stop) {
      stop_epoch = epoch;
      break;
    }
  }
  EXPECT_EQ(stop_epoch, 30);
  EXPECT_EQ(early_stopping.stopped_epoch(), 30);
}

TEST(EarlyStoppingTest, CheckMetricsNeedsTheMonitor) {
  EarlyStopping early_stopping = Make({.monitor = "val/map"});
  absl::StatusOr<EarlyStoppingDecision> decision =
      early_stopping.CheckMetrics({{"val/map", 0.25}, {"val/loss", 1.0}}, 0);
  ASSERT_THAT(decision, IsOk());
  EXPECT_TRUE(decision->improved);
  EXPECT_EQ(early_stopping.best_score(), 0.25);
  EXPECT_THAT(
      early_stopping.CheckMetrics({{"val_map", 0.25}, {"val/loss", 1.0}}, 1),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("metric `val/map` which is not available. Available "
                         "metrics are: `val/loss`, `val_map`")));
  EXPECT_THAT(
      early_stopping.CheckMetrics({}, 1),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("(none)")));
  EXPECT_EQ(early_stopping.wait_count(), 0);  // failed checks change nothing
}

TEST(EarlyStoppingTest, CreateRejectsBadOptions) {
  EXPECT_THAT(EarlyStopping::Create({.min_delta = -0.1}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("min_delta must be finite and >= 0, got "
                                 "-0.1")));
  EXPECT_THAT(
      EarlyStopping::Create({.min_delta = kNan}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("min_delta")));
  EXPECT_THAT(
      EarlyStopping::Create({.min_delta = kInf}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("min_delta")));
  EXPECT_THAT(EarlyStopping::Create({.monitor = ""}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("monitor is empty")));
  EXPECT_THAT(
      EarlyStopping::Create({.patience = -1}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("patience")));
  EXPECT_THAT(EarlyStopping::Create({.stopping_threshold = kNan}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("stopping_threshold is NaN")));
  EXPECT_THAT(EarlyStopping::Create({.divergence_threshold = kNan}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("divergence_threshold is NaN")));
}

TEST(EarlyStoppingStateTest, JsonRoundTripKeepsInfinities) {
  EarlyStopping early_stopping = Make({.patience = 4});
  EarlyStoppingState state = early_stopping.state();
  EXPECT_EQ(state.best_score, -kInf);
  EXPECT_EQ(state.patience, 4);
  EXPECT_EQ(EarlyStoppingStateToJson(state),
            "{\"wait_count\":0,\"stopped_epoch\":0,\"best_score\":-Infinity,"
            "\"patience\":4}");
  absl::StatusOr<EarlyStoppingState> parsed =
      EarlyStoppingStateFromJson(EarlyStoppingStateToJson(state));
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->best_score, -kInf);

  CheckAll(early_stopping, {0.1, 0.3, 0.2, 0.2});
  state = early_stopping.state();
  const std::string json = EarlyStoppingStateToJson(state);
  EXPECT_EQ(json,
            "{\"wait_count\":2,\"stopped_epoch\":0,\"best_score\":0.3,"
            "\"patience\":4}");
  parsed = EarlyStoppingStateFromJson(json);
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->wait_count, 2);
  EXPECT_EQ(parsed->stopped_epoch, 0);
  EXPECT_EQ(parsed->best_score, 0.3);
  EXPECT_EQ(parsed->patience, 4);
}

TEST(EarlyStoppingStateTest, RestoreContinuesTheCount) {
  EarlyStopping before = Make({.patience = 3});
  CheckAll(before, {0.5, 0.4, 0.4});
  absl::StatusOr<EarlyStoppingState> state =
      EarlyStoppingStateFromJson(EarlyStoppingStateToJson(before.state()));
  ASSERT_THAT(state, IsOk());

  EarlyStopping resumed = Make({.patience = 3});
  ASSERT_THAT(resumed.RestoreState(*state), IsOk());
  EXPECT_EQ(resumed.wait_count(), 2);
  EXPECT_EQ(resumed.best_score(), 0.5);
  const EarlyStoppingDecision decision = resumed.Check(0.45, 3);
  EXPECT_TRUE(decision.stop);
  EXPECT_THAT(decision.reason, HasSubstr("in the last 3 records"));
  EXPECT_EQ(resumed.stopped_epoch(), 3);

  // A patience override on resume wins over the stored patience.
  EarlyStopping longer = Make({.patience = 10});
  ASSERT_THAT(longer.RestoreState(*state), IsOk());
  EXPECT_FALSE(longer.Check(0.45, 3).stop);
  EXPECT_EQ(longer.state().patience, 10);
}

TEST(EarlyStoppingStateTest, RejectsBadState) {
  EarlyStopping early_stopping = Make({});
  EXPECT_THAT(early_stopping.RestoreState({.wait_count = -1}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(early_stopping.RestoreState({.best_score = kNan}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("NaN")));
  EXPECT_THAT(EarlyStoppingStateFromJson("{\"wait_count\":1}"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("\"stopped_epoch\"")));
  EXPECT_THAT(EarlyStoppingStateFromJson(
                  "{\"wait_count\":1,\"stopped_epoch\":0,\"patience\":3,"
                  "\"best_score\":\"x\"}"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("\"best_score\"")));
  EXPECT_THAT(EarlyStoppingStateFromJson("[1]"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("expected an object")));
  EXPECT_THAT(EarlyStoppingStateFromJson("{"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("early stopping state JSON:1:2")));
}

TEST(EarlyStoppingTest, OptionsFromProtoMapsEveryField) {
  EarlyStoppingConfig config;
  absl::StatusOr<EarlyStoppingOptions> options =
      EarlyStoppingOptionsFromProto(config);
  ASSERT_THAT(options, IsOk());
  EXPECT_EQ(options->monitor, "val/map");
  EXPECT_EQ(options->mode, EarlyStoppingMode::kMax);
  EXPECT_EQ(options->patience, 3);
  EXPECT_EQ(options->min_delta, 0.0);
  EXPECT_TRUE(options->check_finite);
  EXPECT_FALSE(options->stopping_threshold.has_value());
  EXPECT_FALSE(options->divergence_threshold.has_value());

  config.set_monitor("val/loss");
  config.set_mode(MonitorMode::MIN);
  config.set_patience(20);
  config.set_min_delta(0.01);
  config.set_check_finite(false);
  config.set_stopping_threshold(0.05);
  config.set_divergence_threshold(10);
  options = EarlyStoppingOptionsFromProto(config);
  ASSERT_THAT(options, IsOk());
  EXPECT_EQ(options->monitor, "val/loss");
  EXPECT_EQ(options->mode, EarlyStoppingMode::kMin);
  EXPECT_EQ(options->patience, 20);
  EXPECT_EQ(options->min_delta, 0.01);
  EXPECT_FALSE(options->check_finite);
  EXPECT_EQ(options->stopping_threshold, 0.05);
  EXPECT_EQ(options->divergence_threshold, 10.0);

  config.set_min_delta(-1);
  EXPECT_THAT(EarlyStoppingOptionsFromProto(config),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("EarlyStoppingConfig: early stopping: "
                                 "min_delta")));
}

}  // namespace
}  // namespace cvt
