// Each model family overfits a handful of generated images: the training
// loss falls and the predictions, formatted by the family's adapter and
// evaluated by libs/eval (the pycocotools-exact evaluator), reach
// mAP50 >= 0.9 on those images. This exercises the whole model side: data
// set, targets, model, loss, adapter formatting back to the original frame
// and original category ids.
//
// CVT_OVERFIT_STEPS overrides the step counts (for tuning).

#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "ATen/ATen.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "libs/adapters/make_output_adapter.h"
#include "libs/adapters/test_batches.h"
#include "libs/base/status_matchers.h"
#include "libs/config/augmentation_config.pb.h"
#include "libs/config/model_config.pb.h"
#include "libs/eval/coco_eval.h"
#include "libs/models/make_detector.h"
#include "torch/optim/adamw.h"

namespace cvt {
namespace {

int Steps(int default_steps) {
  const char* env = std::getenv("CVT_OVERFIT_STEPS");
  return env != nullptr ? std::atoi(env) : default_steps;
}

// Trains `model` with AdamW on `batch` for `steps` full-batch steps and
// returns mAP50 of its predictions on the same images.
double TrainAndEvaluate(const ModelConfig& config,
                        const AugmentationConfig& augmentation, int steps,
                        double lr, uint64_t seed) {
  // Images of different sizes and aspect ratios, so the batch is padded
  // (DETR) or letterboxed (YOLO) and predictions must be mapped back.
  DetectionDataset data =
      MakeShapesDataset(absl::StrCat("shapes_", seed), 6, 80, 120, seed);
  const CategoryMap& categories = data.category_map();

  at::manual_seed(static_cast<int64_t>(seed));
  absl::StatusOr<std::unique_ptr<Detector>> model =
      MakeDetector(config, categories.size());
  EXPECT_TRUE(model.ok()) << model.status();
  absl::StatusOr<std::unique_ptr<OutputAdapter>> adapter =
      MakeOutputAdapter(config, categories.size());
  FullBatch batch = LoadThroughLoader(
      data, augmentation, static_cast<int>((*model)->size_divisor()));
  EXPECT_TRUE(adapter.ok()) << adapter.status();
  absl::StatusOr<std::vector<AdaptedTarget>> adapted =
      (*adapter)->AdaptTargets(batch.targets);
  EXPECT_TRUE(adapted.ok()) << adapted.status();

  torch::optim::AdamW optimizer((*model)->trainable_parameters(),
                                torch::optim::AdamWOptions(lr).weight_decay(0));
  (*model)->train(true);
  double first = 0, last = 0;
  for (int step = 0; step < steps; ++step) {
    absl::StatusOr<RawOutput> raw = (*model)->Forward(batch.images, batch.mask);
    EXPECT_TRUE(raw.ok()) << raw.status();
    absl::StatusOr<ModelOutput> out = (*adapter)->AdaptOutput(*raw, *adapted);
    EXPECT_TRUE(out.ok()) << out.status();
    optimizer.zero_grad();
    out->loss.backward();
    optimizer.step();
    const double loss = out->loss.item<double>();
    if (step == 0) first = loss;
    last = loss;
    if (step % 50 == 0 || step + 1 == steps) {
      std::cout << (*model)->name() << " step " << step << " loss " << loss
                << "\n";
    }
  }
  EXPECT_LT(last, 0.5 * first) << "the loss did not fall";

  (*model)->train(false);
  at::NoGradGuard no_grad;
  absl::StatusOr<RawOutput> raw = (*model)->Forward(batch.images, batch.mask);
  EXPECT_TRUE(raw.ok()) << raw.status();
  absl::StatusOr<std::vector<CocoDetection>> detections =
      (*adapter)->FormatPredictions(*raw, batch.targets, categories);
  EXPECT_TRUE(detections.ok()) << detections.status();
  absl::StatusOr<CocoEvalResult> eval =
      EvaluateCocoBbox(data.ground_truth(), *detections);
  EXPECT_TRUE(eval.ok()) << eval.status();
  std::cout << FormatCocoSummary(*eval);
  return eval->stats[1];
}

TEST(OverfitTest, DetrReachesMap50) {
  ModelConfig config;
  DetrConfig* detr = config.mutable_detr();
  detr->mutable_backbone()->set_depth(18);
  detr->mutable_backbone()->set_frozen_batch_norm(false);
  detr->mutable_backbone()->set_frozen_stages(0);
  detr->set_hidden_dim(64);
  detr->set_num_heads(4);
  detr->set_encoder_layers(2);
  detr->set_decoder_layers(2);
  detr->set_feedforward_dim(128);
  detr->set_dropout(0);
  detr->set_num_queries(10);
  AugmentationConfig augmentation;
  augmentation.set_eval_min_size(112);
  augmentation.set_max_size(160);
  const double map50 =
      TrainAndEvaluate(config, augmentation, Steps(200), 5e-4, 1);
  EXPECT_GE(map50, 0.9);
}

TEST(OverfitTest, YoloReachesMap50) {
  ModelConfig config;
  config.mutable_yolo()->set_size(YoloConfig::NANO);
  AugmentationConfig augmentation;
  augmentation.set_letterbox_size(128);
  const double map50 =
      TrainAndEvaluate(config, augmentation, Steps(150), 2e-3, 2);
  EXPECT_GE(map50, 0.9);
}

}  // namespace
}  // namespace cvt
