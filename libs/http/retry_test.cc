#include "libs/http/retry.h"

#include <cstdlib>
#include <deque>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/status_matchers.h"

namespace cvt {
namespace {

using ::testing::ElementsAre;

// Answers from a script; records what it was sent.
class ScriptedTransport : public HttpTransport {
 public:
  void Answer(int status, std::string retry_after = "") {
    HttpResponse response;
    response.status = status;
    if (!retry_after.empty()) response.headers = {{"Retry-After", retry_after}};
    script_.push_back(response);
  }
  void Fail(absl::Status status) { script_.push_back(status); }

  absl::StatusOr<HttpResponse> Send(const HttpRequest& request) override {
    sent_.push_back(request);
    if (script_.empty()) return absl::InternalError("script exhausted");
    absl::StatusOr<HttpResponse> next = script_.front();
    script_.pop_front();
    return next;
  }

  const std::vector<HttpRequest>& sent() const { return sent_; }

 private:
  std::deque<absl::StatusOr<HttpResponse>> script_;
  std::vector<HttpRequest> sent_;
};

struct Recorder {
  std::vector<absl::Duration> sleeps;
  RetryHooks Hooks() {
    RetryHooks hooks;
    hooks.sleep = [this](absl::Duration d) { sleeps.push_back(d); };
    return hooks;
  }
};

RetryOptions NoJitter() {
  RetryOptions options;
  options.jitter_s = 0;
  return options;
}

TEST(RetryTest, BackoffDoublesFromTheSecondRetryAndIsCapped) {
  RetryOptions options = NoJitter();
  absl::Time now = absl::Now();
  std::vector<double> seconds;
  for (int retry = 1; retry <= 8; ++retry) {
    seconds.push_back(
        absl::ToDoubleSeconds(RetryDelay(options, retry, 0.5, "", now)));
  }
  EXPECT_THAT(seconds, ElementsAre(0, 4, 8, 16, 32, 64, 120, 120));
  options.jitter_s = 1;
  EXPECT_DOUBLE_EQ(absl::ToDoubleSeconds(RetryDelay(options, 2, 0.25, "", now)),
                   4.25);
}

TEST(RetryTest, RetryAfterSecondsAndDatesReplaceTheBackoff) {
  RetryOptions options = NoJitter();
  absl::Time now = absl::FromUnixSeconds(1700000000);
  EXPECT_EQ(RetryDelay(options, 3, 0, "2", now), absl::Seconds(2));
  EXPECT_EQ(RetryDelay(options, 3, 0, "100000", now), absl::Seconds(120));
  // 1700000000 is Tue, 14 Nov 2023 22:13:20 GMT.
  EXPECT_EQ(RetryDelay(options, 1, 0, "Tue, 14 Nov 2023 22:13:25 GMT", now),
            absl::Seconds(5));
  EXPECT_EQ(RetryDelay(options, 2, 0, "garbage", now), absl::Seconds(4));
  options.respect_retry_after = false;
  EXPECT_EQ(RetryDelay(options, 2, 0, "2", now), absl::Seconds(4));
}

TEST(RetryTest, RetriesThrottlingAndServerErrorsThenSucceeds) {
  ScriptedTransport transport;
  transport.Answer(429, "3");
  transport.Answer(503);
  transport.Fail(absl::UnavailableError("connection reset"));
  transport.Answer(200);
  Recorder recorder;
  HttpRequest request;
  request.method = "PUT";
  auto result = SendWithRetry(transport, request, NoJitter(),
                              Idempotency::kIdempotent, recorder.Hooks());
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(transport.sent().size(), 4u);
  EXPECT_THAT(recorder.sleeps, ElementsAre(absl::Seconds(3), absl::Seconds(4),
                                           absl::Seconds(8)));
}

TEST(RetryTest, ClientErrorsAreNotRetried) {
  for (int status : {400, 401, 403, 404, 409}) {
    ScriptedTransport transport;
    transport.Answer(status);
    Recorder recorder;
    auto result = SendWithRetry(transport, HttpRequest(), NoJitter(),
                                Idempotency::kIdempotent, recorder.Hooks());
    ASSERT_THAT(result, IsOk());
    EXPECT_EQ(result->status, status);
    EXPECT_EQ(transport.sent().size(), 1u) << status;
  }
}

TEST(RetryTest, GivesUpAfterMaxRetriesWithTheLastAnswer) {
  ScriptedTransport transport;
  for (int i = 0; i < 3; ++i) transport.Answer(502);
  RetryOptions options = NoJitter();
  options.max_retries = 2;
  Recorder recorder;
  auto result = SendWithRetry(transport, HttpRequest(), options,
                              Idempotency::kIdempotent, recorder.Hooks());
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->status, 502);
  EXPECT_EQ(transport.sent().size(), 3u);
}

TEST(RetryTest, NonIdempotentCallsRetryOnlyWhenNothingHappened) {
  {
    ScriptedTransport transport;
    transport.Answer(500);
    Recorder recorder;
    auto result = SendWithRetry(transport, HttpRequest(), NoJitter(),
                                Idempotency::kNotIdempotent, recorder.Hooks());
    EXPECT_EQ(result->status, 500);
    EXPECT_EQ(transport.sent().size(), 1u);
  }
  {
    ScriptedTransport transport;
    transport.Fail(absl::UnavailableError("reset after sending"));
    Recorder recorder;
    auto result = SendWithRetry(transport, HttpRequest(), NoJitter(),
                                Idempotency::kNotIdempotent, recorder.Hooks());
    EXPECT_THAT(result, StatusIs(absl::StatusCode::kUnavailable));
    EXPECT_EQ(transport.sent().size(), 1u);
  }
  {
    ScriptedTransport transport;
    transport.Answer(429);
    transport.Answer(503);
    transport.Fail(MarkRequestNotSent(absl::UnavailableError("refused")));
    transport.Answer(200);
    Recorder recorder;
    auto result = SendWithRetry(transport, HttpRequest(), NoJitter(),
                                Idempotency::kNotIdempotent, recorder.Hooks());
    EXPECT_EQ(result->status, 200);
    EXPECT_EQ(transport.sent().size(), 4u);
  }
}

TEST(RetryTest, BeforeAttemptRewritesEveryAttempt) {
  ScriptedTransport transport;
  transport.Answer(503);
  transport.Answer(200);
  Recorder recorder;
  RetryHooks hooks = recorder.Hooks();
  int calls = 0;
  hooks.before_attempt = [&](HttpRequest& request) {
    request.headers = {{"Authorization", "Bearer t" + std::to_string(++calls)}};
    return absl::OkStatus();
  };
  ASSERT_THAT(SendWithRetry(transport, HttpRequest(), NoJitter(),
                            Idempotency::kIdempotent, hooks),
              IsOk());
  EXPECT_EQ(FindHeader(transport.sent()[1].headers, "Authorization"),
            "Bearer t2");
}

TEST(RetryTest, ReadsMlflowEnvironmentVariables) {
  setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3", 1);
  setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0.5", 1);
  setenv("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", "0", 1);
  setenv("MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER", "false", 1);
  auto options = RetryOptionsFromEnv();
  ASSERT_THAT(options, IsOk());
  EXPECT_EQ(options->max_retries, 3);
  EXPECT_EQ(options->backoff_factor_s, 0.5);
  EXPECT_EQ(options->jitter_s, 0);
  EXPECT_FALSE(options->respect_retry_after);
  setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "12", 1);
  EXPECT_THAT(RetryOptionsFromEnv(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "x", 1);
  EXPECT_THAT(RetryOptionsFromEnv(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  unsetenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES");
  unsetenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR");
  unsetenv("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER");
  unsetenv("MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER");
  EXPECT_EQ(RetryOptionsFromEnv()->max_retries, 7);
}

}  // namespace
}  // namespace cvt
