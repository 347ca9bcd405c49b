#include "libs/base/parallel.h"

#include <atomic>
#include <vector>

#include "gtest/gtest.h"

namespace cvt {
namespace {

TEST(ParallelForTest, VisitsEveryIndexExactlyOnceForAnyThreadCount) {
  for (int threads : {1, 2, 3, 8}) {
    std::vector<std::atomic<int>> visits(1000);
    ParallelFor(1000, threads, [&](int64_t i) { visits[i].fetch_add(1); });
    for (const auto& v : visits) ASSERT_EQ(v.load(), 1) << threads;
  }
}

TEST(ParallelForTest, EmptyRangeAndResolveThreads) {
  int calls = 0;
  ParallelFor(0, 4, [&](int64_t) { ++calls; });
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(ResolveThreads(3), 3);
  EXPECT_GE(ResolveThreads(0), 1);
}

}  // namespace
}  // namespace cvt
