#include "libs/data/detection_loader.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ATen/core/Tensor.h"
#include "glog/logging.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/status_matchers.h"
#include "libs/base/testdata.h"
#include "libs/coco/category_map.h"
#include "libs/coco/coco.h"
#include "libs/data/dataset_for_test.h"
#include "libs/data/detection_batch.h"
#include "libs/data/detection_dataset.h"
#include "libs/data/test_images.h"
#include "libs/data/transforms.h"

namespace cvt {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

constexpr int kImages = 12;

// The generated folder (12 JPEGs), written once per test binary.
const DetectionDataset& Dataset() {
  static const DetectionDataset* dataset = [] {
    const std::string dir = TestTempPath("loader_data");
    WritePreparedDatasetForTest(dir, "train", MakeCocoForTest(kImages));
    auto opened = DetectionDataset::OpenPrepared(dir, "train");
    CHECK(opened.ok()) << opened.status();
    return new DetectionDataset(*std::move(opened));
  }();
  return *dataset;
}

TransformPipeline TrainTransforms() {
  TransformOptions options;
  options.train_min_sizes = {40, 48};
  options.max_size = 80;
  RandomCropOptions crop;
  crop.pre_resize_sizes = {48, 56};
  crop.min_size = 32;
  crop.max_size = 48;
  options.random_crop = crop;
  options.color_jitter.brightness = 0.2;
  options.color_jitter.saturation = 0.2;
  options.color_jitter.hue = 0.05;
  auto pipeline = TransformPipeline::Create(options, /*train=*/true);
  CHECK(pipeline.ok()) << pipeline.status();
  return *pipeline;
}

TransformPipeline EvalTransforms() {
  TransformOptions options;
  options.eval_min_size = 48;
  options.max_size = 80;
  auto pipeline = TransformPipeline::Create(options, /*train=*/false);
  CHECK(pipeline.ok()) << pipeline.status();
  return *pipeline;
}

std::unique_ptr<DetectionLoader> MakeLoader(const DetectionDataset& dataset,
                                            TransformPipeline transforms,
                                            const DetectionLoaderOptions& o) {
  auto loader = DetectionLoader::Create(&dataset, std::move(transforms), o);
  CHECK(loader.ok()) << loader.status();
  return *std::move(loader);
}

// The remaining batches of the current epoch; fails the test on an error.
std::vector<DetectionBatch> Drain(DetectionLoader* loader) {
  std::vector<DetectionBatch> batches;
  while (true) {
    auto next = loader->Next();
    EXPECT_THAT(next, IsOk());
    if (!next.ok() || !next->has_value()) break;
    batches.push_back(**std::move(next));
  }
  return batches;
}

std::vector<DetectionBatch> Epoch(DetectionLoader* loader, int64_t epoch,
                                  int64_t skip = 0) {
  EXPECT_THAT(loader->StartEpoch(epoch, skip), IsOk());
  return Drain(loader);
}

void ExpectSameTarget(const DetectionTarget& a, const DetectionTarget& b) {
  EXPECT_EQ(a.image_id, b.image_id);
  EXPECT_EQ(a.dataset_index, b.dataset_index);
  EXPECT_EQ(a.boxes, b.boxes);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.iscrowd, b.iscrowd);
  EXPECT_EQ(a.annotation_ids, b.annotation_ids);
  EXPECT_EQ(a.geometry.input_width, b.geometry.input_width);
  EXPECT_EQ(a.geometry.input_height, b.geometry.input_height);
  EXPECT_EQ(a.geometry.scale_x, b.geometry.scale_x);
  EXPECT_EQ(a.geometry.scale_y, b.geometry.scale_y);
  EXPECT_EQ(a.geometry.offset_x, b.geometry.offset_x);
  EXPECT_EQ(a.geometry.offset_y, b.geometry.offset_y);
}

