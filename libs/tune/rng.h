// -----------------------------------------------------------------------------
// File: rng.h
// -----------------------------------------------------------------------------
//
// The seeded 64-bit generator behind `tune`'s random choices (search-space
// samples, ASHA bracket assignment): SplitMix64 (Steele, Lea and Flood, 2014),
// whose whole state is one 64-bit word, so `tune_state.json` stores it exactly
// and a resumed search continues the same stream. Its outputs do not depend
// on the platform or the standard library.
//
// Example:
//
//   Rng rng(DeriveSeed(seed, kSamplerStream));
//   double u = rng.Uniform01();          // [0, 1)
//   uint64_t k = rng.Below(6);           // 0..5, unbiased
//   state_json["rng"] = rng.state();     // later: Rng::FromState(...)
//
// Thread safety: not thread-safe.

#ifndef LIBS_TUNE_RNG_H_
#define LIBS_TUNE_RNG_H_

#include <cstdint>

namespace cvt {

class Rng {
 public:
  // A generator whose first output is `SplitMix64(seed + golden gamma)`.
  explicit Rng(uint64_t seed) : state_(seed) {}

  // The next 64 random bits.
  uint64_t Next();

  // A double in [0, 1) with 53 random bits.
  double Uniform01();

  // An integer in [0, n), without modulo bias (Lemire's method). `n` > 0.
  uint64_t Below(uint64_t n);

  // The whole state; `Rng(state())` continues the same stream.
  uint64_t state() const { return state_; }

 private:
  uint64_t state_;
};

// Mixes `seed` and a stream number into an independent starting state, so
// different users of one `--seed` (the sampler, the scheduler) get unrelated
// streams.
uint64_t DeriveSeed(uint64_t seed, uint64_t stream);

}  // namespace cvt

#endif  // LIBS_TUNE_RNG_H_
