#include "libs/eval/numpy_sum.h"

#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace cvt {
namespace {

TEST(NumpySumTest, SmallBlocksAddLeftToRight) {
  const std::vector<double> v = {0.1, 0.2, 0.3};
  EXPECT_EQ(NumpyPairwiseSum(v), (0.0 + 0.1 + 0.2) + 0.3);
  EXPECT_EQ(NumpyPairwiseSum({}), 0.0);
}

TEST(NumpySumTest, EightAccumulatorsThenLeftovers) {
  std::vector<double> v(19);
  for (int i = 0; i < 19; ++i) v[i] = 1.0 / (i + 3);
  double r[8];
  for (int j = 0; j < 8; ++j) r[j] = v[j] + v[8 + j];
  double expected =
      ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
  expected += v[16];
  expected += v[17];
  expected += v[18];
  EXPECT_EQ(NumpyPairwiseSum(v), expected);
}

TEST(NumpySumTest, DiffersFromSequentialSumOnRealisticData) {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> unit(0, 1);
  std::vector<double> v(1010);
  for (double& x : v) x = unit(rng);
  double sequential = 0;
  for (double x : v) sequential += x;
  // Pairwise and sequential agree to rounding, but not bit for bit.
  EXPECT_NEAR(NumpyPairwiseSum(v), sequential, 1e-10);
  EXPECT_NE(NumpyPairwiseSum(v), sequential);
}

TEST(NumpySumTest, RulesDifferOnlyAbove8192Elements) {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> unit(0, 1);
  std::vector<double> v(8192);
  for (double& x : v) x = unit(rng);
  EXPECT_EQ(NumpySum(v, NumpySumRule::kWholeArray),
            NumpySum(v, NumpySumRule::kBuffered8192));
  int differ = 0;
  for (int n = 8193; n < 8193 + 200; ++n) {
    v.push_back(unit(rng));
    differ += NumpySum(v, NumpySumRule::kWholeArray) !=
              NumpySum(v, NumpySumRule::kBuffered8192);
  }
  EXPECT_GT(differ, 0);
}

TEST(NumpySumTest, MeanOfEmptyIsNan) {
  EXPECT_TRUE(std::isnan(NumpyMean({}, NumpySumRule::kWholeArray)));
  const std::vector<double> v = {1, 2, 3, 4};
  EXPECT_EQ(NumpyMean(v, NumpySumRule::kWholeArray), 2.5);
}

}  // namespace
}  // namespace cvt
