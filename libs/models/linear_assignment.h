// -----------------------------------------------------------------------------
// File: linear_assignment.h
// -----------------------------------------------------------------------------
//
// Minimum-cost assignment of a rectangular cost matrix (the Hungarian
// matching DETR's set loss needs between queries and ground-truth boxes),
// with the semantics of `scipy.optimize.linear_sum_assignment`:
// min(rows, cols) pairs, every row or every column used once, the total cost
// minimal; +infinity marks a forbidden pair; NaN and -infinity are invalid.
// Among several optimal assignments any may be returned (scipy's choice can
// differ on ties; the total cost cannot).
//
// The algorithm is the shortest-augmenting-path Hungarian method with row
// and column potentials (Kuhn-Munkres as refined by Jonker-Volgenant):
// O(n^2 m) time for n = min(rows, cols), O(n + m) memory beyond the matrix.
//
// Example:
//
//   // 2 queries x 3 boxes, row-major.
//   CVT_ASSIGN_OR_RETURN(auto pairs,
//                        SolveLinearAssignment({4, 1, 3, 2, 0, 5}, 2, 3));
//   // pairs == {{0, 1}, {1, 0}}: cost 1 + 2.

#ifndef LIBS_MODELS_LINEAR_ASSIGNMENT_H_
#define LIBS_MODELS_LINEAR_ASSIGNMENT_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace cvt {

// `cost` is row-major, rows x cols. Returns (row, col) pairs sorted by row.
// Errors: InvalidArgument when the size does not match or an entry is NaN
// or -infinity; FailedPrecondition when no assignment avoids +infinity
// ("infeasible", as scipy says).
absl::StatusOr<std::vector<std::pair<int64_t, int64_t>>> SolveLinearAssignment(
    absl::Span<const double> cost, int64_t rows, int64_t cols);

}  // namespace cvt

#endif  // LIBS_MODELS_LINEAR_ASSIGNMENT_H_