void ExpectSameBatches(const std::vector<DetectionBatch>& a,
                       const std::vector<DetectionBatch>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t k = 0; k < a.size(); ++k) {
    SCOPED_TRACE(testing::Message() << "batch " << k);
    ASSERT_EQ(a[k].images.sizes(), b[k].images.sizes());
    EXPECT_TRUE(a[k].images.equal(b[k].images));
    EXPECT_TRUE(a[k].pixel_mask.equal(b[k].pixel_mask));
    ASSERT_EQ(a[k].size(), b[k].size());
    for (int64_t i = 0; i < a[k].size(); ++i) {
      ExpectSameTarget(a[k].targets[i], b[k].targets[i]);
    }
  }
}

std::vector<int64_t> Indices(const std::vector<DetectionBatch>& batches) {
  std::vector<int64_t> out;
  for (const DetectionBatch& batch : batches) {
    for (const DetectionTarget& t : batch.targets) {
      out.push_back(t.dataset_index);
    }
  }
  return out;
}

TEST(DetectionLoaderTest, OutputDoesNotDependOnWorkers) {
  DetectionLoaderOptions options;
  options.batch_size = 3;
  options.seed = 7;
  std::vector<std::vector<DetectionBatch>> runs;
  for (int workers : {0, 1, 4}) {
    options.num_workers = workers;
    options.prefetch_batches = workers == 4 ? 2 : 4;
    auto loader = MakeLoader(Dataset(), TrainTransforms(), options);
    EXPECT_EQ(loader->batches_per_epoch(), 4);
    std::vector<DetectionBatch> batches = Epoch(loader.get(), 0);
    std::vector<DetectionBatch> second = Epoch(loader.get(), 1);
    EXPECT_EQ(batches.size(), 4u);
    EXPECT_EQ(second.size(), 4u);
    batches.insert(batches.end(), second.begin(), second.end());
    runs.push_back(std::move(batches));
  }
  ExpectSameBatches(runs[0], runs[1]);
  ExpectSameBatches(runs[0], runs[2]);

  // Augmentation was on: flips happened and sizes vary.
  int flipped = 0;
  std::set<int64_t> widths;
  for (const DetectionBatch& batch : runs[0]) {
    for (const DetectionTarget& t : batch.targets) {
      if (t.geometry.scale_x < 0) ++flipped;
      widths.insert(t.geometry.input_width);
      EXPECT_EQ(t.dataset_index,
                std::find(Dataset().image_ids().begin(),
                          Dataset().image_ids().end(), t.image_id) -
                    Dataset().image_ids().begin());
    }
  }
  EXPECT_GT(flipped, 0);
  EXPECT_LT(flipped, 2 * kImages);
  EXPECT_GT(widths.size(), 2u);
}

TEST(DetectionLoaderTest, EpochsHaveDifferentOrdersAndAugmentations) {
  DetectionLoaderOptions options;
  options.batch_size = 4;
  options.num_workers = 2;
  auto loader = MakeLoader(Dataset(), TrainTransforms(), options);
  const std::vector<int64_t> e0 = loader->ShardIndices(0);
  const std::vector<int64_t> e1 = loader->ShardIndices(1);
  EXPECT_NE(e0, e1);
  std::vector<int64_t> sorted = e0;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> all(kImages);
  for (int i = 0; i < kImages; ++i) all[i] = i;
  EXPECT_EQ(sorted, all);
  EXPECT_EQ(loader->ShardIndices(0), e0);  // Pure.
  EXPECT_THAT(Indices(Epoch(loader.get(), 0)), ElementsAreArray(e0));
  EXPECT_THAT(Indices(Epoch(loader.get(), 1)), ElementsAreArray(e1));

  // Another seed, another order; no shuffle, the identity.
  options.seed = 43;
  EXPECT_NE(MakeLoader(Dataset(), TrainTransforms(), options)->ShardIndices(0),
            e0);
  options.shuffle = false;
  EXPECT_EQ(MakeLoader(Dataset(), TrainTransforms(), options)->ShardIndices(5),
            all);
}

