#include "libs/base/sha256.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "absl/strings/escaping.h"
#include "glog/logging.h"
#include "libs/base/file_io.h"
#include "openssl/evp.h"

namespace cvt {
namespace {

EVP_MD_CTX* NewSha256Context() {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  CHECK(ctx != nullptr) << "EVP_MD_CTX_new failed";
  CHECK_EQ(EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr), 1);
  return ctx;
}

}  // namespace

Sha256::Sha256() : ctx_(NewSha256Context()) {}

Sha256::~Sha256() {
  if (ctx_ != nullptr) EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_));
}

Sha256::Sha256(Sha256&& other) noexcept : ctx_(other.ctx_) {
  other.ctx_ = nullptr;
}

Sha256& Sha256::operator=(Sha256&& other) noexcept {
  if (this != &other) {
    if (ctx_ != nullptr) EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_));
    ctx_ = other.ctx_;
    other.ctx_ = nullptr;
  }
  return *this;
}

void Sha256::Update(absl::string_view data) {
  CHECK(ctx_ != nullptr) << "Sha256 used after move";
  CHECK_EQ(EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(),
                            data.size()),
           1);
}

std::string Sha256::HexDigest() {
  CHECK(ctx_ != nullptr) << "Sha256 used after move";
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  CHECK_EQ(EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), digest, &length),
           1);
  return absl::BytesToHexString(absl::string_view(
      reinterpret_cast<const char*>(digest), static_cast<size_t>(length)));
}

std::string Sha256Hex(absl::string_view data) {
  Sha256 hash;
  hash.Update(data);
  return hash.HexDigest();
}

absl::StatusOr<std::string> Sha256OfFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "open", path);
  Sha256 hash;
  std::string buffer(1 << 20, '\0');
  while (true) {
    ssize_t n = read(fd, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      int saved = errno;
      close(fd);
      return ErrnoStatus(saved, "read", path);
    }
    if (n == 0) break;
    hash.Update(absl::string_view(buffer.data(), static_cast<size_t>(n)));
  }
  close(fd);
  return hash.HexDigest();
}

bool IsSha256Hex(absl::string_view hex) {
  if (hex.size() != 64) return false;
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace cvt
