// -----------------------------------------------------------------------------
// File: search_space.h
// -----------------------------------------------------------------------------
//
// Search spaces for `tune` (search_space.proto) and their seeded sampler.
// A trial's parameters are `--set key=value` overrides, in the order the
// params appear in the file.
//
// Expansion follows Ray's `BasicVariantGenerator` with `num_samples`: the
// cross product of the grid params is enumerated `num_samples` times; in each
// enumeration the grid param with the smallest key (keys compared as dotted
// paths, part by part) varies fastest. Every trial draws its non-grid params
// afresh, in file order, from one generator, so the trial list depends only
// on the space, `num_samples` and the seed.
//
//   uniform(lo, hi)     lo + (hi - lo) * u, u in [0, 1)
//   loguniform(lo, hi)  exp(ln lo + (ln hi - ln lo) * u), kept in [lo, hi]
//   randint(lo, hi)     lo + k, k uniform in [0, hi - lo) (hi exclusive)
//   choice(values)      values[k], k uniform
//   grid(values)        every value
// Doubles are written as the shortest text that reads back to the same
// double ("0.0012", "3.0").
//
// Example:
//
//   CVT_ASSIGN_OR_RETURN(SearchSpace space, LoadSearchSpace(path));
//   Rng rng(DeriveSeed(seed, kSamplerStream));
//   std::vector<TrialParams> trials = SampleTrials(space, num_samples, rng);
//   for (const ParamValue& p : trials[0]) sets.push_back(p.Assignment());

#ifndef LIBS_TUNE_SEARCH_SPACE_H_
#define LIBS_TUNE_SEARCH_SPACE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "libs/tune/rng.h"
#include "libs/tune/search_space.pb.h"

namespace cvt {

// The generator stream the sampler uses (`DeriveSeed(seed, kSamplerStream)`).
inline constexpr uint64_t kSamplerStream = 1;

// The most trials one search may expand to.
inline constexpr int64_t kMaxTrials = 100000;

// One sampled parameter: `key` and its value in text-format syntax.
struct ParamValue {
  std::string key;
  std::string value;

  // "key=value", as `--set` and `ApplyOverride` take it.
  std::string Assignment() const { return key + "=" + value; }
  bool operator==(const ParamValue& other) const {
    return key == other.key && value == other.value;
  }
};

// One trial's parameters, in the search space's param order.
using TrialParams = std::vector<ParamValue>;

// Parses the text proto at `path` (unknown fields are errors) and validates
// it. NotFound for a missing file; InvalidArgument "<path>:<line>:<col>: ..."
// for a syntax error, or "<path>: param <i> '<key>': ..." from
// `ValidateSearchSpace`.
absl::StatusOr<SearchSpace> LoadSearchSpace(absl::string_view path);

// InvalidArgument "<source>: param <i> '<key>': <rule>" (i is 1-based) for
// an empty or repeated key, a param without a domain, an empty choice or
// grid, lo >= hi, non-finite bounds, lo <= 0 in loguniform; or
// "<source>: ..." for a space without params or a grid of more than
// kMaxTrials combinations.
absl::Status ValidateSearchSpace(const SearchSpace& space,
                                 absl::string_view source);

// The number of grid combinations (1 without grid params). `space` must be
// valid.
int64_t GridSize(const SearchSpace& space);

// Expands `num_samples` (>= 1) repetitions of the grid and draws the other
// params from `rng`, in trial order. `space` must be valid.
std::vector<TrialParams> SampleTrials(const SearchSpace& space,
                                      int64_t num_samples, Rng& rng);

// Every value a param can take for finite domains (choice, grid), or its
// bounds (uniform, loguniform: lo; randint: lo and hi - 1), for checking
// each against the config before a search starts.
std::vector<std::string> RepresentativeValues(const SearchParam& param);

}  // namespace cvt

#endif  // LIBS_TUNE_SEARCH_SPACE_H_
