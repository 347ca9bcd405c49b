// -----------------------------------------------------------------------------
// File: resnet.h
// -----------------------------------------------------------------------------
//
// ResNet-18/34/50 backbones (He et al. 2016) in LibTorch whose parameter and
// buffer names are torchvision's (`conv1.weight`, `layer2.0.downsample.1.
// running_mean`, ...), so a torchvision.models.resnet{18,34,50} state_dict
// written by Python's `torch.save` loads directly, whether saved as the
// OrderedDict of `torch.save(model.state_dict(), path)` or as a plain dict
// (state_dict.h reads both). `frozen_bn`
// replaces batch norm with torchvision's FrozenBatchNorm2d semantics (fixed
// affine transform from the stored statistics, eps 1e-5; what DETR trains
// with).
//
// `Forward` returns the outputs of layer1..layer4 (strides 4, 8, 16, 32): the
// features detection heads and FPNs take. The classifier (`fc`) is not built;
// its entries in a state_dict are ignored.
//
// Example:
//
//   CVT_ASSIGN_OR_RETURN(std::unique_ptr<ResNet> net,
//                        ResNet::Create({.depth = 50, .frozen_bn = true}));
//   CVT_RETURN_IF_ERROR(net->LoadTorchvisionStateDict("resnet50.pth"));
//   CVT_ASSIGN_OR_RETURN(std::vector<at::Tensor> c, net->Forward(images));
//
// Thread safety: not thread-safe.

#ifndef LIBS_MODELS_RESNET_H_
#define LIBS_MODELS_RESNET_H_

#include <memory>
#include <string>
#include <vector>

#include "ATen/core/Tensor.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "libs/models/state_dict.h"

namespace torch {
namespace nn {
class Module;
}  // namespace nn
}  // namespace torch

namespace cvt {

struct ResNetOptions {
  // 18, 34 (basic blocks) or 50 (bottlenecks). Default: 50.
  int depth = 50;
  // Frozen batch norm (statistics and affine fixed). Default: false.
  bool frozen_bn = false;
};

class ResNet {
 public:
  // InvalidArgument for an unsupported depth.
  static absl::StatusOr<std::unique_ptr<ResNet>> Create(
      const ResNetOptions& options);
  ~ResNet();

  // Copies every tensor of a torchvision state_dict (a `torch.save` file of
  // a dict or OrderedDict) into the backbone. Errors: NotFound for the file,
  // InvalidArgument naming the file when it is not a torch.save archive, and
  // naming the first
  // missing or unexpected key or mismatched shape (fc.* and, with frozen
  // batch norm, num_batches_tracked are ignored).
  absl::Status LoadTorchvisionStateDict(const std::string& path);

  // The same from tensors already read, named `prefix` + torchvision's name
  // (DETR checkpoints use "backbone.0.body."); `source` names them in
  // errors.
  absl::Status LoadWeights(const TensorDict& weights, const std::string& source,
                           const std::string& prefix);

  // `images` is N x 3 x H x W float. Returns {C2, C3, C4, C5}. Errors:
  // InvalidArgument for a bad shape, Unknown for a LibTorch failure.
  absl::StatusOr<std::vector<at::Tensor>> Forward(const at::Tensor& images);

  // Channels of C2..C5: 64..512 (18/34) or 256..2048 (50).
  std::vector<int64_t> channels() const;

  torch::nn::Module& module();

 private:
  struct Impl;
  explicit ResNet(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cvt

#endif  // LIBS_MODELS_RESNET_H_
