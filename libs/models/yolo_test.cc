#include "libs/models/yolo.h"

#include <iostream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "ATen/ATen.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/status_matchers.h"

namespace cvt {
namespace {

using ::testing::Contains;
using ::testing::Key;

constexpr YoloOptions::Size kSizes[] = {YoloOptions::Size::kNano,
                                        YoloOptions::Size::kSmall,
                                        YoloOptions::Size::kMedium};
constexpr const char* kSizeNames[] = {"nano", "small", "medium"};

std::unique_ptr<Yolo> MakeYolo(YoloOptions::Size size, int64_t classes) {
  absl::StatusOr<std::unique_ptr<Yolo>> yolo =
      Yolo::Create({.size = size, .num_classes = classes});
  EXPECT_THAT(yolo, IsOk());
  return yolo.ok() ? *std::move(yolo) : nullptr;
}

int64_t Anchors(int64_t h, int64_t w) {
  return h * w / 64 + h * w / 256 + h * w / 1024;
}

TEST(YoloTest, OutputShapesForEverySize) {
  at::manual_seed(0);
  for (int s = 0; s < 3; ++s) {
    std::unique_ptr<Yolo> yolo = MakeYolo(kSizes[s], 5);
    ASSERT_NE(yolo, nullptr);
    yolo->train(false);
    for (int64_t side : {160, 224}) {
      SCOPED_TRACE(absl::StrCat(kSizeNames[s], " at ", side));
      at::NoGradGuard no_grad;
      absl::StatusOr<YoloOutput> out =
          yolo->Forward(at::rand({2, 3, side, side}));
      ASSERT_THAT(out, IsOk());
      const int64_t n = Anchors(side, side);
      EXPECT_EQ(n, side == 160 ? 525 : 1029);
      EXPECT_EQ(out->boxes.sizes(), (std::vector<int64_t>{2, n, 4}));
      EXPECT_EQ(out->logits.sizes(), (std::vector<int64_t>{2, n, 5}));
      EXPECT_EQ(out->points.sizes(), (std::vector<int64_t>{n, 2}));
      EXPECT_EQ(out->strides.sizes(), (std::vector<int64_t>{n}));
      EXPECT_EQ(out->distribution.sizes(),
                (std::vector<int64_t>{2, n, 4, kYoloRegMax}));
    }
  }
}

TEST(YoloTest, AnchorsAndDecoding) {
  at::manual_seed(0);
  std::unique_ptr<Yolo> yolo = MakeYolo(YoloOptions::Size::kNano, 3);
  ASSERT_NE(yolo, nullptr);
  // Not square, to pin the row-major order.
  absl::StatusOr<YoloOutput> out = yolo->Forward(at::rand({1, 3, 64, 96}));
  ASSERT_THAT(out, IsOk());
  const at::Tensor& p = out->points;
  ASSERT_EQ(p.size(0), Anchors(64, 96));
  EXPECT_TRUE(at::equal(p[0], at::tensor({4.f, 4.f})));
  EXPECT_TRUE(at::equal(p[1], at::tensor({12.f, 4.f})));
  EXPECT_TRUE(at::equal(p[12], at::tensor({4.f, 12.f})));  // 96 / 8 = 12
  EXPECT_TRUE(at::equal(p[96], at::tensor({8.f, 8.f})));   // first of P4
  EXPECT_TRUE(at::equal(p[-1], at::tensor({80.f, 48.f})));
  EXPECT_EQ(out->strides[0].item<float>(), 8);
  EXPECT_EQ(out->strides[96].item<float>(), 16);
  EXPECT_EQ(out->strides[-1].item<float>(), 32);
  // Boxes surround their anchor, at most 15 strides away on each side, and
  // match the expectation of the distributions.
  at::Tensor b = out->boxes[0].detach();
  at::Tensor ltrb = at::cat({p - b.slice(1, 0, 2), b.slice(1, 2, 4) - p}, 1);
  EXPECT_GE(ltrb.min().item<float>(), 0);
  EXPECT_TRUE(
      (ltrb <= 15 * out->strides.unsqueeze(1) + 1e-3).all().item<bool>());
  at::Tensor expected =
      (out->distribution[0].softmax(-1) * at::arange(kYoloRegMax)).sum(-1) *
      out->strides.unsqueeze(1);
  EXPECT_TRUE(at::allclose(ltrb, expected, 1e-4, 1e-3));
}

TEST(YoloTest, WorksWithBatchOfOneAndIsDifferentiable) {
  at::manual_seed(0);
  std::unique_ptr<Yolo> yolo = MakeYolo(YoloOptions::Size::kNano, 2);
  ASSERT_NE(yolo, nullptr);
  yolo->train(true);
  absl::StatusOr<YoloOutput> out = yolo->Forward(at::rand({1, 3, 160, 160}));
  ASSERT_THAT(out, IsOk());
  EXPECT_EQ(out->boxes.size(0), 1);
  (out->boxes.mean() + out->logits.mean()).backward();
  for (const auto& [name, p] : yolo->named_parameters()) {
    ASSERT_TRUE(p.grad().defined()) << name;
    EXPECT_TRUE(at::isfinite(p.grad()).all().item<bool>()) << name;
  }
}

TEST(YoloTest, ClassScoresStartAtThePrior) {
  at::manual_seed(0);
  absl::StatusOr<std::unique_ptr<Yolo>> yolo =
      Yolo::Create({.size = YoloOptions::Size::kNano,
                    .num_classes = 4,
                    .class_prior = 0.01});
  ASSERT_THAT(yolo, IsOk());
  (*yolo)->train(false);
  at::NoGradGuard no_grad;
  absl::StatusOr<YoloOutput> out = (*yolo)->Forward(at::rand({2, 3, 128, 128}));
  ASSERT_THAT(out, IsOk());
  double mean = out->logits.sigmoid().mean().item<double>();
  EXPECT_GT(mean, 0.002);
  EXPECT_LT(mean, 0.05);
}

TEST(YoloTest, EvaluationIsDeterministic) {
  at::manual_seed(0);
  std::unique_ptr<Yolo> yolo = MakeYolo(YoloOptions::Size::kNano, 2);
  ASSERT_NE(yolo, nullptr);
  yolo->train(false);
  at::Tensor images = at::rand({2, 3, 96, 96});
  absl::StatusOr<YoloOutput> a = yolo->Forward(images);
  absl::StatusOr<YoloOutput> b = yolo->Forward(images);
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_TRUE(at::equal(a->boxes, b->boxes));
  EXPECT_TRUE(at::equal(a->logits, b->logits));
}

TEST(YoloTest, RejectsBadInputs) {
  std::unique_ptr<Yolo> yolo = MakeYolo(YoloOptions::Size::kNano, 2);
  ASSERT_NE(yolo, nullptr);
  EXPECT_THAT(yolo->Forward(at::rand({1, 3, 100, 160})),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(yolo->Forward(at::rand({1, 3, 160, 48})),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(yolo->Forward(at::rand({1, 4, 64, 64})),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(yolo->Forward(at::rand({3, 64, 64})),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(yolo->Forward(at::Tensor()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Yolo::Create({.num_classes = 0}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Yolo::Create({.class_prior = 0}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Yolo::Create({.class_prior = 1}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(YoloTest, NamesAreStableAndComplete) {
  std::unique_ptr<Yolo> yolo = MakeYolo(YoloOptions::Size::kNano, 3);
  ASSERT_NE(yolo, nullptr);
  std::vector<std::pair<std::string, at::Tensor>> params =
      yolo->named_parameters();
  std::vector<std::pair<std::string, at::Tensor>> buffers =
      yolo->named_buffers();
  EXPECT_THAT(params, Contains(Key("backbone.stem.conv.weight")));
  EXPECT_THAT(params, Contains(Key("backbone.stem.bn.weight")));
  EXPECT_THAT(params,
              Contains(Key("backbone.stage2.csp.blocks.1.conv2.conv.weight")));
  EXPECT_THAT(params, Contains(Key("backbone.stage4.sppf.fuse.conv.weight")));
  EXPECT_THAT(params, Contains(Key("neck.top_down4.reduce.conv.weight")));
  EXPECT_THAT(params, Contains(Key("neck.bottom_up5.fuse.bn.bias")));
  EXPECT_THAT(params, Contains(Key("head.level0.box.1.conv.weight")));
  EXPECT_THAT(params, Contains(Key("head.level2.cls_pred.bias")));
  EXPECT_THAT(buffers, Contains(Key("backbone.stem.bn.running_mean")));
  EXPECT_THAT(buffers, Contains(Key("head.level1.cls.0.bn.running_var")));
  std::set<std::string> names;
  int64_t count = 0;
  for (const auto& [name, p] : params) {
    names.insert(name);
    count += p.numel();
  }
  for (const auto& [name, b] : buffers) names.insert(name);
  EXPECT_EQ(names.size(), params.size() + buffers.size());
  EXPECT_EQ(params.size(), yolo->parameters().size());
  EXPECT_EQ(count, yolo->num_parameters());
}

TEST(YoloTest, ParameterCountsGrowWithSize) {
  int64_t previous = 0;
  for (int s = 0; s < 3; ++s) {
    std::unique_ptr<Yolo> yolo = MakeYolo(kSizes[s], 80);
    ASSERT_NE(yolo, nullptr);
    const int64_t count = yolo->num_parameters();
    std::cout << "YOLO " << kSizeNames[s] << " (80 classes): " << count
              << " parameters" << std::endl;
    EXPECT_GT(count, previous);
    previous = count;
  }
}

}  // namespace
}  // namespace cvt
