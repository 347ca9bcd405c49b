// -----------------------------------------------------------------------------
// File: detr_transformer.h
// -----------------------------------------------------------------------------
//
// DETR's transformer (Carion et al. 2020): an encoder over the flattened
// backbone features with the sine position encoding added to queries and
// keys of every layer, and a decoder whose N object queries (learned
// embeddings added to queries and keys) attend to themselves and to the
// encoder's memory. Post-norm layers, ReLU feed-forward, a final decoder
// LayerNorm; every decoder layer's normalised output is returned, for the
// auxiliary decoding losses. Parameter names are those of the reference
// implementation (`encoder.layers.0.self_attn.in_proj_weight`,
// `decoder.layers.5.multihead_attn.out_proj.bias`, `decoder.norm.weight`),
// so its weights load by name.
//
// Example:
//
//   CVT_ASSIGN_OR_RETURN(auto transformer, DetrTransformer::Create({}));
//   CVT_ASSIGN_OR_RETURN(at::Tensor hs, transformer->Forward(
//       features, pixel_mask, query_embed, pos));  // [L, B, N, d_model]

#ifndef LIBS_MODELS_DETR_TRANSFORMER_H_
#define LIBS_MODELS_DETR_TRANSFORMER_H_

#include <memory>
#include <string>

#include "ATen/core/Tensor.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace torch {
namespace nn {
class Module;
}  // namespace nn
}  // namespace torch

namespace cvt {

struct DetrTransformerOptions {
  // DETR's defaults: 256, 8 heads, 6 + 6 layers, 2048 hidden, dropout 0.1.
  int64_t d_model = 256;
  int64_t heads = 8;
  int64_t encoder_layers = 6;
  int64_t decoder_layers = 6;
  int64_t feedforward = 2048;
  double dropout = 0.1;
};

class DetrTransformer {
 public:
  // InvalidArgument for sizes that do not fit (d_model % heads != 0, ...).
  static absl::StatusOr<std::unique_ptr<DetrTransformer>> Create(
      const DetrTransformerOptions& options);
  ~DetrTransformer();

  // `features` [B, d_model, H, W] (already projected), `pixel_mask`
  // [B, H, W] bool (true on image), `query_embed` [N, d_model], `pos`
  // [B, d_model, H, W]. Returns [decoder_layers, B, N, d_model].
  absl::StatusOr<at::Tensor> Forward(const at::Tensor& features,
                                     const at::Tensor& pixel_mask,
                                     const at::Tensor& query_embed,
                                     const at::Tensor& pos);

  // Copies tensors named like the reference implementation's transformer
  // (without a "transformer." prefix) from a `torch.save`d plain dict.
  // InvalidArgument names the first missing key or mismatched shape.
  absl::Status LoadStateDict(const std::string& path);

  torch::nn::Module& module();

 private:
  struct Impl;
  explicit DetrTransformer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cvt

#endif  // LIBS_MODELS_DETR_TRANSFORMER_H_
