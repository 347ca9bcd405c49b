#include "libs/coco/coco.h"

#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/file_io.h"
#include "libs/base/status_matchers.h"
#include "libs/base/testdata.h"

namespace cvt {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr char kGt[] = R"({
  "info": {"year": 2026, "description": "tiny"},
  "images": [{"id": 7, "file_name": "a.jpg", "width": 640, "height": 480},
             {"id": 9, "file_name": "b.png"}],
  "annotations": [
    {"id": 1, "image_id": 7, "category_id": 3, "bbox": [10, 20.5, 30, 40],
     "area": 1200, "iscrowd": 0},
    {"id": 2, "image_id": 7, "category_id": 1, "bbox": [0.1, 0.2, 0.3, 0.7],
     "iscrowd": 1, "ignore": 1, "segmentation": {"counts": "x", "size": [1, 1]}},
    {"id": 3.0, "image_id": 9, "category_id": 3, "bbox": [1, 2, 3, 4]}
  ],
  "categories": [{"id": 3, "name": "car", "supercategory": "vehicle"},
                 {"id": 1, "name": "person"}]
})";

TEST(CocoDatasetTest, ParsesAllFields) {
  absl::StatusOr<CocoDataset> gt = ParseCocoDataset(kGt, "gt.json");
  ASSERT_THAT(gt, IsOk());
  ASSERT_THAT(gt->images, SizeIs(2));
  EXPECT_EQ(gt->images[0].id, 7);
  EXPECT_EQ(gt->images[0].width, 640);
  EXPECT_EQ(gt->images[1].width, 0);  // Absent.
  ASSERT_THAT(gt->annotations, SizeIs(3));
  const CocoAnnotation& a = gt->annotations[0];
  EXPECT_THAT(a.bbox, ElementsAre(10, 20.5, 30, 40));
  EXPECT_EQ(a.area, 1200.0);
  EXPECT_EQ(a.iscrowd, 0);
  EXPECT_FALSE(a.ignore.has_value());
  EXPECT_EQ(gt->annotations[1].iscrowd, 1);
  EXPECT_EQ(gt->annotations[1].ignore, 1);
  EXPECT_EQ(gt->annotations[1].bbox[3], 0.7);
  EXPECT_EQ(gt->annotations[2].id, 3);  // Integral double.
  EXPECT_FALSE(gt->annotations[2].area.has_value());
  EXPECT_FALSE(gt->annotations[2].iscrowd.has_value());
  ASSERT_THAT(gt->categories, SizeIs(2));
  EXPECT_EQ(gt->categories[0].supercategory, "vehicle");
  EXPECT_EQ(gt->info_json, R"({"year":2026,"description":"tiny"})");
  EXPECT_FALSE(gt->licenses_json.has_value());
}

TEST(CocoDatasetTest, WriteThenReadGivesTheSameDataset) {
  absl::StatusOr<CocoDataset> gt = ParseCocoDataset(kGt, "gt.json");
  ASSERT_THAT(gt, IsOk());
  const std::string path = TestTempPath("roundtrip.json");
  ASSERT_THAT(WriteCocoDataset(*gt, path), IsOk());
  absl::StatusOr<CocoDataset> back = ReadCocoDataset(path);
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(CocoDatasetToJson(*back), CocoDatasetToJson(*gt));
  EXPECT_EQ(back->annotations[1].bbox[0], 0.1);
  EXPECT_EQ(back->info_json, gt->info_json);
}

TEST(CocoDatasetTest, StructuralErrorsNameFileRecordAndKey) {
  EXPECT_THAT(
      ParseCocoDataset("[]", "gt.json"),
      StatusIs(
          absl::StatusCode::kInvalidArgument,
          HasSubstr("gt.json: a COCO annotation file must be a JSON object")));
  EXPECT_THAT(
      ParseCocoDataset(R"({"images": [], "annotations": []})", "gt.json"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("gt.json: top level: missing key \"categories\"")));
  EXPECT_THAT(
      ParseCocoDataset(R"({"images": [], "categories": [], "annotations": [
        {"id": 5, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3]}]})",
                       "gt.json"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("gt.json: annotations[0] (id 5): bbox must be a list "
                         "of 4 numbers")));
  EXPECT_THAT(ParseCocoDataset(R"({"images": [{"id": "7", "file_name": "a"}],
                           "categories": [], "annotations": []})",
                               "gt.json"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("images[0]: \"id\" must be an integer (string "
                                 "ids are not supported)")));
  EXPECT_THAT(
      ParseCocoDataset("{\"images\": [\n}", "gt.json"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("gt.json:2:1: ")));
}

