#include "tools/coco_prep/coco_prep.h"

#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/file_io.h"
#include "libs/base/json.h"
#include "libs/base/status_matchers.h"
#include "libs/base/testdata.h"
#include "libs/coco/category_map.h"
#include "libs/coco/coco.h"
#include "libs/data/image_io.h"
#include "libs/data/test_images.h"
#include "opencv2/core.hpp"

namespace cvt {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// A 64x48 JPEG (or PNG) with a gradient, so re-encoding has work to do.
cv::Mat Gradient(int w = 64, int h = 48) {
  cv::Mat image(h, w, CV_8UC3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      image.at<cv::Vec3b>(y, x) = cv::Vec3b(x * 4 % 256, y * 5 % 256, 128);
    }
  }
  return image;
}

std::string ImageJson(int id, const std::string& file, int w = 64, int h = 48) {
  return absl::StrCat(R"({"id": )", id, R"(, "file_name": ")", file,
                      R"(", "width": )", w, R"(, "height": )", h, "}");
}

std::string AnnJson(int id, int image_id, int category_id,
                    const std::string& bbox, const std::string& extra = "") {
  return absl::StrCat(R"({"id": )", id, R"(, "image_id": )", image_id,
                      R"(, "category_id": )", category_id, R"(, "bbox": )",
                      bbox, extra, "}");
}

constexpr char kCategories[] =
    R"([{"id": 1, "name": "cat", "supercategory": "animal"},
        {"id": 7, "name": "dog", "supercategory": "animal"}])";

std::string CocoJson(const std::vector<std::string>& images,
                     const std::vector<std::string>& annotations,
                     const std::string& categories = kCategories) {
  return absl::StrCat(R"({"images": [)", absl::StrJoin(images, ", "),
                      R"(], "annotations": [)",
                      absl::StrJoin(annotations, ", "), R"(], "categories": )",
                      categories, "}");
}

