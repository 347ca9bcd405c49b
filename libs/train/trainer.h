// -----------------------------------------------------------------------------
// File: trainer.h
// -----------------------------------------------------------------------------
//
// The training loop behind `train fit|validate|test|predict`, with
// Lightning's semantics for checkpoints and early stopping
// (reference/training_semantics.md §2) and bit-reproducible resume.
//
// Fit, per epoch e (0-based):
//   1. The loader starts epoch e (its order and augmentation depend only on
//      (seed, e, index)); a resumed epoch skips the batches already done.
//   2. Per batch: forward, the adapter's loss divided by
//      accumulate_grad_batches, backward. Every k batches (and at the epoch's
//      last batch): clip the global gradient norm, AdamW step, lr schedule
//      step. A non-finite loss stops the run naming the step, the batch's
//      image ids and the loss terms (`on_nonfinite_loss: STOP`), or skips
//      the batch (`SKIP`, counted, at most max_consecutive_skips in a row).
//      Step metrics (train/loss, its terms, lr-AdamW[/pgN], grad_norm) are
//      written every log_every_n_steps optimizer steps, at the 0-based step
//      index (Lightning's: the first point of n = 50 is step 49).
//   3. After every check_val_every_n_epoch-th epoch and the last: the
//      validation loss and COCO metrics through libs/eval (val/map,
//      val/map_50, ..., val/map_class/<name>), then early stopping, then
//      top-k and last checkpoints, then checkpoints.json (§2.8 order).
//   4. SIGTERM / SIGINT: the current optimizer step finishes, `last.ckpt`
//      is written with the loader position, run.json says KILLED, and Fit
//      returns Aborted (the tool exits 1). `--resume last` continues.
//
// Resume (`resume` = "last", "best" or a path) restores the model, AdamW
// moments, lr schedule, callbacks, the CPU generator and the loader
// position, and cuts metrics.jsonl back to the checkpoint's offset, so an
// interrupted run and an uninterrupted one end with bit-identical weights
// (same thread count, CPU).
//
// Data parallel (world_size > 1; training_semantics.md 2.7): ranks join
// through c10d (TCPStore at MASTER_ADDR:MASTER_PORT, ProcessGroupGloo).
// Rank 0's initial weights are broadcast; each rank trains on its shard of
// every epoch's permutation (padded to a multiple of the world size by
// repeating its head, as DistributedSampler does), gradients are averaged
// over ranks in 25 MiB buckets before clipping and the AdamW step, the
// losses' batch normalisers (DETR's object count and cross-entropy weight,
// YOLO's target-score total) are summed over ranks, and with model.yolo.
// sync_batch_norm YOLO's training batch norm takes its statistics over all
// ranks, so W ranks with batch b take the steps one process takes with
// batch W*b (DETR's batch norm is frozen; without the sync, YOLO's batch
// statistics are per rank, as in PyTorch DDP). Validation shards are
// disjoint (not padded); the predictions are gathered, deduplicated by
// image id and evaluated once over the whole split. Decisions (early
// stopping, top-k) are computed from the same gathered metrics on every
// rank; only rank 0 writes the run directory and checkpoints (which hold
// every rank's generator state). A non-finite loss or a stop signal on any
// rank stops all of them at the same step. Resume needs the same world size
// and the run directory readable by every rank (a shared file system across
// nodes). A rank that dies makes the others fail (Unavailable) at their next
// collective, or after dist_timeout_s if a rank hangs.

#ifndef LIBS_TRAIN_TRAINER_H_
#define LIBS_TRAIN_TRAINER_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "libs/config/pipeline.pb.h"
#include "libs/dist/dist_env.h"

namespace cvt {

struct FitOptions {
  // coco_prep output folder (images/, annotations/<split>.json,
  // categories.json).
  std::string data_dir;
  std::string run_dir;
  // "", "last", "best" or a checkpoint path.
  std::string resume;
  // Intra-op threads; 0 = all cores.
  int threads = 0;
  // Allow a fresh run into a run directory that already holds checkpoints.
  bool exist_ok = false;
  // Progress lines on stderr.
  bool quiet = false;
  // Test hook: stop as if SIGTERM arrived after this many optimizer steps
  // (0 = never).
  int64_t stop_after_steps = 0;
  // Data-parallel training (DistEnvFromEnvironment: torchrun's variables).
  // With world_size > 1 every rank runs Fit with the same config and
  // run_dir; see "Data parallel" above. Default: one process.
  DistEnv dist;
  // How long a rank waits for the others (rendezvous and each collective)
  // before it fails. Default: 1800 s.
  int64_t dist_timeout_s = 1800;
};

// Trains; see the file comment. InvalidArgument for bad config or data
// (naming the file/field); Aborted after SIGTERM/SIGINT (last.ckpt
// written); DataLoss for a non-finite loss with on_nonfinite_loss STOP;
// the file system's errors.
absl::Status Fit(const PipelineConfig& config, const FitOptions& options);

struct EvaluateOptions {
  std::string checkpoint;
  std::string data_dir;
  // "val" or "test" (the config's split names are used).
  std::string split = "val";
  int threads = 0;
  // Optional JSON report path (metrics and per-class AP).
  std::string out_path;
  bool quiet = false;
};

// Loss and COCO metrics of a checkpoint on a split ("val/map", ...
// prefixed with the split name).
absl::StatusOr<std::map<std::string, double>> Evaluate(
    const EvaluateOptions& options);

struct PredictOptions {
  std::string checkpoint;
  // Either a folder of images (every .jpg/.jpeg/.png, sorted, ids 1..n in
  // that order) or a coco_prep folder (its test split).
  std::string images_dir;
  std::string data_dir;
  std::string out_path;
  int threads = 0;
  bool quiet = false;
};

// Writes COCO results (original image frame and category ids, no score
// threshold) to out_path atomically.
absl::Status Predict(const PredictOptions& options);

}  // namespace cvt

#endif  // LIBS_TRAIN_TRAINER_H_
