#include "libs/data/transforms.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/status_matchers.h"
#include "libs/data/detection_sample.h"
#include "libs/data/seed_mix.h"
#include "opencv2/core.hpp"
#include "opencv2/imgproc.hpp"

namespace cvt {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A black `width` x `height` image with a white filled rectangle covering
// pixels [x1, x2) x [y1, y2), and the matching box (label 1, annotation 7).
DetectionSample RectangleSample(int width, int height, int x1, int y1, int x2,
                                int y2) {
  DetectionSample sample;
  sample.image = cv::Mat(height, width, CV_8UC3, cv::Scalar::all(0));
  sample.image(cv::Rect(x1, y1, x2 - x1, y2 - y1)).setTo(cv::Scalar::all(255));
  DetectionTarget& t = sample.target;
  t.image_id = 3;
  t.geometry.original_width = t.geometry.input_width = width;
  t.geometry.original_height = t.geometry.input_height = height;
  t.boxes = {{double(x1), double(y1), double(x2), double(y2)}};
  t.labels = {1};
  t.iscrowd = {0};
  t.annotation_ids = {7};
  return sample;
}

void AddBox(const BoxXyxy& box, uint8_t crowd, DetectionSample* sample) {
  DetectionTarget& t = sample->target;
  t.boxes.push_back(box);
  t.labels.push_back(0);
  t.iscrowd.push_back(crowd);
  t.annotation_ids.push_back(static_cast<int64_t>(t.boxes.size()));
}

void ExpectBoxNear(const BoxXyxy& actual, const BoxXyxy& expected,
                   double tolerance) {
  for (int k = 0; k < 4; ++k) {
    EXPECT_NEAR(actual[k], expected[k], tolerance) << "coordinate " << k;
  }
}

// The geometry maps every original box onto the transformed box and back,
// and the input size matches the image.
void ExpectConsistent(const std::vector<BoxXyxy>& original,
                      const DetectionSample& sample) {
  const ImageGeometry& g = sample.target.geometry;
  EXPECT_EQ(g.input_width, sample.image.cols);
  EXPECT_EQ(g.input_height, sample.image.rows);
  ASSERT_EQ(original.size(), sample.target.boxes.size());
  for (size_t i = 0; i < original.size(); ++i) {
    ExpectBoxNear(g.ToInput(original[i]), sample.target.boxes[i], 1e-9);
    ExpectBoxNear(g.ToOriginal(sample.target.boxes[i]), original[i], 1e-6);
  }
  const BoxXyxy probe = {1.25, 2.5, 17.75, 9};
  ExpectBoxNear(g.ToOriginal(g.ToInput(probe)), probe, 1e-6);
}

bool Bright(const cv::Mat& image, int y, int x) {
  if (image.type() == CV_32FC3) return image.at<cv::Vec3f>(y, x)[0] > 0.5f;
  return image.at<cv::Vec3b>(y, x)[0] > 160;
}

// Every bright pixel lies inside the (single) box, up to one pixel of
// interpolation; the pixel at the box centre is bright.
void ExpectRectangleInsideBox(const DetectionSample& sample) {
  ASSERT_EQ(sample.target.boxes.size(), 1u);
  const BoxXyxy& box = sample.target.boxes[0];
  int bright = 0;
  for (int y = 0; y < sample.image.rows; ++y) {
    for (int x = 0; x < sample.image.cols; ++x) {
      if (!Bright(sample.image, y, x)) continue;
      ++bright;
      EXPECT_GE(x + 0.5, box[0] - 1) << "x " << x << " y " << y;
      EXPECT_LE(x + 0.5, box[2] + 1) << "x " << x << " y " << y;
      EXPECT_GE(y + 0.5, box[1] - 1) << "x " << x << " y " << y;
      EXPECT_LE(y + 0.5, box[3] + 1) << "x " << x << " y " << y;
    }
  }
  EXPECT_GT(bright, 0);
  EXPECT_TRUE(Bright(sample.image, static_cast<int>((box[1] + box[3]) / 2),
                     static_cast<int>((box[0] + box[2]) / 2)));
}

TEST(ShortestEdgeSizeTest, DetrRuleWithRounding) {
  EXPECT_EQ(ShortestEdgeSize(640, 480, 800, 1333), cv::Size(1067, 800));
  EXPECT_EQ(ShortestEdgeSize(480, 640, 800, 1333), cv::Size(800, 1067));
  EXPECT_EQ(ShortestEdgeSize(2000, 500, 800, 1333), cv::Size(1333, 333));
  EXPECT_EQ(ShortestEdgeSize(500, 2000, 800, 1333), cv::Size(333, 1333));
  EXPECT_EQ(ShortestEdgeSize(800, 600, 800, 1333), cv::Size(1067, 800));
  EXPECT_EQ(ShortestEdgeSize(1333, 800, 800, 1333), cv::Size(1333, 800));
  EXPECT_EQ(ShortestEdgeSize(100, 100, 800, 1333), cv::Size(800, 800));
  EXPECT_EQ(ShortestEdgeSize(2000, 500, 800, 0), cv::Size(3200, 800));
  EXPECT_EQ(ShortestEdgeSize(64, 48, 32, 50), cv::Size(43, 32));
  EXPECT_EQ(ShortestEdgeSize(100, 20, 32, 50), cv::Size(50, 10));
}

TEST(TransformsTest, ResizeKeepsBoxesAndGeometry) {
  for (const cv::Size size : {cv::Size(160, 90), cv::Size(37, 23)}) {
    DetectionSample sample = RectangleSample(80, 60, 20, 10, 40, 30);
    const std::vector<BoxXyxy> original = sample.target.boxes;
    ASSERT_THAT(Resize(size.width, size.height, &sample), IsOk());
    EXPECT_EQ(sample.image.size(), size);
    ExpectConsistent(original, sample);
    ExpectRectangleInsideBox(sample);
  }
  DetectionSample sample = RectangleSample(80, 60, 20, 10, 40, 30);
  ASSERT_THAT(ResizeShortestEdge(30, 100, &sample), IsOk());
  EXPECT_EQ(sample.image.size(), cv::Size(40, 30));
  EXPECT_THAT(sample.target.boxes[0], ElementsAre(10, 5, 20, 15));
  EXPECT_THAT(Resize(0, 5, &sample),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(TransformsTest, LetterboxOffsetsAndPadding) {
  EXPECT_EQ(ComputeLetterbox(100, 50, 64).width, 64);
  EXPECT_EQ(ComputeLetterbox(100, 50, 64).height, 32);
  EXPECT_EQ(ComputeLetterbox(100, 50, 64).pad_left, 0);
  EXPECT_EQ(ComputeLetterbox(100, 50, 64).pad_top, 16);
  // 60x40 -> 64x43 (42.67 rounds up): 21 rows of padding, 10 above.
  const LetterboxLayout odd = ComputeLetterbox(60, 40, 64);
  EXPECT_EQ(odd.width, 64);
  EXPECT_EQ(odd.height, 43);
  EXPECT_EQ(odd.pad_top, 10);
  EXPECT_EQ(ComputeLetterbox(30, 60, 64).pad_left, 16);

  DetectionSample sample = RectangleSample(100, 50, 20, 10, 40, 30);
  const std::vector<BoxXyxy> original = sample.target.boxes;
  ASSERT_THAT(Letterbox(64, &sample), IsOk());
  EXPECT_EQ(sample.image.size(), cv::Size(64, 64));
  const ImageGeometry& g = sample.target.geometry;
  EXPECT_DOUBLE_EQ(g.scale_x, 0.64);
  EXPECT_DOUBLE_EQ(g.scale_y, 0.64);
  EXPECT_DOUBLE_EQ(g.offset_x, 0);
  EXPECT_DOUBLE_EQ(g.offset_y, 16);
  ExpectBoxNear(sample.target.boxes[0], {12.8, 22.4, 25.6, 35.2}, 1e-9);
  EXPECT_EQ(sample.image.at<cv::Vec3b>(0, 0), cv::Vec3b(114, 114, 114));
  EXPECT_EQ(sample.image.at<cv::Vec3b>(63, 63), cv::Vec3b(114, 114, 114));
  EXPECT_EQ(sample.image.at<cv::Vec3b>(16, 0), cv::Vec3b(0, 0, 0));
  ExpectConsistent(original, sample);
  ExpectRectangleInsideBox(sample);

  // Portrait, with horizontal padding.
  sample = RectangleSample(30, 60, 5, 20, 25, 40);
  ASSERT_THAT(Letterbox(64, &sample), IsOk());
  EXPECT_DOUBLE_EQ(sample.target.geometry.offset_x, 16);
  ExpectRectangleInsideBox(sample);
}

TEST(TransformsTest, HorizontalFlip) {
  DetectionSample sample = RectangleSample(100, 50, 10, 5, 30, 25);
  const std::vector<BoxXyxy> original = sample.target.boxes;
  ASSERT_THAT(HorizontalFlip(&sample), IsOk());
  EXPECT_THAT(sample.target.boxes[0], ElementsAre(70, 5, 90, 25));
  EXPECT_EQ(sample.target.geometry.scale_x, -1);
  EXPECT_EQ(sample.target.geometry.offset_x, 100);
  ExpectConsistent(original, sample);
  ExpectRectangleInsideBox(sample);
  ASSERT_THAT(HorizontalFlip(&sample), IsOk());
  EXPECT_EQ(sample.target.boxes[0], original[0]);
  EXPECT_EQ(sample.target.geometry.scale_x, 1);
  EXPECT_EQ(sample.target.geometry.offset_x, 0);
}

TEST(TransformsTest, CropKeepsAndDropsByVisibleArea) {
  const auto make = [] {
    DetectionSample sample = RectangleSample(100, 100, 30, 30, 40, 40);
    AddBox({10, 30, 30, 40}, 0, &sample);  // Half visible.
    AddBox({0, 0, 20, 20}, 0, &sample);    // Touches the corner only.
    AddBox({80, 80, 90, 90}, 0, &sample);  // Outside.
    AddBox({30, 30, 30, 40}, 0, &sample);  // Zero area.
    AddBox({60, 60, 80, 80}, 1, &sample);  // Crowd, a quarter visible.
    return sample;
  };
  const cv::Rect region(20, 20, 50, 50);

  DetectionSample sample = make();
  ASSERT_THAT(Crop(region, 0.0, &sample), IsOk());
  EXPECT_EQ(sample.image.size(), cv::Size(50, 50));
  ASSERT_EQ(sample.target.size(), 3);
  EXPECT_THAT(sample.target.boxes[0], ElementsAre(10, 10, 20, 20));
  EXPECT_THAT(sample.target.boxes[1], ElementsAre(0, 10, 10, 20));
  EXPECT_THAT(sample.target.boxes[2], ElementsAre(40, 40, 50, 50));
  EXPECT_THAT(sample.target.iscrowd, ElementsAre(0, 0, 1));
  EXPECT_THAT(sample.target.annotation_ids, ElementsAre(7, 2, 6));
  EXPECT_THAT(sample.target.labels, ElementsAre(1, 0, 0));
  EXPECT_EQ(sample.target.geometry.offset_x, -20);
  EXPECT_EQ(sample.target.geometry.offset_y, -20);

  sample = make();
  ASSERT_THAT(Crop(region, 0.5, &sample), IsOk());
  EXPECT_THAT(sample.target.annotation_ids, ElementsAre(7, 2));

  sample = make();
  ASSERT_THAT(Crop(region, 0.25, &sample), IsOk());
  EXPECT_THAT(sample.target.annotation_ids, ElementsAre(7, 2, 6));

  sample = make();
  ASSERT_THAT(Crop(region, 0.6, &sample), IsOk());
  EXPECT_THAT(sample.target.annotation_ids, ElementsAre(7));
  ExpectRectangleInsideBox(sample);
  ExpectConsistent({{30, 30, 40, 40}}, sample);

  sample = make();
  EXPECT_THAT(Crop(cv::Rect(60, 60, 50, 50), 0, &sample),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Crop(cv::Rect(0, 0, 0, 10), 0, &sample),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(TransformsTest, RandomCropRespectsRangesAndIsDeterministic) {
  RandomCropOptions options;
  options.pre_resize_sizes = {60, 80};
  options.min_size = 40;
  options.max_size = 50;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    DetectionSample a = RectangleSample(120, 90, 0, 0, 120, 90);
    DetectionSample b = a;
    b.image = a.image.clone();
    Rng rng_a(seed), rng_b(seed);
    ASSERT_THAT(RandomCrop(options, &rng_a, &a), IsOk());
    ASSERT_THAT(RandomCrop(options, &rng_b, &b), IsOk());
    EXPECT_GE(a.image.cols, 40);
    EXPECT_LE(a.image.cols, 50);
    EXPECT_GE(a.image.rows, 40);
    EXPECT_LE(a.image.rows, 50);
    EXPECT_EQ(a.image.size(), b.image.size());
    EXPECT_EQ(cv::norm(a.image, b.image, cv::NORM_INF), 0);
    EXPECT_EQ(a.target.boxes, b.target.boxes);
    // The whole-image box is clipped to the crop: it covers it exactly.
    ASSERT_EQ(a.target.size(), 1);
    EXPECT_THAT(a.target.boxes[0],
                ElementsAre(0, 0, a.image.cols, a.image.rows));
    // The crop is the input: the original box maps onto it.
    const ImageGeometry& g = a.target.geometry;
    const BoxXyxy back = g.ToOriginal(a.target.boxes[0]);
    EXPECT_GE(back[0], -1e-9);
    EXPECT_LE(back[2], 120 + 1e-9);
  }
  // An image smaller than min_size is kept whole on that axis.
  options.pre_resize_sizes.clear();
  DetectionSample small = RectangleSample(30, 100, 5, 5, 20, 20);
  Rng rng(1);
  ASSERT_THAT(RandomCrop(options, &rng, &small), IsOk());
  EXPECT_EQ(small.image.cols, 30);
  options.max_size = 10;
  EXPECT_THAT(RandomCrop(options, &rng, &small),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(TransformsTest, ColorJitterBrightnessMatchesItsDraws) {
  ColorJitterOptions options;
  options.brightness = 0.4;
  DetectionSample sample = RectangleSample(20, 10, 5, 2, 10, 8);
  sample.image.setTo(cv::Scalar(100, 50, 200));
  const std::vector<BoxXyxy> boxes = sample.target.boxes;
  Rng rng(99);
  ASSERT_THAT(ColorJitter(options, &rng, &sample), IsOk());
  // Replay: the order shuffle, then the brightness factor.
  Rng replay(99);
  std::vector<int> order = {0, 1, 2, 3};
  Shuffle(&order, &replay);
  const double f = UniformDouble(&replay, 0.6, 1.4);
  const cv::Vec3b pixel = sample.image.at<cv::Vec3b>(0, 0);
  const int in[3] = {100, 50, 200};
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(pixel[c], std::min(255.0, in[c] * f), 0.51) << "f " << f;
  }
  EXPECT_EQ(sample.target.boxes, boxes);
}

TEST(TransformsTest, ColorJitterIsSeededAndHueKeepsGrey) {
  ColorJitterOptions options;
  options.brightness = 0.3;
  options.contrast = 0.3;
  options.saturation = 0.3;
  options.hue = 0.1;
  DetectionSample base = RectangleSample(32, 24, 4, 4, 20, 16);
  base.image(cv::Rect(0, 0, 8, 8)).setTo(cv::Scalar(20, 120, 220));
  const auto run = [&](uint64_t seed) {
    DetectionSample s = base;
    s.image = base.image.clone();
    Rng rng(seed);
    EXPECT_THAT(ColorJitter(options, &rng, &s), IsOk());
    return s.image;
  };
  EXPECT_EQ(cv::norm(run(5), run(5), cv::NORM_INF), 0);
  EXPECT_GT(cv::norm(run(5), run(6), cv::NORM_INF), 0);

  ColorJitterOptions hue_only;
  hue_only.hue = 0.5;
  DetectionSample grey = RectangleSample(8, 8, 1, 1, 4, 4);
  grey.image.setTo(cv::Scalar::all(90));
  const cv::Mat before = grey.image.clone();
  Rng rng(3);
  ASSERT_THAT(ColorJitter(hue_only, &rng, &grey), IsOk());
  EXPECT_LE(cv::norm(grey.image, before, cv::NORM_INF), 1);

  // Disabled: nothing drawn, nothing changed.
  Rng a(8), b(8);
  ASSERT_THAT(ColorJitter({}, &a, &grey), IsOk());
  EXPECT_EQ(a(), b());
  hue_only.hue = 0.6;
  EXPECT_THAT(ColorJitter(hue_only, &a, &grey),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(TransformsTest, NormalizeGivesRgbFloatAndMustBeLast) {
  DetectionSample sample = RectangleSample(4, 2, 0, 0, 1, 1);
  sample.image.setTo(cv::Scalar(255, 0, 128));  // B, G, R.
  ASSERT_THAT(Normalize(kImageNetMean, kImageNetStd, &sample), IsOk());
  ASSERT_EQ(sample.image.type(), CV_32FC3);
  const cv::Vec3f v = sample.image.at<cv::Vec3f>(1, 3);
  EXPECT_NEAR(v[0], (128 / 255.0 - 0.485) / 0.229, 1e-5);  // R.
  EXPECT_NEAR(v[1], (0 - 0.456) / 0.224, 1e-5);            // G.
  EXPECT_NEAR(v[2], (1 - 0.406) / 0.225, 1e-5);            // B.
  EXPECT_THAT(HorizontalFlip(&sample),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("before Normalize")));
  EXPECT_THAT(Normalize(kImageNetMean, kImageNetStd, &sample),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  DetectionSample other = RectangleSample(4, 2, 0, 0, 1, 1);
  EXPECT_THAT(Normalize(kImageNetMean, {1, 0, 1}, &other),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TransformOptions SmallOptions() {
  TransformOptions options;
  options.train_min_sizes = {40, 48, 56};
  options.eval_min_size = 48;
  options.max_size = 100;
  return options;
}

TEST(TransformPipelineTest, EvalResizesAndNormalizes) {
  auto eval = TransformPipeline::Create(SmallOptions(), /*train=*/false);
  ASSERT_THAT(eval, IsOk());
  DetectionSample sample = RectangleSample(80, 60, 20, 10, 40, 30);
  const std::vector<BoxXyxy> original = sample.target.boxes;
  ASSERT_THAT(eval->Apply(&sample, nullptr), IsOk());
  EXPECT_EQ(sample.image.size(), cv::Size(64, 48));
  EXPECT_EQ(sample.image.type(), CV_32FC3);
  ExpectConsistent(original, sample);
  ExpectRectangleInsideBox(sample);

  TransformOptions letterbox = SmallOptions();
  letterbox.letterbox_size = 64;
  eval = TransformPipeline::Create(letterbox, false);
  ASSERT_THAT(eval, IsOk());
  sample = RectangleSample(80, 60, 20, 10, 40, 30);
  ASSERT_THAT(eval->Apply(&sample, nullptr), IsOk());
  EXPECT_EQ(sample.image.size(), cv::Size(64, 64));
  EXPECT_DOUBLE_EQ(sample.target.geometry.offset_y, 8);
  ExpectConsistent(original, sample);
}

TEST(TransformPipelineTest, TrainIsAFunctionOfTheRng) {
  TransformOptions options = SmallOptions();
  RandomCropOptions crop;
  crop.pre_resize_sizes = {60, 70};
  crop.min_size = 30;
  crop.max_size = 50;
  options.random_crop = crop;
  options.color_jitter.brightness = 0.2;
  options.color_jitter.hue = 0.05;
  auto train = TransformPipeline::Create(options, /*train=*/true);
  ASSERT_THAT(train, IsOk());
  std::set<int> widths;
  int flipped = 0;
  for (uint64_t seed = 0; seed < 24; ++seed) {
    DetectionSample a = RectangleSample(80, 60, 20, 10, 60, 50);
    DetectionSample b = RectangleSample(80, 60, 20, 10, 60, 50);
    Rng rng_a(MixSeed(1, 2, seed)), rng_b(MixSeed(1, 2, seed));
    ASSERT_THAT(train->Apply(&a, &rng_a), IsOk());
    ASSERT_THAT(train->Apply(&b, &rng_b), IsOk());
    ASSERT_EQ(a.image.size(), b.image.size());
    EXPECT_EQ(cv::norm(a.image, b.image, cv::NORM_INF), 0);
    EXPECT_EQ(a.target.boxes, b.target.boxes);
    EXPECT_EQ(a.image.type(), CV_32FC3);
    const int shortest = std::min(a.image.cols, a.image.rows);
    EXPECT_TRUE(shortest == 40 || shortest == 48 || shortest == 56 ||
                std::max(a.image.cols, a.image.rows) == 100)
        << a.image.size();
    widths.insert(a.image.cols);
    if (a.target.geometry.scale_x < 0) ++flipped;
    const ImageGeometry& g = a.target.geometry;
    EXPECT_EQ(g.input_width, a.image.cols);
    for (const BoxXyxy& box : a.target.boxes) {
      // Back in the original frame, a kept box lies within the drawn one.
      const BoxXyxy back = g.ToOriginal(box);
      EXPECT_GE(back[0], 20 - 1e-6);
      EXPECT_LE(back[2], 60 + 1e-6);
      EXPECT_GE(back[1], 10 - 1e-6);
      EXPECT_LE(back[3], 50 + 1e-6);
    }
  }
  EXPECT_GT(widths.size(), 2u);
  EXPECT_GT(flipped, 3);
  EXPECT_LT(flipped, 21);
  DetectionSample sample = RectangleSample(80, 60, 20, 10, 60, 50);
  EXPECT_THAT(train->Apply(&sample, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(TransformPipelineTest, FlipOnlyTrainingKeepsTheRectangleInItsBox) {
  TransformOptions options = SmallOptions();
  options.horizontal_flip_probability = 1;
  auto train = TransformPipeline::Create(options, true);
  ASSERT_THAT(train, IsOk());
  DetectionSample sample = RectangleSample(80, 60, 10, 10, 30, 30);
  const std::vector<BoxXyxy> original = sample.target.boxes;
  Rng rng(4);
  ASSERT_THAT(train->Apply(&sample, &rng), IsOk());
  EXPECT_LT(sample.target.geometry.scale_x, 0);
  ExpectConsistent(original, sample);
  ExpectRectangleInsideBox(sample);
}

TEST(TransformPipelineTest, ValidationNamesTheField) {
  TransformOptions options = SmallOptions();
  options.horizontal_flip_probability = 1.5;
  EXPECT_THAT(TransformPipeline::Create(options, true),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("horizontal_flip_probability")));
  options = SmallOptions();
  options.random_crop = RandomCropOptions{};
  options.random_crop->max_size = 10;
  EXPECT_THAT(TransformPipeline::Create(options, true),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("random_crop.max_size")));
  options = SmallOptions();
  options.train_min_sizes = {0};
  EXPECT_THAT(TransformPipeline::Create(options, true),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("train_min_sizes")));
  options = SmallOptions();
  options.std = {1, -1, 1};
  EXPECT_THAT(TransformPipeline::Create(options, true),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("std")));
  options = SmallOptions();
  options.train_min_sizes.clear();
  auto pipeline = TransformPipeline::Create(options, true);
  ASSERT_THAT(pipeline, IsOk());
  EXPECT_THAT(pipeline->options().train_min_sizes, ElementsAre(48));
}

}  // namespace
}  // namespace cvt
