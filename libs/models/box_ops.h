// -----------------------------------------------------------------------------
// File: box_ops.h
// -----------------------------------------------------------------------------
//
// Box arithmetic on tensors for the detectors and their losses. Boxes are
// float tensors of shape [N, 4] in one of two conventions:
//   cxcywh: centre x, centre y, width, height (DETR's predictions and
//           targets, normalised to [0, 1] by the padded image size);
//   xyxy:   x1, y1, x2, y2 (for IoU and GIoU).
//
// Example:
//
//   at::Tensor giou = GeneralizedBoxIou(CxcywhToXyxy(pred), CxcywhToXyxy(gt));

#ifndef LIBS_MODELS_BOX_OPS_H_
#define LIBS_MODELS_BOX_OPS_H_

#include "ATen/core/Tensor.h"

namespace cvt {

at::Tensor CxcywhToXyxy(const at::Tensor& boxes);
at::Tensor XyxyToCxcywh(const at::Tensor& boxes);

// Pairwise IoU of xyxy boxes: [N, M]. Empty boxes give 0 (not NaN).
at::Tensor BoxIou(const at::Tensor& a, const at::Tensor& b);

// Pairwise generalized IoU (Rezatofighi et al. 2019) of xyxy boxes: [N, M],
// in [-1, 1], the same values as torchvision.ops.generalized_box_iou.
at::Tensor GeneralizedBoxIou(const at::Tensor& a, const at::Tensor& b);

}  // namespace cvt

#endif  // LIBS_MODELS_BOX_OPS_H_
