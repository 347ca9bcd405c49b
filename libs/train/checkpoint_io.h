// -----------------------------------------------------------------------------
// File: checkpoint_io.h
// -----------------------------------------------------------------------------
//
// The `.ckpt` file: one `torch.save`-compatible archive (LibTorch's
// pickle_save, which Python's `torch.load` reads) holding a dict:
//
//   format_version   int (1)
//   tool_version     str ("cvtools 0.x")
//   epoch            int, the epoch the file was written in (0-based)
//   global_step      int, optimizer steps completed
//   batch_in_epoch   int, batches of `epoch` consumed (0 after an epoch's
//                    validation; > 0 only in preemption saves)
//   epoch_complete   bool, the epoch's training and validation are done
//   state_dict       {name: tensor}, model parameters and buffers
//   optimizer        {"<param>.exp_avg" | ".exp_avg_sq" | ".step": tensor}
//   rng              {"torch_cpu": uint8 tensor}, the CPU generator state
//   trainer_state    str (JSON): lr schedule, checkpoint and early-stopping
//                    callbacks, counters, the metrics.jsonl offset
//   config           str, the resolved PipelineConfig as text proto
//   categories       str, the frozen category map (categories.json)
//   hyper_parameters str (JSON), the flattened config
//
// A checkpoint alone rebuilds the model: config + categories name it.
// Files are written atomically (temp file in the folder, fsync, rename,
// fsync of the folder); a reader never sees a partial file under a final
// name.

#ifndef LIBS_TRAIN_CHECKPOINT_IO_H_
#define LIBS_TRAIN_CHECKPOINT_IO_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ATen/core/Tensor.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cvt {

inline constexpr int64_t kCheckpointFormatVersion = 1;

struct TrainingCheckpoint {
  int64_t format_version = kCheckpointFormatVersion;
  std::string tool_version;
  int64_t epoch = 0;
  int64_t global_step = 0;
  int64_t batch_in_epoch = 0;
  bool epoch_complete = false;
  std::map<std::string, at::Tensor> state_dict;
  std::map<std::string, at::Tensor> optimizer;
  at::Tensor rng_cpu;
  // Data-parallel runs: the CPU generator of every rank > 0, at index
  // rank - 1 (stored as rng/torch_cpu_rank<r>). Empty for one process.
  std::vector<at::Tensor> rng_cpu_other_ranks;
  std::string trainer_state_json;
  std::string config_textproto;
  std::string categories_json;
  std::string hyper_parameters_json;
};

// Serialises `checkpoint` and writes it to `path` atomically. Errors: the
// file system's (naming the path).
absl::Status WriteTrainingCheckpoint(const TrainingCheckpoint& checkpoint,
                                     const std::string& path);

// Reads a file written by WriteTrainingCheckpoint. NotFound; InvalidArgument
// naming the file when it is not a cvtools checkpoint, is truncated or
// corrupt, or has an unknown format_version.
absl::StatusOr<TrainingCheckpoint> ReadTrainingCheckpoint(
    const std::string& path);

}  // namespace cvt

#endif  // LIBS_TRAIN_CHECKPOINT_IO_H_
