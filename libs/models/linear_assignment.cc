#include "libs/models/linear_assignment.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace cvt {

absl::StatusOr<std::vector<std::pair<int64_t, int64_t>>> SolveLinearAssignment(
    absl::Span<const double> cost, int64_t rows, int64_t cols) {
  if (rows < 0 || cols < 0 ||
      static_cast<int64_t>(cost.size()) != rows * cols) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cost matrix has ", cost.size(), " entries, not ", rows, " x ", cols));
  }
  for (double c : cost) {
    if (std::isnan(c) || c == -std::numeric_limits<double>::infinity()) {
      return absl::InvalidArgumentError(
          "cost matrix contains NaN or -infinity");
    }
  }
  std::vector<std::pair<int64_t, int64_t>> pairs;
  if (rows == 0 || cols == 0) return pairs;

  // Work on n <= m: transpose a tall matrix.
  const bool transposed = rows > cols;
  const int64_t n = transposed ? cols : rows;
  const int64_t m = transposed ? rows : cols;
  auto at = [&](int64_t i, int64_t j) {
    return transposed ? cost[j * cols + i] : cost[i * cols + j];
  };
  const double kInf = std::numeric_limits<double>::infinity();
  // 1-based; column 0 is the virtual start of each augmenting path.
  std::vector<double> u(n + 1, 0.0), v(m + 1, 0.0), min_slack(m + 1);
  std::vector<int64_t> row_of(m + 1, 0), previous(m + 1, 0);
  std::vector<char> visited(m + 1);
  for (int64_t i = 1; i <= n; ++i) {
    row_of[0] = i;
    int64_t j0 = 0;
    std::fill(min_slack.begin(), min_slack.end(), kInf);
    std::fill(visited.begin(), visited.end(), 0);
    // Grow a tree of tight edges from row i until it reaches a free column.
    do {
      visited[j0] = 1;
      const int64_t i0 = row_of[j0];
      double delta = kInf;
      int64_t j1 = -1;
      for (int64_t j = 1; j <= m; ++j) {
        if (visited[j]) continue;
        const double c = at(i0 - 1, j - 1);
        const double slack = c == kInf ? kInf : c - u[i0] - v[j];
        if (slack < min_slack[j]) {
          min_slack[j] = slack;
          previous[j] = j0;
        }
        if (min_slack[j] < delta) {
          delta = min_slack[j];
          j1 = j;
        }
      }
      if (j1 < 0 || delta == kInf) {
        return absl::FailedPreconditionError(
            "cost matrix is infeasible: no assignment avoids +infinity");
      }
      for (int64_t j = 0; j <= m; ++j) {
        if (visited[j]) {
          u[row_of[j]] += delta;
          v[j] -= delta;
        } else if (min_slack[j] != kInf) {
          min_slack[j] -= delta;
        }
      }
      j0 = j1;
    } while (row_of[j0] != 0);
    // Flip the path: every column on it takes the row of its predecessor.
    do {
      const int64_t j1 = previous[j0];
      row_of[j0] = row_of[j1];
      j0 = j1;
    } while (j0 != 0);
  }
  for (int64_t j = 1; j <= m; ++j) {
    if (row_of[j] == 0) continue;
    int64_t r = row_of[j] - 1, c = j - 1;
    pairs.emplace_back(transposed ? c : r, transposed ? r : c);
  }
  std::sort(pairs.begin(), pairs.end());
  return pairs;
}

}  // namespace cvt
