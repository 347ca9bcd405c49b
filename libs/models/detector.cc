#include "libs/models/detector.h"

namespace cvt {

std::vector<at::Tensor> Detector::trainable_parameters() {
  std::vector<at::Tensor> out;
  for (auto& [name, tensor] : named_parameters()) {
    if (tensor.requires_grad()) out.push_back(tensor);
  }
  return out;
}

int64_t Detector::num_parameters() {
  int64_t n = 0;
  for (auto& [name, tensor] : named_parameters()) n += tensor.numel();
  return n;
}

}  // namespace cvt
