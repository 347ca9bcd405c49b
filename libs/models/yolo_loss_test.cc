#include "libs/models/yolo_loss.h"

#include <cmath>
#include <vector>

#include "ATen/ATen.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/status_matchers.h"
#include "libs/models/yolo.h"

namespace cvt {
namespace {

YoloTarget Target(const std::vector<float>& xyxy,
                  const std::vector<int64_t>& labels) {
  return {at::tensor(xyxy).reshape({-1, 4}), at::tensor(labels, at::kLong)};
}

YoloTarget NoTarget() { return {at::zeros({0, 4}), at::zeros({0}, at::kLong)}; }

bool Finite(const at::Tensor& t) { return std::isfinite(t.item<double>()); }

// A hand-made output on one stride-8 level of a 64 x 64 image (64 anchors):
// every box is `box`, every logit `logit`, every distribution logit 0.
YoloOutput Synthetic(int64_t batch, int64_t classes,
                     const std::vector<float>& box, float logit) {
  YoloOutput out;
  at::Tensor xs = (at::arange(8, at::kFloat) + 0.5) * 8;
  out.points = at::stack({xs.repeat({8}), xs.repeat_interleave(8)}, 1);
  out.strides = at::full({64}, 8.f);
  out.boxes = at::tensor(box).reshape({1, 1, 4}).repeat({batch, 64, 1});
  out.logits = at::full({batch, 64, classes}, logit);
  out.distribution = at::zeros({batch, 64, 4, kYoloRegMax});
  return out;
}

TEST(YoloLossTest, AssignsTopkAnchorsInsideTheBox) {
  // The GT covers the 4 x 4 anchors with centres 4..28. Predictions equal
  // it and every score is 0.5, so every candidate has the same alignment
  // and each positive aims at 1: S = positives, BCE is log 2 everywhere,
  // CIoU is 1 and each side's DFL is log 16.
  const std::vector<float> gt = {0, 0, 32, 32};
  for (int64_t topk : {10, 13, 16, 40}) {
    SCOPED_TRACE(topk);
    YoloOutput out = Synthetic(1, 3, gt, 0);
    absl::StatusOr<YoloLoss> loss =
        ComputeYoloLoss(out, {Target(gt, {1})}, {.topk = topk});
    ASSERT_THAT(loss, IsOk());
    const double positives = std::min<int64_t>(topk, 16);
    EXPECT_NEAR(loss->cls.item<double>(), 64 * 3 * std::log(2.0) / positives,
                1e-4);
    EXPECT_NEAR(loss->box.item<double>(), 0, 1e-5);
    EXPECT_NEAR(loss->dfl.item<double>(), std::log(16.0), 1e-4);
    EXPECT_NEAR(loss->total.item<double>(),
                0.5 * loss->cls.item<double>() + 1.5 * std::log(16.0) +
                    7.5 * loss->box.item<double>(),
                1e-4);
  }
}

TEST(YoloLossTest, EmptyTargetsAreAllNegative) {
  YoloOutput out = Synthetic(2, 3, {0, 0, 32, 32}, 0);
  out.logits.requires_grad_(true);
  absl::StatusOr<YoloLoss> loss =
      ComputeYoloLoss(out, {NoTarget(), NoTarget()}, {});
  ASSERT_THAT(loss, IsOk());
  // S = 1.
  EXPECT_NEAR(loss->cls.item<double>(), 2 * 64 * 3 * std::log(2.0), 1e-3);
  EXPECT_EQ(loss->box.item<double>(), 0);
  EXPECT_EQ(loss->dfl.item<double>(), 0);
  loss->total.backward();
  // Every gradient pushes the logits down.
  EXPECT_TRUE((out.logits.grad() > 0).all().item<bool>());
}

TEST(YoloLossTest, RealModelWithEmptyAndNonEmptyImages) {
  at::manual_seed(0);
  absl::StatusOr<std::unique_ptr<Yolo>> yolo =
      Yolo::Create({.size = YoloOptions::Size::kNano, .num_classes = 3});
  ASSERT_THAT(yolo, IsOk());
  (*yolo)->train(true);
  absl::StatusOr<YoloOutput> out = (*yolo)->Forward(at::rand({2, 3, 128, 128}));
  ASSERT_THAT(out, IsOk());
  {
    absl::StatusOr<YoloLoss> loss =
        ComputeYoloLoss(*out, {NoTarget(), NoTarget()}, {});
    ASSERT_THAT(loss, IsOk());
    EXPECT_TRUE(Finite(loss->total));
    EXPECT_GT(loss->cls.item<double>(), 0);
    EXPECT_EQ(loss->box.item<double>(), 0);
    EXPECT_EQ(loss->dfl.item<double>(), 0);
  }
  absl::StatusOr<YoloLoss> loss = ComputeYoloLoss(
      *out, {Target({10, 20, 60, 90, 70, 70, 120, 110}, {0, 2}), NoTarget()},
      {});
  ASSERT_THAT(loss, IsOk());
  EXPECT_TRUE(Finite(loss->total));
  EXPECT_GT(loss->box.item<double>(), 0);
  EXPECT_GT(loss->dfl.item<double>(), 0);
  loss->total.backward();
  for (const at::Tensor& p : (*yolo)->parameters()) {
    ASSERT_TRUE(p.grad().defined());
    EXPECT_TRUE(at::isfinite(p.grad()).all().item<bool>());
  }
}

TEST(YoloLossTest, ComparableAcrossBatchSizes) {
  at::manual_seed(0);
  absl::StatusOr<std::unique_ptr<Yolo>> yolo =
      Yolo::Create({.size = YoloOptions::Size::kNano, .num_classes = 2});
  ASSERT_THAT(yolo, IsOk());
  (*yolo)->train(false);
  at::NoGradGuard no_grad;
  at::Tensor image = at::rand({1, 3, 96, 96});
  YoloTarget target = Target({8, 8, 50, 40, 30, 50, 90, 90}, {0, 1});
  absl::StatusOr<YoloOutput> one = (*yolo)->Forward(image);
  absl::StatusOr<YoloOutput> three =
      (*yolo)->Forward(image.repeat({3, 1, 1, 1}));
  ASSERT_THAT(one, IsOk());
  ASSERT_THAT(three, IsOk());
  absl::StatusOr<YoloLoss> a = ComputeYoloLoss(*one, {target}, {});
  absl::StatusOr<YoloLoss> b =
      ComputeYoloLoss(*three, {target, target, target}, {});
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_NEAR(a->total.item<double>(), b->total.item<double>(),
              1e-4 * a->total.item<double>());
}

TEST(YoloLossTest, RejectsBadInputs) {
  YoloOutput out = Synthetic(1, 3, {0, 0, 32, 32}, 0);
  EXPECT_THAT(ComputeYoloLoss(out, {}, {}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ComputeYoloLoss(out, {Target({0, 0, 8, 8}, {3})}, {}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ComputeYoloLoss(out, {Target({0, 0, 8, 8}, {-1})}, {}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ComputeYoloLoss(
                  out, {{at::zeros({2, 3}), at::zeros({2}, at::kLong)}}, {}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ComputeYoloLoss(out, {Target({0, 0, 8, 8}, {0})}, {.topk = 0}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ComputeYoloLoss(YoloOutput(), {}, {}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace cvt
