// -----------------------------------------------------------------------------
// File: train.h
// -----------------------------------------------------------------------------
//
// `train fit|validate|test|predict`: trains and runs detectors from a pipeline
// config (configs/*.textproto) and a coco_prep dataset folder.

#ifndef TOOLS_TRAIN_TRAIN_H_
#define TOOLS_TRAIN_TRAIN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "libs/dist/dist_env.h"

namespace cvt {

struct TrainOptions {
  // fit, validate, test or predict.
  std::string subcommand;
  // Pipeline config (.textproto or .json); fit only.
  std::string config_path;
  // Text-proto files merged over the config, in order.
  std::vector<std::string> override_files;
  // "path.to.field=value" overrides.
  std::vector<std::string> overrides;
  // Dataset folder written by coco_prep.
  std::string data_dir;
  // Run directory: run.json, metrics.jsonl, checkpoints/.
  std::string run_dir;
  // "", "last", "best" or a checkpoint path.
  std::string resume;
  // Checkpoint for validate, test and predict.
  std::string checkpoint;
  // Images folder for predict.
  std::string images_dir;
  // COCO results file written by predict.
  std::string out_path;
  // Intra-op threads; 0 = all cores.
  int threads = 0;
  // fit: allow a fresh run beside existing checkpoints.
  bool exist_ok = false;
  // fit, for tests: stop as after SIGTERM once this many optimizer steps
  // are done (0 = never).
  int64_t stop_after_steps = 0;
  // fit: this process's place in a data-parallel job (torchrun variables)
  // and how long it waits for the others.
  DistEnv dist;
  int64_t dist_timeout_s = 1800;
};

// InvalidArgument for a bad subcommand, missing flags or an invalid config;
// otherwise what libs/train/trainer.h's Fit, Evaluate and Predict return
// (Aborted after SIGTERM/SIGINT, DataLoss for a non-finite loss).
absl::Status RunTrain(const TrainOptions& options);

}  // namespace cvt

#endif  // TOOLS_TRAIN_TRAIN_H_
