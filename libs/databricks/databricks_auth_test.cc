#include "libs/databricks/databricks_auth.h"

#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/file_io.h"
#include "libs/base/status_matchers.h"
#include "libs/base/testdata.h"

namespace cvt {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end() || it->second.empty()) return std::nullopt;
    return it->second;
  };
}

std::string WriteConfig(const std::string& name, const std::string& text) {
  std::string path = TestTempPath(name);
  EXPECT_THAT(WriteFileAtomically(path, text), IsOk());
  return path;
}

TEST(DatabricksAuthTest, EnvironmentTokenWithBareHost) {
  auto config = ResolveDatabricksAuth(
      "", FakeEnv({{"DATABRICKS_HOST", "adb-123.azuredatabricks.net/"},
                   {"DATABRICKS_TOKEN", "dapiSECRET"},
                   {"HOME", "/nonexistent"}}));
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->host, "https://adb-123.azuredatabricks.net");
  EXPECT_EQ(config->token, "dapiSECRET");
  EXPECT_EQ(config->source, "environment");
  EXPECT_THAT(DescribeDatabricksAuth(*config), Not(HasSubstr("SECRET")));
}

TEST(DatabricksAuthTest, DefaultAndNamedProfiles) {
  std::string path = WriteConfig("databrickscfg", R"(
# comment
[DEFAULT]
host = https://default.cloud.databricks.com
token = dapiDEFAULT

[ml]
host  =  ml.cloud.databricks.com
client_id = id-1
client_secret = SECRET-1
)");
  auto env = FakeEnv({{"DATABRICKS_CONFIG_FILE", path}});
  auto fallback = ResolveDatabricksAuth("", env);
  ASSERT_THAT(fallback, IsOk());
  EXPECT_EQ(fallback->host, "https://default.cloud.databricks.com");
  EXPECT_EQ(fallback->token, "dapiDEFAULT");

  auto ml = ResolveDatabricksAuth("ml", env);
  ASSERT_THAT(ml, IsOk());
  EXPECT_EQ(ml->host, "https://ml.cloud.databricks.com");
  EXPECT_TRUE(ml->token.empty());
  EXPECT_EQ(ml->client_id, "id-1");
  EXPECT_EQ(ml->source, path + " [ml]");
  EXPECT_THAT(DescribeDatabricksAuth(*ml), HasSubstr("OAuth M2M"));

  auto by_env = ResolveDatabricksAuth(
      "", FakeEnv({{"DATABRICKS_CONFIG_FILE", path},
                   {"DATABRICKS_CONFIG_PROFILE", "ml"},
                   {"DATABRICKS_CLIENT_SECRET", "OVERRIDE"}}));
  ASSERT_THAT(by_env, IsOk());
  EXPECT_EQ(by_env->client_secret, "OVERRIDE");
  EXPECT_EQ(by_env->source, path + " [ml] and environment");

  absl::Status missing = ResolveDatabricksAuth("nope", env).status();
  EXPECT_THAT(missing, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(missing.message(), HasSubstr("'nope' not found in " + path));
}

TEST(DatabricksAuthTest, ErrorsNameTheSourcesAndNeverTheSecrets) {
  absl::Status nothing =
      ResolveDatabricksAuth("", FakeEnv({{"HOME", "/nonexistent"}})).status();
  EXPECT_THAT(nothing, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(nothing.message(), HasSubstr("DATABRICKS_HOST"));
  EXPECT_THAT(nothing.message(), HasSubstr("/nonexistent/.databrickscfg"));

  absl::Status no_creds =
      ResolveDatabricksAuth(
          "", FakeEnv({{"DATABRICKS_HOST", "h.example.com"},
                       {"DATABRICKS_CLIENT_SECRET", "SECRET-ONLY"},
                       {"HOME", "/nonexistent"}}))
          .status();
  EXPECT_THAT(no_creds, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(no_creds.message(), Not(HasSubstr("SECRET-ONLY")));

  std::string bad = WriteConfig("bad.cfg", "[DEFAULT]\nhost\n");
  absl::Status malformed =
      ResolveDatabricksAuth("", FakeEnv({{"DATABRICKS_CONFIG_FILE", bad}}))
          .status();
  EXPECT_THAT(malformed, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(malformed.message(), HasSubstr(bad + ":2:"));
}

TEST(DatabricksAuthTest, PlainHttpOnlyForLoopback) {
  auto remote = ResolveDatabricksAuth(
      "", FakeEnv({{"DATABRICKS_HOST", "http://workspace.example.com"},
                   {"DATABRICKS_TOKEN", "t"}}));
  EXPECT_THAT(remote, StatusIs(absl::StatusCode::kInvalidArgument));
  for (std::string host :
       {"http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:99"}) {
    auto local = ResolveDatabricksAuth(
        "", FakeEnv({{"DATABRICKS_HOST", host}, {"DATABRICKS_TOKEN", "t"}}));
    ASSERT_THAT(local, IsOk()) << host;
    EXPECT_EQ(local->host, host);
  }
}

TEST(DatabricksAuthTest, AuthTypeSelectsBetweenConfiguredMethods) {
  std::map<std::string, std::string> vars = {
      {"DATABRICKS_HOST", "h.example.com"},
      {"DATABRICKS_TOKEN", "t"},
      {"DATABRICKS_CLIENT_ID", "i"},
      {"DATABRICKS_CLIENT_SECRET", "s"}};
  EXPECT_EQ(ResolveDatabricksAuth("", FakeEnv(vars))->token, "t");
  vars["DATABRICKS_AUTH_TYPE"] = "oauth-m2m";
  auto oauth = ResolveDatabricksAuth("", FakeEnv(vars));
  ASSERT_THAT(oauth, IsOk());
  EXPECT_TRUE(oauth->token.empty());
  vars["DATABRICKS_AUTH_TYPE"] = "azure-cli";
  EXPECT_THAT(ResolveDatabricksAuth("", FakeEnv(vars)),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace cvt
