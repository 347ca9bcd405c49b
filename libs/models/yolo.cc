#include "libs/models/yolo.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ATen/ATen.h"
#include "absl/strings/str_cat.h"
#include "libs/base/exceptions.h"
#include "libs/base/status_macros.h"
#include "libs/models/sync_batch_norm.h"
#include "torch/nn/module.h"
#include "torch/nn/modules/batchnorm.h"
#include "torch/nn/modules/container/modulelist.h"
#include "torch/nn/modules/conv.h"

namespace cvt {
namespace {

namespace nn = torch::nn;

struct SizeSpec {
  std::vector<int64_t> channels;  // c0..c4
  std::vector<int64_t> depths;    // n0..n3
  int64_t neck_depth;
};

SizeSpec SpecFor(YoloOptions::Size size) {
  switch (size) {
    case YoloOptions::Size::kNano:
      return {{16, 32, 64, 128, 256}, {1, 2, 2, 1}, 1};
    case YoloOptions::Size::kSmall:
      return {{32, 64, 128, 256, 512}, {1, 2, 2, 1}, 1};
    case YoloOptions::Size::kMedium:
      return {{48, 96, 192, 384, 576}, {2, 4, 4, 2}, 2};
  }
  return {{16, 32, 64, 128, 256}, {1, 2, 2, 1}, 1};
}

// Options of a `kernel` x `kernel` convolution. A 1x1 kernel gets dilation
// 2, which changes nothing in the result but steers LibTorch 1.13 to
// oneDNN: single-threaded, it computes undilated 1x1 convolutions with
// im2col + BLAS, and Debian's reference BLAS makes that several times
// slower than the whole rest of the network.
nn::Conv2dOptions ConvOptions(int64_t in, int64_t out, int64_t kernel,
                              int64_t stride) {
  return nn::Conv2dOptions(in, out, kernel)
      .stride(stride)
      .padding(kernel / 2)
      .dilation(kernel == 1 ? 2 : 1);
}

// Conv2d without bias, BatchNorm2d, SiLU.
struct ConvImpl : nn::Module {
  ConvImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride) {
    conv = register_module(
        "conv", nn::Conv2d(ConvOptions(in, out, kernel, stride).bias(false)));
    bn = register_module(
        "bn",
        nn::BatchNorm2d(nn::BatchNorm2dOptions(out).eps(1e-3).momentum(0.1)));
  }
  at::Tensor forward(const at::Tensor& x) {
    at::Tensor y = conv->forward(x);
    if (sync != nullptr && is_training()) {
      {
        at::NoGradGuard no_grad;
        bn->num_batches_tracked.add_(1);
      }
      return at::silu(SyncBatchNorm(
          y, bn->weight, bn->bias, bn->running_mean, bn->running_var,
          bn->options.momentum().value_or(0.1), bn->options.eps(), *sync));
    }
    return at::silu(bn->forward(y));
  }
  nn::Conv2d conv{nullptr};
  nn::BatchNorm2d bn{nullptr};
  // Data parallel: batch statistics over all ranks (Yolo::SyncBatchNorm).
  const SumTensorsOverRanks* sync = nullptr;
};
TORCH_MODULE(Conv);

// Two 3x3 convs, with an optional residual.
struct BottleneckImpl : nn::Module {
  BottleneckImpl(int64_t channels, bool residual) : residual(residual) {
    conv1 = register_module("conv1", Conv(channels, channels, 3, 1));
    conv2 = register_module("conv2", Conv(channels, channels, 3, 1));
  }
  at::Tensor forward(const at::Tensor& x) {
    at::Tensor y = conv2->forward(conv1->forward(x));
    return residual ? x + y : y;
  }
  bool residual;
  Conv conv1{nullptr}, conv2{nullptr};
};
TORCH_MODULE(Bottleneck);

// C2f: split into two halves after a 1x1, chain the bottlenecks on the
// second, concatenate everything, fuse with a 1x1.
struct C2fImpl : nn::Module {
  C2fImpl(int64_t in, int64_t out, int64_t depth, bool residual)
      : hidden(out / 2) {
    reduce = register_module("reduce", Conv(in, 2 * hidden, 1, 1));
    blocks = register_module("blocks", nn::ModuleList());
    for (int64_t i = 0; i < depth; ++i) {
      blocks->push_back(Bottleneck(hidden, residual));
    }
    fuse = register_module("fuse", Conv((2 + depth) * hidden, out, 1, 1));
  }
  at::Tensor forward(const at::Tensor& x) {
    std::vector<at::Tensor> parts = reduce->forward(x).chunk(2, 1);
    for (size_t i = 0; i < blocks->size(); ++i) {
      parts.push_back(blocks[i]->as<BottleneckImpl>()->forward(parts.back()));
    }
    return fuse->forward(at::cat(parts, 1));
  }
  int64_t hidden;
  Conv reduce{nullptr}, fuse{nullptr};
  nn::ModuleList blocks{nullptr};
};
TORCH_MODULE(C2f);

// SPPF: 1x1 to half, three chained 5x5 stride-1 max pools (receptive
// fields 5, 9, 13), concatenate the four, fuse with a 1x1.
struct SppfImpl : nn::Module {
  SppfImpl(int64_t in, int64_t out) {
    reduce = register_module("reduce", Conv(in, in / 2, 1, 1));
    fuse = register_module("fuse", Conv(in / 2 * 4, out, 1, 1));
  }
  at::Tensor forward(const at::Tensor& x) {
    std::vector<at::Tensor> parts = {reduce->forward(x)};
    for (int i = 0; i < 3; ++i) {
      parts.push_back(at::max_pool2d(parts.back(), {5, 5}, {1, 1}, {2, 2}));
    }
    return fuse->forward(at::cat(parts, 1));
  }
  Conv reduce{nullptr}, fuse{nullptr};
};
TORCH_MODULE(Sppf);

struct StageImpl : nn::Module {
  StageImpl(int64_t in, int64_t out, int64_t depth, bool sppf) {
    down = register_module("down", Conv(in, out, 3, 2));
    csp = register_module("csp", C2f(out, out, depth, true));
    if (sppf) pool = register_module("sppf", Sppf(out, out));
  }
  at::Tensor forward(const at::Tensor& x) {
    at::Tensor y = csp->forward(down->forward(x));
    return pool ? pool->forward(y) : y;
  }
  Conv down{nullptr};
  C2f csp{nullptr};
  Sppf pool{nullptr};
};
TORCH_MODULE(Stage);

struct BackboneImpl : nn::Module {
  explicit BackboneImpl(const SizeSpec& s) {
    const std::vector<int64_t>& c = s.channels;
    stem = register_module("stem", Conv(3, c[0], 3, 2));
    stage1 = register_module("stage1", Stage(c[0], c[1], s.depths[0], false));
    stage2 = register_module("stage2", Stage(c[1], c[2], s.depths[1], false));
    stage3 = register_module("stage3", Stage(c[2], c[3], s.depths[2], false));
    stage4 = register_module("stage4", Stage(c[3], c[4], s.depths[3], true));
  }
  // {P3, P4, P5}.
  std::vector<at::Tensor> forward(const at::Tensor& x) {
    at::Tensor p3 = stage2->forward(stage1->forward(stem->forward(x)));
    at::Tensor p4 = stage3->forward(p3);
    return {p3, p4, stage4->forward(p4)};
  }
  Conv stem{nullptr};
  Stage stage1{nullptr}, stage2{nullptr}, stage3{nullptr}, stage4{nullptr};
};
TORCH_MODULE(Backbone);

at::Tensor UpsampleTo(const at::Tensor& x, const at::Tensor& like) {
  return at::upsample_nearest2d(x, {like.size(2), like.size(3)});
}

struct NeckImpl : nn::Module {
  explicit NeckImpl(const SizeSpec& s) {
    const std::vector<int64_t>& c = s.channels;
    const int64_t n = s.neck_depth;
    top_down4 = register_module("top_down4", C2f(c[4] + c[3], c[3], n, false));
    top_down3 = register_module("top_down3", C2f(c[3] + c[2], c[2], n, false));
    down3 = register_module("down3", Conv(c[2], c[2], 3, 2));
    bottom_up4 =
        register_module("bottom_up4", C2f(c[2] + c[3], c[3], n, false));
    down4 = register_module("down4", Conv(c[3], c[3], 3, 2));
    bottom_up5 =
        register_module("bottom_up5", C2f(c[3] + c[4], c[4], n, false));
  }
  std::vector<at::Tensor> forward(const std::vector<at::Tensor>& p) {
    at::Tensor n4 =
        top_down4->forward(at::cat({UpsampleTo(p[2], p[1]), p[1]}, 1));
    at::Tensor out3 =
        top_down3->forward(at::cat({UpsampleTo(n4, p[0]), p[0]}, 1));
    at::Tensor out4 =
        bottom_up4->forward(at::cat({down3->forward(out3), n4}, 1));
    at::Tensor out5 =
        bottom_up5->forward(at::cat({down4->forward(out4), p[2]}, 1));
    return {out3, out4, out5};
  }
  C2f top_down4{nullptr}, top_down3{nullptr}, bottom_up4{nullptr},
      bottom_up5{nullptr};
  Conv down3{nullptr}, down4{nullptr};
};
TORCH_MODULE(Neck);

// One level's decoupled head.
struct LevelHeadImpl : nn::Module {
  LevelHeadImpl(int64_t in, int64_t box_channels, int64_t cls_channels,
                int64_t num_classes, double class_bias) {
    box = register_module("box", nn::ModuleList());
    box->push_back(Conv(in, box_channels, 3, 1));
    box->push_back(Conv(box_channels, box_channels, 3, 1));
    box_pred = register_module(
        "box_pred",
        nn::Conv2d(ConvOptions(box_channels, 4 * kYoloRegMax, 1, 1)));
    cls = register_module("cls", nn::ModuleList());
    cls->push_back(Conv(in, cls_channels, 3, 1));
    cls->push_back(Conv(cls_channels, cls_channels, 3, 1));
    cls_pred = register_module(
        "cls_pred", nn::Conv2d(ConvOptions(cls_channels, num_classes, 1, 1)));
    at::NoGradGuard no_grad;
    box_pred->bias.fill_(1.0);
    cls_pred->bias.fill_(class_bias);
  }
  static at::Tensor Branch(nn::ModuleList& convs, at::Tensor x) {
    for (size_t i = 0; i < convs->size(); ++i) {
      x = convs[i]->as<ConvImpl>()->forward(x);
    }
    return x;
  }
  // {distribution logits [B, 4R, H, W], class logits [B, K, H, W]}.
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& x) {
    return {box_pred->forward(Branch(box, x)),
            cls_pred->forward(Branch(cls, x))};
  }
  nn::ModuleList box{nullptr}, cls{nullptr};
  nn::Conv2d box_pred{nullptr}, cls_pred{nullptr};
};
TORCH_MODULE(LevelHead);

