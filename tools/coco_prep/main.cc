// coco_prep: validate, clean, split and pre-size a COCO dataset.

#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "glog/logging.h"
#include "libs/base/status.h"
#include "libs/base/tool_main.h"
#include "tools/coco_prep/coco_prep.h"

ABSL_FLAG(std::string, images, "", "Folder with the dataset's image files.");
ABSL_FLAG(std::vector<std::string>, annotations, {},
          "COCO annotation file, or split=FILE entries to keep existing splits "
          "(--annotations=train=a.json,val=b.json).");
ABSL_FLAG(std::string, out, "", "Output folder (created).");
ABSL_FLAG(std::string, splits, "train=0.8,val=0.1,test=0.1",
          "Split names and fractions, summing to 1.");
ABSL_FLAG(uint64_t, seed, 0, "Seed of the split assignment.");
ABSL_FLAG(int, max_size, 0,
          "Longest side of the written images in pixels; 0 keeps the size.");
ABSL_FLAG(std::string, on_error, "skip",
          "skip: drop and report bad records; fail: stop at the first.");
ABSL_FLAG(int, threads, 0, "Decoding threads; 0 = all cores.");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Validates, cleans, splits and pre-sizes a COCO dataset.\n"
      "Usage: coco_prep --images DIR --annotations FILE --out DIR "
      "[--splits train=0.8,val=0.1,test=0.1] [--seed N] [--max_size PX] "
      "[--on_error skip|fail] [--threads N]");
  cvt::ParseFlagsOrExit2(argc, argv);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  cvt::CocoPrepOptions options;
  options.images_dir = cvt::ResolveUserPath(absl::GetFlag(FLAGS_images));
  for (const std::string& entry : absl::GetFlag(FLAGS_annotations)) {
    options.annotations.push_back(entry);
  }
  options.out_dir = cvt::ResolveUserPath(absl::GetFlag(FLAGS_out));
  options.splits = absl::GetFlag(FLAGS_splits);
  options.seed = absl::GetFlag(FLAGS_seed);
  options.max_size = absl::GetFlag(FLAGS_max_size);
  options.on_error = absl::GetFlag(FLAGS_on_error);
  options.threads = absl::GetFlag(FLAGS_threads);
  return cvt::ExitCode("coco_prep", cvt::RunCocoPrep(options));
}