// A scratch folder per test.
std::string Scratch(const std::string& name) {
  const std::string dir = TestTempPath(name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

struct RunResult {
  absl::Status status;
  std::string out;
  std::string err;
};

RunResult RunPrep(CocoPrepOptions options) {
  std::ostringstream out, err;
  options.out_stream = &out;
  options.err_stream = &err;
  options.progress = ProgressMode::kNone;
  RunResult run;
  run.status = RunCocoPrep(options);
  run.out = out.str();
  run.err = err.str();
  return run;
}

rapidjson::Document Report(const std::string& out_dir) {
  auto doc = ReadJsonFile(out_dir + "/report.json");
  EXPECT_THAT(doc, IsOk());
  return doc.ok() ? *std::move(doc) : rapidjson::Document();
}

// count and action of `kind` in a report, or {0, ""}.
std::pair<int64_t, std::string> Kind(const rapidjson::Document& report,
                                     const std::string& kind) {
  for (const auto& k : report["problems"]["by_kind"].GetArray()) {
    if (kind == k["kind"].GetString()) {
      return {k["count"].GetInt64(), k["action"].GetString()};
    }
  }
  return {0, ""};
}

std::string Examples(const rapidjson::Document& report,
                     const std::string& kind) {
  std::string all;
  for (const auto& k : report["problems"]["by_kind"].GetArray()) {
    if (kind != k["kind"].GetString()) continue;
    for (const auto& e : k["examples"].GetArray()) {
      absl::StrAppend(&all, e.GetString(), "\n");
    }
  }
  return all;
}

// Every file below `dir` with its contents.
std::map<std::string, std::string> Tree(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    files[fs::relative(entry.path(), dir).string()] =
        *ReadFileToString(entry.path().string());
  }
  return files;
}

// Nothing but `keep` in `dir` (no stray temporary folders).
std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// A clean 6-image data set: 5 with boxes, 1 background, 1 crowd box.
struct CleanSet {
  std::string root;
  std::string images;
  std::string json;
};

CleanSet MakeCleanSet(const std::string& name, int n = 6) {
  CleanSet set;
  set.root = Scratch(name);
  set.images = set.root + "/images";
  std::vector<std::string> images, anns;
  for (int i = 1; i <= n; ++i) {
    const std::string file = absl::StrCat("img", i, ".jpg");
    WriteFileForTest(set.images + "/" + file, EncodeJpegForTest(Gradient()));
    images.push_back(ImageJson(i, file));
    if (i == n) continue;  // Background image.
    anns.push_back(AnnJson(10 * i, i, i % 2 == 0 ? 7 : 1, "[8, 4, 32, 24]",
                           R"(, "area": 700.5, "iscrowd": 0)"));
    anns.push_back(AnnJson(10 * i + 1, i, 1, "[0, 0, 16, 16]",
                           i == 1 ? R"(, "area": 256, "iscrowd": 1)"
                                  : R"(, "area": 256, "iscrowd": 0)"));
  }
  set.json = set.root + "/instances.json";
  WriteFileForTest(set.json, CocoJson(images, anns));
  return set;
}

CocoPrepOptions Options(const CleanSet& set, const std::string& out) {
  CocoPrepOptions options;
  options.images = {set.images};
  options.annotations = {set.json};
  options.out_dir = out;
  options.threads = 2;
  return options;
}

TEST(CocoPrepTest, RejectsBadOptions) {
  CocoPrepOptions options;
  EXPECT_THAT(RunCocoPrep(options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--images is required")));
  options.images = {"i"};
  options.annotations = {"a.json"};
  options.out_dir = "o";
  options.on_error = "ignore";
  EXPECT_THAT(RunCocoPrep(options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--on_error must be 'skip' or 'fail'")));
  options.on_error = "skip";
  options.num_shards = 2;
  options.shard_index = 2;
  EXPECT_THAT(RunCocoPrep(options), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("--shard_index")));
  options.num_shards = 1;
  options.shard_index = 0;
  options.annotations = {"a.json", "b.json"};
  EXPECT_THAT(RunCocoPrep(options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("several files need split names")));
}

TEST(CocoPrepTest, MissingInputsAreNotFound) {
  const CleanSet set = MakeCleanSet("missing_inputs");
  CocoPrepOptions options = Options(set, set.root + "/out");
  options.annotations = {set.root + "/nope.json"};
  EXPECT_THAT(RunPrep(options).status,
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nope.json")));
  options = Options(set, set.root + "/out");
  options.images = {set.root + "/no_such_dir"};
  EXPECT_THAT(RunPrep(options).status,
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no_such_dir")));
  EXPECT_FALSE(fs::exists(set.root + "/out"));
}

TEST(CocoPrepTest, MalformedJsonIsInvalidArgumentNamingTheFile) {
  const CleanSet set = MakeCleanSet("malformed");
  WriteFileForTest(set.json, R"({"images": [)");
  EXPECT_THAT(RunPrep(Options(set, set.root + "/out")).status,
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("instances.json:1:")));
  WriteFileForTest(set.json, R"({"annotations": [], "categories": []})");
  EXPECT_THAT(RunPrep(Options(set, set.root + "/out")).status,
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("missing key \"images\"")));
  EXPECT_FALSE(fs::exists(set.root + "/out"));
}

TEST(CocoPrepTest, WritesTheOutputFolder) {
  const CleanSet set = MakeCleanSet("clean");
  CocoPrepOptions options = Options(set, set.root + "/out");
  options.splits = "train=0.5,val=0.5";
  options.max_size = 32;
  const RunResult run = RunPrep(options);
  ASSERT_THAT(run.status, IsOk()) << run.err;
  const std::string out = set.root + "/out";
  EXPECT_EQ(run.out, out + "/report.json\n");
  EXPECT_THAT(run.err, HasSubstr("6 images (train 3, val 3), 10 boxes"));
  EXPECT_THAT(Entries(out),
              ElementsAre("SHA256SUMS", "annotations", "categories.json",
                          "images", "plots", "report.json"));
  EXPECT_THAT(Entries(out + "/plots"),
              ElementsAre("box_size_histogram.png", "class_histogram_train.png",
                          "class_histogram_val.png", "contact_sheet.png"));
  EXPECT_THAT(Entries(set.root),
              ElementsAre("images", "instances.json", "out"));

  // Images: 64x48 -> 32x24, real JPEGs.
  auto bytes = ReadFileToString(out + "/images/img1.jpg");
  ASSERT_THAT(bytes, IsOk());
  auto image = DecodeImage(*bytes, "img1.jpg");
  ASSERT_THAT(image, IsOk());
  EXPECT_EQ(image->header.format, ImageFormat::kJpeg);
  EXPECT_EQ(image->bgr.cols, 32);
  EXPECT_EQ(image->bgr.rows, 24);

  // Annotations: both splits together hold everything, scaled by 0.5.
  int images = 0, anns = 0, crowd = 0, background = 0;
  for (const char* split : {"train", "val"}) {
    auto data =
        ReadCocoDataset(absl::StrCat(out, "/annotations/", split, ".json"));
    ASSERT_THAT(data, IsOk());
    ASSERT_EQ(data->categories.size(), 2u);
    EXPECT_EQ(data->categories[1].id, 7);
    images += data->images.size();
    for (const CocoImage& img : data->images) {
      EXPECT_EQ(img.width, 32);
      EXPECT_EQ(img.height, 24);
      bool any = false;
      for (const CocoAnnotation& a : data->annotations) {
        any |= a.image_id == img.id;
      }
      background += !any;
    }
    for (const CocoAnnotation& a : data->annotations) {
      ++anns;
      crowd += a.iscrowd.value_or(0);
      if (a.id % 10 == 0) {
        EXPECT_THAT(a.bbox, ElementsAre(4, 2, 16, 12));
        EXPECT_DOUBLE_EQ(*a.area, 700.5 / 4);
      } else {
        EXPECT_THAT(a.bbox, ElementsAre(0, 0, 8, 8));
        EXPECT_DOUBLE_EQ(*a.area, 64);
      }
    }
  }
  EXPECT_EQ(images, 6);
  EXPECT_EQ(anns, 10);
  EXPECT_EQ(crowd, 1);
  EXPECT_EQ(background, 1);

  auto map = CategoryMap::Read(out + "/categories.json");
  ASSERT_THAT(map, IsOk());
  EXPECT_EQ(map->size(), 2);
  EXPECT_EQ(map->IndexOf(7), 1);

  const rapidjson::Document report = Report(out);
  EXPECT_EQ(report["output"]["images"].GetInt(), 6);
  EXPECT_EQ(report["output"]["annotations"].GetInt(), 10);
  EXPECT_EQ(report["problems"]["dropped"].GetInt(), 0);
  EXPECT_EQ(report["output"]["images_copied_unchanged"].GetInt(), 0);
  int64_t small = 0, medium = 0, background_images = 0;
  for (const char* split : {"train", "val"}) {
    small += report["splits"][split]["box_sizes"]["small"].GetInt64();
    medium += report["splits"][split]["box_sizes"]["medium"].GetInt64();
    background_images +=
        report["splits"][split]["background_images"].GetInt64();
  }
  EXPECT_EQ(small, 10);  // 175 and 64 square pixels after scaling.
  EXPECT_EQ(medium, 0);
  EXPECT_EQ(background_images, 1);

  // SHA256SUMS lists every file but itself and report.json, and the content
  // hash is its hash.
  auto sums = ReadFileToString(out + "/SHA256SUMS");
  ASSERT_THAT(sums, IsOk());
  EXPECT_THAT(*sums, HasSubstr("  images/img6.jpg\n"));
  EXPECT_THAT(*sums, HasSubstr("  annotations/val.json\n"));
  EXPECT_THAT(*sums, HasSubstr("  plots/contact_sheet.png\n"));
  EXPECT_THAT(*sums, Not(HasSubstr("report.json")));
  const std::string hash = report["content_hash"].GetString();
  EXPECT_EQ(hash.size(), std::string("sha256:").size() + 64);
}

TEST(CocoPrepTest, CopiesImagesAlreadyInFinalForm) {
  const CleanSet set = MakeCleanSet("copy_unchanged");
  const std::string source = *ReadFileToString(set.images + "/img1.jpg");
  CocoPrepOptions options = Options(set, set.root + "/copied");
  ASSERT_THAT(RunPrep(options).status, IsOk());
  EXPECT_EQ(*ReadFileToString(options.out_dir + "/images/img1.jpg"), source);
  EXPECT_EQ(
      Report(options.out_dir)["output"]["images_copied_unchanged"].GetInt(), 6);
  // Re-encoded on request: other bytes, nearly the same pixels.
  options.out_dir = set.root + "/encoded";
  options.copy_unchanged = false;
  ASSERT_THAT(RunPrep(options).status, IsOk());
  const std::string encoded =
      *ReadFileToString(options.out_dir + "/images/img1.jpg");
  EXPECT_NE(encoded, source);
  auto a = DecodeImage(encoded, "a.jpg");
  auto b = DecodeImage(source, "b.jpg");
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_LT(cv::norm(a->bgr, b->bgr, cv::NORM_INF), 16);
  EXPECT_EQ(
      Report(options.out_dir)["output"]["images_copied_unchanged"].GetInt(), 0);
}

TEST(CocoPrepTest, SameInputsGiveByteIdenticalOutputs) {
  const CleanSet set = MakeCleanSet("determinism", 12);
  CocoPrepOptions options = Options(set, set.root + "/a");
  options.max_size = 40;
  options.seed = 5;
  ASSERT_THAT(RunPrep(options).status, IsOk());
  options.out_dir = set.root + "/b";
  options.threads = 1;
  ASSERT_THAT(RunPrep(options).status, IsOk());
  options.out_dir = set.root + "/c";
  options.threads = 4;
  ASSERT_THAT(RunPrep(options).status, IsOk());
  const auto a = Tree(set.root + "/a");
  EXPECT_EQ(a.size(), 12u + 3 + 1 + 5 + 2);
  EXPECT_EQ(a, Tree(set.root + "/b"));
  EXPECT_EQ(a, Tree(set.root + "/c"));
  // Another seed gives another split, hence another content hash.
  options.out_dir = set.root + "/d";
  options.seed = 6;
  ASSERT_THAT(RunPrep(options).status, IsOk());
  EXPECT_NE(a.at("report.json"), Tree(set.root + "/d").at("report.json"));
}

TEST(CocoPrepTest, ShardsMergeIntoTheSingleTaskOutput) {
  const CleanSet set = MakeCleanSet("shards", 11);
  CocoPrepOptions options = Options(set, set.root + "/single");
  options.max_size = 40;
  ASSERT_THAT(RunPrep(options).status, IsOk());
  std::vector<std::string> shards;
  for (int i = 0; i < 3; ++i) {
    CocoPrepOptions shard = options;
    shard.out_dir = absl::StrCat(set.root, "/shard", i);
    shard.num_shards = 3;
    shard.shard_index = i;
    const RunResult run = RunPrep(shard);
    ASSERT_THAT(run.status, IsOk());
    EXPECT_EQ(run.out, shard.out_dir + "/shard.json\n");
    shards.push_back(shard.out_dir);
  }
  // Shard 1 holds images 2, 5, 8 and 11 (positions 1, 4, 7, 10).
  EXPECT_THAT(Entries(shards[1] + "/images"),
              ElementsAre("img11.jpg", "img2.jpg", "img5.jpg", "img8.jpg"));
  CocoPrepOptions merge = options;
  merge.out_dir = set.root + "/merged";
  merge.merge_shards = {shards[2], shards[0], shards[1]};
  ASSERT_THAT(RunPrep(merge).status, IsOk());
  EXPECT_EQ(Tree(set.root + "/single"), Tree(set.root + "/merged"));

  // A missing shard, or a shard made with other options, is refused.
  merge.out_dir = set.root + "/partial";
  merge.merge_shards = {shards[0], shards[1]};
  EXPECT_THAT(RunPrep(merge).status,
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("no shard has")));
  merge.merge_shards = {shards[0], shards[1], shards[2]};
  merge.max_size = 30;
  EXPECT_THAT(RunPrep(merge).status,
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("other inputs or options")));
  EXPECT_FALSE(fs::exists(set.root + "/partial"));
}

TEST(CocoPrepTest, NeverOverwritesAndLeavesNothingHalfWritten) {
  const CleanSet set = MakeCleanSet("crash_safe");
  const std::string out = set.root + "/out";
  fs::create_directories(out);
  WriteFileForTest(out + "/keep.txt", "mine");
  EXPECT_THAT(
      RunPrep(Options(set, out)).status,
      StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("already exists")));
  EXPECT_THAT(Entries(out), ElementsAre("keep.txt"));

  // A write that fails half-way (images/a.jpg is needed both as a file, from
  // the train folder, and as the folder of a.jpg/b.jpg, from the val folder)
  // leaves neither the output nor the temporary folder behind.
  const std::string root = Scratch("crash_midway");
  WriteFileForTest(root + "/t/a.jpg", EncodeJpegForTest(Gradient()));
  WriteFileForTest(root + "/v/a.jpg/b.jpg", EncodeJpegForTest(Gradient()));
  WriteFileForTest(root + "/train.json", CocoJson({ImageJson(1, "a.jpg")}, {}));
  WriteFileForTest(root + "/val.json",
                   CocoJson({ImageJson(1, "a.jpg/b.jpg")}, {}));
  CocoPrepOptions options;
  options.images = {"train=" + root + "/t", "val=" + root + "/v"};
  options.annotations = {"train=" + root + "/train.json",
                         "val=" + root + "/val.json"};
  options.out_dir = root + "/out";
  options.threads = 1;
  const RunResult run = RunPrep(options);
  EXPECT_FALSE(run.status.ok());
  EXPECT_THAT(run.status.message(), HasSubstr("a.jpg"));
  EXPECT_THAT(Entries(root), ElementsAre("t", "train.json", "v", "val.json"));
}

// A data set with one instance of every problem coco_prep knows.
class MessyDatasetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = Scratch("messy");
    const std::string images = root_ + "/images";
    const std::string jpeg = EncodeJpegForTest(Gradient());
    WriteFileForTest(images + "/ok.jpg", jpeg);
    WriteFileForTest(images + "/png_named.jpg", EncodePngForTest(Gradient()));
    WriteFileForTest(images + "/rgba.png",
                     MakePngForTest(2, 2, 6, 8,
                                    {0, 255, 0, 0, 255, 255, 0, 0, 0,  //
                                     0, 255, 0, 0, 255, 255, 0, 0, 0}));
    WriteFileForTest(images + "/truncated.jpg",
                     jpeg.substr(0, jpeg.size() / 2));
    WriteFileForTest(images + "/garbage.jpg", "this is not an image");
    WriteFileForTest(images + "/big.jpg",
                     EncodeJpegForTest(Gradient(200, 150)));
    WriteFileForTest(images + "/wrong_size.jpg", jpeg);
    WriteFileForTest(images + "/nosize.jpg", jpeg);
    WriteFileForTest(images + "/rotated.jpg",
                     WithExifOrientationForTest(jpeg, 6));
    WriteFileForTest(images + "/dup_name.jpg", jpeg);
    const std::vector<std::string> image_records = {
        ImageJson(1, "ok.jpg"),
        ImageJson(2, "png_named.jpg"),
        ImageJson(3, "rgba.png", 2, 2),
        ImageJson(4, "truncated.jpg"),
        ImageJson(5, "garbage.jpg"),
        ImageJson(6, "missing.jpg"),
        ImageJson(7, "big.jpg", 200, 150),
        ImageJson(8, "wrong_size.jpg", 640, 480),
        R"({"id": 9, "file_name": "nosize.jpg"})",
        ImageJson(10, "rotated.jpg", 48, 64),
        ImageJson(1, "dup_id.jpg"),
        ImageJson(11, "dup_name.jpg"),
        ImageJson(12, "dup_name.jpg"),
        ImageJson(13, "../escape.jpg"),
        R"({"id": 14})",
    };
    const std::vector<std::string> anns = {
        AnnJson(1, 1, 1, "[10, 10, 20, 20]", R"(, "area": 400, "iscrowd": 0)"),
        AnnJson(1, 1, 1, "[10, 10, 5, 5]"),               // duplicate id
        R"({"id": 2, "image_id": 1, "category_id": 1})",  // missing bbox
        AnnJson(3, 1, 1, "[1, 2, 3]"),                    // 3 numbers
        AnnJson(4, 1, 1, "[NaN, 2, 3, 4]"),               // not finite
        AnnJson(5, 1, 1, "[1, 2, 0, 4]"),                 // zero width
        AnnJson(6, 1, 1, "[1, 2, 4, -1]"),                // negative
        AnnJson(7, 1, 99, "[1, 2, 3, 4]"),                // category
        AnnJson(8, 404, 1, "[1, 2, 3, 4]"),               // no image
        AnnJson(9, 1, 7, "[50, 40, 30, 30]", R"(, "iscrowd": 0)"),  // clipped
        AnnJson(10, 1, 7, "[70, 10, 5, 5]", R"(, "iscrowd": 0)"),   // outside
        AnnJson(11, 2, 1, "[0, 0, 8, 8]"),  // no area, no iscrowd
        AnnJson(12, 4, 1, "[0, 0, 8, 8]", R"(, "area": 64, "iscrowd": 0)"),
        AnnJson(13, 8, 7, "[0, 0, 8, 8]", R"(, "area": 64, "iscrowd": 0)"),
        AnnJson(14, 7, 7, "[0, 0, 100, 100]",
                R"(, "area": 10000, "iscrowd": 0)"),
    };
    json_ = root_ + "/messy.json";
    WriteFileForTest(json_, CocoJson(image_records, anns));
    options_.images = {images};
    options_.annotations = {json_};
    options_.out_dir = root_ + "/out";
    options_.threads = 2;
    options_.max_image_pixels = 20000;  // big.jpg has 30000.
  }

  std::string root_;
  std::string json_;
  CocoPrepOptions options_;
};

