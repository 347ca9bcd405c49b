// -----------------------------------------------------------------------------
// File: image_io.h
// -----------------------------------------------------------------------------
//
// Image decoding by content, not by file extension, shared by coco_prep and
// train so that both see exactly the same pixels.
//
// Formats: JPEG (baseline and progressive, greyscale, YCbCr, CMYK) and PNG
// (greyscale, grey+alpha, RGB, RGBA, palette with or without tRNS, 8 and 16
// bits per sample). The format is found from the file's first bytes; a file
// named `.jpg` that holds a PNG decodes as a PNG (`FormatFromExtension` lets
// the caller report the mismatch).
//
// The decoding rules (the same everywhere):
//   - Result: `CV_8UC3`, **BGR** channel order (OpenCV's native order; a
//     caller that wants RGB converts explicitly).
//   - 16-bit samples are scaled to 8 bits by round(v / 257).
//   - Greyscale is replicated into the three channels.
//   - **Alpha**: the image is composited over opaque **black**:
//     out = round(colour * alpha / max_alpha). A fully transparent pixel is
//     black whatever colour it stores, so hidden colours never leak in. This
//     equals premultiplied alpha. Palette transparency (tRNS) and RGB tRNS
//     colour keys count as alpha; a greyscale tRNS colour key is ignored
//     (OpenCV's PNG reader drops it).
//   - **EXIF orientation**: the orientation tag (0x0112) of a JPEG's APP1
//     "Exif" segment or of a PNG's eXIf chunk is **applied** (values 2..8:
//     flips, 90/180/270 degree rotations), as browsers and labelling tools
//     show the image. `width`/`height` of the result are the oriented size.
//     OpenCV's own orientation handling is switched off; ours reads the tag
//     itself so that the rule does not depend on the OpenCV build. Images
//     that coco_prep writes carry no EXIF, so decoding them again is a no-op.
//   - Decompression-bomb guard: the header's width x height is checked
//     against `max_pixels` before any pixel is decoded.
//   - Truncation: a JPEG without its end-of-image marker, or a PNG without
//     its IEND chunk, is an error (libjpeg would silently fill the missing
//     rows with grey). Limitation: corrupt entropy-coded data inside a JPEG
//     that does end with EOI decodes as libjpeg decodes it (OpenCV does not
//     pass libjpeg's warnings on); PNG checksums catch it for PNG.
//
// Errors are InvalidArgument and start with the `name` given (the file name).
//
// Thread safety: all functions are thread-safe.
//
// Example:
//
//   CVT_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
//   CVT_ASSIGN_OR_RETURN(DecodedImage image, DecodeImage(bytes, path));
//   cv::Mat bgr = image.bgr;  // CV_8UC3, oriented

#ifndef LIBS_DATA_IMAGE_IO_H_
#define LIBS_DATA_IMAGE_IO_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "opencv2/core.hpp"

