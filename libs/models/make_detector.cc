#include "libs/models/make_detector.h"

#include <sys/stat.h>

#include <string>
#include <utility>
#include <vector>

#include "ATen/ATen.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "libs/base/exceptions.h"
#include "libs/base/status_macros.h"
#include "libs/models/detr.h"
#include "libs/models/yolo.h"
#include "torch/csrc/jit/api/module.h"
#include "torch/csrc/jit/serialization/import.h"

namespace cvt {
namespace {

// ---------------------------------------------------------------- DETR ----

// Backbone parameter prefixes of the first `stages` stages.
std::vector<std::string> FrozenStagePrefixes(int stages) {
  static const char* const kStages[] = {"", "layer1.", "layer2.", "layer3.",
                                        "layer4."};
  std::vector<std::string> out;
  for (int s = 0; s < stages && s < 5; ++s) {
    if (s == 0) {
      out.push_back("conv1.");
      out.push_back("bn1.");
    } else {
      out.push_back(kStages[s]);
    }
  }
  return out;
}

class DetrDetector : public Detector {
 public:
  DetrDetector(std::unique_ptr<Detr> detr, std::string name)
      : detr_(std::move(detr)), name_(std::move(name)) {}

  absl::StatusOr<RawOutput> Forward(const at::Tensor& images,
                                    const at::Tensor& pixel_mask) override {
    CVT_ASSIGN_OR_RETURN(std::vector<DetrOutput> out,
                         detr_->Forward(images, pixel_mask));
    return RawOutput(std::move(out));
  }
  NamedTensors named_parameters() override { return detr_->named_parameters(); }
  NamedTensors named_buffers() override { return detr_->named_buffers(); }
  void train(bool on) override { detr_->train(on); }
  std::string backbone_prefix() const override { return "backbone."; }
  std::string name() const override { return name_; }

  Detr& detr() { return *detr_; }

 private:
  std::unique_ptr<Detr> detr_;
  std::string name_;
};

absl::StatusOr<std::unique_ptr<Detector>> MakeDetr(const DetrConfig& config,
                                                   int64_t num_classes) {
  DetrOptions options;
  const ResNetConfig& backbone = config.backbone();
  options.backbone.depth = static_cast<int>(backbone.depth());
  options.backbone.frozen_bn = backbone.frozen_batch_norm();
  options.transformer.d_model = config.hidden_dim();
  options.transformer.heads = config.num_heads();
  options.transformer.encoder_layers = config.encoder_layers();
  options.transformer.decoder_layers = config.decoder_layers();
  options.transformer.feedforward = config.feedforward_dim();
  options.transformer.dropout = config.dropout();
  options.queries = config.num_queries();
  options.num_classes = num_classes;
  if (backbone.frozen_stages() > 5) {
    return absl::InvalidArgumentError(
        absl::StrCat("model.detr.backbone.frozen_stages must be 0..5, got ",
                     backbone.frozen_stages()));
  }
  CVT_ASSIGN_OR_RETURN(std::unique_ptr<Detr> detr, Detr::Create(options));
  if (config.has_backbone_weights()) {
    CVT_RETURN_IF_ERROR(detr->LoadBackboneStateDict(config.backbone_weights()));
  }
  if (config.has_weights()) {
    CVT_RETURN_IF_ERROR(detr->LoadStateDict(config.weights()));
  }
  const std::vector<std::string> frozen =
      FrozenStagePrefixes(static_cast<int>(backbone.frozen_stages()));
  const std::string prefix = "backbone.0.body.";
  for (auto& [name, tensor] : detr->named_parameters()) {
    if (!absl::StartsWith(name, prefix)) continue;
    for (const std::string& f : frozen) {
      if (absl::StartsWith(name.substr(prefix.size()), f)) {
        tensor.set_requires_grad(false);
      }
    }
  }
  return std::unique_ptr<Detector>(std::make_unique<DetrDetector>(
      std::move(detr), absl::StrCat("detr_r", options.backbone.depth)));
}

// ---------------------------------------------------------------- YOLO ----

class YoloDetector : public Detector {
 public:
  YoloDetector(std::unique_ptr<Yolo> yolo, std::string name, bool sync_bn)
      : yolo_(std::move(yolo)), name_(std::move(name)), sync_bn_(sync_bn) {}

