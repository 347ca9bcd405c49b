// -----------------------------------------------------------------------------
// File: yolo.h
// -----------------------------------------------------------------------------
//
// A small anchor-free dense detector of the YOLOv8 kind (Ultralytics' design
// as published: Conv-BN-SiLU, C2f stages, SPPF, PAN-FPN, decoupled heads,
// distances with distribution focal loss), written from the published
// architecture. Trained by yolo_loss.h, decoded by nms.h.
//
// Architecture (c0..c4 and n0..n3 per size, see below):
//   backbone  stem    Conv 3x3 s2 (3 -> c0)                        stride 2
//             stage1  Conv 3x3 s2 (c0 -> c1), C2f(c1, n0, residual)  stride 4
//             stage2  Conv 3x3 s2 (c1 -> c2), C2f(c2, n1, residual)  P3, 8
//             stage3  Conv 3x3 s2 (c2 -> c3), C2f(c3, n2, residual)  P4, 16
//             stage4  Conv 3x3 s2 (c3 -> c4), C2f(c4, n3, residual),
//                     SPPF (three chained 5x5 max pools)             P5, 32
//   neck      top-down:  up(P5) ++ P4 -> C2f -> N4 (c3);
//                        up(N4) ++ P3 -> C2f -> out3 (c2)
//             bottom-up: Conv s2(out3) ++ N4 -> C2f -> out4 (c3);
//                        Conv s2(out4) ++ P5 -> C2f -> out5 (c4)
//                        (neck C2f: `neck_depth` blocks, no residual)
//   head      per level, two branches of two Conv 3x3 each:
//             box: -> Conv2d 1x1 to 4 x kYoloRegMax logits (a discrete
//                  distribution per side, left/top/right/bottom, over bins
//                  0..15 in stride units); cls: -> Conv2d 1x1 to K logits.
// "Conv" is Conv2d (no bias) + BatchNorm2d (eps 1e-3, momentum 0.1) + SiLU.
// (Ultralytics uses momentum 0.03; over the few hundred steps of a CPU run
// its running statistics lag the weights so far that evaluation fails while
// training-mode outputs are right, so this takes PyTorch's default.) 1x1
// convolutions carry dilation 2, a no-op that makes LibTorch pick oneDNN
// over im2col + Debian's reference BLAS when single-threaded (yolo.cc).
// C2f(c, n): 1x1 conv to 2 halves, n bottlenecks (two 3x3 convs, optional
// residual) chained on the second half, every intermediate concatenated and
// fused by a 1x1 conv. SPPF: 1x1 to c/2, three 5x5 stride-1 max pools, the
// four maps concatenated and fused by a 1x1 conv.
//
// Sizes (YOLOv8's n/s/m width multipliers 0.25/0.5/0.75 on 64..1024
// channels, capped at 768 for m, and depth multipliers 0.33/0.33/0.67 on
// 3/6/6/3 blocks; 3.16M, 11.17M and 25.90M parameters at K = 80, as
// published for YOLOv8):
//   kNano    c = 16, 32, 64, 128, 256     n = 1, 2, 2, 1   neck_depth 1
//   kSmall   c = 32, 64, 128, 256, 512    n = 1, 2, 2, 1   neck_depth 1
//   kMedium  c = 48, 96, 192, 384, 576    n = 2, 4, 4, 2   neck_depth 2
//
// Decoding: anchor points are cell centres ((x + 0.5) * stride, (y + 0.5)
// * stride) of the P3, P4 and P5 maps (strides 8, 16, 32), concatenated in
// that order, each level row-major (y, then x): N = HW/64 + HW/256 + HW/1024.
// A side's distance is the expectation of its softmaxed distribution times
// the stride (at most 15 strides), and box = (px - l, py - t, px + r, py +
// b) in input pixels.
//
// Initialisation: LibTorch's default for convolutions; class biases at
// -log((1 - p) / p) with p = `class_prior` (so every score starts near p
// and the all-negative loss starts small); distribution biases at 1
// (Ultralytics' choice; equal biases favour no bin).
//
// Checkpoint names are stable and dotted (`backbone.stem.conv.weight`,
// `backbone.stage2.csp.blocks.0.conv1.bn.running_mean`,
// `neck.top_down4.fuse.conv.weight`, `head.level0.cls_pred.bias`, ...).
//
// Example:
//
//   CVT_ASSIGN_OR_RETURN(std::unique_ptr<Yolo> yolo,
//                        Yolo::Create({.size = YoloOptions::Size::kSmall,
//                                      .num_classes = 3}));
//   CVT_ASSIGN_OR_RETURN(YoloOutput out, yolo->Forward(images));
//   CVT_ASSIGN_OR_RETURN(YoloLoss loss, ComputeYoloLoss(out, targets, {}));
//
// Thread safety: not thread-safe (Forward updates batch-norm statistics in
// training mode).

