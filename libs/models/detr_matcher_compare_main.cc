// Checks DetrMatchingCost, GeneralizedBoxIou and MatchDetrQueries against the
// Python reference written by detr_matcher_gen.py. Exits 1 on a mismatch.
// Usage: detr_matcher_compare_main FILE

#include <cmath>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "ATen/ATen.h"
#include "libs/models/box_ops.h"
#include "libs/models/detr_matcher.h"
#include "libs/models/state_dict.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  auto data = cvt::ReadTorchSaveDict(argv[1]);
  if (!data.ok()) {
    std::cerr << data.status() << "\n";
    return 1;
  }
  auto get = [&](int i, const char* name) {
    return data->at(std::to_string(i) + "_" + name);
  };
  int64_t cases = data->at("cases").item<int64_t>();
  int failures = 0;
  double worst_cost = 0, worst_giou = 0;
  for (int i = 0; i < cases; ++i) {
    at::Tensor logits = get(i, "logits"), boxes = get(i, "boxes"),
               labels = get(i, "labels"), gt = get(i, "gt");
    at::Tensor cost = cvt::DetrMatchingCost(logits, boxes, labels, gt, {});
    at::Tensor giou =
        cvt::GeneralizedBoxIou(cvt::CxcywhToXyxy(boxes), cvt::CxcywhToXyxy(gt));
    if (gt.size(0) > 0) {
      worst_cost = std::max(worst_cost,
                            (cost - get(i, "cost")).abs().max().item<double>());
      worst_giou = std::max(worst_giou,
                            (giou - get(i, "giou")).abs().max().item<double>());
    }
    auto pairs = cvt::MatchDetrQueries(logits, boxes, labels, gt, {});
    if (!pairs.ok()) {
      std::cerr << "case " << i << ": " << pairs.status() << "\n";
      ++failures;
      continue;
    }
    double total = 0;
    std::set<int64_t> queries, objects;
    for (const auto& [q, t] : *pairs) {
      total += get(i, "cost")[q][t].item<double>();
      queries.insert(q);
      objects.insert(t);
    }
    double best = get(i, "best").item<double>();
    if (static_cast<int64_t>(objects.size()) != gt.size(0) ||
        queries.size() != objects.size() || std::abs(total - best) > 1e-9) {
      std::cerr.precision(17);
      std::cerr << "case " << i << ": total " << total << ", best " << best
                << ", " << objects.size() << " of " << gt.size(0)
                << " objects matched to " << queries.size() << " queries\n";
      ++failures;
    }
  }
  std::cout << cases << " cases: max |cost diff| " << worst_cost
            << ", max |giou diff| " << worst_giou << ", " << failures
            << " matching failure(s)\n";
  return failures == 0 && worst_cost <= 1e-9 && worst_giou <= 1e-9 ? 0 : 1;
}
