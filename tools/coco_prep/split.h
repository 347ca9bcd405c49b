// -----------------------------------------------------------------------------
// File: split.h
// -----------------------------------------------------------------------------
//
// coco_prep's split assignment: "train=0.8,val=0.1,test=0.1" specs, and a
// deterministic split stratified by class presence.
//
// Stratification: each image belongs to one stratum, the rarest category it
// contains (fewest images carrying it over the whole dataset; ties go to the
// lower category index), or the background stratum when it has no boxes.
// Within a stratum the images are ordered by a seeded 64-bit hash of their
// key (a stable string such as the file name), and each image in turn goes to
// the split with the largest deficit: (target - count) within the stratum
// plus (target - count) over all strata so far (ties: the larger overall
// deficit, then the first listed). Strata are taken background first, then
// by category index.
// So every split gets its share of each class, a class seen in a single image
// still rotates through the splits, and the result depends only on the keys,
// their classes and the seed (not on input order).
//
// Thread safety: pure functions.

#ifndef TOOLS_COCO_PREP_SPLIT_H_
#define TOOLS_COCO_PREP_SPLIT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cvt {

struct SplitSpec {
  std::string name;
  double fraction = 0;
};

// Parses "name=fraction,..." (names [a-z0-9_]+, unique; fractions in [0, 1]
// summing to 1 within 1e-6). InvalidArgument naming the bad entry.
absl::StatusOr<std::vector<SplitSpec>> ParseSplitSpecs(absl::string_view text);

// True for names made of [a-z0-9_], 1..64 characters.
bool IsValidSplitName(absl::string_view name);

struct SplitItem {
  // Stable identity for the seeded order (coco_prep uses the file name).
  std::string key;
  // Contiguous category indices present in the item (any order, repeats ok).
  std::vector<int> categories;
};

// Returns the split index (into `splits`) of every item, as described above.
// `num_categories` bounds the indices in `SplitItem::categories`.
std::vector<int> AssignSplits(const std::vector<SplitItem>& items,
                              int num_categories,
                              const std::vector<SplitSpec>& splits,
                              uint64_t seed);

// The seeded hash used for the order: FNV-1a of `key` mixed with `seed`
// through SplitMix64. Exposed for tests.
uint64_t SplitHash(absl::string_view key, uint64_t seed);

}  // namespace cvt

#endif  // TOOLS_COCO_PREP_SPLIT_H_
