#include "libs/models/stored_zip.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "zlib.h"

namespace cvt {
namespace {

// Record signatures and fixed sizes (PKWARE's APPNOTE.TXT, sections 4.3.7 to
// 4.3.16).
constexpr uint32_t kLocalHeaderSignature = 0x04034b50;
constexpr uint32_t kCentralHeaderSignature = 0x02014b50;
constexpr uint32_t kEndSignature = 0x06054b50;
constexpr uint32_t kZip64EndSignature = 0x06064b50;
constexpr uint32_t kZip64LocatorSignature = 0x07064b50;
constexpr size_t kLocalHeaderSize = 30;
constexpr size_t kCentralHeaderSize = 46;
constexpr size_t kEndSize = 22;
constexpr size_t kZip64EndSize = 56;
constexpr size_t kZip64LocatorSize = 20;
constexpr uint16_t kZip64ExtraId = 0x0001;

// Little-endian fields of `data`, bounds-checked by the caller.
uint64_t Field(absl::string_view data, size_t offset, size_t width) {
  uint64_t value = 0;
  for (size_t i = 0; i < width; ++i) {
    value |= uint64_t{static_cast<uint8_t>(data[offset + i])} << (8 * i);
  }
  return value;
}

// Whether `data[offset, offset + size)` lies inside `data`.
bool Fits(absl::string_view data, uint64_t offset, uint64_t size) {
  return offset <= data.size() && size <= data.size() - offset;
}

absl::Status Corrupt(absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("corrupt zip archive: ", what));
}

uint32_t Crc32(absl::string_view bytes) {
  return static_cast<uint32_t>(
      crc32_z(crc32_z(0, nullptr, 0),
              reinterpret_cast<const Bytef*>(bytes.data()), bytes.size()));
}

}  // namespace

