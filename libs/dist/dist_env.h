// -----------------------------------------------------------------------------
// File: dist_env.h
// -----------------------------------------------------------------------------
//
// The process's place in a data-parallel job, read from the torchrun
// environment (the variables torchrun, TorchDistributor and `train fit
// --nproc_per_node` set):
//
//   WORLD_SIZE        processes in the job (unset: 1, a single process)
//   RANK              this process, 0 .. WORLD_SIZE-1
//   LOCAL_RANK        this process on its node (also the CUDA device)
//   LOCAL_WORLD_SIZE  processes on this node (default: WORLD_SIZE)
//   MASTER_ADDR       rank 0's host (the c10d TCPStore runs there)
//   MASTER_PORT       its port
//
// Example:
//
//   CVT_ASSIGN_OR_RETURN(DistEnv env, DistEnvFromEnvironment());
//   if (env.world_size > 1) { ... Communicator::Connect(env, options) ... }

#ifndef LIBS_DIST_DIST_ENV_H_
#define LIBS_DIST_DIST_ENV_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace cvt {

struct DistEnv {
  int world_size = 1;
  int rank = 0;
  int local_rank = 0;
  int local_world_size = 1;
  std::string master_addr;
  int master_port = 0;

  bool distributed() const { return world_size > 1; }
  bool is_root() const { return rank == 0; }
};

// Reads the variables through `getenv` (tests pass their own lookup).
// WORLD_SIZE unset or "1" gives the single-process environment (no other
// variable is needed). InvalidArgument naming the variable for a value that
// is not an integer, a rank outside [0, WORLD_SIZE), or a missing
// MASTER_ADDR / MASTER_PORT when WORLD_SIZE > 1.
absl::StatusOr<DistEnv> DistEnvFromEnvironment(
    const std::function<std::optional<std::string>(const char*)>& getenv);
absl::StatusOr<DistEnv> DistEnvFromEnvironment();

}  // namespace cvt

#endif  // LIBS_DIST_DIST_ENV_H_
