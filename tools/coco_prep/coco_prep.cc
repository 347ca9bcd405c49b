#include "tools/coco_prep/coco_prep.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "libs/base/file_io.h"
#include "libs/base/json.h"
#include "libs/base/parallel.h"
#include "libs/base/sha256.h"
#include "libs/base/status.h"
#include "libs/base/status_macros.h"
#include "libs/base/tool_main.h"
#include "libs/coco/category_map.h"
#include "libs/coco/coco.h"
#include "libs/coco/coco_fast_reader.h"
#include "libs/data/image_io.h"
#include "opencv2/core.hpp"
#include "rapidjson/document.h"
#include "tools/coco_prep/plots.h"
#include "tools/coco_prep/problem_log.h"
#include "tools/coco_prep/split.h"
#include "tools/coco_prep/staging_dir.h"

namespace cvt {
namespace {

namespace fs = std::filesystem;

// A thread joined on destruction, so early returns cannot leave it running.
class JoiningThread {
 public:
  template <typename Fn>
  explicit JoiningThread(Fn&& fn) : thread_(std::forward<Fn>(fn)) {}
  ~JoiningThread() { Join(); }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::thread thread_;
};

struct InputFile {
  std::string split;  // Empty in split-by-fraction mode.
  std::string path;
  std::string images_dir;
  std::string sha256;
  CocoDataset dataset;
};

// One image to decode and write.
struct Job {
  int input = 0;
  // "images[12] (id 7) of a.json", for messages.
  std::string where;
  CocoImage image;
  std::string source_path;
  // Relative to images/; its format follows the extension, or the content
  // when the extension is not .jpg/.jpeg/.png (`out_name` then gets one).
  std::string out_name;
  // Accepted annotations: indices into the input's `dataset.annotations`.
  std::vector<uint32_t> annotations;
};

struct Outcome {
  bool done = false;
  bool ok = false;
  Problem failure;  // When !ok.
  std::vector<Problem> findings;
  int64_t width = 0;  // Decoded, oriented.
  int64_t height = 0;
  int64_t out_width = 0;
  int64_t out_height = 0;
  std::string out_name;
  std::string sha256;
  // Written byte for byte as read (already in final form).
  bool copied = false;
  // The written image decoded again, for jobs sampled for the contact sheet
  // (single runs only; a merge decodes the file).
  cv::Mat tile;
};

// Jobs shown on the contact sheet: 16 spread evenly over all jobs (those that
// fail are simply missing from it).
constexpr size_t kSheetTiles = 16;
bool SampledForSheet(size_t job, size_t num_jobs) {
  const size_t stride = std::max<size_t>(1, num_jobs / kSheetTiles);
  return job % stride == 0 && job / stride < kSheetTiles;
}

struct Plan {
  std::vector<InputFile> inputs;
  bool keep_splits = false;
  std::vector<SplitSpec> specs;
  std::vector<std::string> split_names;
  CategoryMap categories;
  std::vector<Job> jobs;
  int64_t parsed_images = 0;
  int64_t parsed_annotations = 0;
  // Annotations dropped before decoding, and images dropped while planning.
  int64_t dropped_annotations = 0;
  int64_t dropped_images = 0;
  std::string fingerprint;
};

bool IsDirectory(const std::string& path) {
  std::error_code error;
  return fs::is_directory(path, error);
}
bool IsFile(const std::string& path) {
  std::error_code error;
  return fs::is_regular_file(path, error);
}

// Splits "name=value" when `name` is a valid split name; otherwise nullopt.
std::optional<std::pair<std::string, std::string>> SplitEntry(
    const std::string& entry) {
  const size_t eq = entry.find('=');
  if (eq == std::string::npos) return std::nullopt;
  const std::string name = entry.substr(0, eq);
  if (!IsValidSplitName(name)) return std::nullopt;
  return std::make_pair(name, entry.substr(eq + 1));
}

// `need_out`: false for the checks that write nothing.
absl::Status CheckOptions(const CocoPrepOptions& options, bool need_out) {
  if (options.images.empty()) {
    return absl::InvalidArgumentError("--images is required");
  }
  if (options.annotations.empty()) {
    return absl::InvalidArgumentError("--annotations is required");
  }
  if (need_out) CVT_RETURN_IF_ERROR(RequireFlag(options.out_dir, "out"));
  if (options.on_error != "skip" && options.on_error != "fail") {
    return absl::InvalidArgumentError(
        "--on_error must be 'skip' or 'fail', not '" + options.on_error + "'");
  }
  if (options.max_size < 0) {
    return absl::InvalidArgumentError("--max_size must be >= 0");
  }
  if (options.threads < 0) {
    return absl::InvalidArgumentError("--threads must be >= 0");
  }
  if (options.jpeg_quality < 1 || options.jpeg_quality > 100) {
    return absl::InvalidArgumentError("--jpeg_quality must be in 1..100");
  }
  if (options.max_image_pixels == 0) {
    return absl::InvalidArgumentError("--max_image_pixels must be > 0");
  }
  if (options.num_shards < 1 || options.shard_index < 0 ||
      options.shard_index >= options.num_shards) {
    return absl::InvalidArgumentError(
        "--shard_index must be in [0, --num_shards) and --num_shards >= 1");
  }
  if (!options.merge_shards.empty() && options.num_shards != 1) {
    return absl::InvalidArgumentError(
        "--merge_shards writes the final output; do not combine it with "
        "--num_shards");
  }
  return absl::OkStatus();
}

// Fills plan->inputs (paths, splits, image folders) from the options.
absl::Status ResolveInputs(const CocoPrepOptions& options, Plan* plan) {
  std::set<std::string> split_seen;
  for (const std::string& entry : options.annotations) {
    InputFile input;
    const auto named = SplitEntry(entry);
    if (named.has_value() && !IsFile(entry)) {
      input.split = named->first;
      input.path = named->second;
      if (!split_seen.insert(input.split).second) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--annotations: split '", input.split, "' is given twice"));
      }
    } else {
      input.path = entry;
    }
    plan->inputs.push_back(std::move(input));
  }
  const bool any_named = !split_seen.empty();
  if (any_named && split_seen.size() != plan->inputs.size()) {
    return absl::InvalidArgumentError(
        "--annotations: either one FILE, or split=FILE for every entry");
  }
  if (!any_named && plan->inputs.size() != 1) {
    return absl::InvalidArgumentError(
        "--annotations: several files need split names "
        "(--annotations=train=a.json,val=b.json)");
  }
  plan->keep_splits = any_named;
  // Image folders: one for all, or one per split.
  std::map<std::string, std::string> dirs;
  std::string common;
  for (const std::string& entry : options.images) {
    const auto named = SplitEntry(entry);
    if (named.has_value() && !IsDirectory(entry)) {
      dirs[named->first] = named->second;
    } else if (common.empty()) {
      common = entry;
    } else {
      return absl::InvalidArgumentError(
          "--images: one DIR, or split=DIR entries");
    }
  }
  if (!common.empty() && !dirs.empty()) {
    return absl::InvalidArgumentError(
        "--images: one DIR, or split=DIR entries, not both");
  }
  for (InputFile& input : plan->inputs) {
    if (!common.empty()) {
      input.images_dir = common;
    } else {
      const auto it = dirs.find(input.split);
      if (it == dirs.end()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--images has no folder for split '", input.split, "'"));
      }
      input.images_dir = it->second;
    }
    if (!IsDirectory(input.images_dir)) {
      return absl::NotFoundError(
          absl::StrCat("--images: ", input.images_dir, " is not a folder"));
    }
  }
  for (const auto& [split, dir] : dirs) {
    if (split_seen.count(split) == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--images names split '", split, "', which --annotations lacks"));
    }
  }
  if (plan->keep_splits) {
    for (const InputFile& input : plan->inputs) {
      plan->split_names.push_back(input.split);
    }
  } else {
    CVT_ASSIGN_OR_RETURN(plan->specs, ParseSplitSpecs(options.splits));
    for (const SplitSpec& spec : plan->specs) {
      plan->split_names.push_back(spec.name);
    }
  }
  return absl::OkStatus();
}

// Why `name` cannot be written under images/, or "".
std::string FileNameError(const std::string& name) {
  if (name.empty()) return "empty file_name";
  if (name[0] == '/') return "absolute file_name";
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    const absl::string_view part(name.data() + start, end - start);
    if (part.empty() || part == "." || part == "..") {
      return absl::StrCat("file_name '", name,
                          "' has an empty, '.' or '..' component");
    }
    start = end + 1;
  }
  return "";
}

