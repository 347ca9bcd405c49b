#include "libs/data/options_from_proto.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/status_matchers.h"
#include "libs/config/augmentation_config.pb.h"
#include "libs/config/data_config.pb.h"
#include "libs/data/transforms.h"

namespace cvt {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(OptionsFromProtoTest, DefaultsMatchTheSchema) {
  auto options = TransformOptionsFromProto(AugmentationConfig());
  ASSERT_THAT(options, IsOk());
  EXPECT_TRUE(options->train_min_sizes.empty());
  EXPECT_EQ(options->eval_min_size, 800);
  EXPECT_EQ(options->max_size, 1333);
  EXPECT_EQ(options->letterbox_size, 0);
  EXPECT_FLOAT_EQ(options->horizontal_flip_probability, 0.5);
  EXPECT_FALSE(options->random_crop.has_value());
  EXPECT_FALSE(options->color_jitter.enabled());
  EXPECT_EQ(options->mean, kImageNetMean);
  EXPECT_EQ(options->std, kImageNetStd);
}

TEST(OptionsFromProtoTest, CopiesEveryField) {
  AugmentationConfig config;
  config.add_train_min_sizes(480);
  config.add_train_min_sizes(512);
  config.set_eval_min_size(640);
  config.set_max_size(1000);
  config.set_horizontal_flip_probability(0.25);
  config.mutable_random_crop()->add_pre_resize_sizes(400);
  config.mutable_random_crop()->set_min_size(300);
  config.mutable_random_crop()->set_max_size(500);
  config.mutable_random_crop()->set_min_box_visibility(0.5);
  config.mutable_color_jitter()->set_brightness(0.1f);
  config.mutable_color_jitter()->set_hue(0.02f);
  for (float v : {0.5f, 0.5f, 0.5f}) config.add_mean(v);
  for (float v : {0.25f, 0.25f, 0.25f}) config.add_std(v);
  auto options = TransformOptionsFromProto(config);
  ASSERT_THAT(options, IsOk());
  EXPECT_THAT(options->train_min_sizes, ElementsAre(480, 512));
  EXPECT_EQ(options->eval_min_size, 640);
  EXPECT_EQ(options->max_size, 1000);
  EXPECT_DOUBLE_EQ(options->horizontal_flip_probability, 0.25);
  ASSERT_TRUE(options->random_crop.has_value());
  EXPECT_DOUBLE_EQ(options->random_crop->probability, 0.5);
  EXPECT_THAT(options->random_crop->pre_resize_sizes, ElementsAre(400));
  EXPECT_EQ(options->random_crop->min_size, 300);
  EXPECT_EQ(options->random_crop->max_size, 500);
  EXPECT_DOUBLE_EQ(options->random_crop->min_box_visibility, 0.5);
  EXPECT_FLOAT_EQ(options->color_jitter.brightness, 0.1f);
  EXPECT_FLOAT_EQ(options->color_jitter.hue, 0.02f);
  EXPECT_EQ(options->mean[1], 0.5f);
  EXPECT_EQ(options->std[2], 0.25f);
  auto pipeline = MakeTransformPipeline(config, /*train=*/true);
  ASSERT_THAT(pipeline, IsOk());
  EXPECT_TRUE(pipeline->train());
}

TEST(OptionsFromProtoTest, RejectsOutOfRange) {
  AugmentationConfig config;
  config.add_mean(0.5f);
  EXPECT_THAT(TransformOptionsFromProto(config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("mean")));
  config.Clear();
  config.mutable_random_crop()->set_min_size(700);
  EXPECT_THAT(TransformOptionsFromProto(config),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("random_crop.max_size")));
  config.Clear();
  config.mutable_color_jitter()->set_hue(0.7f);
  EXPECT_THAT(MakeTransformPipeline(config, false),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("AugmentationConfig: color_jitter.hue")));
}

TEST(OptionsFromProtoTest, DataConfigForTrainingAndEvaluation) {
  DataConfig config;
  config.set_batch_size(8);
  config.set_num_workers(3);
  config.set_prefetch_batches(6);
  config.set_keep_crowd_as_ignore(false);
  config.set_max_image_pixels(1000);
  auto train = LoaderOptionsFromProto(config, /*train=*/true);
  ASSERT_THAT(train, IsOk());
  EXPECT_EQ(train->batch_size, 8);
  EXPECT_EQ(train->num_workers, 3);
  EXPECT_EQ(train->prefetch_batches, 6);
  EXPECT_TRUE(train->shuffle);
  EXPECT_TRUE(train->pad_shards);
  EXPECT_FALSE(train->drop_last);
  auto eval = LoaderOptionsFromProto(config, /*train=*/false);
  ASSERT_THAT(eval, IsOk());
  EXPECT_FALSE(eval->shuffle);
  EXPECT_FALSE(eval->pad_shards);
  config.set_shuffle(false);
  EXPECT_FALSE(LoaderOptionsFromProto(config, true)->shuffle);

  auto dataset = DatasetOptionsFromProto(config);
  ASSERT_THAT(dataset, IsOk());
  EXPECT_FALSE(dataset->keep_crowd_as_ignore);
  EXPECT_EQ(dataset->max_image_pixels, 1000u);

  config.set_batch_size(0);
  EXPECT_THAT(
      LoaderOptionsFromProto(config, true),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("batch_size")));
  config.set_max_image_pixels(0);
  EXPECT_THAT(DatasetOptionsFromProto(config),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace cvt
