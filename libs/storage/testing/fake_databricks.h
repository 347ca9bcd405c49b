// -----------------------------------------------------------------------------
// File: fake_databricks.h
// -----------------------------------------------------------------------------
//
// Starts fake_databricks_server.py (the test stand-in for the Databricks
// Files, DBFS and OAuth endpoints) on 127.0.0.1 for one test, and drives its
// /_test/ control endpoints (fault rules, request log, token expiry).
// Stands in only for the Databricks service, which cannot run here.
//
// Example:
//
//   auto server = FakeDatabricksServer::Start({});
//   ASSERT_THAT(server, IsOk());
//   setenv("DATABRICKS_HOST", (*server)->url().c_str(), 1);
//   ASSERT_THAT((*server)->AddFaults(R"([{"method": "PUT", "status": 429,
//                                        "retry_after": "0"}])"), IsOk());

#ifndef LIBS_STORAGE_TESTING_FAKE_DATABRICKS_H_
#define LIBS_STORAGE_TESTING_FAKE_DATABRICKS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/databricks/databricks_auth.h"
#include "libs/http/curl_transport.h"
#include "libs/http/rest_client.h"
#include "libs/http/retry.h"

namespace cvt {

struct FakeDatabricksOptions {
  std::vector<std::string> tokens = {"test-pat-secret"};
  std::string client_id;
  std::string client_secret;
  int token_ttl_s = 3600;
  std::vector<std::string> volumes = {"main/cv/ckpt"};
  double dbfs_handle_ttl_s = 600;
};

class FakeDatabricksServer {
 public:
  static absl::StatusOr<std::unique_ptr<FakeDatabricksServer>> Start(
      const FakeDatabricksOptions& options);
  ~FakeDatabricksServer();

  // "http://127.0.0.1:<port>".
  const std::string& url() const { return url_; }
  // Where the server stores files: <storage>/Volumes/..., <storage>/dbfs/...
  const std::string& storage() const { return storage_; }

  absl::Status AddFaults(const std::string& json_rules);
  absl::Status Reset();
  absl::Status ExpireTokens();
  absl::Status ExpireDbfsHandles();
  // The request log as JSON text.
  absl::StatusOr<std::string> Log();
  // {"requests": n, "connections": n} as JSON text.
  absl::StatusOr<std::string> Stats();

 private:
  FakeDatabricksServer() = default;
  absl::StatusOr<std::string> Control(const std::string& method,
                                      const std::string& path,
                                      const std::string& body);

  pid_t pid_ = -1;
  std::string url_;
  std::string storage_;
  CurlTransport transport_;
};

// Retries that keep tests fast: 4 retries, 10 ms backoff factor, no jitter.
RetryOptions FastTestRetries();

// An authenticated `RestClient` for a fake server: the first of
// `options.tokens` as a PAT, or OAuth M2M with `options.client_id` when
// there are no tokens. Retry lines are collected in `retries()`.
class FakeDatabricksClient {
 public:
  FakeDatabricksClient(const FakeDatabricksServer& server,
                       const FakeDatabricksOptions& options);

  RestClient* client() { return client_.get(); }
  CurlTransport* transport() { return &transport_; }
  const std::vector<std::string>& retries() const { return retries_; }

 private:
  CurlTransport transport_;
  std::unique_ptr<DatabricksCredentials> credentials_;
  std::unique_ptr<RestClient> client_;
  std::vector<std::string> retries_;
};

}  // namespace cvt

#endif  // LIBS_STORAGE_TESTING_FAKE_DATABRICKS_H_
