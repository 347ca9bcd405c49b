// Checks ComputeDetrLoss (values and gradients) against the Python reference
// written by detr_loss_gen.py. Exits 1 on a mismatch beyond 1e-9.
// Usage: detr_loss_compare_main FILE

#include <iostream>
#include <string>
#include <vector>

#include "ATen/ATen.h"
#include "libs/models/detr_loss.h"
#include "libs/models/state_dict.h"
#include "torch/autograd.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  auto data = cvt::ReadTorchSaveDict(argv[1]);
  if (!data.ok()) {
    std::cerr << data.status() << "\n";
    return 1;
  }
  auto get = [&](int i, const std::string& name) {
    return data->at(std::to_string(i) + "_" + name);
  };
  int64_t cases = data->at("cases").item<int64_t>();
  double worst = 0;
  for (int i = 0; i < cases; ++i) {
    int64_t batch = get(i, "batch").item<int64_t>();
    std::vector<cvt::DetrTarget> targets;
    for (int64_t b = 0; b < batch; ++b) {
      targets.push_back({get(i, "labels" + std::to_string(b)),
                         get(i, "gt" + std::to_string(b))});
    }
    std::vector<cvt::DetrOutput> outputs;
    for (int k = 0; k < 2; ++k) {
      outputs.push_back(
          {get(i, "logits" + std::to_string(k)).clone().requires_grad_(),
           get(i, "boxes" + std::to_string(k)).clone().requires_grad_()});
    }
    auto loss = cvt::ComputeDetrLoss(outputs, targets, {});
    if (!loss.ok()) {
      std::cerr << "case " << i << ": " << loss.status() << "\n";
      return 1;
    }
    loss->total.backward();
    auto diff = [&](const at::Tensor& a, const at::Tensor& b) {
      return (a - b).abs().max().item<double>();
    };
    worst = std::max(worst, diff(loss->total, get(i, "total")));
    worst = std::max(worst, diff(at::stack({loss->ce, loss->l1, loss->giou}),
                                 get(i, "parts")));
    for (int k = 0; k < 2; ++k) {
      worst = std::max(worst, diff(outputs[k].logits.grad(),
                                   get(i, "dlogits" + std::to_string(k))));
      worst = std::max(worst, diff(outputs[k].boxes.grad(),
                                   get(i, "dboxes" + std::to_string(k))));
    }
  }
  std::cout << cases << " batches: max |diff| of losses and gradients " << worst
            << "\n";
  return worst <= 1e-9 ? 0 : 1;
}
