// -----------------------------------------------------------------------------
// File: test_images.h
// -----------------------------------------------------------------------------
//
// Builds image files for tests (testonly): JPEG and PNG bytes from OpenCV,
// hand-made PNGs of any colour type and bit depth (palette, tRNS, 16-bit),
// and JPEGs carrying an EXIF orientation tag.
//
// Example:
//
//   std::string png = MakePngForTest(2, 1, /*color_type=*/6, 8,
//                                    {0, 255, 0, 0, 255, 0, 0, 255, 0});

#ifndef LIBS_DATA_TEST_IMAGES_H_
#define LIBS_DATA_TEST_IMAGES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "opencv2/core.hpp"

namespace cvt {

// A PNG chunk to insert between IHDR and IDAT: 4-letter type and payload.
struct PngChunkForTest {
  std::string type;
  std::string data;
};

// Returns a PNG file with the given IHDR fields whose IDAT holds `rows`
// (already filtered: each row starts with its filter byte) as stored
// (uncompressed) deflate blocks. `rows` may be empty to make a header-only
// file that libpng rejects.
std::string MakePngForTest(uint32_t width, uint32_t height, int color_type,
                           int bit_depth, const std::vector<uint8_t>& rows,
                           const std::vector<PngChunkForTest>& chunks = {});

// `image` encoded by OpenCV (JPEG quality 100, PNG default).
std::string EncodeJpegForTest(const cv::Mat& image);
std::string EncodePngForTest(const cv::Mat& image);

// Returns `jpeg` with an APP1 Exif segment (big-endian TIFF, IFD0 holding
// only the orientation tag) inserted after SOI.
std::string WithExifOrientationForTest(const std::string& jpeg,
                                       int orientation);

// Writes `contents` to `path` (creating parent folders); CHECK-fails on error.
void WriteFileForTest(const std::string& path, const std::string& contents);

}  // namespace cvt

#endif  // LIBS_DATA_TEST_IMAGES_H_
