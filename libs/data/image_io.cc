#include "libs/data/image_io.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "libs/base/exceptions.h"
#include "libs/base/status_macros.h"
#include "opencv2/core.hpp"
#include "opencv2/imgcodecs.hpp"
#include "opencv2/imgproc.hpp"

namespace cvt {
namespace {

constexpr unsigned char kPngSignature[8] = {0x89, 'P',  'N',  'G',
                                            0x0D, 0x0A, 0x1A, 0x0A};

const unsigned char* Bytes(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

uint32_t Be16(const unsigned char* p) { return (p[0] << 8) | p[1]; }
uint32_t Be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
         (uint32_t{p[2]} << 8) | p[3];
}

absl::Status Bad(absl::string_view name, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(name, ": ", what));
}

// Reads the orientation tag (0x0112) of IFD0 from a TIFF structure (the
// payload of an EXIF block). Returns 1 when absent or malformed.
int ExifOrientation(absl::string_view tiff) {
  const unsigned char* p = Bytes(tiff);
  const size_t n = tiff.size();
  if (n < 8) return 1;
  bool little;
  if (p[0] == 'I' && p[1] == 'I') {
    little = true;
  } else if (p[0] == 'M' && p[1] == 'M') {
    little = false;
  } else {
    return 1;
  }
  auto u16 = [&](size_t at) -> uint32_t {
    return little ? (p[at] | (p[at + 1] << 8)) : Be16(p + at);
  };
  auto u32 = [&](size_t at) -> uint32_t {
    return little ? (uint32_t{p[at]} | (uint32_t{p[at + 1]} << 8) |
                     (uint32_t{p[at + 2]} << 16) | (uint32_t{p[at + 3]} << 24))
                  : Be32(p + at);
  };
  if (u16(2) != 42) return 1;
  const size_t ifd = u32(4);
  if (ifd + 2 > n) return 1;
  const size_t count = u16(ifd);
  for (size_t i = 0; i < count; ++i) {
    const size_t entry = ifd + 2 + 12 * i;
    if (entry + 12 > n) return 1;
    if (u16(entry) != 0x0112) continue;
    if (u16(entry + 2) != 3) return 1;  // SHORT
    const uint32_t value = u16(entry + 8);
    return value >= 1 && value <= 8 ? static_cast<int>(value) : 1;
  }
  return 1;
}

bool IsSof(unsigned char marker) {
  return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 &&
         marker != 0xCC;
}

absl::Status ReadJpegHeader(absl::string_view bytes, absl::string_view name,
                            ImageHeader* header) {
  const unsigned char* p = Bytes(bytes);
  const size_t n = bytes.size();
  size_t pos = 2;
  bool have_sof = false;
  header->bit_depth = 8;
  while (true) {
    // Find the next marker: 0xFF (possibly repeated as fill) then a code.
    if (pos >= n) break;
    if (p[pos] != 0xFF) {
      return Bad(name, absl::StrFormat(
                           "corrupt JPEG: expected a marker at byte %d", pos));
    }
    while (pos < n && p[pos] == 0xFF) ++pos;
    if (pos >= n) break;
    const unsigned char marker = p[pos++];
    if (marker == 0xD9) {
      header->complete = true;
      break;
    }
    if ((marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) continue;
    if (pos + 2 > n) break;
    const size_t length = Be16(p + pos);
    if (length < 2) {
      return Bad(name, "corrupt JPEG: segment length below 2");
    }
    if (pos + length > n) break;
    const unsigned char* segment = p + pos + 2;
    const size_t segment_size = length - 2;
    if (marker == 0xE1 && segment_size >= 6 &&
        std::memcmp(segment, "Exif\0\0", 6) == 0) {
      header->exif_orientation = ExifOrientation(absl::string_view(
          reinterpret_cast<const char*>(segment + 6), segment_size - 6));
    } else if (IsSof(marker) && !have_sof) {
      if (segment_size < 6) return Bad(name, "corrupt JPEG frame header");
      header->bit_depth = segment[0];
      header->stored_height = Be16(segment + 1);
      header->stored_width = Be16(segment + 3);
      header->channels = segment[5];
      have_sof = true;
    }
    pos += length;
    if (marker == 0xDA) {
      // Entropy-coded data runs to the next marker that is neither a stuffed
      // 0xFF00 nor a restart marker.
      while (true) {
        const void* ff = std::memchr(p + pos, 0xFF, n - pos);
        if (ff == nullptr) {
          pos = n;
          break;
        }
        pos = static_cast<const unsigned char*>(ff) - p;
        if (pos + 1 >= n) {
          pos = n;
          break;
        }
        const unsigned char next = p[pos + 1];
        if (next == 0x00 || (next >= 0xD0 && next <= 0xD7)) {
          pos += 2;
          continue;
        }
        if (next == 0xFF) {
          ++pos;
          continue;
        }
        break;
      }
    }
  }
  if (!have_sof) {
    return Bad(name, "corrupt or truncated JPEG: no frame header");
  }
  if (header->stored_width == 0 || header->stored_height == 0) {
    return Bad(name, "JPEG frame header declares a zero size");
  }
  header->has_alpha = false;
  return absl::OkStatus();
}

absl::Status ReadPngHeader(absl::string_view bytes, absl::string_view name,
                           ImageHeader* header) {
  const unsigned char* p = Bytes(bytes);
  const size_t n = bytes.size();
  if (n < 33 || Be32(p + 8) != 13 || std::memcmp(p + 12, "IHDR", 4) != 0) {
    return Bad(name, "corrupt or truncated PNG: no IHDR chunk");
  }
  header->stored_width = Be32(p + 16);
  header->stored_height = Be32(p + 20);
  header->bit_depth = p[24];
  const int color_type = p[25];
  switch (color_type) {
    case 0:
      header->channels = 1;
      break;
    case 2:
      header->channels = 3;
      break;
    case 3:
      header->channels = 3;
      header->palette = true;
      break;
    case 4:
      header->channels = 2;
      header->has_alpha = true;
      break;
    case 6:
      header->channels = 4;
      header->has_alpha = true;
      break;
    default:
      return Bad(name,
                 absl::StrCat("PNG colour type ", color_type, " is not valid"));
  }
  if (header->stored_width == 0 || header->stored_height == 0) {
    return Bad(name, "PNG header declares a zero size");
  }
  size_t pos = 33;
  while (pos + 12 <= n) {
    const size_t length = Be32(p + pos);
    const absl::string_view type(reinterpret_cast<const char*>(p + pos + 4), 4);
    if (length > n - pos - 12) break;  // Cut short.
    const absl::string_view data(reinterpret_cast<const char*>(p + pos + 8),
                                 length);
    if (type == "IEND") {
      header->complete = true;
      break;
    }
    if (type == "tRNS" && color_type != 0) {
      // OpenCV ignores a grey colour key, so only RGB and palette count.
      header->has_alpha = true;
      header->channels = 4;
    } else if (type == "eXIf") {
      header->exif_orientation = ExifOrientation(data);
    }
    pos += 12 + length;
  }
  return absl::OkStatus();
}

// Applies EXIF orientation `o` (2..8) to `image` in place.
void Orient(int o, cv::Mat* image) {
  cv::Mat out;
  switch (o) {
    case 2:
      cv::flip(*image, out, 1);
      break;
    case 3:
      cv::rotate(*image, out, cv::ROTATE_180);
      break;
    case 4:
      cv::flip(*image, out, 0);
      break;
    case 5:
      cv::transpose(*image, out);
      break;
    case 6:
      cv::rotate(*image, out, cv::ROTATE_90_CLOCKWISE);
      break;
    case 7:
      cv::transpose(*image, out);
      cv::flip(out, out, -1);
      break;
    case 8:
      cv::rotate(*image, out, cv::ROTATE_90_COUNTERCLOCKWISE);
      break;
    default:
      return;
  }
  *image = out;
}

// Converts whatever the PNG decoder returned (8 or 16 bits, 1, 3 or 4
// channels, BGR(A)) to CV_8UC3 BGR, compositing alpha over black.
cv::Mat ToBgr8(const cv::Mat& decoded) {
  cv::Mat image = decoded;
  if (image.depth() == CV_16U) {
    cv::Mat eight;
    image.convertTo(eight, CV_8U, 1.0 / 257.0);
    image = eight;
  }
  if (image.channels() == 3) return image;
  cv::Mat bgr(image.rows, image.cols, CV_8UC3);
  if (image.channels() == 1) {
    for (int y = 0; y < image.rows; ++y) {
      const unsigned char* in = image.ptr<unsigned char>(y);
      unsigned char* out = bgr.ptr<unsigned char>(y);
      for (int x = 0; x < image.cols; ++x) {
        out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = in[x];
      }
    }
    return bgr;
  }
  // 4 channels: BGRA. Composite over black with exact rounding.
  for (int y = 0; y < image.rows; ++y) {
    const unsigned char* in = image.ptr<unsigned char>(y);
    unsigned char* out = bgr.ptr<unsigned char>(y);
    for (int x = 0; x < image.cols; ++x) {
      const unsigned a = in[4 * x + 3];
      for (int c = 0; c < 3; ++c) {
        out[3 * x + c] =
            static_cast<unsigned char>((in[4 * x + c] * a + 127) / 255);
      }
    }
  }
  return bgr;
}

}  // namespace

absl::string_view ImageFormatName(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg:
      return "jpeg";
    case ImageFormat::kPng:
      return "png";
    case ImageFormat::kUnknown:
      return "unknown";
  }
  return "unknown";
}

