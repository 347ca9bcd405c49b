#include "libs/tracking/mlflow_rest_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "libs/base/file_io.h"
#include "libs/base/json.h"
#include "libs/base/status.h"
#include "libs/base/status_macros.h"
#include "libs/http/http_status.h"
#include "rapidjson/document.h"

namespace cvt {
namespace {

constexpr char kApi[] = "/api/2.0/mlflow/";

void WriteMetricValue(JsonWriter& json, double value) {
  if (std::isnan(value)) {
    json.String("NaN");
  } else if (std::isinf(value)) {
    json.String(value > 0 ? "Infinity" : "-Infinity");
  } else {
    json.Double(value);
  }
}

void WriteKeyValues(JsonWriter& json, const char* name, const KeyValues& kvs) {
  json.Key(name);
  json.StartArray();
  for (const auto& [key, value] : kvs) {
    json.StartObject();
    json.Key("key");
    json.String(key);
    json.Key("value");
    json.String(value);
    json.EndObject();
  }
  json.EndArray();
}

std::string StringMember(const rapidjson::Value& o, const char* key) {
  if (!o.IsObject()) return "";
  auto it = o.FindMember(key);
  return it != o.MemberEnd() && it->value.IsString() ? it->value.GetString()
                                                     : "";
}

// int64 fields come as numbers from OSS and as strings from some servers.
int64_t Int64Member(const rapidjson::Value& o, const char* key) {
  if (!o.IsObject()) return 0;
  auto it = o.FindMember(key);
  if (it == o.MemberEnd()) return 0;
  if (it->value.IsInt64()) return it->value.GetInt64();
  if (it->value.IsNumber()) return static_cast<int64_t>(it->value.GetDouble());
  int64_t v = 0;
  if (it->value.IsString() && absl::SimpleAtoi(it->value.GetString(), &v)) {
    return v;
  }
  return 0;
}

double MetricValue(const rapidjson::Value& v) {
  if (v.IsNumber()) return v.GetDouble();
  if (v.IsString()) {
    absl::string_view s = v.GetString();
    if (s == "NaN") return std::nan("");
    if (s == "Infinity") return HUGE_VAL;
    if (s == "-Infinity") return -HUGE_VAL;
  }
  return std::nan("");
}

TrackedRun RunFromJson(const rapidjson::Value& run) {
  TrackedRun out;
  const rapidjson::Value* info = &run;
  if (run.IsObject() && run.HasMember("info")) info = &run["info"];
  out.run_id = StringMember(*info, "run_id");
  if (out.run_id.empty()) out.run_id = StringMember(*info, "run_uuid");
  out.experiment_id = StringMember(*info, "experiment_id");
  out.status = StringMember(*info, "status");
  out.artifact_uri = StringMember(*info, "artifact_uri");
  out.lifecycle_stage = StringMember(*info, "lifecycle_stage");
  out.start_time_ms = Int64Member(*info, "start_time");
  out.end_time_ms = Int64Member(*info, "end_time");
  if (run.IsObject() && run.HasMember("data") && run["data"].IsObject()) {
    const rapidjson::Value& data = run["data"];
    auto read_pairs = [&](const char* name,
                          std::map<std::string, std::string>* out_map) {
      auto it = data.FindMember(name);
      if (it == data.MemberEnd() || !it->value.IsArray()) return;
      for (const auto& kv : it->value.GetArray()) {
        (*out_map)[StringMember(kv, "key")] = StringMember(kv, "value");
      }
    };
    read_pairs("params", &out.params);
    read_pairs("tags", &out.tags);
    auto metrics = data.FindMember("metrics");
    if (metrics != data.MemberEnd() && metrics->value.IsArray()) {
      for (const auto& m : metrics->value.GetArray()) {
        MetricPoint point;
        point.name = StringMember(m, "key");
        auto value = m.FindMember("value");
        point.value =
            value != m.MemberEnd() ? MetricValue(value->value) : std::nan("");
        point.step = Int64Member(m, "step");
        point.timestamp_ms = Int64Member(m, "timestamp");
        out.latest_metrics[point.name] = point;
      }
    }
  }
  return out;
}

// Single-quoted literal for a runs/search filter.
std::string FilterLiteral(const std::string& value) {
  return absl::StrCat("'", absl::StrReplaceAll(value, {{"'", "\\'"}}), "'");
}

absl::StatusOr<int64_t> LocalFileSize(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return ErrnoStatus(errno, "stat", path);
  return static_cast<int64_t>(st.st_size);
}

std::string Dirname(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

std::string Basename(const std::string& path) {
  return path.substr(path.find_last_of('/') + 1);
}

}  // namespace

absl::Status CheckArtifactPath(const std::string& path) {
  if (path.empty() || path.front() == '/' ||
      path.find('\\') != std::string::npos ||
      path.find('#') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad artifact path '", path, "'"));
  }
  for (absl::string_view segment : absl::StrSplit(path, '/')) {
    if (segment.empty() || segment == "." || segment == "..") {
      return absl::InvalidArgumentError(
          absl::StrCat("bad artifact path '", path, "'"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<TrackedRun> ParseMlflowRun(const std::string& json,
                                          const std::string& source) {
  CVT_ASSIGN_OR_RETURN(rapidjson::Document doc, ParseJson(json, source));
  if (doc.IsObject() && doc.HasMember("run")) return RunFromJson(doc["run"]);
  if (doc.IsObject() && doc.HasMember("run_info")) {
    return RunFromJson(doc["run_info"]);
  }
  return absl::UnavailableError(absl::StrCat(source, " has no run"));
}

MlflowRestStore::MlflowRestStore(RestClient* client, HttpTransport* transport,
                                 MlflowRestStoreOptions options)
    : client_(client), transport_(transport), options_(std::move(options)) {}

absl::StatusOr<std::string> MlflowRestStore::ExperimentName(
    const std::string& name) const {
  if (!options_.databricks) return name;
  std::string clean = name;
  if (absl::StartsWith(clean, "/Workspace/")) clean = clean.substr(10);
  while (absl::StrContains(clean, "//")) {
    clean = absl::StrReplaceAll(clean, {{"//", "/"}});
  }
  if (clean.empty() || clean.front() != '/') {
    return absl::InvalidArgumentError(absl::StrCat(
        "--experiment '", name,
        "': Databricks experiment names are absolute workspace paths, e.g. "
        "/Shared/cv/bccd or /Users/<you>/bccd"));
  }
  return clean;
}

absl::StatusOr<std::string> MlflowRestStore::GetOrCreateExperiment(
    const std::string& requested) {
  CVT_ASSIGN_OR_RETURN(std::string name, ExperimentName(requested));
  for (int attempt = 0; attempt < 3; ++attempt) {
    absl::StatusOr<rapidjson::Document> found =
        client_->GetJson(absl::StrCat(kApi, "experiments/get-by-name"),
                         {{"experiment_name", name}});
    if (found.ok()) {
      const rapidjson::Value& e = (*found)["experiment"];
      if (StringMember(e, "lifecycle_stage") == "deleted") {
        return absl::FailedPreconditionError(absl::StrCat(
            "experiment '", name, "' (id ", StringMember(e, "experiment_id"),
            ") is deleted: restore it or pick another --experiment"));
      }
      return StringMember(e, "experiment_id");
    }
    if (found.status().code() != absl::StatusCode::kNotFound) {
      return found.status();
    }
    JsonWriter body;
    body.StartObject();
    body.Key("name");
    body.String(name);
    body.EndObject();
    absl::StatusOr<rapidjson::Document> created =
        client_->PostJson(absl::StrCat(kApi, "experiments/create"),
                          *body.Finish(), Idempotency::kNotIdempotent);
    if (created.ok()) return StringMember(*created, "experiment_id");
    if (created.status().code() == absl::StatusCode::kAlreadyExists) {
      continue;  // Another pusher won the race: read it again.
    }
    if (options_.databricks &&
        created.status().code() == absl::StatusCode::kNotFound) {
      // The parent folder is missing: create it, then try again.
      JsonWriter mkdirs;
      mkdirs.StartObject();
      mkdirs.Key("path");
      mkdirs.String(Dirname(name));
      mkdirs.EndObject();
      CVT_RETURN_IF_ERROR(
          client_->PostJson("/api/2.0/workspace/mkdirs", *mkdirs.Finish())
              .status());
      continue;
    }
    return created.status();
  }
  return absl::AbortedError(
      absl::StrCat("experiment '", name, "' could not be created or found"));
}

absl::StatusOr<std::vector<TrackedRun>> MlflowRestStore::FindRunsByTag(
    const std::string& experiment_id, const std::string& key,
    const std::string& value) {
  std::vector<TrackedRun> runs;
  std::string page_token;
  do {
    JsonWriter body;
    body.StartObject();
    body.Key("experiment_ids");
    body.StartArray();
    body.String(experiment_id);
    body.EndArray();
    body.Key("filter");
    body.String(absl::StrCat("tags.`", key, "` = ", FilterLiteral(value)));
    body.Key("run_view_type");
    body.String("ACTIVE_ONLY");
    body.Key("max_results");
    body.Int(1000);
    body.Key("order_by");
    body.StartArray();
    body.String("attributes.start_time ASC");
    body.EndArray();
    if (!page_token.empty()) {
      body.Key("page_token");
      body.String(page_token);
    }
    body.EndObject();
    CVT_ASSIGN_OR_RETURN(
        rapidjson::Document found,
        client_->PostJson(absl::StrCat(kApi, "runs/search"), *body.Finish()));
    auto list = found.FindMember("runs");
    if (list != found.MemberEnd() && list->value.IsArray()) {
      for (const auto& run : list->value.GetArray()) {
        runs.push_back(RunFromJson(run));
      }
    }
    page_token = StringMember(found, "next_page_token");
  } while (!page_token.empty());
  return runs;
}

absl::StatusOr<TrackedRun> MlflowRestStore::CreateRun(
    const std::string& experiment_id, const std::string& run_name,
    int64_t start_time_ms, const KeyValues& tags) {
  JsonWriter body;
  body.StartObject();
  body.Key("experiment_id");
  body.String(experiment_id);
  if (!run_name.empty()) {
    body.Key("run_name");
    body.String(run_name);
  }
  body.Key("start_time");
  body.Int(start_time_ms);
  WriteKeyValues(body, "tags", tags);
  body.EndObject();
  // Not retried after an ambiguous failure: the caller searches by its key
  // tag before creating again (no ghost runs).
  HttpRequest request;
  request.method = "POST";
  request.url = absl::StrCat(kApi, "runs/create");
  request.headers = {{"Content-Type", "application/json"}};
  request.body = *body.Finish();
  CVT_ASSIGN_OR_RETURN(HttpResponse response,
                       client_->Call(request, Idempotency::kNotIdempotent));
  return ParseMlflowRun(response.body, "runs/create response");
}

absl::StatusOr<TrackedRun> MlflowRestStore::GetRun(const std::string& run_id) {
  HttpRequest request;
  request.method = "GET";
  request.url = WithQuery(absl::StrCat(kApi, "runs/get"), {{"run_id", run_id}});
  CVT_ASSIGN_OR_RETURN(HttpResponse response, client_->Call(request));
  CVT_ASSIGN_OR_RETURN(TrackedRun run,
                       ParseMlflowRun(response.body, "runs/get response"));
  if (run.lifecycle_stage == "deleted") {
    return absl::NotFoundError(absl::StrCat("run ", run_id, " was deleted"));
  }
  return run;
}

absl::Status MlflowRestStore::LogBatch(const std::string& run_id,
                                       const std::vector<MetricPoint>& metrics,
                                       const KeyValues& params,
                                       const KeyValues& tags) {
  JsonWriter body;
  body.StartObject();
  body.Key("run_id");
  body.String(run_id);
  body.Key("metrics");
  body.StartArray();
  for (const MetricPoint& m : metrics) {
    body.StartObject();
    body.Key("key");
    body.String(m.name);
    body.Key("value");
    WriteMetricValue(body, m.value);
    body.Key("timestamp");
    body.Int(m.timestamp_ms);
    body.Key("step");
    body.Int(m.step);
    body.EndObject();
  }
  body.EndArray();
  WriteKeyValues(body, "params", params);
  WriteKeyValues(body, "tags", tags);
  body.EndObject();
  // Re-sending a batch is harmless: params with the same value are accepted,
  // tags overwrite, and the SQL store drops exact duplicate metric points.
  return client_->PostJson(absl::StrCat(kApi, "runs/log-batch"), *body.Finish())
      .status();
}

absl::Status MlflowRestStore::UpdateRun(const std::string& run_id,
                                        const std::string& status,
                                        int64_t end_time_ms) {
  JsonWriter body;
  body.StartObject();
  body.Key("run_id");
  body.String(run_id);
  body.Key("status");
  body.String(status);
  if (end_time_ms > 0) {
    body.Key("end_time");
    body.Int(end_time_ms);
  }
  body.EndObject();
  return client_->PostJson(absl::StrCat(kApi, "runs/update"), *body.Finish())
      .status();
}

absl::Status MlflowRestStore::UploadArtifact(const TrackedRun& run,
                                             const std::string& local_path,
                                             const std::string& artifact_path) {
  CVT_RETURN_IF_ERROR(CheckArtifactPath(artifact_path));
  const std::string& uri = run.artifact_uri;
  if (absl::StartsWith(uri, "mlflow-artifacts:")) {
    return UploadThroughProxy(run, local_path, artifact_path);
  }
  if (absl::StartsWith(uri, "dbfs:/databricks/mlflow-tracking/")) {
    return UploadToSignedUrl(run, local_path, artifact_path);
  }
  if (absl::StartsWith(uri, "file:")) {
    return UploadToFile(run, local_path, artifact_path);
  }
  return absl::FailedPreconditionError(
      absl::StrCat("run ", run.run_id, " stores artifacts at '", uri,
                   "', which a REST client cannot write (start the server with "
                   "--serve-artifacts, or use Databricks)"));
}

absl::Status MlflowRestStore::UploadThroughProxy(
    const TrackedRun& run, const std::string& local_path,
    const std::string& artifact_path) {
  // mlflow-artifacts:/<exp>/<run>/artifacts or mlflow-artifacts://host/...
  absl::string_view rest =
      absl::string_view(run.artifact_uri).substr(strlen("mlflow-artifacts:"));
  std::string base = client_->host();
  if (absl::StartsWith(rest, "//")) {
    rest.remove_prefix(2);
    size_t slash = rest.find('/');
    std::string authority(rest.substr(0, slash));
    std::string scheme = absl::StartsWith(base, "https:") ? "https" : "http";
    base = absl::StrCat(scheme, "://", authority);
    rest = slash == absl::string_view::npos ? "" : rest.substr(slash);
  }
  if (base != client_->host()) {
    return absl::UnimplementedError(absl::StrCat(
        "run ", run.run_id, " keeps artifacts on ", base,
        ", not on the tracking server ", client_->host(),
        "; only the tracking server's own artifact proxy is supported"));
  }
  std::string root(absl::StripPrefix(rest, "/"));
  std::string remote = absl::StrCat(root, "/", artifact_path);
  CVT_ASSIGN_OR_RETURN(int64_t size, LocalFileSize(local_path));
  HttpRequest put;
  put.method = "PUT";
  put.url = absl::StrCat("/api/2.0/mlflow-artifacts/artifacts/",
                         PercentEncodePath(remote));
  put.headers = {{"Content-Type", "application/octet-stream"}};
  put.body_file = local_path;
  put.timeout_s = 0;  // Large files: rely on the low-speed limit.
  CVT_RETURN_IF_ERROR(Annotate(client_->Call(put).status(),
                               absl::StrCat("uploading ", local_path)));
  // Verify the stored size.
  std::string dir = Dirname(remote);
  HttpRequest list;
  list.method = "GET";
  list.url = WithQuery("/api/2.0/mlflow-artifacts/artifacts", {{"path", dir}});
  CVT_ASSIGN_OR_RETURN(HttpResponse listed, client_->Call(list));
  CVT_ASSIGN_OR_RETURN(rapidjson::Document doc,
                       ParseJson(listed.body, "artifact listing"));
  std::string name = Basename(remote);
  auto files = doc.FindMember("files");
  if (files != doc.MemberEnd() && files->value.IsArray()) {
    for (const auto& f : files->value.GetArray()) {
      if (StringMember(f, "path") == name ||
          Basename(StringMember(f, "path")) == name) {
        if (Int64Member(f, "file_size") == size) return absl::OkStatus();
        return absl::DataLossError(absl::StrCat(
            "artifact ", artifact_path, " of run ", run.run_id, " is ",
            Int64Member(f, "file_size"), " bytes after uploading ", size));
      }
    }
  }
  return absl::DataLossError(
      absl::StrCat("artifact ", artifact_path, " missing after upload"));
}

absl::Status MlflowRestStore::UploadToSignedUrl(
    const TrackedRun& run, const std::string& local_path,
    const std::string& artifact_path) {
  CVT_ASSIGN_OR_RETURN(int64_t size, LocalFileSize(local_path));
  absl::Status last;
  for (int attempt = 0; attempt < 3; ++attempt) {
    JsonWriter body;
    body.StartObject();
    body.Key("run_id");
    body.String(run.run_id);
    body.Key("path");
    body.StartArray();
    body.String(artifact_path);
    body.EndArray();
    body.EndObject();
    CVT_ASSIGN_OR_RETURN(
        rapidjson::Document creds,
        client_->PostJson(absl::StrCat(kApi, "artifacts/credentials-for-write"),
                          *body.Finish()));
    auto infos = creds.FindMember("credential_infos");
    if (infos == creds.MemberEnd() || !infos->value.IsArray() ||
        infos->value.Empty()) {
      return absl::UnavailableError("credentials-for-write returned nothing");
    }
    const rapidjson::Value& info = infos->value[0];
    std::string type = StringMember(info, "type");
    if (type != "AWS_PRESIGNED_URL" && type != "GCP_SIGNED_URL") {
      return absl::UnimplementedError(
          absl::StrCat("artifact storage credential type ", type,
                       " is not supported yet (AWS and GCP signed URLs are)"));
    }
    HttpRequest put;
    put.method = "PUT";
    put.url = StringMember(info, "signed_uri");
    put.body_file = local_path;
    put.timeout_s = 0;
    auto headers = info.FindMember("headers");
    if (headers != info.MemberEnd() && headers->value.IsArray()) {
      for (const auto& h : headers->value.GetArray()) {
        put.headers.emplace_back(StringMember(h, "name"),
                                 StringMember(h, "value"));
      }
    }
    absl::StatusOr<HttpResponse> response =
        SendWithRetry(*transport_, put, client_->retry());
    if (!response.ok()) return response.status();
    if (response->status == 401 || response->status == 403) {
      // The signed URL expired mid-way: ask for fresh credentials.
      last = StatusFromHttpResponse(put, *response);
      continue;
    }
    if (response->status / 100 != 2) {
      return StatusFromHttpResponse(put, *response);
    }
    // Verify the stored size.
    HttpRequest list;
    list.method = "GET";
    list.url =
        WithQuery(absl::StrCat(kApi, "artifacts/list"),
                  {{"run_id", run.run_id}, {"path", Dirname(artifact_path)}});
    CVT_ASSIGN_OR_RETURN(HttpResponse listed, client_->Call(list));
    CVT_ASSIGN_OR_RETURN(rapidjson::Document doc,
                         ParseJson(listed.body, "artifacts/list"));
    auto files = doc.FindMember("files");
    if (files != doc.MemberEnd() && files->value.IsArray()) {
      for (const auto& f : files->value.GetArray()) {
        if (StringMember(f, "path") == artifact_path) {
          if (Int64Member(f, "file_size") == size) return absl::OkStatus();
          return absl::DataLossError(absl::StrCat(
              "artifact ", artifact_path, " is ", Int64Member(f, "file_size"),
              " bytes after uploading ", size));
        }
      }
    }
    return absl::DataLossError(
        absl::StrCat("artifact ", artifact_path, " missing after upload"));
  }
  return Annotate(last, "signed upload URL kept being refused");
}

absl::Status MlflowRestStore::UploadToFile(const TrackedRun& run,
                                           const std::string& local_path,
                                           const std::string& artifact_path) {
  std::string root(absl::StripPrefix(run.artifact_uri, "file://"));
  root = std::string(absl::StripPrefix(root, "file:"));
  std::string target = absl::StrCat(root, "/", artifact_path);
  CVT_RETURN_IF_ERROR(MakeDirs(Dirname(target)));
  return CopyFileAtomically(local_path, target);
}

}  // namespace cvt
