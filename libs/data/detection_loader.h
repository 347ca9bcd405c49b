// -----------------------------------------------------------------------------
// File: detection_loader.h
// -----------------------------------------------------------------------------
//
// The training and evaluation input pipeline: one rank's shard of a
// `DetectionDataset`, decoded and transformed by worker threads, collated
// into `DetectionBatch`es that come out in a fixed order.
//
// Reproducibility (reference/training_semantics.md 2.3): everything a batch
// holds depends only on (seed, epoch, dataset index), never on the number of
// workers or on thread timing.
//   - Epoch order: with `shuffle`, a Fisher-Yates permutation of 0..N-1
//     (seed_mix.h `Shuffle`) drawn from `Rng(MixSeed(seed, epoch))`;
//     otherwise 0..N-1.
//   - Augmentation: sample i of epoch e is transformed with
//     `Rng(MixSeed(seed, e, i))`, whichever batch, rank or worker it lands
//     in. (A padded duplicate therefore gets the same augmentation as its
//     original in that epoch.)
//   - A mid-epoch resume: `StartEpoch(e, k)` delivers exactly batches k, k+1,
//     ... of an uninterrupted epoch e.
//
// Sharding (2.7), with N images, world size R and rank r:
//   - `pad_shards` (training): the permutation is extended to
//     ceil(N / R) * R entries by repeating it from its start (entry j of the
//     padding is permutation[j mod N]); rank r takes entries r, r + R,
//     r + 2R, ... (PyTorch's DistributedSampler). Every rank gets the same
//     number of samples and batches; each index appears at least once
//     across ranks.
//   - without padding (evaluation): rank r takes entries r, r + R, ... of
//     the permutation itself: the ranks' shards are disjoint, cover every
//     index once, and can differ by one sample (and so in batch count).
//     Deduplicate by image id when gathering if `pad_shards` was on.
//   Batch k of the rank holds shard entries [k * B, (k + 1) * B); the last
//   batch is smaller unless `drop_last` drops it.
//
// Threads: with `num_workers` > 0, workers build whole batches (decode,
// transform, collate), claiming batch indices in order; at most
// `prefetch_batches` batches are claimed but not yet returned by `Next`
// (being built or ready), which bounds memory. Workers exit at the epoch's
// end; `StartEpoch` during an epoch and the destructor stop and join them
// (a worker finishes the batch it is building first). With 0 workers `Next`
// builds each batch on the calling thread.
//
// Errors: the first failing batch in batch order is the error `Next`
// returns (batches before it come out normally); within a batch, the first
// failing sample's error (which names the image file). After an error the
// epoch is over: `Next` keeps returning that error until `StartEpoch`.
// OpenCV and LibTorch exceptions become Unknown / ResourceExhausted.
//
// Example:
//
//   CVT_ASSIGN_OR_RETURN(std::unique_ptr<DetectionLoader> loader,
//                        DetectionLoader::Create(&dataset, train, options));
//   CVT_RETURN_IF_ERROR(loader->StartEpoch(epoch));
//   while (true) {
//     CVT_ASSIGN_OR_RETURN(std::optional<DetectionBatch> batch,
//                          loader->Next());
//     if (!batch.has_value()) break;
//     ...
//   }
//
// Thread safety: one thread calls `StartEpoch` and `Next`; the workers are
// internal. The dataset must outlive the loader.

#ifndef LIBS_DATA_DETECTION_LOADER_H_
#define LIBS_DATA_DETECTION_LOADER_H_

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "libs/data/detection_batch.h"
#include "libs/data/detection_dataset.h"
#include "libs/data/transforms.h"

