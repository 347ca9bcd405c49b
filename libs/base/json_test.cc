#include "libs/base/json.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/file_io.h"
#include "libs/base/status_matchers.h"
#include "libs/base/testdata.h"

namespace cvt {
namespace {

using ::testing::HasSubstr;

TEST(ParseJsonTest, ReportsLineAndColumnOfTheError) {
  // Line 3, column 14: the missing comma before "b".
  const char* text = "{\n  \"a\": 1,\n  \"c\": [1, 2 \"b\"]\n}\n";
  EXPECT_THAT(ParseJson(text, "gt.json"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("gt.json:3:14: Missing a comma")));
  EXPECT_THAT(ParseJson("", "empty.json"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("empty.json:1:1: The document is empty.")));
  EXPECT_THAT(
      ParseJson("[1,\n2,\n", "t.json"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("t.json:3:1: ")));
}

TEST(ParseJsonTest, ReadJsonFileNamesTheFile) {
  const std::string path = TestTempPath("bad.json");
  ASSERT_THAT(WriteFileAtomically(path, "{\"images\": [}"), IsOk());
  EXPECT_THAT(ReadJsonFile(path),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(path + ":1:13: Invalid value.")));
  EXPECT_THAT(ReadJsonFile(TestTempPath("missing.json")),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("missing.json")));
}

TEST(ParseJsonTest, CheckedInMalformedFileReportsItsLocation) {
  const std::string path = TestDataPath("testdata/json/malformed.json");
  EXPECT_THAT(ReadJsonFile(path),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("malformed.json:4:14: Missing a comma or '}' "
                                 "after an object member.")));
}

TEST(ParseJsonTest, ParsesDoublesCorrectlyRounded) {
  // Cases where a fast (non full-precision) parser is off by one ulp.
  const char* cases[] = {"0.1",
                         "2.2250738585072011e-308",
                         "0.3",
                         "1.7976931348623157e308",
                         "123456789012345678.9",
                         "0.6918920761904763",
                         "9007199254740993.0"};
  for (const char* text : cases) {
    auto doc = ParseJson(std::string("[") + text + "]", "x");
    ASSERT_THAT(doc, IsOk());
    EXPECT_EQ((*doc)[0].GetDouble(), std::strtod(text, nullptr)) << text;
  }
}

TEST(ParseJsonTest, AcceptsPythonNonFiniteLiterals) {
  auto doc = ParseJson("[NaN, Infinity, -Infinity]", "x");
  ASSERT_THAT(doc, IsOk());
  EXPECT_TRUE(std::isnan((*doc)[0].GetDouble()));
  EXPECT_EQ((*doc)[1].GetDouble(), std::numeric_limits<double>::infinity());
  EXPECT_EQ((*doc)[2].GetDouble(), -std::numeric_limits<double>::infinity());
}

TEST(FormatDoubleTest, ShortestTextThatRoundTrips) {
  EXPECT_EQ(FormatDouble(0.1), "0.1");
  EXPECT_EQ(FormatDouble(1.0), "1.0");
  EXPECT_EQ(FormatDouble(-3.0), "-3.0");
  EXPECT_EQ(FormatDouble(0.0), "0.0");
  EXPECT_EQ(FormatDouble(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(FormatDouble(1e-7), "1e-07");
  EXPECT_EQ(FormatDouble(1e300), "1e+300");
}

TEST(FormatDoubleTest, RandomBitPatternsRoundTripExactlyThroughTheParser) {
  std::mt19937_64 rng(42);
  int checked = 0;
  while (checked < 20000) {
    const uint64_t bits = rng();
    double value;
    std::memcpy(&value, &bits, sizeof(value));
    if (!std::isfinite(value)) continue;
    const std::string text = FormatDouble(value);
    auto doc = ParseJson("[" + text + "]", "x");
    ASSERT_THAT(doc, IsOk()) << text;
    const double back = (*doc)[0].GetDouble();
    ASSERT_EQ(std::memcmp(&back, &value, sizeof(value)), 0) << text;
    ++checked;
  }
}

TEST(JsonWriterTest, WritesDoublesExactly) {
  JsonWriter json;
  json.StartObject();
  json.Key("stats");
  json.StartArray();
  json.Double(0.50421377473198814);
  json.Double(2.0);
  json.EndArray();
  json.Key("name");
  json.String("a \"b\"");
  json.Key("n");
  json.Int(-3);
  json.Key("ok");
  json.Bool(true);
  json.Key("none");
  json.Null();
  json.EndObject();
  EXPECT_THAT(
      json.Finish(),
      IsOkAndHolds("{\"stats\":[0.5042137747319881,2.0],\"name\":"
                   "\"a \\\"b\\\"\",\"n\":-3,\"ok\":true,\"none\":null}"));
}

TEST(JsonWriterTest, NonFinitePolicies) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  auto write = [&](NonFinitePolicy policy) {
    JsonWriter json({.non_finite = policy});
    json.StartObject();
    json.Key("loss");
    json.Double(nan);
    json.Key("grad");
    json.Double(-inf);
    json.EndObject();
    return json.Finish();
  };
  EXPECT_THAT(
      write(NonFinitePolicy::kReject),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"loss\"")));
  EXPECT_THAT(write(NonFinitePolicy::kNull),
              IsOkAndHolds("{\"loss\":null,\"grad\":null}"));
  EXPECT_THAT(write(NonFinitePolicy::kPythonLiterals),
              IsOkAndHolds("{\"loss\":NaN,\"grad\":-Infinity}"));
}

TEST(JsonWriterTest, IndentedOutputParsesBack) {
  JsonWriter json({.indent = 2});
  json.StartObject();
  json.Key("a");
  json.StartArray();
  json.Uint(1);
  json.EndArray();
  json.EndObject();
  auto text = json.Finish();
  EXPECT_THAT(text, IsOkAndHolds("{\n  \"a\": [\n    1\n  ]\n}\n"));
}

TEST(JsonWriterTest, IncompleteDocumentIsAnError) {
  JsonWriter json;
  json.StartArray();
  EXPECT_THAT(json.Finish(), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace cvt
