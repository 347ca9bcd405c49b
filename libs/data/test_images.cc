#include "libs/data/test_images.h"

#include <filesystem>
#include <fstream>

#include "glog/logging.h"
#include "opencv2/imgcodecs.hpp"

namespace cvt {
namespace {

uint32_t Crc32(const std::string& data) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : data) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & -(crc & 1));
  }
  return crc ^ 0xFFFFFFFFu;
}

void PutBe32(uint32_t v, std::string* out) {
  out->push_back(static_cast<char>(v >> 24));
  out->push_back(static_cast<char>(v >> 16));
  out->push_back(static_cast<char>(v >> 8));
  out->push_back(static_cast<char>(v));
}

void PutChunk(const std::string& type, const std::string& data,
              std::string* out) {
  PutBe32(static_cast<uint32_t>(data.size()), out);
  const std::string body = type + data;
  out->append(body);
  PutBe32(Crc32(body), out);
}

// zlib stream of stored deflate blocks.
std::string StoredZlib(const std::vector<uint8_t>& data) {
  std::string out = "\x78\x01";
  size_t pos = 0;
  do {
    const size_t n = std::min<size_t>(65535, data.size() - pos);
    const bool last = pos + n == data.size();
    out.push_back(last ? 1 : 0);
    out.push_back(static_cast<char>(n & 0xFF));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(~n & 0xFF));
    out.push_back(static_cast<char>((~n >> 8) & 0xFF));
    out.append(reinterpret_cast<const char*>(data.data()) + pos, n);
    pos += n;
  } while (pos < data.size());
  uint32_t a = 1, b = 0;
  for (uint8_t c : data) {
    a = (a + c) % 65521;
    b = (b + a) % 65521;
  }
  PutBe32((b << 16) | a, &out);
  return out;
}

}  // namespace

std::string MakePngForTest(uint32_t width, uint32_t height, int color_type,
                           int bit_depth, const std::vector<uint8_t>& rows,
                           const std::vector<PngChunkForTest>& chunks) {
  std::string png("\x89PNG\r\n\x1a\n", 8);
  std::string ihdr;
  PutBe32(width, &ihdr);
  PutBe32(height, &ihdr);
  ihdr.push_back(static_cast<char>(bit_depth));
  ihdr.push_back(static_cast<char>(color_type));
  ihdr.append(std::string(3, '\0'));
  PutChunk("IHDR", ihdr, &png);
  for (const PngChunkForTest& chunk : chunks) {
    PutChunk(chunk.type, chunk.data, &png);
  }
  if (!rows.empty()) PutChunk("IDAT", StoredZlib(rows), &png);
  PutChunk("IEND", "", &png);
  return png;
}

std::string EncodeJpegForTest(const cv::Mat& image) {
  std::vector<unsigned char> buffer;
  CHECK(cv::imencode(".jpg", image, buffer, {cv::IMWRITE_JPEG_QUALITY, 100}));
  return std::string(buffer.begin(), buffer.end());
}

std::string EncodePngForTest(const cv::Mat& image) {
  std::vector<unsigned char> buffer;
  CHECK(cv::imencode(".png", image, buffer));
  return std::string(buffer.begin(), buffer.end());
}

std::string WithExifOrientationForTest(const std::string& jpeg,
                                       int orientation) {
  CHECK_GE(jpeg.size(), 2u);
  // "MM", 42, IFD0 at 8; one entry: tag 0x0112, SHORT, count 1, value.
  std::string tiff("MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01", 18);
  tiff.push_back('\0');
  tiff.push_back(static_cast<char>(orientation));
  tiff.append(std::string(2, '\0'));  // Value padding.
  tiff.append(std::string(4, '\0'));  // No next IFD.
  const std::string payload = std::string("Exif\0\0", 6) + tiff;
  std::string segment = "\xff\xe1";
  const size_t length = payload.size() + 2;
  segment.push_back(static_cast<char>(length >> 8));
  segment.push_back(static_cast<char>(length & 0xFF));
  segment += payload;
  return jpeg.substr(0, 2) + segment + jpeg.substr(2);
}

void WriteFileForTest(const std::string& path, const std::string& contents) {
  const std::filesystem::path parent =
      std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  CHECK(out) << "cannot write " << path;
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  CHECK(out) << "cannot write " << path;
}

}  // namespace cvt
