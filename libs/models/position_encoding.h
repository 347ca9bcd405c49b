// -----------------------------------------------------------------------------
// File: position_encoding.h
// -----------------------------------------------------------------------------
//
// DETR's sine position encoding (PositionEmbeddingSine, Carion et al. 2020):
// for each valid pixel, its row and column counts within the image (the
// `pixel_mask` marks padding), normalised to (0, 2*pi], encoded by sines and
// cosines of `num_features` frequencies temperature^(2*floor(k/2)/
// num_features). The result has 2 * num_features channels: y first, then x.
//
// Example:
//
//   at::Tensor pos = SinePositionEncoding(pixel_mask, {});  // [B, 256, H, W]

#ifndef LIBS_MODELS_POSITION_ENCODING_H_
#define LIBS_MODELS_POSITION_ENCODING_H_

#include "ATen/core/Tensor.h"

namespace cvt {

struct SinePositionOptions {
  // Frequencies per axis. Default: 128 (DETR's d_model 256 / 2).
  int64_t num_features = 128;
  double temperature = 10000;
  // Normalise positions to (0, 2 pi] per image. Default: true.
  bool normalize = true;
};

// `pixel_mask` is [B, H, W] bool, true on image pixels (false on padding).
// Returns [B, 2 * num_features, H, W] float.
at::Tensor SinePositionEncoding(const at::Tensor& pixel_mask,
                                const SinePositionOptions& options);

}  // namespace cvt

#endif  // LIBS_MODELS_POSITION_ENCODING_H_