TEST_F(MessyDatasetTest, SkipReportsEveryRuleAndKeepsTheRest) {
  const RunResult run = RunPrep(options_);
  ASSERT_THAT(run.status, IsOk()) << run.err;
  const std::string out = options_.out_dir;
  const rapidjson::Document report = Report(out);
  using Expect = std::pair<int64_t, std::string>;
  EXPECT_EQ(Kind(report, "duplicate_annotation_id"), Expect(1, "dropped"));
  EXPECT_EQ(Kind(report, "missing_key"), Expect(2, "dropped"));  // bbox, name
  EXPECT_EQ(Kind(report, "bad_bbox"), Expect(2, "dropped"));
  EXPECT_EQ(Kind(report, "nonpositive_box"), Expect(2, "dropped"));
  EXPECT_EQ(Kind(report, "unknown_category"), Expect(1, "dropped"));
  EXPECT_EQ(Kind(report, "orphan_annotation"), Expect(1, "dropped"));
  EXPECT_EQ(Kind(report, "box_clipped"), Expect(1, "fixed"));
  EXPECT_EQ(Kind(report, "box_outside_image"), Expect(1, "dropped"));
  EXPECT_EQ(Kind(report, "duplicate_image_id"), Expect(1, "dropped"));
  EXPECT_EQ(Kind(report, "duplicate_file_name"), Expect(1, "dropped"));
  EXPECT_EQ(Kind(report, "bad_file_name"), Expect(1, "dropped"));
  EXPECT_EQ(Kind(report, "image_missing"), Expect(1, "dropped"));
  EXPECT_EQ(Kind(report, "image_truncated"), Expect(1, "dropped"));
  EXPECT_EQ(Kind(report, "image_undecodable"), Expect(1, "dropped"));
  EXPECT_EQ(Kind(report, "image_too_large"), Expect(1, "refused"));
  EXPECT_EQ(Kind(report, "size_mismatch"), Expect(1, "fixed"));
  EXPECT_EQ(Kind(report, "missing_image_size"), Expect(1, "fixed"));
  EXPECT_EQ(Kind(report, "wrong_extension"), Expect(1, "fixed"));
  EXPECT_EQ(Kind(report, "exif_orientation"), Expect(1, "fixed"));
  EXPECT_EQ(Kind(report, "filled_iscrowd"), Expect(1, "fixed"));
  EXPECT_EQ(Kind(report, "filled_area"), Expect(2, "fixed"));

  // Messages name the file and the record.
  EXPECT_THAT(Examples(report, "bad_bbox"),
              HasSubstr("messy.json: annotation id 4: bbox must be 4 "
                        "finite numbers"));
  EXPECT_THAT(Examples(report, "image_missing"),
              HasSubstr("missing.jpg: image file not found"));
  EXPECT_THAT(Examples(report, "image_truncated"),
              HasSubstr("truncated.jpg: truncated jpeg"));
  EXPECT_THAT(Examples(report, "image_too_large"),
              HasSubstr("big.jpg: 200x150 = 30000 pixels exceeds"));
  EXPECT_THAT(Examples(report, "wrong_extension"),
              HasSubstr("png_named.jpg: holds a png but is named as jpeg"));
  EXPECT_THAT(Examples(report, "size_mismatch"),
              HasSubstr("JSON says 640x480 but the file decodes to 64x48"));
  EXPECT_THAT(Examples(report, "duplicate_file_name"),
              HasSubstr("image id 12 ('dup_name.jpg'): file_name "
                        "'dup_name.jpg' is already used by"));

  // Kept: ok, png_named, rgba, wrong_size, nosize, rotated, dup_name (id 11).
  std::map<int64_t, CocoImage> images;
  std::map<int64_t, CocoAnnotation> anns;
  for (const char* split : {"train", "val", "test"}) {
    auto data =
        ReadCocoDataset(absl::StrCat(out, "/annotations/", split, ".json"));
    ASSERT_THAT(data, IsOk());
    for (const CocoImage& i : data->images) images[i.id] = i;
    for (const CocoAnnotation& a : data->annotations) anns[a.id] = a;
  }
  std::vector<int64_t> image_ids, ann_ids;
  for (const auto& [id, image] : images) image_ids.push_back(id);
  for (const auto& [id, ann] : anns) ann_ids.push_back(id);
  EXPECT_THAT(image_ids, ElementsAre(1, 2, 3, 8, 9, 10, 11));
  EXPECT_THAT(ann_ids, ElementsAre(1, 9, 11, 13));
  // The clipped box and its area; the decoded size wins over the JSON.
  EXPECT_THAT(anns[9].bbox, ElementsAre(50, 40, 14, 8));
  EXPECT_DOUBLE_EQ(*anns[9].area, 14 * 8);
  EXPECT_EQ(images[8].width, 64);
  EXPECT_EQ(images[9].height, 48);
  EXPECT_EQ(images[10].width, 48);  // EXIF-rotated.
  EXPECT_EQ(images[10].height, 64);
  // The PNG named .jpg is now a real JPEG named .jpg; the RGBA PNG stays a
  // PNG, composited over black.
  auto fixed = ReadFileToString(out + "/images/png_named.jpg");
  ASSERT_THAT(fixed, IsOk());
  EXPECT_EQ(SniffImageFormat(*fixed), ImageFormat::kJpeg);
  auto rgba = ReadFileToString(out + "/images/rgba.png");
  ASSERT_THAT(rgba, IsOk());
  auto decoded = DecodeImage(*rgba, "rgba.png");
  ASSERT_THAT(decoded, IsOk());
  EXPECT_EQ(decoded->bgr.at<cv::Vec3b>(0, 0), cv::Vec3b(0, 0, 255));
  EXPECT_EQ(decoded->bgr.at<cv::Vec3b>(0, 1), cv::Vec3b(0, 0, 0));
  EXPECT_FALSE(fs::exists(out + "/images/truncated.jpg"));
  EXPECT_FALSE(fs::exists(out + "/images/big.jpg"));

  // ok, wrong_size, nosize and dup_name are copied; the PNG named .jpg, the
  // RGBA PNG and the rotated JPEG had to be re-encoded.
  EXPECT_EQ(report["output"]["images_copied_unchanged"].GetInt(), 4);
  EXPECT_EQ(report["problems"]["refused"].GetInt(), 1);
  EXPECT_EQ(report["output"]["dropped_images"].GetInt(), 8);
  EXPECT_THAT(run.err, HasSubstr("image_too_large (refused): 1"));
}

