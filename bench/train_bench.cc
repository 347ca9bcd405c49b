// Bare training loops for the train benchmarks (bench/train_bench.sh):
//   --mode=memory  batches decoded beforehand and kept in memory
//   --mode=loader  batches from the real DetectionLoader (config's workers)
// Both run forward, the adapter's loss, backward and LibTorch's own
// torch::optim::AdamW step, and print the median seconds per step of
// --steps timed steps (after one warm-up) as "step_s <value>".

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "ATen/ATen.h"
#include "ATen/Parallel.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "libs/adapters/make_output_adapter.h"
#include "libs/config/load_config.h"
#include "libs/data/detection_dataset.h"
#include "libs/data/detection_loader.h"
#include "libs/data/options_from_proto.h"
#include "libs/models/make_detector.h"
#include "torch/optim/adamw.h"

ABSL_FLAG(std::string, data, "", "coco_prep folder (its train split).");
ABSL_FLAG(std::string, config, "configs/yolo_small_bccd.textproto",
          "Pipeline config.");
ABSL_FLAG(std::string, mode, "memory", "memory or loader.");
ABSL_FLAG(int, steps, 8, "Timed steps.");
ABSL_FLAG(int, threads, 2, "Intra-op threads.");

namespace cvt {
namespace {

#define BENCH_OK(expr)                                                 \
  do {                                                                 \
    auto _s = (expr);                                                  \
    if (!_s.ok()) {                                                    \
      std::fprintf(stderr, "%s\n", std::string(_s.message()).c_str()); \
      return 1;                                                        \
    }                                                                  \
  } while (0)

int Run() {
  at::set_num_threads(absl::GetFlag(FLAGS_threads));
  auto config = LoadPipelineConfig(absl::GetFlag(FLAGS_config));
  BENCH_OK(config.status());
  auto data = DetectionDataset::OpenPrepared(absl::GetFlag(FLAGS_data),
                                             config->data().train_split());
  BENCH_OK(data.status());
  const int64_t k = data->category_map().size();
  at::manual_seed(1);
  auto model = MakeDetector(config->model(), k);
  BENCH_OK(model.status());
  auto adapter = MakeOutputAdapter(config->model(), k);
  BENCH_OK(adapter.status());
  auto pipeline = MakeTransformPipeline(config->augmentation(), true);
  BENCH_OK(pipeline.status());
  auto options = LoaderOptionsFromProto(config->data(), true);
  BENCH_OK(options.status());
  options->size_divisor = static_cast<int>((*model)->size_divisor());
  auto loader = DetectionLoader::Create(&*data, *pipeline, *options);
  BENCH_OK(loader.status());
  BENCH_OK((*loader)->StartEpoch(0));
  const int steps = absl::GetFlag(FLAGS_steps);
  const bool memory = absl::GetFlag(FLAGS_mode) == "memory";
  std::vector<DetectionBatch> kept;
  if (memory) {
    for (int i = 0; i <= steps; ++i) {
      auto batch = (*loader)->Next();
      BENCH_OK(batch.status());
      if (!batch->has_value()) break;
      kept.push_back(std::move(**batch));
    }
  }
  torch::optim::AdamW optimizer((*model)->trainable_parameters(),
                                torch::optim::AdamWOptions(1e-4));
  (*model)->train(true);
  std::vector<double> times;
  for (int i = 0; i <= steps; ++i) {
    const auto start = std::chrono::steady_clock::now();
    DetectionBatch batch;
    if (memory) {
      batch = kept[static_cast<size_t>(i) % kept.size()];
    } else {
      auto next = (*loader)->Next();
      BENCH_OK(next.status());
      if (!next->has_value()) {
        BENCH_OK((*loader)->StartEpoch(1));
        next = (*loader)->Next();
        BENCH_OK(next.status());
      }
      batch = std::move(**next);
    }
    auto raw = (*model)->Forward(batch.images, batch.pixel_mask);
    BENCH_OK(raw.status());
    auto targets = (*adapter)->AdaptTargets(batch.targets);
    BENCH_OK(targets.status());
    auto out = (*adapter)->AdaptOutput(*raw, *targets);
    BENCH_OK(out.status());
    optimizer.zero_grad();
    out->loss.backward();
    optimizer.step();
    if (i > 0) {
      times.push_back(std::chrono::duration<double>(
                          std::chrono::steady_clock::now() - start)
                          .count());
    }
  }
  std::sort(times.begin(), times.end());
  std::printf("step_s %.6f\n", times[times.size() / 2]);
  return 0;
}

}  // namespace
}  // namespace cvt

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return cvt::Run();
}
