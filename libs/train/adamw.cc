#include "libs/train/adamw.h"

#include <cmath>

#include "ATen/ATen.h"
#include "absl/strings/str_cat.h"

namespace cvt {

AdamW::AdamW(std::vector<AdamWGroup> groups, const AdamWOptions& options)
    : groups_(std::move(groups)), options_(options) {
  for (const AdamWGroup& g : groups_) state_.emplace_back(g.params.size());
}

void AdamW::ZeroGrad() {
  for (AdamWGroup& g : groups_) {
    for (at::Tensor& p : g.params) {
      if (p.grad().defined()) p.mutable_grad() = at::Tensor();
    }
  }
}

void AdamW::Step() {
  at::NoGradGuard no_grad;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    AdamWGroup& g = groups_[gi];
    for (size_t pi = 0; pi < g.params.size(); ++pi) {
      at::Tensor& p = g.params[pi];
      if (!p.grad().defined()) continue;
      const at::Tensor grad = p.grad();
      ParamState& s = state_[gi][pi];
      if (!s.exp_avg.defined()) {
        s.exp_avg = at::zeros_like(p, at::MemoryFormat::Preserve);
        s.exp_avg_sq = at::zeros_like(p, at::MemoryFormat::Preserve);
      }
      s.step += 1;
      p.mul_(1 - g.lr * g.weight_decay);
      s.exp_avg.mul_(options_.beta1).add_(grad, 1 - options_.beta1);
      s.exp_avg_sq.mul_(options_.beta2)
          .addcmul_(grad, grad, 1 - options_.beta2);
      const double bc1 = 1 - std::pow(options_.beta1, s.step);
      const double bc2 = 1 - std::pow(options_.beta2, s.step);
      const double step_size = g.lr / bc1;
      at::Tensor denom =
          (s.exp_avg_sq.sqrt() / std::sqrt(bc2)).add_(options_.eps);
      p.addcdiv_(s.exp_avg, denom, -step_size);
    }
  }
}

std::vector<at::Tensor> AdamW::AllParameters() const {
  std::vector<at::Tensor> out;
  for (const AdamWGroup& g : groups_) {
    out.insert(out.end(), g.params.begin(), g.params.end());
  }
  return out;
}

std::map<std::string, at::Tensor> AdamW::State() const {
  std::map<std::string, at::Tensor> out;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    for (size_t pi = 0; pi < groups_[gi].params.size(); ++pi) {
      const ParamState& s = state_[gi][pi];
      if (s.step == 0) continue;
      const std::string& name = groups_[gi].names[pi];
      out[name + ".exp_avg"] = s.exp_avg;
      out[name + ".exp_avg_sq"] = s.exp_avg_sq;
      out[name + ".step"] = at::scalar_tensor(s.step, at::kLong);
    }
  }
  return out;
}

absl::Status AdamW::LoadState(const std::map<std::string, at::Tensor>& state) {
  std::map<std::string, std::pair<size_t, size_t>> index;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    for (size_t pi = 0; pi < groups_[gi].params.size(); ++pi) {
      index[groups_[gi].names[pi]] = {gi, pi};
    }
  }
  for (const auto& [key, tensor] : state) {
    const size_t dot = key.rfind('.');
    const std::string name = key.substr(0, dot);
    const std::string field =
        dot == std::string::npos ? "" : key.substr(dot + 1);
    auto it = index.find(name);
    if (it == index.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("optimizer state for unknown parameter '", name, "'"));
    }
    const at::Tensor& p = groups_[it->second.first].params[it->second.second];
    ParamState& s = state_[it->second.first][it->second.second];
    if (field == "step") {
      s.step = tensor.item<int64_t>();
    } else if (field == "exp_avg" || field == "exp_avg_sq") {
      if (!tensor.sizes().equals(p.sizes())) {
        return absl::InvalidArgumentError(
            absl::StrCat("optimizer state '", key, "' has the wrong shape"));
      }
      (field == "exp_avg" ? s.exp_avg : s.exp_avg_sq) =
          tensor.to(p.dtype()).clone();
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown optimizer state '", key, "'"));
    }
  }
  return absl::OkStatus();
}

double ClipGradNorm(const std::vector<at::Tensor>& params, double max_norm) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> norms;
  for (const at::Tensor& p : params) {
    if (p.grad().defined()) norms.push_back(p.grad().norm(2).to(at::kDouble));
  }
  if (norms.empty()) return 0;
  const double total = at::stack(norms).norm(2).item<double>();
  if (max_norm > 0 && std::isfinite(total) && total > max_norm) {
    const double scale = max_norm / (total + 1e-6);
    for (const at::Tensor& p : params) {
      if (p.grad().defined()) p.grad().mul_(scale);
    }
  }
  return total;
}

}  // namespace cvt
