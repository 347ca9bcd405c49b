// -----------------------------------------------------------------------------
// File: status_matchers.h
// -----------------------------------------------------------------------------
//
// GoogleTest matchers for `absl::Status` and `absl::StatusOr<T>` (testonly).
//
// Example:
//
//   EXPECT_THAT(LoadConfig(path), IsOk());
//   EXPECT_THAT(ParseInt("7"), IsOkAndHolds(7));
//   EXPECT_THAT(LoadConfig(bad), StatusIs(absl::StatusCode::kInvalidArgument,
//                                         HasSubstr("trainer.max_epochs")));

#ifndef LIBS_BASE_STATUS_MATCHERS_H_
#define LIBS_BASE_STATUS_MATCHERS_H_

#include <ostream>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

namespace cvt {
namespace status_matchers_internal {

inline const absl::Status& GetStatus(const absl::Status& status) {
  return status;
}
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

class IsOkMatcher {
 public:
  using is_gtest_matcher = void;
  template <typename T>
  bool MatchAndExplain(const T& value,
                       ::testing::MatchResultListener* listener) const {
    const absl::Status& status = GetStatus(value);
    if (!status.ok()) *listener << "which is " << status;
    return status.ok();
  }
  void DescribeTo(std::ostream* os) const { *os << "is OK"; }
  void DescribeNegationTo(std::ostream* os) const { *os << "is not OK"; }
};

template <typename InnerMatcher>
class IsOkAndHoldsMatcher {
 public:
  explicit IsOkAndHoldsMatcher(InnerMatcher inner) : inner_(std::move(inner)) {}

  template <typename StatusOrT>
  operator ::testing::Matcher<StatusOrT>() const {  // NOLINT: implicit
    using Value = typename std::decay_t<StatusOrT>::value_type;
    const ::testing::Matcher<const Value&> inner =
        ::testing::SafeMatcherCast<const Value&>(inner_);
    return ::testing::MakeMatcher(new Impl<StatusOrT, Value>(inner));
  }

 private:
  template <typename StatusOrT, typename Value>
  class Impl : public ::testing::MatcherInterface<StatusOrT> {
   public:
    explicit Impl(::testing::Matcher<const Value&> inner)
        : inner_(std::move(inner)) {}
    bool MatchAndExplain(
        StatusOrT value,
        ::testing::MatchResultListener* listener) const override {
      if (!value.ok()) {
        *listener << "which has status " << value.status();
        return false;
      }
      return inner_.MatchAndExplain(*value, listener);
    }
    void DescribeTo(std::ostream* os) const override {
      *os << "is OK and holds a value that ";
      inner_.DescribeTo(os);
    }
    void DescribeNegationTo(std::ostream* os) const override {
      *os << "is not OK or holds a value that ";
      inner_.DescribeNegationTo(os);
    }

   private:
    ::testing::Matcher<const Value&> inner_;
  };

  InnerMatcher inner_;
};

class StatusIsMatcher {
 public:
  using is_gtest_matcher = void;
  StatusIsMatcher(absl::StatusCode code,
                  ::testing::Matcher<const std::string&> message)
      : code_(code), message_(std::move(message)) {}

  template <typename T>
  bool MatchAndExplain(const T& value,
                       ::testing::MatchResultListener* listener) const {
    const absl::Status& status = GetStatus(value);
    *listener << "which is " << status;
    return status.code() == code_ &&
           message_.Matches(std::string(status.message()));
  }
  void DescribeTo(std::ostream* os) const {
    *os << "has code " << absl::StatusCodeToString(code_)
        << " and a message that ";
    message_.DescribeTo(os);
  }
  void DescribeNegationTo(std::ostream* os) const {
    *os << "does not have code " << absl::StatusCodeToString(code_)
        << " or has a message that ";
    message_.DescribeNegationTo(os);
  }

 private:
  absl::StatusCode code_;
  ::testing::Matcher<const std::string&> message_;
};

}  // namespace status_matchers_internal

// Matches an OK `absl::Status` or `absl::StatusOr<T>`.
inline status_matchers_internal::IsOkMatcher IsOk() { return {}; }

// Matches an OK `absl::StatusOr<T>` whose value matches `inner`.
template <typename InnerMatcher>
status_matchers_internal::IsOkAndHoldsMatcher<std::decay_t<InnerMatcher>>
IsOkAndHolds(InnerMatcher&& inner) {
  return status_matchers_internal::IsOkAndHoldsMatcher<
      std::decay_t<InnerMatcher>>(std::forward<InnerMatcher>(inner));
}

// Matches a status (or the status of a `StatusOr`) with `code` and, when
// given, a message matching `message`.
inline status_matchers_internal::StatusIsMatcher StatusIs(
    absl::StatusCode code,
    ::testing::Matcher<const std::string&> message = ::testing::_) {
  return status_matchers_internal::StatusIsMatcher(code, std::move(message));
}

}  // namespace cvt

// In a test: evaluates `rexpr`, an `absl::StatusOr<T>`; on error fails the
// test (ASSERT semantics, naming the status); otherwise moves the value into
// `lhs`, a declaration or an existing lvalue.
#define ASSERT_OK_AND_ASSIGN(lhs, rexpr) \
  ASSERT_OK_AND_ASSIGN_IMPL_(            \
      CVT_MATCHERS_CONCAT_(cvt_assert_statusor_, __LINE__), lhs, rexpr)

#define ASSERT_OK_AND_ASSIGN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                               \
  ASSERT_TRUE(statusor.ok()) << statusor.status();       \
  lhs = *std::move(statusor)

#define CVT_MATCHERS_CONCAT_INNER_(x, y) x##y
#define CVT_MATCHERS_CONCAT_(x, y) CVT_MATCHERS_CONCAT_INNER_(x, y)

#endif  // LIBS_BASE_STATUS_MATCHERS_H_
