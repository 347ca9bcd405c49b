// -----------------------------------------------------------------------------
// File: options_from_proto.h
// -----------------------------------------------------------------------------
//
// Maps the data-related configs (libs/config/data_config.proto,
// augmentation_config.proto) onto the plain options of libs/data, checking
// ranges, so that the dataset, transforms and loader never see protobuf.
//
// Example:
//
//   CVT_ASSIGN_OR_RETURN(TransformPipeline train_transforms,
//                        MakeTransformPipeline(config.augmentation(), true));
//   CVT_ASSIGN_OR_RETURN(DetectionLoaderOptions loader_options,
//                        LoaderOptionsFromProto(config.data(), true));
//   loader_options.seed = seed;
//   loader_options.rank = rank;
//   loader_options.world_size = world_size;
//
// Thread safety: thread-safe.

#ifndef LIBS_DATA_OPTIONS_FROM_PROTO_H_
#define LIBS_DATA_OPTIONS_FROM_PROTO_H_

#include "absl/status/statusor.h"
#include "libs/config/augmentation_config.pb.h"
#include "libs/config/data_config.pb.h"
#include "libs/data/detection_dataset.h"
#include "libs/data/detection_loader.h"
#include "libs/data/transforms.h"

namespace cvt {

// Field by field; `mean`/`std` empty mean ImageNet, otherwise exactly 3
// values; `random_crop` is set iff the config has the message. InvalidArgument
// "AugmentationConfig: <field> ..." for a value out of range (as
// `ValidateTransformOptions`, plus sizes above 2^31 - 1 and mean/std counts).
absl::StatusOr<TransformOptions> TransformOptionsFromProto(
    const AugmentationConfig& config);

// `TransformPipeline::Create(TransformOptionsFromProto(config), train)`.
absl::StatusOr<TransformPipeline> MakeTransformPipeline(
    const AugmentationConfig& config, bool train);

// `max_image_pixels` (>= 1) and `keep_crowd_as_ignore`. InvalidArgument
// "DataConfig: ..." otherwise.
absl::StatusOr<DetectionDatasetOptions> DatasetOptionsFromProto(
    const DataConfig& config);

// batch_size (>= 1), num_workers, prefetch_batches (>= 1). Training
// (`train`): shuffle = config.shuffle, pad_shards = true; evaluation:
// shuffle = false, pad_shards = false. drop_last stays false; seed, rank,
// world_size and size_divisor keep their defaults for the caller to set.
// InvalidArgument "DataConfig: ..." for a value out of range.
absl::StatusOr<DetectionLoaderOptions> LoaderOptionsFromProto(
    const DataConfig& config, bool train);

}  // namespace cvt

#endif  // LIBS_DATA_OPTIONS_FROM_PROTO_H_
