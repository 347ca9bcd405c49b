#include "libs/http/http_status.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/status_matchers.h"

namespace cvt {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

HttpRequest Request() {
  HttpRequest request;
  request.method = "PUT";
  request.url = "https://h/api/2.0/fs/files/Volumes/a?X-Amz-Signature=secret";
  return request;
}

HttpResponse Response(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

TEST(HttpStatusTest, ErrorCodeWinsOverHttpStatus) {
  absl::Status s = StatusFromHttpResponse(
      Request(), Response(400, R"({"error_code": "RESOURCE_ALREADY_EXISTS",
                                   "message": "Experiment 'x' exists."})"));
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(s.message(), HasSubstr("RESOURCE_ALREADY_EXISTS"));
  EXPECT_THAT(s.message(), HasSubstr("Experiment 'x' exists."));
  EXPECT_THAT(StatusFromHttpResponse(
                  Request(),
                  Response(400, R"({"error_code":"RESOURCE_DOES_NOT_EXIST"})")),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(HttpStatusTest, MapsStatusesWithoutJsonBodies) {
  EXPECT_THAT(StatusFromHttpResponse(Request(), Response(404, "")),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(StatusFromHttpResponse(Request(), Response(401, "")),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(StatusFromHttpResponse(Request(), Response(403, "")),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(StatusFromHttpResponse(Request(), Response(429, "")),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(StatusFromHttpResponse(Request(), Response(409, "")),
              StatusIs(absl::StatusCode::kAlreadyExists));
  absl::Status gateway = StatusFromHttpResponse(
      Request(), Response(502, "<html>Bad\x01 Gateway</html>"));
  EXPECT_THAT(gateway, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(gateway.message(), HasSubstr("<html>Bad  Gateway</html>"));
}

TEST(HttpStatusTest, MessageOmitsTheQueryString) {
  absl::Status s = StatusFromHttpResponse(Request(), Response(500, "{}"));
  EXPECT_THAT(s.message(),
              HasSubstr("PUT https://h/api/2.0/fs/files/Volumes/a"));
  EXPECT_THAT(s.message(), Not(HasSubstr("secret")));
}

TEST(HttpStatusTest, ParsesOAuthErrors) {
  HttpError error = ParseHttpError(Response(
      401, R"({"error": "invalid_client", "error_description": "bad id"})"));
  EXPECT_EQ(error.error_code, "invalid_client");
  EXPECT_EQ(error.message, "bad id");
}

}  // namespace
}  // namespace cvt
