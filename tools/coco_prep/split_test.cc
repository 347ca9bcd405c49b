#include "tools/coco_prep/split.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/status_matchers.h"

namespace cvt {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ParseSplitSpecsTest, ParsesNamesAndFractions) {
  auto specs = ParseSplitSpecs("train=0.8,val=0.1,test=0.1");
  ASSERT_THAT(specs, IsOk());
  ASSERT_EQ(specs->size(), 3u);
  EXPECT_EQ((*specs)[0].name, "train");
  EXPECT_DOUBLE_EQ((*specs)[0].fraction, 0.8);
  EXPECT_EQ((*specs)[2].name, "test");
}

TEST(ParseSplitSpecsTest, RejectsMalformedSpecs) {
  EXPECT_THAT(
      ParseSplitSpecs("train=0.8,val=0.1"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sum to 0.9")));
  EXPECT_THAT(
      ParseSplitSpecs("train=0.5,train=0.5"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("listed twice")));
  EXPECT_THAT(ParseSplitSpecs("train:1"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("'train:1' is not name=fraction")));
  EXPECT_THAT(ParseSplitSpecs("Train=1"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("a-z, 0-9 and _")));
  EXPECT_THAT(ParseSplitSpecs("a=1.5,b=-0.5"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("must be in [0, 1]")));
}

std::vector<SplitItem> Items(int n, int num_categories) {
  std::vector<SplitItem> items;
  for (int i = 0; i < n; ++i) {
    SplitItem item;
    item.key = absl::StrCat("img_", i, ".jpg");
    if (i % 10 != 9) item.categories.push_back(i % num_categories);
    items.push_back(item);
  }
  return items;
}

TEST(AssignSplitsTest, MatchesFractionsOverallAndPerStratum) {
  const auto specs = *ParseSplitSpecs("train=0.8,val=0.1,test=0.1");
  const std::vector<SplitItem> items = Items(1000, 3);
  const std::vector<int> split = AssignSplits(items, 3, specs, 7);
  std::vector<int> total(3, 0);
  std::vector<std::vector<int>> per_class(4, std::vector<int>(3, 0));
  for (size_t i = 0; i < items.size(); ++i) {
    ++total[split[i]];
    const int stratum =
        items[i].categories.empty() ? 3 : items[i].categories[0];
    ++per_class[stratum][split[i]];
  }
  EXPECT_THAT(total, ElementsAre(800, 100, 100));
  for (const auto& counts : per_class) {
    const int n = counts[0] + counts[1] + counts[2];
    EXPECT_NEAR(counts[0], 0.8 * n, 1.0);
    EXPECT_NEAR(counts[1], 0.1 * n, 1.0);
    EXPECT_NEAR(counts[2], 0.1 * n, 1.0);
  }
}

TEST(AssignSplitsTest, RareClassesReachEverySplit) {
  const auto specs = *ParseSplitSpecs("train=0.5,val=0.25,test=0.25");
  std::vector<SplitItem> items = Items(400, 1);
  // Category 1 appears in 4 images, always together with the common one.
  for (int i : {3, 50, 120, 333}) items[i].categories.push_back(1);
  const std::vector<int> split = AssignSplits(items, 2, specs, 0);
  std::vector<int> rare(3, 0);
  for (int i : {3, 50, 120, 333}) ++rare[split[i]];
  EXPECT_THAT(rare, ElementsAre(2, 1, 1));
}

TEST(AssignSplitsTest, DeterministicForASeedAndIndependentOfOrder) {
  const auto specs = *ParseSplitSpecs("train=0.7,val=0.3");
  std::vector<SplitItem> items = Items(200, 4);
  const std::vector<int> a = AssignSplits(items, 4, specs, 42);
  EXPECT_EQ(a, AssignSplits(items, 4, specs, 42));
  std::vector<SplitItem> reversed(items.rbegin(), items.rend());
  const std::vector<int> b = AssignSplits(reversed, 4, specs, 42);
  for (size_t i = 0; i < items.size(); ++i) {
    EXPECT_EQ(a[i], b[items.size() - 1 - i]);
  }
  EXPECT_NE(a, AssignSplits(items, 4, specs, 43));
}

TEST(AssignSplitsTest, ClassesSeenOnceStillReachSmallSplits) {
  // COCO-tiny shape: 80 images, each the only one of its rarest class.
  const auto specs = *ParseSplitSpecs("train=0.8,val=0.1,test=0.1");
  std::vector<SplitItem> items;
  for (int i = 0; i < 80; ++i) {
    items.push_back({absl::StrCat("img", i), {i}});
  }
  const std::vector<int> split = AssignSplits(items, 80, specs, 0);
  std::vector<int> total(3, 0);
  for (int s : split) ++total[s];
  EXPECT_THAT(total, ElementsAre(64, 8, 8));
}

TEST(AssignSplitsTest, ZeroFractionSplitStaysEmpty) {
  const auto specs = *ParseSplitSpecs("train=1,val=0");
  const std::vector<int> split = AssignSplits(Items(50, 2), 2, specs, 1);
  for (int s : split) EXPECT_EQ(s, 0);
}

}  // namespace
}  // namespace cvt
