#include "libs/tune/search_space.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/base/file_io.h"
#include "libs/base/json.h"
#include "libs/base/status_macros.h"
#include "libs/config/overrides.h"

namespace cvt {
namespace {

absl::Status ParamError(absl::string_view source, int index,
                        const SearchParam& param, absl::string_view rule) {
  return absl::InvalidArgumentError(absl::StrCat(
      source, ": param ", index + 1, " '", param.key(), "': ", rule));
}

absl::Status CheckBounds(absl::string_view source, int index,
                         const SearchParam& param, absl::string_view domain,
                         double lo, double hi, bool positive) {
  if (!std::isfinite(lo) || !std::isfinite(hi) || !(lo < hi) ||
      (positive && !(lo > 0))) {
    return ParamError(source, index, param,
                      absl::StrCat(domain, " needs ", positive ? "0 < " : "",
                                   "lo < hi", positive ? "" : ", both finite",
                                   " (got lo ", lo, ", hi ", hi, ")"));
  }
  return absl::OkStatus();
}

// Ray sorts grid variables by their key path, tuple by tuple.
bool KeyPathLess(const std::string& a, const std::string& b) {
  const std::vector<absl::string_view> pa = absl::StrSplit(a, '.');
  const std::vector<absl::string_view> pb = absl::StrSplit(b, '.');
  return std::lexicographical_compare(pa.begin(), pa.end(), pb.begin(),
                                      pb.end());
}

std::string Draw(const SearchParam& param, Rng& rng) {
  switch (param.domain_case()) {
    case SearchParam::kUniform: {
      const double lo = param.uniform().lo(), hi = param.uniform().hi();
      return FormatDouble(lo + (hi - lo) * rng.Uniform01());
    }
    case SearchParam::kLoguniform: {
      const double lo = param.loguniform().lo(), hi = param.loguniform().hi();
      const double log_lo = std::log(lo), log_hi = std::log(hi);
      const double v = std::exp(log_lo + (log_hi - log_lo) * rng.Uniform01());
      return FormatDouble(std::clamp(v, lo, hi));
    }
    case SearchParam::kRandint: {
      const int64_t lo = param.randint().lo(), hi = param.randint().hi();
      const uint64_t span =
          static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);
      return absl::StrCat(
          static_cast<int64_t>(static_cast<uint64_t>(lo) + rng.Below(span)));
    }
    case SearchParam::kChoice: {
      const auto& values = param.choice().values();
      return values[static_cast<int>(rng.Below(values.size()))];
    }
    case SearchParam::kGrid:
    case SearchParam::DOMAIN_NOT_SET:
      break;
  }
  return "";
}

}  // namespace

absl::StatusOr<SearchSpace> LoadSearchSpace(absl::string_view path) {
  CVT_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  SearchSpace space;
  CVT_RETURN_IF_ERROR(MergeTextProto(text, path, &space));
  CVT_RETURN_IF_ERROR(ValidateSearchSpace(space, path));
  return space;
}

absl::Status ValidateSearchSpace(const SearchSpace& space,
                                 absl::string_view source) {
  if (space.param_size() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": the search space has no param"));
  }
  std::set<std::string> keys;
  double grid = 1;
  for (int i = 0; i < space.param_size(); ++i) {
    const SearchParam& p = space.param(i);
    if (p.key().empty()) return ParamError(source, i, p, "key is empty");
    if (!keys.insert(p.key()).second) {
      return ParamError(source, i, p, "key is repeated");
    }
    switch (p.domain_case()) {
      case SearchParam::kUniform:
        CVT_RETURN_IF_ERROR(CheckBounds(source, i, p, "uniform",
                                        p.uniform().lo(), p.uniform().hi(),
                                        /*positive=*/false));
        break;
      case SearchParam::kLoguniform:
        CVT_RETURN_IF_ERROR(CheckBounds(source, i, p, "loguniform",
                                        p.loguniform().lo(),
                                        p.loguniform().hi(),
                                        /*positive=*/true));
        break;
      case SearchParam::kRandint:
        if (p.randint().lo() >= p.randint().hi()) {
          return ParamError(
              source, i, p,
              absl::StrCat("randint needs lo < hi (hi is exclusive; got lo ",
                           p.randint().lo(), ", hi ", p.randint().hi(), ")"));
        }
        break;
      case SearchParam::kChoice:
        if (p.choice().values_size() == 0) {
          return ParamError(source, i, p, "choice has no values");
        }
        break;
      case SearchParam::kGrid:
        if (p.grid().values_size() == 0) {
          return ParamError(source, i, p, "grid has no values");
        }
        grid *= p.grid().values_size();
        break;
      case SearchParam::DOMAIN_NOT_SET:
        return ParamError(
            source, i, p,
            "needs one of uniform, loguniform, choice, randint or grid");
    }
  }
  if (grid > static_cast<double>(kMaxTrials)) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": the grid has ", grid, " combinations; at most ",
                     kMaxTrials, " are allowed"));
  }
  return absl::OkStatus();
}

int64_t GridSize(const SearchSpace& space) {
  int64_t size = 1;
  for (const SearchParam& p : space.param()) {
    if (p.domain_case() == SearchParam::kGrid) size *= p.grid().values_size();
  }
  return size;
}

std::vector<TrialParams> SampleTrials(const SearchSpace& space,
                                      int64_t num_samples, Rng& rng) {
  // Grid params in Ray's order; the first varies fastest.
  std::vector<int> grid;
  for (int i = 0; i < space.param_size(); ++i) {
    if (space.param(i).domain_case() == SearchParam::kGrid) grid.push_back(i);
  }
  std::stable_sort(grid.begin(), grid.end(), [&](int a, int b) {
    return KeyPathLess(space.param(a).key(), space.param(b).key());
  });
  std::vector<TrialParams> trials;
  const int64_t combinations = GridSize(space);
  for (int64_t sample = 0; sample < num_samples; ++sample) {
    std::vector<int> digit(grid.size(), 0);
    for (int64_t c = 0; c < combinations; ++c) {
      TrialParams params;
      for (int i = 0; i < space.param_size(); ++i) {
        const SearchParam& p = space.param(i);
        std::string value;
        if (p.domain_case() == SearchParam::kGrid) {
          const size_t g =
              std::find(grid.begin(), grid.end(), i) - grid.begin();
          value = p.grid().values(digit[g]);
        } else {
          value = Draw(p, rng);
        }
        params.push_back({p.key(), std::move(value)});
      }
      trials.push_back(std::move(params));
      // The odometer: increment the first digit, carrying into the next.
      for (size_t g = 0; g < grid.size(); ++g) {
        if (++digit[g] < space.param(grid[g]).grid().values_size()) break;
        digit[g] = 0;
      }
    }
  }
  return trials;
}

std::vector<std::string> RepresentativeValues(const SearchParam& param) {
  switch (param.domain_case()) {
    case SearchParam::kUniform:
      return {FormatDouble(param.uniform().lo())};
    case SearchParam::kLoguniform:
      return {FormatDouble(param.loguniform().lo())};
    case SearchParam::kRandint:
      return {absl::StrCat(param.randint().lo()),
              absl::StrCat(param.randint().hi() - 1)};
    case SearchParam::kChoice:
      return {param.choice().values().begin(), param.choice().values().end()};
    case SearchParam::kGrid:
      return {param.grid().values().begin(), param.grid().values().end()};
    case SearchParam::DOMAIN_NOT_SET:
      break;
  }
  return {};
}

}  // namespace cvt
