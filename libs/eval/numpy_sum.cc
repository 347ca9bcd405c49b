#include "libs/eval/numpy_sum.h"

#include <cstddef>
#include <limits>

namespace cvt {
namespace {

constexpr size_t kBlock = 128;
constexpr size_t kBuffer = 8192;

double Pairwise(const double* a, size_t n) {
  if (n < 8) {
    double sum = 0.0;
    for (size_t i = 0; i < n; ++i) sum += a[i];
    return sum;
  }
  if (n <= kBlock) {
    double r[8];
    for (int j = 0; j < 8; ++j) r[j] = a[j];
    size_t i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (int j = 0; j < 8; ++j) r[j] += a[i + j];
    }
    double sum =
        ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) sum += a[i];
    return sum;
  }
  size_t half = n / 2;
  half -= half % 8;
  return Pairwise(a, half) + Pairwise(a + half, n - half);
}

}  // namespace

double NumpyPairwiseSum(absl::Span<const double> values) {
  return Pairwise(values.data(), values.size());
}

double NumpySum(absl::Span<const double> values, NumpySumRule rule) {
  double sum = 0.0;
  switch (rule) {
    case NumpySumRule::kWholeArray:
      sum += Pairwise(values.data(), values.size());
      break;
    case NumpySumRule::kBuffered8192:
      for (size_t start = 0; start < values.size(); start += kBuffer) {
        const size_t n =
            values.size() - start < kBuffer ? values.size() - start : kBuffer;
        sum += Pairwise(values.data() + start, n);
      }
      break;
  }
  return sum;
}

double NumpyMean(absl::Span<const double> values, NumpySumRule rule) {
  if (values.empty()) return std::numeric_limits<double>::quiet_NaN();
  return NumpySum(values, rule) / static_cast<double>(values.size());
}

}  // namespace cvt
