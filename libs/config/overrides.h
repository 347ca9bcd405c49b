// -----------------------------------------------------------------------------
// File: overrides.h
// -----------------------------------------------------------------------------
//
// Command-line overrides of any protobuf config, as dotted field paths:
//
//   trainer.max_epochs=20            scalar (numbers, bools, enum names)
//   tracking.run_name=baseline       strings need no quotes ("..." also works)
//   augmentation.train_min_sizes=[480, 512, 544]   repeated: replaces the list
//   model.detr.backbone={depth: 18}  message: replaces it (braces optional)
//   model.yolo.size=SMALL            a oneof member: selects it, clears the
//   rest tracking.tags.team=vision        map<string, string>: sets one key
//
// Values use protobuf text-format syntax, so a message value is a text proto.
// Errors are InvalidArgument and name the whole path, e.g.
// "trainer.max_epoch: cvt.TrainerConfig has no field named 'max_epoch'".

#ifndef LIBS_CONFIG_OVERRIDES_H_
#define LIBS_CONFIG_OVERRIDES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace cvt {

// Applies one "path=value" assignment to `message`.
absl::Status ApplyOverride(absl::string_view assignment,
                           google::protobuf::Message* message);

// Parses `text` (protobuf text format) into `message`, merging with what is
// already there (repeated fields append, as `TextFormat::MergeFromString`).
// Unknown fields are errors. Errors read "<source>:<line>:<column>: <what>".
absl::Status MergeTextProto(absl::string_view text,
                            absl::string_view source_name,
                            google::protobuf::Message* message);

}  // namespace cvt

#endif  // LIBS_CONFIG_OVERRIDES_H_
