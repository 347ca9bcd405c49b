#include "libs/base/parallel.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

namespace cvt {

int ResolveThreads(int threads) {
  if (threads > 0) return threads;
  return std::max(1u, std::thread::hardware_concurrency());
}

void ParallelFor(int64_t n, int threads,
                 const std::function<void(int64_t)>& fn) {
  const int workers = static_cast<int>(
      std::min<int64_t>(ResolveThreads(threads), std::max<int64_t>(n, 1)));
  if (workers <= 1) {
    for (int64_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<int64_t> next{0};
  auto loop = [&]() {
    for (int64_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) fn(i);
  };
  std::vector<std::thread> pool;
  pool.reserve(workers - 1);
  for (int w = 1; w < workers; ++w) pool.emplace_back(loop);
  loop();
  for (std::thread& t : pool) t.join();
}

}  // namespace cvt
