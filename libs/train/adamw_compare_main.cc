// Checks libs/train/adamw.h against torch.optim.AdamW and clip_grad_norm_
// (trajectories written by adamw_gen.py), and that State()/LoadState()
// continue a run exactly. Exits 1 on a mismatch.

#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include "ATen/ATen.h"
#include "absl/strings/str_cat.h"
#include "libs/models/state_dict.h"
#include "libs/train/adamw.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  auto ref = cvt::ReadTorchSaveDict(std::string(argv[1]) + "/adamw.pth");
  if (!ref.ok()) {
    std::cerr << ref.status() << "\n";
    return 1;
  }
  auto make = [&]() {
    std::vector<at::Tensor> p = {(*ref)["p0"].clone().set_requires_grad(true),
                                 (*ref)["p1"].clone().set_requires_grad(true)};
    cvt::AdamWGroup g;
    g.params = p;
    g.names = {"a", "b"};
    g.lr = g.initial_lr = 1e-2;
    g.weight_decay = 0.1;
    return g;
  };
  cvt::AdamW opt({make()}, {0.9, 0.999, 1e-8});
  int failures = 0;
  double worst = 0;
  std::map<std::string, at::Tensor> mid_state;
  std::vector<at::Tensor> mid_params;
  for (int step = 0; step < 6; ++step) {
    auto& params = opt.groups()[0].params;
    for (int i = 0; i < 2; ++i) {
      params[i].mutable_grad() =
          (*ref)[absl::StrCat("g", step, "_", i)].clone();
    }
    const double norm = cvt::ClipGradNorm(params, 0.5);
    const double want = (*ref)[absl::StrCat("norm", step)].item<double>();
    if (std::abs(norm - want) > 1e-5 * want) {
      std::cout << "FAIL: step " << step << " norm " << norm << " vs " << want
                << "\n";
      ++failures;
    }
    opt.Step();
    for (int i = 0; i < 2; ++i) {
      const double d =
          (params[i] - (*ref)[absl::StrCat("expected", step, "_", i)])
              .abs()
              .max()
              .item<double>();
      worst = std::max(worst, d);
    }
    if (step == 2) {
      for (auto& [k, v] : opt.State()) mid_state[k] = v.clone();
      for (auto& p : params) mid_params.push_back(p.detach().clone());
    }
  }
  std::cout << "max |C++ - torch| over 6 steps: " << worst << "\n";
  if (worst > 1e-6) ++failures;
  // Resume from the state after step 2: steps 3..5 must match exactly.
  cvt::AdamWGroup g = make();
  for (int i = 0; i < 2; ++i) {
    g.params[i] = mid_params[i].clone().set_requires_grad(true);
  }
  cvt::AdamW resumed({g}, {0.9, 0.999, 1e-8});
  if (!resumed.LoadState(mid_state).ok()) ++failures;
  for (int step = 3; step < 6; ++step) {
    auto& params = resumed.groups()[0].params;
    for (int i = 0; i < 2; ++i) {
      params[i].mutable_grad() =
          (*ref)[absl::StrCat("g", step, "_", i)].clone();
    }
    cvt::ClipGradNorm(params, 0.5);
    resumed.Step();
  }
  for (int i = 0; i < 2; ++i) {
    if (!at::equal(resumed.groups()[0].params[i], opt.groups()[0].params[i])) {
      std::cout << "FAIL: resumed parameter " << i << " differs\n";
      ++failures;
    }
  }
  std::cout << (failures == 0 ? "ok" : "FAIL") << "\n";
  return failures == 0 ? 0 : 1;
}
