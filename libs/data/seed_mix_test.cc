#include "libs/data/seed_mix.h"

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <set>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cvt {
namespace {

TEST(SeedMixTest, SplitMix64MatchesTheReferenceSequence) {
  // The first outputs of Vigna's splitmix64.c from state 0.
  EXPECT_EQ(SplitMix64(0), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(SplitMix64(0x9e3779b97f4a7c15ULL), 0x6e789e6aa1b965f4ULL);
}

TEST(SeedMixTest, MixSeedIsPinned) {
  // Part of the checkpoint contract: these must never change.
  static_assert(MixSeed(42, 0) == MixSeed(42, 0));
  EXPECT_EQ(MixSeed(42, 0), SplitMix64(SplitMix64(SplitMix64(42) ^ 0) ^ 2));
  EXPECT_EQ(MixSeed(42, 3, 7),
            SplitMix64(SplitMix64(SplitMix64(SplitMix64(42) ^ 3) ^ 7) ^ 3));
  EXPECT_EQ(MixSeed(42, 0), 0xdda7119926b6c0a1ULL);
  EXPECT_EQ(MixSeed(42, 3, 7), 0x1b6ef3d34e390422ULL);
}

TEST(SeedMixTest, MixSeedSeparatesArgumentsAndArity) {
  std::set<uint64_t> seen;
  for (uint64_t seed : {0, 1, 42}) {
    for (uint64_t a = 0; a < 20; ++a) {
      EXPECT_TRUE(seen.insert(MixSeed(seed, a)).second);
      for (uint64_t b = 0; b < 20; ++b) {
        EXPECT_TRUE(seen.insert(MixSeed(seed, a, b)).second);
      }
    }
  }
  EXPECT_NE(MixSeed(1, 2, 3), MixSeed(1, 3, 2));
  EXPECT_NE(MixSeed(5, 0), MixSeed(5, 0, 0));
}

TEST(SeedMixTest, UniformIntStaysInRangeAndHitsEveryValue) {
  Rng rng(7);
  std::vector<int> counts(5);
  for (int i = 0; i < 5000; ++i) {
    const int64_t v = UniformInt(&rng, 3, 7);
    ASSERT_GE(v, 3);
    ASSERT_LE(v, 7);
    ++counts[v - 3];
  }
  for (int c : counts) EXPECT_GT(c, 850);
  EXPECT_EQ(UniformInt(&rng, -4, -4), -4);
  for (int i = 0; i < 100; ++i) {
    const int64_t v = UniformInt(&rng, -3, 2);
    EXPECT_GE(v, -3);
    EXPECT_LE(v, 2);
  }
}

TEST(SeedMixTest, DrawsAreAPureFunctionOfTheSeed) {
  Rng a(MixSeed(1, 2, 3));
  Rng b(MixSeed(1, 2, 3));
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(UniformInt(&a, 0, 1000), UniformInt(&b, 0, 1000));
    EXPECT_EQ(UniformDouble(&a), UniformDouble(&b));
  }
}

TEST(SeedMixTest, UniformDoubleAndBernoulli) {
  Rng rng(11);
  double sum = 0;
  for (int i = 0; i < 4000; ++i) {
    const double u = UniformDouble(&rng);
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  EXPECT_NEAR(sum / 4000, 0.5, 0.03);
  const double v = UniformDouble(&rng, 2.0, 3.0);
  EXPECT_GE(v, 2.0);
  EXPECT_LT(v, 3.0);

  // Bernoulli consumes exactly one output whatever p is.
  Rng x(5), y(5);
  EXPECT_FALSE(Bernoulli(&x, 0.0));
  EXPECT_TRUE(Bernoulli(&x, 1.0));
  y();
  y();
  EXPECT_EQ(x(), y());
}

TEST(SeedMixTest, ShuffleIsAPermutationAndPinned) {
  std::vector<int> values(10);
  std::iota(values.begin(), values.end(), 0);
  Rng rng(MixSeed(42, 0));
  Shuffle(&values, &rng);
  std::vector<int> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 10; ++i) EXPECT_EQ(sorted[i], i);
  EXPECT_THAT(values, ::testing::ElementsAre(7, 2, 3, 0, 4, 1, 6, 8, 9, 5));
}

}  // namespace
}  // namespace cvt