ImageFormat FormatFromExtension(absl::string_view file_name) {
  const size_t dot = file_name.rfind('.');
  if (dot == absl::string_view::npos) return ImageFormat::kUnknown;
  const std::string ext = absl::AsciiStrToLower(file_name.substr(dot + 1));
  if (ext == "jpg" || ext == "jpeg" || ext == "jpe") return ImageFormat::kJpeg;
  if (ext == "png") return ImageFormat::kPng;
  return ImageFormat::kUnknown;
}

ImageFormat SniffImageFormat(absl::string_view bytes) {
  const unsigned char* p = Bytes(bytes);
  if (bytes.size() >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) {
    return ImageFormat::kJpeg;
  }
  if (bytes.size() >= 8 && std::memcmp(p, kPngSignature, 8) == 0) {
    return ImageFormat::kPng;
  }
  return ImageFormat::kUnknown;
}

absl::StatusOr<ImageHeader> ReadImageHeader(absl::string_view bytes,
                                            absl::string_view name) {
  ImageHeader header;
  header.format = SniffImageFormat(bytes);
  switch (header.format) {
    case ImageFormat::kJpeg:
      CVT_RETURN_IF_ERROR(ReadJpegHeader(bytes, name, &header));
      break;
    case ImageFormat::kPng:
      CVT_RETURN_IF_ERROR(ReadPngHeader(bytes, name, &header));
      break;
    case ImageFormat::kUnknown: {
      if (bytes.empty()) return Bad(name, "empty file");
      std::string start;
      for (size_t i = 0; i < std::min<size_t>(bytes.size(), 4); ++i) {
        absl::StrAppendFormat(&start, "%02x",
                              static_cast<unsigned char>(bytes[i]));
      }
      return Bad(name, absl::StrCat("not a JPEG or PNG file (starts with 0x",
                                    start, ")"));
    }
  }
  const bool swap = header.exif_orientation >= 5;
  header.width = swap ? header.stored_height : header.stored_width;
  header.height = swap ? header.stored_width : header.stored_height;
  return header;
}

