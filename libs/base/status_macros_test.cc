#include "libs/base/status_macros.h"

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/status_matchers.h"

namespace cvt {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<int> Half(int x) {
  if (x % 2 != 0) return absl::InvalidArgumentError("odd");
  return x / 2;
}

absl::Status CheckEven(int x) {
  if (x % 2 != 0) return absl::InvalidArgumentError("odd");
  return absl::OkStatus();
}

absl::StatusOr<int> Quarter(int x) {
  CVT_ASSIGN_OR_RETURN(int half, Half(x));
  CVT_ASSIGN_OR_RETURN(int quarter, Half(half));  // Two in one scope.
  return quarter;
}

absl::Status CountCalls(int x, int* calls) {
  CVT_RETURN_IF_ERROR(CheckEven(x));
  ++*calls;
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<int>> MakeOwned(int x) {
  if (x < 0) return absl::OutOfRangeError("negative");
  return std::make_unique<int>(x);
}

absl::StatusOr<int> AssignToExisting(int x) {
  std::unique_ptr<int> owned;
  CVT_ASSIGN_OR_RETURN(owned,
                       MakeOwned(x));  // Move-only type, existing lvalue.
  return *owned;
}

TEST(StatusMacrosTest, AssignOrReturnPropagatesFirstError) {
  EXPECT_THAT(Quarter(8), IsOkAndHolds(2));
  EXPECT_THAT(Quarter(6),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("odd")));
  EXPECT_THAT(Quarter(3), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(StatusMacrosTest, ReturnIfErrorStopsBeforeTheRest) {
  int calls = 0;
  EXPECT_THAT(CountCalls(4, &calls), IsOk());
  EXPECT_THAT(CountCalls(5, &calls),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(calls, 1);
}

TEST(StatusMacrosTest, AssignOrReturnMovesIntoExistingVariable) {
  EXPECT_THAT(AssignToExisting(7), IsOkAndHolds(7));
  EXPECT_THAT(AssignToExisting(-1), StatusIs(absl::StatusCode::kOutOfRange));
}

}  // namespace
}  // namespace cvt
