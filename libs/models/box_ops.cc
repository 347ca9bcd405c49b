#include "libs/models/box_ops.h"

#include "ATen/ATen.h"

namespace cvt {
namespace {

// Intersection and union areas of every pair.
std::pair<at::Tensor, at::Tensor> InterUnion(const at::Tensor& a,
                                             const at::Tensor& b) {
  at::Tensor area_a =
      (a.select(1, 2) - a.select(1, 0)) * (a.select(1, 3) - a.select(1, 1));
  at::Tensor area_b =
      (b.select(1, 2) - b.select(1, 0)) * (b.select(1, 3) - b.select(1, 1));
  at::Tensor lt = at::max(a.slice(1, 0, 2).unsqueeze(1), b.slice(1, 0, 2));
  at::Tensor rb = at::min(a.slice(1, 2, 4).unsqueeze(1), b.slice(1, 2, 4));
  at::Tensor wh = (rb - lt).clamp_min(0);
  at::Tensor inter = wh.select(2, 0) * wh.select(2, 1);
  at::Tensor uni = area_a.unsqueeze(1) + area_b - inter;
  return {inter, uni};
}

}  // namespace

at::Tensor CxcywhToXyxy(const at::Tensor& boxes) {
  at::Tensor c = boxes.slice(1, 0, 2), wh = boxes.slice(1, 2, 4);
  return at::cat({c - 0.5 * wh, c + 0.5 * wh}, 1);
}

at::Tensor XyxyToCxcywh(const at::Tensor& boxes) {
  at::Tensor p1 = boxes.slice(1, 0, 2), p2 = boxes.slice(1, 2, 4);
  return at::cat({(p1 + p2) / 2, p2 - p1}, 1);
}

at::Tensor BoxIou(const at::Tensor& a, const at::Tensor& b) {
  auto [inter, uni] = InterUnion(a, b);
  return at::where(uni > 0, inter / uni, at::zeros_like(inter));
}

at::Tensor GeneralizedBoxIou(const at::Tensor& a, const at::Tensor& b) {
  auto [inter, uni] = InterUnion(a, b);
  at::Tensor iou = inter / uni;
  at::Tensor lt = at::min(a.slice(1, 0, 2).unsqueeze(1), b.slice(1, 0, 2));
  at::Tensor rb = at::max(a.slice(1, 2, 4).unsqueeze(1), b.slice(1, 2, 4));
  at::Tensor wh = (rb - lt).clamp_min(0);
  at::Tensor hull = wh.select(2, 0) * wh.select(2, 1);
  return iou - (hull - uni) / hull;
}

}  // namespace cvt