TEST(CocoDatasetTest, ProblemsModeSkipsBadRecordsAndReportsEach) {
  std::vector<CocoProblem> problems;
  absl::StatusOr<CocoDataset> gt = ParseCocoDataset(
      R"({"images": [{"id": 1, "file_name": "a.jpg"}, {"file_name": "b.jpg"}],
          "categories": [{"id": 1, "name": "x"}],
          "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2]},
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [1, 1, "w", 2]},
            {"id": 3, "image_id": 1, "bbox": [1, 1, 2, 2]}]})",
      "gt.json", &problems);
  ASSERT_THAT(gt, IsOk());
  EXPECT_THAT(gt->images, SizeIs(1));
  EXPECT_THAT(gt->annotations, SizeIs(1));
  ASSERT_THAT(problems, SizeIs(3));
  EXPECT_EQ(problems[0].kind, "missing_key");
  EXPECT_THAT(problems[0].message, HasSubstr("images[1]: missing key \"id\""));
  EXPECT_EQ(problems[1].kind, "bad_bbox");
  EXPECT_THAT(problems[1].message, HasSubstr("annotations[1] (id 2)"));
  EXPECT_EQ(problems[2].kind, "missing_key");
  EXPECT_THAT(problems[2].message, HasSubstr("missing key \"category_id\""));
}

TEST(CocoResultsTest, ParsesWritesAndRejects) {
  absl::StatusOr<std::vector<CocoDetection>> dets = ParseCocoResults(
      R"([{"image_id": 7, "category_id": 3, "bbox": [1.5, 2, 3, 4], "score": 0.25,
           "segmentation": []},
          {"image_id": 9, "category_id": 1, "bbox": [0, 0, 1, 1], "score": NaN}])",
      "dt.json");
  ASSERT_THAT(dets, IsOk());
  ASSERT_THAT(*dets, SizeIs(2));
  EXPECT_EQ((*dets)[0].score, 0.25);
  EXPECT_TRUE(std::isnan((*dets)[1].score));
  EXPECT_EQ(
      CocoResultsToJson(*dets),
      R"([{"image_id":7,"category_id":3,"bbox":[1.5,2.0,3.0,4.0],"score":0.25},)"
      R"({"image_id":9,"category_id":1,"bbox":[0.0,0.0,1.0,1.0],"score":NaN}])");
  EXPECT_THAT(
      ParseCocoResults("{}", "dt.json"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("dt.json: a COCO results file must be a JSON list")));
  EXPECT_THAT(
      ParseCocoResults(
          R"([{"image_id": 1, "category_id": 1, "bbox": [0,0,1,1]}])",
          "dt.json"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("dt.json: results[0]: missing key \"score\"")));
  EXPECT_THAT(ParseCocoResults("[]", "dt.json"), IsOkAndHolds(SizeIs(0)));
  EXPECT_THAT(ParseCocoResults("\"[x]\"", "dt.json"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("must be a JSON list")));
  EXPECT_THAT(ParseCocoResults("[5]", "dt.json"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("dt.json: results[0]: must be an object")));
  EXPECT_THAT(
      ParseCocoResults(
          R"([{"image_id": "1", "category_id": 1, "bbox": [0,0,1,1], "score": 1}])",
          "dt.json"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr(
                   "results[0]: \"image_id\" must be an integer (string ids")));
  EXPECT_THAT(
      ParseCocoResults(
          R"([{"image_id": 1, "category_id": 1, "bbox": [0,0,[1],1], "score": 1}])",
          "dt.json"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("results[0]: bbox must be a list of 4 numbers")));
  EXPECT_THAT(
      ParseCocoResults(
          R"([{"image_id": 1, "category_id": 1, "bbox": [0,0,1,1], "score": "high"}])",
          "dt.json"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("results[0]: \"score\" must be a number")));
  std::vector<CocoProblem> problems;
  auto partial = ParseCocoResults(
      R"([{"image_id": 1, "category_id": 1, "bbox": [0,0,1,1], "score": 1, "segmentation": {"counts": [1, {"x": 2}]}},
          {"image_id": 1, "bbox": [0,0,1,1], "score": 1},
          {"image_id": 2, "category_id": 3.0, "bbox": [0,0,1,1,5], "score": 1}])",
      "dt.json", &problems);
  ASSERT_THAT(partial, IsOk());
  EXPECT_THAT(*partial, SizeIs(1));
  ASSERT_THAT(problems, SizeIs(2));
  EXPECT_THAT(problems[0].message,
              HasSubstr("results[1]: missing key \"category_id\""));
  EXPECT_EQ(problems[1].kind, "bad_bbox");
}

