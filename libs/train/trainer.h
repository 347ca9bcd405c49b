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

#ifndef LIBS_TRAIN_TRAINER_H_
#define LIBS_TRAIN_TRAINER_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "libs/config/pipeline.pb.h"

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
