// YOLO nano must overfit a handful of generated images quickly on a CPU:
// coloured rectangles and ellipses (one colour and shape per class) on
// noise, with known boxes. After training, the loss must have fallen
// substantially and, in evaluation mode after YoloPostprocess (score 0.001,
// IoU 0.65), every GT box must be matched (greedily, by score, like COCO's
// matching) by a detection of its class with IoU >= 0.5, and the AP50 over
// the set, computed here with COCO's 101-point interpolation, must reach
// 0.9. Seeds are fixed.

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <random>
#include <vector>

#include "ATen/ATen.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/status_matchers.h"
#include "libs/models/nms.h"
#include "libs/models/yolo.h"
#include "libs/models/yolo_loss.h"
#include "torch/optim/adamw.h"

namespace cvt {
namespace {

constexpr int64_t kSize = 128;
constexpr int64_t kClasses = 3;

// The recipe: AdamW without weight decay, 10 steps of linear warmup, then
// cosine decay to 1% of the rate. The decay matters for evaluation: batch
// norm's running statistics (momentum 0.1) lag weights that still move
// fast, and evaluation uses them.
constexpr int kImages = 6;
constexpr int kSteps = 100;
constexpr int kWarmup = 10;
constexpr double kLearningRate = 2e-3;
constexpr double kFinalScale = 0.01;

struct Box {
  std::array<float, 4> xyxy;
  int64_t label;
};

double Iou(const std::array<float, 4>& a, const std::array<float, 4>& b) {
  double w = std::min(a[2], b[2]) - std::max(a[0], b[0]);
  double h = std::min(a[3], b[3]) - std::max(a[1], b[1]);
  double inter = std::max(0.0, w) * std::max(0.0, h);
  double uni =
      (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return uni > 0 ? inter / uni : 0;
}

// One image: noise, then 2 or 3 objects. Class 0: red rectangle, 1: green
// ellipse, 2: blue rectangle with a hole (a frame).
at::Tensor MakeImage(std::mt19937& rng, std::vector<Box>& boxes) {
  at::Tensor image = at::rand({3, kSize, kSize}) * 0.6 + 0.2;
  at::Tensor ys = at::arange(kSize, at::kFloat).reshape({kSize, 1}) + 0.5;
  at::Tensor xs = at::arange(kSize, at::kFloat).reshape({1, kSize}) + 0.5;
  const int count = 2 + static_cast<int>(rng() % 2);
  const float colours[3][3] = {
      {0.95, 0.1, 0.1}, {0.1, 0.9, 0.1}, {0.1, 0.2, 0.95}};
  while (static_cast<int>(boxes.size()) < count) {
    const int w = 20 + static_cast<int>(rng() % 41);
    const int h = 20 + static_cast<int>(rng() % 41);
    const int x1 = 2 + static_cast<int>(rng() % (kSize - 4 - w));
    const int y1 = 2 + static_cast<int>(rng() % (kSize - 4 - h));
    Box box{{static_cast<float>(x1), static_cast<float>(y1),
             static_cast<float>(x1 + w), static_cast<float>(y1 + h)},
            static_cast<int64_t>(rng() % kClasses)};
    bool overlaps = false;
    for (const Box& other : boxes) {
      if (Iou(box.xyxy, other.xyxy) > 0.05) overlaps = true;
    }
    if (overlaps) continue;
    at::Tensor inside = (xs >= x1) & (xs < x1 + w) & (ys >= y1) & (ys < y1 + h);
    at::Tensor mask;
    if (box.label == 1) {
      at::Tensor dx = (xs - (x1 + w / 2.0)) / (w / 2.0);
      at::Tensor dy = (ys - (y1 + h / 2.0)) / (h / 2.0);
      mask = dx * dx + dy * dy <= 1;
    } else if (box.label == 2) {
      at::Tensor hole = (xs >= x1 + w / 4) & (xs < x1 + w - w / 4) &
                        (ys >= y1 + h / 4) & (ys < y1 + h - h / 4);
      mask = inside & ~hole;
    } else {
      mask = inside;
    }
    for (int c = 0; c < 3; ++c) {
      image[c].masked_fill_(mask, colours[box.label][c]);
    }
    boxes.push_back(box);
  }
  return image;
}

// COCO-style AP at IoU 0.5, averaged over classes with objects.
double Ap50(const std::vector<std::vector<ScoredBox>>& detections,
            const std::vector<std::vector<Box>>& truth, int* unmatched) {
  *unmatched = 0;
  double sum = 0;
  int classes = 0;
  for (int64_t c = 0; c < kClasses; ++c) {
    struct Det {
      float score;
      size_t image;
      std::array<float, 4> xyxy;
    };
    std::vector<Det> dets;
    int positives = 0;
    for (size_t i = 0; i < truth.size(); ++i) {
      for (const ScoredBox& d : detections[i]) {
        if (d.label == c) dets.push_back({d.score, i, d.xyxy});
      }
      for (const Box& g : truth[i]) positives += g.label == c;
    }
    if (positives == 0) continue;
    std::stable_sort(dets.begin(), dets.end(), [](const Det& a, const Det& b) {
      return a.score > b.score;
    });
    std::vector<std::vector<bool>> used(truth.size());
    for (size_t i = 0; i < truth.size(); ++i) {
      used[i].assign(truth[i].size(), false);
    }
    std::vector<double> precision, recall;
    int tp = 0, fp = 0;
    for (const Det& d : dets) {
      int best = -1;
      double best_iou = 0.5;
      for (size_t g = 0; g < truth[d.image].size(); ++g) {
        const Box& gt = truth[d.image][g];
        if (gt.label != c || used[d.image][g]) continue;
        double iou = Iou(d.xyxy, gt.xyxy);
        if (iou >= best_iou) {
          best_iou = iou;
          best = static_cast<int>(g);
        }
      }
      if (best >= 0) {
        used[d.image][best] = true;
        ++tp;
      } else {
        ++fp;
      }
      precision.push_back(static_cast<double>(tp) / (tp + fp));
      recall.push_back(static_cast<double>(tp) / positives);
    }
    *unmatched += positives - tp;
    for (int i = static_cast<int>(precision.size()) - 2; i >= 0; --i) {
      precision[i] = std::max(precision[i], precision[i + 1]);
    }
    double ap = 0;
    size_t j = 0;
    for (int r = 0; r <= 100; ++r) {
      while (j < recall.size() && recall[j] < r / 100.0) ++j;
      if (j < recall.size()) ap += precision[j];
    }
    sum += ap / 101;
    ++classes;
  }
  return classes ? sum / classes : 0;
}

TEST(YoloOverfitTest, NanoLearnsGeneratedImages) {
  at::manual_seed(0);
  std::mt19937 rng(7);
  const int num_images = kImages;
  const int steps = kSteps;
  const double lr = kLearningRate;
  std::vector<at::Tensor> images;
  std::vector<std::vector<Box>> truth(num_images);
  std::vector<YoloTarget> targets;
  for (int i = 0; i < num_images; ++i) {
    images.push_back(MakeImage(rng, truth[i]));
    std::vector<float> coords;
    std::vector<int64_t> labels;
    for (const Box& b : truth[i]) {
      coords.insert(coords.end(), b.xyxy.begin(), b.xyxy.end());
      labels.push_back(b.label);
    }
    targets.push_back(
        {at::tensor(coords).reshape({-1, 4}), at::tensor(labels, at::kLong)});
  }
  at::Tensor batch = at::stack(images);

  auto yolo =
      Yolo::Create({.size = YoloOptions::Size::kNano, .num_classes = kClasses});
  ASSERT_THAT(yolo, IsOk());
  torch::optim::AdamW optimizer((*yolo)->parameters(),
                                torch::optim::AdamWOptions(lr).weight_decay(0));
  (*yolo)->train(true);
  const auto start = std::chrono::steady_clock::now();
  double first = 0, last = 0;
  const int warmup = kWarmup;
  const double final_scale = kFinalScale;
  for (int step = 0; step < steps; ++step) {
    double progress = (step - warmup) / std::max(1.0, steps - 1.0 - warmup);
    double scale = step < warmup
                       ? (step + 1.0) / warmup
                       : final_scale + (1 - final_scale) * 0.5 *
                                           (1 + std::cos(M_PI * progress));
    for (auto& group : optimizer.param_groups()) {
      static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr * scale);
    }
    absl::StatusOr<YoloOutput> out = (*yolo)->Forward(batch);
    ASSERT_THAT(out, IsOk());
    absl::StatusOr<YoloLoss> loss = ComputeYoloLoss(*out, targets, {});
    ASSERT_THAT(loss, IsOk());
    optimizer.zero_grad();
    loss->total.backward();
    optimizer.step();
    last = loss->total.item<double>();
    if (step == 0) first = last;
    if (step % 20 == 0 || step + 1 == steps) {
      std::cout << "step " << step << " loss " << last << " (box "
                << loss->box.item<double>() << ", cls "
                << loss->cls.item<double>() << ", dfl "
                << loss->dfl.item<double>() << ")" << std::endl;
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::cout << steps << " steps on " << num_images << " images of " << kSize
            << " px in " << seconds << " s" << std::endl;

  at::NoGradGuard no_grad;
  (*yolo)->train(false);
  absl::StatusOr<YoloOutput> out = (*yolo)->Forward(batch);
  ASSERT_THAT(out, IsOk());
  std::vector<std::vector<ScoredBox>> detections =
      YoloPostprocess(*out, 0.001, 0.65, 100);
  for (int i = 0; i < num_images; ++i) {
    for (const Box& g : truth[i]) {
      double best = 0;
      float score = 0;
      for (const ScoredBox& d : detections[i]) {
        if (d.label == g.label && Iou(d.xyxy, g.xyxy) > best) {
          best = Iou(d.xyxy, g.xyxy);
          score = d.score;
        }
      }
      std::cout << "image " << i << " class " << g.label << " best IoU " << best
                << " score " << score << std::endl;
    }
  }
  int unmatched = 0;
  const double ap50 = Ap50(detections, truth, &unmatched);
  std::cout << "AP50 " << ap50 << ", unmatched " << unmatched << std::endl;
  EXPECT_LT(last, 0.2 * first);
  EXPECT_EQ(unmatched, 0);
  EXPECT_GE(ap50, 0.9);
}

}  // namespace
}  // namespace cvt
