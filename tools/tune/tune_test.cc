// RunTune end to end over fake trainers (fake_train.sh: fixed val/map curves
// chosen by the trial's tracking.run_name), one trial at a time so every
// decision is deterministic.

#include "tools/tune/tune.h"

#include <sys/stat.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/file_io.h"
#include "libs/base/json.h"
#include "libs/base/status_matchers.h"
#include "libs/base/testdata.h"
#include "libs/tune/tune_state.h"

namespace cvt {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string WriteSpace(const std::string& name, const std::string& text) {
  const std::string path = TestTempPath(name);
  EXPECT_THAT(WriteFileAtomically(path, text), IsOk());
  return path;
}

std::string GridSpace(const std::string& name,
                      const std::vector<std::string>& run_names) {
  std::string values;
  for (const std::string& v : run_names) {
    absl::StrAppend(&values, values.empty() ? "" : ", ", "\"", v, "\"");
  }
  return WriteSpace(name, absl::StrCat("param { key: \"tracking.run_name\" "
                                       "grid { values: [",
                                       values, "] } }\n"));
}

TuneOptions Options(const std::string& out, const std::string& space) {
  TuneOptions o;
  o.config_path = TestDataPath("configs/yolo_nano_shapes.textproto");
  o.search_space_path = space;
  o.data_dir = TestTempPath("");
  o.out_dir = TestTempPath(out);
  o.num_trials = 1;
  o.max_concurrent = 1;
  o.metric = "val/map";
  o.mode = "max";
  o.grace_period = 1;
  o.reduction_factor = 2;
  o.max_t = 4;
  o.train_bin = TestDataPath("tools/tune/fake_train.sh");
  o.poll_interval_s = 0.02;
  o.stop_grace_s = 5;
  return o;
}

TuneState LoadState(const TuneOptions& o) {
  absl::StatusOr<TuneState> state =
      LoadTuneState(o.out_dir + "/tune_state.json");
  EXPECT_THAT(state, IsOk());
  return *std::move(state);
}

std::vector<std::string> Statuses(const TuneState& state) {
  std::vector<std::string> out;
  for (const TrialRecord& t : state.trials)
    out.push_back(TrialStatusName(t.status));
  return out;
}

// Trainer starts recorded by fake_train.sh.
int Launches(const TuneOptions& o, const std::string& trial) {
  absl::StatusOr<std::string> text =
      ReadFileToString(o.out_dir + "/trials/" + trial + "/launches.txt");
  return text.ok()
             ? static_cast<int>(std::count(text->begin(), text->end(), '\n'))
             : 0;
}

// Constant curves 5, 3, 8, 1 (max mode), rf 2, milestones [4, 2, 1], one
// trial at a time: trial 1 (3) and trial 3 (1) are below the median of rung
// 1 when they get there, the others pass every rung and complete at max_t.
TEST(RunTuneTest, StopsTheLosersAndRanksTheWinners) {
  TuneOptions o =
      Options("search", GridSpace("space.textproto", {"v5", "v3", "v8", "v1"}));
  std::ostringstream progress, summary;
  o.progress = &progress;
  o.summary = &summary;
  ASSERT_THAT(RunTune(o), IsOk()) << progress.str();
  const TuneState state = LoadState(o);
  EXPECT_THAT(Statuses(state),
              ElementsAre("COMPLETED", "STOPPED", "COMPLETED", "STOPPED"));
  EXPECT_EQ(state.trials[1].last_time, 1);
  EXPECT_EQ(state.trials[2].last_time, 4);
  EXPECT_THAT(state.scheduler->RecordedMilestones("trial_0002"),
              ElementsAre(4, 2, 1));
  EXPECT_THAT(progress.str(),
              HasSubstr("trial_0001 epoch 1: val/map=3 -> STOP at rung 1 "
                        "(cutoff 5)"));
  // The stopped trainers saw SIGTERM and ended KILLED.
  absl::StatusOr<std::string> run =
      ReadFileToString(o.out_dir + "/trials/trial_0001/run.json");
  ASSERT_THAT(run, IsOk());
  EXPECT_THAT(*run, HasSubstr("KILLED"));

  absl::StatusOr<rapidjson::Document> results =
      ReadJsonFile(o.out_dir + "/results.json");
  ASSERT_THAT(results, IsOk());
  EXPECT_STREQ((*results)["best_trial"].GetString(), "trial_0002");
  std::vector<std::string> order;
  for (const auto& t : (*results)["trials"].GetArray()) {
    order.push_back(t["trial_id"].GetString());
  }
  EXPECT_THAT(order, ElementsAre("trial_0002", "trial_0000", "trial_0001",
                                 "trial_0003"));
  absl::StatusOr<std::string> csv =
      ReadFileToString(o.out_dir + "/results.csv");
  ASSERT_THAT(csv, IsOk());
  EXPECT_THAT(
      *csv, HasSubstr("trial_0002,0,v8,COMPLETED,4,8.0,8.0,1,4.0;2.0;1.0,1,"));
  absl::StatusOr<std::string> best =
      ReadFileToString(o.out_dir + "/best_config.textproto");
  ASSERT_THAT(best, IsOk());
  EXPECT_THAT(*best, HasSubstr("# proto-file: libs/config/pipeline.proto"));
  EXPECT_THAT(*best, HasSubstr("run_name: \"v8\""));
  EXPECT_THAT(*best, HasSubstr("max_epochs: 4"));
  EXPECT_THAT(ReadFileToString(o.out_dir + "/parent_run/run.json"),
              IsOkAndHolds(HasSubstr("\"tune.best_trial\": \"trial_0002\"")));
  EXPECT_THAT(summary.str(), HasSubstr("trial_0002   COMPLETED"));

  // A second fresh search into the same folder is refused.
  EXPECT_THAT(RunTune(o), StatusIs(absl::StatusCode::kInvalidArgument,
                                   HasSubstr("is not empty")));
  // Resuming a finished search changes nothing.
  o.resume = true;
  o.progress = nullptr;
  o.summary = nullptr;
  ASSERT_THAT(RunTune(o), IsOk());
  EXPECT_EQ(LoadState(o).decisions, state.decisions);
}

// Interrupted (as by SIGTERM) while trial 2 runs, then resumed: finished
// trials are not run again, trial 2 continues from its checkpoint, and every
// decision equals the uninterrupted search's.
TEST(RunTuneTest, ResumeAfterAStopContinuesWithTheSameDecisions) {
  const std::string space =
      GridSpace("space2.textproto", {"v5", "v3", "v8", "v1", "v6"});
  TuneOptions whole = Options("whole", space);
  ASSERT_THAT(RunTune(whole), IsOk());

  TuneOptions o = Options("interrupted", space);
  const std::string marker =
      o.out_dir + "/trials/trial_0002/checkpoints/last.ckpt";
  o.stop = [marker] { return ReadFileToString(marker).ok(); };
  EXPECT_THAT(RunTune(o),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("--resume")));
  const TuneState stopped = LoadState(o);
  EXPECT_THAT(Statuses(stopped), ElementsAre("COMPLETED", "STOPPED", "PENDING",
                                             "PENDING", "PENDING"));
  EXPECT_EQ(stopped.trials[2].launches, 1);
  EXPECT_GE(stopped.trials[2].last_time, 1);

