// -----------------------------------------------------------------------------
// File: status.h
// -----------------------------------------------------------------------------
//
// Status helpers shared by every library and tool: adding context to an error,
// and the exit-code convention of every cvtools binary.
//
// Exit codes:
//   0  success
//   1  runtime failure (I/O, a failed computation, a capability not built yet)
//   2  bad usage or bad input (unknown or malformed flag, missing required
//      flag, invalid config, malformed data file)

#ifndef LIBS_BASE_STATUS_H_
#define LIBS_BASE_STATUS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace cvt {

// Returns `status` with "`context`: " prepended to its message, keeping its
// code and payloads. OK stays OK.
absl::Status Annotate(const absl::Status& status, absl::string_view context);

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitBadInput = 2;

// Maps a status to the exit-code convention: OK -> 0; InvalidArgument,
// NotFound, FailedPrecondition, OutOfRange and AlreadyExists (the caller's
// input is wrong) -> 2; anything else -> 1.
int ExitCodeFor(const absl::Status& status);

// For `main`: prints "<tool>: error: <message>" to stderr unless `status` is
// OK, and returns `ExitCodeFor(status)`.
int ExitCode(absl::string_view tool, const absl::Status& status);

}  // namespace cvt

#endif  // LIBS_BASE_STATUS_H_
