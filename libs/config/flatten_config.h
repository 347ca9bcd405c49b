// -----------------------------------------------------------------------------
// File: flatten_config.h
// -----------------------------------------------------------------------------
//
// The resolved config as flat "path.to.field" -> value strings (the run's
// hyperparameters in run.json and MLflow params). Every scalar field is
// listed with its effective value (defaults included); for a oneof only the
// chosen member appears; repeated fields render as "[a, b]", maps as one
// entry per key ("tracking.tags.team"). Doubles print with %.17g trimmed
// (shortest form that round-trips).
//
// Example:
//
//   std::map<std::string, std::string> params = FlattenConfig(config);
//   // params["optimizer.lr"] == "0.0001"

#ifndef LIBS_CONFIG_FLATTEN_CONFIG_H_
#define LIBS_CONFIG_FLATTEN_CONFIG_H_

#include <map>
#include <string>

#include "google/protobuf/message.h"

namespace cvt {

std::map<std::string, std::string> FlattenConfig(
    const google::protobuf::Message& config);

}  // namespace cvt

#endif  // LIBS_CONFIG_FLATTEN_CONFIG_H_