absl::Status BuildPlan(const CocoPrepOptions& options, Plan* plan,
                       ProblemLog* log) {
  CVT_RETURN_IF_ERROR(ResolveInputs(options, plan));
  // Parse every file; structural problems are dropped records.
  std::vector<MappedFile> texts;
  for (InputFile& input : plan->inputs) {
    CVT_ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open(input.path));
    const absl::string_view text = file.contents();
    std::vector<CocoProblem> problems;
    CVT_ASSIGN_OR_RETURN(
        input.dataset,
        ParseCocoDatasetFast(text, input.path, &problems,
                             ResolveThreads(options.threads) >= 2 ? 2 : 1));
    // Hashed on another thread while the single-threaded checks below run.
    texts.push_back(std::move(file));
    for (CocoProblem& problem : problems) {
      if (absl::StrContains(problem.message, ": top level: ")) {
        return absl::InvalidArgumentError(problem.message);
      }
      if (absl::StrContains(problem.message, ": annotations[")) {
        ++plan->dropped_annotations;
      } else if (absl::StrContains(problem.message, ": images[")) {
        ++plan->dropped_images;
      }
      log->Add(problem.kind, Action::kDropped, std::move(problem.message));
    }
    plan->parsed_images += input.dataset.images.size();
    plan->parsed_annotations += input.dataset.annotations.size();
  }
  JoiningThread hasher([&] {
    for (size_t f = 0; f < texts.size(); ++f) {
      plan->inputs[f].sha256 = Sha256Hex(texts[f].contents());
    }
  });
  std::string settings = absl::StrCat(
      "splits ", plan->keep_splits ? "kept" : options.splits, "\nseed ",
      options.seed, "\nmax_size ", options.max_size, "\njpeg_quality ",
      options.jpeg_quality, "\nmax_image_pixels ", options.max_image_pixels,
      "\non_error ", options.on_error, "\njpeg_dct_scaling ",
      options.jpeg_dct_scaling ? "1" : "0", "\ncopy_unchanged ",
      options.copy_unchanged ? "1" : "0", "\n");

  // Categories: the union over the files, by id.
  std::map<int64_t, CocoCategory> categories;
  for (const InputFile& input : plan->inputs) {
    std::set<int64_t> in_file;
    for (size_t i = 0; i < input.dataset.categories.size(); ++i) {
      const CocoCategory& cat = input.dataset.categories[i];
      if (!in_file.insert(cat.id).second) {
        log->Add("duplicate_category_id", Action::kDropped,
                 absl::StrCat(input.path, ": categories[", i, "] (id ", cat.id,
                              "): duplicate category id; the first is kept"));
        continue;
      }
      const auto [it, inserted] = categories.emplace(cat.id, cat);
      if (!inserted && it->second.name != cat.name) {
        return absl::InvalidArgumentError(absl::StrCat(
            input.path, ": category ", cat.id, " is '", cat.name,
            "' here but '", it->second.name, "' in ", plan->inputs.front().path,
            "; the split files disagree"));
      }
    }
  }
  std::vector<CocoCategory> category_list;
  for (auto& [id, cat] : categories) category_list.push_back(cat);
  CVT_ASSIGN_OR_RETURN(plan->categories,
                       CategoryMap::FromCategories(std::move(category_list)));

  // Images: unique ids per file, unique output names over all files.
  // Output name -> the job that writes it.
  absl::flat_hash_map<std::string, int> claimed;
  for (size_t f = 0; f < plan->inputs.size(); ++f) {
    InputFile& input = plan->inputs[f];
    // Image id -> job index (-1: the record was dropped).
    absl::flat_hash_map<int64_t, int> job_of;
    absl::flat_hash_map<int64_t, size_t> first_record;
    for (size_t i = 0; i < input.dataset.images.size(); ++i) {
      const CocoImage& image = input.dataset.images[i];
      // Records are named by id: the parser may have skipped malformed
      // ones, so list positions would not match the file.
      std::string where = absl::StrCat(input.path, ": image id ", image.id,
                                       " ('", image.file_name, "')");
      const auto [first, fresh] = first_record.emplace(image.id, i);
      if (!fresh) {
        log->Add("duplicate_image_id", Action::kDropped,
                 absl::StrCat(where, ": duplicate image id (first used by '",
                              input.dataset.images[first->second].file_name,
                              "'); this record is dropped"));
        ++plan->dropped_images;
        continue;
      }
      const std::string name_error = FileNameError(image.file_name);
      if (!name_error.empty()) {
        log->Add("bad_file_name", Action::kDropped,
                 absl::StrCat(where, ": ", name_error));
        job_of[image.id] = -1;
        ++plan->dropped_images;
        continue;
      }
      const bool known_extension =
          FormatFromExtension(image.file_name) != ImageFormat::kUnknown;
      std::vector<std::string> extra_names;  // Names the output may take.
      if (!known_extension) {
        extra_names = {image.file_name + ".jpg", image.file_name + ".png"};
      }
      const int job_index = static_cast<int>(plan->jobs.size());
      int clash = -1;
      if (known_extension) {
        const auto [it, inserted] =
            claimed.try_emplace(image.file_name, job_index);
        if (!inserted) clash = it->second;
      } else {
        for (const std::string& name : extra_names) {
          const auto it = claimed.find(name);
          if (it != claimed.end()) clash = it->second;
        }
        if (clash < 0) {
          for (const std::string& name : extra_names) {
            claimed[name] = job_index;
          }
        }
      }
      if (clash >= 0) {
        log->Add("duplicate_file_name", Action::kDropped,
                 absl::StrCat(where, ": file_name '", image.file_name,
                              "' is already used by ", plan->jobs[clash].where,
                              "; an image may appear once (in one split)"));
        job_of[image.id] = -1;
        ++plan->dropped_images;
        continue;
      }
      Job job;
      job.input = static_cast<int>(f);
      job.where = std::move(where);
      job.image = image;
      job.source_path = absl::StrCat(input.images_dir, "/", image.file_name);
      job.out_name = image.file_name;
      job_of[image.id] = static_cast<int>(plan->jobs.size());
      plan->jobs.push_back(std::move(job));
    }
    // Annotations. Duplicate ids need a hash set unless the ids ascend
    // (as in most generated files), which one pass checks.
    bool ascending = true;
    for (size_t i = 1; i < input.dataset.annotations.size() && ascending; ++i) {
      ascending =
          input.dataset.annotations[i - 1].id < input.dataset.annotations[i].id;
    }
    absl::flat_hash_set<int64_t> ann_ids;
    if (!ascending) ann_ids.reserve(input.dataset.annotations.size());
    // Which job each accepted annotation goes to (-1: none), then one
    // counting pass to size every job's list exactly.
    std::vector<int32_t> ann_job(input.dataset.annotations.size(), -1);
    for (size_t i = 0; i < input.dataset.annotations.size(); ++i) {
      CocoAnnotation& ann = input.dataset.annotations[i];
      // Built only when needed: this loop runs once per annotation.
      auto where = [&] {
        return absl::StrCat(input.path, ": annotation id ", ann.id);
      };
      auto drop = [&](absl::string_view kind, absl::string_view why) {
        log->Add(kind, Action::kDropped, absl::StrCat(where(), ": ", why));
        ++plan->dropped_annotations;
      };
      if (!ascending && !ann_ids.insert(ann.id).second) {
        drop("duplicate_annotation_id", "duplicate annotation id");
        continue;
      }
      const auto& b = ann.bbox;
      if (!std::isfinite(b[0]) || !std::isfinite(b[1]) ||
          !std::isfinite(b[2]) || !std::isfinite(b[3])) {
        drop("bad_bbox", "bbox must be 4 finite numbers");
        continue;
      }
      if (b[2] <= 0 || b[3] <= 0) {
        drop("nonpositive_box",
             absl::StrCat("bbox width and height must be > 0, got ", b[2],
                          " x ", b[3]));
        continue;
      }
      if (plan->categories.IndexOf(ann.category_id) < 0) {
        drop("unknown_category", absl::StrCat("category_id ", ann.category_id,
                                              " is not in categories"));
        continue;
      }
      const auto job = job_of.find(ann.image_id);
      if (job == job_of.end()) {
        drop("orphan_annotation",
             absl::StrCat("image_id ", ann.image_id, " is not in images"));
        continue;
      }
      if (job->second < 0) {
        ++plan->dropped_annotations;  // With its image, already reported.
        continue;
      }
      if (!ann.iscrowd.has_value()) {
        log->Add("filled_iscrowd", Action::kFixed,
                 absl::StrCat(where(), ": no iscrowd; set to 0"));
        ann.iscrowd = 0;
      }
      ann_job[i] = job->second;
    }
    std::vector<uint32_t> count(plan->jobs.size(), 0);
    for (int32_t j : ann_job) {
      if (j >= 0) ++count[j];
    }
    for (size_t j = 0; j < plan->jobs.size(); ++j) {
      if (count[j] > 0) plan->jobs[j].annotations.reserve(count[j]);
    }
    for (size_t i = 0; i < ann_job.size(); ++i) {
      if (ann_job[i] >= 0) {
        plan->jobs[ann_job[i]].annotations.push_back(static_cast<uint32_t>(i));
      }
    }
  }
  hasher.Join();
  Sha256 fingerprint;
  fingerprint.Update("cvtools.coco_prep v1\n");
  for (const InputFile& input : plan->inputs) {
    fingerprint.Update(
        absl::StrCat("input ", input.split, " ", input.sha256, "\n"));
  }
  fingerprint.Update(settings);
  plan->fingerprint = fingerprint.HexDigest();
  return absl::OkStatus();
}

