#include "libs/base/exceptions.h"

#include <new>
#include <stdexcept>

#include "ATen/ops/matmul.h"
#include "ATen/ops/ones.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/status_matchers.h"
#include "opencv2/core.hpp"

namespace cvt {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(ExceptionsTest, RealLibTorchFailureBecomesStatusWithoutBacktrace) {
  absl::StatusOr<int64_t> result =
      CallCatchingExceptions("forward pass", []() -> absl::StatusOr<int64_t> {
        at::Tensor a = at::ones({2, 3});
        at::Tensor b = at::ones({4, 5});
        return at::matmul(a, b).numel();  // Throws c10::Error.
      });
  EXPECT_THAT(result,
              StatusIs(absl::StatusCode::kUnknown,
                       AllOf(HasSubstr("forward pass: "),
                             HasSubstr("cannot be multiplied (2x3 and 4x5)"),
                             Not(HasSubstr("Exception raised from")),
                             Not(HasSubstr("\n")))));
}

TEST(ExceptionsTest, RealOpenCvFailureBecomesStatus) {
  absl::Status status =
      CallCatchingExceptions("blending", []() -> absl::Status {
        cv::Mat a(2, 2, CV_8UC1, cv::Scalar(1));
        cv::Mat b(3, 3, CV_8UC1, cv::Scalar(1));
        cv::Mat sum = a + b;  // Throws cv::Exception: sizes differ.
        return absl::OkStatus();
      });
  EXPECT_THAT(status,
              StatusIs(absl::StatusCode::kUnknown,
                       AllOf(HasSubstr("blending: "), HasSubstr("OpenCV"),
                             Not(HasSubstr("\n")))));
}

TEST(ExceptionsTest, StdExceptionsKeepTheirMessage) {
  EXPECT_THAT(CallCatchingExceptions("parsing",
                                     []() -> absl::Status {
                                       throw std::runtime_error("bad token");
                                     }),
              StatusIs(absl::StatusCode::kUnknown, "parsing: bad token"));
  EXPECT_THAT(
      CallCatchingExceptions("allocating",
                             []() -> absl::Status { throw std::bad_alloc(); }),
      StatusIs(absl::StatusCode::kResourceExhausted,
               HasSubstr("allocating: ")));
}

TEST(ExceptionsTest, NonStandardThrowIsCaught) {
  EXPECT_THAT(
      CallCatchingExceptions("legacy", []() -> absl::Status { throw 42; }),
      StatusIs(absl::StatusCode::kUnknown, "legacy: unknown exception"));
}

TEST(ExceptionsTest, ValuesAndErrorsPassThrough) {
  EXPECT_THAT(
      CallCatchingExceptions("ok", []() -> absl::StatusOr<int> { return 7; }),
      IsOkAndHolds(7));
  EXPECT_THAT(
      CallCatchingExceptions(
          "err", []() -> absl::Status { return absl::NotFoundError("gone"); }),
      StatusIs(absl::StatusCode::kNotFound, "gone"));
}

}  // namespace
}  // namespace cvt
