#include "libs/http/retry.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace cvt {
namespace {

absl::Status ReadEnvDouble(const char* name, double* value) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return absl::OkStatus();
  if (!absl::SimpleAtod(text, value) || !std::isfinite(*value) || *value < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("environment variable ", name,
                     " must be a non-negative number, got '", text, "'"));
  }
  return absl::OkStatus();
}

// Parses Retry-After: delta-seconds or an HTTP-date.
std::optional<absl::Duration> ParseRetryAfter(const std::string& value,
                                              absl::Time now) {
  absl::string_view text = absl::StripAsciiWhitespace(value);
  if (text.empty()) return std::nullopt;
  double seconds;
  if (absl::SimpleAtod(text, &seconds) && std::isfinite(seconds) &&
      seconds >= 0) {
    return absl::Seconds(seconds);
  }
  absl::Time when;
  std::string error;
  if (absl::ParseTime("%a, %d %b %Y %H:%M:%S", std::string(text), &when,
                      &error) ||
      absl::ParseTime("%a, %d %b %Y %H:%M:%S GMT", std::string(text), &when,
                      &error)) {
    return std::max(absl::ZeroDuration(), when - now);
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<RetryOptions> RetryOptionsFromEnv(RetryOptions defaults) {
  RetryOptions options = defaults;
  double retries = options.max_retries;
  if (absl::Status s =
          ReadEnvDouble("MLFLOW_HTTP_REQUEST_MAX_RETRIES", &retries);
      !s.ok()) {
    return s;
  }
  if (retries >= 10 || retries != std::floor(retries)) {
    return absl::InvalidArgumentError(
        "environment variable MLFLOW_HTTP_REQUEST_MAX_RETRIES must be an "
        "integer below 10");
  }
  options.max_retries = static_cast<int>(retries);
  if (absl::Status s = ReadEnvDouble("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR",
                                     &options.backoff_factor_s);
      !s.ok()) {
    return s;
  }
  if (options.backoff_factor_s >= 120) {
    return absl::InvalidArgumentError(
        "environment variable MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR must be "
        "below 120");
  }
  if (absl::Status s = ReadEnvDouble("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER",
                                     &options.jitter_s);
      !s.ok()) {
    return s;
  }
  if (const char* text = std::getenv("MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER");
      text != nullptr && *text != '\0') {
    std::string lower = absl::AsciiStrToLower(text);
    if (lower == "true" || lower == "1") {
      options.respect_retry_after = true;
    } else if (lower == "false" || lower == "0") {
      options.respect_retry_after = false;
    } else {
      return absl::InvalidArgumentError(
          "environment variable MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER must "
          "be true or false");
    }
  }
  return options;
}

bool IsRetryableHttpStatus(int status) {
  switch (status) {
    case 408:
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
      return true;
    default:
      return false;
  }
}

absl::Duration RetryDelay(const RetryOptions& options, int retry, double unit,
                          const std::string& retry_after, absl::Time now) {
  absl::Duration cap = absl::Seconds(options.max_backoff_s);
  if (options.respect_retry_after) {
    if (std::optional<absl::Duration> wait = ParseRetryAfter(retry_after, now);
        wait.has_value()) {
      return std::min(*wait, cap);
    }
  }
  double base =
      retry <= 1 ? 0.0 : options.backoff_factor_s * std::ldexp(1.0, retry - 1);
  return std::min(absl::Seconds(base), cap) +
         absl::Seconds(options.jitter_s * unit);
}

absl::StatusOr<HttpResponse> SendWithRetry(HttpTransport& transport,
                                           HttpRequest request,
                                           const RetryOptions& options,
                                           Idempotency idempotency,
                                           const RetryHooks& hooks) {
  absl::BitGen random;
  for (int attempt = 0;; ++attempt) {
    if (hooks.before_attempt) {
      if (absl::Status s = hooks.before_attempt(request); !s.ok()) return s;
    }
    absl::StatusOr<HttpResponse> result = transport.Send(request);
    std::string reason;
    std::string retry_after;
    if (result.ok()) {
      int status = result->status;
      bool retryable = idempotency == Idempotency::kIdempotent
                           ? IsRetryableHttpStatus(status)
                           : (status == 429 || status == 503);
      if (!retryable) return result;
      reason = absl::StrCat("HTTP ", status);
      if (status == 413 || status == 429 || status == 503) {
        retry_after = result->Header("Retry-After");
      }
    } else {
      absl::StatusCode code = result.status().code();
      bool transient = code == absl::StatusCode::kUnavailable ||
                       code == absl::StatusCode::kDeadlineExceeded;
      bool safe = idempotency == Idempotency::kIdempotent ||
                  RequestNotSent(result.status());
      if (!transient || !safe) return result;
      reason = std::string(result.status().message());
    }
    if (attempt >= options.max_retries) return result;
    absl::Duration delay =
        RetryDelay(options, attempt + 1, absl::Uniform(random, 0.0, 1.0),
                   retry_after, absl::Now());
    if (hooks.on_retry) {
      hooks.on_retry(absl::StrCat(
          request.method, " ", request.url.substr(0, request.url.find('?')),
          ": ", reason, "; retry ", attempt + 1, "/", options.max_retries,
          " in ", absl::FormatDuration(delay)));
    }
    if (hooks.sleep) {
      hooks.sleep(delay);
    } else {
      absl::SleepFor(delay);
    }
  }
}

}  // namespace cvt
