#include "libs/dist/communicator.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <string>
#include <utility>

#include "ATen/ATen.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "libs/base/status_macros.h"
#include "torch/csrc/distributed/c10d/ProcessGroupGloo.hpp"
#include "torch/csrc/distributed/c10d/TCPStore.hpp"

namespace cvt {
namespace {

class LocalCommunicator : public Communicator {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  absl::Status Broadcast(const std::vector<at::Tensor>&) override {
    return absl::OkStatus();
  }
  absl::Status AllReduceMean(const std::vector<at::Tensor>&) override {
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<double>> Sum(
      const std::vector<double>& values) override {
    return values;
  }
  absl::Status SumInPlace(const std::vector<at::Tensor>&) override {
    return absl::OkStatus();
  }
  absl::StatusOr<at::Tensor> AllGatherRows(const at::Tensor& rows) override {
    return rows;
  }
  absl::Status Barrier() override { return absl::OkStatus(); }
};

// Bucket boundaries: consecutive runs of one dtype with at most `bytes`
// bytes (a larger tensor alone).
std::vector<std::pair<size_t, size_t>> Buckets(
    const std::vector<at::Tensor>& tensors, int64_t bytes) {
  std::vector<std::pair<size_t, size_t>> out;
  size_t begin = 0;
  int64_t size = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const int64_t b = tensors[i].numel() * tensors[i].element_size();
    if (i > begin && (size + b > bytes || tensors[i].scalar_type() !=
                                              tensors[begin].scalar_type())) {
      out.emplace_back(begin, i);
      begin = i;
      size = 0;
    }
    size += b;
  }
  if (begin < tensors.size()) out.emplace_back(begin, tensors.size());
  return out;
}

at::Tensor Flatten(const std::vector<at::Tensor>& tensors, size_t begin,
                   size_t end) {
  std::vector<at::Tensor> flat;
  for (size_t i = begin; i < end; ++i) flat.push_back(tensors[i].reshape(-1));
  return at::cat(flat);
}

void Unflatten(const at::Tensor& flat, const std::vector<at::Tensor>& tensors,
               size_t begin, size_t end) {
  int64_t offset = 0;
  for (size_t i = begin; i < end; ++i) {
    const int64_t n = tensors[i].numel();
    tensors[i].copy_(flat.narrow(0, offset, n).view(tensors[i].sizes()));
    offset += n;
  }
}

std::shared_ptr<::gloo::transport::Device> MakeDevice(const DistEnv& env) {
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME")) {
    return ::c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  }
  if (env.master_addr == "localhost" ||
      absl::StartsWith(env.master_addr, "127.")) {
    return ::c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  }
  return ::c10d::ProcessGroupGloo::createDefaultDevice();
}

class GlooCommunicator : public Communicator {
 public:
  GlooCommunicator(const DistEnv& env, const CommunicatorOptions& options)
      : env_(env), options_(options) {}

  absl::Status Init() {
    const auto timeout =
        std::chrono::milliseconds(absl::ToInt64Milliseconds(options_.timeout));
    return Guard("rendezvous", [&] {
      ::c10d::TCPStoreOptions store_options;
      store_options.port = static_cast<uint16_t>(env_.master_port);
      store_options.isServer = env_.rank == 0;
      store_options.numWorkers = env_.world_size;
      store_options.waitWorkers = true;
      store_options.timeout = timeout;
      store_ = c10::make_intrusive<::c10d::TCPStore>(env_.master_addr,
                                                     store_options);
      auto gloo = ::c10d::ProcessGroupGloo::Options::create(timeout);
      gloo->devices.push_back(MakeDevice(env_));
      group_ = c10::make_intrusive<::c10d::ProcessGroupGloo>(
          store_, env_.rank, env_.world_size, gloo);
    });
  }

  int rank() const override { return env_.rank; }
  int world_size() const override { return env_.world_size; }

  absl::Status Broadcast(const std::vector<at::Tensor>& tensors) override {
    return Guard("broadcast", [&] {
      for (auto [begin, end] : Buckets(tensors, options_.bucket_bytes)) {
        std::vector<at::Tensor> flat = {Flatten(tensors, begin, end)};
        ::c10d::BroadcastOptions opts;
        opts.rootRank = 0;
        group_->broadcast(flat, opts)->wait();
        Unflatten(flat[0], tensors, begin, end);
      }
    });
  }

