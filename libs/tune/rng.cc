#include "libs/tune/rng.h"

#include <cstdint>

namespace cvt {
namespace {

constexpr uint64_t kGoldenGamma = 0x9e3779b97f4a7c15ULL;

uint64_t Finalize(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

uint64_t Rng::Next() {
  state_ += kGoldenGamma;
  return Finalize(state_);
}

double Rng::Uniform01() {
  return static_cast<double>(Next() >> 11) * 0x1.0p-53;
}

uint64_t Rng::Below(uint64_t n) {
  // Lemire, "Fast random integer generation in an interval" (2019).
  unsigned __int128 product = static_cast<unsigned __int128>(Next()) *
                              static_cast<unsigned __int128>(n);
  uint64_t low = static_cast<uint64_t>(product);
  if (low < n) {
    const uint64_t threshold = (0 - n) % n;
    while (low < threshold) {
      product = static_cast<unsigned __int128>(Next()) *
                static_cast<unsigned __int128>(n);
      low = static_cast<uint64_t>(product);
    }
  }
  return static_cast<uint64_t>(product >> 64);
}

uint64_t DeriveSeed(uint64_t seed, uint64_t stream) {
  return Finalize(Finalize(seed) ^ (stream * kGoldenGamma));
}

}  // namespace cvt
