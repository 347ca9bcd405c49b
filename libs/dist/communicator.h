// -----------------------------------------------------------------------------
// File: communicator.h
// -----------------------------------------------------------------------------
//
// The collectives data-parallel training needs, over LibTorch's own c10d:
// a TCPStore on rank 0 (MASTER_ADDR:MASTER_PORT) for the rendezvous and a
// ProcessGroupGloo for the tensors (CPU). Every collective is called by all
// ranks in the same order; each waits at most `timeout` for the others, and
// a peer that exits breaks its connections, so the survivors' next
// collective fails (Unavailable, naming this rank and the operation) rather
// than hang.
//
// With world_size 1 the collectives return their inputs without any
// networking, so callers need no special case.
//
// Example:
//
//   CVT_ASSIGN_OR_RETURN(DistEnv env, DistEnvFromEnvironment());
//   CVT_ASSIGN_OR_RETURN(std::unique_ptr<Communicator> comm,
//                        Communicator::Connect(env, {}));
//   CVT_RETURN_IF_ERROR(comm->Broadcast(parameters));  // rank 0's values
//   loss.backward();
//   CVT_RETURN_IF_ERROR(comm->AllReduceMean(gradients));

#ifndef LIBS_DIST_COMMUNICATOR_H_
#define LIBS_DIST_COMMUNICATOR_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "ATen/core/Tensor.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/dist/dist_env.h"

namespace cvt {

struct CommunicatorOptions {
  // How long the rendezvous and each collective wait for the other ranks.
  // Default: 30 minutes (torch.distributed's default).
  absl::Duration timeout = absl::Minutes(30);
  // Gradients are flattened into buckets of at most this many bytes (one
  // all-reduce each; a larger tensor is its own bucket). Default: 25 MiB,
  // DDP's bucket_cap_mb.
  int64_t bucket_bytes = int64_t{25} << 20;
};

class Communicator {
 public:
  // Joins the job `env` describes (all ranks must call it). For world_size
  // 1, returns the local communicator at once. Unavailable when the
  // rendezvous does not complete within the timeout.
  static absl::StatusOr<std::unique_ptr<Communicator>> Connect(
      const DistEnv& env, const CommunicatorOptions& options);

  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  bool is_root() const { return rank() == 0; }

  // Overwrites every tensor with rank 0's (contiguous tensors; any dtype).
  virtual absl::Status Broadcast(const std::vector<at::Tensor>& tensors) = 0;

  // Replaces every tensor with the mean over ranks, in buckets of
  // options.bucket_bytes (floating-point, contiguous tensors).
  virtual absl::Status AllReduceMean(
      const std::vector<at::Tensor>& tensors) = 0;

  // Replaces every tensor with its element-wise sum over ranks (one
  // all-reduce per tensor; contiguous tensors).
  virtual absl::Status SumInPlace(const std::vector<at::Tensor>& tensors) = 0;

  // Element-wise sums over ranks (in double precision).
  virtual absl::StatusOr<std::vector<double>> Sum(
      const std::vector<double>& values) = 0;

  // The rows [n_r, k] of every rank, concatenated in rank order (the row
  // counts may differ; k and the dtype may not).
  virtual absl::StatusOr<at::Tensor> AllGatherRows(const at::Tensor& rows) = 0;

  // Returns when every rank has called it.
  virtual absl::Status Barrier() = 0;
};

}  // namespace cvt

#endif  // LIBS_DIST_COMMUNICATOR_H_