absl::Status WritePlainFile(const std::string& path, absl::string_view data) {
  const int fd =
      open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) return ErrnoStatus(errno, "open", path);
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int saved = errno;
      close(fd);
      return ErrnoStatus(saved, "write", path);
    }
    done += static_cast<size_t>(n);
  }
  if (close(fd) != 0) return ErrnoStatus(errno, "close", path);
  return absl::OkStatus();
}

// Decodes, checks, resizes, encodes and writes one image. Data problems go
// into the outcome; the returned error is for I/O failures that stop the run.
absl::StatusOr<Outcome> ProcessJob(const Job& job,
                                   const CocoPrepOptions& options,
                                   const std::string& images_out,
                                   bool sheet_tile) {
  Outcome outcome;
  outcome.done = true;
  auto fail = [&](absl::string_view kind, Action action,
                  absl::string_view message) {
    outcome.ok = false;
    outcome.failure = {std::string(kind), action,
                       absl::StrCat(message, " [", job.where, "]")};
    return outcome;
  };
  absl::StatusOr<std::string> bytes = ReadFileToString(job.source_path);
  if (!bytes.ok()) {
    if (absl::IsNotFound(bytes.status())) {
      return fail("image_missing", Action::kDropped,
                  absl::StrCat(job.source_path, ": image file not found"));
    }
    return fail("image_unreadable", Action::kDropped, bytes.status().message());
  }
  absl::StatusOr<ImageHeader> header = ReadImageHeader(*bytes, job.source_path);
  if (!header.ok()) {
    return fail("image_undecodable", Action::kDropped,
                header.status().message());
  }
  const DecodeOptions decode_options{.max_pixels = options.max_image_pixels};
  const ImageFormat named = FormatFromExtension(job.image.file_name);
  const ImageFormat content = header->format;
  // A file already in its final form is copied byte for byte: re-encoding
  // it would only lose quality. Final form: not resized, named as what it
  // is, upright, and 8-bit 3-channel without alpha (so decoding it gives
  // exactly the pixels checked here). A JPEG to copy is only verified (luma
  // decode), not decoded to colour.
  const bool final_form =
      FitSize(header->width, header->height, options.max_size) ==
          cv::Size(static_cast<int>(header->width),
                   static_cast<int>(header->height)) &&
      named == content && header->exif_orientation == 1 &&
      header->channels == 3 && !header->has_alpha && !header->palette &&
      header->bit_depth == 8;
  const bool copy = options.copy_unchanged && final_form;
  absl::Status decode_status;
  cv::Mat resized;  // Empty when copying a verified JPEG.
  if (copy && content == ImageFormat::kJpeg) {
    decode_status = VerifyImage(*bytes, job.source_path, decode_options);
  } else {
    // Decoded straight to the output size (JPEG DCT scaling where allowed).
    absl::StatusOr<DecodedImage> decoded = DecodeImageToFit(
        *bytes, job.source_path, options.max_size, decode_options,
        {.dct_scaling = options.jpeg_dct_scaling});
    decode_status = decoded.status();
    if (decoded.ok()) resized = decoded->bgr;
  }
  if (!decode_status.ok()) {
    const uint64_t pixels = static_cast<uint64_t>(header->stored_width) *
                            static_cast<uint64_t>(header->stored_height);
    const char* kind = pixels > options.max_image_pixels ? "image_too_large"
                       : !header->complete               ? "image_truncated"
                                                         : "image_undecodable";
    return fail(
        kind,
        pixels > options.max_image_pixels ? Action::kRefused : Action::kDropped,
        decode_status.message());
  }
  // The full decoded size (after EXIF orientation) is what boxes refer to;
  // decoding checked that the pixels match the header.
  const int64_t width = header->width;
  const int64_t height = header->height;
  outcome.width = width;
  outcome.height = height;
  ImageFormat out_format = named;
  outcome.out_name = job.out_name;
  if (named == ImageFormat::kUnknown) {
    out_format = content;
    outcome.out_name = absl::StrCat(
        job.out_name, content == ImageFormat::kPng ? ".png" : ".jpg");
  }
  if (named != content) {
    outcome.findings.push_back(
        {"wrong_extension", Action::kFixed,
         absl::StrCat(job.source_path, ": holds a ", ImageFormatName(content),
                      " but is named as ", ImageFormatName(named),
                      "; written as ", ImageFormatName(out_format), " ",
                      outcome.out_name)});
  }
  if (header->exif_orientation != 1) {
    outcome.findings.push_back(
        {"exif_orientation", Action::kFixed,
         absl::StrCat(job.source_path, ": EXIF orientation ",
                      header->exif_orientation, " applied (", width, "x",
                      height, " after orientation)")});
  }
  if (job.image.width == 0 || job.image.height == 0) {
    outcome.findings.push_back(
        {"missing_image_size", Action::kFixed,
         absl::StrCat(job.where, ": width/height absent or 0; decoded ", width,
                      "x", height, " used")});
  } else if (job.image.width != width || job.image.height != height) {
    outcome.findings.push_back(
        {"size_mismatch", Action::kFixed,
         absl::StrCat(job.where, ": JSON says ", job.image.width, "x",
                      job.image.height, " but the file decodes to ", width, "x",
                      height, "; the decoded size is used")});
  }
  const cv::Size out_size = FitSize(width, height, options.max_size);
  outcome.out_width = out_size.width;
  outcome.out_height = out_size.height;
  std::string encoded;
  if (copy) {
    encoded = *std::move(bytes);
    outcome.copied = true;
  } else {
    CVT_ASSIGN_OR_RETURN(encoded,
                         EncodeImage(resized, out_format,
                                     {.jpeg_quality = options.jpeg_quality}));
  }
  outcome.sha256 = Sha256Hex(encoded);
  if (sheet_tile) {
    CVT_ASSIGN_OR_RETURN(DecodedImage tile,
                         DecodeImage(encoded, outcome.out_name));
    outcome.tile = tile.bgr;
  }
  CVT_RETURN_IF_ERROR(
      WritePlainFile(absl::StrCat(images_out, "/", outcome.out_name), encoded));
  outcome.ok = true;
  return outcome;
}

