#include "libs/http/rest_client.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "libs/base/json.h"
#include "libs/http/http_status.h"

namespace cvt {

std::string WithQuery(absl::string_view path, const QueryParams& query) {
  std::string out(path);
  char separator = '?';
  for (const auto& [key, value] : query) {
    absl::StrAppend(&out, std::string(1, separator),
                    PercentEncodeQueryValue(key), "=",
                    PercentEncodeQueryValue(value));
    separator = '&';
  }
  return out;
}

RestClient::RestClient(std::string base_url, AuthProvider* auth,
                       HttpTransport* transport, RetryOptions retry)
    : base_url_(std::move(base_url)),
      auth_(auth),
      transport_(transport),
      retry_(retry),
      retry_logger_([](const std::string& line) { LOG(WARNING) << line; }) {}

absl::StatusOr<HttpResponse> RestClient::Call(
    HttpRequest request, Idempotency idempotency,
    const std::function<bool(int)>& accept) {
  request.url = absl::StrCat(host(), request.url);
  RetryHooks hooks;
  hooks.on_retry = retry_logger_;
  hooks.before_attempt = [this](HttpRequest& r) -> absl::Status {
    if (auth_ == nullptr) return absl::OkStatus();
    absl::StatusOr<std::string> header = auth_->AuthorizationHeader();
    if (!header.ok()) return header.status();
    if (header->empty()) return absl::OkStatus();
    bool replaced = false;
    for (auto& [name, value] : r.headers) {
      if (name == "Authorization") value = *header, replaced = true;
    }
    if (!replaced) r.headers.emplace_back("Authorization", *header);
    return absl::OkStatus();
  };
  for (int auth_attempt = 0;; ++auth_attempt) {
    absl::StatusOr<HttpResponse> response =
        SendWithRetry(*transport_, request, retry_, idempotency, hooks);
    if (!response.ok()) return response.status();
    int status = response->status;
    if (status / 100 == 2 || (accept && accept(status))) return response;
    // An expired OAuth token: fetch a new one and try once more. The server
    // rejected the request before acting on it, so this is safe for every
    // call.
    if (status == 401 && auth_attempt == 0 && auth_ != nullptr &&
        auth_->InvalidateToken()) {
      retry_logger_(absl::StrCat(DescribeRequest(request),
                                 ": HTTP 401; refreshing the OAuth token"));
      continue;
    }
    return StatusFromHttpResponse(request, *response);
  }
}

absl::StatusOr<rapidjson::Document> RestClient::GetJson(
    absl::string_view path, const QueryParams& query) {
  HttpRequest request;
  request.method = "GET";
  request.url = WithQuery(path, query);
  absl::StatusOr<HttpResponse> response = Call(std::move(request));
  if (!response.ok()) return response.status();
  if (response->body.empty()) response->body = "{}";
  return ParseJson(response->body, absl::StrCat("response of GET ", path));
}

absl::StatusOr<rapidjson::Document> RestClient::PostJson(
    absl::string_view path, std::string json_body, Idempotency idempotency) {
  HttpRequest request;
  request.method = "POST";
  request.url = std::string(path);
  request.headers = {{"Content-Type", "application/json"}};
  request.body = std::move(json_body);
  absl::StatusOr<HttpResponse> response = Call(std::move(request), idempotency);
  if (!response.ok()) return response.status();
  if (response->body.empty()) response->body = "{}";
  return ParseJson(response->body, absl::StrCat("response of POST ", path));
}

}  // namespace cvt