TEST_F(MessyDatasetTest, AnnotationCheckAppliesThePixelFreeRules) {
  auto check = CheckCocoPrepAnnotations(options_);
  ASSERT_THAT(check, IsOk());
  EXPECT_EQ(check->images, 14);       // The record without file_name is out.
  EXPECT_EQ(check->annotations, 13);  // So are no-bbox and 3-number bboxes.
  EXPECT_EQ(check->images_to_decode, 11);
  EXPECT_EQ(check->dropped, 12);
  EXPECT_EQ(check->fixed, 1);  // filled_iscrowd.
  EXPECT_THAT(check->by_kind, testing::Contains(std::pair<std::string, int64_t>(
                                  "nonpositive_box", 2)));
  EXPECT_FALSE(fs::exists(options_.out_dir));
}

TEST_F(MessyDatasetTest, ValidateOnlyReportsWithoutWriting) {
  options_.validate_only = true;
  options_.out_dir.clear();
  const RunResult run = RunPrep(options_);
  ASSERT_THAT(run.status, IsOk());
  EXPECT_THAT(run.err, HasSubstr("checked 14 images and 13 annotations"));
  EXPECT_THAT(run.err, HasSubstr("  bad_bbox (dropped): 2\n"));
  EXPECT_THAT(run.err, HasSubstr("annotation id 4: bbox must be 4 finite"));
  EXPECT_THAT(run.out, IsEmpty());
  EXPECT_THAT(Entries(root_), ElementsAre("images", "messy.json"));
  options_.on_error = "fail";
  EXPECT_THAT(RunPrep(options_).status,
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("would drop or refuse data")));
}

