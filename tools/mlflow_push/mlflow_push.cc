#include "tools/mlflow_push/mlflow_push.h"

#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "glog/logging.h"
#include "libs/base/json.h"
#include "libs/base/status_macros.h"
#include "libs/base/tool_main.h"
#include "libs/databricks/databricks_auth.h"
#include "libs/http/curl_transport.h"
#include "libs/http/rest_client.h"
#include "libs/http/retry.h"
#include "libs/tracking/mlflow_file_store.h"
#include "libs/tracking/mlflow_rest_store.h"
#include "libs/tracking/run_pusher.h"

namespace cvt {
namespace {

// MLflow's own variables for OSS servers: a bearer token, or basic auth.
class MlflowEnvAuth : public AuthProvider {
 public:
  absl::StatusOr<std::string> AuthorizationHeader() override {
    const char* user = std::getenv("MLFLOW_TRACKING_USERNAME");
    const char* password = std::getenv("MLFLOW_TRACKING_PASSWORD");
    if (user != nullptr && password != nullptr) {
      return absl::StrCat(
          "Basic ", absl::Base64Escape(absl::StrCat(user, ":", password)));
    }
    if (const char* token = std::getenv("MLFLOW_TRACKING_TOKEN");
        token != nullptr && *token) {
      return absl::StrCat("Bearer ", token);
    }
    return std::string();
  }
  bool InvalidateToken() override { return false; }
};

// Everything behind a TrackingStore, owned together.
struct Backend {
  std::unique_ptr<CurlTransport> transport;
  std::unique_ptr<AuthProvider> auth;
  std::unique_ptr<RestClient> client;
  std::unique_ptr<TrackingStore> store;
  bool databricks = false;
};

absl::StatusOr<Backend> MakeBackend(const MlflowPushOptions& options,
                                    std::string uri) {
  Backend backend;
  if (absl::StartsWith(uri, "file:") || (!uri.empty() && uri[0] == '/') ||
      absl::StartsWith(uri, ".")) {
    std::string path(absl::StripPrefix(uri, "file://"));
    path = std::string(absl::StripPrefix(path, "file:"));
    if (path.empty()) path = "./mlruns";
    if (path[0] != '/') path = ResolveUserPath(path);
    if (path[0] != '/') {
      char cwd[4096];
      if (getcwd(cwd, sizeof(cwd)) != nullptr)
        path = absl::StrCat(cwd, "/", path);
    }
    backend.store = std::make_unique<MlflowFileStore>(path);
    return backend;
  }
  CurlTransportOptions curl;
  curl.verbose = options.verbose;
  curl.ca_bundle = options.ca_bundle;
  backend.transport = std::make_unique<CurlTransport>(curl);
  CVT_ASSIGN_OR_RETURN(RetryOptions retry, RetryOptionsFromEnv());
  MlflowRestStoreOptions store_options;
  if (uri == "databricks" || absl::StartsWith(uri, "databricks://")) {
    std::string profile(absl::StripPrefix(uri, "databricks"));
    profile = std::string(absl::StripPrefix(profile, "://"));
    CVT_ASSIGN_OR_RETURN(DatabricksAuthConfig auth,
                         ResolveDatabricksAuth(profile, SystemEnv()));
    LOG(INFO) << "Databricks: " << DescribeDatabricksAuth(auth);
    std::string host = auth.host;
    backend.auth = std::make_unique<DatabricksCredentials>(
        std::move(auth), backend.transport.get(), retry);
    backend.client = std::make_unique<RestClient>(
        host, backend.auth.get(), backend.transport.get(), retry);
    store_options.databricks = true;
    store_options.description = absl::StrCat("databricks (", host, ")");
    backend.databricks = true;
  } else if (absl::StartsWith(uri, "http://") ||
             absl::StartsWith(uri, "https://")) {
    while (absl::EndsWith(uri, "/")) uri.pop_back();
    backend.auth = std::make_unique<MlflowEnvAuth>();
    backend.client = std::make_unique<RestClient>(
        uri, backend.auth.get(), backend.transport.get(), retry);
    store_options.description = uri;
  } else {
    return absl::InvalidArgumentError(
        "--tracking_uri must be file:PATH, http(s)://..., databricks or "
        "databricks://PROFILE, not '" +
        uri + "'");
  }
  backend.store = std::make_unique<MlflowRestStore>(
      backend.client.get(), backend.transport.get(), store_options);
  return backend;
}

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v ? std::string(v) : fallback;
}

absl::Status GetMetrics(TrackingStore& store, const std::string& run_id,
                        std::ostream& out) {
  CVT_ASSIGN_OR_RETURN(TrackedRun run, store.GetRun(run_id));
  JsonWriter json(JsonWriterOptions{NonFinitePolicy::kNull, 0});
  json.StartObject();
  json.Key("run_id");
  json.String(run.run_id);
  json.Key("status");
  json.String(run.status);
  json.Key("metrics");
  json.StartObject();
  for (const auto& [name, point] : run.latest_metrics) {
    json.Key(name);
    json.StartObject();
    json.Key("value");
    json.Double(point.value);
    json.Key("step");
    json.Int(point.step);
    json.Key("timestamp");
    json.Int(point.timestamp_ms);
    json.EndObject();
  }
  json.EndObject();
  json.EndObject();
  CVT_ASSIGN_OR_RETURN(std::string text, json.Finish());
  out << text << std::endl;
  return absl::OkStatus();
}

}  // namespace

