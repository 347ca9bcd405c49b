#include "libs/base/png.h"

#include <zlib.h>

#include <vector>

#include "absl/strings/str_cat.h"

namespace cvt {
namespace {

void AppendU32(std::string& out, uint32_t v) {
  out.push_back(static_cast<char>(v >> 24));
  out.push_back(static_cast<char>(v >> 16));
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}

void AppendChunk(std::string& out, const char type[4],
                 const std::string& data) {
  AppendU32(out, static_cast<uint32_t>(data.size()));
  const size_t start = out.size();
  out.append(type, 4);
  out += data;
  const uLong crc =
      crc32(0L, reinterpret_cast<const Bytef*>(out.data() + start),
            static_cast<uInt>(out.size() - start));
  AppendU32(out, static_cast<uint32_t>(crc));
}

}  // namespace

absl::StatusOr<std::string> EncodePngRgb(int width, int height,
                                         absl::Span<const uint8_t> rgb) {
  if (width <= 0 || height <= 0 ||
      rgb.size() != static_cast<size_t>(width) * height * 3) {
    return absl::InvalidArgumentError(absl::StrCat(
        "PNG of ", width, "x", height, " needs ",
        static_cast<size_t>(width) * height * 3, " bytes, got ", rgb.size()));
  }
  // Each scanline starts with filter type 0 (none).
  std::vector<uint8_t> raw;
  raw.reserve(static_cast<size_t>(height) * (width * 3 + 1));
  for (int y = 0; y < height; ++y) {
    raw.push_back(0);
    const uint8_t* row = rgb.data() + static_cast<size_t>(y) * width * 3;
    raw.insert(raw.end(), row, row + static_cast<size_t>(width) * 3);
  }
  uLongf packed_size = compressBound(static_cast<uLong>(raw.size()));
  std::string packed(packed_size, '\0');
  if (compress2(reinterpret_cast<Bytef*>(packed.data()), &packed_size,
                raw.data(), static_cast<uLong>(raw.size()), 6) != Z_OK) {
    return absl::InternalError("zlib compression failed");
  }
  packed.resize(packed_size);
  std::string png("\x89PNG\r\n\x1a\n", 8);
  std::string header;
  AppendU32(header, static_cast<uint32_t>(width));
  AppendU32(header, static_cast<uint32_t>(height));
  header += std::string("\x08\x02\x00\x00\x00", 5);  // 8-bit RGB, no interlace.
  AppendChunk(png, "IHDR", header);
  AppendChunk(png, "IDAT", packed);
  AppendChunk(png, "IEND", "");
  return png;
}

}  // namespace cvt