struct NetImpl : nn::Module {
  NetImpl(const SizeSpec& s, const YoloOptions& o) {
    backbone = register_module("backbone", Backbone(s));
    neck = register_module("neck", Neck(s));
    head = register_module("head", std::make_shared<nn::Module>());
    // YOLOv8's head widths: box max(16, c2 / 4, 4R), class max(c2, min(K,
    // 100)), with c2 the finest level's channels.
    const int64_t c2 = s.channels[2];
    const int64_t box_channels =
        std::max<int64_t>({16, c2 / 4, 4 * kYoloRegMax});
    const int64_t cls_channels =
        std::max<int64_t>(c2, std::min<int64_t>(o.num_classes, 100));
    const double class_bias = -std::log((1 - o.class_prior) / o.class_prior);
    const int64_t level_channels[3] = {s.channels[2], s.channels[3],
                                       s.channels[4]};
    for (int i = 0; i < 3; ++i) {
      levels.push_back(head->register_module(
          absl::StrCat("level", i),
          LevelHead(level_channels[i], box_channels, cls_channels,
                    o.num_classes, class_bias)));
    }
  }
  std::shared_ptr<nn::Module> head;
  Backbone backbone{nullptr};
  Neck neck{nullptr};
  std::vector<LevelHead> levels;
};
TORCH_MODULE(Net);

}  // namespace

