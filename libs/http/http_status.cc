#include "libs/http/http_status.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "rapidjson/document.h"

namespace cvt {

HttpError ParseHttpError(const HttpResponse& response) {
  HttpError error;
  error.status = response.status;
  rapidjson::Document doc;
  doc.Parse(response.body.data(), response.body.size());
  if (!doc.HasParseError() && doc.IsObject()) {
    auto code = doc.FindMember("error_code");
    if (code != doc.MemberEnd() && code->value.IsString()) {
      error.error_code = code->value.GetString();
    }
    auto message = doc.FindMember("message");
    if (message != doc.MemberEnd() && message->value.IsString()) {
      error.message = message->value.GetString();
    }
    // OAuth token endpoints answer {"error": "...", "error_description"}.
    auto oauth = doc.FindMember("error");
    if (error.error_code.empty() && oauth != doc.MemberEnd() &&
        oauth->value.IsString()) {
      error.error_code = oauth->value.GetString();
      auto description = doc.FindMember("error_description");
      if (description != doc.MemberEnd() && description->value.IsString()) {
        error.message = description->value.GetString();
      }
    }
    return error;
  }
  // Not JSON: keep a printable excerpt of the body.
  std::string excerpt = response.body.substr(0, 200);
  for (char& c : excerpt) {
    if (!absl::ascii_isprint(static_cast<unsigned char>(c))) c = ' ';
  }
  error.message = std::string(absl::StripAsciiWhitespace(excerpt));
  return error;
}

std::string DescribeRequest(const HttpRequest& request) {
  return absl::StrCat(request.method, " ",
                      request.url.substr(0, request.url.find('?')));
}

absl::Status StatusFromHttpResponse(const HttpRequest& request,
                                    const HttpResponse& response) {
  HttpError error = ParseHttpError(response);
  std::string text =
      absl::StrCat(DescribeRequest(request), ": HTTP ", response.status);
  if (!error.error_code.empty()) absl::StrAppend(&text, " ", error.error_code);
  if (!error.message.empty()) absl::StrAppend(&text, ": ", error.message);
  const std::string& code = error.error_code;
  if (code == "RESOURCE_ALREADY_EXISTS" || code == "ALREADY_EXISTS" ||
      response.status == 409) {
    return absl::AlreadyExistsError(text);
  }
  if (code == "RESOURCE_DOES_NOT_EXIST" || code == "NOT_FOUND" ||
      response.status == 404) {
    return absl::NotFoundError(text);
  }
  switch (response.status) {
    case 400:
      return absl::InvalidArgumentError(text);
    case 401:
      return absl::UnauthenticatedError(text);
    case 403:
      return absl::PermissionDeniedError(text);
    case 429:
      return absl::ResourceExhaustedError(text);
    case 408:
    case 500:
    case 502:
    case 503:
    case 504:
      return absl::UnavailableError(text);
    default:
      return absl::UnknownError(text);
  }
}

}  // namespace cvt
