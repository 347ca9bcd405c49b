#include "libs/tracking/tracking_store.h"

#include <string>

#include "gtest/gtest.h"

namespace cvt {
namespace {

TEST(TrackingStoreTest, ChunksStayWithinMlflowLimits) {
  std::vector<MetricPoint> metrics(2500);
  for (size_t i = 0; i < metrics.size(); ++i) {
    metrics[i].name = "m" + std::to_string(i % 7);
    metrics[i].step = static_cast<int64_t>(i);
  }
  KeyValues params;
  for (int i = 0; i < 150; ++i)
    params.emplace_back("p" + std::to_string(i), "v");
  KeyValues tags = {{"a", "b"}};
  auto chunks = ChunkLogBatch(metrics, params, tags);
  size_t m = 0, p = 0, t = 0;
  for (const LogBatchChunk& c : chunks) {
    EXPECT_LE(c.metrics.size(), 1000u);
    EXPECT_LE(c.params.size(), 100u);
    EXPECT_LE(c.tags.size(), 100u);
    EXPECT_LE(c.metrics.size() + c.params.size() + c.tags.size(), 1000u);
    m += c.metrics.size();
    p += c.params.size();
    t += c.tags.size();
  }
  EXPECT_EQ(m, 2500u);
  EXPECT_EQ(p, 150u);
  EXPECT_EQ(t, 1u);
  // Params come first, in order; metrics keep their order.
  EXPECT_EQ(chunks[0].params[0].first, "p0");
  EXPECT_EQ(chunks.back().metrics.back().step, 2499);
}

TEST(TrackingStoreTest, ChunksRespectTheByteBudget) {
  KeyValues params;
  for (int i = 0; i < 50; ++i) {
    params.emplace_back("p" + std::to_string(i), std::string(5000, 'x'));
  }
  auto chunks = ChunkLogBatch({}, params, {}, 100000);
  EXPECT_GE(chunks.size(), 3u);
  for (const LogBatchChunk& c : chunks) EXPECT_LE(c.params.size(), 20u);
}

}  // namespace
}  // namespace cvt
