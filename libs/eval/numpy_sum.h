// -----------------------------------------------------------------------------
// File: numpy_sum.h
// -----------------------------------------------------------------------------
//
// numpy's float64 summation, reproduced bit for bit, so that means computed
// here equal `np.mean` in pycocotools' `summarize` (a left-to-right sum
// differs by ~1e-14).
//
// numpy adds with a pairwise kernel: blocks below 8 elements left to right;
// up to 128 elements with eight interleaved accumulators combined as
// ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)) plus the leftovers; larger blocks split
// at a multiple of 8 near the middle. Before numpy 2.3, reductions also ran
// through 8192-element buffers, so long arrays were summed chunk by chunk.

#ifndef LIBS_EVAL_NUMPY_SUM_H_
#define LIBS_EVAL_NUMPY_SUM_H_

#include "absl/types/span.h"

namespace cvt {

enum class NumpySumRule {
  // numpy >= 2.3: one pairwise sum over the whole contiguous array.
  kWholeArray,
  // numpy < 2.3: pairwise sums of consecutive 8192-element chunks, added
  // left to right.
  kBuffered8192,
};

// numpy's pairwise_sum kernel over `values`.
double NumpyPairwiseSum(absl::Span<const double> values);

// `np.sum` of a contiguous float64 array under `rule`.
double NumpySum(absl::Span<const double> values, NumpySumRule rule);

// `np.mean`: NumpySum / n. NaN for an empty span (numpy warns and gives NaN).
double NumpyMean(absl::Span<const double> values, NumpySumRule rule);

}  // namespace cvt

#endif  // LIBS_EVAL_NUMPY_SUM_H_
