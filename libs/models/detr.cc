#include "libs/models/detr.h"

#include <string>
#include <vector>

#include "ATen/ATen.h"
#include "absl/strings/str_cat.h"
#include "libs/base/exceptions.h"
#include "libs/base/status_macros.h"
#include "libs/models/position_encoding.h"
#include "libs/models/state_dict.h"
#include "torch/nn/module.h"
#include "torch/nn/modules/container/modulelist.h"
#include "torch/nn/modules/conv.h"
#include "torch/nn/modules/embedding.h"
#include "torch/nn/modules/linear.h"

namespace cvt {
namespace {

namespace nn = torch::nn;

// Everything of DETR outside the backbone and the transformer, with the
// reference names.
struct HeadsImpl : nn::Module {
  HeadsImpl(int64_t backbone_channels, const DetrOptions& o) {
    const int64_t d = o.transformer.d_model;
    input_proj = register_module(
        "input_proj", nn::Conv2d(nn::Conv2dOptions(backbone_channels, d, 1)));
    query_embed = register_module("query_embed", nn::Embedding(o.queries, d));
    class_embed =
        register_module("class_embed", nn::Linear(d, o.num_classes + 1));
    bbox_embed = register_module("bbox_embed", std::make_shared<nn::Module>());
    layers = bbox_embed->register_module("layers", nn::ModuleList());
    layers->push_back(nn::Linear(d, d));
    layers->push_back(nn::Linear(d, d));
    layers->push_back(nn::Linear(d, 4));
  }
  at::Tensor Boxes(at::Tensor x) {
    for (size_t i = 0; i < layers->size(); ++i) {
      x = layers[i]->as<nn::LinearImpl>()->forward(x);
      if (i + 1 < layers->size()) x = x.relu();
    }
    return x.sigmoid();
  }
  nn::Conv2d input_proj{nullptr};
  nn::Embedding query_embed{nullptr};
  nn::Linear class_embed{nullptr};
  std::shared_ptr<nn::Module> bbox_embed;
  nn::ModuleList layers{nullptr};
};

}  // namespace

struct Detr::Impl {
  DetrOptions options;
  std::unique_ptr<ResNet> backbone;
  std::unique_ptr<DetrTransformer> transformer;
  std::shared_ptr<HeadsImpl> heads;
};

Detr::Detr(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Detr::~Detr() = default;

absl::StatusOr<std::unique_ptr<Detr>> Detr::Create(const DetrOptions& options) {
  if (options.queries <= 0 || options.num_classes <= 0) {
    return absl::InvalidArgumentError("DETR needs queries > 0 and classes > 0");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  CVT_ASSIGN_OR_RETURN(impl->backbone, ResNet::Create(options.backbone));
  CVT_ASSIGN_OR_RETURN(impl->transformer,
                       DetrTransformer::Create(options.transformer));
  int64_t channels = impl->backbone->channels().back();
  CVT_RETURN_IF_ERROR(CallCatchingExceptions("building DETR", [&] {
    impl->heads = std::make_shared<HeadsImpl>(channels, options);
    return absl::OkStatus();
  }));
  return std::unique_ptr<Detr>(new Detr(std::move(impl)));
}

absl::StatusOr<std::vector<DetrOutput>> Detr::Forward(
    const at::Tensor& images, const at::Tensor& pixel_mask) {
  if (pixel_mask.dim() != 3 || images.dim() != 4 ||
      pixel_mask.size(0) != images.size(0) ||
      pixel_mask.size(1) != images.size(2) ||
      pixel_mask.size(2) != images.size(3)) {
    return absl::InvalidArgumentError(
        "DETR needs images [B, 3, H, W] and pixel_mask [B, H, W]");
  }
  CVT_ASSIGN_OR_RETURN(std::vector<at::Tensor> features,
                       impl_->backbone->Forward(images));
  return CallCatchingExceptions(
      "DETR forward", [&]() -> absl::StatusOr<std::vector<DetrOutput>> {
        const at::Tensor& c5 = features.back();
        at::Tensor mask =
            at::upsample_nearest2d(pixel_mask.unsqueeze(1).to(at::kFloat),
                                   {c5.size(2), c5.size(3)})
                .squeeze(1)
                .to(at::kBool);
        SinePositionOptions pos_options;
        pos_options.num_features = impl_->options.transformer.d_model / 2;
        at::Tensor pos = SinePositionEncoding(mask, pos_options);
        at::Tensor src = impl_->heads->input_proj->forward(c5);
        absl::StatusOr<at::Tensor> hs = impl_->transformer->Forward(
            src, mask, impl_->heads->query_embed->weight, pos);
        if (!hs.ok()) return hs.status();
        std::vector<DetrOutput> outputs;
        for (int64_t layer = hs->size(0) - 1; layer >= 0; --layer) {
          at::Tensor h = (*hs)[layer];
          outputs.push_back(
              {impl_->heads->class_embed->forward(h), impl_->heads->Boxes(h)});
        }
        return outputs;
      });
}

absl::Status Detr::LoadStateDict(const std::string& path) {
  CVT_ASSIGN_OR_RETURN(TensorDict weights, ReadTorchSaveDict(path));
  CVT_RETURN_IF_ERROR(
      impl_->backbone->LoadWeights(weights, path, "backbone.0.body."));
  CVT_RETURN_IF_ERROR(CopyIntoModule(weights, path, "transformer.",
                                     impl_->transformer->module(), nullptr));
  return CopyIntoModule(weights, path, "", *impl_->heads, nullptr);
}

std::vector<at::Tensor> Detr::parameters() {
  std::vector<at::Tensor> out = impl_->backbone->module().parameters();
  for (const at::Tensor& p : impl_->transformer->module().parameters()) {
    out.push_back(p);
  }
  for (const at::Tensor& p : impl_->heads->parameters()) out.push_back(p);
  return out;
}

namespace {

void AppendNamed(const std::string& prefix,
                 const torch::OrderedDict<std::string, at::Tensor>& named,
                 std::vector<std::pair<std::string, at::Tensor>>& out) {
  for (const auto& item : named) {
    out.emplace_back(prefix + item.key(), item.value());
  }
}

}  // namespace

std::vector<std::pair<std::string, at::Tensor>> Detr::named_parameters() {
  std::vector<std::pair<std::string, at::Tensor>> out;
  AppendNamed("backbone.0.body.", impl_->backbone->module().named_parameters(),
              out);
  AppendNamed("transformer.", impl_->transformer->module().named_parameters(),
              out);
  AppendNamed("", impl_->heads->named_parameters(), out);
  return out;
}

std::vector<std::pair<std::string, at::Tensor>> Detr::named_buffers() {
  std::vector<std::pair<std::string, at::Tensor>> out;
  AppendNamed("backbone.0.body.", impl_->backbone->module().named_buffers(),
              out);
  AppendNamed("transformer.", impl_->transformer->module().named_buffers(),
              out);
  AppendNamed("", impl_->heads->named_buffers(), out);
  return out;
}

absl::Status Detr::LoadBackboneStateDict(const std::string& path) {
  return impl_->backbone->LoadTorchvisionStateDict(path);
}

void Detr::train(bool on) {
  impl_->backbone->module().train(on);
  impl_->transformer->module().train(on);
  impl_->heads->train(on);
}

}  // namespace cvt
