// Checks SinePositionEncoding against position_encoding_gen.py's reference.
// Usage: position_encoding_compare_main FILE; exits 1 beyond 1e-5.

#include <iostream>
#include <string>
#include <vector>

#include "ATen/ATen.h"
#include "libs/models/position_encoding.h"
#include "libs/models/state_dict.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  auto data = cvt::ReadTorchSaveDict(argv[1]);
  if (!data.ok()) {
    std::cerr << data.status() << "\n";
    return 1;
  }
  int64_t cases = data->at("cases").item<int64_t>();
  double worst = 0;
  for (int64_t i = 0; i < cases; ++i) {
    at::Tensor mask = data->at(std::to_string(i) + "_mask");
    at::Tensor want = data->at(std::to_string(i) + "_pos");
    at::Tensor got = cvt::SinePositionEncoding(mask, {});
    if (got.sizes() != want.sizes()) {
      std::cerr << "case " << i << ": shape " << got.sizes() << " vs "
                << want.sizes() << "\n";
      return 1;
    }
    worst = std::max(worst, (got - want).abs().max().item<double>());
  }
  std::cout << cases << " masks: max |diff| " << worst << "\n";
  return worst <= 1e-5 ? 0 : 1;
}
