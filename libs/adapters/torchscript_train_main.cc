// TorchScript import check (run by torchscript_test.sh after
// torchscript_gen.py has exported two modules with Python torch):
//   - detr_style.pt (torch.jit.script, DETR_STYLE outputs, takes the mask)
//   - dense.pt (torch.jit.trace, DENSE_XYXY_SCORES, 128 px input)
// Each loads through MakeDetector, trains 40 AdamW steps on generated shapes
// through its adapter (DetrAdapter / DenseAdapter) with a falling loss
// (the mean of the last 5 steps under 70% of the first), changes its
// parameters, and formats COCO predictions with the data set's category
// ids. A module whose output does not match the configured format is
// refused naming the file. Exits 1 on any failure.

#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "ATen/ATen.h"
#include "libs/adapters/make_output_adapter.h"
#include "libs/adapters/test_batches.h"
#include "libs/config/model_config.pb.h"
#include "libs/models/make_detector.h"
#include "torch/optim/adamw.h"

namespace cvt {
namespace {

int failures = 0;

void Check(bool ok, const std::string& what) {
  std::cout << (ok ? "ok: " : "FAIL: ") << what << "\n";
  if (!ok) ++failures;
}

void TrainOne(const std::string& path, TorchScriptConfig::OutputFormat format,
              const DetectionDataset& data) {
  ModelConfig config;
  config.mutable_torchscript()->set_path(path);
  config.mutable_torchscript()->set_output_format(format);
  config.mutable_torchscript()->set_input_size(128);
  const CategoryMap& categories = data.category_map();
  auto model = MakeDetector(config, categories.size());
  auto adapter = MakeOutputAdapter(config, categories.size());
  if (!model.ok() || !adapter.ok()) {
    Check(false, std::string("load ") + path + ": " +
                     std::string(model.ok() ? adapter.status().message()
                                            : model.status().message()));
    return;
  }
  FullBatch batch = LoadFullBatch(data, 128);
  auto targets = (*adapter)->AdaptTargets(batch.targets);
  Check(targets.ok(), "adapt targets");
  NamedTensors before = (*model)->named_parameters();
  Check(!before.empty(), path + " has named parameters");
  std::vector<at::Tensor> initial;
  for (auto& [name, t] : before) initial.push_back(t.detach().clone());
  torch::optim::AdamW optimizer((*model)->trainable_parameters(),
                                torch::optim::AdamWOptions(2e-3));
  (*model)->train(true);
  std::vector<double> losses;
  for (int step = 0; step < 40; ++step) {
    auto raw = (*model)->Forward(batch.images, batch.mask);
    if (!raw.ok()) {
      Check(false, std::string(raw.status().message()));
      return;
    }
    auto out = (*adapter)->AdaptOutput(*raw, *targets);
    if (!out.ok()) {
      Check(false, std::string(out.status().message()));
      return;
    }
    optimizer.zero_grad();
    out->loss.backward();
    optimizer.step();
    losses.push_back(out->loss.item<double>());
  }
  double tail = 0;
  for (size_t i = losses.size() - 5; i < losses.size(); ++i) tail += losses[i];
  tail /= 5;
  std::cout << path << ": loss " << losses.front() << " -> " << tail << "\n";
  Check(tail < 0.7 * losses.front(), path + " loss falls");
  bool changed = false;
  NamedTensors after = (*model)->named_parameters();
  for (size_t i = 0; i < after.size(); ++i) {
    changed = changed || !at::equal(after[i].second, initial[i]);
  }
  Check(changed, path + " parameters were updated in place");

  (*model)->train(false);
  at::NoGradGuard no_grad;
  auto raw = (*model)->Forward(batch.images, batch.mask);
  auto detections =
      (*adapter)->FormatPredictions(*raw, batch.targets, categories);
  Check(detections.ok(), path + " formats predictions");
  if (detections.ok()) {
    std::set<int64_t> ids;
    for (const CocoCategory& c : categories.categories()) ids.insert(c.id);
    bool valid = !detections->empty();
    for (const CocoDetection& d : *detections) {
      valid = valid && ids.count(d.category_id) == 1 && d.bbox[2] >= 0 &&
              d.bbox[3] >= 0 && d.bbox[0] >= 0 && d.bbox[1] >= 0 &&
              d.bbox[0] + d.bbox[2] <= 96 + 1e-6 &&
              d.bbox[1] + d.bbox[3] <= 96 + 1e-6;
    }
    Check(valid, path +
                     " predictions use category ids and lie in the "
                     "original 96 px frame");
  }
}

void Mismatch(const std::string& path, const DetectionDataset& data) {
  ModelConfig config;
  config.mutable_torchscript()->set_path(path);
  config.mutable_torchscript()->set_output_format(
      TorchScriptConfig::DETR_STYLE);
  auto model = MakeDetector(config, 3);
  if (!model.ok()) {
    Check(false, "load for mismatch");
    return;
  }
  FullBatch batch = LoadFullBatch(data, 128);
  auto raw = (*model)->Forward(batch.images, batch.mask);
  Check(!raw.ok() && raw.status().message().find(path) != std::string::npos &&
            raw.status().message().find("DETR_STYLE") != std::string::npos,
        "a dense module configured as DETR_STYLE is refused: " +
            std::string(raw.status().message()));
}

}  // namespace
}  // namespace cvt

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: torchscript_train_main DIR\n";
    return 2;
  }
  const std::string dir = argv[1];
  at::manual_seed(0);
  cvt::DetectionDataset data = cvt::MakeShapesDataset("ts_shapes", 6, 96, 3);
  cvt::TrainOne(dir + "/detr_style.pt", cvt::TorchScriptConfig::DETR_STYLE,
                data);
  cvt::TrainOne(dir + "/dense.pt", cvt::TorchScriptConfig::DENSE_XYXY_SCORES,
                data);
  cvt::Mismatch(dir + "/dense.pt", data);
  auto missing = cvt::MakeDetector(
      [&] {
        cvt::ModelConfig c;
        c.mutable_torchscript()->set_path(dir + "/nope.pt");
        return c;
      }(),
      3);
  cvt::Check(!missing.ok() && absl::IsNotFound(missing.status()),
             "a missing file is NotFound");
  return cvt::failures == 0 ? 0 : 1;
}
