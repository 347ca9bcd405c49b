// -----------------------------------------------------------------------------
// File: coco_prep.h
// -----------------------------------------------------------------------------
//
// Validates, cleans, splits and pre-sizes a COCO dataset (images folder plus
// COCO JSON) into a folder that `train` and `evaluate_map` read:
//
//   OUT/images/<file_name>          longest side <= max_size; re-encoded, or
//                                   copied when already in final form
//   OUT/annotations/<split>.json    COCO, original ids, boxes scaled
//   OUT/categories.json             the frozen CategoryMap
//   OUT/report.json                 counts, problems, content hash
//   OUT/SHA256SUMS                  hashes of every other file
//   OUT/plots/*.png                 histograms and a contact sheet
//
// tools/coco_prep/README.md documents the folder, the validation rules and
// the decoding rules for users.
//
// OUT appears complete or not at all: everything is written into a temporary
// folder beside it (".<name>.coco_prep-tmp-<pid>"), flushed to disk with one
// syncfs(2), and renamed at the end. An existing OUT is never touched
// (AlreadyExists). A killed run can leave its temporary folder behind, never
// a partial OUT.
//
// Scale-out: with `num_shards` N > 1 a run decodes and writes only the images
// whose position p (in input order, after validation) has p % N ==
// shard_index, and OUT becomes a shard folder (images/ plus shard.json). A run
// with `merge_shards` (and the same inputs and options) combines the N shard
// folders into the output a single run would write, byte for byte.

#ifndef TOOLS_COCO_PREP_COCO_PREP_H_
#define TOOLS_COCO_PREP_COCO_PREP_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "libs/base/progress.h"

namespace cvt {

struct CocoPrepOptions {
  // Folder with the image files the annotations name, or "split=DIR" entries
  // (one per split of `annotations`) when splits keep separate folders.
  std::vector<std::string> images;
  // One COCO file to split, or "split=FILE" entries that keep a split.
  std::vector<std::string> annotations;
  // Output folder; must not exist.
  std::string out_dir;
  // "name=fraction" entries summing to 1; ignored when `annotations` names
  // the splits. Default: "train=0.8,val=0.1,test=0.1".
  std::string splits = "train=0.8,val=0.1,test=0.1";
  // Seed of the split assignment. Default: 0.
  uint64_t seed = 0;
  // Longest side of written images in pixels; 0 keeps the size. Default: 0.
  int max_size = 0;
  // "skip" drops bad records and reports them; "fail" exits 2 listing the
  // first problems that would drop or refuse something. Default: "skip".
  std::string on_error = "skip";
  // Decoding and encoding threads (one image per thread); 0 = all cores.
  // `main` also turns OpenCV's own thread pool off. Default: 0.
  int threads = 0;
  // Decompression-bomb guard in pixels. Default: 178956970.
  uint64_t max_image_pixels = 178956970;
  // Quality of written JPEGs. Default: 95.
  int jpeg_quality = 95;
  // When shrinking a JPEG by 2x or more, decode it at 1/2, 1/4 or 1/8 scale
  // (libjpeg's DCT scaling, as PIL's draft mode) before the final INTER_AREA
  // resize: much faster, pixels within a few grey levels of a full decode.
  // Default: true.
  bool jpeg_dct_scaling = true;
  // Copy an image byte for byte instead of re-encoding it when it is already
  // in final form: not resized, content matching its extension, EXIF
  // orientation 1 (or none), 8-bit 3-channel without alpha. Lossless and
  // fast; train decodes it to the same pixels. Default: true.
  bool copy_unchanged = true;
  // Sharding: this run's slice. Defaults: 1 shard, index 0.
  int num_shards = 1;
  int shard_index = 0;
  // Only the checks that need no pixels (see CheckCocoPrepAnnotations):
  // problems by kind with examples go to stderr, nothing is written and
  // `out_dir` is not needed. With on_error "fail", problems are an error.
  // Default: false.
  bool validate_only = false;
  // Shard folders to merge into `out_dir` instead of decoding.
  std::vector<std::string> merge_shards;
  // How decoding progress is shown on stderr. Default: kAuto.
  ProgressMode progress = ProgressMode::kAuto;
  // Where the report path (stdout) and the summary (stderr) go; nullptr means
  // std::cout and std::cerr.
  std::ostream* out_stream = nullptr;
  std::ostream* err_stream = nullptr;
};

// The result of the checks that need no pixels.
struct AnnotationCheck {
  // Records parsed from the annotation files.
  int64_t images = 0;
  int64_t annotations = 0;
  // Images that pass and would be decoded.
  int64_t images_to_decode = 0;
  // Problems found, by action.
  int64_t fixed = 0;
  int64_t dropped = 0;
  // Count per problem kind, sorted by kind.
  std::vector<std::pair<std::string, int64_t>> by_kind;
};

// Parses `options.annotations` and applies every rule that needs no pixels
// (missing keys, bbox not 4 finite numbers, w or h <= 0, unknown category,
// duplicate image/annotation/category ids, annotations of missing images,
// bad or duplicate file names). Reads no image and writes nothing; the image
// folders must exist. Same error codes as `RunCocoPrep`.
absl::StatusOr<AnnotationCheck> CheckCocoPrepAnnotations(
    const CocoPrepOptions& options);

// Error codes: InvalidArgument for malformed options or input files (and for
// --on_error=fail when problems were found; the message lists the first
// ones), NotFound for missing inputs, AlreadyExists when `out_dir` exists,
// FailedPrecondition for shard folders that do not match the inputs, other
// codes for I/O failures. On any error nothing is left under `out_dir`.
absl::Status RunCocoPrep(const CocoPrepOptions& options);

}  // namespace cvt

#endif  // TOOLS_COCO_PREP_COCO_PREP_H_
