#include "libs/base/huge_pages.h"

#include <cstring>
#include <vector>

#include "gtest/gtest.h"

namespace cvt {

TEST(HugePagesTest, AdvisesLargeBuffersAndLeavesSmallOnesAlone) {
  std::vector<char> small(4096);
  EXPECT_FALSE(AdviseHugePages(small.data(), small.size()));
  EXPECT_FALSE(AdviseHugePages(nullptr, 1 << 30));
  std::vector<char> large;
  large.reserve(size_t{32} << 20);
  // Whether THP is available depends on the kernel; the call must be safe
  // and the memory usable either way.
  AdviseHugePages(large.data(), large.capacity());
  large.resize(size_t{32} << 20, 'x');
  EXPECT_EQ(large[size_t{31} << 20], 'x');
}

}  // namespace cvt
