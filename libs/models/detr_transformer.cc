#include "libs/models/detr_transformer.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "libs/base/exceptions.h"
#include "libs/models/state_dict.h"
#include "torch/nn/module.h"
#include "torch/nn/modules/activation.h"
#include "torch/nn/modules/container/modulelist.h"
#include "torch/nn/modules/dropout.h"
#include "torch/nn/modules/linear.h"
#include "torch/nn/modules/normalization.h"

namespace cvt {
namespace {

namespace nn = torch::nn;

at::Tensor WithPos(const at::Tensor& x, const at::Tensor& pos) {
  return pos.defined() ? x + pos : x;
}

struct FeedForward {
  nn::Linear linear1{nullptr}, linear2{nullptr};
  nn::Dropout dropout{nullptr};
};

struct EncoderLayerImpl : nn::Module {
  explicit EncoderLayerImpl(const DetrTransformerOptions& o) {
    self_attn = register_module(
        "self_attn",
        nn::MultiheadAttention(nn::MultiheadAttentionOptions(o.d_model, o.heads)
                                   .dropout(o.dropout)));
    linear1 = register_module("linear1", nn::Linear(o.d_model, o.feedforward));
    linear2 = register_module("linear2", nn::Linear(o.feedforward, o.d_model));
    norm1 = register_module("norm1",
                            nn::LayerNorm(nn::LayerNormOptions({o.d_model})));
    norm2 = register_module("norm2",
                            nn::LayerNorm(nn::LayerNormOptions({o.d_model})));
    dropout = register_module("dropout", nn::Dropout(o.dropout));
    dropout1 = register_module("dropout1", nn::Dropout(o.dropout));
    dropout2 = register_module("dropout2", nn::Dropout(o.dropout));
  }
  at::Tensor forward(at::Tensor src, const at::Tensor& padding,
                     const at::Tensor& pos) {
    at::Tensor q = WithPos(src, pos);
    at::Tensor attended = std::get<0>(self_attn->forward(q, q, src, padding));
    src = norm1->forward(src + dropout1->forward(attended));
    at::Tensor ff =
        linear2->forward(dropout->forward(linear1->forward(src).relu()));
    return norm2->forward(src + dropout2->forward(ff));
  }
  nn::MultiheadAttention self_attn{nullptr};
  nn::Linear linear1{nullptr}, linear2{nullptr};
  nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  nn::Dropout dropout{nullptr}, dropout1{nullptr}, dropout2{nullptr};
};
TORCH_MODULE(EncoderLayer);

struct DecoderLayerImpl : nn::Module {
  explicit DecoderLayerImpl(const DetrTransformerOptions& o) {
    auto attn = [&] {
      return nn::MultiheadAttention(
          nn::MultiheadAttentionOptions(o.d_model, o.heads).dropout(o.dropout));
    };
    self_attn = register_module("self_attn", attn());
    multihead_attn = register_module("multihead_attn", attn());
    linear1 = register_module("linear1", nn::Linear(o.d_model, o.feedforward));
    linear2 = register_module("linear2", nn::Linear(o.feedforward, o.d_model));
    for (int i = 0; i < 3; ++i) {
      norms.push_back(
          register_module(absl::StrCat("norm", i + 1),
                          nn::LayerNorm(nn::LayerNormOptions({o.d_model}))));
      dropouts.push_back(register_module(absl::StrCat("dropout", i + 1),
                                         nn::Dropout(o.dropout)));
    }
    dropout = register_module("dropout", nn::Dropout(o.dropout));
  }
  at::Tensor forward(at::Tensor tgt, const at::Tensor& memory,
                     const at::Tensor& padding, const at::Tensor& pos,
                     const at::Tensor& query_pos) {
    at::Tensor q = WithPos(tgt, query_pos);
    tgt = norms[0]->forward(
        tgt + dropouts[0]->forward(std::get<0>(self_attn->forward(q, q, tgt))));
    at::Tensor cross = std::get<0>(multihead_attn->forward(
        WithPos(tgt, query_pos), WithPos(memory, pos), memory, padding));
    tgt = norms[1]->forward(tgt + dropouts[1]->forward(cross));
    at::Tensor ff =
        linear2->forward(dropout->forward(linear1->forward(tgt).relu()));
    return norms[2]->forward(tgt + dropouts[2]->forward(ff));
  }
  nn::MultiheadAttention self_attn{nullptr}, multihead_attn{nullptr};
  nn::Linear linear1{nullptr}, linear2{nullptr};
  std::vector<nn::LayerNorm> norms;
  std::vector<nn::Dropout> dropouts;
  nn::Dropout dropout{nullptr};
};
TORCH_MODULE(DecoderLayer);

struct EncoderImpl : nn::Module {
  explicit EncoderImpl(const DetrTransformerOptions& o) {
    layers = register_module("layers", nn::ModuleList());
    for (int64_t i = 0; i < o.encoder_layers; ++i) {
      layers->push_back(EncoderLayer(o));
    }
  }
  nn::ModuleList layers{nullptr};
};
TORCH_MODULE(Encoder);

struct DecoderImpl : nn::Module {
  explicit DecoderImpl(const DetrTransformerOptions& o) {
    layers = register_module("layers", nn::ModuleList());
    for (int64_t i = 0; i < o.decoder_layers; ++i) {
      layers->push_back(DecoderLayer(o));
    }
    norm = register_module("norm",
                           nn::LayerNorm(nn::LayerNormOptions({o.d_model})));
  }
  nn::ModuleList layers{nullptr};
  nn::LayerNorm norm{nullptr};
};
TORCH_MODULE(Decoder);

struct TransformerModule : nn::Module {
  explicit TransformerModule(const DetrTransformerOptions& o) {
    encoder = register_module("encoder", Encoder(o));
    decoder = register_module("decoder", Decoder(o));
  }
  at::Tensor forward(const at::Tensor& features, const at::Tensor& pixel_mask,
                     const at::Tensor& query_embed, const at::Tensor& pos) {
    const int64_t batch = features.size(0);
    // [B, C, H, W] -> [HW, B, C], as nn.MultiheadAttention wants.
    at::Tensor src = features.flatten(2).permute({2, 0, 1});
    at::Tensor pos_embed = pos.flatten(2).permute({2, 0, 1});
    at::Tensor query = query_embed.unsqueeze(1).repeat({1, batch, 1});
    at::Tensor padding = pixel_mask.logical_not().flatten(1);
    at::Tensor memory = src;
    for (const auto& layer : *encoder->layers) {
      memory =
          layer->as<EncoderLayerImpl>()->forward(memory, padding, pos_embed);
    }
    at::Tensor tgt = torch::zeros_like(query);
    std::vector<at::Tensor> intermediate;
    for (const auto& layer : *decoder->layers) {
      tgt = layer->as<DecoderLayerImpl>()->forward(tgt, memory, padding,
                                                   pos_embed, query);
      intermediate.push_back(decoder->norm->forward(tgt));
    }
    // [L, N, B, C] -> [L, B, N, C]
    return torch::stack(intermediate).transpose(1, 2);
  }
  Encoder encoder{nullptr};
  Decoder decoder{nullptr};
};

}  // namespace

struct DetrTransformer::Impl {
  std::shared_ptr<TransformerModule> net;
};

DetrTransformer::DetrTransformer(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
DetrTransformer::~DetrTransformer() = default;

absl::StatusOr<std::unique_ptr<DetrTransformer>> DetrTransformer::Create(
    const DetrTransformerOptions& options) {
  if (options.d_model <= 0 || options.heads <= 0 ||
      options.d_model % options.heads != 0 || options.encoder_layers < 0 ||
      options.decoder_layers <= 0 || options.feedforward <= 0) {
    return absl::InvalidArgumentError(
        "DETR transformer: d_model must be a positive multiple of heads, with "
        "at least one decoder layer");
  }
  return CallCatchingExceptions(
      "building the DETR transformer",
      [&]() -> absl::StatusOr<std::unique_ptr<DetrTransformer>> {
        auto impl = std::make_unique<Impl>();
        impl->net = std::make_shared<TransformerModule>(options);
        return std::unique_ptr<DetrTransformer>(
            new DetrTransformer(std::move(impl)));
      });
}

torch::nn::Module& DetrTransformer::module() { return *impl_->net; }

absl::StatusOr<at::Tensor> DetrTransformer::Forward(
    const at::Tensor& features, const at::Tensor& pixel_mask,
    const at::Tensor& query_embed, const at::Tensor& pos) {
  if (features.dim() != 4 || pixel_mask.dim() != 3 || query_embed.dim() != 2 ||
      pos.sizes() != features.sizes()) {
    return absl::InvalidArgumentError(
        "DETR transformer needs features [B, C, H, W], pixel_mask [B, H, W], "
        "query_embed [N, C] and pos [B, C, H, W]");
  }
  return CallCatchingExceptions(
      "DETR transformer forward", [&]() -> absl::StatusOr<at::Tensor> {
        return impl_->net->forward(features, pixel_mask, query_embed, pos);
      });
}

absl::Status DetrTransformer::LoadStateDict(const std::string& path) {
  absl::StatusOr<TensorDict> weights = ReadTorchSaveDict(path);
  if (!weights.ok()) return weights.status();
  return CopyIntoModule(*weights, path, "", *impl_->net, nullptr);
}

}  // namespace cvt
