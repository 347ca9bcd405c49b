#include "libs/storage/testing/fake_databricks.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "libs/base/file_io.h"
#include "libs/base/testdata.h"

namespace cvt {

absl::StatusOr<std::unique_ptr<FakeDatabricksServer>>
FakeDatabricksServer::Start(const FakeDatabricksOptions& options) {
  static std::atomic<int> counter{0};
  std::string dir = TestTempPath(
      absl::StrCat("fake_databricks_", getpid(), "_", counter.fetch_add(1)));
  if (mkdir(dir.c_str(), 0777) != 0) return ErrnoStatus(errno, "mkdir", dir);
  std::unique_ptr<FakeDatabricksServer> server(new FakeDatabricksServer());
  server->storage_ = dir + "/storage";
  std::string port_file = dir + "/port";
  const char* python = std::getenv("CVT_PYTHON");
  std::vector<std::string> args = {
      python != nullptr && *python != '\0' ? python : "/usr/bin/python3",
      "libs/storage/testing/fake_databricks_server.py",
      "--root",
      server->storage_,
      "--port_file",
      port_file,
      "--token_ttl_s",
      std::to_string(options.token_ttl_s),
      "--dbfs_handle_ttl_s",
      std::to_string(options.dbfs_handle_ttl_s)};
  for (const std::string& token : options.tokens) {
    args.push_back("--token");
    args.push_back(token);
  }
  if (!options.client_id.empty()) {
    args.insert(args.end(), {"--client_id", options.client_id,
                             "--client_secret", options.client_secret});
  }
  for (const std::string& volume : options.volumes) {
    args.push_back("--volume");
    args.push_back(volume);
  }
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) return ErrnoStatus(errno, "fork", args[0]);
  if (pid == 0) {
    execv(argv[0], argv.data());
    _exit(127);
  }
  server->pid_ = pid;
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    absl::StatusOr<std::string> text = ReadFileToString(port_file);
    int port = 0;
    if (text.ok() &&
        absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &port) &&
        port > 0) {
      server->url_ = absl::StrCat("http://127.0.0.1:", port);
      return server;
    }
    int wstatus;
    if (waitpid(pid, &wstatus, WNOHANG) == pid) {
      server->pid_ = -1;
      return absl::InternalError(absl::StrCat(
          "fake_databricks_server.py exited early with status ", wstatus));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError("fake_databricks_server.py did not start");
}

FakeDatabricksServer::~FakeDatabricksServer() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    int wstatus;
    waitpid(pid_, &wstatus, 0);
  }
}

absl::StatusOr<std::string> FakeDatabricksServer::Control(
    const std::string& method, const std::string& path,
    const std::string& body) {
  HttpRequest request;
  request.method = method;
  request.url = url_ + path;
  request.body = body;
  request.headers = {{"Content-Type", "application/json"}};
  absl::StatusOr<HttpResponse> response = transport_.Send(request);
  if (!response.ok()) return response.status();
  if (response->status / 100 != 2) {
    return absl::InternalError(absl::StrCat(
        method, " ", path, ": HTTP ", response->status, " ", response->body));
  }
  return response->body;
}

absl::Status FakeDatabricksServer::AddFaults(const std::string& json_rules) {
  return Control("POST", "/_test/faults", json_rules).status();
}
absl::Status FakeDatabricksServer::Reset() {
  return Control("POST", "/_test/reset", "{}").status();
}
absl::Status FakeDatabricksServer::ExpireTokens() {
  return Control("POST", "/_test/expire_tokens", "{}").status();
}
absl::Status FakeDatabricksServer::ExpireDbfsHandles() {
  return Control("POST", "/_test/expire_dbfs_handles", "{}").status();
}
absl::StatusOr<std::string> FakeDatabricksServer::Log() {
  return Control("GET", "/_test/log", "");
}
absl::StatusOr<std::string> FakeDatabricksServer::Stats() {
  return Control("GET", "/_test/stats", "");
}

RetryOptions FastTestRetries() {
  RetryOptions retry;
  retry.backoff_factor_s = 0.01;
  retry.jitter_s = 0;
  retry.max_retries = 4;
  return retry;
}

FakeDatabricksClient::FakeDatabricksClient(
    const FakeDatabricksServer& server, const FakeDatabricksOptions& options) {
  DatabricksAuthConfig auth;
  auth.host = server.url();
  if (!options.tokens.empty()) {
    auth.token = options.tokens.front();
  } else {
    auth.client_id = options.client_id;
    auth.client_secret = options.client_secret;
  }
  auth.source = "test";
  credentials_ = std::make_unique<DatabricksCredentials>(auth, &transport_,
                                                         FastTestRetries());
  client_ = std::make_unique<RestClient>(server.url(), credentials_.get(),
                                         &transport_, FastTestRetries());
  client_->set_retry_logger(
      [this](const std::string& line) { retries_.push_back(line); });
}

}  // namespace cvt
