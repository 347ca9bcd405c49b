#include "libs/tune/rng.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace cvt {
namespace {

// SplitMix64's published outputs for state 0.
TEST(RngTest, MatchesTheReferenceSplitMix64) {
  Rng rng(0);
  EXPECT_EQ(rng.Next(), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(rng.Next(), 0x6e789e6aa1b965f4ULL);
  EXPECT_EQ(rng.Next(), 0x06c45d188009454fULL);
}

TEST(RngTest, StateContinuesTheStream) {
  Rng a(42);
  a.Next();
  a.Next();
  Rng b(a.state());
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.Next(), b.Next());
}

TEST(RngTest, UniformIsInTheUnitInterval) {
  Rng rng(7);
  double sum = 0;
  for (int i = 0; i < 100000; ++i) {
    const double u = rng.Uniform01();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  EXPECT_NEAR(sum / 100000, 0.5, 0.005);
}

TEST(RngTest, BelowIsUniformOverItsRange) {
  Rng rng(9);
  std::vector<int> counts(6, 0);
  for (int i = 0; i < 60000; ++i) {
    const uint64_t k = rng.Below(6);
    ASSERT_LT(k, 6u);
    ++counts[k];
  }
  for (int c : counts) EXPECT_NEAR(c, 10000, 500);
  EXPECT_EQ(rng.Below(1), 0u);
}

TEST(RngTest, DerivedSeedsDiffer) {
  EXPECT_NE(DeriveSeed(1, 1), DeriveSeed(1, 2));
  EXPECT_NE(DeriveSeed(1, 1), DeriveSeed(2, 1));
  EXPECT_EQ(DeriveSeed(3, 4), DeriveSeed(3, 4));
}

}  // namespace
}  // namespace cvt
