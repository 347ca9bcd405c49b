// coco_prep's two speed goals, measured with a plain timer (best of
// --repeat runs):
//
//   1. Throughput: images/s of a whole `RunCocoPrep` (read, validate, decode,
//      resize, encode, hash, write, report, plots) against the raw OpenCV
//      rate on the same images with the same threads: cv::imdecode +
//      cv::resize(INTER_AREA) + cv::imencode(".jpg", quality 95) on bytes
//      already in memory. Goal: ratio >= 0.9.
//   2. JSON validation: MB/s of `CheckCocoPrepAnnotations` (parse plus every
//      pixel-free rule) on a generated COCO file with --annotations_1m
//      annotations (default 1,000,000). Goal: >= 300 MB/s.
//
//   bazel run -c opt //bench:coco_prep_bench -- --threads=2
//
// Defaults read ../shared/data/bccd beside the workspace.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "libs/base/file_io.h"
#include "libs/base/json.h"
#include "libs/coco/coco.h"
#include "libs/coco/coco_fast_reader.h"
#include "opencv2/core.hpp"
#include "opencv2/imgcodecs.hpp"
#include "opencv2/imgproc.hpp"
#include "tools/coco_prep/coco_prep.h"

ABSL_FLAG(std::string, images, "",
          "Image folder (default: ../shared/data/bccd/BCCD/JPEGImages).");
ABSL_FLAG(std::string, annotations, "",
          "COCO file naming the images (default: BCCD's instances_trainval "
          "plus instances_test, i.e. all 364 images).");
ABSL_FLAG(int, threads, 2, "Threads for both pipelines.");
ABSL_FLAG(int, max_size, 320, "Longest side after resizing (0 keeps size).");
ABSL_FLAG(int, repeat, 3, "Runs per measurement; the best is reported.");
ABSL_FLAG(int, annotations_1m, 1000000,
          "Annotations in the generated JSON-validation file.");
ABSL_FLAG(bool, throughput, true, "Run the throughput part.");
ABSL_FLAG(int, replicate, 1,
          "Throughput on N copies of every image (fixed costs weigh less).");
ABSL_FLAG(std::string, scratch, "",
          "Scratch folder (default: $TMPDIR or /tmp).");

