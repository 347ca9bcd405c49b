// Files API destination against the Databricks stand-in
// (testing/fake_databricks_server.py): the real service cannot run here.

#include "libs/storage/files_api_destination.h"

#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/file_io.h"
#include "libs/base/json.h"
#include "libs/base/sha256.h"
#include "libs/base/status_matchers.h"
#include "libs/base/testdata.h"
#include "libs/databricks/databricks_auth.h"
#include "libs/http/curl_transport.h"
#include "libs/http/rest_client.h"
#include "libs/storage/sync_engine.h"
#include "libs/storage/sync_manifest.h"
#include "libs/storage/testing/fake_databricks.h"

namespace cvt {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class FilesApiDestinationTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer({}); }

  void StartServer(FakeDatabricksOptions server_options) {
    auto server = FakeDatabricksServer::Start(server_options);
    ASSERT_THAT(server, IsOk());
    server_ = *std::move(server);
    fake_client_ =
        std::make_unique<FakeDatabricksClient>(*server_, server_options);
    client_ = fake_client_->client();
    src_ = TestTempPath(
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    mkdir(src_.c_str(), 0777);
    options_.progress.mode = ProgressMode::kNone;
    options_.threads = 3;
  }

  void Write(const std::string& relative, const std::string& data) {
    std::string path = src_ + "/" + relative;
    ASSERT_THAT(MakeDirs(path.substr(0, path.find_last_of('/'))), IsOk());
    ASSERT_THAT(WriteFileAtomically(path, data), IsOk());
  }

  std::string Stored(const std::string& relative) {
    auto data = ReadFileToString(server_->storage() +
                                 "/Volumes/main/cv/ckpt/run-1/" + relative);
    return data.ok() ? *data : "<missing>";
  }

  absl::StatusOr<SyncStats> Sync() {
    FilesApiDestination dst("/Volumes/main/cv/ckpt/run-1", client_);
    absl::Status opened = dst.Open(false);
    if (!opened.ok()) return opened;
    return SyncUntilStable(src_, {}, dst, options_);
  }

  std::unique_ptr<FakeDatabricksServer> server_;
  std::unique_ptr<FakeDatabricksClient> fake_client_;
  RestClient* client_ = nullptr;
  CurlTransport transport_;
  const std::vector<std::string>& retries() { return fake_client_->retries(); }
  std::string src_;
  SyncOptions options_;
};

TEST_F(FilesApiDestinationTest, SyncsIncrementallyWithAManifest) {
  std::string big(3 << 20, 'b');
  big[777] = 'x';
  Write("checkpoints/epoch=0-step=10.ckpt", big);
  Write("checkpoints/checkpoints.json",
        R"({"checkpoints": [{"file": "epoch=0-step=10.ckpt"}]})");
  Write("metrics.jsonl", "{\"loss\": 1}\n");
  Write("plots/loss curve.png", "png");
  for (int i = 0; i < 30; ++i) Write("many/f" + std::to_string(i), "x");
  auto stats = Sync();
  ASSERT_THAT(stats, IsOk());
  EXPECT_EQ(stats->copied, 34);
  EXPECT_EQ(Stored("checkpoints/epoch=0-step=10.ckpt"), big);
  EXPECT_EQ(Stored("plots/loss curve.png"), "png");
  auto manifest = ParseSyncManifest(Stored(kSyncManifestName), "manifest");
  ASSERT_THAT(manifest, IsOk());
  EXPECT_EQ(manifest->files.size(), 34u);
  EXPECT_EQ(manifest->files["checkpoints/epoch=0-step=10.ckpt"].sha256,
            Sha256Hex(big));

  auto again = Sync();
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->copied, 0);
  EXPECT_EQ(again->skipped, 34);

  Write("metrics.jsonl", "{\"loss\": 1}\n{\"loss\": 0.5}\n");
  ASSERT_EQ(unlink((src_ + "/many/f3").c_str()), 0);
  options_.delete_extra = true;
  options_.verify = VerifyMode::kSha256;
  auto third = Sync();
  ASSERT_THAT(third, IsOk());
  EXPECT_EQ(third->copied, 1);
  EXPECT_EQ(third->deleted, 1);
  EXPECT_EQ(Stored("many/f3"), "<missing>");
  EXPECT_EQ(Stored("metrics.jsonl"), "{\"loss\": 1}\n{\"loss\": 0.5}\n");

  // Connections are reused: far fewer than requests.
  auto stats_json = server_->Stats();
  ASSERT_THAT(stats_json, IsOk());
  auto doc = ParseJson(*stats_json, "stats");
  EXPECT_LT((*doc)["connections"].GetInt(), (*doc)["requests"].GetInt() / 4)
      << *stats_json;
}

