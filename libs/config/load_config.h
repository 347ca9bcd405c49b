// -----------------------------------------------------------------------------
// File: load_config.h
// -----------------------------------------------------------------------------
//
// Loading the configuration of a run: a `cvt.PipelineConfig` from a text proto
// (`.textproto`, `.txtpb`, `.pbtxt`) or JSON (`.json`, protobuf's JSON
// mapping) file, then override files, then `--set` overrides, then
// validation. Unknown fields are errors everywhere; every error names the file
// or the field path.
//
// Example:
//
//   CVT_ASSIGN_OR_RETURN(
//       PipelineConfig config,
//       LoadPipelineConfig(options.config_path, {.override_files = files,
//                                                .overrides = sets}));

#ifndef LIBS_CONFIG_LOAD_CONFIG_H_
#define LIBS_CONFIG_LOAD_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "libs/config/pipeline.pb.h"

namespace cvt {

struct ConfigOverrides {
  // Text-proto files merged in order after the main file. Merging appends to
  // repeated fields and replaces scalars; set lists with `overrides` instead.
  std::vector<std::string> override_files;
  // "path.to.field=value" assignments applied last, in order (overrides.h).
  std::vector<std::string> overrides;
};

// Loads, overrides and validates. InvalidArgument for malformed files, unknown
// fields and invalid values; NotFound for a missing file.
absl::StatusOr<PipelineConfig> LoadPipelineConfig(
    absl::string_view path, const ConfigOverrides& overrides = {});

// Parses `text` (JSON if `is_json`, else text format); `source_name` prefixes
// errors. Does not validate.
absl::StatusOr<PipelineConfig> ParsePipelineConfig(
    absl::string_view text, absl::string_view source_name, bool is_json);

// Checks every range and cross-field rule. The error names the field path,
// e.g. "optimizer.lr: must be > 0 (got -0.001)".
absl::Status ValidatePipelineConfig(const PipelineConfig& config);

// The effective config as a text proto with a header naming the message, as
// saved beside a run's outputs.
std::string PipelineConfigToText(const PipelineConfig& config);

}  // namespace cvt

#endif  // LIBS_CONFIG_LOAD_CONFIG_H_
