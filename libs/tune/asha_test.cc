#include "libs/tune/asha.h"

#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/json.h"
#include "libs/base/status_matchers.h"

namespace cvt {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Optional;

constexpr double kInf = std::numeric_limits<double>::infinity();

std::vector<double> Milestones(const Bracket& bracket) {
  std::vector<double> out;
  for (const AshaRung& rung : bracket.rungs()) out.push_back(rung.milestone);
  return out;
}

const AshaRung& RungAt(const Bracket& bracket, double milestone) {
  for (const AshaRung& rung : bracket.rungs()) {
    if (rung.milestone == milestone) return rung;
  }
  ADD_FAILURE() << "no rung " << milestone;
  return bracket.rungs().front();
}

AshaScheduler MakeScheduler(const AshaOptions& options, uint64_t seed = 0) {
  absl::StatusOr<AshaScheduler> scheduler =
      AshaScheduler::Create(options, seed);
  EXPECT_THAT(scheduler, IsOk());
  return *std::move(scheduler);
}

// numpy 2.3.5's np.nanpercentile on the same inputs, to the last bit.
TEST(NanPercentileTest, EqualsNumpy) {
  EXPECT_THAT(NanPercentile({2, 4}, 50), Optional(3.0));
  EXPECT_THAT(NanPercentile({1, 2, 3, 4}, 75), Optional(3.25));
  EXPECT_THAT(NanPercentile({-.5, -.3}, 50), Optional(-0.4));
  EXPECT_THAT(NanPercentile({0.1, 0.7, 0.2}, (1 - 1.0 / 3) * 100),
              Optional(0.3666666666666667));
  EXPECT_THAT(NanPercentile({3.3, 1.1, 2.2, 9.9, 5.5}, (1 - 1 / 1.5) * 100),
              Optional(2.566666666666667));
  EXPECT_THAT(
      NanPercentile({0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7}, (1 - 1.0 / 4) * 100),
      Optional(0.55));
}

TEST(NanPercentileTest, EmptyNanAndInfinities) {
  EXPECT_EQ(NanPercentile({}, 50), std::nullopt);
  EXPECT_THAT(NanPercentile({std::nan(""), 1, 3}, 50), Optional(2.0));
  std::optional<double> all_nan = NanPercentile({std::nan("")}, 50);
  ASSERT_TRUE(all_nan.has_value());
  EXPECT_TRUE(std::isnan(*all_nan));
  EXPECT_THAT(NanPercentile({-kInf, 1}, 50), Optional(-kInf));
  EXPECT_THAT(NanPercentile({-kInf, -kInf, 1}, 75), Optional(-kInf));
  EXPECT_THAT(NanPercentile({-kInf, 1, 2}, 75), Optional(1.5));
}

TEST(AshaOptionsTest, RaysAssertsAreInvalidArgument) {
  EXPECT_THAT(ValidateAshaOptions({}), IsOk());
  EXPECT_THAT(ValidateAshaOptions({.max_t = 0}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_t")));
  EXPECT_THAT(
      ValidateAshaOptions({.max_t = 4, .grace_period = 5}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("grace_period")));
  EXPECT_THAT(
      ValidateAshaOptions({.grace_period = 0}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("grace_period")));
  EXPECT_THAT(ValidateAshaOptions({.reduction_factor = 1}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("reduction_factor")));
  EXPECT_THAT(
      ValidateAshaOptions({.brackets = 0}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("brackets")));
}

// V1: Ray's docstring example.
TEST(BracketTest, V1DocstringExample) {
  Bracket bracket(/*min_t=*/1, /*max_t=*/10, /*reduction_factor=*/2, /*s=*/0,
                  /*stop_last_trials=*/true);
  EXPECT_THAT(Milestones(bracket), ElementsAre(8, 4, 2, 1));
  EXPECT_EQ(bracket.OnResult("A", 1, 2).action, AshaAction::kContinue);
  EXPECT_EQ(bracket.OnResult("B", 1, 4).action, AshaAction::kContinue);
  EXPECT_THAT(bracket.Cutoff(RungAt(bracket, 1)), Optional(3.0));
  AshaDecision c = bracket.OnResult("C", 1, 1);
  EXPECT_EQ(c.action, AshaAction::kStop);
  EXPECT_THAT(c.milestone, Optional(1.0));
  EXPECT_THAT(c.cutoff, Optional(3.0));
  EXPECT_TRUE(c.recorded);
  EXPECT_THAT(bracket.Cutoff(RungAt(bracket, 1)), Optional(2.0));
}

// V2: the seed trainer's settings: R = int(log2(5) + 1) = 3, cutoff = median.
TEST(BracketTest, V2SeedTrainer) {
  EXPECT_EQ(Bracket::NumRungs(10, 50, 2, 0), 3);
  Bracket bracket(10, 50, 2, 0, true);
  EXPECT_THAT(Milestones(bracket), ElementsAre(40, 20, 10));
  bracket.OnResult("a", 10, 1);
  bracket.OnResult("b", 10, 5);
  bracket.OnResult("c", 10, 3);
  EXPECT_THAT(bracket.Cutoff(RungAt(bracket, 10)), Optional(3.0));
}

// V3: the seed notebook: grace 10, max_t 300, rf 2, 3 brackets.
TEST(AshaSchedulerTest, V3BracketsAndProbabilities) {
  AshaScheduler asha = MakeScheduler(
      {.max_t = 300, .grace_period = 10, .reduction_factor = 2, .brackets = 3});
  ASSERT_EQ(asha.brackets().size(), 3u);
  EXPECT_THAT(Milestones(asha.brackets()[0]), ElementsAre(160, 80, 40, 20, 10));
  EXPECT_THAT(Milestones(asha.brackets()[1]), ElementsAre(160, 80, 40, 20));
  EXPECT_THAT(Milestones(asha.brackets()[2]), ElementsAre(160, 80, 40));
  std::vector<double> p = asha.BracketProbabilities();
  ASSERT_EQ(p.size(), 3u);
  EXPECT_NEAR(p[0], 0.665, 5e-4);
  EXPECT_NEAR(p[1], 0.245, 5e-4);
  EXPECT_NEAR(p[2], 0.090, 5e-4);
  EXPECT_DOUBLE_EQ(p[0] + p[1] + p[2], 1.0);
}

// The seeded draws follow the probabilities, and one seed gives one sequence.
TEST(AshaSchedulerTest, BracketDrawsFollowProbabilitiesForASeed) {
  const AshaOptions options = {
      .max_t = 300, .grace_period = 10, .reduction_factor = 2, .brackets = 3};
  AshaScheduler asha = MakeScheduler(options, /*seed=*/1234);
  AshaScheduler again = MakeScheduler(options, /*seed=*/1234);
  AshaScheduler other = MakeScheduler(options, /*seed=*/1235);
  constexpr int kDraws = 100000;
  std::vector<int> counts(3, 0);
  int same = 0;
  int differs = 0;
  for (int i = 0; i < kDraws; ++i) {
    const std::string id = "t" + std::to_string(i);
    absl::StatusOr<int> b = asha.AddTrial(id);
    ASSERT_THAT(b, IsOk());
    ++counts[*b];
    same += *b == *again.AddTrial(id);
    differs += *b != *other.AddTrial(id);
  }
  EXPECT_EQ(same, kDraws);
  EXPECT_GT(differs, kDraws / 4);
  const std::vector<double> p = asha.BracketProbabilities();
  for (int b = 0; b < 3; ++b) {
    // 5 standard deviations of a binomial frequency at 1e5 draws is < 0.008.
    EXPECT_NEAR(counts[b] / static_cast<double>(kDraws), p[b], 0.008)
        << "bracket " << b;
  }
}

// V4: Ray's defaults: R = 4, [64, 16, 4, 1]; cutoff of [1,2,3,4] is 3.25.
TEST(BracketTest, V4RayDefaults) {
  AshaScheduler asha =
      MakeScheduler({.max_t = 100, .grace_period = 1, .reduction_factor = 4});
  EXPECT_THAT(Milestones(asha.brackets()[0]), ElementsAre(64, 16, 4, 1));
  Bracket bracket(1, 100, 4, 0, true);
  for (int i = 1; i <= 4; ++i) bracket.OnResult("r" + std::to_string(i), 1, i);
  EXPECT_THAT(bracket.Cutoff(RungAt(bracket, 1)), Optional(3.25));
  Bracket copy = bracket;
  EXPECT_EQ(bracket.OnResult("x", 1, 3.2).action, AshaAction::kStop);
  EXPECT_EQ(copy.OnResult("y", 1, 3.25).action, AshaAction::kContinue);
}

// V5: min mode negates: losses .5 and .3 give a cutoff of -.4.
TEST(AshaSchedulerTest, V5MinModeNegates) {
  const AshaOptions options = {.max_t = 10,
                               .grace_period = 1,
                               .reduction_factor = 2,
                               .mode = AshaMode::kMin};
  AshaScheduler asha = MakeScheduler(options);
  for (const char* id : {"a", "b", "c", "d"}) {
    ASSERT_THAT(asha.AddTrial(id), IsOk());
  }
  EXPECT_EQ(asha.OnTrialResult("a", 1, 0.5)->action, AshaAction::kContinue);
  EXPECT_EQ(asha.OnTrialResult("b", 1, 0.3)->action, AshaAction::kContinue);
  AshaScheduler copy = asha;
  absl::StatusOr<AshaDecision> c = asha.OnTrialResult("c", 1, 0.45);
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->action, AshaAction::kStop);
  EXPECT_THAT(c->cutoff, Optional(-0.4));
  EXPECT_EQ(copy.OnTrialResult("d", 1, 0.4)->action, AshaAction::kContinue);
}

// V6: t >= max_t STOPs without recording; completion records at the highest
// open rung.
TEST(AshaSchedulerTest, V6MaxTStopsAndCompletionRecords) {
  AshaScheduler asha =
      MakeScheduler({.max_t = 10, .grace_period = 1, .reduction_factor = 2});
  ASSERT_THAT(asha.AddTrial("a"), IsOk());
  absl::StatusOr<AshaDecision> d = asha.OnTrialResult("a", 10, 0.7);
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(d->action, AshaAction::kStop);
  EXPECT_TRUE(d->max_t_reached);
  EXPECT_FALSE(d->recorded);
  EXPECT_TRUE(asha.RecordedMilestones("a").empty());
  absl::StatusOr<AshaDecision> done = asha.OnTrialComplete("a", 10, 0.7);
  ASSERT_THAT(done, IsOk());
  EXPECT_TRUE(done->recorded);
  EXPECT_THAT(asha.RecordedMilestones("a"), ElementsAre(8));
  // A completed trial takes no more results.
  EXPECT_THAT(asha.OnTrialResult("a", 11, 0.7),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(asha.OnTrialResult("never", 1, 0.7),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

// V7: a first report after several milestones is judged at the highest one;
// the next report can still be judged at a lower, unrecorded rung.
TEST(BracketTest, V7SkippedMilestones) {
  Bracket bracket(10, 50, 2, 0, true);
  ASSERT_THAT(Milestones(bracket), ElementsAre(40, 20, 10));
  AshaDecision first = bracket.OnResult("a", 25, 1.0);
  EXPECT_THAT(first.milestone, Optional(20.0));
  EXPECT_TRUE(RungAt(bracket, 20).Has("a"));
  EXPECT_FALSE(RungAt(bracket, 10).Has("a"));
  AshaDecision next = bracket.OnResult("a", 26, 1.0);
  EXPECT_THAT(next.milestone, Optional(10.0));
  EXPECT_TRUE(RungAt(bracket, 10).Has("a"));
  // Nothing is left to judge it until t reaches 40.
  EXPECT_EQ(bracket.OnResult("a", 27, 1.0).milestone, std::nullopt);
}

// V8: the seed's default time attribute (one report per trial, t = 1 < grace
// 10): never recorded, completion records nothing, ASHA is a no-op.
TEST(AshaSchedulerTest, V8SingleReportIsANoOp) {
  AshaScheduler asha =
      MakeScheduler({.max_t = 50, .grace_period = 10, .reduction_factor = 2});
  for (int i = 0; i < 5; ++i) {
    const std::string id = "t" + std::to_string(i);
    ASSERT_THAT(asha.AddTrial(id), IsOk());
    absl::StatusOr<AshaDecision> d = asha.OnTrialResult(id, 1, i * 0.1);
    ASSERT_THAT(d, IsOk());
    EXPECT_EQ(d->action, AshaAction::kContinue);
    EXPECT_EQ(d->milestone, std::nullopt);
    ASSERT_THAT(asha.OnTrialComplete(id, 1, i * 0.1), IsOk());
    EXPECT_TRUE(asha.RecordedMilestones(id).empty());
  }
}

TEST(AshaSchedulerTest, MissingTimeOrMetricContinuesAndRecordsNothing) {
  AshaScheduler asha =
      MakeScheduler({.max_t = 10, .grace_period = 1, .reduction_factor = 2});
  ASSERT_THAT(asha.AddTrial("a"), IsOk());
  EXPECT_EQ(asha.OnTrialResult("a", std::nullopt, 1.0)->action,
            AshaAction::kContinue);
  EXPECT_EQ(asha.OnTrialResult("a", 20, std::nullopt)->action,
            AshaAction::kContinue);
  EXPECT_TRUE(asha.RecordedMilestones("a").empty());
}

TEST(BracketTest, WithoutStopLastTrialsARecordedRungEndsTheWalk) {
  Bracket bracket(1, 10, 2, 0, /*stop_last_trials=*/false);
  bracket.OnResult("a", 1, 5.0);
  // Recorded at rung 1 and t = 1.5 reaches no other milestone: CONTINUE.
  EXPECT_EQ(bracket.OnResult("a", 1.5, 5.0).milestone, std::nullopt);
  // At t = 2 rung 2 judges (it is higher than the recorded rung 1).
  EXPECT_THAT(bracket.OnResult("a", 2, 5.0).milestone, Optional(2.0));
}

// §4.4: a non-finite reward is recorded as -inf and STOPs whenever the rung
// holds a finite reward; the first one at a rung passes.
TEST(BracketTest, NonFiniteRewardsAreRecordedAsMinusInfinity) {
  Bracket bracket(1, 10, 2, 0, true);
  AshaDecision first = bracket.OnResult("nan", 1, std::nan(""));
  EXPECT_EQ(first.action, AshaAction::kContinue);
  EXPECT_EQ(RungAt(bracket, 1).recorded[0].second, -kInf);
  // -inf alone: the cutoff is -inf and stops no finite reward.
  EXPECT_EQ(bracket.OnResult("a", 1, -1e300).action, AshaAction::kContinue);
  EXPECT_EQ(bracket.OnResult("inf", 1, kInf).action, AshaAction::kStop);
  EXPECT_EQ(bracket.OnResult("neg", 1, -kInf).action, AshaAction::kStop);
  EXPECT_EQ(RungAt(bracket, 1).recorded.size(), 4u);
}

// A simulator: fake trials with fixed curves report at t = 1, 2, ... in
// round-robin order (trials the scheduler stopped drop out); a trial that
// reaches max_t completes.
struct SimEvent {
  std::string trial;
  double time;
  AshaAction action;
  bool operator==(const SimEvent& o) const {
    return trial == o.trial && time == o.time && action == o.action;
  }
};

class Simulator {
 public:
  Simulator(AshaScheduler asha, std::map<std::string, std::vector<double>> c)
      : asha_(std::move(asha)), curves_(std::move(c)) {}

  // Runs events [from, to) of the fixed schedule (t-major, trial-minor).
  void Run(int from, int to) {
    int index = 0;
    for (int t = 1; t <= kMaxT; ++t) {
      for (const auto& [trial, curve] : curves_) {
        if (index >= to) return;
        if (index++ < from) continue;
        if (stopped_.count(trial) != 0) continue;
        const double value = curve[t - 1];
        absl::StatusOr<AshaDecision> d = asha_.OnTrialResult(trial, t, value);
        ASSERT_THAT(d, IsOk());
        events_.push_back({trial, static_cast<double>(t), d->action});
        if (d->action == AshaAction::kStop) {
          stopped_.insert(trial);
          if (d->max_t_reached) {
            ASSERT_THAT(asha_.OnTrialComplete(trial, t, value), IsOk());
          } else {
            early_.insert(trial);
          }
        }
      }
    }
  }

  static constexpr int kMaxT = 4;
  AshaScheduler asha_;
  std::map<std::string, std::vector<double>> curves_;
  std::set<std::string> stopped_;
  std::set<std::string> early_;
  std::vector<SimEvent> events_;
};

// Constant curves (max mode), rf 2, grace 1, max_t 4: milestones [4, 2, 1].
//   t=1, rung 1, arrival a..h with rewards 5 3 8 1 6 2 7 4: cutoffs
//   -, 5, 4, 5, 4, 5, 4, 5 -> b, d, f, h stop.
//   t=2, rung 2: a (5) first, c (8) vs 5, e (6) vs median(5, 8) = 6.5 stops,
//   g (7) vs median(5, 6, 8) = 6 passes.
//   t=3: every survivor is recorded at every reached rung: CONTINUE.
//   t=4 = max_t: STOP (budget); completion records at rung 4.
std::map<std::string, std::vector<double>> ConstantCurves() {
  std::map<std::string, std::vector<double>> curves;
  const std::vector<double> rewards = {5, 3, 8, 1, 6, 2, 7, 4};
  for (size_t i = 0; i < rewards.size(); ++i) {
    curves[std::string(1, static_cast<char>('a' + i))] =
        std::vector<double>(Simulator::kMaxT, rewards[i]);
  }
  return curves;
}

const AshaOptions kSimOptions = {
    .max_t = 4, .grace_period = 1, .reduction_factor = 2, .brackets = 1};

Simulator NewSimulation() {
  AshaScheduler asha = MakeScheduler(kSimOptions, 99);
  for (const auto& [trial, curve] : ConstantCurves()) {
    EXPECT_THAT(asha.AddTrial(trial), IsOk());
  }
  return Simulator(std::move(asha), ConstantCurves());
}

TEST(AshaSimulatorTest, StopSet) {
  Simulator sim = NewSimulation();
  sim.Run(0, 1000);
  EXPECT_THAT(sim.early_, ElementsAre("b", "d", "e", "f", "h"));
  EXPECT_THAT(sim.asha_.RecordedMilestones("a"), ElementsAre(4, 2, 1));
  EXPECT_THAT(sim.asha_.RecordedMilestones("e"), ElementsAre(2, 1));
  EXPECT_THAT(sim.asha_.RecordedMilestones("b"), ElementsAre(1));
  EXPECT_EQ(sim.asha_.brackets()[0].rungs()[0].recorded.size(), 3u);
}

std::string StateText(const AshaScheduler& asha) {
  JsonWriter json({.non_finite = NonFinitePolicy::kPythonLiterals});
  asha.WriteJson(json);
  return json.Finish().value();
}

// Saving the state to JSON and loading it at any point gives the same
// decisions as the uninterrupted run (and the same bracket draws after).
TEST(AshaSimulatorTest, IdenticalDecisionsAfterSaveAndLoad) {
  Simulator whole = NewSimulation();
  whole.Run(0, 1000);
  for (int cut : {0, 3, 8, 11, 14, 20}) {
    Simulator first = NewSimulation();
    first.Run(0, cut);
    JsonWriter json({.non_finite = NonFinitePolicy::kPythonLiterals});
    first.asha_.WriteJson(json);
    absl::StatusOr<std::string> text = json.Finish();
    ASSERT_THAT(text, IsOk());
    absl::StatusOr<rapidjson::Document> doc = ParseJson(*text, "state");
    ASSERT_THAT(doc, IsOk());
    absl::StatusOr<AshaScheduler> loaded =
        AshaScheduler::FromJson(*doc, "state");
    ASSERT_THAT(loaded, IsOk());
    Simulator second(*std::move(loaded), ConstantCurves());
    second.stopped_ = first.stopped_;
    second.early_ = first.early_;
    second.events_ = first.events_;
    second.Run(cut, 1000);
    EXPECT_EQ(second.events_, whole.events_) << "cut at event " << cut;
    EXPECT_EQ(second.early_, whole.early_) << "cut at event " << cut;
    EXPECT_EQ(StateText(second.asha_), StateText(whole.asha_))
        << "cut at event " << cut;
  }
}

TEST(AshaSchedulerTest, JsonRoundTripContinuesTheBracketDraws) {
  const AshaOptions options = {
      .max_t = 300, .grace_period = 10, .reduction_factor = 2, .brackets = 3};
  AshaScheduler a = MakeScheduler(options, 5);
  for (int i = 0; i < 10; ++i)
    ASSERT_THAT(a.AddTrial(std::to_string(i)), IsOk());
  ASSERT_THAT(a.OnTrialResult("0", 160, -kInf), IsOk());
  JsonWriter json({.non_finite = NonFinitePolicy::kPythonLiterals});
  a.WriteJson(json);
  absl::StatusOr<rapidjson::Document> doc = ParseJson(*json.Finish(), "s");
  ASSERT_THAT(doc, IsOk());
  absl::StatusOr<AshaScheduler> b = AshaScheduler::FromJson(*doc, "s");
  ASSERT_THAT(b, IsOk());
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(b->BracketOf(std::to_string(i)), a.BracketOf(std::to_string(i)));
  }
  for (int i = 10; i < 50; ++i) {
    EXPECT_EQ(*b->AddTrial(std::to_string(i)), *a.AddTrial(std::to_string(i)));
  }
  EXPECT_EQ(b->brackets()[a.BracketOf("0")].rungs().front().recorded[0].second,
            -kInf);
}

TEST(AshaSchedulerTest, FromJsonNamesTheBadField) {
  absl::StatusOr<rapidjson::Document> doc =
      ParseJson(R"({"options": {"max_t": 4}})", "tune_state.json");
  ASSERT_THAT(doc, IsOk());
  EXPECT_THAT(AshaScheduler::FromJson(*doc, "tune_state.json"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("tune_state.json: scheduler.options: missing "
                                 "\"grace_period\"")));
}

}  // namespace
}  // namespace cvt