TEST_F(MessyDatasetTest, FailExitsListingTheFirstProblemsAndWritesNothing) {
  options_.on_error = "fail";
  const RunResult run = RunPrep(options_);
  EXPECT_THAT(
      run.status,
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("would drop or refuse data (--on_error=fail)")));
  EXPECT_THAT(run.status.message(), HasSubstr("missing_key: "));
  EXPECT_THAT(run.status.message(), HasSubstr("duplicate_annotation_id: "));
  EXPECT_FALSE(fs::exists(options_.out_dir));
  EXPECT_THAT(Entries(root_), ElementsAre("images", "messy.json"));
}

TEST(CocoPrepTest, FailModePassesWhenOnlyFixesAreNeeded) {
  const CleanSet set = MakeCleanSet("fail_clean");
  CocoPrepOptions options = Options(set, set.root + "/out");
  options.on_error = "fail";
  // A size mismatch is fixed (decoded wins), so it does not fail the run.
  WriteFileForTest(set.json,
                   CocoJson({ImageJson(1, "img1.jpg", 10, 10)},
                            {AnnJson(1, 1, 1, "[1, 1, 4, 4]",
                                     R"(, "area": 16, "iscrowd": 0)")}));
  const RunResult run = RunPrep(options);
  ASSERT_THAT(run.status, IsOk()) << run.status;
  EXPECT_EQ(Kind(Report(options.out_dir), "size_mismatch").first, 1);
  // Images that fail to decode do fail it, after decoding.
  WriteFileForTest(set.images + "/img1.jpg", "broken");
  options.out_dir = set.root + "/out2";
  EXPECT_THAT(RunPrep(options).status,
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("image_undecodable: ")));
  EXPECT_FALSE(fs::exists(options.out_dir));
}

