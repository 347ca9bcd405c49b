#include "tools/coco_prep/split.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace cvt {

bool IsValidSplitName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      return false;
    }
  }
  return true;
}

absl::StatusOr<std::vector<SplitSpec>> ParseSplitSpecs(absl::string_view text) {
  std::vector<SplitSpec> specs;
  std::set<std::string> seen;
  double sum = 0;
  for (absl::string_view entry : absl::StrSplit(text, ',')) {
    const std::vector<absl::string_view> parts = absl::StrSplit(entry, '=');
    SplitSpec spec;
    if (parts.size() != 2 || !absl::SimpleAtod(parts[1], &spec.fraction)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--splits: '", entry, "' is not name=fraction (e.g. train=0.8)"));
    }
    spec.name = std::string(parts[0]);
    if (!IsValidSplitName(spec.name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--splits: split name '", spec.name,
                       "' must be made of a-z, 0-9 and _"));
    }
    if (!seen.insert(spec.name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("--splits: split '", spec.name, "' is listed twice"));
    }
    if (!(spec.fraction >= 0 && spec.fraction <= 1)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--splits: fraction of '", spec.name, "' must be in [0, 1]"));
    }
    sum += spec.fraction;
    specs.push_back(std::move(spec));
  }
  if (std::fabs(sum - 1) > 1e-6) {
    return absl::InvalidArgumentError(
        absl::StrCat("--splits: fractions sum to ", sum, ", not 1"));
  }
  return specs;
}

uint64_t SplitHash(absl::string_view key, uint64_t seed) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : key) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  uint64_t z = h + seed * 0x9e3779b97f4a7c15ull + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::vector<int> AssignSplits(const std::vector<SplitItem>& items,
                              int num_categories,
                              const std::vector<SplitSpec>& splits,
                              uint64_t seed) {
  // Images per category, over the whole dataset.
  std::vector<int64_t> frequency(num_categories, 0);
  std::vector<std::vector<int>> present(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    present[i] = items[i].categories;
    std::sort(present[i].begin(), present[i].end());
    present[i].erase(std::unique(present[i].begin(), present[i].end()),
                     present[i].end());
    for (int c : present[i]) ++frequency[c];
  }
  // Stratum: -1 for background, else the rarest category present.
  std::map<int, std::vector<size_t>> strata;
  for (size_t i = 0; i < items.size(); ++i) {
    int stratum = -1;
    for (int c : present[i]) {
      if (stratum < 0 || frequency[c] < frequency[stratum]) stratum = c;
    }
    strata[stratum].push_back(i);
  }
  std::vector<int> assignment(items.size(), 0);
  const size_t k = splits.size();
  std::vector<int64_t> global(k, 0);
  int64_t global_done = 0;
  for (auto& [stratum, members] : strata) {
    std::vector<std::pair<uint64_t, size_t>> order;
    order.reserve(members.size());
    for (size_t i : members)
      order.push_back({SplitHash(items[i].key, seed), i});
    // Ties of the hash fall back to the key, so the order never depends on
    // input order.
    std::sort(order.begin(), order.end(), [&](const auto& a, const auto& b) {
      if (a.first != b.first) return a.first < b.first;
      return items[a.second].key < items[b.second].key;
    });
    std::vector<int64_t> local(k, 0);
    for (size_t n = 0; n < order.size(); ++n) {
      // Score: how far the split is below its share in this stratum plus
      // how far below its share overall. The first term spreads each class
      // over the splits; the second lets one-image strata (a class seen
      // once) rotate through the splits instead of all landing in the
      // largest one.
      size_t best = 0;
      double best_score = -1e300, best_global = -1e300;
      for (size_t s = 0; s < k; ++s) {
        if (splits[s].fraction <= 0) continue;
        const double local_deficit =
            splits[s].fraction * static_cast<double>(n + 1) - local[s];
        const double global_deficit =
            splits[s].fraction * static_cast<double>(global_done + 1) -
            global[s];
        const double score = local_deficit + global_deficit;
        if (score > best_score + 1e-9 ||
            (std::fabs(score - best_score) <= 1e-9 &&
             global_deficit > best_global + 1e-9)) {
          best = s;
          best_score = score;
          best_global = global_deficit;
        }
      }
      assignment[order[n].second] = static_cast<int>(best);
      ++local[best];
      ++global[best];
      ++global_done;
    }
  }
  return assignment;
}

}  // namespace cvt