#ifndef LIBS_MODELS_YOLO_H_
#define LIBS_MODELS_YOLO_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ATen/core/Tensor.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "libs/models/sync_batch_norm.h"

namespace torch {
namespace nn {
class Module;
}  // namespace nn
}  // namespace torch

namespace cvt {

// Bins of each side's distance distribution (Ultralytics' `reg_max`).
inline constexpr int64_t kYoloRegMax = 16;
// The strides of the three output levels, in input pixels.
inline constexpr int64_t kYoloStrides[3] = {8, 16, 32};

struct YoloOptions {
  enum class Size { kNano, kSmall, kMedium };
  // Width and depth (table above). Default: kNano.
  Size size = Size::kNano;
  // Object classes K (> 0). Default: 80.
  int64_t num_classes = 80;
  // Initial class probability p, in (0, 1). Default: 0.01.
  double class_prior = 0.01;
};

struct YoloOutput {
  // float [B, N, 4], (x1, y1, x2, y2), input pixels; decoded from
  // `distribution`, differentiable.
  at::Tensor boxes;
  // float [B, N, K] class logits; sigmoid gives the score.
  at::Tensor logits;
  // float [N, 2], (x, y) anchor centres, input pixels.
  at::Tensor points;
  // float [N], the stride of each anchor's level (8, 16 or 32).
  at::Tensor strides;
  // float [B, N, 4, kYoloRegMax] raw distance logits (l, t, r, b), in
  // stride units; what the distribution focal loss reads.
  at::Tensor distribution;
};

class Yolo {
 public:
  // InvalidArgument for num_classes <= 0 or class_prior outside (0, 1).
  static absl::StatusOr<std::unique_ptr<Yolo>> Create(
      const YoloOptions& options);
  ~Yolo();

  // `images` float [B, 3, H, W] (B >= 1), H and W positive multiples of 32,
  // normalised however the data pipeline does it (Ultralytics: RGB / 255).
  // Errors: InvalidArgument for another shape, Unknown for a LibTorch
  // failure.
  absl::StatusOr<YoloOutput> Forward(const at::Tensor& images);

  // Every trainable tensor.
  std::vector<at::Tensor> parameters();
  // The same with their stable names (see above).
  std::vector<std::pair<std::string, at::Tensor>> named_parameters();
  // Batch-norm running statistics and counters, named alike.
  std::vector<std::pair<std::string, at::Tensor>> named_buffers();
  // Training mode (batch statistics) or evaluation (running statistics).
  void train(bool on);
  // Data-parallel training: from now on, training-mode batch norm takes its
  // statistics over all ranks (sync_batch_norm.h) through `sum_over_ranks`;
  // an empty function goes back to per-process statistics.
  void SyncBatchNormAcrossRanks(SumTensorsOverRanks sum_over_ranks);
  // Elements of all parameters.
  int64_t num_parameters() const;

  const YoloOptions& options() const;
  // The whole network, for `torch::save` and the like.
  torch::nn::Module& module();

 private:
  struct Impl;
  explicit Yolo(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cvt

#endif  // LIBS_MODELS_YOLO_H_
