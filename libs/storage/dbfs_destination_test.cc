// DBFS destination against the Databricks stand-in
// (testing/fake_databricks_server.py): the real service cannot run here. The
// stand-in makes files visible from dbfs/create on, as a pessimistic model,
// so these tests show that nothing partial ever sits under a final name.

#include "libs/storage/dbfs_destination.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/file_io.h"
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

// Every file under `dir`, recursively, relative.
void ListAll(const std::string& dir, const std::string& prefix,
             std::vector<std::string>* out) {
  DIR* handle = opendir(dir.c_str());
  if (handle == nullptr) return;
  while (struct dirent* entry = readdir(handle)) {
    std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    if (entry->d_type == DT_DIR) {
      ListAll(dir + "/" + name, prefix + name + "/", out);
    } else {
      out->push_back(prefix + name);
    }
  }
  closedir(handle);
}

class DbfsDestinationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = FakeDatabricksServer::Start({});
    ASSERT_THAT(server, IsOk());
    server_ = *std::move(server);
    fake_client_ = std::make_unique<FakeDatabricksClient>(
        *server_, FakeDatabricksOptions());
    client_ = fake_client_->client();
    src_ = TestTempPath(
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    mkdir(src_.c_str(), 0777);
    options_.progress.mode = ProgressMode::kNone;
    options_.threads = 2;
    // The destination's parent must exist.
    mkdir((server_->storage() + "/dbfs").c_str(), 0777);
    mkdir((server_->storage() + "/dbfs/ckpt").c_str(), 0777);
  }

  void Write(const std::string& relative, const std::string& data) {
    std::string path = src_ + "/" + relative;
    ASSERT_THAT(MakeDirs(path.substr(0, path.find_last_of('/'))), IsOk());
    ASSERT_THAT(WriteFileAtomically(path, data), IsOk());
  }

  std::string Root() { return server_->storage() + "/dbfs/ckpt/run-1"; }

  std::string Stored(const std::string& relative) {
    auto data = ReadFileToString(Root() + "/" + relative);
    return data.ok() ? *data : "<missing>";
  }

  std::vector<std::string> StoredNames() {
    std::vector<std::string> names;
    ListAll(Root(), "", &names);
    std::sort(names.begin(), names.end());
    return names;
  }

  absl::StatusOr<SyncStats> Sync() {
    DbfsDestination dst("dbfs:/ckpt/run-1", client_);
    absl::Status opened = dst.Open(false);
    if (!opened.ok()) return opened;
    return SyncUntilStable(src_, {}, dst, options_);
  }

  std::unique_ptr<FakeDatabricksServer> server_;
  std::unique_ptr<FakeDatabricksClient> fake_client_;
  RestClient* client_ = nullptr;
  std::string src_;
  SyncOptions options_;
};

TEST_F(DbfsDestinationTest, MultiBlockFilesArriveWholeUnderFinalNames) {
  std::string big;
  for (int i = 0; i < (5 << 19); ++i) big.push_back(static_cast<char>(i * 31));
  Write("checkpoints/last.ckpt", big);  // 2.5 MiB: four add-blocks.
  Write("metrics.jsonl", "{}\n");
  Write("empty", "");
  options_.verify = VerifyMode::kSha256;
  auto stats = Sync();
  ASSERT_THAT(stats, IsOk());
  EXPECT_EQ(stats->copied, 3);
  EXPECT_EQ(Stored("checkpoints/last.ckpt"), big);
  EXPECT_EQ(Stored("empty"), "");
  EXPECT_EQ(StoredNames(), (std::vector<std::string>{
                               kSyncManifestName, "checkpoints/last.ckpt",
                               "empty", "metrics.jsonl"}));
  auto manifest = ParseSyncManifest(Stored(kSyncManifestName), "manifest");
  ASSERT_THAT(manifest, IsOk());
  EXPECT_EQ(manifest->files["checkpoints/last.ckpt"].sha256, Sha256Hex(big));

  Write("checkpoints/last.ckpt", big + "more");
  auto again = Sync();
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->copied, 1);
  EXPECT_EQ(again->skipped, 2);
  EXPECT_EQ(Stored("checkpoints/last.ckpt"), big + "more");
}

TEST_F(DbfsDestinationTest, DroppedAndExpiredBlocksRestartTheFile) {
  std::string data(2 << 20, 'k');
  Write("a.ckpt", data);
  ASSERT_THAT(server_->AddFaults(R"([
      {"method": "POST", "path_prefix": "/api/2.0/dbfs/add-block", "times": 1,
       "action": "drop_mid_body", "after_bytes": 10000},
      {"method": "POST", "path_prefix": "/api/2.0/dbfs/add-block", "times": 1,
       "status": 404, "body": {"error_code": "RESOURCE_DOES_NOT_EXIST",
                               "message": "handle expired"}},
      {"method": "POST", "path_prefix": "/api/2.0/dbfs/add-block", "times": 1,
       "status": 429, "retry_after": "0"}])"),
              IsOk());
  auto stats = Sync();
  ASSERT_THAT(stats, IsOk());
  EXPECT_EQ(Stored("a.ckpt"), data);
  // Restarted files leave no temporary files behind.
  EXPECT_EQ(StoredNames(),
            (std::vector<std::string>{kSyncManifestName, "a.ckpt"}));
}

TEST_F(DbfsDestinationTest, ServerErrorsAreRetriedAndStaleTempsCleaned) {
  Write("a", "aaa");
  ASSERT_THAT(WriteFileAtomically(server_->storage() + "/dbfs/ckpt/x", "x"),
              IsOk());
  mkdir(Root().c_str(), 0777);
  ASSERT_THAT(WriteFileAtomically(Root() + "/.a.tmp-1-2-3", "partial"), IsOk());
  ASSERT_THAT(server_->AddFaults(R"([
      {"method": "GET", "path_prefix": "/api/2.0/dbfs/list", "times": 2,
       "status": 503},
      {"method": "POST", "path_prefix": "/api/2.0/dbfs/move", "times": 1,
       "status": 500}])"),
              IsOk());
  auto stats = Sync();
  // A 500 on a non-idempotent move is not retried blindly: the sync reports
  // it, and the next one converges.
  if (!stats.ok()) {
    EXPECT_THAT(stats.status().message(), HasSubstr("dbfs/move"));
    stats = Sync();
  }
  ASSERT_THAT(stats, IsOk());
  EXPECT_EQ(Stored("a"), "aaa");
  EXPECT_EQ(StoredNames(), (std::vector<std::string>{kSyncManifestName, "a"}));
}

TEST_F(DbfsDestinationTest, MissingParentIsNamed) {
  DbfsDestination dst("dbfs:/no/such/run", client_);
  absl::Status s = dst.Open(false);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(s.message(), HasSubstr("dbfs:/no/such"));
}

}  // namespace
}  // namespace cvt
