#include "libs/data/seed_mix.h"

#include <limits>

namespace cvt {

int64_t UniformInt(Rng* rng, int64_t lo, int64_t hi) {
  const uint64_t n = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo) + 1;
  if (n == 0) return static_cast<int64_t>((*rng)());  // The full 64-bit range.
  // 2^64 mod n, computed without 128-bit arithmetic.
  const uint64_t excess = (std::numeric_limits<uint64_t>::max() % n + 1) % n;
  const uint64_t limit = std::numeric_limits<uint64_t>::max() - excess;
  uint64_t x = (*rng)();
  while (excess != 0 && x > limit) x = (*rng)();
  return static_cast<int64_t>(static_cast<uint64_t>(lo) + x % n);
}

double UniformDouble(Rng* rng) {
  return static_cast<double>((*rng)() >> 11) * 0x1.0p-53;
}

double UniformDouble(Rng* rng, double lo, double hi) {
  return lo + (hi - lo) * UniformDouble(rng);
}

bool Bernoulli(Rng* rng, double p) { return UniformDouble(rng) < p; }

}  // namespace cvt
