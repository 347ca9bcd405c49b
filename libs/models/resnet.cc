#include "libs/models/resnet.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "libs/base/exceptions.h"
#include "libs/models/state_dict.h"
#include "torch/nn/module.h"
#include "torch/nn/modules/batchnorm.h"
#include "torch/nn/modules/container/sequential.h"
#include "torch/nn/modules/conv.h"
#include "torch/nn/modules/pooling.h"

namespace cvt {
namespace {

namespace nn = torch::nn;

// torchvision.ops.FrozenBatchNorm2d: the same four tensors as BatchNorm2d,
// used as a fixed affine map.
struct FrozenBatchNorm2dImpl : nn::Module {
  explicit FrozenBatchNorm2dImpl(int64_t channels) {
    weight = register_buffer("weight", torch::ones({channels}));
    bias = register_buffer("bias", torch::zeros({channels}));
    running_mean = register_buffer("running_mean", torch::zeros({channels}));
    running_var = register_buffer("running_var", torch::ones({channels}));
  }
  at::Tensor forward(const at::Tensor& x) {
    at::Tensor scale = weight * (running_var + 1e-5).rsqrt();
    at::Tensor shift = bias - running_mean * scale;
    return x * scale.reshape({1, -1, 1, 1}) + shift.reshape({1, -1, 1, 1});
  }
  at::Tensor weight, bias, running_mean, running_var;
};
TORCH_MODULE(FrozenBatchNorm2d);

nn::AnyModule Norm(int64_t channels, bool frozen) {
  if (frozen) return nn::AnyModule(FrozenBatchNorm2d(channels));
  return nn::AnyModule(nn::BatchNorm2d(channels));
}

nn::Conv2d Conv(int64_t in, int64_t out, int64_t kernel, int64_t stride) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, kernel)
                        .stride(stride)
                        .padding(kernel / 2)
                        .bias(false));
}

// One residual block: torchvision's BasicBlock (two 3x3) or Bottleneck
// (1x1, 3x3 with the stride, 1x1 x4), with names conv1, bn1, ... and an
// optional downsample = Sequential(conv 1x1, norm).
struct BlockImpl : nn::Module {
  BlockImpl(int64_t in, int64_t width, int64_t stride, bool bottleneck,
            bool frozen)
      : bottleneck(bottleneck) {
    int64_t out = bottleneck ? width * 4 : width;
    if (bottleneck) {
      conv1 = register_module("conv1", Conv(in, width, 1, 1));
      bn1 = register_module("bn1", Norm(width, frozen).ptr());
      conv2 = register_module("conv2", Conv(width, width, 3, stride));
      bn2 = register_module("bn2", Norm(width, frozen).ptr());
      conv3 = register_module("conv3", Conv(width, out, 1, 1));
      bn3 = register_module("bn3", Norm(out, frozen).ptr());
    } else {
      conv1 = register_module("conv1", Conv(in, width, 3, stride));
      bn1 = register_module("bn1", Norm(width, frozen).ptr());
      conv2 = register_module("conv2", Conv(width, width, 3, 1));
      bn2 = register_module("bn2", Norm(width, frozen).ptr());
    }
    if (stride != 1 || in != out) {
      downsample = register_module("downsample",
                                   nn::Sequential(Conv(in, out, 1, stride)));
      downsample->push_back(Norm(out, frozen));
    }
  }

  static at::Tensor ApplyNorm(const std::shared_ptr<nn::Module>& norm,
                              const at::Tensor& x) {
    if (auto bn = std::dynamic_pointer_cast<nn::BatchNorm2dImpl>(norm)) {
      return bn->forward(x);
    }
    return std::dynamic_pointer_cast<FrozenBatchNorm2dImpl>(norm)->forward(x);
  }

  at::Tensor forward(const at::Tensor& x) {
    at::Tensor y = ApplyNorm(bn1, conv1->forward(x)).relu();
    y = ApplyNorm(bn2, conv2->forward(y));
    if (bottleneck) y = ApplyNorm(bn3, conv3->forward(y.relu()));
    at::Tensor identity = downsample.is_empty() ? x : downsample->forward(x);
    return (y + identity).relu();
  }