namespace {

namespace fs = std::filesystem;

double Seconds(const std::function<void()>& fn) {
  const auto start = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

double Best(int repeat, const std::function<double()>& run) {
  double best = 1e300;
  for (int i = 0; i < repeat; ++i) best = std::min(best, run());
  return best;
}

void Check(bool ok, const std::string& what) {
  if (!ok) {
    std::fprintf(stderr, "coco_prep_bench: %s\n", what.c_str());
    std::exit(1);
  }
}

// decode + resize + encode of every buffer, on `threads` threads.
void RawPipeline(const std::vector<std::string>& files, int threads,
                 int max_size) {
  std::atomic<size_t> next{0};
  std::atomic<size_t> bytes_out{0};
  auto worker = [&] {
    std::vector<unsigned char> buffer;
    for (size_t i = next++; i < files.size(); i = next++) {
      const cv::Mat raw(1, static_cast<int>(files[i].size()), CV_8UC1,
                        const_cast<char*>(files[i].data()));
      cv::Mat image = cv::imdecode(raw, cv::IMREAD_COLOR);
      const int longest = std::max(image.cols, image.rows);
      if (max_size > 0 && longest > max_size) {
        const double s = static_cast<double>(max_size) / longest;
        cv::Mat resized;
        cv::resize(
            image, resized,
            cv::Size(
                std::max(1, static_cast<int>(std::lround(image.cols * s))),
                std::max(1, static_cast<int>(std::lround(image.rows * s)))),
            0, 0, cv::INTER_AREA);
        image = resized;
      }
      cv::imencode(".jpg", image, buffer, {cv::IMWRITE_JPEG_QUALITY, 95});
      bytes_out += buffer.size();
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  Check(bytes_out > 0, "raw pipeline produced nothing");
}

// A COCO file with `n` annotations over n/20 images, numbers shaped like the
// real COCO files (two-decimal boxes, four-decimal areas, 80 gapped ids).
std::string GenerateCoco(int n) {
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> coord(0, 500), size(1, 140);
  std::vector<int> ids;
  for (int id = 1; ids.size() < 80; ++id) {
    if (id != 12 && id != 26 && id != 29 && id != 30 && id != 45 && id != 66 &&
        id != 68 && id != 69 && id != 71 && id != 83) {
      ids.push_back(id);
    }
  }
  const int images = std::max(1, n / 20);
  std::string text = "{\"images\": [";
  text.reserve(static_cast<size_t>(n) * 140);
  for (int i = 1; i <= images; ++i) {
    absl::StrAppendFormat(&text,
                          "%s{\"id\": %d, \"file_name\": \"%012d.jpg\", "
                          "\"width\": 640, \"height\": 480}",
                          i == 1 ? "" : ", ", i, i);
  }
  text += "], \"annotations\": [";
  for (int a = 1; a <= n; ++a) {
    const double w = size(rng), h = size(rng);
    absl::StrAppendFormat(
        &text,
        "%s{\"id\": %d, \"image_id\": %d, \"category_id\": %d, \"bbox\": "
        "[%.2f, %.2f, %.2f, %.2f], \"area\": %.4f, \"iscrowd\": 0}",
        a == 1 ? "" : ", ", a, 1 + (a - 1) % images, ids[rng() % ids.size()],
        coord(rng), coord(rng) * 0.7, w, h, w * h * 0.8);
  }
  text += "], \"categories\": [";
  for (size_t c = 0; c < ids.size(); ++c) {
    absl::StrAppendFormat(&text,
                          "%s{\"id\": %d, \"name\": \"class_%d\", "
                          "\"supercategory\": \"thing\"}",
                          c == 0 ? "" : ", ", ids[c], ids[c]);
  }
  text += "]}";
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  // Both pipelines parallelize over images on --threads threads, so
  // OpenCV's own pool (cv::resize splits rows over it) only oversubscribes
  // the cores; coco_prep's main() turns it off the same way.
  cv::setNumThreads(1);
  {
    // Other work on the machine skews every number; say how busy it was.
    auto loadavg = cvt::ReadFileToString("/proc/loadavg");
    if (loadavg.ok())
      std::printf("load average at start: %s", loadavg->c_str());
  }
  const char* workspace = std::getenv("BUILD_WORKSPACE_DIRECTORY");
  const std::string shared =
      absl::StrCat(workspace != nullptr ? workspace : ".", "/../shared/data");
  std::string images_dir = absl::GetFlag(FLAGS_images);
  std::string annotations = absl::GetFlag(FLAGS_annotations);
  const int threads = absl::GetFlag(FLAGS_threads);
  const int max_size = absl::GetFlag(FLAGS_max_size);
  const int repeat = absl::GetFlag(FLAGS_repeat);
  std::string scratch = absl::GetFlag(FLAGS_scratch);
  if (scratch.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    scratch = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/coco_prep_bench-",
                           getpid());
  }
  fs::remove_all(scratch);
  fs::create_directories(scratch);
  if (images_dir.empty()) images_dir = shared + "/bccd/BCCD/JPEGImages";
  if (annotations.empty()) {
    // All of BCCD in one file: trainval plus test, test ids shifted.
    auto trainval =
        cvt::ReadCocoDataset(shared + "/bccd/coco/instances_trainval.json");
    auto test = cvt::ReadCocoDataset(shared + "/bccd/coco/instances_test.json");
    Check(trainval.ok() && test.ok(),
          "cannot read BCCD (pass --images and "
          "--annotations)");
    for (cvt::CocoImage image : test->images) {
      image.id += 100000;
      trainval->images.push_back(image);
    }
    for (cvt::CocoAnnotation ann : test->annotations) {
      ann.id += 100000;
      ann.image_id += 100000;
      trainval->annotations.push_back(ann);
    }
    annotations = scratch + "/bccd_all.json";
    Check(cvt::WriteCocoDataset(*trainval, annotations).ok(),
          "cannot write " + annotations);
  }

  if (absl::GetFlag(FLAGS_throughput)) {
    // --- 1. Throughput -------------------------------------------------------
    auto dataset = cvt::ReadCocoDataset(annotations);
    Check(dataset.ok(), std::string(dataset.status().message()));
    const int replicate = absl::GetFlag(FLAGS_replicate);
    if (replicate > 1) {
      // N copies of every image (symlinks with new names), so that the
      // fixed per-run costs (report, plots, contact sheet) weigh less.
      const std::string copies = scratch + "/replicated";
      fs::create_directories(copies);
      cvt::CocoDataset bigger = *dataset;
      bigger.images.clear();
      bigger.annotations.clear();
      for (int k = 0; k < replicate; ++k) {
        const int64_t offset = int64_t{k} * 100000000;
        for (cvt::CocoImage image : dataset->images) {
          const std::string name =
              absl::StrCat("copy", k, "_", image.file_name);
          fs::create_symlink(images_dir + "/" + image.file_name,
                             copies + "/" + name);
          image.file_name = name;
          image.id += offset;
          bigger.images.push_back(image);
        }
        for (cvt::CocoAnnotation ann : dataset->annotations) {
          ann.id += offset;
          ann.image_id += offset;
          bigger.annotations.push_back(ann);
        }
      }
      images_dir = copies;
      annotations = scratch + "/replicated.json";
      Check(cvt::WriteCocoDataset(bigger, annotations).ok(),
            "cannot write " + annotations);
      dataset = std::move(bigger);
    }
    std::vector<std::string> files;
    int64_t input_bytes = 0;
    for (const cvt::CocoImage& image : dataset->images) {
      auto bytes = cvt::ReadFileToString(images_dir + "/" + image.file_name);
      Check(bytes.ok(), std::string(bytes.status().message()));
      input_bytes += bytes->size();
      files.push_back(*std::move(bytes));
    }
    const double n = static_cast<double>(files.size());
    int run = 0;
    // `fast`: coco_prep's defaults; otherwise the same pixel work as raw.
    auto prep_once = [&](bool fast) {
      cvt::CocoPrepOptions options;
      options.images = {images_dir};
      options.annotations = {annotations};
      options.out_dir = absl::StrCat(scratch, "/out", run++);
      options.threads = threads;
      options.max_size = max_size;
      options.jpeg_dct_scaling = fast;
      options.copy_unchanged = fast;
      options.progress = cvt::ProgressMode::kNone;
      std::ostringstream sink;
      options.out_stream = &sink;
      options.err_stream = &sink;
      absl::Status status;
      const double s = Seconds([&] { status = cvt::RunCocoPrep(options); });
      Check(status.ok(), std::string(status.message()));
      // Outputs stay until the end: deleting files just before creating
      // new ones slows ext4's inode allocation (recently_deleted()).
      return s;
    };
    // Interleaved, so that a change of machine load between blocks does
    // not favour one side; the best of each is kept.
    double raw_s = 1e300, prep_s = 1e300, exact_s = 1e300;
    for (int r = 0; r < repeat; ++r) {
      raw_s = std::min(raw_s,
                       Seconds([&] { RawPipeline(files, threads, max_size); }));
      prep_s = std::min(prep_s, prep_once(true));
      exact_s = std::min(exact_s, prep_once(false));
    }
    std::printf(
        "throughput: %d images (%.1f MB JPEG), %d threads, max_size %d\n"
        "  raw OpenCV decode+resize+encode: %8.1f images/s (%.3f s)\n"
        "  coco_prep end to end:            %8.1f images/s (%.3f s)\n"
        "  ratio coco_prep / raw:           %8.3f   (goal >= 0.9)\n"
        "  coco_prep, same pixel work as raw (--nojpeg_dct_scaling "
        "--nocopy_unchanged):\n"
        "                                   %8.1f images/s (%.3f s), ratio "
        "%.3f\n",
        static_cast<int>(n), input_bytes / 1e6, threads, max_size, n / raw_s,
        raw_s, n / prep_s, prep_s, raw_s / prep_s, n / exact_s, exact_s,
        raw_s / exact_s);
  }

  // --- 2. JSON validation --------------------------------------------------
  const int count = absl::GetFlag(FLAGS_annotations_1m);
  const std::string big = scratch + "/coco_1m.json";
  const std::string text = GenerateCoco(count);
  Check(cvt::WriteFileAtomically(big, text).ok(), "cannot write " + big);
  const std::string empty_dir = scratch + "/no_images";
  fs::create_directories(empty_dir);
  const double mb = text.size() / 1e6;
  const double parse_s = Best(repeat, [&] {
    return Seconds([&] { Check(cvt::ParseJson(text, "bench").ok(), "parse"); });
  });
  const double model_s = Best(repeat, [&] {
    return Seconds([&] {
      Check(cvt::ParseCocoDataset(text, "bench").ok(), "ParseCocoDataset");
    });
  });
  const double fast1_s = Best(repeat, [&] {
    return Seconds([&] {
      Check(cvt::ParseCocoDatasetFast(text, "bench", nullptr, 1).ok(),
            "ParseCocoDatasetFast");
    });
  });
  const double fast2_s = Best(repeat, [&] {
    return Seconds([&] {
      Check(cvt::ParseCocoDatasetFast(text, "bench", nullptr, 2).ok(),
            "ParseCocoDatasetFast");
    });
  });
  int64_t checked = 0;
  const double check_s = Best(repeat, [&] {
    cvt::CocoPrepOptions options;
    options.images = {empty_dir};
    options.annotations = {big};
    options.out_dir = scratch + "/unused";
    return Seconds([&] {
      auto check = cvt::CheckCocoPrepAnnotations(options);
      Check(check.ok(), std::string(check.status().message()));
      checked = check->annotations;
    });
  });
  Check(checked == count, "the validation lost annotations");
  std::printf(
      "json validation: %d annotations, %.1f MB\n"
      "  RapidJSON DOM parse (full precision): %7.1f MB/s (%.3f s)\n"
      "  ParseCocoDataset (DOM -> model):      %7.1f MB/s (%.3f s)\n"
      "  ParseCocoDatasetFast, 1 thread (SAX): %7.1f MB/s (%.3f s)\n"
      "  ParseCocoDatasetFast, 2 threads:      %7.1f MB/s (%.3f s)\n"
      "  CheckCocoPrepAnnotations (read+all):  %7.1f MB/s (%.3f s)   (goal "
      ">= 300 MB/s)\n",
      count, mb, mb / parse_s, parse_s, mb / model_s, model_s, mb / fast1_s,
      fast1_s, mb / fast2_s, fast2_s, mb / check_s, check_s);
  fs::remove_all(scratch);
  return 0;
}