TEST(CocoPrepTest, KeepsGivenSplitsAndRejectsLeaks) {
  const std::string root = Scratch("keep_splits");
  const std::string jpeg = EncodeJpegForTest(Gradient());
  for (const char* f : {"a.jpg", "b.jpg", "c.jpg"}) {
    WriteFileForTest(root + "/images/" + f, jpeg);
  }
  // Image ids restart per file (as in BCCD's VOC-derived files); c.jpg is in
  // both splits.
  WriteFileForTest(root + "/train.json",
                   CocoJson({ImageJson(1, "a.jpg"), ImageJson(2, "c.jpg")},
                            {AnnJson(1, 1, 1, "[1, 1, 4, 4]")}));
  WriteFileForTest(root + "/val.json",
                   CocoJson({ImageJson(1, "b.jpg"), ImageJson(2, "c.jpg")},
                            {AnnJson(1, 1, 7, "[2, 2, 4, 4]")}));
  CocoPrepOptions options;
  options.images = {root + "/images"};
  options.annotations = {"train=" + root + "/train.json",
                         "val=" + root + "/val.json"};
  options.out_dir = root + "/out";
  const RunResult run = RunPrep(options);
  ASSERT_THAT(run.status, IsOk()) << run.status;
  auto train = ReadCocoDataset(root + "/out/annotations/train.json");
  auto val = ReadCocoDataset(root + "/out/annotations/val.json");
  ASSERT_THAT(train, IsOk());
  ASSERT_THAT(val, IsOk());
  ASSERT_EQ(train->images.size(), 2u);
  ASSERT_EQ(val->images.size(), 1u);
  EXPECT_EQ(val->images[0].file_name, "b.jpg");
  ASSERT_EQ(val->annotations.size(), 1u);
  EXPECT_EQ(val->annotations[0].category_id, 7);
  EXPECT_THAT(Entries(root + "/out/annotations"),
              ElementsAre("train.json", "val.json"));
  const rapidjson::Document report = Report(root + "/out");
  EXPECT_EQ(Kind(report, "duplicate_file_name").first, 1);
  EXPECT_THAT(Examples(report, "duplicate_file_name"),
              HasSubstr("val.json: image id 2 ('c.jpg'): file_name 'c.jpg' "
                        "is already used by"));

  // Split files that disagree on a category name are refused outright.
  WriteFileForTest(root + "/val.json",
                   CocoJson({ImageJson(1, "b.jpg")}, {},
                            R"([{"id": 1, "name": "kitten"}])"));
  options.out_dir = root + "/out2";
  EXPECT_THAT(RunPrep(options).status,
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("category 1 is 'kitten' here but 'cat'")));
}

