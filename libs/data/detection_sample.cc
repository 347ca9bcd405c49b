#include "libs/data/detection_sample.h"

#include <algorithm>

namespace cvt {
namespace {

void Order(BoxXyxy& box) {
  if (box[0] > box[2]) std::swap(box[0], box[2]);
  if (box[1] > box[3]) std::swap(box[1], box[3]);
}

}  // namespace

BoxXyxy ImageGeometry::ToInput(const BoxXyxy& original) const {
  BoxXyxy out = {
      scale_x * original[0] + offset_x, scale_y * original[1] + offset_y,
      scale_x * original[2] + offset_x, scale_y * original[3] + offset_y};
  Order(out);
  return out;
}

BoxXyxy ImageGeometry::ToOriginal(const BoxXyxy& input) const {
  BoxXyxy out = {
      (input[0] - offset_x) / scale_x, (input[1] - offset_y) / scale_y,
      (input[2] - offset_x) / scale_x, (input[3] - offset_y) / scale_y};
  Order(out);
  return out;
}

}  // namespace cvt
