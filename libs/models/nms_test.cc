#include "libs/models/nms.h"

#include <vector>

#include "ATen/ATen.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/models/yolo.h"

namespace cvt {
namespace {

using ::testing::ElementsAre;
using ::testing::FloatEq;
using ::testing::IsEmpty;

at::Tensor Boxes(const std::vector<float>& xyxy) {
  return at::tensor(xyxy).reshape({-1, 4});
}

at::Tensor Scores(const std::vector<float>& values, int64_t k) {
  return at::tensor(values).reshape({-1, k});
}

// (box index recovered from x1, label) of each detection, in order.
std::vector<std::pair<float, int64_t>> Summary(
    const std::vector<ScoredBox>& dets) {
  std::vector<std::pair<float, int64_t>> out;
  for (const ScoredBox& d : dets) out.emplace_back(d.xyxy[0], d.label);
  return out;
}

TEST(NonMaxSuppressionTest, SuppressesWithinClass) {
  // Boxes 0 and 1 overlap (IoU 0.81); box 2 is apart.
  at::Tensor boxes = Boxes({0, 0, 10, 10, 1, 1, 10, 10, 50, 50, 60, 60});
  at::Tensor scores = Scores({0.8, 0.9, 0.7}, 1);
  std::vector<ScoredBox> dets =
      NonMaxSuppression(boxes, scores, 0.001, 0.5, 100);
  ASSERT_EQ(dets.size(), 2u);
  EXPECT_THAT(dets[0].xyxy, ElementsAre(1, 1, 10, 10));
  EXPECT_THAT(dets[0].score, FloatEq(0.9));
  EXPECT_EQ(dets[0].label, 0);
  EXPECT_THAT(dets[1].xyxy, ElementsAre(50, 50, 60, 60));
  EXPECT_THAT(dets[1].score, FloatEq(0.7));
}

TEST(NonMaxSuppressionTest, DoesNotSuppressAcrossClasses) {
  at::Tensor boxes = Boxes({0, 0, 10, 10, 1, 1, 10, 10});
  // Box 0 is class 0, box 1 class 1.
  at::Tensor scores = Scores({0.9, 0.0, 0.0, 0.8}, 2);
  EXPECT_THAT(Summary(NonMaxSuppression(boxes, scores, 0.001, 0.5, 100)),
              ElementsAre(std::make_pair(0.f, 0), std::make_pair(1.f, 1)));
}

TEST(NonMaxSuppressionTest, OneBoxCanBeKeptForSeveralClasses) {
  at::Tensor boxes = Boxes({0, 0, 10, 10});
  at::Tensor scores = Scores({0.3, 0.6, 0.0005}, 3);
  std::vector<ScoredBox> dets =
      NonMaxSuppression(boxes, scores, 0.001, 0.5, 100);
  ASSERT_EQ(dets.size(), 2u);
  EXPECT_EQ(dets[0].label, 1);
  EXPECT_EQ(dets[1].label, 0);
}

TEST(NonMaxSuppressionTest, IouThresholdIsStrict) {
  // IoU exactly 0.5: area 20 and 40, intersection 20.
  at::Tensor boxes = Boxes({0, 0, 4, 10, 0, 0, 2, 10});
  at::Tensor scores = Scores({0.9, 0.8}, 1);
  EXPECT_EQ(NonMaxSuppression(boxes, scores, 0.001, 0.5, 100).size(), 2u);
  EXPECT_EQ(NonMaxSuppression(boxes, scores, 0.001, 0.49, 100).size(), 1u);
}

TEST(NonMaxSuppressionTest, ScoreThresholdIsInclusive) {
  at::Tensor boxes = Boxes({0, 0, 1, 1, 5, 5, 6, 6});
  at::Tensor scores = Scores({0.25, 0.2499}, 1);
  std::vector<ScoredBox> dets = NonMaxSuppression(boxes, scores, 0.25, 0.5, 10);
  ASSERT_EQ(dets.size(), 1u);
  EXPECT_THAT(dets[0].score, FloatEq(0.25));
}

TEST(NonMaxSuppressionTest, KeepsMaxDetectionsByScore) {
  std::vector<float> xyxy;
  for (int i = 0; i < 5; ++i) {
    xyxy.insert(xyxy.end(), {20.f * i, 0, 20.f * i + 10, 10});
  }
  at::Tensor scores = Scores({0.1, 0.5, 0.3, 0.9, 0.7}, 1);
  EXPECT_THAT(Summary(NonMaxSuppression(Boxes(xyxy), scores, 0.0, 0.5, 3)),
              ElementsAre(std::make_pair(60.f, 0), std::make_pair(80.f, 0),
                          std::make_pair(20.f, 0)));
  EXPECT_THAT(NonMaxSuppression(Boxes(xyxy), scores, 0.0, 0.5, 0), IsEmpty());
}

TEST(NonMaxSuppressionTest, EmptyAndInvalidInputsGiveNothing) {
  EXPECT_THAT(
      NonMaxSuppression(at::zeros({0, 4}), at::zeros({0, 3}), 0.001, 0.5, 100),
      IsEmpty());
  // Everything under the threshold.
  EXPECT_THAT(NonMaxSuppression(Boxes({0, 0, 1, 1}), Scores({0.0001}, 1), 0.001,
                                0.5, 100),
              IsEmpty());
  // Mismatched N, wrong box width, undefined tensors.
  EXPECT_THAT(
      NonMaxSuppression(Boxes({0, 0, 1, 1}), at::ones({2, 1}), 0.001, 0.5, 100),
      IsEmpty());
  EXPECT_THAT(
      NonMaxSuppression(at::zeros({2, 3}), at::ones({2, 1}), 0.001, 0.5, 100),
      IsEmpty());
  EXPECT_THAT(NonMaxSuppression(at::Tensor(), at::Tensor(), 0.001, 0.5, 100),
              IsEmpty());
}

TEST(NonMaxSuppressionTest, TiesGoByBoxIndexThenClass) {
  // Equal scores everywhere. Boxes 0 and 2 coincide; box 1 is apart.
  at::Tensor boxes = Boxes({0, 0, 10, 10, 30, 30, 40, 40, 0, 0, 10, 10});
  at::Tensor scores = at::full({3, 2}, 0.5);
  // Box 2 loses to box 0 in both classes; the order is (0, c0), (0, c1),
  // (1, c0), (1, c1).
  EXPECT_THAT(Summary(NonMaxSuppression(boxes, scores, 0.001, 0.5, 100)),
              ElementsAre(std::make_pair(0.f, 0), std::make_pair(0.f, 1),
                          std::make_pair(30.f, 0), std::make_pair(30.f, 1)));
  // Repeated calls agree.
  EXPECT_EQ(Summary(NonMaxSuppression(boxes, scores, 0.001, 0.5, 100)),
            Summary(NonMaxSuppression(boxes, scores, 0.001, 0.5, 100)));
}

TEST(NonMaxSuppressionTest, ZeroAreaBoxesDoNotSuppress) {
  at::Tensor boxes = Boxes({5, 5, 5, 5, 5, 5, 5, 5});
  at::Tensor scores = Scores({0.9, 0.8}, 1);
  EXPECT_EQ(NonMaxSuppression(boxes, scores, 0.001, 0.5, 100).size(), 2u);
}

TEST(YoloPostprocessTest, AppliesSigmoidPerImage) {
  YoloOutput out;
  // Two images, two anchors, two classes.
  out.boxes = Boxes({0, 0, 10, 10, 1, 1, 10, 10,  //
                     0, 0, 10, 10, 50, 50, 60, 60})
                  .reshape({2, 2, 4});
  out.logits = Scores({2, -20, 1, -20,  //
                       -20, 0, -20, -20},
                      2)
                   .reshape({2, 2, 2});
  std::vector<std::vector<ScoredBox>> dets =
      YoloPostprocess(out, 0.001, 0.5, 100);
  ASSERT_EQ(dets.size(), 2u);
  // Image 0: both boxes are class 0 and overlap; the logit 2 one stays.
  ASSERT_EQ(dets[0].size(), 1u);
  EXPECT_THAT(dets[0][0].score, FloatEq(1 / (1 + std::exp(-2.f))));
  EXPECT_THAT(dets[0][0].xyxy, ElementsAre(0, 0, 10, 10));
  // Image 1: box 0 class 1 at 0.5.
  ASSERT_EQ(dets[1].size(), 1u);
  EXPECT_EQ(dets[1][0].label, 1);
  EXPECT_THAT(dets[1][0].score, FloatEq(0.5));
  EXPECT_THAT(YoloPostprocess(YoloOutput(), 0.001, 0.5, 100), IsEmpty());
}

}  // namespace
}  // namespace cvt
