// -----------------------------------------------------------------------------
// File: make_destination.h
// -----------------------------------------------------------------------------
//
// Turns volume_sync's --dst into a `Destination`:
//
//   dbfs:/path            DBFS API (auto), or local /dbfs/path with --transport
//   local /Volumes/c/s/v/...    the FUSE mount when /Volumes exists on this
//   machine
//                         (a Databricks cluster), else the Files API
//   anything else         a local folder
//
// Remote destinations resolve credentials with `ResolveDatabricksAuth`
// (databricks_auth.h) and own their HTTP transport and client.
//
// Example:
//
//   CVT_ASSIGN_OR_RETURN(std::unique_ptr<Destination> dst,
//                        MakeDestination("/Volumes/main/cv/ckpt/run", {}));

#ifndef LIBS_STORAGE_MAKE_DESTINATION_H_
#define LIBS_STORAGE_MAKE_DESTINATION_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "libs/storage/destination.h"

namespace cvt {

enum class DestinationTransport {
  kAuto,
  kLocal,
  kFilesApi,
  kDbfsApi,
};

// "auto", "local", "files_api", "dbfs_api". InvalidArgument otherwise.
absl::StatusOr<DestinationTransport> ParseDestinationTransport(
    absl::string_view text);

struct DestinationOptions {
  DestinationTransport transport = DestinationTransport::kAuto;
  // Databricks config profile; empty uses DATABRICKS_CONFIG_PROFILE or the
  // environment. Default: "".
  std::string profile;
  // CA bundle for HTTPS; empty uses the system store. Default: "".
  std::string ca_bundle;
  // Trace HTTP (credentials redacted). Default: false.
  bool verbose_http = false;
  // Expected parallel transfers (sizes the connection pool). Default: 4.
  int threads = 4;
  // For tests: where "/Volumes" would be mounted. Default: "/Volumes".
  std::string volumes_mount = "/Volumes";
};

// Errors: InvalidArgument for a destination that does not fit the transport
// (a Files API destination outside /Volumes), FailedPrecondition when
// Databricks credentials are missing (naming what was consulted), and the
// errors of `ResolveDatabricksAuth` / `RetryOptionsFromEnv`.
absl::StatusOr<std::unique_ptr<Destination>> MakeDestination(
    const std::string& dst, const DestinationOptions& options);

}  // namespace cvt

#endif  // LIBS_STORAGE_MAKE_DESTINATION_H_