  absl::Status AllReduceMean(const std::vector<at::Tensor>& tensors) override {
    return Guard("all-reduce", [&] {
      for (auto [begin, end] : Buckets(tensors, options_.bucket_bytes)) {
        std::vector<at::Tensor> flat = {Flatten(tensors, begin, end)};
        group_->allreduce(flat)->wait();
        flat[0].div_(env_.world_size);
        Unflatten(flat[0], tensors, begin, end);
      }
    });
  }

  absl::Status SumInPlace(const std::vector<at::Tensor>& tensors) override {
    return Guard("all-reduce", [&] {
      for (const at::Tensor& t : tensors) {
        std::vector<at::Tensor> one = {t};
        group_->allreduce(one)->wait();
      }
    });
  }

  absl::StatusOr<std::vector<double>> Sum(
      const std::vector<double>& values) override {
    if (values.empty()) return values;
    at::Tensor t = at::tensor(values, at::TensorOptions().dtype(at::kDouble));
    CVT_RETURN_IF_ERROR(SumInPlace({t}));
    const double* data = t.data_ptr<double>();
    return std::vector<double>(data, data + values.size());
  }

  absl::StatusOr<at::Tensor> AllGatherRows(const at::Tensor& rows) override {
    at::Tensor out;
    CVT_RETURN_IF_ERROR(Guard("all-gather", [&] {
      at::Tensor local = rows.contiguous();
      const int64_t w = env_.world_size;
      std::vector<at::Tensor> count = {at::tensor({local.size(0)}, at::kLong)};
      std::vector<std::vector<at::Tensor>> counts(1);
      for (int64_t r = 0; r < w; ++r)
        counts[0].push_back(at::empty({1}, at::kLong));
      group_->allgather(counts, count)->wait();
      int64_t most = 0;
      for (const at::Tensor& c : counts[0])
        most = std::max(most, c.item<int64_t>());
      std::vector<int64_t> shape = local.sizes().vec();
      shape[0] = most;
      std::vector<at::Tensor> padded = {at::zeros(shape, local.options())};
      padded[0].narrow(0, 0, local.size(0)).copy_(local);
      std::vector<std::vector<at::Tensor>> gathered(1);
      for (int64_t r = 0; r < w; ++r) {
        gathered[0].push_back(at::empty(shape, local.options()));
      }
      group_->allgather(gathered, padded)->wait();
      std::vector<at::Tensor> parts;
      for (int64_t r = 0; r < w; ++r) {
        parts.push_back(
            gathered[0][r].narrow(0, 0, counts[0][r].item<int64_t>()));
      }
      out = at::cat(parts);
    }));
    return out;
  }

  absl::Status Barrier() override {
    return Guard("barrier", [&] { group_->barrier()->wait(); });
  }

 private:
  template <typename Fn>
  absl::Status Guard(const char* what, Fn&& fn) {
    try {
      fn();
      return absl::OkStatus();
    } catch (const std::exception& e) {
      std::string message = e.what();
      // c10::Error appends a C++ backtrace; the first line says it all.
      const size_t newline = message.find('\n');
      if (newline != std::string::npos) message.resize(newline);
      return absl::UnavailableError(
          absl::StrCat("distributed ", what, " failed on rank ", env_.rank,
                       " of ", env_.world_size, " (MASTER_ADDR ",
                       env_.master_addr, ":", env_.master_port, "; timeout ",
                       absl::FormatDuration(options_.timeout), "): ", message,
                       " -- another rank probably exited; see its log"));
    }
  }

  DistEnv env_;
  CommunicatorOptions options_;
  c10::intrusive_ptr<::c10d::Store> store_;
  c10::intrusive_ptr<::c10d::ProcessGroupGloo> group_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Communicator>> Communicator::Connect(
    const DistEnv& env, const CommunicatorOptions& options) {
  if (!env.distributed()) return std::make_unique<LocalCommunicator>();
  auto comm = std::make_unique<GlooCommunicator>(env, options);
  CVT_RETURN_IF_ERROR(comm->Init());
  return std::unique_ptr<Communicator>(std::move(comm));
}

}  // namespace cvt
