// A tiny DETR (ResNet-18, d_model 32, 2 + 2 layers, 10 queries) trained with
// AdamW for 80 steps on two fixed 64x64 images with 3 boxes each: the set
// loss (with auxiliary layers) must fall to under half of its start, which
// shows gradients flow through the matcher, the heads, the transformer and
// the backbone. Exits 1 otherwise.

#include <iostream>
#include <vector>

#include "ATen/ATen.h"
#include "libs/models/detr.h"
#include "libs/models/detr_loss.h"
#include "torch/optim/adamw.h"

int main() {
  at::manual_seed(1);
  cvt::DetrOptions options;
  options.backbone.depth = 18;
  options.backbone.frozen_bn = true;
  options.transformer.d_model = 32;
  options.transformer.heads = 4;
  options.transformer.encoder_layers = 2;
  options.transformer.decoder_layers = 2;
  options.transformer.feedforward = 64;
  options.transformer.dropout = 0;
  options.queries = 10;
  options.num_classes = 2;
  auto detr = cvt::Detr::Create(options);
  if (!detr.ok()) {
    std::cerr << detr.status() << "\n";
    return 1;
  }
  at::Tensor images = at::randn({2, 3, 64, 64});
  at::Tensor mask = at::ones({2, 64, 64}, at::kBool);
  std::vector<cvt::DetrTarget> targets = {
      {at::tensor({0, 1, 1}, at::kLong),
       at::tensor({0.3, 0.3, 0.2, 0.2, 0.7, 0.6, 0.3, 0.2, 0.5, 0.8, 0.4, 0.2},
                  at::kFloat)
           .reshape({3, 4})},
      {at::tensor({1, 0, 0}, at::kLong),
       at::tensor({0.2, 0.7, 0.2, 0.3, 0.6, 0.3, 0.4, 0.3, 0.8, 0.8, 0.2, 0.2},
                  at::kFloat)
           .reshape({3, 4})}};
  torch::optim::AdamW optimizer((*detr)->parameters(),
                                torch::optim::AdamWOptions(1e-3));
  (*detr)->train(true);
  double first = 0, last = 0;
  for (int step = 0; step < 80; ++step) {
    auto out = (*detr)->Forward(images, mask);
    if (!out.ok()) {
      std::cerr << out.status() << "\n";
      return 1;
    }
    auto loss = cvt::ComputeDetrLoss(*out, targets, {});
    if (!loss.ok()) {
      std::cerr << loss.status() << "\n";
      return 1;
    }
    optimizer.zero_grad();
    loss->total.backward();
    optimizer.step();
    double value = loss->total.item<double>();
    if (step == 0) first = value;
    last = value;
    if (step % 10 == 0 || step == 79) {
      std::cout << "step " << step << " loss " << value << " (ce "
                << loss->ce.item<double>() << ", l1 " << loss->l1.item<double>()
                << ", giou " << loss->giou.item<double>() << ")\n";
    }
  }
  std::cout << "loss " << first << " -> " << last << "\n";
  return last < 0.5 * first ? 0 : 1;
}
