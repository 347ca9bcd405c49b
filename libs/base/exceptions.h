// -----------------------------------------------------------------------------
// File: exceptions.h
// -----------------------------------------------------------------------------
//
// The one place where C++ exceptions become `absl::Status`. LibTorch throws
// `c10::Error` and OpenCV throws `cv::Exception`; no exception may cross a
// `libs/` API. Both derive from `std::exception`, so this header includes
// neither library.
//
// Example:
//
//   return CallCatchingExceptions("training step", [&]() -> absl::Status {
//     detector_->Loss(batch.images, batch.targets).backward();
//     return absl::OkStatus();
//   });

#ifndef LIBS_BASE_EXCEPTIONS_H_
#define LIBS_BASE_EXCEPTIONS_H_

#include <exception>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace cvt {

// Returns `UnknownError("<context>: <message>")`, where the message is the
// first line of `e.what()`: the rest of `c10::Error::what()` is a C++
// backtrace ("Exception raised from ..."). `std::bad_alloc` becomes
// `ResourceExhausted`.
absl::Status StatusFromException(absl::string_view context,
                                 const std::exception& e);

// Returns `fn()`, an `absl::Status` or `absl::StatusOr<T>`. If `fn` throws,
// returns `StatusFromException(context, e)` instead; a thrown non-exception
// type becomes `UnknownError("<context>: unknown exception")`.
template <typename Fn>
std::invoke_result_t<Fn> CallCatchingExceptions(absl::string_view context,
                                                Fn&& fn) {
  try {
    return std::forward<Fn>(fn)();
  } catch (const std::exception& e) {
    return StatusFromException(context, e);
  } catch (...) {
    return absl::UnknownError(absl::StrCat(context, ": unknown exception"));
  }
}

}  // namespace cvt

#endif  // LIBS_BASE_EXCEPTIONS_H_
