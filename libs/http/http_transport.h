// -----------------------------------------------------------------------------
// File: http_transport.h
// -----------------------------------------------------------------------------
//
// The one HTTP interface behind cvtools' REST clients (Databricks Files and
// DBFS APIs for volume_sync; MLflow for mlflow_push). `CurlTransport` is the
// real implementation; tests of the clients run against real local servers,
// and tests of retry logic use a scripted transport of their own.
//
// A transport sends exactly one request and returns whatever status the
// server answered with; retries, auth and error bodies belong to callers
// (`SendWithRetry` in retry.h, `StatusFromHttpResponse` in http_status.h).
//
// Example:
//
//   HttpRequest request;
//   request.method = "PUT";
//   request.url = host + "/api/2.0/fs/files/Volumes/main/cv/ckpt/last.ckpt";
//   request.body_file = "/local/run/checkpoints/last.ckpt";
//   CVT_ASSIGN_OR_RETURN(HttpResponse response, transport.Send(request));
//
// Thread safety: implementations must allow concurrent `Send` calls.

#ifndef LIBS_HTTP_HTTP_TRANSPORT_H_
#define LIBS_HTTP_HTTP_TRANSPORT_H_

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cvt {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// Returns the value of the first header named `name` (case-insensitive), or
// an empty string.
std::string FindHeader(const HttpHeaders& headers, absl::string_view name);

struct HttpRequest {
  // "GET", "HEAD", "PUT", "POST", "DELETE", ...
  std::string method = "GET";
  // Absolute URL, already percent-encoded.
  std::string url;
  // Header lines. Values of `Authorization` never reach logs (see
  // `RedactHeaderForLog`).
  HttpHeaders headers;
  // The body, unless `body_file` is set.
  std::string body;
  // When non-empty, the body is streamed from this file: `body_length` bytes
  // (-1 = to the end of the file) starting at `body_offset`. The file is
  // never loaded into memory.
  std::string body_file;
  // Alternatively, an open file descriptor to stream from (read with pread,
  // not owned, not moved): lets a caller hash and send the very same inode.
  int body_fd = -1;
  int64_t body_offset = 0;
  int64_t body_length = -1;
  // When set, the body of a 2xx response is passed to this callback in
  // pieces instead of being collected in `HttpResponse::body` (bodies of
  // other statuses are still collected, for error messages). Returning false
  // aborts the transfer (the call then fails with Aborted).
  std::function<bool(absl::string_view)> response_sink;
  // Limit for the whole exchange in seconds; 0 means none. Uploads and
  // downloads should use 0 and rely on `low_speed_timeout_s`.
  double timeout_s = 120;
  // Fail if fewer than 1 byte/s moves for this many seconds. 0 disables.
  double low_speed_timeout_s = 60;
};

struct HttpResponse {
  int status = 0;
  HttpHeaders headers;
  std::string body;  // Empty when the request had a `response_sink`.

  std::string Header(absl::string_view name) const {
    return FindHeader(headers, name);
  }
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;

  // Sends `request` once. Any HTTP status is a successful result. Errors:
  // Unavailable for connection failures, resets and truncated responses
  // (`RequestNotSent(status)` tells whether the server can have seen the
  // request), DeadlineExceeded for timeouts, Aborted when `response_sink`
  // stopped the transfer, NotFound/PermissionDenied naming `body_file` when
  // it cannot be read, InvalidArgument for malformed URLs.
  virtual absl::StatusOr<HttpResponse> Send(const HttpRequest& request) = 0;
};

// Marks a transport error as one where the request certainly never reached
// the server (for example, the connection was refused), so that retrying a
// non-idempotent call is safe.
absl::Status MarkRequestNotSent(absl::Status status);
bool RequestNotSent(const absl::Status& status);

// The header line as it may appear in logs: credentials replaced by "***".
std::string RedactHeaderForLog(absl::string_view name, absl::string_view value);

// Percent-encodes each '/'-separated segment of `path` (RFC 3986 unreserved
// characters stay as they are), keeping the slashes.
std::string PercentEncodePath(absl::string_view path);

// Percent-encodes a query-string value.
std::string PercentEncodeQueryValue(absl::string_view value);

}  // namespace cvt

#endif  // LIBS_HTTP_HTTP_TRANSPORT_H_
