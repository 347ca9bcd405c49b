#include "libs/adapters/test_batches.h"

#include <cstdlib>

#include "ATen/ATen.h"
#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "libs/data/detection_loader.h"
#include "libs/data/options_from_proto.h"
#include "libs/data/synthetic_coco.h"
#include "opencv2/core.hpp"
#include "opencv2/imgproc.hpp"

namespace cvt {

FullBatch LoadFullBatch(const DetectionDataset& data, int side) {
  FullBatch batch;
  std::vector<at::Tensor> images;
  for (int64_t i = 0; i < data.size(); ++i) {
    absl::StatusOr<DetectionSample> s = data.Load(i);
    CHECK(s.ok()) << s.status();
    cv::Mat resized, rgb, f;
    cv::resize(s->image, resized, cv::Size(side, side), 0, 0, cv::INTER_LINEAR);
    cv::cvtColor(resized, rgb, cv::COLOR_BGR2RGB);
    rgb.convertTo(f, CV_32FC3, 1.0 / 255);
    at::Tensor t = at::from_blob(f.data, {side, side, 3}, at::kFloat).clone();
    t = (t - at::tensor({0.485f, 0.456f, 0.406f})) /
        at::tensor({0.229f, 0.224f, 0.225f});
    images.push_back(t.permute({2, 0, 1}));
    DetectionTarget target = s->target;
    ImageGeometry& g = target.geometry;
    g.input_width = side;
    g.input_height = side;
    g.scale_x = static_cast<double>(side) / g.original_width;
    g.scale_y = static_cast<double>(side) / g.original_height;
    for (BoxXyxy& b : target.boxes) b = g.ToInput(b);
    batch.targets.push_back(target);
  }
  batch.images = at::stack(images).contiguous();
  batch.mask = at::ones({data.size(), side, side}, at::kBool);
  return batch;
}

FullBatch LoadThroughLoader(const DetectionDataset& data,
                            const AugmentationConfig& augmentation,
                            int size_divisor) {
  absl::StatusOr<TransformPipeline> pipeline =
      MakeTransformPipeline(augmentation, /*train=*/false);
  CHECK(pipeline.ok()) << pipeline.status();
  DetectionLoaderOptions options;
  options.batch_size = static_cast<int>(data.size());
  options.num_workers = 2;
  options.shuffle = false;
  options.pad_shards = false;
  options.size_divisor = size_divisor;
  absl::StatusOr<std::unique_ptr<DetectionLoader>> loader =
      DetectionLoader::Create(&data, *pipeline, options);
  CHECK(loader.ok()) << loader.status();
  CHECK((*loader)->StartEpoch(0).ok());
  absl::StatusOr<std::optional<DetectionBatch>> batch = (*loader)->Next();
  CHECK(batch.ok()) << batch.status();
  CHECK(batch->has_value());
  FullBatch out;
  out.images = (*batch)->images;
  out.mask = (*batch)->pixel_mask;
  out.targets = (*batch)->targets;
  return out;
}

DetectionDataset MakeShapesDataset(const std::string& name, int num_images,
                                   int size, uint64_t seed) {
  return MakeShapesDataset(name, num_images, size, size, seed);
}

DetectionDataset MakeShapesDataset(const std::string& name, int num_images,
                                   int min_size, int max_size, uint64_t seed) {
  SyntheticCocoOptions synth;
  synth.num_images = num_images;
  synth.min_size = min_size;
  synth.max_size = max_size;
  synth.num_classes = 3;
  synth.min_objects = 1;
  synth.max_objects = 2;
  synth.min_object_fraction = 0.3;
  synth.max_object_fraction = 0.5;
  synth.seed = seed;
  synth.prepared_layout = true;
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir =
      absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/", name);
  absl::Status written = WriteSyntheticCoco(synth, dir);
  CHECK(written.ok()) << written;
  absl::StatusOr<DetectionDataset> data =
      DetectionDataset::OpenPrepared(dir, "train");
  CHECK(data.ok()) << data.status();
  return std::move(*data);
}

}  // namespace cvt
