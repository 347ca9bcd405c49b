#include <memory>
#include <vector>

#include "ATen/ATen.h"
#include "gtest/gtest.h"
#include "libs/adapters/detr_adapter.h"
#include "libs/adapters/make_output_adapter.h"
#include "libs/adapters/yolo_adapter.h"
#include "libs/base/status_matchers.h"
#include "libs/coco/category_map.h"
#include "libs/eval/coco_eval.h"

namespace cvt {
namespace {

// Categories with gaps in their ids (1, 3, 90), as COCO has.
CategoryMap Categories() {
  absl::StatusOr<CategoryMap> map = CategoryMap::FromCategories(
      {{1, "person", ""}, {3, "car", ""}, {90, "toothbrush", ""}});
  EXPECT_TRUE(map.ok());
  return *map;
}

// Ground truth of two images and the canonical targets the data pipeline
// would make from it: image 7 letterboxed (640x480 -> 320x320: scale 0.5,
// pad 40 on y), image 9 resized and flipped (200x100 -> 400x200).
struct Fixture {
  CocoDataset gt;
  std::vector<DetectionTarget> targets;
};

Fixture MakeFixture() {
  Fixture f;
  CategoryMap categories = Categories();
  f.gt.categories = categories.categories();
  f.gt.images = {{7, "a.jpg", 640, 480}, {9, "b.jpg", 200, 100}};
  auto add = [&](int64_t id, int64_t image, int64_t cat,
                 std::array<double, 4> box, int crowd) {
    CocoAnnotation a;
    a.id = id;
    a.image_id = image;
    a.category_id = cat;
    a.bbox = box;
    a.area = box[2] * box[3];
    a.iscrowd = crowd;
    f.gt.annotations.push_back(a);
  };
  add(1, 7, 1, {10.5, 20.25, 100, 50}, 0);
  add(2, 7, 90, {300, 200, 339.5, 279}, 0);
  add(3, 7, 3, {0, 0, 640, 100}, 1);  // crowd region
  add(4, 9, 3, {20, 30, 60, 40}, 0);
  add(5, 9, 1, {150, 10, 49, 89.5}, 0);

  ImageGeometry letterbox;
  letterbox.original_width = 640;
  letterbox.original_height = 480;
  letterbox.input_width = 320;
  letterbox.input_height = 320;
  letterbox.scale_x = letterbox.scale_y = 0.5;
  letterbox.offset_y = 40;
  ImageGeometry flipped;
  flipped.original_width = 200;
  flipped.original_height = 100;
  flipped.input_width = 400;
  flipped.input_height = 200;
  flipped.scale_x = -2;
  flipped.offset_x = 400;
  flipped.scale_y = 2;
  for (const CocoImage& image : f.gt.images) {
    DetectionTarget t;
    t.image_id = image.id;
    t.geometry = image.id == 7 ? letterbox : flipped;
    for (const CocoAnnotation& a : f.gt.annotations) {
      if (a.image_id != image.id) continue;
      const auto& b = a.bbox;
      t.boxes.push_back(
          t.geometry.ToInput({b[0], b[1], b[0] + b[2], b[1] + b[3]}));
      t.labels.push_back(categories.IndexOf(a.category_id));
      t.iscrowd.push_back(static_cast<uint8_t>(*a.iscrowd));
      t.annotation_ids.push_back(a.id);
    }
    f.targets.push_back(t);
  }
  return f;
}

std::vector<std::unique_ptr<OutputAdapter>> AllAdapters() {
  std::vector<std::unique_ptr<OutputAdapter>> out;
  DetrAdapterOptions detr;
  detr.num_classes = 3;
  out.push_back(std::make_unique<DetrAdapter>(detr));
  YoloAdapterOptions yolo;
  yolo.num_classes = 3;
  out.push_back(std::make_unique<YoloAdapter>(yolo));
  DenseAdapterOptions dense;
  dense.num_classes = 3;
  out.push_back(std::make_unique<DenseAdapter>(dense));
  return out;
}

// format_targets(adapt_targets(t)) gives back the ground truth (boxes within
// 1e-3 px, ids, crowd flags), and evaluating it as detections against the
// original ground truth gives AP 1.0.
TEST(OutputAdapterTest, TargetsRoundTripToTheOriginalGroundTruth) {
  Fixture f = MakeFixture();
  CategoryMap categories = Categories();
  for (const auto& adapter : AllAdapters()) {
    SCOPED_TRACE(adapter->family());
    ASSERT_OK_AND_ASSIGN(std::vector<AdaptedTarget> adapted,
                         adapter->AdaptTargets(f.targets));
    ASSERT_OK_AND_ASSIGN(CocoDataset back,
                         adapter->FormatTargets(adapted, categories));
    ASSERT_EQ(back.images.size(), 2u);
    EXPECT_EQ(back.images[0].width, 640);
    EXPECT_EQ(back.images[1].height, 100);
    ASSERT_EQ(back.annotations.size(), f.gt.annotations.size());
    std::vector<CocoDetection> as_detections;
    int crowd = 0;
    for (const CocoAnnotation& a : back.annotations) {
      // Find the original with the same image, category and crowd flag.
      bool found = false;
      for (const CocoAnnotation& o : f.gt.annotations) {
        if (o.image_id != a.image_id || o.category_id != a.category_id ||
            *o.iscrowd != *a.iscrowd) {
          continue;
        }
        bool close = true;
        for (int k = 0; k < 4; ++k) {
          close = close && std::abs(o.bbox[k] - a.bbox[k]) <= 1e-3;
        }
        found = found || close;
      }
      EXPECT_TRUE(found) << "annotation " << a.id << " of image " << a.image_id
                         << " did not come back";
      crowd += *a.iscrowd;
      if (*a.iscrowd == 0) {
        as_detections.push_back({a.image_id, a.category_id, a.bbox, 1.0});
      }
    }
    EXPECT_EQ(crowd, 1);
    ASSERT_OK_AND_ASSIGN(CocoEvalResult eval,
                         EvaluateCocoBbox(f.gt, as_detections));
    EXPECT_DOUBLE_EQ(eval.stats[0], 1.0);
    EXPECT_DOUBLE_EQ(eval.stats[1], 1.0);
  }
}

// The seed's vector: cx .5, cy .5, w .2, h .3 on 640 x 480 is
// [256, 168, 384, 312] in xyxy.
TEST(OutputAdapterTest, DetrBoxesAreNormalisedByTheUnpaddedInput) {
  DetrAdapterOptions options;
  options.num_classes = 3;
  DetrAdapter adapter(options);
  DetectionTarget t;
  t.image_id = 1;
  t.geometry.original_width = t.geometry.input_width = 640;
  t.geometry.original_height = t.geometry.input_height = 480;
  t.boxes = {{256, 168, 384, 312}};
  t.labels = {2};
  t.iscrowd = {0};
  ASSERT_OK_AND_ASSIGN(std::vector<AdaptedTarget> adapted,
                       adapter.AdaptTargets({t}));
  at::Tensor expected = at::tensor({0.5f, 0.5f, 0.2f, 0.3f}).reshape({1, 4});
  EXPECT_TRUE(at::allclose(adapted[0].boxes, expected, 0, 1e-6))
      << adapted[0].boxes;

  // Predictions: query 1 holds the box with class 2; the others are
  // "no object". Every query is reported (no threshold), best first.
  at::Tensor logits = at::full({1, 3, 4}, -5.0f);
  logits[0][0][3] = 5;  // no object
  logits[0][1][2] = 8;
  logits[0][2][0] = 1;
  at::Tensor boxes = at::full({1, 3, 4}, 0.25f);
  boxes[0][1] = expected[0];
  RawOutput raw = std::vector<DetrOutput>{{logits, boxes}};
  ASSERT_OK_AND_ASSIGN(std::vector<CocoDetection> dets,
                       adapter.FormatPredictions(raw, {t}, Categories()));
  ASSERT_EQ(dets.size(), 3u);
  EXPECT_EQ(dets[0].category_id, 90);
  EXPECT_NEAR(dets[0].bbox[0], 256, 1e-3);
  EXPECT_NEAR(dets[0].bbox[1], 168, 1e-3);
  EXPECT_NEAR(dets[0].bbox[2], 128, 1e-3);
  EXPECT_NEAR(dets[0].bbox[3], 144, 1e-3);
  EXPECT_GT(dets[0].score, dets[1].score);
  EXPECT_GE(dets[1].score, dets[2].score);
}

TEST(OutputAdapterTest, LabelsOutsideTheMapAreRefused) {
  Fixture f = MakeFixture();
  f.targets[0].labels[0] = 3;
  for (const auto& adapter : AllAdapters()) {
    EXPECT_THAT(adapter->AdaptTargets(f.targets),
                StatusIs(absl::StatusCode::kInvalidArgument));
  }
}

TEST(OutputAdapterTest, WrongFamilyOutputsAreRefused) {
  Fixture f = MakeFixture();
  DetrAdapterOptions options;
  options.num_classes = 3;
  DetrAdapter detr(options);
  RawOutput dense = DenseOutput{at::zeros({2, 5, 4}), at::zeros({2, 5, 3})};
  EXPECT_THAT(detr.FormatPredictions(dense, f.targets, Categories()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_OK_AND_ASSIGN(std::vector<AdaptedTarget> adapted,
                       detr.AdaptTargets(f.targets));
  EXPECT_THAT(detr.AdaptOutput(dense, adapted),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(OutputAdapterTest, RegistryFollowsTheOneof) {
  ModelConfig config;
  EXPECT_THAT(MakeOutputAdapter(config, 3),
              StatusIs(absl::StatusCode::kInvalidArgument));
  config.mutable_detr();
  ASSERT_OK_AND_ASSIGN(auto detr, MakeOutputAdapter(config, 3));
  EXPECT_EQ(detr->family(), "detr");
  config.mutable_yolo();
  ASSERT_OK_AND_ASSIGN(auto yolo, MakeOutputAdapter(config, 3));
  EXPECT_EQ(yolo->family(), "yolo");
  config.mutable_torchscript()->set_output_format(
      TorchScriptConfig::DENSE_XYXY_SCORES);
  ASSERT_OK_AND_ASSIGN(auto dense, MakeOutputAdapter(config, 3));
  EXPECT_EQ(dense->family(), "dense");
  config.mutable_torchscript()->set_output_format(
      TorchScriptConfig::DETR_STYLE);
  ASSERT_OK_AND_ASSIGN(auto ts_detr, MakeOutputAdapter(config, 3));
  EXPECT_EQ(ts_detr->family(), "detr");
  EXPECT_THAT(MakeOutputAdapter(config, 0),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace cvt
