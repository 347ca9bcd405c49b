#include "libs/databricks/databricks_auth.h"

#include <cstdlib>
#include <map>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "libs/base/file_io.h"
#include "libs/base/json.h"
#include "libs/http/http_status.h"

namespace cvt {
namespace {

using IniSection = std::map<std::string, std::string>;

// Parses the INI dialect of ~/.databrickscfg: [section] headers, key = value
// lines, '#' and ';' comments.
absl::StatusOr<std::map<std::string, IniSection>> ParseIni(
    absl::string_view text, const std::string& path) {
  std::map<std::string, IniSection> sections;
  std::string current;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[') {
      if (line.back() != ']') {
        return absl::InvalidArgumentError(absl::StrCat(
            path, ":", line_number, ": section header without ']'"));
      }
      current = std::string(
          absl::StripAsciiWhitespace(line.substr(1, line.size() - 2)));
      sections[current];
      continue;
    }
    size_t eq = line.find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ":", line_number, ": expected 'key = value' or [section]"));
    }
    if (current.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line_number, ": key outside of a [section]"));
    }
    sections[current][absl::AsciiStrToLower(
        absl::StripAsciiWhitespace(line.substr(0, eq)))] =
        std::string(absl::StripAsciiWhitespace(line.substr(eq + 1)));
  }
  return sections;
}

bool IsLoopbackHost(absl::string_view authority) {
  // authority is host[:port]
  absl::string_view host = authority;
  if (absl::StartsWith(host, "[")) {
    return absl::StartsWith(host, "[::1]");
  }
  host = host.substr(0, host.find(':'));
  return host == "localhost" || host == "127.0.0.1" ||
         absl::StartsWith(host, "127.");
}

absl::StatusOr<std::string> NormalizeHost(std::string host,
                                          const std::string& source) {
  host = std::string(absl::StripAsciiWhitespace(host));
  while (absl::EndsWith(host, "/")) host.pop_back();
  if (!absl::StrContains(host, "://")) host = absl::StrCat("https://", host);
  if (absl::StartsWith(host, "https://")) return host;
  if (absl::StartsWith(host, "http://") &&
      IsLoopbackHost(absl::string_view(host).substr(strlen("http://")))) {
    return host;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "Databricks host from ", source,
      " must use https:// (plain http is allowed only for loopback test "
      "servers)"));
}

}  // namespace

EnvLookup SystemEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr || *value == '\0') return std::nullopt;
    return std::string(value);
  };
}

absl::StatusOr<DatabricksAuthConfig> ResolveDatabricksAuth(
    absl::string_view profile, const EnvLookup& env) {
  std::string profile_name(profile);
  if (profile_name.empty())
    profile_name = env("DATABRICKS_CONFIG_PROFILE").value_or("");
  bool profile_named = !profile_name.empty();

  DatabricksAuthConfig config;
  std::optional<std::string> env_host = env("DATABRICKS_HOST");
  std::optional<std::string> env_token = env("DATABRICKS_TOKEN");
  std::optional<std::string> env_id = env("DATABRICKS_CLIENT_ID");
  std::optional<std::string> env_secret = env("DATABRICKS_CLIENT_SECRET");
  bool env_complete =
      env_host.has_value() &&
      (env_token.has_value() || (env_id.has_value() && env_secret.has_value()));

  std::string config_path = env("DATABRICKS_CONFIG_FILE").value_or("");
  if (config_path.empty()) {
    std::optional<std::string> home = env("HOME");
    config_path = absl::StrCat(home.value_or(""), "/.databrickscfg");
  }

  if (profile_named || !env_complete) {
    absl::StatusOr<std::string> text = ReadFileToString(config_path);
    if (!text.ok() && profile_named) {
      return absl::NotFoundError(absl::StrCat(
          "Databricks profile '", profile_name, "' requested but ", config_path,
          " cannot be read: ", text.status().message()));
    }
    if (text.ok()) {
      auto sections = ParseIni(*text, config_path);
      if (!sections.ok()) return sections.status();
      std::string wanted = profile_named ? profile_name : "DEFAULT";
      auto it = sections->find(wanted);
      if (it == sections->end() && profile_named) {
        return absl::NotFoundError(absl::StrCat(
            "Databricks profile '", wanted, "' not found in ", config_path));
      }
      if (it != sections->end()) {
        const IniSection& s = it->second;
        auto get = [&](const char* key) {
          auto kv = s.find(key);
          return kv == s.end() ? std::string() : kv->second;
        };
        config.host = get("host");
        config.token = get("token");
        config.client_id = get("client_id");
        config.client_secret = get("client_secret");
        config.source = absl::StrCat(config_path, " [", wanted, "]");
      }
    }
  }
  // Environment variables override single keys.
  bool from_env = false;
  if (env_host) config.host = *env_host, from_env = true;
  if (env_token) config.token = *env_token, from_env = true;
  if (env_id) config.client_id = *env_id, from_env = true;
  if (env_secret) config.client_secret = *env_secret, from_env = true;
  if (config.source.empty()) {
    config.source = "environment";
  } else if (from_env) {
    absl::StrAppend(&config.source, " and environment");
  }

  if (config.host.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("no Databricks host configured: set DATABRICKS_HOST (with "
                     "DATABRICKS_TOKEN, or DATABRICKS_CLIENT_ID and "
                     "DATABRICKS_CLIENT_SECRET) or add a profile to ",
                     config_path));
  }
  bool has_oauth = !config.client_id.empty() && !config.client_secret.empty();
  if (config.token.empty() && !has_oauth) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no Databricks credentials in ", config.source,
        ": need a token (DATABRICKS_TOKEN) or client_id and client_secret "
        "(DATABRICKS_CLIENT_ID, DATABRICKS_CLIENT_SECRET)"));
  }
  if (std::optional<std::string> type = env("DATABRICKS_AUTH_TYPE");
      type.has_value()) {
    if (*type == "oauth-m2m") {
      if (!has_oauth) {
        return absl::FailedPreconditionError(
            "DATABRICKS_AUTH_TYPE=oauth-m2m but no client_id/client_secret");
      }
      config.token.clear();
    } else if (*type == "pat") {
      if (config.token.empty()) {
        return absl::FailedPreconditionError(
            "DATABRICKS_AUTH_TYPE=pat but no token is configured");
      }
      config.client_id.clear();
      config.client_secret.clear();
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "DATABRICKS_AUTH_TYPE must be 'pat' or 'oauth-m2m', got '", *type,
          "'"));
    }
  }
  auto host = NormalizeHost(config.host, config.source);
  if (!host.ok()) return host.status();
  config.host = *host;
  return config;
}