  absl::StatusOr<RawOutput> Forward(const at::Tensor& images,
                                    const at::Tensor& /*pixel_mask*/) override {
    CVT_ASSIGN_OR_RETURN(YoloOutput out, yolo_->Forward(images));
    return RawOutput(std::move(out));
  }
  NamedTensors named_parameters() override { return yolo_->named_parameters(); }
  NamedTensors named_buffers() override { return yolo_->named_buffers(); }
  void train(bool on) override { yolo_->train(on); }
  void SyncBatchNormAcrossRanks(SumTensorsOverRanks sum_over_ranks) override {
    if (sync_bn_) yolo_->SyncBatchNormAcrossRanks(std::move(sum_over_ranks));
  }
  int64_t size_divisor() const override { return 32; }
  std::string backbone_prefix() const override { return "backbone."; }
  std::string name() const override { return name_; }

 private:
  std::unique_ptr<Yolo> yolo_;
  std::string name_;
  bool sync_bn_;
};

absl::StatusOr<std::unique_ptr<Detector>> MakeYolo(const YoloConfig& config,
                                                   int64_t num_classes) {
  YoloOptions options;
  options.num_classes = num_classes;
  std::string name;
  switch (config.size()) {
    case YoloConfig::NANO:
      options.size = YoloOptions::Size::kNano;
      name = "yolo_nano";
      break;
    case YoloConfig::SMALL:
      options.size = YoloOptions::Size::kSmall;
      name = "yolo_small";
      break;
    case YoloConfig::MEDIUM:
      options.size = YoloOptions::Size::kMedium;
      name = "yolo_medium";
      break;
  }
  CVT_ASSIGN_OR_RETURN(std::unique_ptr<Yolo> yolo, Yolo::Create(options));
  return std::unique_ptr<Detector>(std::make_unique<YoloDetector>(
      std::move(yolo), std::move(name), config.sync_batch_norm()));
}

// --------------------------------------------------------- TorchScript ----

class TorchScriptDetector : public Detector {
 public:
  TorchScriptDetector(torch::jit::Module module, TorchScriptConfig config,
                      std::string path, bool takes_mask)
      : module_(std::move(module)),
        config_(std::move(config)),
        path_(std::move(path)),
        takes_mask_(takes_mask) {}

  absl::StatusOr<RawOutput> Forward(const at::Tensor& images,
                                    const at::Tensor& pixel_mask) override {
    if (config_.input_size() > 0 && (images.size(2) != config_.input_size() ||
                                     images.size(3) != config_.input_size())) {
      return absl::InvalidArgumentError(absl::StrCat(
          path_, ": the module expects ", config_.input_size(), "x",
          config_.input_size(), " inputs, got ", images.size(3), "x",
          images.size(2), " (use augmentation.letterbox_size)"));
    }
    return CallCatchingExceptions(
        absl::StrCat(path_, ": forward"), [&]() -> absl::StatusOr<RawOutput> {
          std::vector<c10::IValue> inputs = {images};
          if (takes_mask_) inputs.emplace_back(pixel_mask);
          c10::IValue out = module_.forward(std::move(inputs));
          switch (config_.output_format()) {
            case TorchScriptConfig::DETR_STYLE:
              return DetrStyle(out, images.size(0));
            case TorchScriptConfig::DENSE_XYXY_SCORES:
              return Dense(out, images.size(0));
          }
          return absl::InvalidArgumentError("unknown output_format");
        });
  }

  NamedTensors named_parameters() override {
    NamedTensors out;
    for (const auto& p : module_.named_parameters(/*recurse=*/true)) {
      out.emplace_back(p.name, p.value);
    }
    return out;
  }
  NamedTensors named_buffers() override {
    NamedTensors out;
    for (const auto& b : module_.named_buffers(/*recurse=*/true)) {
      out.emplace_back(b.name, b.value);
    }
    return out;
  }
  void train(bool on) override { module_.train(on); }
  int64_t size_divisor() const override {
    return config_.output_format() == TorchScriptConfig::DENSE_XYXY_SCORES ? 32
                                                                           : 1;
  }
  std::string name() const override { return "torchscript"; }