namespace {

// Decodes at 1/`reduction` scale (1, 2, 4 or 8; JPEG only). With
// `luma_only`, a JPEG is decoded to its grey channel (all entropy-coded data
// is still decoded; only colour reconstruction is skipped) and `bgr` holds
// that single channel.
absl::StatusOr<DecodedImage> DecodeImageScaled(absl::string_view bytes,
                                               absl::string_view name,
                                               const DecodeOptions& options,
                                               int reduction,
                                               bool luma_only = false) {
  DecodedImage result;
  CVT_ASSIGN_OR_RETURN(result.header, ReadImageHeader(bytes, name));
  const ImageHeader& header = result.header;
  const uint64_t pixels = static_cast<uint64_t>(header.stored_width) *
                          static_cast<uint64_t>(header.stored_height);
  if (pixels > options.max_pixels) {
    return Bad(
        name, absl::StrFormat("%dx%d = %d pixels exceeds the decompression-"
                              "bomb limit of %d pixels",
                              header.stored_width, header.stored_height, pixels,
                              options.max_pixels));
  }
  if (!header.complete) {
    return Bad(name, absl::StrCat("truncated ", ImageFormatName(header.format),
                                  header.format == ImageFormat::kJpeg
                                      ? " (no end-of-image marker)"
                                      : " (no IEND chunk)"));
  }
  if (header.format != ImageFormat::kJpeg) reduction = 1;
  CVT_RETURN_IF_ERROR(CallCatchingExceptions(
      absl::StrCat(name, ": decoding"), [&]() -> absl::Status {
        const cv::Mat raw(1, static_cast<int>(bytes.size()), CV_8UC1,
                          const_cast<char*>(bytes.data()));
        if (header.format == ImageFormat::kJpeg) {
          int flags = cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION;
          if (reduction == 2) flags |= cv::IMREAD_REDUCED_COLOR_2;
          if (reduction == 4) flags |= cv::IMREAD_REDUCED_COLOR_4;
          if (reduction == 8) flags |= cv::IMREAD_REDUCED_COLOR_8;
          if (luma_only) {
            flags = cv::IMREAD_GRAYSCALE | cv::IMREAD_IGNORE_ORIENTATION;
          }
          result.bgr = cv::imdecode(raw, flags);
        } else {
          cv::Mat decoded = cv::imdecode(raw, cv::IMREAD_UNCHANGED);
          if (!decoded.empty()) result.bgr = ToBgr8(decoded);
        }
        return absl::OkStatus();
      }));
  if (result.bgr.empty()) {
    return Bad(name, absl::StrCat("undecodable ",
                                  ImageFormatName(header.format), " data"));
  }
  // libjpeg rounds scaled sizes up.
  const int64_t want_w = (header.stored_width + reduction - 1) / reduction;
  const int64_t want_h = (header.stored_height + reduction - 1) / reduction;
  if (result.bgr.cols != want_w || result.bgr.rows != want_h) {
    return Bad(name, absl::StrFormat("decoded %dx%d but the header says %dx%d",
                                     result.bgr.cols, result.bgr.rows, want_w,
                                     want_h));
  }
  Orient(header.exif_orientation, &result.bgr);
  return result;
}

}  // namespace