// Large files are parsed in parallel chunks split at guessed element
// boundaries; a guess inside a string or a nested value must never change the
// result, and errors must still carry their exact location.
TEST(CocoResultsTest, LargeFilesParseIdenticallyWhateverTheSplitPoints) {
  std::string json = "[";
  std::vector<CocoDetection> expected;
  for (int i = 0; i < 120000; ++i) {
    if (i > 0) json += ", ";
    const double score = (i % 1000) / 1000.0;
    // Every element carries strings and nested lists that look like element
    // boundaries: "}, {" inside a string and [{...}, {...}] nested values.
    absl::StrAppend(&json, "{\"image_id\": ", i % 500,
                    ", \"category_id\": ", 1 + i % 7,
                    ", \"note\": \"}, {\\\"image_id\\\": 1}\", \"extra\": "
                    "[{\"a\": 1}, {\"b\": [2]}], "
                    "\"bbox\": [",
                    i % 97, ".5, 2, 3, 4], \"score\": ", score, "}");
    expected.push_back({i % 500, 1 + i % 7, {i % 97 + 0.5, 2, 3, 4}, score});
  }
  json += "]";
  ASSERT_GT(json.size(), size_t{16} << 20);
  absl::StatusOr<std::vector<CocoDetection>> dets =
      ParseCocoResults(json, "big.json");
  ASSERT_THAT(dets, IsOk());
  ASSERT_EQ(dets->size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_EQ((*dets)[i].image_id, expected[i].image_id) << i;
    ASSERT_EQ((*dets)[i].bbox, expected[i].bbox) << i;
    ASSERT_EQ((*dets)[i].score, expected[i].score) << i;
  }
  // A missing score deep in the second half: the error names that element.
  std::string broken = json;
  const size_t at = broken.rfind("\"score\"");
  broken.replace(at, 7, "\"scor\"");
  EXPECT_THAT(
      ParseCocoResults(broken, "big.json"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("big.json: results[119999]: missing key \"score\"")));
  // A syntax error: exact line and column from the sequential parser.
  std::string bad = json;
  bad[bad.size() * 3 / 4] = '#';
  absl::StatusOr<std::vector<CocoDetection>> error =
      ParseCocoResults(bad, "big.json");
  ASSERT_FALSE(error.ok());
  EXPECT_THAT(
      error.status().message(),
      HasSubstr(absl::StrCat("big.json:1:", bad.size() * 3 / 4 + 1, ": ")));
}

// The fast scanner's numbers must be correctly rounded, like Python's float().
TEST(CocoResultsTest, NumbersAreCorrectlyRoundedOnEveryPath) {
  std::mt19937_64 rng(11);
  std::vector<std::string> texts;
  for (int i = 0; i < 20000; ++i) {
    const int digits = 1 + static_cast<int>(rng() % 19);
    std::string mantissa;
    for (int d = 0; d < digits; ++d)
      mantissa += static_cast<char>('0' + rng() % 10);
    while (mantissa.size() > 1 && mantissa[0] == '0') mantissa.erase(0, 1);
    const size_t point = rng() % (mantissa.size() + 1);
    std::string text =
        (rng() % 4 == 0 ? "-" : "") +
        (point == 0 ? std::string("0") : mantissa.substr(0, point));
    if (point < mantissa.size()) text += "." + mantissa.substr(point);
    if (rng() % 5 == 0)
      text += "e" + std::to_string(static_cast<int>(rng() % 60) - 30);
    texts.push_back(text);
  }
  texts.insert(texts.end(), {"0.1", "9007199254740993", "9007199254740993.0",
                             "2.5e-308", "1.7976931348623157e308",
                             "0.30000000000000004", "123456.789e3"});
  std::string json = "[";
  for (size_t i = 0; i < texts.size(); ++i) {
    absl::StrAppend(&json, i ? "," : "",
                    "{\"image_id\":1,\"category_id\":2,\"bbox\":[", texts[i],
                    ",0,1,1],\"score\":", texts[i], "}");
  }
  json += "]";
  absl::StatusOr<std::vector<CocoDetection>> dets =
      ParseCocoResults(json, "n.json");
  ASSERT_THAT(dets, IsOk());
  ASSERT_EQ(dets->size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    const double want = std::strtod(texts[i].c_str(), nullptr);
    ASSERT_EQ((*dets)[i].bbox[0], want) << texts[i];
    ASSERT_EQ((*dets)[i].score, want) << texts[i];
  }
}

TEST(CocoSharedDataTest, ReadsRealCocoVal2014Subset) {
  const std::string gt_path =
      SharedDataPath("eval/cocoapi_val2014_100/instances_val2014_100.json");
  const std::string dt_path = SharedDataPath(
      "eval/cocoapi_val2014_100/instances_val2014_fakebbox100_results.json");
  if (gt_path.empty()) GTEST_SKIP() << "../shared/data is not on this machine";
  absl::StatusOr<CocoDataset> gt = ReadCocoDataset(gt_path);
  ASSERT_THAT(gt, IsOk());
  EXPECT_THAT(gt->images, SizeIs(100));
  EXPECT_THAT(gt->annotations, SizeIs(839));
  EXPECT_THAT(gt->categories, SizeIs(80));
  int crowd = 0;
  for (const CocoAnnotation& a : gt->annotations)
    crowd += a.iscrowd.value_or(0);
  EXPECT_EQ(crowd, 9);
  absl::StatusOr<std::vector<CocoDetection>> dets = ReadCocoResults(dt_path);
  ASSERT_THAT(dets, IsOk());
  EXPECT_THAT(*dets, SizeIs(734));
}

}  // namespace
}  // namespace cvt