// Runs ProcessJob over `indices` on `threads` threads.
absl::Status ProcessJobs(const Plan& plan, const std::vector<size_t>& indices,
                         const CocoPrepOptions& options,
                         const std::string& images_out,
                         std::vector<Outcome>* outcomes) {
  // Folders first, serially, so that workers never race on mkdir.
  std::set<std::string> dirs;
  for (size_t j : indices) {
    const fs::path parent = fs::path(plan.jobs[j].out_name).parent_path();
    if (!parent.empty()) dirs.insert(parent.string());
  }
  for (const std::string& dir : dirs) {
    std::error_code error;
    fs::create_directories(fs::path(images_out) / dir, error);
    if (error) {
      return absl::InternalError(absl::StrCat("cannot create ", images_out, "/",
                                              dir, ": ", error.message()));
    }
  }
  ProgressReporter progress("coco_prep: images",
                            static_cast<int64_t>(indices.size()),
                            {.mode = options.progress});
  std::atomic<bool> stop{false};
  absl::Mutex mutex;
  absl::Status first_error;
  ParallelFor(static_cast<int64_t>(indices.size()),
              ResolveThreads(options.threads), [&](int64_t k) {
                if (stop.load()) return;  // After the first error.
                const size_t j = indices[k];
                absl::StatusOr<Outcome> outcome =
                    ProcessJob(plan.jobs[j], options, images_out,
                               SampledForSheet(j, plan.jobs.size()));
                if (!outcome.ok()) {
                  absl::MutexLock lock(&mutex);
                  if (first_error.ok()) first_error = outcome.status();
                  stop = true;
                  return;
                }
                (*outcomes)[j] = *std::move(outcome);
                progress.Add();
              });
  progress.Finish();
  return first_error;
}

// ----- Shard files ---------------------------------------------------------

void WriteProblem(JsonWriter& json, const Problem& problem) {
  json.StartObject();
  json.Key("kind");
  json.String(problem.kind);
  json.Key("action");
  json.String(ActionName(problem.action));
  json.Key("message");
  json.String(problem.message);
  json.EndObject();
}

absl::StatusOr<std::string> ShardJson(const Plan& plan,
                                      const CocoPrepOptions& options,
                                      const std::vector<size_t>& indices,
                                      const std::vector<Outcome>& outcomes) {
  JsonWriter json({.indent = 1});
  json.StartObject();
  json.Key("format");
  json.String("cvtools.coco_prep_shard");
  json.Key("version");
  json.Int(1);
  json.Key("fingerprint");
  json.String(plan.fingerprint);
  json.Key("num_shards");
  json.Int(options.num_shards);
  json.Key("shard_index");
  json.Int(options.shard_index);
  json.Key("jobs");
  json.Int(static_cast<int64_t>(plan.jobs.size()));
  json.Key("outcomes");
  json.StartArray();
  for (size_t j : indices) {
    const Outcome& o = outcomes[j];
    json.StartObject();
    json.Key("job");
    json.Int(static_cast<int64_t>(j));
    json.Key("ok");
    json.Bool(o.ok);
    if (o.ok) {
      json.Key("width");
      json.Int(o.width);
      json.Key("height");
      json.Int(o.height);
      json.Key("out_width");
      json.Int(o.out_width);
      json.Key("out_height");
      json.Int(o.out_height);
      json.Key("out_name");
      json.String(o.out_name);
      json.Key("sha256");
      json.String(o.sha256);
      json.Key("copied");
      json.Bool(o.copied);
    } else {
      json.Key("failure");
      WriteProblem(json, o.failure);
    }
    json.Key("findings");
    json.StartArray();
    for (const Problem& p : o.findings) WriteProblem(json, p);
    json.EndArray();
    json.EndObject();
  }
  json.EndArray();
  json.EndObject();
  return json.Finish();
}

