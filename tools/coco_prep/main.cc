// coco_prep: validate, clean, split and pre-size a COCO dataset.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "glog/logging.h"
#include "libs/base/progress.h"
#include "libs/base/status.h"
#include "libs/base/tool_main.h"
#include "opencv2/core.hpp"
#include "tools/coco_prep/coco_prep.h"
#include "tools/coco_prep/split.h"

ABSL_FLAG(std::vector<std::string>, images, {},
          "Folder with the dataset's image files, or split=DIR entries when "
          "the splits keep separate folders (--images=train=t,val=v).");
ABSL_FLAG(std::vector<std::string>, annotations, {},
          "COCO annotation file, or split=FILE entries to keep existing splits "
          "(--annotations=train=a.json,val=b.json).");
ABSL_FLAG(std::string, out, "", "Output folder (created; must not exist).");
ABSL_FLAG(std::string, splits, "train=0.8,val=0.1,test=0.1",
          "Split names and fractions, summing to 1 (ignored when "
          "--annotations names the splits).");
ABSL_FLAG(uint64_t, seed, 0, "Seed of the split assignment.");
ABSL_FLAG(int, max_size, 0,
          "Longest side of the written images in pixels; 0 keeps the size.");
ABSL_FLAG(std::string, on_error, "skip",
          "skip: drop and report bad records; fail: exit 2 listing the first "
          "problems that would drop or refuse data, writing nothing.");
ABSL_FLAG(int, threads, 0, "Decoding/encoding threads; 0 = all cores.");
ABSL_FLAG(uint64_t, max_image_pixels, 178956970,
          "Decompression-bomb guard: images with more pixels are refused.");
ABSL_FLAG(int, jpeg_quality, 95, "Quality of written JPEGs (1..100).");
ABSL_FLAG(bool, jpeg_dct_scaling, true,
          "When shrinking a JPEG 2x or more, decode it at 1/2, 1/4 or 1/8 "
          "scale (libjpeg DCT scaling) before the final resize; faster.");
ABSL_FLAG(bool, copy_unchanged, true,
          "Copy images already in final form (not resized, right extension, "
          "upright, 8-bit 3-channel) byte for byte instead of re-encoding.");
ABSL_FLAG(bool, validate_only, false,
          "Check the annotation files only (no image is read, nothing is "
          "written, --out is not needed); problems go to stderr.");
ABSL_FLAG(int, num_shards, 1,
          "Split the image work into this many shards (one task each).");
ABSL_FLAG(int, shard_index, 0, "Which shard this task runs (0-based).");
ABSL_FLAG(std::vector<std::string>, merge_shards, {},
          "Shard output folders to merge into --out (same inputs and options "
          "as the shard runs).");
ABSL_FLAG(std::string, progress, "auto",
          "Progress on stderr: auto, bar, json or none.");

namespace {

// Resolves the path of a "DIR" or "split=DIR" entry for `bazel run`.
std::string ResolveEntry(const std::string& entry) {
  const size_t eq = entry.find('=');
  if (eq != std::string::npos && cvt::IsValidSplitName(entry.substr(0, eq))) {
    return entry.substr(0, eq + 1) + cvt::ResolveUserPath(entry.substr(eq + 1));
  }
  return cvt::ResolveUserPath(entry);
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Validates, cleans, splits and pre-sizes a COCO dataset.\n"
      "Usage: coco_prep --images DIR --annotations FILE --out DIR "
      "[--splits train=0.8,val=0.1,test=0.1] [--seed N] [--max_size PX] "
      "[--on_error skip|fail] [--threads N] [--num_shards N --shard_index I | "
      "--merge_shards DIR,...]");
  cvt::ParseFlagsOrExit2(argc, argv);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  cvt::CocoPrepOptions options;
  for (const std::string& entry : absl::GetFlag(FLAGS_images)) {
    options.images.push_back(ResolveEntry(entry));
  }
  for (const std::string& entry : absl::GetFlag(FLAGS_annotations)) {
    options.annotations.push_back(ResolveEntry(entry));
  }
  options.out_dir = cvt::ResolveUserPath(absl::GetFlag(FLAGS_out));
  options.splits = absl::GetFlag(FLAGS_splits);
  options.seed = absl::GetFlag(FLAGS_seed);
  options.max_size = absl::GetFlag(FLAGS_max_size);
  options.on_error = absl::GetFlag(FLAGS_on_error);
  options.threads = absl::GetFlag(FLAGS_threads);
  options.max_image_pixels = absl::GetFlag(FLAGS_max_image_pixels);
  options.jpeg_quality = absl::GetFlag(FLAGS_jpeg_quality);
  options.jpeg_dct_scaling = absl::GetFlag(FLAGS_jpeg_dct_scaling);
  options.copy_unchanged = absl::GetFlag(FLAGS_copy_unchanged);
  options.validate_only = absl::GetFlag(FLAGS_validate_only);
  options.num_shards = absl::GetFlag(FLAGS_num_shards);
  options.shard_index = absl::GetFlag(FLAGS_shard_index);
  for (const std::string& dir : absl::GetFlag(FLAGS_merge_shards)) {
    options.merge_shards.push_back(cvt::ResolveUserPath(dir));
  }
  if (!cvt::ParseProgressMode(absl::GetFlag(FLAGS_progress),
                              &options.progress)) {
    return cvt::ExitCode("coco_prep",
                         absl::InvalidArgumentError(
                             "--progress must be auto, bar, json or none"));
  }
  // coco_prep runs one image per thread on --threads threads; OpenCV's own
  // pool (cv::resize splits rows over it) would only oversubscribe the cores.
  cv::setNumThreads(1);
  return cvt::ExitCode("coco_prep", cvt::RunCocoPrep(options));
}
