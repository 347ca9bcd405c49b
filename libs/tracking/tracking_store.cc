#include "libs/tracking/tracking_store.h"

#include <string>
#include <utility>
#include <vector>

namespace cvt {
namespace {

// A generous estimate of one entity's JSON size.
int64_t MetricBytes(const MetricPoint& m) {
  return static_cast<int64_t>(m.name.size()) + 80;
}
int64_t PairBytes(const std::pair<std::string, std::string>& kv) {
  return static_cast<int64_t>(kv.first.size() + kv.second.size()) + 40;
}

}  // namespace

std::vector<LogBatchChunk> ChunkLogBatch(std::vector<MetricPoint> metrics,
                                         KeyValues params, KeyValues tags,
                                         int64_t max_bytes) {
  std::vector<LogBatchChunk> chunks;
  LogBatchChunk current;
  int64_t bytes = 0;
  auto entities = [&] {
    return current.metrics.size() + current.params.size() + current.tags.size();
  };
  auto flush = [&] {
    if (entities() > 0) chunks.push_back(std::move(current));
    current = LogBatchChunk();
    bytes = 0;
  };
  for (auto& kv : params) {
    int64_t b = PairBytes(kv);
    if (current.params.size() >= 100 || entities() >= 1000 ||
        bytes + b > max_bytes) {
      flush();
    }
    bytes += b;
    current.params.push_back(std::move(kv));
  }
  for (auto& kv : tags) {
    int64_t b = PairBytes(kv);
    if (current.tags.size() >= 100 || entities() >= 1000 ||
        bytes + b > max_bytes) {
      flush();
    }
    bytes += b;
    current.tags.push_back(std::move(kv));
  }
  for (auto& m : metrics) {
    int64_t b = MetricBytes(m);
    if (current.metrics.size() >= 1000 || entities() >= 1000 ||
        bytes + b > max_bytes) {
      flush();
    }
    bytes += b;
    current.metrics.push_back(std::move(m));
  }
  flush();
  return chunks;
}

}  // namespace cvt