  o.stop = nullptr;
  o.resume = true;
  ASSERT_THAT(RunTune(o), IsOk());
  const TuneState resumed = LoadState(o);
  EXPECT_EQ(Statuses(resumed), Statuses(LoadState(whole)));
  EXPECT_EQ(resumed.decisions, LoadState(whole).decisions);
  EXPECT_EQ(Launches(o, "trial_0000"), 1);
  EXPECT_EQ(Launches(o, "trial_0001"), 1);
  EXPECT_EQ(Launches(o, "trial_0002"), 2);
  EXPECT_THAT(ReadFileToString(o.out_dir + "/trials/trial_0002/launches.txt"),
              IsOkAndHolds("\nlast\n"));
  EXPECT_EQ(resumed.trials[2].launches, 2);
}

// A trainer that fails is retried from its checkpoint, then ERROR; its one
// report (epoch 1) was judged and recorded, nothing more.
TEST(RunTuneTest, FailedTrainersAreErrorAfterTheirRetries) {
  TuneOptions o =
      Options("errors", GridSpace("space3.textproto", {"fail2", "v5"}));
  o.max_failures = 1;
  ASSERT_THAT(RunTune(o), IsOk());
  const TuneState state = LoadState(o);
  EXPECT_THAT(Statuses(state), ElementsAre("ERROR", "COMPLETED"));
  const TrialRecord& failed = state.trials[0];
  EXPECT_EQ(failed.failures, 2);
  EXPECT_EQ(failed.launches, 2);
  EXPECT_THAT(ReadFileToString(o.out_dir + "/trials/trial_0000/launches.txt"),
              IsOkAndHolds("\nlast\n"));
  EXPECT_THAT(failed.error, HasSubstr("exit code 3: train: error: fake "
                                      "failure at epoch 2"));
  EXPECT_EQ(failed.last_time, 1);
  EXPECT_THAT(state.scheduler->RecordedMilestones("trial_0000"),
              ElementsAre(1));
}

