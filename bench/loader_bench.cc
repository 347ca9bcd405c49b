// The data loader against the model it feeds (issue 5): images/s of the
// loader alone (training transforms of the config, 1 and 2 worker threads)
// and images/s the model consumes in training steps (forward, loss through
// its adapter, backward, AdamW step) on batches decoded beforehand, both on
// ../shared/data/bccd's train split. The goal is loader >= 3x model.
//
//   bazel run -c opt //bench:loader_bench --
//   --data_root=$PWD/../shared/data/bccd
//
// Prints one table row per config and the ratios.

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "ATen/ATen.h"
#include "ATen/Parallel.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/adapters/make_output_adapter.h"
#include "libs/config/load_config.h"
#include "libs/data/detection_dataset.h"
#include "libs/data/detection_loader.h"
#include "libs/data/options_from_proto.h"
#include "libs/models/make_detector.h"
#include "torch/optim/adamw.h"

ABSL_FLAG(std::string, data_root, "../shared/data/bccd",
          "BCCD folder (BCCD/JPEGImages and coco/instances_train.json).");
ABSL_FLAG(std::string, configs,
          "configs/yolo_small_bccd.textproto,configs/detr_small_bccd.textproto",
          "Comma-separated pipeline configs.");
ABSL_FLAG(int, loader_images, 205, "Images the loader delivers per timing.");
ABSL_FLAG(int, model_steps, 6, "Timed training steps per config.");
ABSL_FLAG(int, threads, 2, "Intra-op threads for the model.");

namespace cvt {
namespace {

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

#define BENCH_CHECK_OK(expr)                                           \
  do {                                                                 \
    auto _s = (expr);                                                  \
    if (!_s.ok()) {                                                    \
      std::fprintf(stderr, "%s\n", std::string(_s.message()).c_str()); \
      return 1;                                                        \
    }                                                                  \
  } while (0)

int Run() {
  const std::string root = absl::GetFlag(FLAGS_data_root);
  auto dataset = DetectionDataset::OpenCoco(
      root + "/BCCD/JPEGImages", root + "/coco/instances_train.json");
  BENCH_CHECK_OK(dataset.status());
  std::printf("%-34s %12s %12s %12s %10s %10s\n", "config", "loader 1w",
              "loader 2w", "model", "1w/model", "2w/model");
  for (absl::string_view path :
       absl::StrSplit(absl::GetFlag(FLAGS_configs), ',')) {
    auto config = LoadPipelineConfig(std::string(path));
    BENCH_CHECK_OK(config.status());
    const int64_t k = dataset->category_map().size();
    auto model = MakeDetector(config->model(), k);
    BENCH_CHECK_OK(model.status());
    auto adapter = MakeOutputAdapter(config->model(), k);
    BENCH_CHECK_OK(adapter.status());
    auto pipeline = MakeTransformPipeline(config->augmentation(), true);
    BENCH_CHECK_OK(pipeline.status());
    auto loader_options = LoaderOptionsFromProto(config->data(), true);
    BENCH_CHECK_OK(loader_options.status());
    loader_options->size_divisor = static_cast<int>((*model)->size_divisor());

    double loader_rate[2] = {0, 0};
    std::vector<DetectionBatch> kept;
    for (int workers = 1; workers <= 2; ++workers) {
      DetectionLoaderOptions o = *loader_options;
      o.num_workers = workers;
      auto loader = DetectionLoader::Create(&*dataset, *pipeline, o);
      BENCH_CHECK_OK(loader.status());
      BENCH_CHECK_OK((*loader)->StartEpoch(0));
      int64_t images = 0;
      const auto start = std::chrono::steady_clock::now();
      while (images < absl::GetFlag(FLAGS_loader_images)) {
        auto batch = (*loader)->Next();
        BENCH_CHECK_OK(batch.status());
        if (!batch->has_value()) {
          BENCH_CHECK_OK((*loader)->StartEpoch(1));
          continue;
        }
        images += (*batch)->size();
        if (workers == 1 && static_cast<int>(kept.size()) <
                                absl::GetFlag(FLAGS_model_steps) + 1) {
          kept.push_back(std::move(**batch));
        }
      }
      loader_rate[workers - 1] = images / Seconds(start);
    }

    at::set_num_threads(absl::GetFlag(FLAGS_threads));
    torch::optim::AdamW optimizer((*model)->trainable_parameters(),
                                  torch::optim::AdamWOptions(1e-4));
    (*model)->train(true);
    int64_t images = 0;
    auto start = std::chrono::steady_clock::now();
    for (size_t i = 0; i < kept.size(); ++i) {
      if (i == 1) {  // the first step is a warm-up
        start = std::chrono::steady_clock::now();
        images = 0;
      }
      const DetectionBatch& batch = kept[i];
      auto raw = (*model)->Forward(batch.images, batch.pixel_mask);
      BENCH_CHECK_OK(raw.status());
      auto targets = (*adapter)->AdaptTargets(batch.targets);
      BENCH_CHECK_OK(targets.status());
      auto out = (*adapter)->AdaptOutput(*raw, *targets);
      BENCH_CHECK_OK(out.status());
      optimizer.zero_grad();
      out->loss.backward();
      optimizer.step();
      images += batch.size();
    }
    const double model_rate = images / Seconds(start);
    std::printf("%-34s %10.1f/s %10.1f/s %10.1f/s %9.1fx %9.1fx\n",
                std::string(path).c_str(), loader_rate[0], loader_rate[1],
                model_rate, loader_rate[0] / model_rate,
                loader_rate[1] / model_rate);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace
}  // namespace cvt

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return cvt::Run();
}