// ----- The real data sets (skipped where ../shared/data is absent) ----------

TEST(CocoPrepSharedDataTest, BccdKeepsItsOfficialSplits) {
  const std::string train = SharedDataPath("bccd/coco/instances_train.json");
  const std::string val = SharedDataPath("bccd/coco/instances_val.json");
  const std::string test = SharedDataPath("bccd/coco/instances_test.json");
  const std::string images = SharedDataPath("bccd/BCCD/JPEGImages");
  if (train.empty() || val.empty() || test.empty() || images.empty()) {
    GTEST_SKIP() << "../shared/data/bccd is not on this machine";
  }
  CocoPrepOptions options;
  options.images = {images};
  options.annotations = {"train=" + train, "val=" + val, "test=" + test};
  options.out_dir = Scratch("bccd") + "/out";
  options.max_size = 320;
  options.threads = 2;
  const RunResult run = RunPrep(options);
  ASSERT_THAT(run.status, IsOk()) << run.status;
  const rapidjson::Document report = Report(options.out_dir);
  EXPECT_EQ(report["splits"]["train"]["images"].GetInt(), 205);
  EXPECT_EQ(report["splits"]["val"]["images"].GetInt(), 87);
  EXPECT_EQ(report["splits"]["test"]["images"].GetInt(), 72);
  EXPECT_EQ(report["output"]["annotations"].GetInt(),
            report["input"]["annotations"].GetInt());
  EXPECT_EQ(report["problems"]["dropped"].GetInt(), 0);
  auto map = CategoryMap::Read(options.out_dir + "/categories.json");
  ASSERT_THAT(map, IsOk());
  ASSERT_EQ(map->size(), 3);
  EXPECT_EQ(map->NameAt(0), "RBC");
  EXPECT_EQ(map->NameAt(2), "Platelets");
  // 640x480 -> 320x240, boxes halved.
  auto original = ReadCocoDataset(train);
  auto written = ReadCocoDataset(options.out_dir + "/annotations/train.json");
  ASSERT_THAT(original, IsOk());
  ASSERT_THAT(written, IsOk());
  EXPECT_EQ(written->images[0].width, 320);
  EXPECT_EQ(written->images[0].height, 240);
  ASSERT_EQ(written->annotations.size(), original->annotations.size());
  for (int k = 0; k < 4; ++k) {
    EXPECT_DOUBLE_EQ(written->annotations[0].bbox[k],
                     original->annotations[0].bbox[k] / 2);
  }
  EXPECT_TRUE(written->info_json.has_value());
}

