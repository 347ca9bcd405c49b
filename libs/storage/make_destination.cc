#include "libs/storage/make_destination.h"

#include <sys/stat.h>

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "libs/base/status_macros.h"
#include "libs/databricks/databricks_auth.h"
#include "libs/http/curl_transport.h"
#include "libs/http/rest_client.h"
#include "libs/http/retry.h"
#include "libs/storage/dbfs_destination.h"
#include "libs/storage/files_api_destination.h"
#include "libs/storage/local_destination.h"

namespace cvt {
namespace {

// Owns the HTTP stack under a remote destination and forwards to it.
template <typename Remote>
class RemoteDestination : public Destination {
 public:
  RemoteDestination(const std::string& path, DatabricksAuthConfig auth,
                    CurlTransportOptions transport, RetryOptions retry)
      : transport_(std::move(transport)),
        credentials_(std::move(auth), &transport_, retry),
        client_(credentials_.config().host, &credentials_, &transport_, retry),
        inner_(path, &client_) {}

  std::string Describe() const override { return inner_.Describe(); }
  absl::Status Open(bool dry_run) override { return inner_.Open(dry_run); }
  absl::StatusOr<absl::btree_map<std::string, DestinationFile>> ListFiles()
      override {
    return inner_.ListFiles();
  }
  absl::StatusOr<std::string> ReadSmallFile(const std::string& p) override {
    return inner_.ReadSmallFile(p);
  }
  absl::Status WriteSmallFile(const std::string& p,
                              absl::string_view c) override {
    return inner_.WriteSmallFile(p, c);
  }
  absl::StatusOr<StagedFile> Stage(const SourceFile& s,
                                   const std::string& p) override {
    return inner_.Stage(s, p);
  }
  absl::Status Commit(const std::vector<StagedFile>& b) override {
    return inner_.Commit(b);
  }
  absl::Status Delete(const std::string& p) override {
    return inner_.Delete(p);
  }
  absl::StatusOr<std::string> HashFile(const std::string& p) override {
    return inner_.HashFile(p);
  }
  absl::Status Flush() override { return inner_.Flush(); }

 private:
  CurlTransport transport_;
  DatabricksCredentials credentials_;
  RestClient client_;
  Remote inner_;
};

bool IsDirectory(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

absl::StatusOr<DestinationTransport> ParseDestinationTransport(
    absl::string_view text) {
  if (text == "auto") return DestinationTransport::kAuto;
  if (text == "local") return DestinationTransport::kLocal;
  if (text == "files_api") return DestinationTransport::kFilesApi;
  if (text == "dbfs_api") return DestinationTransport::kDbfsApi;
  return absl::InvalidArgumentError(absl::StrCat(
      "--transport must be auto, local, files_api or dbfs_api, not '", text,
      "'"));
}

absl::StatusOr<std::unique_ptr<Destination>> MakeDestination(
    const std::string& dst, const DestinationOptions& options) {
  bool is_dbfs = absl::StartsWith(dst, "dbfs:");
  bool is_volume = absl::StartsWith(dst, "/Volumes/");
  DestinationTransport transport = options.transport;
  switch (transport) {
    case DestinationTransport::kAuto:
      if (is_dbfs) {
        transport = DestinationTransport::kDbfsApi;
      } else if (is_volume && !IsDirectory(options.volumes_mount)) {
        transport = DestinationTransport::kFilesApi;
      } else {
        transport = DestinationTransport::kLocal;
      }
      break;
    case DestinationTransport::kLocal:
    case DestinationTransport::kFilesApi:
    case DestinationTransport::kDbfsApi:
      break;
  }
  if (transport == DestinationTransport::kLocal) {
    // dbfs:/x through the cluster's FUSE mount is /dbfs/x.
    std::string path = is_dbfs ? absl::StrCat("/dbfs", dst.substr(5)) : dst;
    return std::unique_ptr<Destination>(new LocalDestination(path));
  }
  if (transport == DestinationTransport::kFilesApi && !is_volume) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--transport files_api needs a /Volumes/... destination, not '", dst,
        "'"));
  }
  CVT_ASSIGN_OR_RETURN(DatabricksAuthConfig auth,
                       ResolveDatabricksAuth(options.profile, SystemEnv()));
  LOG(INFO) << "Databricks: " << DescribeDatabricksAuth(auth);
  CVT_ASSIGN_OR_RETURN(RetryOptions retry, RetryOptionsFromEnv());
  CurlTransportOptions curl;
  curl.ca_bundle = options.ca_bundle;
  curl.verbose = options.verbose_http;
  if (transport == DestinationTransport::kFilesApi) {
    return std::unique_ptr<Destination>(
        new RemoteDestination<FilesApiDestination>(dst, std::move(auth), curl,
                                                   retry));
  }
  std::string path = is_dbfs ? dst.substr(5) : dst;
  return std::unique_ptr<Destination>(new RemoteDestination<DbfsDestination>(
      path, std::move(auth), curl, retry));
}

}  // namespace cvt
