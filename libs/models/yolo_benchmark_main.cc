// Prints YOLO's parameter counts per size (80 classes) and times a training
// step (forward, loss, backward) of YOLO small at 416 x 416, batch 8, plus
// an evaluation forward. For reports only; nothing is asserted.
//
//   bazel run -c opt //libs/models:yolo_benchmark_main

#include <chrono>
#include <iostream>
#include <vector>

#include "ATen/ATen.h"
#include "ATen/Parallel.h"
#include "libs/models/yolo.h"
#include "libs/models/yolo_loss.h"

namespace {

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace

int main() {
  using cvt::YoloOptions;
  const YoloOptions::Size sizes[] = {YoloOptions::Size::kNano,
                                     YoloOptions::Size::kSmall,
                                     YoloOptions::Size::kMedium};
  const char* names[] = {"nano", "small", "medium"};
  for (int s = 0; s < 3; ++s) {
    auto yolo = cvt::Yolo::Create({.size = sizes[s], .num_classes = 80});
    if (!yolo.ok()) {
      std::cerr << yolo.status() << "\n";
      return 1;
    }
    std::cout << "YOLO " << names[s] << ": " << (*yolo)->num_parameters()
              << " parameters (80 classes)\n";
  }

  at::manual_seed(0);
  auto yolo =
      cvt::Yolo::Create({.size = YoloOptions::Size::kSmall, .num_classes = 80});
  if (!yolo.ok()) return 1;
  const int64_t batch = 8, side = 416;
  at::Tensor images = at::rand({batch, 3, side, side});
  std::vector<cvt::YoloTarget> targets;
  for (int64_t i = 0; i < batch; ++i) {
    at::Tensor xy = at::rand({6, 2}) * (side - 100);
    at::Tensor wh = at::rand({6, 2}) * 80 + 16;
    targets.push_back({at::cat({xy, xy + wh}, 1), at::randint(80, {6})});
  }
  (*yolo)->train(true);
  const int iterations = 3;
  double train_total = 0, loss_total = 0;
  for (int it = 0; it <= iterations; ++it) {  // the first one warms up
    auto start = std::chrono::steady_clock::now();
    auto out = (*yolo)->Forward(images);
    if (!out.ok()) return 1;
    auto loss_start = std::chrono::steady_clock::now();
    auto loss = cvt::ComputeYoloLoss(*out, targets, {});
    if (!loss.ok()) {
      std::cerr << loss.status() << "\n";
      return 1;
    }
    double loss_seconds = Seconds(loss_start);
    loss->total.backward();
    double seconds = Seconds(start);
    if (it > 0) {
      train_total += seconds;
      loss_total += loss_seconds;
    }
    for (at::Tensor& p : (*yolo)->parameters()) p.mutable_grad().reset();
  }
  std::cout << "YOLO small, " << batch << " x " << side << " px, "
            << at::get_num_threads() << " threads: forward + loss + backward "
            << train_total / iterations << " s (loss and assignment "
            << loss_total / iterations << " s)\n";
  (*yolo)->train(false);
  at::NoGradGuard no_grad;
  double eval_total = 0;
  for (int it = 0; it <= iterations; ++it) {
    auto start = std::chrono::steady_clock::now();
    auto out = (*yolo)->Forward(images);
    if (!out.ok()) return 1;
    if (it > 0) eval_total += Seconds(start);
  }
  std::cout << "YOLO small, evaluation forward: " << eval_total / iterations
            << " s\n";
  return 0;
}