absl::StatusOr<DecodedImage> DecodeImage(absl::string_view bytes,
                                         absl::string_view name,
                                         const DecodeOptions& options) {
  return DecodeImageScaled(bytes, name, options, 1);
}

absl::Status VerifyImage(absl::string_view bytes, absl::string_view name,
                         const DecodeOptions& options) {
  return DecodeImageScaled(bytes, name, options, 1, /*luma_only=*/true)
      .status();
}

cv::Size FitSize(int64_t width, int64_t height, int max_size) {
  const int64_t longest = std::max(width, height);
  if (max_size <= 0 || longest <= max_size) {
    return cv::Size(static_cast<int>(width), static_cast<int>(height));
  }
  const double scale = static_cast<double>(max_size) / longest;
  return cv::Size(std::max(1, static_cast<int>(std::lround(width * scale))),
                  std::max(1, static_cast<int>(std::lround(height * scale))));
}

absl::StatusOr<DecodedImage> DecodeImageToFit(absl::string_view bytes,
                                              absl::string_view name,
                                              int max_size,
                                              const DecodeOptions& options,
                                              const FitOptions& fit) {
  CVT_ASSIGN_OR_RETURN(ImageHeader header, ReadImageHeader(bytes, name));
  const cv::Size target = FitSize(header.width, header.height, max_size);
  int reduction = 1;
  if (fit.dct_scaling && header.format == ImageFormat::kJpeg) {
    const int64_t longest = std::max(header.width, header.height);
    const int64_t wanted = std::max(target.width, target.height);
    for (int r : {8, 4, 2}) {
      if ((longest + r - 1) / r >= wanted) {
        reduction = r;
        break;
      }
    }
  }
  CVT_ASSIGN_OR_RETURN(DecodedImage result,
                       DecodeImageScaled(bytes, name, options, reduction));
  if (result.bgr.size() != target) {
    CVT_RETURN_IF_ERROR(CallCatchingExceptions(
        absl::StrCat(name, ": resizing"), [&]() -> absl::Status {
          cv::Mat resized;
          cv::resize(result.bgr, resized, target, 0, 0, cv::INTER_AREA);
          result.bgr = resized;
          return absl::OkStatus();
        }));
  }
  return result;
}

absl::StatusOr<std::string> EncodeImage(const cv::Mat& image,
                                        ImageFormat format,
                                        const EncodeOptions& options) {
  if (image.empty() || image.depth() != CV_8U ||
      (image.channels() != 3 && image.channels() != 1)) {
    return absl::InvalidArgumentError(
        "EncodeImage needs a non-empty 8-bit image with 1 or 3 channels");
  }
  std::vector<int> params;
  const char* ext = nullptr;
  switch (format) {
    case ImageFormat::kJpeg:
      ext = ".jpg";
      params = {cv::IMWRITE_JPEG_QUALITY, options.jpeg_quality};
      break;
    case ImageFormat::kPng:
      ext = ".png";
      params = {cv::IMWRITE_PNG_COMPRESSION, options.png_compression};
      if (options.png_huffman_only) {
        params.push_back(cv::IMWRITE_PNG_STRATEGY);
        params.push_back(cv::IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY);
      }
      break;
    case ImageFormat::kUnknown:
      return absl::InvalidArgumentError("EncodeImage: no format given");
  }
  std::vector<unsigned char> buffer;
  CVT_RETURN_IF_ERROR(CallCatchingExceptions(
      absl::StrCat("encoding ", ImageFormatName(format)),
      [&]() -> absl::Status {
        if (!cv::imencode(ext, image, buffer, params)) {
          return absl::InternalError(absl::StrCat("OpenCV could not encode ",
                                                  ImageFormatName(format)));
        }
        return absl::OkStatus();
      }));
  return std::string(buffer.begin(), buffer.end());
}

}  // namespace cvt
