// -----------------------------------------------------------------------------
// File: curl_transport.h
// -----------------------------------------------------------------------------
//
// `HttpTransport` over libcurl. Connections are kept alive and reused: each
// call borrows an easy handle from a small pool, so N threads keep up to N
// connections open. TLS peer and host verification are always on; a CA bundle
// can be named for private CAs. With `verbose`, each request and response
// line and header is logged with credentials redacted
// (`RedactHeaderForLog`); bodies are never logged.
//
// Example:
//
//   CurlTransport transport(CurlTransportOptions{.ca_bundle = "/etc/ca.pem"});
//   CVT_ASSIGN_OR_RETURN(HttpResponse r, transport.Send(request));
//
// Thread safety: `Send` may be called concurrently.

#ifndef LIBS_HTTP_CURL_TRANSPORT_H_
#define LIBS_HTTP_CURL_TRANSPORT_H_

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "libs/http/http_transport.h"

namespace cvt {

struct CurlTransportOptions {
  // PEM file of trusted CAs; empty uses the system store. Default: "".
  std::string ca_bundle;
  // Log request/response lines and headers (redacted) to stderr.
  // Default: false.
  bool verbose = false;
  // Seconds allowed to establish a connection. Default: 30.
  double connect_timeout_s = 30;
};

class CurlTransport : public HttpTransport {
 public:
  explicit CurlTransport(CurlTransportOptions options = {});
  ~CurlTransport() override;
  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  absl::StatusOr<HttpResponse> Send(const HttpRequest& request) override;

 private:
  void* Borrow();
  void Return(void* handle);

  const CurlTransportOptions options_;
  absl::Mutex mu_;
  std::vector<void*> idle_ ABSL_GUARDED_BY(mu_);  // CURL* handles.
};

}  // namespace cvt

#endif  // LIBS_HTTP_CURL_TRANSPORT_H_
