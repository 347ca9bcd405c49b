#include "libs/dist/launcher.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace cvt {
namespace {

std::atomic<int> g_forward_signal{0};
void OnSignal(int signal) { g_forward_signal.store(signal); }

}  // namespace

int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 29500;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  int port = 29500;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

namespace {

int ExitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace

std::vector<std::string> DropFlag(const std::vector<std::string>& args,
                                  const std::string& name) {
  std::vector<std::string> out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--" + name || a == "-" + name) {
      ++i;  // its value follows
      continue;
    }
    if (absl::StartsWith(a, "--" + name + "=") ||
        absl::StartsWith(a, "-" + name + "=")) {
      continue;
    }
    out.push_back(a);
  }
  return out;
}

absl::StatusOr<int> LaunchLocalWorkers(const LaunchOptions& options) {
  if (options.nproc < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--nproc_per_node must be at least 1, not ", options.nproc));
  }
  if (options.argv.empty()) {
    return absl::InvalidArgumentError("the launcher needs a command");
  }
  const int port =
      options.master_port > 0 ? options.master_port : FreeLoopbackPort();
  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  struct sigaction old_term {
  }, old_int{};
  sigaction(SIGTERM, &action, &old_term);
  sigaction(SIGINT, &action, &old_int);

  std::vector<pid_t> pids;
  std::vector<char*> argv;
  for (const std::string& a : options.argv) {
    argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);
  fflush(stdout);
  fflush(stderr);
  for (int rank = 0; rank < options.nproc; ++rank) {
    const pid_t pid = fork();
    if (pid < 0) {
      for (pid_t p : pids) kill(p, SIGKILL);
      return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
    }
    if (pid == 0) {
      sigaction(SIGTERM, &old_term, nullptr);
      sigaction(SIGINT, &old_int, nullptr);
      setenv("WORLD_SIZE", absl::StrCat(options.nproc).c_str(), 1);
      setenv("RANK", absl::StrCat(rank).c_str(), 1);
      setenv("LOCAL_RANK", absl::StrCat(rank).c_str(), 1);
      setenv("LOCAL_WORLD_SIZE", absl::StrCat(options.nproc).c_str(), 1);
      setenv("GROUP_RANK", "0", 1);
      setenv("NODE_RANK", "0", 1);
      setenv("MASTER_ADDR", options.master_addr.c_str(), 1);
      setenv("MASTER_PORT", absl::StrCat(port).c_str(), 1);
      if (options.nproc > 1) setenv("OMP_NUM_THREADS", "1", 0);
      execv(argv[0], argv.data());
      std::fprintf(stderr, "launcher: cannot run %s: %s\n", argv[0],
                   std::strerror(errno));
      _exit(127);
    }
    pids.push_back(pid);
  }
  std::fprintf(stderr,
               "launcher: started %d workers (MASTER_ADDR %s, MASTER_PORT "
               "%d)\n",
               options.nproc, options.master_addr.c_str(), port);

  int result = 0;
  bool failed = false;
  bool forwarded = false;
  std::chrono::steady_clock::time_point kill_at{};
  size_t running = pids.size();
  std::vector<bool> done(pids.size(), false);
  while (running > 0) {
    const int sig = g_forward_signal.load();
    if (sig != 0 && !forwarded) {
      forwarded = true;
      for (size_t i = 0; i < pids.size(); ++i) {
        if (!done[i]) kill(pids[i], sig);
      }
    }
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      for (size_t i = 0; i < pids.size(); ++i) {
        if (pids[i] != pid || done[i]) continue;
        done[i] = true;
        --running;
        const int code = ExitCodeOf(status);
        if (code != 0 && !failed) {
          failed = true;
          result = code;
          if (running > 0) {
            std::fprintf(stderr,
                         "launcher: rank %zu exited with %d; stopping the "
                         "other %zu worker(s)\n",
                         i, code, running);
          }
          for (size_t j = 0; j < pids.size(); ++j) {
            if (!done[j]) kill(pids[j], SIGTERM);
          }
          kill_at = std::chrono::steady_clock::now() +
                    std::chrono::seconds(options.grace_s);
        }
      }
      continue;
    }
    if (pid < 0 && errno != EINTR) break;
    if (failed && std::chrono::steady_clock::now() > kill_at) {
      for (size_t j = 0; j < pids.size(); ++j) {
        if (!done[j]) kill(pids[j], SIGKILL);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  sigaction(SIGTERM, &old_term, nullptr);
  sigaction(SIGINT, &old_int, nullptr);
  return result;
}

}  // namespace cvt
