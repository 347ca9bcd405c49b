#include "libs/models/linear_assignment.h"

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/status_matchers.h"

namespace cvt {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

constexpr double kInf = std::numeric_limits<double>::infinity();

double Total(const std::vector<double>& cost, int64_t cols,
             const std::vector<std::pair<int64_t, int64_t>>& pairs) {
  double total = 0;
  for (const auto& [r, c] : pairs) total += cost[r * cols + c];
  return total;
}

// Exhaustive minimum over all assignments of a small matrix.
double BruteForce(const std::vector<double>& cost, int64_t rows, int64_t cols) {
  bool transposed = rows > cols;
  int64_t n = transposed ? cols : rows, m = transposed ? rows : cols;
  std::vector<int64_t> perm(m);
  for (int64_t j = 0; j < m; ++j) perm[j] = j;
  double best = kInf;
  do {
    double total = 0;
    for (int64_t i = 0; i < n; ++i) {
      total += transposed ? cost[perm[i] * cols + i] : cost[i * cols + perm[i]];
    }
    best = std::min(best, total);
  } while (std::next_permutation(perm.begin(), perm.end()));
  return best;
}

TEST(LinearAssignmentTest, SolvesSquareAndRectangularMatrices) {
  EXPECT_THAT(SolveLinearAssignment({4, 1, 3, 2, 0, 5, 3, 2, 2}, 3, 3),
              IsOkAndHolds(ElementsAre(Pair(0, 1), Pair(1, 0), Pair(2, 2))));
  // Wide: 2 rows, 3 columns.
  EXPECT_THAT(SolveLinearAssignment({4, 1, 3, 2, 0, 5}, 2, 3),
              IsOkAndHolds(ElementsAre(Pair(0, 1), Pair(1, 0))));
  // Tall: 3 rows, 2 columns.
  EXPECT_THAT(SolveLinearAssignment({4, 2, 1, 0, 3, 5}, 3, 2),
              IsOkAndHolds(ElementsAre(Pair(0, 1), Pair(1, 0))));
  EXPECT_THAT(SolveLinearAssignment({}, 0, 5), IsOkAndHolds(IsEmpty()));
  EXPECT_THAT(SolveLinearAssignment({}, 3, 0), IsOkAndHolds(IsEmpty()));
}

TEST(LinearAssignmentTest, InfinityForbidsAPairAndCanMakeItInfeasible) {
  EXPECT_THAT(SolveLinearAssignment({kInf, 1, 1, kInf}, 2, 2),
              IsOkAndHolds(ElementsAre(Pair(0, 1), Pair(1, 0))));
  EXPECT_THAT(SolveLinearAssignment({kInf, kInf, 1, 2}, 2, 2),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(SolveLinearAssignment({kInf, 3, kInf, kInf, 1, kInf}, 2, 3),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(SolveLinearAssignment({1, std::nan(""), 2, 3}, 2, 2),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(SolveLinearAssignment({1, -kInf, 2, 3}, 2, 2),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(SolveLinearAssignment({1, 2, 3}, 2, 2),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(LinearAssignmentTest, MatchesBruteForceOnRandomMatricesWithTies) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 500; ++trial) {
    int64_t rows = 1 + rng() % 6, cols = 1 + rng() % 6;
    std::vector<double> cost(rows * cols);
    for (double& c : cost) {
      c = trial % 2 ? static_cast<double>(rng() % 4)  // Many ties.
                    : std::uniform_real_distribution<double>(-5, 5)(rng);
    }
    auto pairs = SolveLinearAssignment(cost, rows, cols);
    ASSERT_THAT(pairs, IsOk());
    ASSERT_EQ(static_cast<int64_t>(pairs->size()), std::min(rows, cols));
    std::vector<int> row_used(rows), col_used(cols);
    for (const auto& [r, c] : *pairs) {
      EXPECT_EQ(row_used[r]++, 0);
      EXPECT_EQ(col_used[c]++, 0);
    }
    EXPECT_NEAR(Total(cost, cols, *pairs), BruteForce(cost, rows, cols), 1e-9)
        << "trial " << trial;
  }
}

}  // namespace
}  // namespace cvt
