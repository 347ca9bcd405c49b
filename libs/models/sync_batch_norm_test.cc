#include "libs/models/sync_batch_norm.h"

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "ATen/ATen.h"
#include "gtest/gtest.h"

namespace cvt {
namespace {

// An in-process stand-in for the ranks' all-reduce: `ranks` threads each
// call Sum; every call returns the element-wise total of all of them.
class ThreadRanks {
 public:
  explicit ThreadRanks(int ranks) : ranks_(ranks) {}

  void Sum(std::vector<at::Tensor>& tensors) {
    std::unique_lock<std::mutex> lock(mu_);
    const int64_t round = round_;
    if (arrived_ == 0) {
      total_.clear();
      for (const at::Tensor& t : tensors) total_.push_back(t.clone());
    } else {
      for (size_t i = 0; i < tensors.size(); ++i) total_[i] += tensors[i];
    }
    if (++arrived_ == ranks_) {
      result_ = total_;
      arrived_ = 0;
      ++round_;
      cv_.notify_all();
    } else {
      cv_.wait(lock, [&] { return round_ != round; });
    }
    for (size_t i = 0; i < tensors.size(); ++i) tensors[i] = result_[i].clone();
  }

 private:
  const int ranks_;
  std::mutex mu_;
  std::condition_variable cv_;
  int arrived_ = 0;
  int64_t round_ = 0;
  std::vector<at::Tensor> total_, result_;
};

struct Result {
  at::Tensor y, dx, dw, db, running_mean, running_var;
};

// Plain batch norm over the whole batch, with loss sum(y * c).
Result Reference(const at::Tensor& x, const at::Tensor& c) {
  at::Tensor xv = x.clone().requires_grad_(true);
  at::Tensor w = at::linspace(0.5, 1.5, x.size(1)).requires_grad_(true);
  at::Tensor b = at::linspace(-0.2, 0.2, x.size(1)).requires_grad_(true);
  at::Tensor rm = at::zeros({x.size(1)}), rv = at::ones({x.size(1)});
  at::Tensor y = at::batch_norm(xv, w, b, rm, rv, true, 0.1, 1e-3, false);
  (y * c).sum().backward();
  return {y.detach(), xv.grad(), w.grad(), b.grad(), rm, rv};
}

TEST(SyncBatchNormTest, OneRankIsBatchNorm) {
  at::manual_seed(1);
  at::Tensor x = at::randn({4, 3, 5, 6}) * 2 + 1;
  at::Tensor c = at::randn({4, 3, 5, 6});
  Result ref = Reference(x, c);
  at::Tensor xv = x.clone().requires_grad_(true);
  at::Tensor w = at::linspace(0.5, 1.5, 3).requires_grad_(true);
  at::Tensor b = at::linspace(-0.2, 0.2, 3).requires_grad_(true);
  at::Tensor rm = at::zeros({3}), rv = at::ones({3});
  SumTensorsOverRanks identity = [](std::vector<at::Tensor>&) {};
  at::Tensor y = SyncBatchNorm(xv, w, b, rm, rv, 0.1, 1e-3, identity);
  (y * c).sum().backward();
  EXPECT_TRUE(y.allclose(ref.y, 1e-5, 1e-5));
  EXPECT_TRUE(xv.grad().allclose(ref.dx, 1e-5, 1e-5));
  EXPECT_TRUE(w.grad().allclose(ref.dw, 1e-5, 1e-5));
  EXPECT_TRUE(b.grad().allclose(ref.db, 1e-5, 1e-5));
  EXPECT_TRUE(rm.allclose(ref.running_mean, 1e-6, 1e-6));
  EXPECT_TRUE(rv.allclose(ref.running_var, 1e-6, 1e-6));
}

TEST(SyncBatchNormTest, ThreeRanksComputeTheWholeBatch) {
  at::manual_seed(2);
  const int ranks = 3;
  at::Tensor x = at::randn({6, 4, 3, 5}) * 3 - 2;
  at::Tensor c = at::randn({6, 4, 3, 5});
  Result ref = Reference(x, c);
  ThreadRanks group(ranks);
  std::vector<Result> parts(ranks);
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r) {
    threads.emplace_back([&, r] {
      at::Tensor xv = x.narrow(0, 2 * r, 2).clone().requires_grad_(true);
      at::Tensor w = at::linspace(0.5, 1.5, 4).requires_grad_(true);
      at::Tensor b = at::linspace(-0.2, 0.2, 4).requires_grad_(true);
      at::Tensor rm = at::zeros({4}), rv = at::ones({4});
      SumTensorsOverRanks sum = [&](std::vector<at::Tensor>& t) {
        group.Sum(t);
      };
      at::Tensor y = SyncBatchNorm(xv, w, b, rm, rv, 0.1, 1e-3, sum);
      (y * c.narrow(0, 2 * r, 2)).sum().backward();
      parts[r] = {y.detach(), xv.grad(), w.grad(), b.grad(), rm, rv};
    });
  }
  for (std::thread& t : threads) t.join();
  std::vector<at::Tensor> ys, dxs;
  at::Tensor dw = at::zeros({4}), db = at::zeros({4});
  for (const Result& p : parts) {
    ys.push_back(p.y);
    dxs.push_back(p.dx);
    dw += p.dw;  // each rank's parameter gradient is its own share
    db += p.db;
    // Every rank updates its running statistics with the global ones.
    EXPECT_TRUE(p.running_mean.allclose(ref.running_mean, 1e-6, 1e-6));
    EXPECT_TRUE(p.running_var.allclose(ref.running_var, 1e-5, 1e-6));
  }
  EXPECT_TRUE(at::cat(ys).allclose(ref.y, 1e-5, 1e-5));
  EXPECT_TRUE(at::cat(dxs).allclose(ref.dx, 1e-5, 1e-5));
  EXPECT_TRUE(dw.allclose(ref.dw, 1e-4, 1e-5));
  EXPECT_TRUE(db.allclose(ref.db, 1e-4, 1e-5));
}

}  // namespace
}  // namespace cvt
