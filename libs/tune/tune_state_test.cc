#include "libs/tune/tune_state.h"

#include <cmath>
#include <limits>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/file_io.h"
#include "libs/base/status_matchers.h"
#include "libs/base/testdata.h"

namespace cvt {
namespace {

using ::testing::HasSubstr;

TuneState SampleState() {
  TuneState state;
  state.search = {.config_sha256 = "aa11",
                  .search_space_sha256 = "bb22",
                  .sets = {"trainer.max_epochs=4", "data.tags={a: 1, b: 2}"},
                  .num_trials = 3,
                  .metric = "val/loss",
                  .mode = "min",
                  .grace_period = 1,
                  .reduction_factor = 2,
                  .max_t = 4,
                  .brackets = 1,
                  .stop_last_trials = true,
                  .seed = 18446744073709551615ULL};
  TrialRecord t;
  t.id = "trial_0000";
  t.params = {{"optimizer.lr", "0.002"}, {"model.yolo.size", "NANO"}};
  t.status = TrialStatus::kStopped;
  t.launches = 2;
  t.stop_requested = true;
  t.cursor = {.offset = 1234, .tail = "\"timestamp_ms\":17}\n", .last_time = 2};
  t.last_value = -std::numeric_limits<double>::infinity();
  t.best_value = 0.1 + 0.2;
  t.best_time = 1;
  t.exit = "exit code 1";
  state.trials.push_back(t);
  state.trials.push_back({.id = "trial_0001"});
  absl::StatusOr<AshaScheduler> asha = AshaScheduler::Create(
      {.max_t = 4, .grace_period = 1, .reduction_factor = 2}, 3);
  EXPECT_THAT(asha, IsOk());
  EXPECT_THAT(asha->AddTrial("trial_0000"), IsOk());
  EXPECT_THAT(asha->AddTrial("trial_0001"), IsOk());
  EXPECT_THAT(asha->OnTrialResult("trial_0000", 1, 0.3), IsOk());
  state.scheduler = *std::move(asha);
  state.decisions.push_back({.trial = "trial_0000",
                             .time = 1,
                             .value = 0.3,
                             .action = "CONTINUE",
                             .milestone = 1.0});
  return state;
}

TEST(TuneStateTest, RoundTripsExactly) {
  const TuneState state = SampleState();
  const std::string path = TestTempPath("tune_state.json");
  ASSERT_THAT(SaveTuneState(path, state), IsOk());
  absl::StatusOr<TuneState> loaded = LoadTuneState(path);
  ASSERT_THAT(loaded, IsOk());
  EXPECT_EQ(TuneStateToJson(*loaded), TuneStateToJson(state));
  const TrialRecord& t = loaded->trials[0];
  EXPECT_EQ(t.status, TrialStatus::kStopped);
  EXPECT_EQ(t.cursor.tail, "\"timestamp_ms\":17}\n");
  EXPECT_EQ(*t.best_value, 0.1 + 0.2);
  EXPECT_TRUE(std::isinf(*t.last_value));
  EXPECT_FALSE(loaded->trials[1].best_value.has_value());
  EXPECT_EQ(loaded->search.seed, 18446744073709551615ULL);
  EXPECT_EQ(loaded->decisions, state.decisions);
  EXPECT_EQ(loaded->scheduler->BracketOf("trial_0001"),
            state.scheduler->BracketOf("trial_0001"));
}

TEST(TuneStateTest, MalformedFilesNameTheField) {
  EXPECT_THAT(LoadTuneState(TestTempPath("absent.json")),
              StatusIs(absl::StatusCode::kNotFound));
  std::string text = TuneStateToJson(SampleState());
  text.replace(text.find("\"STOPPED\""), 9, "\"HALTED\"");
  EXPECT_THAT(TuneStateFromJson(text, "s.json"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("s.json: trials[0]: unknown trial status "
                                 "'HALTED'")));
  EXPECT_THAT(TuneStateFromJson("{\"version\": 9}", "s.json"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("state version 9")));
}

TEST(CheckSameSearchTest, NamesTheFlagThatChanged) {
  const TuneSearchSettings saved = SampleState().search;
  EXPECT_THAT(CheckSameSearch(saved, saved, "out/tune_state.json"), IsOk());
  TuneSearchSettings now = saved;
  now.metric = "val/map";
  EXPECT_THAT(CheckSameSearch(saved, now, "out/tune_state.json"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--metric differs from the search saved in "
                                 "out/tune_state.json (val/loss there, "
                                 "val/map now)")));
  now = saved;
  now.search_space_sha256 = "cc33";
  EXPECT_THAT(CheckSameSearch(saved, now, "s"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--search_space differs")));
  now = saved;
  now.reduction_factor = 3;
  EXPECT_THAT(CheckSameSearch(saved, now, "s"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--reduction_factor differs")));
  now = saved;
  now.sets.pop_back();
  EXPECT_THAT(
      CheckSameSearch(saved, now, "s"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--set differs")));
}

}  // namespace
}  // namespace cvt
