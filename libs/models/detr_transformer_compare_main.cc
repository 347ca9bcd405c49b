// Loads detr_transformer_gen.py's weights into cvt::DetrTransformer (the
// same small sizes), runs its inputs in eval mode and compares the decoder
// outputs. Usage: detr_transformer_compare_main DIR; exits 1 beyond 1e-5.

#include <iostream>
#include <string>
#include <vector>

#include "ATen/ATen.h"
#include "libs/models/detr_transformer.h"
#include "libs/models/state_dict.h"
#include "torch/nn/module.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  std::string dir = argv[1];
  cvt::DetrTransformerOptions options;
  options.d_model = 32;
  options.heads = 4;
  options.encoder_layers = 2;
  options.decoder_layers = 3;
  options.feedforward = 64;
  auto net = cvt::DetrTransformer::Create(options);
  if (!net.ok()) return 1;
  absl::Status loaded = (*net)->LoadStateDict(dir + "/state_dict.pth");
  if (!loaded.ok()) {
    std::cerr << loaded << "\n";
    return 1;
  }
  (*net)->module().eval();
  auto data = cvt::ReadTorchSaveDict(dir + "/expected.pth");
  if (!data.ok()) {
    std::cerr << data.status() << "\n";
    return 1;
  }
  auto t = [&](const char* k) { return data->at(k); };
  auto hs = (*net)->Forward(t("src"), t("mask"), t("query"), t("pos"));
  if (!hs.ok()) {
    std::cerr << hs.status() << "\n";
    return 1;
  }
  double diff = (*hs - t("hs")).abs().max().item<double>();
  std::cout << "decoder outputs " << hs->sizes() << ": max |diff| " << diff
            << "\n";
  return hs->sizes() == t("hs").sizes() && diff <= 1e-5 ? 0 : 1;
}