absl::StatusOr<StoredZip> StoredZip::Parse(absl::string_view data) {
  // The end of central directory record: the last signature that leaves
  // room for the record and its comment.
  if (data.size() < kEndSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "not a zip archive (", data.size(), " bytes, no end record)"));
  }
  size_t end = std::string::npos;
  const size_t lowest =
      data.size() - kEndSize - std::min<size_t>(data.size() - kEndSize, 0xffff);
  for (size_t at = data.size() - kEndSize + 1; at-- > lowest;) {
    if (Field(data, at, 4) == kEndSignature &&
        at + kEndSize + Field(data, at + 20, 2) <= data.size()) {
      end = at;
      break;
    }
  }
  if (end == std::string::npos) {
    return absl::InvalidArgumentError(
        "not a zip archive (no end of central directory record)");
  }
  if (Field(data, end + 4, 2) != 0 || Field(data, end + 6, 2) != 0) {
    return absl::InvalidArgumentError("multi-disk zip archives are not read");
  }
  uint64_t count = Field(data, end + 10, 2);
  uint64_t directory_size = Field(data, end + 12, 4);
  uint64_t directory_offset = Field(data, end + 16, 4);
  // Zip64: a locator right before the end record points at the zip64 end
  // record, whose 8-byte fields replace the saturated ones.
  if (end >= kZip64LocatorSize &&
      Field(data, end - kZip64LocatorSize, 4) == kZip64LocatorSignature) {
    uint64_t zip64_end = Field(data, end - kZip64LocatorSize + 8, 8);
    if (!Fits(data, zip64_end, kZip64EndSize) ||
        Field(data, zip64_end, 4) != kZip64EndSignature) {
      return Corrupt("bad zip64 end of central directory locator");
    }
    count = Field(data, zip64_end + 32, 8);
    directory_size = Field(data, zip64_end + 40, 8);
    directory_offset = Field(data, zip64_end + 48, 8);
  }
  if (!Fits(data, directory_offset, directory_size)) {
    return Corrupt("central directory outside the file");
  }
  if (count > directory_size / kCentralHeaderSize) {
    return Corrupt("more entries than the central directory holds");
  }

  StoredZip zip;
  zip.data_ = data;
  absl::string_view directory = data.substr(directory_offset, directory_size);
  size_t at = 0;
  for (uint64_t i = 0; i < count; ++i) {
    if (!Fits(directory, at, kCentralHeaderSize) ||
        Field(directory, at, 4) != kCentralHeaderSignature) {
      return Corrupt(absl::StrCat("bad central directory entry ", i));
    }
    Entry entry;
    entry.flags = Field(directory, at + 8, 2);
    entry.method = Field(directory, at + 10, 2);
    entry.crc32 = Field(directory, at + 16, 4);
    entry.size = Field(directory, at + 20, 4);
    entry.uncompressed_size = Field(directory, at + 24, 4);
    const size_t name_size = Field(directory, at + 28, 2);
    const size_t extra_size = Field(directory, at + 30, 2);
    const size_t comment_size = Field(directory, at + 32, 2);
    uint64_t disk = Field(directory, at + 34, 2);
    entry.local_header_offset = Field(directory, at + 42, 4);
    const size_t record_size =
        kCentralHeaderSize + name_size + extra_size + comment_size;
    if (!Fits(directory, at, record_size)) {
      return Corrupt(absl::StrCat("central directory entry ", i, " is cut"));
    }
    std::string name(directory.substr(at + kCentralHeaderSize, name_size));
    // The zip64 extra field holds, in this order, the 8-byte values of those
    // fields that are saturated above.
    absl::string_view extra =
        directory.substr(at + kCentralHeaderSize + name_size, extra_size);
    for (size_t e = 0; e + 4 <= extra.size();) {
      const uint64_t id = Field(extra, e, 2);
      const size_t size = Field(extra, e + 2, 2);
      if (!Fits(extra, e + 4, size)) {
        return Corrupt(absl::StrCat("extra field of ", name, " is cut"));
      }
      if (id == kZip64ExtraId) {
        absl::string_view values = extra.substr(e + 4, size);
        size_t v = 0;
        for (uint64_t* field : {&entry.uncompressed_size, &entry.size,
                                &entry.local_header_offset}) {
          if (*field != 0xffffffff) continue;
          if (!Fits(values, v, 8)) {
            return Corrupt(absl::StrCat("zip64 field of ", name, " is cut"));
          }
          *field = Field(values, v, 8);
          v += 8;
        }
        if (disk == 0xffff && Fits(values, v, 4)) disk = Field(values, v, 4);
      }
      e += 4 + size;
    }
    if (disk != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("zip entry ", name, " is on another disk"));
    }
    if (!zip.entries_.emplace(name, entry).second) {
      return Corrupt(absl::StrCat("duplicate entry ", name));
    }
    zip.names_.push_back(std::move(name));
    at += record_size;
  }
  return zip;
}

absl::StatusOr<absl::string_view> StoredZip::Read(
    absl::string_view name) const {
  auto it = entries_.find(std::string(name));
  if (it == entries_.end()) {
    return absl::NotFoundError(absl::StrCat("no zip entry ", name));
  }
  const Entry& entry = it->second;
  if (entry.flags & 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("zip entry ", name, " is encrypted"));
  }
  if (entry.method != 0 || entry.size != entry.uncompressed_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("zip entry ", name, " is compressed (method ",
                     entry.method, "); only stored entries are read"));
  }
  // The data follows the local header, whose name and extra field (where
  // torch.save pads records to 64-byte alignment) may differ from the
  // central directory's.
  const uint64_t local = entry.local_header_offset;
  if (!Fits(data_, local, kLocalHeaderSize) ||
      Field(data_, local, 4) != kLocalHeaderSignature) {
    return Corrupt(absl::StrCat("bad local header for ", name));
  }
  const uint64_t start = local + kLocalHeaderSize +
                         Field(data_, local + 26, 2) +
                         Field(data_, local + 28, 2);
  if (!Fits(data_, start, entry.size)) {
    return Corrupt(absl::StrCat("entry ", name, " runs past the end"));
  }
  absl::string_view bytes = data_.substr(start, entry.size);
  if (Crc32(bytes) != entry.crc32) {
    return Corrupt(absl::StrCat("CRC-32 mismatch in ", name));
  }
  return bytes;
}

}  // namespace cvt