absl::StatusOr<Problem> ReadProblem(const rapidjson::Value& v,
                                    absl::string_view source) {
  Problem p;
  if (!v.IsObject() || !v.HasMember("kind") || !v["kind"].IsString() ||
      !v.HasMember("action") || !v["action"].IsString() ||
      !v.HasMember("message") || !v["message"].IsString() ||
      !ParseAction(v["action"].GetString(), &p.action)) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": malformed problem record"));
  }
  p.kind = v["kind"].GetString();
  p.message = v["message"].GetString();
  return p;
}

// Reads one shard folder's outcomes into `outcomes` and copies its images
// into `images_out`, checking their hashes.
absl::Status MergeShard(const std::string& shard_dir, const Plan& plan,
                        const std::string& images_out, int* num_shards,
                        std::set<int>* shard_indices,
                        std::vector<Outcome>* outcomes) {
  const std::string path = absl::StrCat(shard_dir, "/shard.json");
  CVT_ASSIGN_OR_RETURN(rapidjson::Document doc, ReadJsonFile(path));
  auto bad = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", what));
  };
  if (!doc.IsObject() || !doc.HasMember("format") ||
      !doc["format"].IsString() ||
      std::string(doc["format"].GetString()) != "cvtools.coco_prep_shard" ||
      !doc.HasMember("fingerprint") || !doc["fingerprint"].IsString() ||
      !doc.HasMember("num_shards") || !doc["num_shards"].IsInt() ||
      !doc.HasMember("shard_index") || !doc["shard_index"].IsInt() ||
      !doc.HasMember("outcomes") || !doc["outcomes"].IsArray()) {
    return bad("not a coco_prep shard file");
  }
  if (plan.fingerprint != doc["fingerprint"].GetString()) {
    return absl::FailedPreconditionError(absl::StrCat(
        path,
        ": this shard was made from other inputs or options than the "
        "merge (give the merge the same --annotations, --splits, "
        "--seed, --max_size, --jpeg_quality, --jpeg_dct_scaling, "
        "--copy_unchanged, --max_image_pixels and --on_error)"));
  }
  const int n = doc["num_shards"].GetInt();
  if (*num_shards == 0) *num_shards = n;
  if (n != *num_shards) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": shards disagree on --num_shards"));
  }
  if (!shard_indices->insert(doc["shard_index"].GetInt()).second) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, ": shard ", doc["shard_index"].GetInt(), " is given twice"));
  }
  for (const auto& v : doc["outcomes"].GetArray()) {
    if (!v.IsObject() || !v.HasMember("job") || !v["job"].IsInt() ||
        !v.HasMember("ok") || !v["ok"].IsBool() || !v.HasMember("findings") ||
        !v["findings"].IsArray()) {
      return bad("malformed outcome");
    }
    const int j = v["job"].GetInt();
    if (j < 0 || j >= static_cast<int>(plan.jobs.size())) {
      return bad("outcome for an unknown image");
    }
    Outcome o;
    o.done = true;
    o.ok = v["ok"].GetBool();
    for (const auto& f : v["findings"].GetArray()) {
      CVT_ASSIGN_OR_RETURN(Problem p, ReadProblem(f, path));
      o.findings.push_back(std::move(p));
    }
    if (o.ok) {
      for (const char* key : {"width", "height", "out_width", "out_height"}) {
        if (!v.HasMember(key) || !v[key].IsInt64()) {
          return bad(absl::StrCat("outcome without ", key));
        }
      }
      if (!v.HasMember("out_name") || !v["out_name"].IsString() ||
          !v.HasMember("sha256") || !v["sha256"].IsString()) {
        return bad("outcome without out_name or sha256");
      }
      o.width = v["width"].GetInt64();
      o.height = v["height"].GetInt64();
      o.out_width = v["out_width"].GetInt64();
      o.out_height = v["out_height"].GetInt64();
      o.out_name = v["out_name"].GetString();
      o.sha256 = v["sha256"].GetString();
      o.copied = v.HasMember("copied") && v["copied"].IsBool() &&
                 v["copied"].GetBool();
      const std::string source =
          absl::StrCat(shard_dir, "/images/", o.out_name);
      CVT_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(source));
      if (Sha256Hex(bytes) != o.sha256) {
        return absl::DataLossError(
            absl::StrCat(source, ": content differs from shard.json"));
      }
      const fs::path target = fs::path(images_out) / o.out_name;
      std::error_code error;
      fs::create_directories(target.parent_path(), error);
      CVT_RETURN_IF_ERROR(WritePlainFile(target.string(), bytes));
    } else {
      if (!v.HasMember("failure")) return bad("outcome without failure");
      CVT_ASSIGN_OR_RETURN(o.failure, ReadProblem(v["failure"], path));
    }
    (*outcomes)[j] = std::move(o);
  }
  return absl::OkStatus();
}

// ----- The final output ------------------------------------------------------

struct SplitOutput {
  CocoDataset dataset;
  int64_t crowd = 0;
  int64_t background = 0;
  int64_t small = 0, medium = 0, large = 0;
  std::vector<int64_t> class_annotations;
  std::vector<int64_t> class_images;
  std::vector<double> sqrt_areas;
};

// A file of the output and its hash, for SHA256SUMS.
struct WrittenFile {
  std::string relative_path;
  std::string sha256;
};