TEST(DetectionLoaderTest, ShardsCoverEveryIndex) {
  auto categories = CategoryMap::FromCategories(MakeCocoForTest(1).categories);
  ASSERT_THAT(categories, IsOk());
  for (int n : {11, 12, 2}) {
    auto dataset = DetectionDataset::FromCoco(MakeCocoForTest(n), "x.json",
                                              "/nonexistent", *categories);
    ASSERT_THAT(dataset, IsOk());
    for (int world : {2, 3}) {
      for (bool pad : {true, false}) {
        SCOPED_TRACE(testing::Message()
                     << "n " << n << " world " << world << " pad " << pad);
        std::vector<int64_t> all;
        std::set<int64_t> distinct;
        std::vector<int64_t> sizes;
        for (int rank = 0; rank < world; ++rank) {
          DetectionLoaderOptions options;
          options.batch_size = 2;
          options.rank = rank;
          options.world_size = world;
          options.pad_shards = pad;
          auto loader = MakeLoader(*dataset, EvalTransforms(), options);
          const std::vector<int64_t> shard = loader->ShardIndices(3);
          EXPECT_EQ(static_cast<int64_t>(shard.size()), loader->shard_size());
          EXPECT_EQ(loader->batches_per_epoch(),
                    (loader->shard_size() + 1) / 2);
          sizes.push_back(static_cast<int64_t>(shard.size()));
          all.insert(all.end(), shard.begin(), shard.end());
          distinct.insert(shard.begin(), shard.end());
        }
        EXPECT_EQ(static_cast<int>(distinct.size()), n);
        const int64_t per_rank = (n + world - 1) / world;
        if (pad) {
          for (int64_t size : sizes) EXPECT_EQ(size, per_rank);
          EXPECT_EQ(static_cast<int64_t>(all.size()), per_rank * world);
        } else {
          EXPECT_EQ(static_cast<int>(all.size()), n);  // Disjoint.
          for (int64_t size : sizes) {
            EXPECT_TRUE(size == per_rank || size == per_rank - 1);
          }
        }
      }
    }
  }
}

TEST(DetectionLoaderTest, PaddingRepeatsThePermutationHead) {
  auto categories = CategoryMap::FromCategories(MakeCocoForTest(1).categories);
  ASSERT_THAT(categories, IsOk());
  auto dataset = DetectionDataset::FromCoco(MakeCocoForTest(5), "x.json",
                                            "/nonexistent", *categories);
  ASSERT_THAT(dataset, IsOk());
  DetectionLoaderOptions options;
  options.world_size = 3;
  options.rank = 2;
  auto loader = MakeLoader(*dataset, EvalTransforms(), options);
  const std::vector<int64_t> p = loader->EpochPermutation(0);
  // Padded: p0 p1 p2 p3 p4 p0; rank 2 takes entries 2 and 5.
  EXPECT_THAT(loader->ShardIndices(0), ::testing::ElementsAre(p[2], p[0]));
}

