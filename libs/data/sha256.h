// -----------------------------------------------------------------------------
// File: sha256.h
// -----------------------------------------------------------------------------
//
// SHA-256 (FIPS 180-4) for content hashes of prepared data sets: coco_prep's
// report names its output by a hash of every file it wrote, so two runs (or a
// sharded run and its merge) can be compared without diffing folders.
//
// Example:
//
//   Sha256 hash;
//   hash.Update(bytes);
//   std::string hex = hash.HexDigest();  // 64 lowercase hex digits
//
// Thread safety: one object per thread.

#ifndef LIBS_DATA_SHA256_H_
#define LIBS_DATA_SHA256_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace cvt {

class Sha256 {
 public:
  Sha256();

  void Update(absl::string_view data);

  // Finishes the hash and returns the digest as lowercase hex. The object
  // must not be updated afterwards.
  std::string HexDigest();

 private:
  void Block(const unsigned char* block);

  std::array<uint32_t, 8> state_;
  std::array<unsigned char, 64> buffer_;
  size_t buffered_ = 0;
  uint64_t length_ = 0;
};

// SHA-256 of `data` as lowercase hex.
std::string Sha256Hex(absl::string_view data);

}  // namespace cvt

#endif  // LIBS_DATA_SHA256_H_
