#include "libs/dist/launcher.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "libs/base/subprocess.h"

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
  auto restore = [&] {
    sigaction(SIGTERM, &old_term, nullptr);
    sigaction(SIGINT, &old_int, nullptr);
  };

  // Each worker gets its own process group (a terminal's Ctrl-C reaches the
  // launcher, which forwards it) and SIGTERM if the launcher dies, so even
  // a SIGKILLed launcher leaves workers that save and stop together.
  std::vector<std::unique_ptr<Subprocess>> workers;
  for (int rank = 0; rank < options.nproc; ++rank) {
    SubprocessOptions worker;
    worker.argv = options.argv;
    worker.env = {{"WORLD_SIZE", absl::StrCat(options.nproc)},
                  {"RANK", absl::StrCat(rank)},
                  {"LOCAL_RANK", absl::StrCat(rank)},
                  {"LOCAL_WORLD_SIZE", absl::StrCat(options.nproc)},
                  {"GROUP_RANK", "0"},
                  {"NODE_RANK", "0"},
                  {"MASTER_ADDR", options.master_addr},
                  {"MASTER_PORT", absl::StrCat(port)}};
    if (options.nproc > 1 && std::getenv("OMP_NUM_THREADS") == nullptr) {
      worker.env.emplace_back("OMP_NUM_THREADS", "1");
    }
    absl::StatusOr<std::unique_ptr<Subprocess>> started =
        Subprocess::Start(worker);
    if (!started.ok()) {
      for (auto& w : workers) w->Signal(SIGKILL).IgnoreError();
      for (auto& w : workers) w->Wait().IgnoreError();
      restore();
      return started.status();
    }
    workers.push_back(std::move(*started));
  }
  std::fprintf(stderr,
               "launcher: started %d workers (MASTER_ADDR %s, MASTER_PORT "
               "%d)\n",
               options.nproc, options.master_addr.c_str(), port);

  int result = 0;
  bool failed = false;
  bool forwarded = false;
  std::chrono::steady_clock::time_point kill_at{};
  std::vector<bool> done(workers.size(), false);
  size_t running = workers.size();
  auto signal_running = [&](int sig) {
    for (size_t i = 0; i < workers.size(); ++i) {
      if (!done[i]) workers[i]->Signal(sig).IgnoreError();
    }
  };
  while (running > 0) {
    const int sig = g_forward_signal.load();
    if (sig != 0 && !forwarded) {
      forwarded = true;
      signal_running(sig);
    }
    for (size_t i = 0; i < workers.size(); ++i) {
      if (done[i]) continue;
      absl::StatusOr<std::optional<ExitStatus>> exit = workers[i]->Poll();
      if (!exit.ok() || !exit->has_value()) continue;
      done[i] = true;
      --running;
      const int code =
          (*exit)->signal != 0 ? 128 + (*exit)->signal : (*exit)->code;
      if (code == 0 || failed) continue;
      failed = true;
      result = code;
      if (running > 0) {
        std::fprintf(stderr,
                     "launcher: rank %zu ended (%s); stopping the other %zu "
                     "worker(s)\n",
                     i, (*exit)->ToString().c_str(), running);
      }
      signal_running(SIGTERM);
      kill_at = std::chrono::steady_clock::now() +
                std::chrono::seconds(options.grace_s);
    }
    if (failed && running > 0 && std::chrono::steady_clock::now() > kill_at) {
      signal_running(SIGKILL);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  restore();
  return result;
}

}  // namespace cvt