TEST_F(FilesApiDestinationTest, RetriesThrottlingAndServerErrors) {
  Write("a.ckpt", std::string(100000, 'a'));
  ASSERT_THAT(server_->AddFaults(R"([
      {"method": "PUT", "path_prefix": "/api/2.0/fs/files/Volumes/main/cv/ckpt/run-1/a.ckpt",
       "times": 2, "status": 429, "retry_after": "0"},
      {"method": "PUT", "path_prefix": "/api/2.0/fs/files/Volumes/main/cv/ckpt/run-1/a.ckpt",
       "times": 1, "status": 503},
      {"method": "GET", "path_prefix": "/api/2.0/fs/directories", "times": 1,
       "status": 500}])"),
              IsOk());
  auto stats = Sync();
  ASSERT_THAT(stats, IsOk());
  EXPECT_EQ(Stored("a.ckpt"), std::string(100000, 'a'));
  EXPECT_EQ(retries().size(), 4u);
  EXPECT_THAT(retries()[0], HasSubstr("HTTP"));
}

TEST_F(FilesApiDestinationTest, DroppedUploadNeverShowsAPartialFile) {
  std::string data(2 << 20, 'd');
  Write("last.ckpt", data);
  ASSERT_THAT(server_->AddFaults(R"([
      {"method": "PUT", "path_prefix": "/api/2.0/fs/files/Volumes/main/cv/ckpt/run-1/last.ckpt",
       "times": 1, "action": "drop_mid_body", "after_bytes": 500000}])"),
              IsOk());
  auto stats = Sync();
  ASSERT_THAT(stats, IsOk());
  EXPECT_EQ(Stored("last.ckpt"), data);
  ASSERT_FALSE(retries().empty());

  // An ambiguous failure (committed, answer lost) is retried harmlessly.
  Write("last.ckpt", data + "v2");
  ASSERT_THAT(server_->AddFaults(R"([
      {"method": "PUT", "path_prefix": "/api/2.0/fs/files/Volumes/main/cv/ckpt/run-1/last.ckpt",
       "times": 1, "action": "drop_after_commit"}])"),
              IsOk());
  ASSERT_THAT(Sync(), IsOk());
  EXPECT_EQ(Stored("last.ckpt"), data + "v2");
}

TEST_F(FilesApiDestinationTest, MissingVolumeAndBadTokenAreClearErrors) {
  FilesApiDestination missing("/Volumes/main/cv/nope/run", client_);
  absl::Status s = missing.Open(false);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(s.message(), HasSubstr("/Volumes/main/cv/nope"));

  FilesApiDestination not_volume("/Volumes/main", client_);
  EXPECT_THAT(not_volume.Open(false),
              StatusIs(absl::StatusCode::kInvalidArgument));

  DatabricksAuthConfig bad;
  bad.host = server_->url();
  bad.token = "wrong-secret-token";
  DatabricksCredentials bad_credentials(bad, &transport_, FastTestRetries());
  RestClient bad_client(server_->url(), &bad_credentials, &transport_,
                        FastTestRetries());
  FilesApiDestination denied("/Volumes/main/cv/ckpt/run", &bad_client);
  absl::Status d = denied.Open(false);
  EXPECT_FALSE(d.ok());
  EXPECT_THAT(d.message(), HasSubstr("401"));
  EXPECT_THAT(d.message(), Not(HasSubstr("wrong-secret-token")));
}

class FilesApiOAuthTest : public FilesApiDestinationTest {
 protected:
  void SetUp() override {
    FakeDatabricksOptions options;
    options.tokens = {};
    options.client_id = "sp-client";
    options.client_secret = "sp-secret-value";
    StartServer(options);
  }
};

TEST_F(FilesApiOAuthTest, ExpiredTokenIsRefreshedOnce) {
  Write("a", "first");
  ASSERT_THAT(Sync(), IsOk());
  ASSERT_THAT(server_->ExpireTokens(), IsOk());
  Write("a", "second");
  ASSERT_THAT(Sync(), IsOk());
  EXPECT_EQ(Stored("a"), "second");
  auto log = server_->Log();
  ASSERT_THAT(log, IsOk());
  auto doc = ParseJson(*log, "log");
  int token_requests = 0;
  int unauthorized = 0;
  for (const auto& entry : doc->GetArray()) {
    if (std::string(entry["path"].GetString()) == "/oidc/v1/token") {
      ++token_requests;
    }
    if (entry["status"].GetInt() == 401) ++unauthorized;
  }
  EXPECT_EQ(token_requests, 2);
  EXPECT_EQ(unauthorized, 1);
  EXPECT_THAT(*log, Not(HasSubstr("sp-secret-value")));
}

TEST_F(FilesApiOAuthTest, WrongClientSecretIsUnauthenticated) {
  DatabricksAuthConfig bad;
  bad.host = server_->url();
  bad.client_id = "sp-client";
  bad.client_secret = "not-the-secret";
  DatabricksCredentials credentials(bad, &transport_, FastTestRetries());
  auto header = credentials.AuthorizationHeader();
  EXPECT_THAT(header, StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(header.status().message(), Not(HasSubstr("not-the-secret")));
}

}  // namespace
}  // namespace cvt
