// -----------------------------------------------------------------------------
// File: png.h
// -----------------------------------------------------------------------------
//
// A minimal PNG encoder (8-bit RGB, zlib-compressed, no filtering) for plots.
// Tools that only write plots use it instead of OpenCV's imgcodecs, whose
// ~140 shared libraries cost ~80 ms of dynamic linking at every start.

#ifndef LIBS_BASE_PNG_H_
#define LIBS_BASE_PNG_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace cvt {

// Encodes `rgb` (height rows of width * 3 bytes, R, G, B) as a PNG file.
// InvalidArgument if the sizes disagree.
absl::StatusOr<std::string> EncodePngRgb(int width, int height,
                                         absl::Span<const uint8_t> rgb);

}  // namespace cvt

#endif  // LIBS_BASE_PNG_H_
