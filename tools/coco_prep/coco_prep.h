// -----------------------------------------------------------------------------
// File: coco_prep.h
// -----------------------------------------------------------------------------
//
// Validates, cleans, splits and pre-sizes a COCO dataset (images folder plus
// COCO JSON) into a folder that `train` and `evaluate_map` read.

#ifndef TOOLS_COCO_PREP_COCO_PREP_H_
#define TOOLS_COCO_PREP_COCO_PREP_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace cvt {

struct CocoPrepOptions {
  // Folder with the image files the annotations name.
  std::string images_dir;
  // One COCO file to split, or "split=file" entries that keep a split.
  std::vector<std::string> annotations;
  // Output folder: images/, annotations/<split>.json, report.json.
  std::string out_dir;
  // "name=fraction" entries summing to 1.
  std::string splits = "train=0.8,val=0.1,test=0.1";
  uint64_t seed = 0;
  // Longest side of written images in pixels; 0 keeps the size.
  int max_size = 0;
  // "skip" drops bad records and reports them; "fail" stops at the first.
  std::string on_error = "skip";
  // Decoding threads; 0 = all cores.
  int threads = 0;
};

// InvalidArgument for missing or malformed options.
absl::Status RunCocoPrep(const CocoPrepOptions& options);

}  // namespace cvt

#endif  // TOOLS_COCO_PREP_COCO_PREP_H_