struct Yolo::Impl {
  YoloOptions options;
  Net net{nullptr};
  SumTensorsOverRanks sync;
};

Yolo::Yolo(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Yolo::~Yolo() = default;

absl::StatusOr<std::unique_ptr<Yolo>> Yolo::Create(const YoloOptions& options) {
  if (options.num_classes <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("YOLO needs num_classes > 0, got ", options.num_classes));
  }
  if (!(options.class_prior > 0 && options.class_prior < 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "YOLO needs class_prior in (0, 1), got ", options.class_prior));
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  CVT_RETURN_IF_ERROR(CallCatchingExceptions("building YOLO", [&] {
    impl->net = Net(SpecFor(options.size), options);
    return absl::OkStatus();
  }));
  return std::unique_ptr<Yolo>(new Yolo(std::move(impl)));
}

absl::StatusOr<YoloOutput> Yolo::Forward(const at::Tensor& images) {
  if (!images.defined() || images.dim() != 4 || images.size(0) < 1 ||
      images.size(1) != 3 || images.size(2) <= 0 || images.size(3) <= 0 ||
      images.size(2) % 32 != 0 || images.size(3) % 32 != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "YOLO needs images [B, 3, H, W] with H and W positive multiples of "
        "32, got ",
        images.defined() ? c10::str(images.sizes()) : "an undefined tensor"));
  }
  return CallCatchingExceptions(
      "YOLO forward", [&]() -> absl::StatusOr<YoloOutput> {
        Net& net = impl_->net;
        std::vector<at::Tensor> features =
            net->neck->forward(net->backbone->forward(images));
        const int64_t batch = images.size(0);
        const at::TensorOptions float_options =
            images.options().dtype(at::kFloat);
        std::vector<at::Tensor> distributions, logits, points, strides;
        for (int i = 0; i < 3; ++i) {
          auto [dist, cls] = net->levels[i]->forward(features[i]);
          const int64_t h = dist.size(2), w = dist.size(3);
          distributions.push_back(dist.flatten(2).transpose(1, 2));
          logits.push_back(cls.flatten(2).transpose(1, 2));
          const double stride = static_cast<double>(kYoloStrides[i]);
          at::Tensor xs = (at::arange(w, float_options) + 0.5) * stride;
          at::Tensor ys = (at::arange(h, float_options) + 0.5) * stride;
          // Row-major (y, then x): x varies fastest.
          points.push_back(
              at::stack({xs.repeat({h}), ys.repeat_interleave(w)}, 1));
          strides.push_back(at::full({h * w}, stride, float_options));
        }
        YoloOutput out;
        out.points = at::cat(points, 0);
        out.strides = at::cat(strides, 0);
        const int64_t n = out.points.size(0);
        out.distribution =
            at::cat(distributions, 1).reshape({batch, n, 4, kYoloRegMax});
        out.logits = at::cat(logits, 1);
        at::Tensor bins = at::arange(kYoloRegMax, float_options);
        // [B, N, 4] expected distances, then pixels.
        at::Tensor ltrb = (out.distribution.softmax(-1) * bins).sum(-1) *
                          out.strides.reshape({1, n, 1});
        at::Tensor p = out.points.unsqueeze(0);
        out.boxes =
            at::cat({p - ltrb.slice(2, 0, 2), p + ltrb.slice(2, 2, 4)}, 2);
        return out;
      });
}

