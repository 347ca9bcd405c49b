#include "tools/evaluate_map/evaluate_map.h"

#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/file_io.h"
#include "libs/base/json.h"
#include "libs/base/status_matchers.h"
#include "libs/base/testdata.h"

namespace cvt {
namespace {

using ::testing::HasSubstr;

constexpr char kGt[] =
    R"({"images": [{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": "b.jpg"}],
  "categories": [{"id": 1, "name": "cat"}, {"id": 5, "name": "dog"}],
  "annotations": [
    {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 40, 40], "area": 1600, "iscrowd": 0},
    {"id": 2, "image_id": 2, "category_id": 5, "bbox": [0, 0, 100, 120], "area": 12000, "iscrowd": 0}]})";

std::string Write(const std::string& name, const std::string& text) {
  const std::string path = TestTempPath(name);
  EXPECT_THAT(WriteFileAtomically(path, text), IsOk());
  return path;
}

TEST(EvaluateMapTest, WritesSummaryTableAndExactJsonReport) {
  const std::string gt = Write("gt.json", kGt);
  const std::string dt = Write("dt.json", R"([
    {"image_id": 1, "category_id": 1, "bbox": [10, 10, 40, 40], "score": 0.9},
    {"image_id": 2, "category_id": 5, "bbox": [50, 50, 10, 10], "score": 0.8}])");
  const std::string out = TestTempPath("report.json");
  std::ostringstream stdout_text;
  ASSERT_THAT(RunEvaluateMap({.gt_path = gt, .dt_path = dt, .out_path = out},
                             stdout_text),
              IsOk());
  EXPECT_THAT(
      stdout_text.str(),
      HasSubstr(" Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | "
                "maxDets=100 ] = 0.500\n"));
  EXPECT_THAT(stdout_text.str(), HasSubstr("dog"));
  absl::StatusOr<rapidjson::Document> report = ReadJsonFile(out);
  ASSERT_THAT(report, IsOk());
  EXPECT_EQ((*report)["stats"].Size(), 12u);
  EXPECT_EQ((*report)["stats_by_name"]["AP"].GetDouble(),
            (*report)["stats"][0].GetDouble());
  const auto& per_class = (*report)["per_class"];
  ASSERT_EQ(per_class.Size(), 2u);
  EXPECT_EQ(per_class[0]["category_id"].GetInt(), 1);
  EXPECT_EQ(per_class[0]["at_best_f1"]["tp"].GetInt(), 1);
  EXPECT_EQ(per_class[1]["at_best_f1"]["fn"].GetInt(), 1);
  EXPECT_EQ(per_class[1]["at_best_f1"]["tp"].GetInt(), 0);
  EXPECT_EQ((*report)["counts"]["detections_in_file"].GetInt(), 2);
  EXPECT_EQ((*report)["confusion_matrix"]["counts"].Size(), 3u);
}

TEST(EvaluateMapTest, BadInputIsInvalidArgumentNamingTheProblem) {
  const std::string gt = Write("gt2.json", kGt);
  std::ostringstream sink;
  const std::string unknown = Write(
      "unknown.json",
      R"([{"image_id": 9, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1}])");
  EXPECT_THAT(RunEvaluateMap({.gt_path = gt, .dt_path = unknown}, sink),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unknown.json: results[0] names image_id 9")));
  const std::string negative = Write(
      "neg.json",
      R"([{"image_id": 1, "category_id": 1, "bbox": [0, 0, -1, 1], "score": 1}])");
  EXPECT_THAT(
      RunEvaluateMap({.gt_path = gt, .dt_path = negative}, sink),
      StatusIs(
          absl::StatusCode::kInvalidArgument,
          HasSubstr(
              "neg.json: results[0] (image_id 1): bbox has a negative size")));
  const std::string nan = Write(
      "nan.json",
      R"([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": NaN}])");
  EXPECT_THAT(RunEvaluateMap({.gt_path = gt, .dt_path = nan}, sink),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("score is not finite")));
  const std::string malformed = Write("bad.json", "[\n{\"image_id\": 1,,}]");
  EXPECT_THAT(
      RunEvaluateMap({.gt_path = gt, .dt_path = malformed}, sink),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("bad.json:2:16: Missing a name for object member.")));
  EXPECT_THAT(
      RunEvaluateMap(
          {.gt_path = TestTempPath("nope.json"), .dt_path = malformed}, sink),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("nope.json")));
  const std::string out = TestTempPath("never.json");
  EXPECT_FALSE(
      RunEvaluateMap({.gt_path = gt, .dt_path = unknown, .out_path = out}, sink)
          .ok());
  EXPECT_THAT(ReadFileToString(out), StatusIs(absl::StatusCode::kNotFound));
}

TEST(EvaluateMapTest, EmptyResultsGiveAValidReport) {
  const std::string gt = Write("gt3.json", kGt);
  const std::string dt = Write("empty.json", "[]");
  const std::string out = TestTempPath("empty_report.json");
  std::ostringstream sink;
  ASSERT_THAT(
      RunEvaluateMap({.gt_path = gt, .dt_path = dt, .out_path = out}, sink),
      IsOk());
  absl::StatusOr<rapidjson::Document> report = ReadJsonFile(out);
  ASSERT_THAT(report, IsOk());
  EXPECT_EQ((*report)["stats"][0].GetDouble(),
            0.0);  // GT exists, nothing found.
  EXPECT_EQ((*report)["stats"][3].GetDouble(), -1.0);  // No small GT.
}

TEST(EvaluateMapTest, SharedPairMatchesPycocotoolsThroughTheTool) {
  const std::string dir = "eval/cocoapi_val2014_100/";
  const std::string gt = SharedDataPath(dir + "instances_val2014_100.json");
  if (gt.empty()) GTEST_SKIP() << "../shared/data is not on this machine";
  const std::string dt =
      SharedDataPath(dir + "instances_val2014_fakebbox100_results.json");
  absl::StatusOr<rapidjson::Document> expected =
      ReadJsonFile(SharedDataPath(dir + "expected_pycocotools.json"));
  ASSERT_THAT(expected, IsOk());
  for (int use_cats : {1, 0}) {
    const std::string out =
        TestTempPath("shared_" + std::to_string(use_cats) + ".json");
    std::ostringstream sink;
    ASSERT_THAT(RunEvaluateMap({.gt_path = gt,
                                .dt_path = dt,
                                .out_path = out,
                                .use_cats = use_cats,
                                .threads = 2},
                               sink),
                IsOk());
    absl::StatusOr<std::string> text = ReadFileToString(out);
    ASSERT_THAT(text, IsOk());
    // The stats are printed so that they round-trip: the repr strings of
    // Python appear verbatim.
    const auto& reprs =
        (*expected)[use_cats ? "stats_useCats1_repr" : "stats_useCats0_repr"];
    for (rapidjson::SizeType i = 0; i < reprs.Size(); ++i) {
      EXPECT_THAT(*text, HasSubstr(reprs[i].GetString())) << i;
    }
  }
}

}  // namespace
}  // namespace cvt