namespace cvt {

enum class ImageFormat {
  kUnknown,
  kJpeg,
  kPng,
};

// "jpeg", "png" or "unknown".
absl::string_view ImageFormatName(ImageFormat format);

// The format a file name promises by its extension (case-insensitive
// .jpg/.jpeg/.jpe -> kJpeg, .png -> kPng, anything else kUnknown).
ImageFormat FormatFromExtension(absl::string_view file_name);

// The format found from the first bytes (magic numbers), or kUnknown.
ImageFormat SniffImageFormat(absl::string_view bytes);

// What the header says, read without decoding pixels.
struct ImageHeader {
  ImageFormat format = ImageFormat::kUnknown;
  // Stored size in pixels, before EXIF orientation.
  int64_t stored_width = 0;
  int64_t stored_height = 0;
  // Size after EXIF orientation (swapped for orientations 5..8).
  int64_t width = 0;
  int64_t height = 0;
  // Colour channels as stored (1 grey, 2 grey+alpha, 3 colour, 4 colour+alpha
  // or CMYK); a palette PNG counts 3, or 4 with tRNS.
  int channels = 0;
  // Bits per sample (8 for JPEG; 1, 2, 4, 8 or 16 for PNG).
  int bit_depth = 0;
  bool has_alpha = false;
  bool palette = false;
  // EXIF orientation 1..8; 1 when absent or invalid.
  int exif_orientation = 1;
  // False when the data ends before JPEG's EOI marker or PNG's IEND chunk.
  bool complete = false;
};

// Parses the header (JPEG markers up to SOF plus APP1, then a scan for EOI;
// PNG chunks). InvalidArgument "<name>: ..." when the bytes are not a JPEG or
// PNG or the header itself is cut short. A missing end marker is not an error
// here: it is reported in `complete`.
absl::StatusOr<ImageHeader> ReadImageHeader(absl::string_view bytes,
                                            absl::string_view name);

struct DecodeOptions {
  // Decompression-bomb guard: images whose header declares more pixels are
  // refused before decoding. Default: 178956970, as
  // `DataConfig.max_image_pixels` (and PIL's MAX_IMAGE_PIXELS * 2).
  uint64_t max_pixels = 178956970;
};

struct DecodedImage {
  ImageHeader header;
  // CV_8UC3, BGR, oriented: `bgr.cols == header.width` (for
  // `DecodeImageToFit`, the fitted size instead).
  cv::Mat bgr;
};

// Decodes `bytes` under the rules above. InvalidArgument "<name>: ..." for an
// unknown format, a truncated file, a bomb, or data the codec rejects.
absl::StatusOr<DecodedImage> DecodeImage(absl::string_view bytes,
                                         absl::string_view name,
                                         const DecodeOptions& options = {});

// Checks that `bytes` decodes under the rules above, with the same errors
// as `DecodeImage`, without producing the colour image: a JPEG is decoded to
// its luma channel only (every entropy-coded segment is still decoded, so
// corrupt data is still found; colour reconstruction is skipped, about 2x
// faster). For a file that is copied as it is.
absl::Status VerifyImage(absl::string_view bytes, absl::string_view name,
                         const DecodeOptions& options = {});

// The size an image of `width` x `height` gets when its longest side is
// limited to `max_size` (0 = no limit): both sides scaled by
// max_size / longest, rounded to the nearest integer, at least 1. The same
// rule everywhere (coco_prep writes it, boxes are scaled by it).
cv::Size FitSize(int64_t width, int64_t height, int max_size);

struct FitOptions {
  // JPEG only: decode at 1/2, 1/4 or 1/8 scale with libjpeg's DCT scaling
  // (as PIL's `Image.draft`) when the result is still at least as large as
  // the fitted size, then finish with INTER_AREA. Several times faster for
  // large reductions; pixels differ slightly (within a few grey levels) from
  // a full decode followed by INTER_AREA. Default: true.
  bool dct_scaling = true;
};

// Decodes `bytes` like `DecodeImage` and resizes the result to
// `FitSize(header.width, header.height, max_size)` with INTER_AREA
// (shrinking only; an image already within `max_size` is returned as
// decoded). `header` still describes the full image. Same errors as
// `DecodeImage`.
absl::StatusOr<DecodedImage> DecodeImageToFit(absl::string_view bytes,
                                              absl::string_view name,
                                              int max_size,
                                              const DecodeOptions& options = {},
                                              const FitOptions& fit = {});

struct EncodeOptions {
  // JPEG quality 0..100. Default: 95.
  int jpeg_quality = 95;
  // PNG zlib level 0..9. Default: 3 (OpenCV's default is 1; 3 is a little
  // smaller at a similar speed).
  int png_compression = 3;
  // PNG: Huffman coding only (zlib Z_HUFFMAN_ONLY), no LZ77 matching. For
  // photo-like images (contact sheets) it is faster and often smaller.
  // Default: false.
  bool png_huffman_only = false;
};

// Encodes a CV_8UC3 BGR (or CV_8UC1) image as `format` (kJpeg or kPng;
// InvalidArgument for kUnknown). The JPEG is baseline 4:2:0 without EXIF;
// the output is a deterministic function of the pixels and options.
absl::StatusOr<std::string> EncodeImage(const cv::Mat& image,
                                        ImageFormat format,
                                        const EncodeOptions& options = {});

}  // namespace cvt

#endif  // LIBS_DATA_IMAGE_IO_H_
