#include "libs/http/curl_transport.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "curl/curl.h"
#include "libs/base/file_io.h"

namespace cvt {
namespace {

void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// Where the request body comes from: a string or a file range.
struct BodySource {
  const std::string* text = nullptr;
  int fd = -1;
  int64_t offset = 0;
  int64_t remaining = 0;
  size_t text_offset = 0;
  int read_errno = 0;
};

size_t ReadBody(char* buffer, size_t size, size_t count, void* user) {
  auto* source = static_cast<BodySource*>(user);
  size_t want = size * count;
  if (source->text != nullptr) {
    size_t n = std::min(want, source->text->size() - source->text_offset);
    memcpy(buffer, source->text->data() + source->text_offset, n);
    source->text_offset += n;
    return n;
  }
  if (source->remaining <= 0) return 0;
  size_t n = static_cast<size_t>(
      std::min<int64_t>(static_cast<int64_t>(want), source->remaining));
  while (true) {
    ssize_t got = pread(source->fd, buffer, n, source->offset);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      source->read_errno = errno;
      return CURL_READFUNC_ABORT;
    }
    if (got == 0) {
      // The file shrank under us; the server would wait for the missing
      // bytes forever.
      source->read_errno = EIO;
      return CURL_READFUNC_ABORT;
    }
    source->remaining -= got;
    source->offset += got;
    return static_cast<size_t>(got);
  }
}

struct ResponseState {
  HttpResponse* response;
  const HttpRequest* request;
  CURL* curl;
  bool sink_stopped = false;
};

size_t WriteBody(char* data, size_t size, size_t count, void* user) {
  auto* state = static_cast<ResponseState*>(user);
  size_t n = size * count;
  long status = 0;
  curl_easy_getinfo(state->curl, CURLINFO_RESPONSE_CODE, &status);
  if (state->request->response_sink && status / 100 == 2) {
    if (!state->request->response_sink(absl::string_view(data, n))) {
      state->sink_stopped = true;
      return 0;  // Makes curl fail with CURLE_WRITE_ERROR.
    }
    return n;
  }
  state->response->body.append(data, n);
  return n;
}

size_t WriteHeader(char* data, size_t size, size_t count, void* user) {
  auto* state = static_cast<ResponseState*>(user);
  size_t n = size * count;
  absl::string_view line(data, n);
  line = absl::StripTrailingAsciiWhitespace(line);
  if (absl::StartsWith(line, "HTTP/")) {
    // A new response (after a 100 Continue, say): start over.
    state->response->headers.clear();
    return n;
  }
  size_t colon = line.find(':');
  if (colon != absl::string_view::npos) {
    state->response->headers.emplace_back(
        std::string(absl::StripAsciiWhitespace(line.substr(0, colon))),
        std::string(absl::StripAsciiWhitespace(line.substr(colon + 1))));
  }
  return n;
}

int DebugTrace(CURL*, curl_infotype type, char* data, size_t size, void*) {
  if (type != CURLINFO_HEADER_OUT && type != CURLINFO_HEADER_IN) return 0;
  absl::string_view text(data, size);
  const char* arrow = type == CURLINFO_HEADER_OUT ? "> " : "< ";
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripTrailingAsciiWhitespace(line);
    if (line.empty()) continue;
    size_t colon = line.find(':');
    std::string shown =
        colon == absl::string_view::npos
            ? std::string(line)
            : RedactHeaderForLog(
                  line.substr(0, colon),
                  absl::StripAsciiWhitespace(line.substr(colon + 1)));
    fprintf(stderr, "%s%s\n", arrow, shown.c_str());
  }
  return 0;
}

// The URL without its query string, for error messages (query strings can
// carry signed-URL credentials).
std::string UrlForMessage(const std::string& url) {
  return std::string(url.substr(0, url.find('?')));
}

}  // namespace

CurlTransport::CurlTransport(CurlTransportOptions options)
    : options_(std::move(options)) {
  GlobalInitOnce();
}

CurlTransport::~CurlTransport() {
  absl::MutexLock lock(&mu_);
  for (void* handle : idle_) curl_easy_cleanup(static_cast<CURL*>(handle));
}

void* CurlTransport::Borrow() {
  {
    absl::MutexLock lock(&mu_);
    if (!idle_.empty()) {
      void* handle = idle_.back();
      idle_.pop_back();
      return handle;
    }
  }
  return curl_easy_init();
}

void CurlTransport::Return(void* handle) {
  absl::MutexLock lock(&mu_);
  idle_.push_back(handle);
}

