// -----------------------------------------------------------------------------
// File: subprocess.h
// -----------------------------------------------------------------------------
//
// Child processes (`tune`'s trials, the data-parallel launcher's workers):
// fork + execv of an explicit binary
// (no shell, no PATH search), stdout and stderr appended to a log file,
// stdin from /dev/null. Each child gets its own process group, so a Ctrl-C
// in the terminal reaches only `tune` (which then stops its trials in
// order), and asks the kernel for SIGTERM when `tune` dies
// (PR_SET_PDEATHSIG), so even a `kill -9` of `tune` lets every trainer save
// its state and exit.
//
// Example:
//
//   CVT_ASSIGN_OR_RETURN(std::unique_ptr<Subprocess> child,
//                        Subprocess::Start({.argv = {train, "fit", ...},
//                                           .output_path = log}));
//   ...
//   CVT_ASSIGN_OR_RETURN(std::optional<ExitStatus> exit, child->Poll());
//   if (exit.has_value() && !exit->success()) ...
//
// Thread safety: a `Subprocess` is used by one thread at a time. `Start`
// must be called from the thread that lives as long as the children (the
// death signal follows the thread that forked).

#ifndef LIBS_BASE_SUBPROCESS_H_
#define LIBS_BASE_SUBPROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cvt {

struct SubprocessOptions {
  // argv[0] is the binary's path, executed as is. Must not be empty.
  std::vector<std::string> argv;
  // Where stdout and stderr are appended (created 0666 & ~umask); empty
  // inherits the parent's. Default: empty.
  std::string output_path;
  // Put the child in a process group of its own. Default: `true`.
  bool new_process_group = true;
  // Deliver SIGTERM to the child when the parent dies. Default: `true`.
  bool terminate_with_parent = true;
  // Variables set (or replaced) in the child's environment, which is
  // otherwise the parent's. Default: none.
  std::vector<std::pair<std::string, std::string>> env;
};

// How a child ended.
struct ExitStatus {
  // Exit code when it exited, -1 when a signal killed it.
  int code = -1;
  // The signal that killed it, 0 when it exited.
  int signal = 0;

  bool success() const { return code == 0; }
  // "exit code 3" or "killed by signal 9 (Killed)".
  std::string ToString() const;
};

class Subprocess {
 public:
  // Starts the child. NotFound / PermissionDenied (naming the binary) when
  // it cannot be executed; errors naming `output_path` when it cannot be
  // opened; Internal when fork fails.
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(
      const SubprocessOptions& options);

  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  // Does not signal or wait: a child still running is left running.
  ~Subprocess() = default;

  pid_t pid() const { return pid_; }

  // Sends `signal` to the child (a no-op once it has been reaped).
  absl::Status Signal(int signal);

  // Reaps the child if it has ended; nullopt while it runs. After the first
  // status it returns the same status again.
  absl::StatusOr<std::optional<ExitStatus>> Poll();

  // Blocks until the child ends.
  absl::StatusOr<ExitStatus> Wait();

 private:
  explicit Subprocess(pid_t pid) : pid_(pid) {}

  pid_t pid_;
  std::optional<ExitStatus> exit_;
};

// True when a process `pid` exists (a zombie counts) on this host.
bool ProcessExists(pid_t pid);

// The NUL-separated arguments of process `pid` joined by spaces, from
// /proc/<pid>/cmdline; empty when it does not exist or cannot be read.
std::string ProcessCommandLine(pid_t pid);

}  // namespace cvt

#endif  // LIBS_BASE_SUBPROCESS_H_
