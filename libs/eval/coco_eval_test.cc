#include "libs/eval/coco_eval.h"

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/json.h"
#include "libs/base/status_matchers.h"
#include "libs/base/testdata.h"
#include "libs/coco/coco.h"

namespace cvt {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

TEST(CocoThresholdsTest, AreNumpysExactDoubles) {
  const std::vector<double> expected = {0x1p-1,
                                        0x1.199999999999ap-1,
                                        0x1.3333333333333p-1,
                                        0x1.4cccccccccccdp-1,
                                        0x1.6666666666666p-1,
                                        0x1.8p-1,
                                        0x1.999999999999ap-1,
                                        0x1.b333333333333p-1,
                                        0x1.cccccccccccccp-1,
                                        0x1.e666666666666p-1};
  EXPECT_THAT(CocoIouThresholds(), ElementsAreArray(expected));
  const std::vector<double> rec = CocoRecallThresholds();
  ASSERT_EQ(rec.size(), 101u);
  EXPECT_EQ(rec[35], 0.35000000000000003);
  EXPECT_EQ(rec[70], 0.7000000000000001);
  EXPECT_EQ(rec[50], 0.5);
  EXPECT_EQ(rec[100], 1.0);
}

TEST(CocoBoxIouTest, UnionCrowdAndTouching) {
  EXPECT_EQ(CocoBoxIou({0, 0, 10, 10}, {5, 0, 10, 10}, false), 50.0 / 150.0);
  EXPECT_EQ(CocoBoxIou({0, 0, 10, 10}, {10, 0, 10, 10}, false),
            0.0);  // Touching.
  // Crowd: intersection over the detection's own area.
  EXPECT_EQ(CocoBoxIou({2, 2, 4, 4}, {0, 0, 100, 100}, true), 1.0);
}

CocoDataset MakeGt(std::vector<CocoAnnotation> anns, int num_images = 1,
                   std::vector<int64_t> cats = {1}) {
  CocoDataset gt;
  for (int i = 1; i <= num_images; ++i)
    gt.images.push_back({i, "x.jpg", 640, 480});
  for (int64_t c : cats)
    gt.categories.push_back({c, "c" + std::to_string(c), ""});
  gt.annotations = std::move(anns);
  return gt;
}

CocoAnnotation Gt(int64_t id, int64_t image, std::array<double, 4> box,
                  int crowd = 0, int64_t cat = 1) {
  CocoAnnotation a;
  a.id = id;
  a.image_id = image;
  a.category_id = cat;
  a.bbox = box;
  a.area = box[2] * box[3];
  a.iscrowd = crowd;
  return a;
}

TEST(CocoEvalTest, PerfectSingleDetectionHasThePrecisionEpsQuirk) {
  CocoDataset gt = MakeGt({Gt(1, 1, {10, 10, 50, 50})});
  absl::StatusOr<CocoEvalResult> r =
      EvaluateCocoBbox(gt, {{1, 1, {10, 10, 50, 50}, 0.9}}, {.threads = 1});
  ASSERT_THAT(r, IsOk());
  // tp / (tp + fp + 2^-52) with tp + fp = 1.
  EXPECT_EQ(r->stats[0], 0.9999999999999998);
  EXPECT_EQ(r->stats[8], 1.0);
  EXPECT_EQ(r->stats[3], -1.0);                // No small GT.
  EXPECT_EQ(r->stats[4], 0.9999999999999998);  // 50 x 50 is medium.
  EXPECT_EQ(r->stats[5], -1.0);
}

TEST(CocoEvalTest, GtIdZeroMatchCountsAsFalsePositiveUnlessFixed) {
  CocoDataset gt = MakeGt({Gt(0, 1, {10, 10, 50, 50})});
  std::vector<CocoDetection> dt = {{1, 1, {10, 10, 50, 50}, 0.9}};
  absl::StatusOr<CocoEvalResult> quirk = EvaluateCocoBbox(gt, dt);
  absl::StatusOr<CocoEvalResult> fixed =
      EvaluateCocoBbox(gt, dt, {.fix_zero_gt_id = true});
  ASSERT_THAT(quirk, IsOk());
  ASSERT_THAT(fixed, IsOk());
  EXPECT_EQ(quirk->stats[0], 0.0);
  EXPECT_EQ(fixed->stats[0], 0.9999999999999998);
}

TEST(CocoEvalTest, EqualIouGoesToTheLaterGt) {
  // Two identical GTs; the earlier has id 0, so a match to it would count as a
  // false positive (the id-0 quirk). The detection must take the later one.
  CocoDataset gt =
      MakeGt({Gt(0, 1, {0, 0, 100, 100}), Gt(5, 1, {0, 0, 100, 100})});
  absl::StatusOr<CocoEvalResult> r =
      EvaluateCocoBbox(gt, {{1, 1, {0, 0, 100, 100}, 0.9}});
  ASSERT_THAT(r, IsOk());
  EXPECT_GT(r->stats[1], 0.5);  // AP50: precision ~1 up to recall 0.5.
  EXPECT_EQ(r->stats[8], 0.5);  // One of two GTs found.
  // Reversed file order: now the later GT has id 0, and the match is lost.
  std::swap(gt.annotations[0], gt.annotations[1]);
  absl::StatusOr<CocoEvalResult> reversed =
      EvaluateCocoBbox(gt, {{1, 1, {0, 0, 100, 100}, 0.9}});
  ASSERT_THAT(reversed, IsOk());
  EXPECT_EQ(reversed->stats[1], 0.0);
}

TEST(CocoEvalTest, RealMatchBeatsAnyAreaIgnoredGt) {
  // GT 1 is medium, GT 2 is large with the same box; in the medium range the
  // scan stops at the first ignored GT once a real match is held.
  CocoDataset gt =
      MakeGt({Gt(1, 1, {0, 0, 100, 100}), Gt(2, 1, {0, 0, 100, 100})});
  gt.annotations[0].area = 5000;
  gt.annotations[1].area = 20000;
  absl::StatusOr<CocoEvalResult> r =
      EvaluateCocoBbox(gt, {{1, 1, {0, 0, 100, 100}, 0.9}});
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->stats[10], 1.0);  // ARm: matched GT 1.
  EXPECT_EQ(r->stats[11], 1.0);  // ARl: matched GT 2.
  EXPECT_EQ(r->stats[8], 0.5);   // all: the later GT 2 wins, GT 1 missed.
}

