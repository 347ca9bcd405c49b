#include "libs/data/detection_loader.h"

#include <algorithm>
#include <numeric>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "libs/base/exceptions.h"
#include "libs/base/status_macros.h"
#include "libs/data/collate.h"
#include "libs/data/seed_mix.h"

namespace cvt {

absl::StatusOr<std::unique_ptr<DetectionLoader>> DetectionLoader::Create(
    const DetectionDataset* dataset, TransformPipeline transforms,
    const DetectionLoaderOptions& options) {
  const auto bad = [](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("DetectionLoader: ", what));
  };
  if (dataset == nullptr) return bad("no dataset");
  if (options.batch_size < 1) return bad("batch_size must be >= 1");
  if (options.num_workers < 0) return bad("num_workers must be >= 0");
  if (options.prefetch_batches < 1) return bad("prefetch_batches must be >= 1");
  if (options.world_size < 1) return bad("world_size must be >= 1");
  if (options.rank < 0 || options.rank >= options.world_size) {
    return bad(absl::StrFormat("rank %d must be in [0, world_size %d)",
                               options.rank, options.world_size));
  }
  if (options.size_divisor < 1) return bad("size_divisor must be >= 1");
  return std::unique_ptr<DetectionLoader>(
      new DetectionLoader(dataset, std::move(transforms), options));
}

DetectionLoader::DetectionLoader(const DetectionDataset* dataset,
                                 TransformPipeline transforms,
                                 const DetectionLoaderOptions& options)
    : dataset_(dataset), transforms_(std::move(transforms)), options_(options) {
  const int64_t n = dataset_->size();
  const int64_t world = options_.world_size;
  const int64_t rank = options_.rank;
  if (options_.pad_shards) {
    shard_size_ = n == 0 ? 0 : (n + world - 1) / world;
  } else {
    shard_size_ = n > rank ? (n - rank + world - 1) / world : 0;
  }
  const int64_t b = options_.batch_size;
  batches_per_epoch_ =
      options_.drop_last ? shard_size_ / b : (shard_size_ + b - 1) / b;
}

DetectionLoader::~DetectionLoader() { StopWorkers(); }

std::vector<int64_t> DetectionLoader::EpochPermutation(int64_t epoch) const {
  std::vector<int64_t> order(dataset_->size());
  std::iota(order.begin(), order.end(), 0);
  if (options_.shuffle) {
    Rng rng(MixSeed(options_.seed, static_cast<uint64_t>(epoch)));
    Shuffle(&order, &rng);
  }
  return order;
}

std::vector<int64_t> DetectionLoader::ShardIndices(int64_t epoch) const {
  const std::vector<int64_t> order = EpochPermutation(epoch);
  const int64_t n = static_cast<int64_t>(order.size());
  std::vector<int64_t> shard;
  shard.reserve(shard_size_);
  const int64_t total =
      options_.pad_shards ? shard_size_ * options_.world_size : n;
  for (int64_t j = options_.rank; j < total; j += options_.world_size) {
    shard.push_back(order[j % n]);
  }
  return shard;
}

void DetectionLoader::StopWorkers() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  changed_.notify_all();
  for (std::thread& worker : workers_) worker.join();
  workers_.clear();
  std::lock_guard<std::mutex> lock(mu_);
  ready_.clear();
}

absl::Status DetectionLoader::StartEpoch(int64_t epoch, int64_t skip_batches) {
  StopWorkers();
  started_ = false;
  if (epoch < 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("DetectionLoader: epoch %d must be >= 0", epoch));
  }
  if (skip_batches < 0 || skip_batches > batches_per_epoch_) {
    return absl::InvalidArgumentError(
        absl::StrFormat("DetectionLoader: skip_batches %d is outside [0, %d]",
                        skip_batches, batches_per_epoch_));
  }
  epoch_ = epoch;
  shard_ = ShardIndices(epoch);
  next_batch_ = skip_batches;
  error_ = absl::OkStatus();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = false;
    claim_next_ = skip_batches;
    claim_end_ = batches_per_epoch_;
    consumed_ = skip_batches;
  }
  started_ = true;
  const int64_t threads = std::min<int64_t>(options_.num_workers,
                                            batches_per_epoch_ - skip_batches);
  absl::Status status = CallCatchingExceptions(
      "DetectionLoader: starting workers", [&]() -> absl::Status {
        for (int64_t i = 0; i < threads; ++i) {
          workers_.emplace_back([this] { WorkerLoop(); });
        }
        return absl::OkStatus();
      });
  if (!status.ok()) {
    StopWorkers();
    started_ = false;
  }
  return status;
}

absl::StatusOr<DetectionBatch> DetectionLoader::BuildBatch(
    int64_t batch) const {
  return CallCatchingExceptions(
      absl::StrCat("batch ", batch, " of epoch ", epoch_),
      [&]() -> absl::StatusOr<DetectionBatch> {
        const int64_t begin = batch * options_.batch_size;
        const int64_t end = std::min<int64_t>(
            begin + options_.batch_size, static_cast<int64_t>(shard_.size()));
        std::vector<DetectionSample> samples;
        samples.reserve(end - begin);
        for (int64_t j = begin; j < end; ++j) {
          const int64_t index = shard_[j];
          CVT_ASSIGN_OR_RETURN(DetectionSample sample, dataset_->Load(index));
          Rng rng(MixSeed(options_.seed, static_cast<uint64_t>(epoch_),
                          static_cast<uint64_t>(index)));
          CVT_RETURN_IF_ERROR(transforms_.Apply(&sample, &rng));
          samples.push_back(std::move(sample));
        }
        return Collate(std::move(samples), options_.size_divisor);
      });
}

void DetectionLoader::WorkerLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    changed_.wait(lock, [this] {
      return stop_ || claim_next_ >= claim_end_ ||
             claim_next_ < consumed_ + options_.prefetch_batches;
    });
    if (stop_ || claim_next_ >= claim_end_) return;
    const int64_t batch = claim_next_++;
    lock.unlock();
    absl::StatusOr<DetectionBatch> result = BuildBatch(batch);
    lock.lock();
    if (!result.ok()) claim_end_ = std::min(claim_end_, batch + 1);
    ready_.emplace(batch, std::move(result));
    changed_.notify_all();
  }
}

absl::StatusOr<std::optional<DetectionBatch>> DetectionLoader::Next() {
  if (!started_) {
    return absl::FailedPreconditionError(
        "DetectionLoader: Next before StartEpoch");
  }
  if (!error_.ok()) return error_;
  if (next_batch_ >= batches_per_epoch_) return std::nullopt;
  absl::StatusOr<DetectionBatch> result;
  if (options_.num_workers == 0) {
    result = BuildBatch(next_batch_);
  } else {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [this] { return ready_.count(next_batch_) > 0; });
    auto it = ready_.find(next_batch_);
    result = std::move(it->second);
    ready_.erase(it);
    consumed_ = next_batch_ + 1;
    lock.unlock();
    changed_.notify_all();
  }
  ++next_batch_;
  if (!result.ok()) {
    error_ = result.status();
    StopWorkers();
    return error_;
  }
  return std::optional<DetectionBatch>(*std::move(result));
}

}  // namespace cvt
