// -----------------------------------------------------------------------------
// File: http_status.h
// -----------------------------------------------------------------------------
//
// Turns a non-2xx answer from an MLflow or Databricks REST endpoint into an
// `absl::Status`. Both services send `{"error_code": "...", "message":
// "..."}`; the code is chosen from `error_code` first and the HTTP status
// second (proxies send non-JSON bodies). Messages carry the method, the URL
// path without its query string (signed URLs carry credentials there), the
// status and the server's message; never a header.
//
// Example:
//
//   if (response.status / 100 != 2) {
//     return StatusFromHttpResponse(request, response);
//   }

#ifndef LIBS_HTTP_HTTP_STATUS_H_
#define LIBS_HTTP_HTTP_STATUS_H_

#include <string>

#include "absl/status/status.h"
#include "libs/http/http_transport.h"

namespace cvt {

struct HttpError {
  int status = 0;
  std::string error_code;  // Empty when the body had none.
  std::string message;     // The server's message, or a body excerpt.
};

// Parses the error body of `response` (any body; never fails).
HttpError ParseHttpError(const HttpResponse& response);

// Codes: AlreadyExists (RESOURCE_ALREADY_EXISTS, ALREADY_EXISTS, 409),
// NotFound (404, RESOURCE_DOES_NOT_EXIST, NOT_FOUND), InvalidArgument (other
// 400s), Unauthenticated (401), PermissionDenied (403), ResourceExhausted
// (429, after retries), Unavailable (5xx, 408), Unknown (others).
absl::Status StatusFromHttpResponse(const HttpRequest& request,
                                    const HttpResponse& response);

// "<METHOD> <url without query>", for messages.
std::string DescribeRequest(const HttpRequest& request);

}  // namespace cvt

#endif  // LIBS_HTTP_HTTP_STATUS_H_
