#include "libs/base/progress.h"

#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/json.h"
#include "libs/base/status_matchers.h"

namespace cvt {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

struct FakeClock {
  absl::Time now = absl::FromUnixSeconds(1000);
  std::function<absl::Time()> Fn() {
    return [this] { return now; };
  }
};

TEST(ProgressTest, JsonLinesAreRateLimitedAndEndWithTheFinalState) {
  std::ostringstream out;
  FakeClock clock;
  {
    ProgressReporter progress("decoding", 10,
                              {.mode = ProgressMode::kJsonLines,
                               .stream = &out,
                               .min_interval_s = 1.0,
                               .clock = clock.Fn()});
    progress.Add();  // t=0: written.
    progress.Add();  // t=0: suppressed.
    clock.now += absl::Milliseconds(1500);
    progress.Add(3);  // t=1.5: written, done=5.
    clock.now += absl::Milliseconds(100);
    progress.Set(10);  // Suppressed; Finish writes it.
  }
  std::vector<std::string> lines =
      absl::StrSplit(out.str(), '\n', absl::SkipEmpty());
  ASSERT_THAT(lines, SizeIs(3));
  EXPECT_EQ(
      lines[0],
      "{\"task\":\"decoding\",\"done\":1,\"total\":10,\"elapsed_s\":0.0}");
  EXPECT_EQ(
      lines[1],
      "{\"task\":\"decoding\",\"done\":5,\"total\":10,\"elapsed_s\":1.5}");
  auto last = ParseJson(lines[2], "line");
  ASSERT_THAT(last, IsOk());
  EXPECT_EQ((*last)["done"].GetInt(), 10);
  EXPECT_DOUBLE_EQ((*last)["elapsed_s"].GetDouble(), 1.6);
}

TEST(ProgressTest, BarShowsPercentCountAndEta) {
  std::ostringstream out;
  FakeClock clock;
  ProgressReporter progress("epoch 1", 4,
                            {.mode = ProgressMode::kBar,
                             .stream = &out,
                             .min_interval_s = 0.0,
                             .bar_width = 10,
                             .clock = clock.Fn()});
  clock.now += absl::Seconds(2);
  progress.Add(2);
  EXPECT_THAT(out.str(),
              HasSubstr("\repoch 1 [#####     ]  50% 2/4 1.0/s ETA 2s"));
  clock.now += absl::Seconds(2);
  progress.Add(2);
  progress.Finish();
  EXPECT_THAT(out.str(), HasSubstr("\repoch 1 [##########] 100% 4/4 4.0s"));
  EXPECT_EQ(out.str().back(), '\n');
}

TEST(ProgressTest, NoneAndAutoOnAStringStreamWriteNothing) {
  std::ostringstream out;
  {
    ProgressReporter none("x", 3,
                          {.mode = ProgressMode::kNone, .stream = &out});
    none.Add(3);
    ProgressReporter automatic("x", 3,
                               {.mode = ProgressMode::kAuto, .stream = &out});
    EXPECT_EQ(automatic.mode(), ProgressMode::kNone);
    automatic.Add(3);
  }
  EXPECT_EQ(out.str(), "");
}

TEST(ProgressTest, ParsesModeNames) {
  ProgressMode mode;
  ASSERT_TRUE(ParseProgressMode("json", &mode));
  EXPECT_EQ(mode, ProgressMode::kJsonLines);
  ASSERT_TRUE(ParseProgressMode("bar", &mode));
  EXPECT_EQ(mode, ProgressMode::kBar);
  EXPECT_FALSE(ParseProgressMode("fancy", &mode));
}

}  // namespace
}  // namespace cvt
