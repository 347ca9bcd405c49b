// -----------------------------------------------------------------------------
// File: sha256.h
// -----------------------------------------------------------------------------
//
// SHA-256 (FIPS 180-4) content hashes. coco_prep names its output by a hash of
// every file it wrote; volume_sync records one per synced file in its manifest
// and verifies copies with it. Backed by OpenSSL's libcrypto, which uses the
// CPU's SHA extensions where present (about 1.7 GB/s on the CI machine,
// several times a portable implementation), so hashing while copying costs
// little next to the I/O.
//
// Example:
//
//   Sha256 hash;
//   hash.Update(bytes);
//   std::string hex = hash.HexDigest();  // 64 lowercase hex digits
//
// Thread safety: one object per thread.

#ifndef LIBS_BASE_SHA256_H_
#define LIBS_BASE_SHA256_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cvt {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&& other) noexcept;
  Sha256& operator=(Sha256&& other) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(absl::string_view data);

  // Finishes the hash and returns the digest as lowercase hex. The object
  // must not be updated afterwards.
  std::string HexDigest();

 private:
  void* ctx_;  // EVP_MD_CTX*, kept opaque so callers don't include OpenSSL.
};

// SHA-256 of `data` as lowercase hex.
std::string Sha256Hex(absl::string_view data);

// SHA-256 of the file at `path`, read in 1 MiB blocks. Errors: NotFound,
// PermissionDenied or Internal from the OS, naming `path`.
absl::StatusOr<std::string> Sha256OfFile(const std::string& path);

// True if `hex` is 64 lowercase hex digits.
bool IsSha256Hex(absl::string_view hex);

}  // namespace cvt

#endif  // LIBS_BASE_SHA256_H_
