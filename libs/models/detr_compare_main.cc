// Loads detr_gen.py's weights (reference names) into cvt::Detr with the same
// small sizes, runs its padded batch in eval mode and compares every decoder
// layer's logits and boxes. Usage: detr_compare_main DIR; exits 1 beyond
// 1e-4.

#include <iostream>
#include <string>
#include <vector>

#include "ATen/ATen.h"
#include "libs/models/detr.h"
#include "libs/models/state_dict.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  std::string dir = argv[1];
  cvt::DetrOptions options;
  options.backbone.depth = 18;
  options.backbone.frozen_bn = true;
  options.transformer.d_model = 32;
  options.transformer.heads = 4;
  options.transformer.encoder_layers = 2;
  options.transformer.decoder_layers = 3;
  options.transformer.feedforward = 64;
  options.queries = 5;
  options.num_classes = 3;
  auto detr = cvt::Detr::Create(options);
  if (!detr.ok()) {
    std::cerr << detr.status() << "\n";
    return 1;
  }
  absl::Status loaded = (*detr)->LoadStateDict(dir + "/state_dict.pth");
  if (!loaded.ok()) {
    std::cerr << loaded << "\n";
    return 1;
  }
  (*detr)->train(false);
  auto data = cvt::ReadTorchSaveDict(dir + "/expected.pth");
  if (!data.ok()) {
    std::cerr << data.status() << "\n";
    return 1;
  }
  auto out = (*detr)->Forward(data->at("images"), data->at("pixel_mask"));
  if (!out.ok()) {
    std::cerr << out.status() << "\n";
    return 1;
  }
  at::Tensor logits = data->at("logits"), boxes = data->at("boxes");
  const int64_t layers = logits.size(0);
  double worst = 0;
  for (int64_t i = 0; i < layers; ++i) {
    // out[0] is the last layer.
    const cvt::DetrOutput& o = (*out)[layers - 1 - i];
    worst = std::max(worst, (o.logits - logits[i]).abs().max().item<double>());
    worst = std::max(worst, (o.boxes - boxes[i]).abs().max().item<double>());
  }
  std::cout << layers << " decoder layers, " << (*detr)->parameters().size()
            << " parameter tensors: max |diff| " << worst << "\n";
  return static_cast<int64_t>(out->size()) == layers && worst <= 1e-4 ? 0 : 1;
}
