// -----------------------------------------------------------------------------
// File: rest_client.h
// -----------------------------------------------------------------------------
//
// Authenticated calls to a JSON REST API (a Databricks workspace, an MLflow
// tracking server): adds the Authorization header from an `AuthProvider`,
// retries throttling and transient failures (`SendWithRetry`, honouring
// Retry-After), refreshes the credential once after a 401, and turns error
// answers into Status (`StatusFromHttpResponse`). Paths are relative to the
// base URL ("/api/2.0/dbfs/create").
//
// Example:
//
//   RestClient client("https://adb-1.azuredatabricks.net", &credentials,
//                     &transport, retry);
//   CVT_ASSIGN_OR_RETURN(rapidjson::Document status,
//                        client.GetJson("/api/2.0/dbfs/get-status",
//                                       {{"path", "/ckpt/last.ckpt"}}));
//
// Thread safety: thread-safe.

#ifndef LIBS_HTTP_REST_CLIENT_H_
#define LIBS_HTTP_REST_CLIENT_H_

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "libs/http/http_transport.h"
#include "libs/http/retry.h"
#include "rapidjson/document.h"

namespace cvt {

using QueryParams = std::vector<std::pair<std::string, std::string>>;

// Supplies the Authorization header; thread-safe.
class AuthProvider {
 public:
  virtual ~AuthProvider() = default;
  // The header value ("Bearer ..."), or "" to send none.
  virtual absl::StatusOr<std::string> AuthorizationHeader() = 0;
  // After a 401: drop a cached token. Returns false when refreshing cannot
  // help (a static token), so the 401 stands.
  virtual bool InvalidateToken() = 0;
};

class RestClient {
 public:
  // `base_url` is "scheme://host[:port][/prefix]" without a trailing slash.
  // No pointer is owned; `auth` may be null (no Authorization header).
  RestClient(std::string base_url, AuthProvider* auth, HttpTransport* transport,
             RetryOptions retry = {});

  // Sends `request` whose `url` is a workspace-relative path (plus query).
  // Returns the response when its status is 2xx, or when `accept(status)`
  // says the caller handles that status (e.g. 404 for "exists?" probes).
  // Errors: those of `StatusFromHttpResponse`, transport errors.
  absl::StatusOr<HttpResponse> Call(
      HttpRequest request, Idempotency idempotency = Idempotency::kIdempotent,
      const std::function<bool(int)>& accept = nullptr);

  // GET with a query string; parses the JSON answer.
  absl::StatusOr<rapidjson::Document> GetJson(absl::string_view path,
                                              const QueryParams& query);

  // POST of a JSON body; parses the JSON answer ({} when empty).
  absl::StatusOr<rapidjson::Document> PostJson(
      absl::string_view path, std::string json_body,
      Idempotency idempotency = Idempotency::kIdempotent);

  // Called with one line per retry (no credentials); default logs a warning.
  void set_retry_logger(std::function<void(const std::string&)> logger) {
    retry_logger_ = std::move(logger);
  }

  const std::string& host() const { return base_url_; }
  const RetryOptions& retry() const { return retry_; }

 private:
  const std::string base_url_;
  AuthProvider* const auth_;
  HttpTransport* const transport_;
  const RetryOptions retry_;
  std::function<void(const std::string&)> retry_logger_;
};

// "path?k1=v1&k2=v2" with values percent-encoded.
std::string WithQuery(absl::string_view path, const QueryParams& query);

}  // namespace cvt

#endif  // LIBS_HTTP_REST_CLIENT_H_