TEST(CocoPrepSharedDataTest, CocoTinyWithGappedIdsAndNoInfo) {
  const std::string json =
      SharedDataPath("coco_tiny/annotations/instances_train2017.json");
  const std::string images = SharedDataPath("coco_tiny/train2017");
  if (json.empty() || images.empty()) {
    GTEST_SKIP() << "../shared/data/coco_tiny is not on this machine";
  }
  CocoPrepOptions options;
  options.images = {images};
  options.annotations = {json};
  options.out_dir = Scratch("coco_tiny") + "/out";
  options.threads = 2;
  const RunResult run = RunPrep(options);
  ASSERT_THAT(run.status, IsOk()) << run.status;
  const rapidjson::Document report = Report(options.out_dir);
  EXPECT_EQ(report["output"]["images"].GetInt(), 80);
  EXPECT_EQ(report["output"]["annotations"].GetInt(), 705);
  EXPECT_EQ(report["problems"]["dropped"].GetInt(), 0);
  int64_t crowd = 0, images_total = 0;
  for (const char* split : {"train", "val", "test"}) {
    crowd += report["splits"][split]["crowd_annotations"].GetInt64();
    images_total += report["splits"][split]["images"].GetInt64();
  }
  EXPECT_EQ(crowd, 6);
  EXPECT_EQ(images_total, 80);
  EXPECT_GE(report["splits"]["val"]["images"].GetInt(), 6);
  auto map = CategoryMap::Read(options.out_dir + "/categories.json");
  ASSERT_THAT(map, IsOk());
  EXPECT_EQ(map->size(), 80);
  EXPECT_EQ(map->IdAt(79), 90);
  EXPECT_EQ(map->IndexOf(12), -1);  // One of COCO's gaps.
  auto train = ReadCocoDataset(options.out_dir + "/annotations/train.json");
  ASSERT_THAT(train, IsOk());
  EXPECT_FALSE(train->info_json.has_value());
  EXPECT_EQ(train->categories.size(), 80u);
}

TEST(CocoPrepSharedDataTest, CocoTinyKeepsTrainAndValFolders) {
  const std::string train =
      SharedDataPath("coco_tiny/annotations/instances_train2017.json");
  const std::string val =
      SharedDataPath("coco_tiny/annotations/instances_val2017.json");
  const std::string train_dir = SharedDataPath("coco_tiny/train2017");
  const std::string val_dir = SharedDataPath("coco_tiny/val2017");
  if (train.empty() || val.empty() || train_dir.empty() || val_dir.empty()) {
    GTEST_SKIP() << "../shared/data/coco_tiny is not on this machine";
  }
  CocoPrepOptions options;
  options.images = {"train=" + train_dir, "val=" + val_dir};
  options.annotations = {"train=" + train, "val=" + val};
  options.out_dir = Scratch("coco_tiny_splits") + "/out";
  options.max_size = 256;
  options.threads = 2;
  const RunResult run = RunPrep(options);
  ASSERT_THAT(run.status, IsOk()) << run.status;
  const rapidjson::Document report = Report(options.out_dir);
  EXPECT_EQ(report["splits"]["train"]["images"].GetInt(), 80);
  EXPECT_EQ(report["splits"]["val"]["images"].GetInt(), 80);
  EXPECT_EQ(report["splits"]["train"]["annotations"].GetInt(), 705);
  EXPECT_EQ(report["splits"]["val"]["annotations"].GetInt(), 815);
  EXPECT_EQ(report["splits"]["val"]["crowd_annotations"].GetInt(), 11);
  auto val_out = ReadCocoDataset(options.out_dir + "/annotations/val.json");
  ASSERT_THAT(val_out, IsOk());
  for (const CocoImage& image : val_out->images) {
    EXPECT_LE(std::max(image.width, image.height), 256);
  }
}

}  // namespace
}  // namespace cvt
