// -----------------------------------------------------------------------------
// File: databricks_auth.h
// -----------------------------------------------------------------------------
//
// Databricks workspace credentials, resolved the way the Databricks SDK and
// CLI resolve them, shared by volume_sync and mlflow_push:
//
//   1. `DATABRICKS_HOST` with `DATABRICKS_TOKEN` (a personal access token) or
//      `DATABRICKS_CLIENT_ID` + `DATABRICKS_CLIENT_SECRET` (OAuth
//      machine-to-machine);
//   2. otherwise a profile of the config file (`DATABRICKS_CONFIG_FILE`,
//      default `~/.databrickscfg`): the named profile, else
//      `DATABRICKS_CONFIG_PROFILE`, else `DEFAULT`, with keys `host`, `token`,
//      `client_id`, `client_secret`. Environment variables override single
//      keys of the profile.
//
// OAuth M2M exchanges the client credentials at `<host>/oidc/v1/token`
// (`grant_type=client_credentials&scope=all-apis`, HTTP Basic) and refreshes
// the token 40 s before it expires, or at once after a 401.
//
// Secrets never appear in error messages, logs or `DescribeDatabricksAuth`.
// The host must be https; plain http is accepted only for loopback hosts
// (local test servers), so a token never crosses a network in clear text.
//
// Example:
//
//   CVT_ASSIGN_OR_RETURN(DatabricksAuthConfig config,
//                        ResolveDatabricksAuth("", SystemEnv()));
//   DatabricksCredentials credentials(config, &transport);
//   CVT_ASSIGN_OR_RETURN(std::string header,
//                        credentials.AuthorizationHeader());
//
// Thread safety: `DatabricksCredentials` is thread-safe.

#ifndef LIBS_DATABRICKS_DATABRICKS_AUTH_H_
#define LIBS_DATABRICKS_DATABRICKS_AUTH_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/http/http_transport.h"
#include "libs/http/rest_client.h"
#include "libs/http/retry.h"

namespace cvt {

// Looks up an environment variable; nullopt when unset or empty.
using EnvLookup =
    std::function<std::optional<std::string>(const std::string& name)>;

// The process environment.
EnvLookup SystemEnv();

struct DatabricksAuthConfig {
  // "https://<workspace>" without a trailing slash.
  std::string host;
  // Personal access token; empty with OAuth.
  std::string token;
  std::string client_id;
  std::string client_secret;
  // Where the values came from, e.g. "environment" or
  // "/root/.databrickscfg [ml]", for messages.
  std::string source;
};

// Resolves credentials as described above. `profile` may be empty. `home` is
// used for `~/.databrickscfg` (empty: $HOME). Errors: FailedPrecondition
// when nothing is configured or a named profile lacks a host or credentials
// (the message names the variables and file consulted), NotFound when a
// named profile is absent, InvalidArgument for a non-https host or a
// malformed config file (naming file and line).
absl::StatusOr<DatabricksAuthConfig> ResolveDatabricksAuth(
    absl::string_view profile, const EnvLookup& env);

// "PAT for https://host (from environment)" and the like; never a secret.
std::string DescribeDatabricksAuth(const DatabricksAuthConfig& config);

class DatabricksCredentials : public AuthProvider {
 public:
  // `transport` must outlive this object.
  DatabricksCredentials(DatabricksAuthConfig config, HttpTransport* transport,
                        RetryOptions retry = {});

  // "Bearer <token>", fetching or refreshing an OAuth token when needed.
  // Errors: Unauthenticated when the token endpoint rejects the client,
  // Unavailable when it cannot be reached.
  absl::StatusOr<std::string> AuthorizationHeader() override
      ABSL_LOCKS_EXCLUDED(mu_);

  // After a 401: forget the OAuth token so the next call fetches a new one.
  // Returns false for a PAT (refreshing cannot help).
  bool InvalidateToken() override ABSL_LOCKS_EXCLUDED(mu_);

  const DatabricksAuthConfig& config() const { return config_; }

 private:
  const DatabricksAuthConfig config_;
  HttpTransport* const transport_;
  const RetryOptions retry_;
  absl::Mutex mu_;
  std::string oauth_token_ ABSL_GUARDED_BY(mu_);
  absl::Time oauth_expiry_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace cvt

#endif  // LIBS_DATABRICKS_DATABRICKS_AUTH_H_