  bool bottleneck;
  nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  std::shared_ptr<nn::Module> bn1, bn2, bn3;
  nn::Sequential downsample{nullptr};
};
TORCH_MODULE(Block);

struct ResNetModule : nn::Module {
  ResNetModule(const ResNetOptions& options) {
    bool bottleneck = options.depth >= 50;
    std::vector<int> blocks = options.depth == 18
                                  ? std::vector<int>{2, 2, 2, 2}
                                  : std::vector<int>{3, 4, 6, 3};
    conv1 = register_module(
        "conv1",
        nn::Conv2d(
            nn::Conv2dOptions(3, 64, 7).stride(2).padding(3).bias(false)));
    bn1 = register_module("bn1", Norm(64, options.frozen_bn).ptr());
    int64_t in = 64;
    for (int stage = 0; stage < 4; ++stage) {
      int64_t width = 64 << stage;
      nn::Sequential layer;
      for (int b = 0; b < blocks[stage]; ++b) {
        int64_t stride = (b == 0 && stage > 0) ? 2 : 1;
        layer->push_back(
            Block(in, width, stride, bottleneck, options.frozen_bn));
        in = bottleneck ? width * 4 : width;
      }
      layers.push_back(
          register_module(absl::StrCat("layer", stage + 1), layer));
      channels.push_back(in);
    }
  }

  std::vector<at::Tensor> forward(const at::Tensor& images) {
    at::Tensor x = BlockImpl::ApplyNorm(bn1, conv1->forward(images)).relu();
    x = torch::max_pool2d(x, 3, 2, 1);
    std::vector<at::Tensor> out;
    for (auto& layer : layers) {
      x = layer->forward(x);
      out.push_back(x);
    }
    return out;
  }

  nn::Conv2d conv1{nullptr};
  std::shared_ptr<nn::Module> bn1;
  std::vector<nn::Sequential> layers;
  std::vector<int64_t> channels;
};

}  // namespace

struct ResNet::Impl {
  ResNetOptions options;
  std::shared_ptr<ResNetModule> net;
};

ResNet::ResNet(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ResNet::~ResNet() = default;

absl::StatusOr<std::unique_ptr<ResNet>> ResNet::Create(
    const ResNetOptions& options) {
  if (options.depth != 18 && options.depth != 34 && options.depth != 50) {
    return absl::InvalidArgumentError(
        absl::StrCat("ResNet depth must be 18, 34 or 50, not ", options.depth));
  }
  return CallCatchingExceptions(
      "building the ResNet", [&]() -> absl::StatusOr<std::unique_ptr<ResNet>> {
        auto impl = std::make_unique<Impl>();
        impl->options = options;
        impl->net = std::make_shared<ResNetModule>(options);
        return std::unique_ptr<ResNet>(new ResNet(std::move(impl)));
      });
}

std::vector<int64_t> ResNet::channels() const { return impl_->net->channels; }

torch::nn::Module& ResNet::module() { return *impl_->net; }

absl::StatusOr<std::vector<at::Tensor>> ResNet::Forward(
    const at::Tensor& images) {
  if (images.dim() != 4 || images.size(1) != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("ResNet input must be N x 3 x H x W, not ",
                     images.sizes().size(), "-d"));
  }
  return CallCatchingExceptions(
      "ResNet forward", [&]() -> absl::StatusOr<std::vector<at::Tensor>> {
        return impl_->net->forward(images);
      });
}

absl::Status ResNet::LoadTorchvisionStateDict(const std::string& path) {
  absl::StatusOr<TensorDict> weights = ReadTorchSaveDict(path);
  if (!weights.ok()) return weights.status();
  return LoadWeights(*weights, path, "");
}

absl::Status ResNet::LoadWeights(const TensorDict& weights,
                                 const std::string& source,
                                 const std::string& prefix) {
  const bool frozen = impl_->options.frozen_bn;
  return CopyIntoModule(
      weights, source, prefix, *impl_->net, [frozen](const std::string& name) {
        return absl::StartsWith(name, "fc.") ||
               (frozen && absl::EndsWith(name, ".num_batches_tracked"));
      });
}

}  // namespace cvt
