// -----------------------------------------------------------------------------
// File: seed_mix.h
// -----------------------------------------------------------------------------
//
// Stateless seeds and portable random draws for reproducible training.
//
// Every random choice of the data pipeline is a pure function of
// (seed, epoch, dataset index): the epoch permutation comes from a generator
// seeded with `MixSeed(seed, epoch)` and each sample's augmentation from one
// seeded with `MixSeed(seed, epoch, dataset_index)`
// (reference/training_semantics.md 2.3). The trainer reuses `MixSeed` for its
// own streams.
//
// The generator is `std::mt19937_64`, whose output sequence the C++ standard
// fixes. The standard library's distributions (`std::uniform_int_distribution`,
// `std::shuffle`, ...) are implementation-defined, so the draws below are
// spelled out here instead: the same seed gives the same augmentation with
// any compiler or standard library.
//
// Example:
//
//   Rng rng(MixSeed(seed, epoch, index));
//   if (Bernoulli(&rng, 0.5)) HorizontalFlip(&sample);
//   const int size = sizes[UniformInt(&rng, 0, sizes.size() - 1)];
//
// Thread safety: the functions are pure; an `Rng` is used by one thread.

#ifndef LIBS_DATA_SEED_MIX_H_
#define LIBS_DATA_SEED_MIX_H_

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace cvt {

// The generator every transform and the loader draw from.
using Rng = std::mt19937_64;

// The SplitMix64 output function (Steele, Lea and Flood 2014; the seeding
// generator of xoshiro): add the golden-ratio increment 0x9e3779b97f4a7c15,
// then two xor-shift-multiply rounds and a final xor-shift. A bijection on
// 64-bit integers with full avalanche.
constexpr uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Hashes `seed` with one or two further values into a 64-bit seed:
//   MixSeed(s, a)    = SplitMix64(SplitMix64(SplitMix64(s) ^ a) ^ 2)
//   MixSeed(s, a, b) = SplitMix64(SplitMix64(SplitMix64(SplitMix64(s) ^ a)
//                                            ^ b) ^ 3)
// The final round folds in the number of values, so the two overloads are
// separate streams: `MixSeed(s, e)` (the epoch permutation) never equals
// `MixSeed(s, e, 0)` (the augmentation of dataset index 0). Two callers of
// the same overload that need independent streams (the trainer's per-rank
// model seed `MixSeed(seed, rank)` and the loader's `MixSeed(seed, epoch)`)
// must pass a distinguishing `a`. These values are part of the checkpoint
// contract: changing them changes every resumed run.
constexpr uint64_t MixSeed(uint64_t seed, uint64_t a) {
  return SplitMix64(SplitMix64(SplitMix64(seed) ^ a) ^ 2);
}
constexpr uint64_t MixSeed(uint64_t seed, uint64_t a, uint64_t b) {
  return SplitMix64(SplitMix64(SplitMix64(SplitMix64(seed) ^ a) ^ b) ^ 3);
}

// Uniform integer in [lo, hi] (both inclusive; requires lo <= hi): rejection
// sampling of one 64-bit output x until x < 2^64 - (2^64 mod n), then
// lo + x mod n with n = hi - lo + 1. Consumes one or (rarely) more outputs.
int64_t UniformInt(Rng* rng, int64_t lo, int64_t hi);

// Uniform double in [0, 1): the top 53 bits of one output times 2^-53.
double UniformDouble(Rng* rng);

// Uniform double in [lo, hi): lo + (hi - lo) * UniformDouble(rng).
double UniformDouble(Rng* rng, double lo, double hi);

// True with probability `p`: UniformDouble(rng) < p. Always consumes exactly
// one output, whatever `p` is (so p = 0 or 1 does not shift later draws).
bool Bernoulli(Rng* rng, double p);

// Fisher-Yates: for i = n-1 down to 1, swap element i with element
// UniformInt(rng, 0, i).
template <typename T>
void Shuffle(std::vector<T>* values, Rng* rng) {
  for (int64_t i = static_cast<int64_t>(values->size()) - 1; i > 0; --i) {
    const int64_t j = UniformInt(rng, 0, i);
    using std::swap;
    swap((*values)[i], (*values)[j]);
  }
}

}  // namespace cvt

#endif  // LIBS_DATA_SEED_MIX_H_