 private:
  absl::StatusOr<RawOutput> DetrStyle(const c10::IValue& out, int64_t batch) {
    at::Tensor logits, boxes;
    if (out.isGenericDict()) {
      c10::Dict<c10::IValue, c10::IValue> dict = out.toGenericDict();
      if (!dict.contains("pred_logits") || !dict.contains("pred_boxes")) {
        return Bad("a dict with pred_logits and pred_boxes");
      }
      logits = dict.at("pred_logits").toTensor();
      boxes = dict.at("pred_boxes").toTensor();
    } else if (out.isTuple() && out.toTupleRef().elements().size() >= 2) {
      logits = out.toTupleRef().elements()[0].toTensor();
      boxes = out.toTupleRef().elements()[1].toTensor();
    } else {
      return Bad("a dict with pred_logits and pred_boxes");
    }
    if (logits.dim() != 3 || boxes.dim() != 3 || logits.size(0) != batch ||
        boxes.size(0) != batch || boxes.size(2) != 4 ||
        boxes.size(1) != logits.size(1)) {
      return Bad("pred_logits [B, Q, K+1] and pred_boxes [B, Q, 4]");
    }
    return RawOutput(std::vector<DetrOutput>{{logits, boxes}});
  }

  absl::StatusOr<RawOutput> Dense(const c10::IValue& out, int64_t batch) {
    if (!out.isTensor()) return Bad("a tensor [B, N, 4 + K]");
    at::Tensor t = out.toTensor();
    if (t.dim() != 3 || t.size(0) != batch || t.size(2) < 5) {
      return Bad("a tensor [B, N, 4 + K]");
    }
    return RawOutput(
        DenseOutput{t.narrow(2, 0, 4), t.narrow(2, 4, t.size(2) - 4)});
  }

  absl::Status Bad(absl::string_view expected) const {
    return absl::InvalidArgumentError(absl::StrCat(
        path_, ": the module's output does not match output_format ",
        TorchScriptConfig::OutputFormat_Name(config_.output_format()),
        ": expected ", expected));
  }

  torch::jit::Module module_;
  TorchScriptConfig config_;
  std::string path_;
  bool takes_mask_;
};

absl::StatusOr<std::unique_ptr<Detector>> MakeTorchScript(
    const TorchScriptConfig& config) {
  if (config.path().empty()) {
    return absl::InvalidArgumentError(
        "model.torchscript.path is required (a torch.jit.save file)");
  }
  const std::string& path = config.path();
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  }
  return CallCatchingExceptions(
      absl::StrCat(path, ": loading TorchScript"),
      [&]() -> absl::StatusOr<std::unique_ptr<Detector>> {
        torch::jit::Module module = torch::jit::load(path, at::kCPU);
        const auto& schema =
            module.get_method("forward").function().getSchema();
        // The first argument is `self`.
        const size_t args = schema.arguments().size();
        if (args < 2 || args > 3) {
          return absl::InvalidArgumentError(absl::StrCat(
              path,
              ": forward must take (images) or (images, pixel_mask), "
              "it takes ",
              args - 1, " arguments"));
        }
        for (const auto& p : module.parameters(/*recurse=*/true)) {
          p.set_requires_grad(true);
        }
        return std::unique_ptr<Detector>(std::make_unique<TorchScriptDetector>(
            std::move(module), config, path, args == 3));
      });
}

}  // namespace

absl::StatusOr<std::unique_ptr<Detector>> MakeDetector(
    const ModelConfig& config, int64_t num_classes) {
  if (config.num_classes() != 0 &&
      static_cast<int64_t>(config.num_classes()) != num_classes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model.num_classes is ", config.num_classes(),
        " but the dataset's category map has ", num_classes, " categories"));
  }
  if (num_classes <= 0) {
    return absl::InvalidArgumentError("the model needs at least one class");
  }
  switch (config.architecture_case()) {
    case ModelConfig::kDetr:
      return MakeDetr(config.detr(), num_classes);
    case ModelConfig::kYolo:
      return MakeYolo(config.yolo(), num_classes);
    case ModelConfig::kTorchscript:
      return MakeTorchScript(config.torchscript());
    case ModelConfig::ARCHITECTURE_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError(
      "model: set one architecture (detr, yolo or torchscript)");
}

}  // namespace cvt