std::vector<at::Tensor> Yolo::parameters() { return impl_->net->parameters(); }

std::vector<std::pair<std::string, at::Tensor>> Yolo::named_parameters() {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& item : impl_->net->named_parameters()) {
    out.emplace_back(item.key(), item.value());
  }
  return out;
}

std::vector<std::pair<std::string, at::Tensor>> Yolo::named_buffers() {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& item : impl_->net->named_buffers()) {
    out.emplace_back(item.key(), item.value());
  }
  return out;
}

void Yolo::train(bool on) { impl_->net->train(on); }

void Yolo::SyncBatchNormAcrossRanks(SumTensorsOverRanks sum_over_ranks) {
  impl_->sync = std::move(sum_over_ranks);
  const SumTensorsOverRanks* sync = impl_->sync ? &impl_->sync : nullptr;
  impl_->net->apply([sync](nn::Module& m) {
    if (auto* conv = dynamic_cast<ConvImpl*>(&m)) conv->sync = sync;
  });
}

int64_t Yolo::num_parameters() const {
  int64_t count = 0;
  for (const at::Tensor& p : impl_->net->parameters()) count += p.numel();
  return count;
}

const YoloOptions& Yolo::options() const { return impl_->options; }

torch::nn::Module& Yolo::module() { return *impl_->net; }

}  // namespace cvt
