#include "tools/coco_prep/problem_log.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/status_matchers.h"

namespace cvt {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(ProblemLogTest, CountsByKindAndAction) {
  ProblemLog log;
  log.Add("box_clipped", Action::kFixed, "a");
  log.Add("box_clipped", Action::kFixed, "b");
  log.Add("bad_bbox", Action::kDropped, "c");
  log.Add("image_too_large", Action::kRefused, "d");
  EXPECT_EQ(log.total(Action::kFixed), 2);
  EXPECT_EQ(log.total(Action::kDropped), 1);
  EXPECT_EQ(log.total(Action::kRefused), 1);
  EXPECT_EQ(log.blocking_count(), 2);
  ASSERT_EQ(log.kinds().size(), 3u);
  EXPECT_EQ(log.kinds().begin()->first, "bad_bbox");  // Sorted.
  const ProblemLog::Kind& clipped = log.kinds().at("box_clipped");
  EXPECT_EQ(clipped.count, 2);
  EXPECT_EQ(clipped.action, Action::kFixed);
  EXPECT_THAT(clipped.examples, ElementsAre("a", "b"));
}

TEST(ProblemLogTest, KeepsTheFirstExamplesOnly) {
  ProblemLog log;
  for (int i = 0; i < 20; ++i) {
    log.Add("bad_bbox", Action::kDropped, absl::StrCat("record ", i));
  }
  const ProblemLog::Kind& kind = log.kinds().at("bad_bbox");
  EXPECT_EQ(kind.count, 20);
  ASSERT_EQ(kind.examples.size(), 5u);
  EXPECT_EQ(kind.examples.front(), "record 0");
  EXPECT_EQ(kind.examples.back(), "record 4");
}

TEST(ProblemLogTest, FixesNeverFailAndFailuresListTheFirstProblems) {
  ProblemLog log;
  log.Add("size_mismatch", Action::kFixed, "fixed one");
  EXPECT_THAT(log.FailIfBlocking(), IsOk());
  for (int i = 0; i < 12; ++i) {
    log.Add("image_missing", Action::kDropped, absl::StrCat("img", i, ".jpg"));
  }
  const absl::Status status = log.FailIfBlocking();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument,
                               HasSubstr("12 problem(s) would drop")));
  EXPECT_THAT(status.message(), HasSubstr("\n  image_missing: img0.jpg"));
  EXPECT_THAT(status.message(), HasSubstr("\n  image_missing: img9.jpg"));
  EXPECT_THAT(status.message(), Not(HasSubstr("img10.jpg")));
  EXPECT_THAT(status.message(), Not(HasSubstr("fixed one")));
}

TEST(ProblemLogTest, ActionNamesRoundTrip) {
  for (Action a : {Action::kFixed, Action::kDropped, Action::kRefused}) {
    Action parsed;
    ASSERT_TRUE(ParseAction(ActionName(a), &parsed));
    EXPECT_EQ(parsed, a);
  }
  Action parsed;
  EXPECT_FALSE(ParseAction("ignored", &parsed));
}

}  // namespace
}  // namespace cvt
