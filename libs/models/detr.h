// -----------------------------------------------------------------------------
// File: detr.h
// -----------------------------------------------------------------------------
//
// The DETR detector (Carion et al. 2020) assembled from this folder's parts:
// a ResNet backbone (resnet.h) whose C5 features go through a 1x1 input
// projection to d_model, the sine position encoding of the downsampled
// pixel mask (position_encoding.h), the transformer with N learned object
// queries (detr_transformer.h), and per decoder layer a linear class head
// (C + 1 logits, the last "no object") and a 3-layer MLP box head with a
// sigmoid (cxcywh in [0, 1]). Weights load by the reference
// implementation's names (`backbone.0.body.*`, `input_proj.*`,
// `query_embed.weight`, `transformer.*`, `class_embed.*`,
// `bbox_embed.layers.{0,1,2}.*`).
//
// Example:
//
//   CVT_ASSIGN_OR_RETURN(auto detr, Detr::Create(options));
//   CVT_ASSIGN_OR_RETURN(std::vector<DetrOutput> out,
//                        detr->Forward(images, pixel_mask));
//   // out[0] is the last decoder layer; the rest feed the auxiliary losses.

#ifndef LIBS_MODELS_DETR_H_
#define LIBS_MODELS_DETR_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ATen/core/Tensor.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "libs/models/detr_loss.h"
#include "libs/models/detr_transformer.h"
#include "libs/models/resnet.h"

namespace cvt {

struct DetrOptions {
  ResNetOptions backbone;  // DETR: ResNet-50 with frozen batch norm.
  DetrTransformerOptions transformer;
  // Object queries. Default: 100.
  int64_t queries = 100;
  // Object classes, without "no object". Default: 91 (COCO ids).
  int64_t num_classes = 91;
};

class Detr {
 public:
  // InvalidArgument for bad sizes.
  static absl::StatusOr<std::unique_ptr<Detr>> Create(
      const DetrOptions& options);
  ~Detr();

  // `images` [B, 3, H, W] (normalised), `pixel_mask` [B, H, W] bool (true
  // on image pixels). Returns the outputs of every decoder layer, the last
  // first.
  absl::StatusOr<std::vector<DetrOutput>> Forward(const at::Tensor& images,
                                                  const at::Tensor& pixel_mask);

  // Loads a `torch.save`d plain dict with the reference names (see above).
  absl::Status LoadStateDict(const std::string& path);

  // Every parameter (backbone, heads, transformer), frozen ones included.
  std::vector<at::Tensor> parameters();
  // The same with the reference names (`backbone.0.body.layer1.0.conv1.weight`,
  // `transformer.encoder.layers.0...`, `class_embed.weight`, ...), the keys
  // LoadStateDict reads; checkpoints store them.
  std::vector<std::pair<std::string, at::Tensor>> named_parameters();
  // Batch-norm statistics (empty with frozen batch norm, whose statistics
  // are parameters-like buffers too), by reference name.
  std::vector<std::pair<std::string, at::Tensor>> named_buffers();
  // Loads the torchvision names of a backbone state_dict
  // (ResNet::LoadTorchvisionStateDict).
  absl::Status LoadBackboneStateDict(const std::string& path);
  void train(bool on);

 private:
  struct Impl;
  explicit Detr(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cvt

#endif  // LIBS_MODELS_DETR_H_