TEST(CocoEvalTest, AreaBoundsAreInclusiveOnBothSides) {
  CocoDataset gt = MakeGt({Gt(1, 1, {0, 0, 32, 32})});  // Area exactly 1024.
  absl::StatusOr<CocoEvalResult> r =
      EvaluateCocoBbox(gt, {{1, 1, {0, 0, 32, 32}, 0.5}});
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->stats[9], 1.0);    // ARs
  EXPECT_EQ(r->stats[10], 1.0);   // ARm
  EXPECT_EQ(r->stats[11], -1.0);  // ARl: no large GT.
}

TEST(CocoEvalTest, CrowdAbsorbsDetectionsAndIgnoreNeedsTheOptIn) {
  CocoDataset gt = MakeGt(
      {Gt(1, 1, {0, 0, 100, 100}, /*crowd=*/1), Gt(2, 1, {200, 200, 50, 50})});
  std::vector<CocoDetection> dt = {{1, 1, {10, 10, 20, 20}, 0.9},
                                   {1, 1, {40, 40, 20, 20}, 0.8},
                                   {1, 1, {200, 200, 50, 50}, 0.7}};
  absl::StatusOr<CocoEvalResult> r = EvaluateCocoBbox(gt, dt);
  absl::StatusOr<CocoEvalResult> without = EvaluateCocoBbox(gt, {dt[2]});
  ASSERT_THAT(r, IsOk());
  ASSERT_THAT(without, IsOk());
  // Both detections inside the crowd are ignored: the same numbers as
  // without them, except AR1, where the top-scored (crowd) one still takes
  // the only maxDet slot.
  EXPECT_EQ(r->stats[8], 1.0);
  EXPECT_EQ(r->stats[6], 0.0);
  EXPECT_EQ(without->stats[6], 1.0);
  for (int i : {0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11}) {
    EXPECT_EQ(r->stats[i], without->stats[i]) << i;
  }
  gt.annotations[1].ignore = 1;
  absl::StatusOr<CocoEvalResult> quirk = EvaluateCocoBbox(gt, dt);
  absl::StatusOr<CocoEvalResult> honored =
      EvaluateCocoBbox(gt, dt, {.honor_ignore = true});
  ASSERT_THAT(quirk, IsOk());
  ASSERT_THAT(honored, IsOk());
  EXPECT_EQ(quirk->stats[8], 1.0);     // pycocotools ignores "ignore".
  EXPECT_EQ(honored->stats[8], -1.0);  // No non-ignored GT left.
}

