// Loads a torchvision state_dict into cvt::ResNet, runs the saved input and
// prints the largest absolute difference from Python's outputs for C2..C5.
// Exits 1 when any exceeds 1e-4. Usage: resnet_compare_main DIR DEPTH
// [frozen]

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "libs/models/resnet.h"
#include "libs/models/state_dict.h"
#include "torch/nn/module.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: resnet_compare_main DIR DEPTH [frozen]\n";
    return 2;
  }
  std::string dir = argv[1];
  cvt::ResNetOptions options;
  options.depth = std::atoi(argv[2]);
  options.frozen_bn = argc > 3 && std::string(argv[3]) == "frozen";
  auto net = cvt::ResNet::Create(options);
  if (!net.ok()) {
    std::cerr << net.status() << "\n";
    return 1;
  }
  absl::Status loaded =
      (*net)->LoadTorchvisionStateDict(dir + "/state_dict.pth");
  if (!loaded.ok()) {
    std::cerr << loaded << "\n";
    return 1;
  }
  (*net)->module().eval();
  auto data = cvt::ReadTorchSaveDict(
      dir + (options.frozen_bn ? "/expected_frozen.pth" : "/expected.pth"));
  if (!data.ok()) {
    std::cerr << data.status() << "\n";
    return 1;
  }
  auto features = (*net)->Forward(data->at("input"));
  if (!features.ok()) {
    std::cerr << features.status() << "\n";
    return 1;
  }
  bool ok = true;
  const char* names[] = {"c2", "c3", "c4", "c5"};
  for (int i = 0; i < 4; ++i) {
    at::Tensor want = data->at(names[i]);
    double diff = ((*features)[i] - want).abs().max().item<double>();
    std::cout << names[i] << " " << (*features)[i].sizes() << " max |diff| "
              << diff << "\n";
    ok = ok && (*features)[i].sizes() == want.sizes() && diff <= 1e-4;
  }
  return ok ? 0 : 1;
}
