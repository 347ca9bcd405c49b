#include "libs/models/position_encoding.h"

#include <cmath>

#include "ATen/ATen.h"

namespace cvt {

at::Tensor SinePositionEncoding(const at::Tensor& pixel_mask,
                                const SinePositionOptions& options) {
  at::Tensor valid = pixel_mask.to(at::kFloat);
  at::Tensor y = valid.cumsum(1);
  at::Tensor x = valid.cumsum(2);
  if (options.normalize) {
    const double eps = 1e-6, scale = 2 * M_PI;
    y = y / (y.slice(1, -1) + eps) * scale;
    x = x / (x.slice(2, -1) + eps) * scale;
  }
  at::Tensor k =
      at::arange(options.num_features, at::TensorOptions().dtype(at::kFloat));
  at::Tensor dim_t = at::pow(
      options.temperature,
      2 * at::floor_divide(k, 2) / static_cast<double>(options.num_features));
  auto encode = [&](const at::Tensor& positions) {
    at::Tensor p = positions.unsqueeze(-1) / dim_t;  // [B, H, W, F]
    at::Tensor even = p.slice(3, 0, at::indexing::None, 2).sin();
    at::Tensor odd = p.slice(3, 1, at::indexing::None, 2).cos();
    return at::stack({even, odd}, 4).flatten(3);
  };
  return at::cat({encode(y), encode(x)}, 3).permute({0, 3, 1, 2});
}

}  // namespace cvt
