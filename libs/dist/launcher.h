// -----------------------------------------------------------------------------
// File: launcher.h
// -----------------------------------------------------------------------------
//
// A local launcher in the manner of `torchrun --standalone --nproc_per_node
// N`: starts N copies of a command on this machine with the torchrun
// variables (WORLD_SIZE, RANK, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR,
// MASTER_PORT; OMP_NUM_THREADS=1 unless set, as torchrun does), forwards
// SIGTERM / SIGINT to them, and when one fails stops the others (SIGTERM,
// then SIGKILL after a grace period), so a job never hangs on a dead rank.
//
// Example (`train fit --nproc_per_node 2 ...` re-executes itself):
//
//   LaunchOptions launch;
//   launch.nproc = 2;
//   launch.argv = {"/proc/self/exe", "fit", "--config", ...};
//   CVT_ASSIGN_OR_RETURN(int exit_code, LaunchLocalWorkers(launch));

#ifndef LIBS_DIST_LAUNCHER_H_
#define LIBS_DIST_LAUNCHER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace cvt {

struct LaunchOptions {
  // Workers to start (>= 1).
  int nproc = 1;
  // The command each worker runs; argv[0] is the executable's path.
  std::vector<std::string> argv;
  // Rendezvous address. Default: 127.0.0.1.
  std::string master_addr = "127.0.0.1";
  // Rendezvous port; 0 picks a free one. Default: 0.
  int master_port = 0;
  // Seconds between SIGTERM and SIGKILL when stopping the survivors of a
  // failed worker. Default: 30.
  int grace_s = 30;
};

// Runs the workers to completion (libs/base/subprocess.h: each in its own
// process group, SIGTERMed if the launcher dies). Returns the job's exit
// code: 0 when all exit 0, otherwise the first failure's exit code (128 +
// signal for a worker killed by a signal). InvalidArgument for nproc < 1 or
// an empty argv; NotFound / PermissionDenied naming the binary when it
// cannot be executed (no worker is left running).
absl::StatusOr<int> LaunchLocalWorkers(const LaunchOptions& options);

// A TCP port on 127.0.0.1 that was free a moment ago (29500 if none can be
// found).
int FreeLoopbackPort();

// Removes `--name=value` and `--name value` (also `-name`) from args.
std::vector<std::string> DropFlag(const std::vector<std::string>& args,
                                  const std::string& name);

}  // namespace cvt

#endif  // LIBS_DIST_LAUNCHER_H_
