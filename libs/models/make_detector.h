// -----------------------------------------------------------------------------
// File: make_detector.h
// -----------------------------------------------------------------------------
//
// The model registry: `ModelConfig.architecture` (a proto oneof) names the
// family, and MakeDetector switches over it (no `default:`, so adding a
// family to the oneof without a case here does not compile). The matching
// OutputAdapter comes from MakeOutputAdapter (libs/adapters) on the same
// config.
//
//   - detr: Detr (detr.h) with a ResNet backbone; `frozen_stages` leading
//     backbone stages (1 = stem, 2 = + layer1, ...) get requires_grad false;
//     `backbone_weights` / `weights` load Python torch.save files.
//   - yolo: Yolo (yolo.h) of the configured size.
//   - torchscript: the module saved by Python's `torch.jit.save` at `path`
//     (traced or scripted), its parameters trained in place.
//
// Example:
//
//   CVT_ASSIGN_OR_RETURN(std::unique_ptr<Detector> model,
//                        MakeDetector(config.model(), /*num_classes=*/3));

#ifndef LIBS_MODELS_MAKE_DETECTOR_H_
#define LIBS_MODELS_MAKE_DETECTOR_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "libs/config/model_config.pb.h"
#include "libs/models/detector.h"

namespace cvt {

// `num_classes` is used when `config.num_classes()` is 0; otherwise the two
// must agree (InvalidArgument naming both). InvalidArgument for an unset
// architecture or bad sizes; NotFound / InvalidArgument naming the file for
// weights or TorchScript files that are missing or unreadable.
absl::StatusOr<std::unique_ptr<Detector>> MakeDetector(
    const ModelConfig& config, int64_t num_classes);

}  // namespace cvt

#endif  // LIBS_MODELS_MAKE_DETECTOR_H_