TEST(RunTuneTest, NoFiniteMetricIsAborted) {
  TuneOptions o = Options("all_fail", GridSpace("space4.textproto", {"fail1"}));
  EXPECT_THAT(RunTune(o), StatusIs(absl::StatusCode::kAborted,
                                   HasSubstr("no trial reported a finite "
                                             "val/map")));
}

TEST(RunTuneTest, BadInputsNameTheirSource) {
  const std::string space = GridSpace("space5.textproto", {"v1"});
  TuneOptions o = Options("bad", space);
  o.mode = "maximum";
  EXPECT_THAT(RunTune(o), StatusIs(absl::StatusCode::kInvalidArgument,
                                   HasSubstr("--mode")));
  o = Options("bad", space);
  o.train_bin = TestTempPath("no_train");
  EXPECT_THAT(RunTune(o), StatusIs(absl::StatusCode::kInvalidArgument,
                                   HasSubstr("--train_bin")));
  o = Options("bad", space);
  o.grace_period = 5;
  EXPECT_THAT(RunTune(o), StatusIs(absl::StatusCode::kInvalidArgument,
                                   HasSubstr("--grace_period 5 exceeds")));

  o = Options("bad", WriteSpace("typo.textproto",
                                "param { key: \"optimizer.lrr\" "
                                "choice { values: \"1\" } }\n"));
  EXPECT_THAT(
      RunTune(o),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("typo.textproto: param 1 'optimizer.lrr': "
                         "value '1': optimizer.lrr: cvt.OptimizerConfig "
                         "has no field named 'lrr'")));
  o = Options("bad", WriteSpace("value.textproto",
                                "param { key: \"optimizer.lr\" "
                                "grid { values: [\"1e-3\", \"fast\"] } }\n"));
  EXPECT_THAT(RunTune(o), StatusIs(absl::StatusCode::kInvalidArgument,
                                   HasSubstr("value.textproto: param 1 "
                                             "'optimizer.lr': value 'fast'")));
  o = Options("bad", WriteSpace("range.textproto",
                                "param { key: \"optimizer.lr\" "
                                "grid { values: [\"-1\"] } }\n"));
  EXPECT_THAT(RunTune(o),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("range.textproto: trial 0 "
                                 "(optimizer.lr=-1): optimizer.lr")));
  o = Options("bad", WriteSpace("epochs.textproto",
                                "param { key: \"trainer.max_epochs\" "
                                "grid { values: [\"2\"] } }\n"));
  EXPECT_THAT(RunTune(o), StatusIs(absl::StatusCode::kInvalidArgument,
                                   HasSubstr("--max_t")));
  // Nothing was written for any of them.
  EXPECT_FALSE(ReadFileToString(TestTempPath("bad/tune_state.json")).ok());

  o = Options("bad", space);
  o.resume = true;
  EXPECT_THAT(RunTune(o), StatusIs(absl::StatusCode::kNotFound,
                                   HasSubstr("nothing to resume")));
  o.resume = false;
  ASSERT_THAT(RunTune(o), IsOk());
  o.resume = true;
  o.metric = "val/map_50";
  EXPECT_THAT(RunTune(o), StatusIs(absl::StatusCode::kInvalidArgument,
                                   HasSubstr("--metric differs")));
  o.metric = "val/map";
  o.seed = 7;
  EXPECT_THAT(RunTune(o), StatusIs(absl::StatusCode::kInvalidArgument,
                                   HasSubstr("--seed differs")));
}

TEST(FindTrainBinaryTest, LooksBesideAndInTheBazelTree) {
  const std::string bin = TestTempPath("install/bin");
  ASSERT_THAT(MakeDirs(bin), IsOk());
  EXPECT_EQ(FindTrainBinary(bin + "/tune"), "");
  ASSERT_THAT(WriteFileAtomically(bin + "/train", "#!/bin/sh\n"), IsOk());
  EXPECT_EQ(FindTrainBinary(bin + "/tune"), "");  // Not executable.
  ASSERT_EQ(chmod((bin + "/train").c_str(), 0755), 0);
  EXPECT_EQ(FindTrainBinary(bin + "/tune"), bin + "/train");
}

}  // namespace
}  // namespace cvt