absl::Status RunMlflowPush(const MlflowPushOptions& options) {
  std::ostream& out = options.out != nullptr ? *options.out : std::cout;
  std::string uri = options.tracking_uri.empty()
                        ? EnvOr("MLFLOW_TRACKING_URI", "file:./mlruns")
                        : options.tracking_uri;
  if (options.command == "get-metrics") {
    CVT_RETURN_IF_ERROR(RequireFlag(options.run_id, "run_id"));
    CVT_ASSIGN_OR_RETURN(Backend backend, MakeBackend(options, uri));
    return GetMetrics(*backend.store, options.run_id, out);
  }
  if (options.command != "push") {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown subcommand '", options.command,
                     "' (use push, the default, or get-metrics)"));
  }
  CVT_RETURN_IF_ERROR(RequireFlag(options.run_dir, "run_dir"));
  PushOptions push;
  CVT_ASSIGN_OR_RETURN(push.checkpoints,
                       ParseCheckpointPolicy(options.log_checkpoints));
  for (const std::string& tag : options.tags) {
    size_t eq = tag.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--tag must be key=value, not '", tag, "'"));
    }
    push.tags.emplace_back(tag.substr(0, eq), tag.substr(eq + 1));
  }
  if (!(options.interval_s > 0)) {
    return absl::InvalidArgumentError("--interval_s must be > 0");
  }
  CVT_ASSIGN_OR_RETURN(Backend backend, MakeBackend(options, uri));
  push.experiment = options.experiment.empty()
                        ? EnvOr("MLFLOW_EXPERIMENT_NAME", "")
                        : options.experiment;
  if (backend.databricks && push.experiment.empty()) {
    return absl::InvalidArgumentError(
        "--experiment is required with Databricks (an absolute workspace "
        "path such as /Shared/cv/bccd)");
  }
  push.run_name = options.run_name;
  push.parent_run_id = options.parent_run_id;
  push.max_param_length = backend.databricks ? 500 : 6000;
  push.cvtools_version = kCvtoolsVersion;
  push.follow = options.follow;
  push.interval_s = options.interval_s;
  push.stop = options.stop;
  push.log = [](const std::string& line) { LOG(INFO) << line; };
  CVT_ASSIGN_OR_RETURN(PushSummary summary,
                       PushRunDirectory(options.run_dir, *backend.store, push));
  JsonWriter json;
  json.StartObject();
  json.Key("run_id");
  json.String(summary.run_id);
  json.Key("experiment_id");
  json.String(summary.experiment_id);
  json.Key("created");
  json.Bool(summary.created);
  json.Key("metrics");
  json.Int(summary.metrics);
  json.Key("params");
  json.Int(summary.params);
  json.Key("artifacts");
  json.Int(summary.artifacts);
  json.Key("artifact_bytes");
  json.Int(summary.artifact_bytes);
  json.Key("status");
  json.String(summary.status);
  json.Key("tracking_uri");
  json.String(backend.store->Describe());
  json.EndObject();
  CVT_ASSIGN_OR_RETURN(std::string text, json.Finish());
  out << text << std::endl;
  return absl::OkStatus();
}

}  // namespace cvt
