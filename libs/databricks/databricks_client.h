// -----------------------------------------------------------------------------
// File: databricks_client.h
// -----------------------------------------------------------------------------
//
// Authenticated calls to a Databricks workspace REST API: adds the
// Authorization header, retries throttling and transient failures
// (`SendWithRetry`; the SDK's 429 handling honours Retry-After), refreshes an
// OAuth token once after a 401, and turns error answers into Status
// (`StatusFromHttpResponse`). Paths are workspace-relative
// ("/api/2.0/dbfs/create").
//
// Example:
//
//   DatabricksClient client(&credentials, &transport, retry);
//   CVT_ASSIGN_OR_RETURN(rapidjson::Document status,
//                        client.GetJson("/api/2.0/dbfs/get-status",
//                                       {{"path", "/ckpt/last.ckpt"}}));
//
// Thread safety: thread-safe.

#ifndef LIBS_DATABRICKS_DATABRICKS_CLIENT_H_
#define LIBS_DATABRICKS_DATABRICKS_CLIENT_H_

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "libs/databricks/databricks_auth.h"
#include "libs/http/http_transport.h"
#include "libs/http/retry.h"
#include "rapidjson/document.h"

namespace cvt {

using QueryParams = std::vector<std::pair<std::string, std::string>>;

class DatabricksClient {
 public:
  // Neither pointer is owned; both must outlive the client.
  DatabricksClient(DatabricksCredentials* credentials, HttpTransport* transport,
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

  const std::string& host() const { return credentials_->config().host; }

 private:
  DatabricksCredentials* const credentials_;
  HttpTransport* const transport_;
  const RetryOptions retry_;
  std::function<void(const std::string&)> retry_logger_;
};

// "path?k1=v1&k2=v2" with values percent-encoded.
std::string WithQuery(absl::string_view path, const QueryParams& query);

}  // namespace cvt

#endif  // LIBS_DATABRICKS_DATABRICKS_CLIENT_H_
