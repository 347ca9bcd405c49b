#include "libs/tune/tune_results.h"

#include <cmath>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/file_io.h"
#include "libs/base/json.h"
#include "libs/base/status_matchers.h"
#include "libs/base/testdata.h"

namespace cvt {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TrialRecord Trial(const std::string& id, std::optional<double> best) {
  TrialRecord t;
  t.id = id;
  t.best_value = best;
  t.last_value = best;
  t.status = TrialStatus::kCompleted;
  return t;
}

TEST(RankTrialsTest, BestEverValueFirstThenTrialsWithoutOne) {
  const std::vector<TrialRecord> trials = {
      Trial("a", 0.5),          Trial("b", std::nullopt), Trial("c", 0.9),
      Trial("d", std::nan("")), Trial("e", 0.5),          Trial("f", 0.1)};
  EXPECT_THAT(RankTrials(trials, AshaMode::kMax),
              ElementsAre(2, 0, 4, 5, 1, 3));
  EXPECT_THAT(RankTrials(trials, AshaMode::kMin),
              ElementsAre(5, 0, 4, 2, 1, 3));
}

TEST(WriteResultsTest, WritesASortedCsvAndJson) {
  const std::string out = TestTempPath("results");
  ASSERT_THAT(MakeDirs(out), IsOk());
  TrialResult worse{Trial("trial_0000", 0.2), {1}, "trials/trial_0000", ""};
  worse.trial.params = {{"optimizer.lr", "1e-12"}, {"sizes", "[480, 512]"}};
  worse.trial.status = TrialStatus::kStopped;
  worse.trial.last_time = 1;
  worse.trial.best_time = 1;
  TrialResult better{Trial("trial_0001", 0.7),
                     {4, 2, 1},
                     "trials/trial_0001",
                     "trials/trial_0001/checkpoints/best.ckpt"};
  better.trial.params = {{"optimizer.lr", "0.002"}, {"sizes", "[480]"}};
  better.trial.last_time = 4;
  better.trial.best_time = 3;
  better.trial.last_value = 0.6;
  ASSERT_THAT(WriteResults(out, {worse, better},
                           {.metric = "val/map",
                            .mode = AshaMode::kMax,
                            .keys = {"optimizer.lr", "sizes"}}),
              IsOk());
  absl::StatusOr<std::string> csv = ReadFileToString(out + "/results.csv");
  ASSERT_THAT(csv, IsOk());
  EXPECT_EQ(*csv,
            "trial_id,bracket,optimizer.lr,sizes,status,last_epoch,last_value,"
            "best_value,best_epoch,rungs,launches,run_dir,best_checkpoint\n"
            "trial_0001,0,0.002,[480],COMPLETED,4,0.6,0.7,3,4.0;2.0;1.0,0,"
            "trials/trial_0001,trials/trial_0001/checkpoints/best.ckpt\n"
            "trial_0000,0,1e-12,\"[480, 512]\",STOPPED,1,0.2,0.2,1,1.0,0,"
            "trials/trial_0000,\n");
  absl::StatusOr<rapidjson::Document> json =
      ReadJsonFile(out + "/results.json");
  ASSERT_THAT(json, IsOk());
  EXPECT_STREQ((*json)["best_trial"].GetString(), "trial_0001");
  EXPECT_STREQ((*json)["trials"][1]["params"]["optimizer.lr"].GetString(),
               "1e-12");
  EXPECT_EQ((*json)["trials"][0]["rungs"].Size(), 3u);
}

}  // namespace
}  // namespace cvt