namespace cvt {

struct DetectionLoaderOptions {
  // Images per batch on this rank (>= 1). Default: 2 (`DataConfig`).
  int batch_size = 2;
  // Decoding/augmentation threads; 0 builds batches on the calling thread.
  // Default: 2 (`DataConfig`).
  int num_workers = 2;
  // Batches built ahead of `Next` (>= 1; used with workers; values below
  // `num_workers` leave workers idle). Default: 4 (`DataConfig`).
  int prefetch_batches = 4;
  // Shuffle each epoch (see the file comment). Default: true.
  bool shuffle = true;
  // Drop the last, smaller batch. Default: false.
  bool drop_last = false;
  // Base seed of the permutation and of the augmentation. Default: 42.
  uint64_t seed = 42;
  // This process's rank and the number of ranks (0 <= rank < world_size).
  // Default: 0 of 1.
  int rank = 0;
  int world_size = 1;
  // Pad the permutation to a multiple of world_size (training); false gives
  // disjoint, possibly unequal shards (evaluation). Default: true.
  bool pad_shards = true;
  // Collated height and width are rounded up to a multiple of this (>= 1).
  // Default: 1.
  int size_divisor = 1;
};

class DetectionLoader {
 public:
  // InvalidArgument for an option out of range (the message names it).
  // `dataset` must outlive the loader; `transforms` is copied.
  static absl::StatusOr<std::unique_ptr<DetectionLoader>> Create(
      const DetectionDataset* dataset, TransformPipeline transforms,
      const DetectionLoaderOptions& options = {});

  DetectionLoader(const DetectionLoader&) = delete;
  DetectionLoader& operator=(const DetectionLoader&) = delete;
  // Stops and joins the workers.
  ~DetectionLoader();

  // Starts epoch `epoch` (>= 0) at batch `skip_batches` (0 <=
  // skip_batches <= batches_per_epoch(); equal means nothing is left),
  // stopping an epoch in progress first. InvalidArgument for a bad argument;
  // Unknown if a thread cannot be started.
  absl::Status StartEpoch(int64_t epoch, int64_t skip_batches = 0);

  // The next batch in order, or nullopt at the end of the epoch.
  // FailedPrecondition before the first `StartEpoch`; otherwise the error of
  // the first failing batch (see the file comment).
  absl::StatusOr<std::optional<DetectionBatch>> Next();

  // Batches `Next` delivers in a whole epoch on this rank (the same for
  // every epoch; with `pad_shards` the same on every rank).
  int64_t batches_per_epoch() const { return batches_per_epoch_; }
  // Samples in this rank's shard per epoch (including any padding and the
  // samples `drop_last` drops).
  int64_t shard_size() const { return shard_size_; }

  // Dataset indices of this rank's shard of `epoch`, in delivery order:
  // batch k holds entries [k * batch_size, (k + 1) * batch_size). Pure; may
  // be called at any time (for example to log image ids).
  std::vector<int64_t> ShardIndices(int64_t epoch) const;
  // The whole epoch order before sharding (the permutation, unpadded).
  std::vector<int64_t> EpochPermutation(int64_t epoch) const;

  const DetectionLoaderOptions& options() const { return options_; }

 private:
  DetectionLoader(const DetectionDataset* dataset, TransformPipeline transforms,
                  const DetectionLoaderOptions& options);

  // Builds batch `batch` of the current epoch from `shard_`.
  absl::StatusOr<DetectionBatch> BuildBatch(int64_t batch) const;
  void WorkerLoop();
  void StopWorkers();

  const DetectionDataset* const dataset_;
  const TransformPipeline transforms_;
  const DetectionLoaderOptions options_;
  int64_t shard_size_ = 0;
  int64_t batches_per_epoch_ = 0;

  // The current epoch; written by `StartEpoch` while no worker runs.
  bool started_ = false;
  int64_t epoch_ = 0;
  std::vector<int64_t> shard_;
  int64_t next_batch_ = 0;  // The batch `Next` returns next.
  absl::Status error_;      // Sticky epoch error.

  std::mutex mu_;
  std::condition_variable changed_;
  bool stop_ = false;       // Guarded by mu_.
  int64_t claim_next_ = 0;  // Guarded by mu_: next batch to build.
  int64_t claim_end_ = 0;   // Guarded by mu_: no batch >= this is built.
  int64_t consumed_ = 0;    // Guarded by mu_: mirrors next_batch_.
  std::map<int64_t, absl::StatusOr<DetectionBatch>> ready_;  // Guarded by mu_.
  std::vector<std::thread> workers_;
};

}  // namespace cvt

#endif  // LIBS_DATA_DETECTION_LOADER_H_