absl::Status WriteHashed(const std::string& root, const std::string& relative,
                         absl::string_view data,
                         std::vector<WrittenFile>* files) {
  CVT_RETURN_IF_ERROR(WritePlainFile(absl::StrCat(root, "/", relative), data));
  files->push_back({relative, Sha256Hex(data)});
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReportJson(
    const Plan& plan, const CocoPrepOptions& options, const ProblemLog& log,
    const std::vector<SplitOutput>& splits, int64_t images_written,
    int64_t images_copied, int64_t dropped_images, int64_t dropped_annotations,
    const std::vector<WrittenFile>& files, const std::string& content_hash) {
  JsonWriter json({.indent = 2});
  json.StartObject();
  json.Key("format");
  json.String("cvtools.coco_prep_report");
  json.Key("version");
  json.Int(1);
  json.Key("inputs");
  json.StartArray();
  for (const InputFile& input : plan.inputs) {
    json.StartObject();
    json.Key("split");
    json.String(input.split);
    json.Key("file");
    json.String(fs::path(input.path).filename().string());
    json.Key("sha256");
    json.String(input.sha256);
    json.EndObject();
  }
  json.EndArray();
  json.Key("options");
  json.StartObject();
  json.Key("splits");
  json.String(plan.keep_splits ? "kept from --annotations" : options.splits);
  json.Key("seed");
  json.Uint(options.seed);
  json.Key("max_size");
  json.Int(options.max_size);
  json.Key("jpeg_quality");
  json.Int(options.jpeg_quality);
  json.Key("max_image_pixels");
  json.Uint(options.max_image_pixels);
  json.Key("on_error");
  json.String(options.on_error);
  json.Key("jpeg_dct_scaling");
  json.Bool(options.jpeg_dct_scaling);
  json.Key("copy_unchanged");
  json.Bool(options.copy_unchanged);
  json.EndObject();
  json.Key("input");
  json.StartObject();
  json.Key("images");
  json.Int(plan.parsed_images);
  json.Key("annotations");
  json.Int(plan.parsed_annotations);
  json.Key("categories");
  json.Int(plan.categories.size());
  json.EndObject();
  json.Key("output");
  json.StartObject();
  json.Key("images");
  json.Int(images_written);
  int64_t annotations = 0;
  for (const SplitOutput& s : splits)
    annotations += s.dataset.annotations.size();
  json.Key("annotations");
  json.Int(annotations);
  json.Key("dropped_images");
  json.Int(dropped_images);
  json.Key("dropped_annotations");
  json.Int(dropped_annotations);
  json.Key("images_copied_unchanged");
  json.Int(images_copied);
  json.EndObject();
  json.Key("splits");
  json.StartObject();
  for (size_t s = 0; s < splits.size(); ++s) {
    const SplitOutput& split = splits[s];
    json.Key(plan.split_names[s]);
    json.StartObject();
    json.Key("images");
    json.Int(static_cast<int64_t>(split.dataset.images.size()));
    json.Key("annotations");
    json.Int(static_cast<int64_t>(split.dataset.annotations.size()));
    json.Key("crowd_annotations");
    json.Int(split.crowd);
    json.Key("background_images");
    json.Int(split.background);
    json.Key("box_sizes");
    json.StartObject();
    json.Key("small");
    json.Int(split.small);
    json.Key("medium");
    json.Int(split.medium);
    json.Key("large");
    json.Int(split.large);
    json.EndObject();
    json.Key("classes");
    json.StartArray();
    for (int c = 0; c < plan.categories.size(); ++c) {
      json.StartObject();
      json.Key("id");
      json.Int(plan.categories.IdAt(c));
      json.Key("name");
      json.String(plan.categories.NameAt(c));
      json.Key("annotations");
      json.Int(split.class_annotations[c]);
      json.Key("images");
      json.Int(split.class_images[c]);
      json.EndObject();
    }
    json.EndArray();
    json.EndObject();
  }
  json.EndObject();
  json.Key("problems");
  json.StartObject();
  json.Key("fixed");
  json.Int(log.total(Action::kFixed));
  json.Key("dropped");
  json.Int(log.total(Action::kDropped));
  json.Key("refused");
  json.Int(log.total(Action::kRefused));
  json.Key("by_kind");
  json.StartArray();
  for (const auto& [kind, info] : log.kinds()) {
    json.StartObject();
    json.Key("kind");
    json.String(kind);
    json.Key("action");
    json.String(ActionName(info.action));
    json.Key("count");
    json.Int(info.count);
    json.Key("examples");
    json.StartArray();
    for (const std::string& example : info.examples) json.String(example);
    json.EndArray();
    json.EndObject();
  }
  json.EndArray();
  json.EndObject();
  json.Key("files");
  json.Int(static_cast<int64_t>(files.size()));
  json.Key("content_hash");
  json.String(absl::StrCat("sha256:", content_hash));
  json.EndObject();
  return json.Finish();
}

// Builds the annotation files, plots, report and SHA256SUMS in `root` from
// the plan and every image's outcome.
absl::Status WriteFinalOutput(const Plan& plan, const CocoPrepOptions& options,
                              const std::vector<Outcome>& outcomes,
                              const std::string& root, ProblemLog* log,
                              std::string* summary) {
  const int num_categories = plan.categories.size();
  int64_t dropped_images = plan.dropped_images;
  int64_t dropped_annotations = plan.dropped_annotations;
  // Final records of every written image, in job order.
  struct Kept {
    size_t job;
    CocoImage image;
    std::vector<CocoAnnotation> annotations;
  };
  std::vector<Kept> kept;
  for (size_t j = 0; j < plan.jobs.size(); ++j) {
    const Job& job = plan.jobs[j];
    const Outcome& o = outcomes[j];
    for (const Problem& p : o.findings) log->Add(p);
    if (!o.ok) {
      log->Add(o.failure);
      ++dropped_images;
      dropped_annotations += job.annotations.size();
      continue;
    }
    Kept k;
    k.job = j;
    k.image = job.image;
    k.image.file_name = o.out_name;
    k.image.width = o.out_width;
    k.image.height = o.out_height;
    const double sx = static_cast<double>(o.out_width) / o.width;
    const double sy = static_cast<double>(o.out_height) / o.height;
    for (uint32_t index : job.annotations) {
      CocoAnnotation ann = plan.inputs[job.input].dataset.annotations[index];
      const std::string where =
          absl::StrCat(plan.inputs[job.input].path, ": annotation id ", ann.id,
                       " (image id ", job.image.id, ")");
      const double x0 = std::clamp(ann.bbox[0], 0.0, double(o.width));
      const double y0 = std::clamp(ann.bbox[1], 0.0, double(o.height));
      const double x1 =
          std::clamp(ann.bbox[0] + ann.bbox[2], 0.0, double(o.width));
      const double y1 =
          std::clamp(ann.bbox[1] + ann.bbox[3], 0.0, double(o.height));
      const bool clipped = x0 != ann.bbox[0] || y0 != ann.bbox[1] ||
                           x1 != ann.bbox[0] + ann.bbox[2] ||
                           y1 != ann.bbox[1] + ann.bbox[3];
      if (clipped) {
        if (x1 - x0 <= 0 || y1 - y0 <= 0) {
          log->Add("box_outside_image", Action::kDropped,
                   absl::StrFormat("%s: bbox [%g, %g, %g, %g] lies outside "
                                   "the %dx%d image",
                                   where, ann.bbox[0], ann.bbox[1], ann.bbox[2],
                                   ann.bbox[3], o.width, o.height));
          ++dropped_annotations;
          continue;
        }
        log->Add("box_clipped", Action::kFixed,
                 absl::StrFormat("%s: bbox [%g, %g, %g, %g] clipped to the "
                                 "%dx%d image",
                                 where, ann.bbox[0], ann.bbox[1], ann.bbox[2],
                                 ann.bbox[3], o.width, o.height));
        ann.bbox = {x0, y0, x1 - x0, y1 - y0};
      }
      std::array<double, 4> scaled = ann.bbox;
      if (sx != 1.0 || sy != 1.0) {
        scaled = {ann.bbox[0] * sx, ann.bbox[1] * sy, ann.bbox[2] * sx,
                  ann.bbox[3] * sy};
      }
      if (!ann.area.has_value()) {
        log->Add("filled_area", Action::kFixed,
                 absl::StrCat(where, ": no area; set to the box area"));
        ann.area = scaled[2] * scaled[3];
      } else if (clipped) {
        ann.area = scaled[2] * scaled[3];
      } else if (sx != 1.0 || sy != 1.0) {
        ann.area = *ann.area * sx * sy;
      }
      ann.bbox = scaled;
      k.annotations.push_back(ann);
    }
    kept.push_back(std::move(k));
  }
  if (options.on_error == "fail") CVT_RETURN_IF_ERROR(log->FailIfBlocking());

  // Split assignment.
  std::vector<int> split_of(kept.size(), 0);
  if (plan.keep_splits) {
    for (size_t i = 0; i < kept.size(); ++i) {
      split_of[i] = plan.jobs[kept[i].job].input;
    }
  } else {
    std::vector<SplitItem> items(kept.size());
    for (size_t i = 0; i < kept.size(); ++i) {
      items[i].key = kept[i].image.file_name;
      for (const CocoAnnotation& ann : kept[i].annotations) {
        items[i].categories.push_back(plan.categories.IndexOf(ann.category_id));
      }
    }
    split_of = AssignSplits(items, num_categories, plan.specs, options.seed);
  }
  std::vector<SplitOutput> splits(plan.split_names.size());
  for (size_t s = 0; s < splits.size(); ++s) {
    SplitOutput& split = splits[s];
    const InputFile& source = plan.inputs[plan.keep_splits ? s : 0];
    split.dataset.info_json = source.dataset.info_json;
    split.dataset.licenses_json = source.dataset.licenses_json;
    split.dataset.categories = plan.categories.categories();
    split.class_annotations.assign(num_categories, 0);
    split.class_images.assign(num_categories, 0);
  }
  for (size_t i = 0; i < kept.size(); ++i) {
    SplitOutput& split = splits[split_of[i]];
    split.dataset.images.push_back(kept[i].image);
    if (kept[i].annotations.empty()) ++split.background;
    std::set<int> present;
    for (const CocoAnnotation& ann : kept[i].annotations) {
      const int c = plan.categories.IndexOf(ann.category_id);
      ++split.class_annotations[c];
      present.insert(c);
      if (ann.iscrowd.value_or(0) != 0) ++split.crowd;
      const double area = ann.area.value_or(0);
      if (area < 32.0 * 32.0) {
        ++split.small;
      } else if (area < 96.0 * 96.0) {
        ++split.medium;
      } else {
        ++split.large;
      }
      split.sqrt_areas.push_back(std::sqrt(std::max(0.0, area)));
      split.dataset.annotations.push_back(ann);
    }
    for (int c : present) ++split.class_images[c];
  }

  // The contact sheet is drawn on a thread of its own while the rest is
  // written.
  std::vector<SheetTile> tiles;
  for (size_t i = 0; i < kept.size(); ++i) {
    const size_t j = kept[i].job;
    if (!SampledForSheet(j, plan.jobs.size())) continue;
    SheetTile tile;
    tile.image = outcomes[j].tile;
    if (tile.image.empty()) {
      const std::string path =
          absl::StrCat(root, "/images/", kept[i].image.file_name);
      CVT_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
      CVT_ASSIGN_OR_RETURN(DecodedImage decoded, DecodeImage(bytes, path));
      tile.image = decoded.bgr;
    }
    tile.caption = absl::StrCat(plan.split_names[split_of[i]], ": ",
                                kept[i].image.file_name);
    for (const CocoAnnotation& ann : kept[i].annotations) {
      const int c = plan.categories.IndexOf(ann.category_id);
      tile.boxes.push_back({ann.bbox, c, plan.categories.NameAt(c)});
    }
    tiles.push_back(std::move(tile));
  }
  absl::StatusOr<std::string> sheet;
  JoiningThread sheet_thread([&] { sheet = ContactSheetPng(tiles); });

  std::vector<WrittenFile> files;
  int64_t images_copied = 0;
  for (const Outcome& o : outcomes) {
    if (!o.ok) continue;
    files.push_back({absl::StrCat("images/", o.out_name), o.sha256});
    images_copied += o.copied;
  }
  for (const char* dir : {"annotations", "plots"}) {
    std::error_code error;
    fs::create_directories(fs::path(root) / dir, error);
    if (error) {
      return absl::InternalError(absl::StrCat("cannot create ", root, "/", dir,
                                              ": ", error.message()));
    }
  }
  for (size_t s = 0; s < splits.size(); ++s) {
    CVT_RETURN_IF_ERROR(WriteHashed(
        root, absl::StrCat("annotations/", plan.split_names[s], ".json"),
        CocoDatasetToJson(splits[s].dataset), &files));
  }
  CVT_RETURN_IF_ERROR(
      WriteHashed(root, "categories.json", plan.categories.ToJson(), &files));

  // Plots.
  std::vector<std::string> names;
  for (const CocoCategory& cat : plan.categories.categories()) {
    names.push_back(cat.name);
  }
  for (size_t s = 0; s < splits.size(); ++s) {
    CVT_ASSIGN_OR_RETURN(
        std::string png,
        ClassHistogramPng(
            absl::StrCat("boxes per class: ", plan.split_names[s], " (",
                         splits[s].dataset.images.size(), " images)"),
            names, splits[s].class_annotations));
    CVT_RETURN_IF_ERROR(WriteHashed(
        root,
        absl::StrCat("plots/class_histogram_", plan.split_names[s], ".png"),
        png, &files));
  }
  std::vector<std::vector<double>> sqrt_areas;
  for (const SplitOutput& s : splits) sqrt_areas.push_back(s.sqrt_areas);
  CVT_ASSIGN_OR_RETURN(std::string box_png,
                       BoxSizeHistogramPng(plan.split_names, sqrt_areas));
  CVT_RETURN_IF_ERROR(
      WriteHashed(root, "plots/box_size_histogram.png", box_png, &files));
  sheet_thread.Join();
  CVT_RETURN_IF_ERROR(sheet.status());
  CVT_RETURN_IF_ERROR(
      WriteHashed(root, "plots/contact_sheet.png", *sheet, &files));

  // SHA256SUMS over everything but itself and report.json; its hash is the
  // content hash.
  std::sort(files.begin(), files.end(),
            [](const WrittenFile& a, const WrittenFile& b) {
              return a.relative_path < b.relative_path;
            });
  std::string sums;
  for (const WrittenFile& f : files) {
    absl::StrAppend(&sums, f.sha256, "  ", f.relative_path, "\n");
  }
  CVT_RETURN_IF_ERROR(WritePlainFile(absl::StrCat(root, "/SHA256SUMS"), sums));
  const std::string content_hash = Sha256Hex(sums);
  CVT_ASSIGN_OR_RETURN(
      std::string report,
      ReportJson(plan, options, *log, splits, static_cast<int64_t>(kept.size()),
                 images_copied, dropped_images, dropped_annotations, files,
                 content_hash));
  CVT_RETURN_IF_ERROR(
      WritePlainFile(absl::StrCat(root, "/report.json"), report));

  // The summary.
  std::vector<std::string> per_split;
  int64_t boxes = 0;
  for (size_t s = 0; s < splits.size(); ++s) {
    per_split.push_back(absl::StrCat(plan.split_names[s], " ",
                                     splits[s].dataset.images.size()));
    boxes += splits[s].dataset.annotations.size();
  }
  *summary =
      absl::StrCat(kept.size(), " images (", absl::StrJoin(per_split, ", "),
                   "), ", boxes, " boxes, ", num_categories,
                   " classes; problems: ", log->total(Action::kFixed),
                   " fixed, ", log->total(Action::kDropped), " dropped, ",
                   log->total(Action::kRefused), " refused; ", dropped_images,
                   " images and ", dropped_annotations, " boxes left out\n");
  for (const auto& [kind, info] : log->kinds()) {
    absl::StrAppend(summary, "  ", kind, " (", ActionName(info.action),
                    "): ", info.count, "\n");
  }
  absl::StrAppend(summary, "  content hash sha256:", content_hash, "\n");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<AnnotationCheck> CheckCocoPrepAnnotations(
    const CocoPrepOptions& options) {
  CVT_RETURN_IF_ERROR(CheckOptions(options, /*need_out=*/false));
  Plan plan;
  ProblemLog log;
  CVT_RETURN_IF_ERROR(BuildPlan(options, &plan, &log));
  AnnotationCheck check;
  check.images = plan.parsed_images;
  check.annotations = plan.parsed_annotations;
  check.fixed = log.total(Action::kFixed);
  check.dropped = log.total(Action::kDropped);
  check.images_to_decode = static_cast<int64_t>(plan.jobs.size());
  for (const auto& [kind, info] : log.kinds()) {
    check.by_kind.push_back({kind, info.count});
  }
  return check;
}

absl::Status RunCocoPrep(const CocoPrepOptions& options) {
  CVT_RETURN_IF_ERROR(CheckOptions(options, !options.validate_only));
  std::ostream& out = options.out_stream ? *options.out_stream : std::cout;
  std::ostream& err = options.err_stream ? *options.err_stream : std::cerr;
  Plan plan;
  ProblemLog log;
  CVT_RETURN_IF_ERROR(BuildPlan(options, &plan, &log));
  const bool fail_mode = options.on_error == "fail";
  if (fail_mode) CVT_RETURN_IF_ERROR(log.FailIfBlocking());
  if (options.validate_only) {
    err << "coco_prep: checked " << plan.parsed_images << " images and "
        << plan.parsed_annotations
        << " annotations without reading images: " << log.total(Action::kFixed)
        << " fixed, " << log.total(Action::kDropped) << " dropped; "
        << plan.jobs.size() << " images would be decoded\n";
    for (const auto& [kind, info] : log.kinds()) {
      err << "  " << kind << " (" << ActionName(info.action)
          << "): " << info.count << "\n";
      for (const std::string& example : info.examples) {
        err << "    " << example << "\n";
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<StagingDir>> created =
      StagingDir::Create(options.out_dir);
  if (!created.ok()) return Annotate(created.status(), "--out");
  std::unique_ptr<StagingDir> staging = *std::move(created);
  const std::string images_out = absl::StrCat(staging->path(), "/images");
  std::error_code error;
  fs::create_directory(images_out, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot create ", images_out, ": ", error.message()));
  }
  std::vector<Outcome> outcomes(plan.jobs.size());
  const bool sharded = options.num_shards > 1;
  if (options.merge_shards.empty()) {
    std::vector<size_t> indices;
    for (size_t j = 0; j < plan.jobs.size(); ++j) {
      if (static_cast<int>(j % options.num_shards) == options.shard_index) {
        indices.push_back(j);
      }
    }
    CVT_RETURN_IF_ERROR(
        ProcessJobs(plan, indices, options, images_out, &outcomes));
    if (sharded) {
      if (fail_mode) {
        ProblemLog shard_log;
        for (size_t j : indices) {
          if (!outcomes[j].ok) shard_log.Add(outcomes[j].failure);
        }
        CVT_RETURN_IF_ERROR(shard_log.FailIfBlocking());
      }
      CVT_ASSIGN_OR_RETURN(std::string shard,
                           ShardJson(plan, options, indices, outcomes));
      CVT_RETURN_IF_ERROR(
          WritePlainFile(absl::StrCat(staging->path(), "/shard.json"), shard));
      CVT_RETURN_IF_ERROR(staging->Commit());
      int64_t ok = 0;
      for (size_t j : indices) ok += outcomes[j].ok;
      err << "coco_prep: shard " << options.shard_index << " of "
          << options.num_shards << ": " << ok << " of " << indices.size()
          << " images written to " << options.out_dir
          << "; combine the shards with --merge_shards\n";
      out << options.out_dir << "/shard.json\n";
      return absl::OkStatus();
    }
  } else {
    int num_shards = 0;
    std::set<int> indices;
    for (const std::string& shard_dir : options.merge_shards) {
      CVT_RETURN_IF_ERROR(MergeShard(shard_dir, plan, images_out, &num_shards,
                                     &indices, &outcomes));
    }
    for (size_t j = 0; j < outcomes.size(); ++j) {
      if (!outcomes[j].done) {
        return absl::FailedPreconditionError(
            absl::StrCat("--merge_shards: no shard has ", plan.jobs[j].where,
                         " (shard index ", j % std::max(1, num_shards), " of ",
                         num_shards, " missing?)"));
      }
    }
  }
  std::string summary;
  CVT_RETURN_IF_ERROR(WriteFinalOutput(plan, options, outcomes, staging->path(),
                                       &log, &summary));
  CVT_RETURN_IF_ERROR(staging->Commit());
  err << "coco_prep: wrote " << options.out_dir << ": " << summary;
  out << options.out_dir << "/report.json\n";
  return absl::OkStatus();
}

}  // namespace cvt