TEST(CocoEvalTest, EmptyResultsEvaluateAsZeroDetections) {
  CocoDataset gt = MakeGt({Gt(1, 1, {0, 0, 10, 10})}, 1, {1, 2});
  absl::StatusOr<CocoEvalResult> r = EvaluateCocoBbox(gt, {});
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->stats[0], 0.0);
  EXPECT_EQ(r->stats[5], -1.0);
  ASSERT_EQ(r->per_class.size(), 2u);
  EXPECT_EQ(r->per_class[0].ap, 0.0);
  EXPECT_EQ(r->per_class[1].ap, -1.0);
  EXPECT_EQ(r->per_class[0].fn, 1);
}

TEST(CocoEvalTest, BadDetectionsAndGtAreErrorsNamingTheEntry) {
  CocoDataset gt = MakeGt({Gt(1, 1, {0, 0, 10, 10})});
  EXPECT_THAT(EvaluateCocoBbox(
                  gt, {{1, 1, {0, 0, 1, 1}, 0.5}, {7, 1, {0, 0, 1, 1}, 0.5}}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("results[1] names image_id 7")));
  EXPECT_THAT(
      EvaluateCocoBbox(gt, {{1, 1, {0, 0, NAN, 1}, 0.5}}),
      StatusIs(
          absl::StatusCode::kInvalidArgument,
          HasSubstr("results[0] (image_id 1): bbox has a non-finite number")));
  EXPECT_THAT(
      EvaluateCocoBbox(gt, {{1, 1, {0, 0, -1, 1}, 0.5}}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("negative size")));
  EXPECT_THAT(EvaluateCocoBbox(gt, {{1, 1, {0, 0, 1, 1}, INFINITY}}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("score is not finite")));
  gt.annotations[0].area.reset();
  EXPECT_THAT(
      EvaluateCocoBbox(gt, {}),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("annotation id 1 (annotations[0]) has no \"area\"")));
  EXPECT_THAT(EvaluateCocoBbox(gt, {}, {.default_missing_fields = true}),
              IsOk());
}

TEST(CocoEvalTest, ExtremeAndSparseIdsWork) {
  // Ids far apart (hash-map lookup) and negative ones.
  CocoDataset gt;
  gt.images = {{-9000000000000000000, "a.jpg", 10, 10},
               {9000000000000000000, "b.jpg", 10, 10}};
  gt.categories = {{-5, "neg", ""}, {7000000000000, "big", ""}};
  gt.annotations = {Gt(1, -9000000000000000000, {0, 0, 5, 5}, 0, -5),
                    Gt(2, 9000000000000000000, {0, 0, 5, 5}, 0, 7000000000000)};
  absl::StatusOr<CocoEvalResult> r = EvaluateCocoBbox(
      gt, {{-9000000000000000000, -5, {0, 0, 5, 5}, 0.9},
           {9000000000000000000, 7000000000000, {0, 0, 5, 5}, 0.8}});
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->stats[8], 1.0);
  EXPECT_EQ(r->category_ids, std::vector<int64_t>({-5, 7000000000000}));
}

TEST(CocoEvalTest, ResultsDoNotDependOnThreadCount) {
  std::vector<CocoAnnotation> anns;
  std::vector<CocoDetection> dets;
  for (int i = 1; i <= 30; ++i) {
    for (int c = 1; c <= 3; ++c) {
      anns.push_back(Gt(i * 10 + c, i,
                        {double(i), double(c * 7), 20.0 + c, 30.0 + i}, 0, c));
      dets.push_back(
          {i, c, {i + 1.0, c * 7 + 2.0, 20.0, 30.0}, 0.01 * ((i * c) % 17)});
      dets.push_back({i, 1 + (c % 3), {i + 3.0, c * 7.0, 22.0, 28.0}, 0.5});
    }
  }
  CocoDataset gt = MakeGt(anns, 30, {1, 2, 3});
  absl::StatusOr<CocoEvalResult> one =
      EvaluateCocoBbox(gt, dets, {.threads = 1});
  absl::StatusOr<CocoEvalResult> many =
      EvaluateCocoBbox(gt, dets, {.threads = 7});
  ASSERT_THAT(one, IsOk());
  ASSERT_THAT(many, IsOk());
  EXPECT_EQ(one->stats, many->stats);
  EXPECT_EQ(one->precision, many->precision);
  EXPECT_EQ(one->recall, many->recall);
}

