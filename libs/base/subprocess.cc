#include "libs/base/subprocess.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "libs/base/file_io.h"

namespace cvt {
namespace {

ExitStatus FromWaitStatus(int status) {
  ExitStatus exit;
  if (WIFEXITED(status)) {
    exit.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    exit.signal = WTERMSIG(status);
  }
  return exit;
}

// Everything below runs in the forked child before execv: async-signal-safe
// calls only, no allocation.
[[noreturn]] void ExecChild(const SubprocessOptions& options, char* const* argv,
                            char* const* envp, int log_fd, int error_fd,
                            pid_t parent) {
  auto fail = [error_fd]() {
    const int e = errno;
    ssize_t ignored = write(error_fd, &e, sizeof(e));
    (void)ignored;
    _exit(127);
  };
  if (options.new_process_group && setpgid(0, 0) != 0) fail();
  if (options.terminate_with_parent) {
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) fail();
    // The parent may have died before prctl took effect.
    if (getppid() != parent) _exit(1);
  }
  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, nullptr);
  for (int sig : {SIGTERM, SIGINT, SIGPIPE, SIGHUP, SIGCHLD}) {
    signal(sig, SIG_DFL);
  }
  const int null_fd = open("/dev/null", O_RDONLY);
  if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0) fail();
  if (log_fd >= 0) {
    if (dup2(log_fd, STDOUT_FILENO) < 0 || dup2(log_fd, STDERR_FILENO) < 0) {
      fail();
    }
  }
  execve(argv[0], argv, envp);
  fail();
  _exit(127);  // Not reached: `fail` exits.
}

}  // namespace

std::string ExitStatus::ToString() const {
  if (signal != 0) {
    return absl::StrCat("killed by signal ", signal, " (", strsignal(signal),
                        ")");
  }
  return absl::StrCat("exit code ", code);
}

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Start(
    const SubprocessOptions& options) {
  if (options.argv.empty() || options.argv[0].empty()) {
    return absl::InvalidArgumentError("Subprocess::Start: no binary given");
  }
  std::vector<char*> argv;
  for (const std::string& arg : options.argv) {
    argv.push_back(const_cast<char*>(arg.c_str()));
  }
  argv.push_back(nullptr);
  // The child's environment, built before fork (the child may not
  // allocate): the parent's, with options.env set or replaced.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    bool replaced = false;
    for (const auto& [key, value] : options.env) {
      replaced = replaced || entry.compare(0, key.size() + 1, key + "=") == 0;
    }
    if (!replaced) env_strings.push_back(entry);
  }
  for (const auto& [key, value] : options.env) {
    env_strings.push_back(key + "=" + value);
  }
  std::vector<char*> envp;
  for (std::string& entry : env_strings) envp.push_back(entry.data());
  envp.push_back(nullptr);
  int log_fd = -1;
  if (!options.output_path.empty()) {
    log_fd = open(options.output_path.c_str(),
                  O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (log_fd < 0)
      return ErrnoStatus(errno, "cannot open", options.output_path);
  }
  int error_pipe[2];
  if (pipe2(error_pipe, O_CLOEXEC) != 0) {
    const int e = errno;
    if (log_fd >= 0) close(log_fd);
    return ErrnoStatus(e, "cannot create a pipe for", options.argv[0]);
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    const int e = errno;
    close(error_pipe[0]);
    close(error_pipe[1]);
    if (log_fd >= 0) close(log_fd);
    return absl::InternalError(
        absl::StrCat("fork for ", options.argv[0], ": ", strerror(e)));
  }
  if (pid == 0) {
    close(error_pipe[0]);
    ExecChild(options, argv.data(), envp.data(), log_fd, error_pipe[1], parent);
  }
  close(error_pipe[1]);
  if (log_fd >= 0) close(log_fd);
  // The pipe closes on a successful exec (O_CLOEXEC) and carries errno
  // otherwise.
  int child_errno = 0;
  ssize_t got;
  do {
    got = read(error_pipe[0], &child_errno, sizeof(child_errno));
  } while (got < 0 && errno == EINTR);
  close(error_pipe[0]);
  std::unique_ptr<Subprocess> child(new Subprocess(pid));
  if (got > 0) {
    child->Wait().IgnoreError();
    return ErrnoStatus(child_errno, "cannot execute", options.argv[0]);
  }
  return child;
}

absl::Status Subprocess::Signal(int signal) {
  if (exit_.has_value()) return absl::OkStatus();
  if (kill(pid_, signal) != 0 && errno != ESRCH) {
    return ErrnoStatus(errno, absl::StrCat("cannot signal (", signal, ")"),
                       absl::StrCat("pid ", pid_));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<ExitStatus>> Subprocess::Poll() {
  if (exit_.has_value()) return exit_;
  int status = 0;
  pid_t got;
  do {
    got = waitpid(pid_, &status, WNOHANG);
  } while (got < 0 && errno == EINTR);
  if (got < 0) return ErrnoStatus(errno, "waitpid", absl::StrCat("pid ", pid_));
  if (got == 0) return std::optional<ExitStatus>();
  exit_ = FromWaitStatus(status);
  return exit_;
}

absl::StatusOr<ExitStatus> Subprocess::Wait() {
  if (exit_.has_value()) return *exit_;
  int status = 0;
  pid_t got;
  do {
    got = waitpid(pid_, &status, 0);
  } while (got < 0 && errno == EINTR);
  if (got < 0) return ErrnoStatus(errno, "waitpid", absl::StrCat("pid ", pid_));
  exit_ = FromWaitStatus(status);
  return *exit_;
}

bool ProcessExists(pid_t pid) {
  return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

std::string ProcessCommandLine(pid_t pid) {
  absl::StatusOr<std::string> text =
      ReadFileToString(absl::StrCat("/proc/", pid, "/cmdline"));
  if (!text.ok()) return "";
  std::string out = absl::StrReplaceAll(*text, {{std::string(1, '\0'), " "}});
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

}  // namespace cvt
