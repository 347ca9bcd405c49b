// -----------------------------------------------------------------------------
// File: status_macros.h
// -----------------------------------------------------------------------------
//
// The project's two status macros, shaped like the `ABSL_RETURN_IF_ERROR` and
// `ABSL_ASSIGN_OR_RETURN` of later Abseil releases (Debian's 20220623 has
// neither), so switching later is a rename.
//
// Example:
//
//   absl::StatusOr<Config> Load(absl::string_view path) {
//     CVT_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
//     Config config;
//     CVT_RETURN_IF_ERROR(Parse(text, &config));
//     return config;
//   }

#ifndef LIBS_BASE_STATUS_MACROS_H_
#define LIBS_BASE_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Evaluates `expr`, an `absl::Status`, and returns it from the enclosing
// function if it is not OK.
#define CVT_RETURN_IF_ERROR(expr)                    \
  do {                                               \
    ::absl::Status cvt_status_macro_status = (expr); \
    if (!cvt_status_macro_status.ok()) {             \
      return cvt_status_macro_status;                \
    }                                                \
  } while (false)

// Evaluates `rexpr`, an `absl::StatusOr<T>`. On error returns its status from
// the enclosing function; otherwise moves the value into `lhs`, which may be a
// declaration (`CVT_ASSIGN_OR_RETURN(auto x, F())`) or an existing lvalue.
#define CVT_ASSIGN_OR_RETURN(lhs, rexpr) \
  CVT_ASSIGN_OR_RETURN_IMPL_(            \
      CVT_STATUS_MACROS_CONCAT_(cvt_statusor_, __LINE__), lhs, rexpr)

#define CVT_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                               \
  if (!statusor.ok()) {                                  \
    return std::move(statusor).status();                 \
  }                                                      \
  lhs = *std::move(statusor)

#define CVT_STATUS_MACROS_CONCAT_INNER_(x, y) x##y
#define CVT_STATUS_MACROS_CONCAT_(x, y) CVT_STATUS_MACROS_CONCAT_INNER_(x, y)

#endif  // LIBS_BASE_STATUS_MACROS_H_
