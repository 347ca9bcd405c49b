// -----------------------------------------------------------------------------
// File: coco_fast_reader.h
// -----------------------------------------------------------------------------
//
// A faster `ParseCocoDataset` for large ground-truth files: same contract,
// same results, same errors and problems.
//
// How: RapidJSON's SAX reader builds the `CocoDataset` directly, with no DOM
// in between (the DOM of a 1M-annotation file costs more than parsing it),
// and the `annotations` list can be split at a record boundary and parsed on
// two threads. This fast path only accepts *clean* files: any irregularity
// it would have to report (a missing key, a wrong type, a bbox that is not 4
// numbers, a duplicate key, a syntax error, ...) makes it give up and call
// `ParseCocoDataset`, so every message, problem kind and value is exactly the
// DOM reader's. Numbers are parsed with the same full-precision flags.
//
// Thread safety: thread-compatible; uses up to `threads` threads internally.
//
// Example:
//
//   CVT_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
//   CVT_ASSIGN_OR_RETURN(CocoDataset gt,
//                        ParseCocoDatasetFast(text, path, &problems));

#ifndef LIBS_COCO_COCO_FAST_READER_H_
#define LIBS_COCO_COCO_FAST_READER_H_

#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "libs/coco/coco.h"

namespace cvt {

// As `ParseCocoDataset`. `threads` (1 or 2) bounds the parallel split of the
// annotations list; files under 1 MB are parsed on one thread.
absl::StatusOr<CocoDataset> ParseCocoDatasetFast(
    absl::string_view json, absl::string_view source_name,
    std::vector<CocoProblem>* problems = nullptr, int threads = 2);

namespace coco_internal {

// The fast path alone: the dataset, or nullopt when the file is not clean
// (the caller then uses `ParseCocoDataset`). Exposed for tests.
struct FastParseResult {
  bool clean = false;
  CocoDataset dataset;
};
FastParseResult TryParseCleanCocoDataset(absl::string_view json, int threads);

}  // namespace coco_internal
}  // namespace cvt

#endif  // LIBS_COCO_COCO_FAST_READER_H_