std::string DescribeDatabricksAuth(const DatabricksAuthConfig& config) {
  return absl::StrCat(config.token.empty() ? "OAuth M2M" : "PAT", " for ",
                      config.host, " (from ", config.source, ")");
}

DatabricksCredentials::DatabricksCredentials(DatabricksAuthConfig config,
                                             HttpTransport* transport,
                                             RetryOptions retry)
    : config_(std::move(config)), transport_(transport), retry_(retry) {}

absl::StatusOr<std::string> DatabricksCredentials::AuthorizationHeader() {
  if (!config_.token.empty()) return absl::StrCat("Bearer ", config_.token);
  absl::MutexLock lock(&mu_);
  if (!oauth_token_.empty() &&
      absl::Now() + absl::Seconds(40) < oauth_expiry_) {
    return absl::StrCat("Bearer ", oauth_token_);
  }
  HttpRequest request;
  request.method = "POST";
  request.url = absl::StrCat(config_.host, "/oidc/v1/token");
  request.headers = {
      {"Content-Type", "application/x-www-form-urlencoded"},
      {"Authorization", absl::StrCat("Basic ", absl::Base64Escape(absl::StrCat(
                                                   config_.client_id, ":",
                                                   config_.client_secret)))}};
  request.body = "grant_type=client_credentials&scope=all-apis";
  request.timeout_s = 60;
  absl::Time asked = absl::Now();
  // The exchange has no side effects, so retrying it is safe.
  absl::StatusOr<HttpResponse> response =
      SendWithRetry(*transport_, request, retry_);
  if (!response.ok()) return response.status();
  if (response->status / 100 != 2) {
    absl::Status status = StatusFromHttpResponse(request, *response);
    if (response->status == 400 || response->status == 401 ||
        response->status == 403) {
      return absl::UnauthenticatedError(absl::StrCat(
          "OAuth client credentials were rejected: ", status.message()));
    }
    return status;
  }
  auto doc = ParseJson(response->body, "OAuth token response");
  if (!doc.ok()) return doc.status();
  auto token = doc->FindMember("access_token");
  if (!doc->IsObject() || token == doc->MemberEnd() ||
      !token->value.IsString() || token->value.GetStringLength() == 0) {
    return absl::UnavailableError(
        absl::StrCat(request.url, " answered without an access_token"));
  }
  double expires_in = 3600;
  auto expires = doc->FindMember("expires_in");
  if (expires != doc->MemberEnd() && expires->value.IsNumber()) {
    expires_in = expires->value.GetDouble();
  }
  oauth_token_ = token->value.GetString();
  oauth_expiry_ = asked + absl::Seconds(expires_in);
  return absl::StrCat("Bearer ", oauth_token_);
}

bool DatabricksCredentials::InvalidateToken() {
  if (!config_.token.empty()) return false;
  absl::MutexLock lock(&mu_);
  oauth_token_.clear();
  oauth_expiry_ = absl::InfinitePast();
  return true;
}

}  // namespace cvt
