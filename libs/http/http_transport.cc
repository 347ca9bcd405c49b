#include "libs/http/http_transport.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace cvt {
namespace {

constexpr char kNotSentPayload[] = "type.cvtools/http.request_not_sent";

bool IsUnreserved(unsigned char c) {
  return absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

std::string PercentEncode(absl::string_view text, bool keep_slash) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (IsUnreserved(c) || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppendFormat(&out, "%%%02X", c);
    }
  }
  return out;
}

}  // namespace

std::string FindHeader(const HttpHeaders& headers, absl::string_view name) {
  for (const auto& [key, value] : headers) {
    if (absl::EqualsIgnoreCase(key, name)) return value;
  }
  return "";
}

absl::Status MarkRequestNotSent(absl::Status status) {
  status.SetPayload(kNotSentPayload, absl::Cord("1"));
  return status;
}

bool RequestNotSent(const absl::Status& status) {
  return status.GetPayload(kNotSentPayload).has_value();
}

std::string RedactHeaderForLog(absl::string_view name,
                               absl::string_view value) {
  if (absl::EqualsIgnoreCase(name, "Authorization") ||
      absl::EqualsIgnoreCase(name, "Proxy-Authorization") ||
      absl::EqualsIgnoreCase(name, "Cookie") ||
      absl::EqualsIgnoreCase(name, "Set-Cookie")) {
    // Keep the scheme ("Bearer", "Basic") so traces stay useful.
    size_t space = value.find(' ');
    if (space != absl::string_view::npos &&
        (absl::EqualsIgnoreCase(name, "Authorization") ||
         absl::EqualsIgnoreCase(name, "Proxy-Authorization"))) {
      return absl::StrCat(name, ": ", value.substr(0, space), " ***");
    }
    return absl::StrCat(name, ": ***");
  }
  return absl::StrCat(name, ": ", value);
}

std::string PercentEncodePath(absl::string_view path) {
  return PercentEncode(path, /*keep_slash=*/true);
}

std::string PercentEncodeQueryValue(absl::string_view value) {
  return PercentEncode(value, /*keep_slash=*/false);
}

}  // namespace cvt
