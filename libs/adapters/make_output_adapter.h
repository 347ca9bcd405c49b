// -----------------------------------------------------------------------------
// File: make_output_adapter.h
// -----------------------------------------------------------------------------
//
// The adapter registry, keyed by the same `ModelConfig.architecture` oneof as
// MakeDetector (libs/models/make_detector.h) and written as a switch without
// `default:`: a family added to the oneof without an adapter does not
// compile.
//
//   detr                          -> DetrAdapter (loss weights, matcher
//                                    costs, no-object weight, aux loss from
//                                    DetrConfig)
//   yolo                          -> YoloAdapter (NMS from YoloConfig)
//   torchscript DETR_STYLE        -> DetrAdapter (DetrConfig defaults, no
//                                    auxiliary outputs)
//   torchscript DENSE_XYXY_SCORES -> DenseAdapter (NMS from
//                                    TorchScriptConfig)
//
// Example:
//
//   CVT_ASSIGN_OR_RETURN(std::unique_ptr<OutputAdapter> adapter,
//                        MakeOutputAdapter(config.model(), categories.size()));

#ifndef LIBS_ADAPTERS_MAKE_OUTPUT_ADAPTER_H_
#define LIBS_ADAPTERS_MAKE_OUTPUT_ADAPTER_H_

#include <memory>

#include "absl/status/statusor.h"
#include "libs/adapters/output_adapter.h"
#include "libs/config/model_config.pb.h"

namespace cvt {

// InvalidArgument for an unset architecture or num_classes <= 0.
absl::StatusOr<std::unique_ptr<OutputAdapter>> MakeOutputAdapter(
    const ModelConfig& config, int64_t num_classes);

}  // namespace cvt

#endif  // LIBS_ADAPTERS_MAKE_OUTPUT_ADAPTER_H_