TEST(DetectionLoaderTest, SkipBatchesResumesExactly) {
  DetectionLoaderOptions options;
  options.batch_size = 3;
  options.num_workers = 3;
  options.seed = 11;
  auto loader = MakeLoader(Dataset(), TrainTransforms(), options);
  const std::vector<DetectionBatch> full = Epoch(loader.get(), 2);
  ASSERT_EQ(full.size(), 4u);
  for (int64_t skip : {1, 3, 4}) {
    auto resumed = MakeLoader(Dataset(), TrainTransforms(), options);
    const std::vector<DetectionBatch> rest = Epoch(resumed.get(), 2, skip);
    ExpectSameBatches(
        rest, std::vector<DetectionBatch>(full.begin() + skip, full.end()));
  }
  EXPECT_THAT(loader->StartEpoch(2, 5),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(loader->StartEpoch(-1),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(DetectionLoaderTest, RestartMidEpochAndDestroyMidEpoch) {
  DetectionLoaderOptions options;
  options.batch_size = 2;
  options.num_workers = 4;
  options.prefetch_batches = 3;
  auto loader = MakeLoader(Dataset(), TrainTransforms(), options);
  const std::vector<DetectionBatch> reference = Epoch(loader.get(), 1);
  ASSERT_THAT(loader->StartEpoch(0), IsOk());
  ASSERT_THAT(loader->Next(), IsOk());
  ExpectSameBatches(Epoch(loader.get(), 1), reference);
  ASSERT_THAT(loader->StartEpoch(1), IsOk());
  ASSERT_THAT(loader->Next(), IsOk());
  loader.reset();  // Joins the workers without hanging.
}

TEST(DetectionLoaderTest, EmptyImagesAndCrowdBoxesFlowThrough) {
  DetectionLoaderOptions options;
  options.batch_size = 5;
  options.num_workers = 2;
  options.shuffle = false;
  auto loader = MakeLoader(Dataset(), EvalTransforms(), options);
  const std::vector<DetectionBatch> batches = Epoch(loader.get(), 0);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[2].size(), 2);  // 12 = 5 + 5 + 2.
  int empty = 0, crowd = 0, total = 0;
  for (const DetectionBatch& batch : batches) {
    for (const DetectionTarget& t : batch.targets) {
      ++total;
      if (t.boxes.empty()) ++empty;
      crowd += std::count(t.iscrowd.begin(), t.iscrowd.end(), 1);
    }
  }
  EXPECT_EQ(total, kImages);
  EXPECT_EQ(empty, 3);  // Images 3, 7 and 11.
  EXPECT_EQ(crowd, 1);

  options.drop_last = true;
  loader = MakeLoader(Dataset(), EvalTransforms(), options);
  EXPECT_EQ(loader->batches_per_epoch(), 2);
  EXPECT_EQ(Epoch(loader.get(), 0).size(), 2u);
}

TEST(DetectionLoaderTest, UndecodableImageStopsTheEpochWithItsName) {
  const std::string dir = TestTempPath("loader_broken");
  WritePreparedDatasetForTest(dir, "train", MakeCocoForTest(kImages));
  // Image id 972 = file image 4 = index 7 in ascending id order.
  WriteFileForTest(dir + "/images/img_4.jpg", "garbage, not a JPEG");
  auto dataset = DetectionDataset::OpenPrepared(dir, "train");
  ASSERT_THAT(dataset, IsOk());
  for (int workers : {0, 4}) {
    SCOPED_TRACE(testing::Message() << "workers " << workers);
    DetectionLoaderOptions options;
    options.batch_size = 2;
    options.num_workers = workers;
    options.shuffle = false;
    auto loader = MakeLoader(*dataset, EvalTransforms(), options);
    ASSERT_THAT(loader->StartEpoch(0), IsOk());
    // Batches 0..2 (indices 0..5) are fine; batch 3 holds index 7.
    for (int k = 0; k < 3; ++k) {
      auto batch = loader->Next();
      ASSERT_THAT(batch, IsOk());
      ASSERT_TRUE(batch->has_value());
    }
    EXPECT_THAT(loader->Next(), StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("img_4.jpg")));
    EXPECT_THAT(loader->Next(), StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("img_4.jpg")));
    // A new epoch starts afresh.
    ASSERT_THAT(loader->StartEpoch(1), IsOk());
    ASSERT_THAT(loader->Next(), IsOk());
  }
}

TEST(DetectionLoaderTest, RejectsBadOptionsAndOrder) {
  DetectionLoaderOptions options;
  options.rank = 2;
  options.world_size = 2;
  EXPECT_THAT(DetectionLoader::Create(&Dataset(), EvalTransforms(), options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("rank")));
  options = {};
  options.batch_size = 0;
  EXPECT_THAT(
      DetectionLoader::Create(&Dataset(), EvalTransforms(), options),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("batch_size")));
  options = {};
  options.prefetch_batches = 0;
  EXPECT_THAT(DetectionLoader::Create(&Dataset(), EvalTransforms(), options),
              StatusIs(absl::StatusCode::kInvalidArgument));
  auto loader = MakeLoader(Dataset(), EvalTransforms(), {});
  EXPECT_THAT(loader->Next(), StatusIs(absl::StatusCode::kFailedPrecondition));
}

}  // namespace
}  // namespace cvt
