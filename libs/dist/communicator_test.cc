// Real c10d: each test forks ranks that rendezvous on 127.0.0.1 through a
// TCPStore and talk over ProcessGroupGloo. A child reports through its exit
// code (0 = every check held), since gtest assertions do not cross fork().

#include "libs/dist/communicator.h"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>

#include "ATen/ATen.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/status_matchers.h"
#include "libs/dist/launcher.h"

namespace cvt {
namespace {

DistEnv Env(int rank, int world, int port) {
  DistEnv env;
  env.world_size = world;
  env.rank = rank;
  env.local_rank = rank;
  env.local_world_size = world;
  env.master_addr = "127.0.0.1";
  env.master_port = port;
  return env;
}

#define CHILD_CHECK(cond)                                                  \
  do {                                                                     \
    if (!(cond)) {                                                         \
      std::fprintf(stderr, "rank check failed at line %d: %s\n", __LINE__, \
                   #cond);                                                 \
      return 1;                                                            \
    }                                                                      \
  } while (0)

// Runs body(rank) in `world` forked processes; returns their exit codes.
std::vector<int> RunRanks(int world, const std::function<int(int)>& body) {
  std::vector<pid_t> pids;
  for (int r = 0; r < world; ++r) {
    pid_t pid = fork();
    if (pid == 0) {
      int code = 1;
      try {
        code = body(r);
      } catch (...) {
        code = 2;
      }
      std::fflush(stderr);
      _exit(code);
    }
    pids.push_back(pid);
  }
  std::vector<int> codes;
  for (pid_t pid : pids) {
    int status = 0;
    waitpid(pid, &status, 0);
    codes.push_back(WIFEXITED(status) ? WEXITSTATUS(status) : 128);
  }
  return codes;
}

TEST(CommunicatorTest, SingleProcessReturnsItsInputs) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Communicator> comm,
                       Communicator::Connect(DistEnv{}, {}));
  EXPECT_EQ(comm->world_size(), 1);
  EXPECT_TRUE(comm->is_root());
  at::Tensor t = at::arange(4, at::kFloat);
  ASSERT_THAT(comm->AllReduceMean({t}), IsOk());
  EXPECT_TRUE(t.equal(at::arange(4, at::kFloat)));
  ASSERT_OK_AND_ASSIGN(std::vector<double> sum, comm->Sum({1.5, 2}));
  EXPECT_EQ(sum, (std::vector<double>{1.5, 2}));
  ASSERT_THAT(comm->Barrier(), IsOk());
}

TEST(CommunicatorTest, CollectivesOverGlooWithThreeRanks) {
  const int port = FreeLoopbackPort();
  const int world = 3;
  std::vector<int> codes = RunRanks(world, [&](int rank) {
    CommunicatorOptions options;
    options.timeout = absl::Seconds(60);
    options.bucket_bytes = 40;  // several buckets for the 3 tensors below
    auto comm = Communicator::Connect(Env(rank, world, port), options);
    CHILD_CHECK(comm.ok());
    Communicator& c = **comm;
    CHILD_CHECK(c.rank() == rank && c.world_size() == world);

    // Broadcast: mixed dtypes and shapes take rank 0's values.
    at::Tensor a = at::full({2, 3}, rank + 1.0, at::kFloat);
    at::Tensor b = at::full({5}, rank * 10, at::kLong);
    at::Tensor d = at::full({20}, rank - 0.5, at::kDouble);
    CHILD_CHECK(c.Broadcast({a, b, d}).ok());
    CHILD_CHECK(a.equal(at::full({2, 3}, 1.0, at::kFloat)));
    CHILD_CHECK(b.equal(at::zeros({5}, at::kLong)));
    CHILD_CHECK(d.equal(at::full({20}, -0.5, at::kDouble)));

    // Mean over ranks of (rank, 2*rank, ...), bucketed.
    at::Tensor g1 = at::arange(6, at::kFloat).view({2, 3}) * rank;
    at::Tensor g2 = at::full({17}, static_cast<float>(rank), at::kFloat);
    CHILD_CHECK(c.AllReduceMean({g1, g2}).ok());
    CHILD_CHECK(g1.allclose(at::arange(6, at::kFloat).view({2, 3}) * 1.0));
    CHILD_CHECK(g2.allclose(at::full({17}, 1.0f, at::kFloat)));

    at::Tensor s = at::full({3}, static_cast<double>(rank + 1), at::kDouble);
    CHILD_CHECK(c.SumInPlace({s}).ok());
    CHILD_CHECK(s.equal(at::full({3}, 6.0, at::kDouble)));

    auto sum = c.Sum({1.0, static_cast<double>(rank), 0.25});
    CHILD_CHECK(sum.ok() && *sum == (std::vector<double>{3, 3, 0.75}));

    // Uneven rows: rank r contributes r rows of value r.
    at::Tensor rows =
        at::full({rank, 2}, static_cast<double>(rank), at::kDouble);
    auto all = c.AllGatherRows(rows);
    CHILD_CHECK(all.ok());
    CHILD_CHECK(all->size(0) == 3 && all->size(1) == 2);
    CHILD_CHECK((*all)[0][0].item<double>() == 1);
    CHILD_CHECK((*all)[1][0].item<double>() == 2);
    CHILD_CHECK((*all)[2][1].item<double>() == 2);
    CHILD_CHECK(c.Barrier().ok());
    return 0;
  });
  EXPECT_EQ(codes, (std::vector<int>{0, 0, 0}));
}

TEST(CommunicatorTest, APeerThatExitsFailsTheOthersQuickly) {
  const int port = FreeLoopbackPort();
  std::vector<int> codes = RunRanks(2, [&](int rank) {
    CommunicatorOptions options;
    options.timeout = absl::Seconds(60);
    auto comm = Communicator::Connect(Env(rank, 2, port), options);
    CHILD_CHECK(comm.ok());
    CHILD_CHECK((*comm)->Barrier().ok());
    if (rank == 1) _exit(0);  // dies without a word
    const auto start = std::chrono::steady_clock::now();
    absl::Status s = (*comm)->AllReduceMean({at::ones({1000}, at::kFloat)});
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    std::fprintf(stderr, "rank 0 saw after %.2f s: %s\n", seconds,
                 s.ToString().c_str());
    CHILD_CHECK(s.code() == absl::StatusCode::kUnavailable);
    CHILD_CHECK(s.message().find("failed on rank 0 of 2") != std::string::npos);
    CHILD_CHECK(seconds < 30);  // well inside the 60 s timeout
    return 0;
  });
  EXPECT_EQ(codes, (std::vector<int>{0, 0}));
}

TEST(CommunicatorTest, AMissingPeerTimesOutTheRendezvous) {
  const int port = FreeLoopbackPort();
  std::vector<int> codes = RunRanks(1, [&](int) {
    CommunicatorOptions options;
    options.timeout = absl::Seconds(2);
    const auto start = std::chrono::steady_clock::now();
    auto comm = Communicator::Connect(Env(0, 2, port), options);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    CHILD_CHECK(!comm.ok());
    CHILD_CHECK(comm.status().code() == absl::StatusCode::kUnavailable);
    CHILD_CHECK(comm.status().message().find("rendezvous") !=
                std::string::npos);
    CHILD_CHECK(seconds < 20);
    return 0;
  });
  EXPECT_EQ(codes, (std::vector<int>{0}));
}

}  // namespace
}  // namespace cvt