absl::StatusOr<HttpResponse> CurlTransport::Send(const HttpRequest& request) {
  BodySource body;
  bool has_body = !request.body_file.empty() || request.body_fd >= 0 ||
                  !request.body.empty() || request.method == "PUT" ||
                  request.method == "POST";
  int64_t body_size = 0;
  bool owns_fd = false;
  const std::string body_name = request.body_file.empty()
                                    ? std::string("request body")
                                    : request.body_file;
  if (!request.body_file.empty() || request.body_fd >= 0) {
    if (request.body_fd >= 0) {
      body.fd = request.body_fd;
    } else {
      body.fd = open(request.body_file.c_str(), O_RDONLY | O_CLOEXEC);
      if (body.fd < 0) return ErrnoStatus(errno, "open", request.body_file);
      owns_fd = true;
    }
    struct stat st;
    if (fstat(body.fd, &st) != 0) {
      int saved = errno;
      if (owns_fd) close(body.fd);
      return ErrnoStatus(saved, "stat", body_name);
    }
    body_size = request.body_length >= 0 ? request.body_length
                                         : st.st_size - request.body_offset;
    if (request.body_offset < 0 || body_size < 0 ||
        request.body_offset + body_size > st.st_size) {
      if (owns_fd) close(body.fd);
      return absl::OutOfRangeError(absl::StrCat(
          "body range ", request.body_offset, "+", body_size,
          " is outside the ", st.st_size, "-byte file ", body_name));
    }
    body.offset = request.body_offset;
    body.remaining = body_size;
  } else {
    body.text = &request.body;
    body_size = static_cast<int64_t>(request.body.size());
  }

  CURL* curl = static_cast<CURL*>(Borrow());
  if (curl == nullptr) {
    if (owns_fd) close(body.fd);
    return absl::InternalError("curl_easy_init failed");
  }
  curl_easy_reset(curl);  // Keeps the connection cache.

  HttpResponse response;
  ResponseState state{&response, &request, curl};
  char error_buffer[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options_.ca_bundle.empty()) {
    curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_bundle.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout_s * 1000));
  if (request.timeout_s > 0) {
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(request.timeout_s * 1000));
  }
  if (request.low_speed_timeout_s > 0) {
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                     static_cast<long>(request.low_speed_timeout_s));
  }
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &state);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, WriteHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &state);
  if (options_.verbose) {
    curl_easy_setopt(curl, CURLOPT_DEBUGFUNCTION, DebugTrace);
    curl_easy_setopt(curl, CURLOPT_VERBOSE, 1L);
  }

  if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (has_body && request.method != "GET") {
    // Streams the body through ReadBody for every method; POST and PUT alike
    // send Content-Length, never chunked encoding.
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, ReadBody);
    curl_easy_setopt(curl, CURLOPT_READDATA, &body);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE,
                     static_cast<curl_off_t>(body_size));
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  } else if (request.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  struct curl_slist* headers = nullptr;
  for (const auto& [name, value] : request.headers) {
    headers =
        curl_slist_append(headers, absl::StrCat(name, ": ", value).c_str());
  }
  // No "Expect: 100-continue" round trip before bodies.
  headers = curl_slist_append(headers, "Expect:");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

  CURLcode code = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(headers);
  if (owns_fd) close(body.fd);
  Return(curl);

  if (code != CURLE_OK) {
    std::string detail = error_buffer[0] != '\0' ? std::string(error_buffer)
                                                 : curl_easy_strerror(code);
    std::string what = absl::StrCat(request.method, " ",
                                    UrlForMessage(request.url), ": ", detail);
    if (body.read_errno != 0) {
      return ErrnoStatus(body.read_errno, "read", body_name);
    }
    if (state.sink_stopped) {
      return absl::AbortedError(absl::StrCat(what, " (stopped by the reader)"));
    }
    switch (code) {
      case CURLE_OPERATION_TIMEDOUT:
        return absl::DeadlineExceededError(what);
      case CURLE_COULDNT_RESOLVE_HOST:
      case CURLE_COULDNT_RESOLVE_PROXY:
      case CURLE_COULDNT_CONNECT:
        return MarkRequestNotSent(absl::UnavailableError(what));
      case CURLE_URL_MALFORMAT:
      case CURLE_UNSUPPORTED_PROTOCOL:
        return absl::InvalidArgumentError(what);
      case CURLE_PEER_FAILED_VERIFICATION:
      case CURLE_SSL_CACERT_BADFILE:
        return absl::FailedPreconditionError(
            absl::StrCat(what, " (TLS verification failed)"));
      default:
        return absl::UnavailableError(what);
    }
  }
  response.status = static_cast<int>(status);
  return response;
}

}  // namespace cvt
