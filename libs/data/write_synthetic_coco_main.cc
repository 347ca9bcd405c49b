// Writes a synthetic shapes data set (synthetic_coco.h) in coco_prep's
// output layout with train, val and test splits, or as raw COCO:
//
//   write_synthetic_coco --out DIR [--train 48 --val 16 --test 16]
//       [--min_size 128 --max_size 160] [--classes 3] [--seed 1] [--raw]

#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "libs/data/synthetic_coco.h"

ABSL_FLAG(std::string, out, "", "Output folder (required).");
ABSL_FLAG(int, train, 48, "Training images.");
ABSL_FLAG(int, val, 16, "Validation images.");
ABSL_FLAG(int, test, 16, "Test images.");
ABSL_FLAG(int, min_size, 128, "Smallest image side.");
ABSL_FLAG(int, max_size, 160, "Largest image side.");
ABSL_FLAG(int, classes, 3, "Object classes (1..4).");
ABSL_FLAG(int, max_objects, 3, "Objects per image at most.");
ABSL_FLAG(uint64_t, seed, 1, "Seed; the same seed writes the same files.");
ABSL_FLAG(bool, raw, false,
          "Write raw COCO (images/ + annotations.json, all images) instead.");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Writes a deterministic synthetic COCO detection data set.\n"
      "Usage: write_synthetic_coco --out DIR [--train N --val N --test N]");
  absl::ParseCommandLine(argc, argv);
  const std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) {
    std::cerr << "write_synthetic_coco: error: --out is required\n";
    return 2;
  }
  cvt::SyntheticCocoOptions o;
  o.min_size = absl::GetFlag(FLAGS_min_size);
  o.max_size = absl::GetFlag(FLAGS_max_size);
  o.num_classes = absl::GetFlag(FLAGS_classes);
  o.max_objects = absl::GetFlag(FLAGS_max_objects);
  const uint64_t seed = absl::GetFlag(FLAGS_seed);
  const int counts[3] = {absl::GetFlag(FLAGS_train), absl::GetFlag(FLAGS_val),
                         absl::GetFlag(FLAGS_test)};
  if (absl::GetFlag(FLAGS_raw)) {
    o.num_images = counts[0] + counts[1] + counts[2];
    o.seed = seed;
    const absl::Status s = cvt::WriteSyntheticCoco(o, out);
    if (!s.ok()) {
      std::cerr << "write_synthetic_coco: error: " << s.message() << "\n";
      return 2;
    }
    return 0;
  }
  const char* splits[3] = {"train", "val", "test"};
  int64_t first_id = 1;
  for (int i = 0; i < 3; ++i) {
    o.prepared_layout = true;
    o.split = splits[i];
    o.num_images = counts[i];
    o.first_image_id = first_id;
    o.seed = seed * 3 + static_cast<uint64_t>(i);
    first_id += counts[i];
    const absl::Status s = cvt::WriteSyntheticCoco(o, out);
    if (!s.ok()) {
      std::cerr << "write_synthetic_coco: error: " << s.message() << "\n";
      return 2;
    }
  }
  std::cout << "wrote " << out << "\n";
  return 0;
}
