#include "libs/http/http_transport.h"

#include "gtest/gtest.h"

namespace cvt {
namespace {

TEST(HttpTransportTest, FindsHeadersCaseInsensitively) {
  HttpHeaders headers = {{"Content-Length", "12"}, {"retry-after", "3"}};
  EXPECT_EQ(FindHeader(headers, "content-length"), "12");
  EXPECT_EQ(FindHeader(headers, "Retry-After"), "3");
  EXPECT_EQ(FindHeader(headers, "ETag"), "");
}

TEST(HttpTransportTest, RedactsCredentialsButKeepsTheScheme) {
  EXPECT_EQ(RedactHeaderForLog("Authorization", "Bearer dapi123secret"),
            "Authorization: Bearer ***");
  EXPECT_EQ(RedactHeaderForLog("authorization", "Basic dXNlcjpwdw=="),
            "authorization: Basic ***");
  EXPECT_EQ(RedactHeaderForLog("Cookie", "session=abc"), "Cookie: ***");
  EXPECT_EQ(RedactHeaderForLog("Content-Type", "application/json"),
            "Content-Type: application/json");
}

TEST(HttpTransportTest, PercentEncodesPathSegmentsKeepingSlashes) {
  EXPECT_EQ(PercentEncodePath("/Volumes/main/cv/run 1/épo#ch=3.ckpt"),
            "/Volumes/main/cv/run%201/%C3%A9po%23ch%3D3.ckpt");
  EXPECT_EQ(PercentEncodePath("/a-b_c.d~e"), "/a-b_c.d~e");
  EXPECT_EQ(PercentEncodeQueryValue("/x y/z?&"), "%2Fx%20y%2Fz%3F%26");
}

TEST(HttpTransportTest, NotSentMarkSurvivesCopies) {
  absl::Status plain = absl::UnavailableError("reset");
  EXPECT_FALSE(RequestNotSent(plain));
  absl::Status marked = MarkRequestNotSent(absl::UnavailableError("refused"));
  absl::Status copy = marked;
  EXPECT_TRUE(RequestNotSent(copy));
  EXPECT_EQ(copy.message(), "refused");
}

}  // namespace
}  // namespace cvt