TEST(CocoEvalTest, SummaryUsesPycocotoolsLayout) {
  CocoDataset gt = MakeGt({Gt(1, 1, {10, 10, 50, 50})});
  absl::StatusOr<CocoEvalResult> r =
      EvaluateCocoBbox(gt, {{1, 1, {10, 10, 50, 50}, 0.9}});
  ASSERT_THAT(r, IsOk());
  const std::string summary = FormatCocoSummary(*r);
  EXPECT_THAT(summary, HasSubstr(" Average Precision  (AP) @[ IoU=0.50:0.95 | "
                                 "area=   all | maxDets=100 ] "
                                 "= 1.000\n"));
  EXPECT_THAT(
      summary,
      HasSubstr(" Average Precision  (AP) @[ IoU=0.50:0.95 | area= small | "
                "maxDets=100 ] = -1.000\n"));
  EXPECT_THAT(
      summary,
      HasSubstr(" Average Precision  (AP) @[ IoU=0.75      | area=   all | "
                "maxDets=100 ] = 1.000\n"));
  EXPECT_THAT(summary, HasSubstr(" Average Recall     (AR) @[ IoU=0.50:0.95 | "
                                 "area=   all | maxDets=  1 ] "
                                 "= 1.000\n"));
}

// The shared real pair: COCO val2014's first 100 images and cocoapi's fake
// results, with pycocotools 2.0.11's numbers.
class SharedPairTest : public testing::Test {
 protected:
  void SetUp() override {
    const std::string dir = "eval/cocoapi_val2014_100/";
    gt_path_ = SharedDataPath(dir + "instances_val2014_100.json");
    dt_path_ =
        SharedDataPath(dir + "instances_val2014_fakebbox100_results.json");
    expected_path_ = SharedDataPath(dir + "expected_pycocotools.json");
    if (gt_path_.empty())
      GTEST_SKIP() << "../shared/data is not on this machine";
  }
  std::string gt_path_, dt_path_, expected_path_;
};

TEST_F(SharedPairTest,
       AllTwelveStatsEqualPycocotoolsForBothUseCatsAndSumRules) {
  absl::StatusOr<CocoDataset> gt = ReadCocoDataset(gt_path_);
  absl::StatusOr<std::vector<CocoDetection>> dt = ReadCocoResults(dt_path_);
  absl::StatusOr<rapidjson::Document> expected = ReadJsonFile(expected_path_);
  ASSERT_THAT(gt, IsOk());
  ASSERT_THAT(dt, IsOk());
  ASSERT_THAT(expected, IsOk());
  for (NumpySumRule rule :
       {NumpySumRule::kWholeArray, NumpySumRule::kBuffered8192}) {
    for (bool use_cats : {true, false}) {
      absl::StatusOr<CocoEvalResult> r =
          EvaluateCocoBbox(*gt, *dt, {.use_cats = use_cats, .sum_rule = rule});
      ASSERT_THAT(r, IsOk());
      const auto& want =
          (*expected)[use_cats ? "stats_useCats1" : "stats_useCats0"];
      for (int i = 0; i < 12; ++i) {
        EXPECT_EQ(r->stats[i], want[i].GetDouble())
            << CocoStatNames()[i] << " use_cats=" << use_cats;
      }
    }
  }
}

TEST_F(SharedPairTest, PerClassApEqualsPycocotoolsPrecisionSliceMeans) {
  absl::StatusOr<CocoDataset> gt = ReadCocoDataset(gt_path_);
  absl::StatusOr<std::vector<CocoDetection>> dt = ReadCocoResults(dt_path_);
  absl::StatusOr<rapidjson::Document> expected = ReadJsonFile(expected_path_);
  ASSERT_THAT(gt, IsOk());
  ASSERT_THAT(dt, IsOk());
  ASSERT_THAT(expected, IsOk());
  absl::StatusOr<CocoEvalResult> r = EvaluateCocoBbox(*gt, *dt);
  ASSERT_THAT(r, IsOk());
  const auto& per_cat = (*expected)["per_category_area_all_maxDets100"];
  int checked = 0;
  for (const CocoClassMetrics& c : r->per_class) {
    const std::string key = std::to_string(c.category_id);
    if (!per_cat.HasMember(key.c_str())) continue;
    const auto& want = per_cat[key.c_str()];
    EXPECT_EQ(c.ap, want["AP"].GetDouble()) << key;
    EXPECT_EQ(c.ap50, want["AP50"].GetDouble()) << key;
    EXPECT_EQ(c.ar100, want["AR100"].GetDouble()) << key;
    ++checked;
  }
  EXPECT_GE(checked, 70);
}

}  // namespace
}  // namespace cvt
