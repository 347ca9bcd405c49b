// -----------------------------------------------------------------------------
// File: retry.h
// -----------------------------------------------------------------------------
//
// Retrying HTTP calls the way MLflow's Python client and the Databricks SDK
// do: HTTP 408, 429, 500, 502, 503, 504 and connection errors are retried with
// exponential backoff plus jitter; an integer or HTTP-date `Retry-After` on
// 413/429/503 replaces the computed delay. Retry n (1-based) waits
// `min(max_backoff, factor * 2^(n-1)) + U[0, jitter)`, except that the first
// retry waits only the jitter. The knobs read MLflow's environment variable
// names, so a job configured for the Python client behaves the same.
//
// Example:
//
//   RetryOptions retry = RetryOptionsFromEnv();
//   CVT_ASSIGN_OR_RETURN(HttpResponse r,
//                        SendWithRetry(transport, request, retry));
//
// Thread safety: `SendWithRetry` is thread-safe if the transport is.

#ifndef LIBS_HTTP_RETRY_H_
#define LIBS_HTTP_RETRY_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/http/http_transport.h"

namespace cvt {

struct RetryOptions {
  // Retries after the first attempt (MLFLOW_HTTP_REQUEST_MAX_RETRIES).
  // Default: 7.
  int max_retries = 7;
  // Seconds; see the formula above (MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR).
  // Default: 2.
  double backoff_factor_s = 2;
  // Seconds of uniform random jitter (MLFLOW_HTTP_REQUEST_BACKOFF_JITTER).
  // Default: 1.
  double jitter_s = 1;
  // Cap on one wait, in seconds, also for Retry-After. Default: 120.
  double max_backoff_s = 120;
  // Honour Retry-After (MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER).
  // Default: true.
  bool respect_retry_after = true;
};

// `defaults` overridden by MLflow's environment variables where they are set
// and valid. Errors: InvalidArgument naming the variable when a value does
// not parse or breaks MLflow's bounds (retries < 10, factor < 120).
absl::StatusOr<RetryOptions> RetryOptionsFromEnv(RetryOptions defaults = {});

// Whether a call may be repeated after an ambiguous failure.
enum class Idempotency {
  // Repeating has the same effect (GET, PUT of a whole file, DELETE).
  kIdempotent,
  // Repeating could apply it twice (DBFS add-block, MLflow runs/create):
  // retried only when the server certainly did not act on it (429, 503, or
  // a connection that was never established).
  kNotIdempotent,
};

bool IsRetryableHttpStatus(int status);

// The wait before retry number `retry` (1-based) given a uniform random
// `unit` in [0, 1) and the response's Retry-After header value (may be
// empty).
absl::Duration RetryDelay(const RetryOptions& options, int retry, double unit,
                          const std::string& retry_after, absl::Time now);

struct RetryHooks {
  // Sleeps; tests replace it. Default: absl::SleepFor.
  std::function<void(absl::Duration)> sleep;
  // Called before each retry with a one-line reason (no credentials).
  std::function<void(const std::string&)> on_retry;
  // Called before every attempt; may rewrite the request (for example to
  // refresh an Authorization header).
  std::function<absl::Status(HttpRequest&)> before_attempt;
};

// Sends `request`, retrying per `options`. Returns the last response
// (possibly a retryable status once retries are spent) or the last transport
// error.
absl::StatusOr<HttpResponse> SendWithRetry(
    HttpTransport& transport, HttpRequest request, const RetryOptions& options,
    Idempotency idempotency = Idempotency::kIdempotent,
    const RetryHooks& hooks = {});

}  // namespace cvt

#endif  // LIBS_HTTP_RETRY_H_
