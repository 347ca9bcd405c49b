#include "libs/coco/coco_fast_reader.h"

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/file_io.h"
#include "libs/base/status_matchers.h"
#include "libs/base/testdata.h"
#include "libs/coco/coco.h"

namespace cvt {
namespace {

using coco_internal::TryParseCleanCocoDataset;

// Bitwise equality of doubles (so NaN == NaN and -0 != 0).
bool Same(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

void ExpectSameDataset(const CocoDataset& a, const CocoDataset& b) {
  ASSERT_EQ(a.images.size(), b.images.size());
  for (size_t i = 0; i < a.images.size(); ++i) {
    EXPECT_EQ(a.images[i].id, b.images[i].id);
    EXPECT_EQ(a.images[i].file_name, b.images[i].file_name);
    EXPECT_EQ(a.images[i].width, b.images[i].width);
    EXPECT_EQ(a.images[i].height, b.images[i].height);
  }
  ASSERT_EQ(a.annotations.size(), b.annotations.size());
  for (size_t i = 0; i < a.annotations.size(); ++i) {
    const CocoAnnotation& x = a.annotations[i];
    const CocoAnnotation& y = b.annotations[i];
    EXPECT_EQ(x.id, y.id);
    EXPECT_EQ(x.image_id, y.image_id);
    EXPECT_EQ(x.category_id, y.category_id);
    for (int k = 0; k < 4; ++k) EXPECT_TRUE(Same(x.bbox[k], y.bbox[k])) << i;
    EXPECT_EQ(x.area.has_value(), y.area.has_value());
    if (x.area && y.area) {
      EXPECT_TRUE(Same(*x.area, *y.area)) << i;
    }
    EXPECT_EQ(x.iscrowd, y.iscrowd);
    EXPECT_EQ(x.ignore, y.ignore);
  }
  ASSERT_EQ(a.categories.size(), b.categories.size());
  for (size_t i = 0; i < a.categories.size(); ++i) {
    EXPECT_EQ(a.categories[i].id, b.categories[i].id);
    EXPECT_EQ(a.categories[i].name, b.categories[i].name);
    EXPECT_EQ(a.categories[i].supercategory, b.categories[i].supercategory);
  }
  EXPECT_EQ(a.info_json, b.info_json);
  EXPECT_EQ(a.licenses_json, b.licenses_json);
}

// The fast reader must agree with the DOM reader on status, problems and
// data, with and without a problems list.
void ExpectAgrees(const std::string& json, bool expect_clean) {
  SCOPED_TRACE(json.size() < 400 ? json : json.substr(0, 400));
  EXPECT_EQ(TryParseCleanCocoDataset(json, 1).clean, expect_clean);
  for (int threads : {1, 2}) {
    auto dom = ParseCocoDataset(json, "x.json");
    auto fast = ParseCocoDatasetFast(json, "x.json", nullptr, threads);
    ASSERT_EQ(dom.ok(), fast.ok()) << dom.status() << " vs " << fast.status();
    if (!dom.ok()) {
      EXPECT_EQ(dom.status(), fast.status());
    } else {
      ExpectSameDataset(*dom, *fast);
    }
    std::vector<CocoProblem> dom_problems, fast_problems;
    auto dom2 = ParseCocoDataset(json, "x.json", &dom_problems);
    auto fast2 = ParseCocoDatasetFast(json, "x.json", &fast_problems, threads);
    ASSERT_EQ(dom2.ok(), fast2.ok());
    if (dom2.ok()) ExpectSameDataset(*dom2, *fast2);
    ASSERT_EQ(dom_problems.size(), fast_problems.size());
    for (size_t i = 0; i < dom_problems.size(); ++i) {
      EXPECT_EQ(dom_problems[i].kind, fast_problems[i].kind);
      EXPECT_EQ(dom_problems[i].message, fast_problems[i].message);
    }
  }
}

constexpr char kCategories[] =
    R"("categories": [{"id": 1, "name": "cat", "supercategory": "animal"},
                      {"id": 3, "name": "dog", "supercategory": 7},
                      {"id": 9, "name": "caf\u00e9 \"x\""}])";

std::string Doc(const std::string& images, const std::string& annotations,
                const std::string& extra = "") {
  return absl::StrCat("{", extra, R"("images": [)", images,
                      R"(], "annotations": [)", annotations, "], ", kCategories,
                      "}");
}

TEST(CocoFastReaderTest, CleanFilesMatchTheDomReader) {
  const std::string images =
      R"({"id": 1, "file_name": "a.jpg", "width": 640, "height": 480,
          "license": 3, "coco_url": "http://x", "extra": {"a": [1, 2]}},
         {"id": 2.0, "file_name": "b/c.png"},
         {"id": 9223372036854775807, "file_name": "big.jpg", "width": 0})";
  const std::string anns =
      R"({"id": 1, "image_id": 1, "category_id": 1,
          "bbox": [212.6, 55.62, 53.04, 53.46], "area": 970.0430999999998,
          "iscrowd": 0, "segmentation": [[1.5, 2, 3, 4e2]]},
         {"id": 2, "image_id": 2, "category_id": 3, "bbox": [0, -0, 1e-3, 5],
          "iscrowd": true, "ignore": 2},
         {"id": 3, "image_id": 1, "category_id": 9,
          "bbox": [NaN, Infinity, -Infinity, 18446744073709551615],
          "area": 12345678901234567890, "iscrowd": false,
          "segmentation": {"counts": "abc", "size": [2, 3]}})";
  ExpectAgrees(Doc(images, anns), true);
  ExpectAgrees(Doc(images, anns,
                   R"("info": {"description": "x", "year": 2017, "v": 1.5,
                               "big": 18446744073709551615, "neg": -3,
                               "list": [null, true, "\n"]},
                      "licenses": [{"id": 1, "name": "by"}],
                      "other": [[[{}]]], )"),
               true);
  ExpectAgrees(Doc("", "", R"("info": "just a string", )"), true);
  ExpectAgrees(R"({"categories": [], "annotations": [], "images": []})", true);
}

TEST(CocoFastReaderTest, EveryIrregularityFallsBackToTheDomReader) {
  const std::string good_image = R"({"id": 1, "file_name": "a.jpg"})";
  const std::string good_ann =
      R"({"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]})";
  const std::vector<std::string> bad = {
      "",
      "[1, 2]",
      "{\"images\": [",
      Doc(good_image, good_ann) + " trailing",
      R"({"annotations": [], "categories": []})",
      R"({"images": {}, "annotations": [], "categories": []})",
      R"({"images": [], "images": [], "annotations": [], "categories": []})",
      Doc(good_image, good_ann, R"("info": 1, "info": 2, )"),
      Doc("5", good_ann),
      Doc(R"({"file_name": "a.jpg"})", good_ann),
      Doc(R"({"id": "1", "file_name": "a.jpg"})", good_ann),
      Doc(R"({"id": 1.5, "file_name": "a.jpg"})", good_ann),
      Doc(R"({"id": 1, "file_name": 7})", good_ann),
      Doc(R"({"id": 1, "file_name": "a.jpg", "width": -1})", good_ann),
      Doc(R"({"id": 1, "file_name": "a.jpg", "height": "480"})", good_ann),
      Doc(R"({"id": 1, "id": 2, "file_name": "a.jpg"})", good_ann),
      Doc(good_image, R"({"id": 1, "image_id": 1, "category_id": 1})"),
      Doc(good_image,
          R"({"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3]})"),
      Doc(good_image,
          R"({"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, "4"]})"),
      Doc(good_image,
          R"({"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, [4]]})"),
      Doc(good_image, R"({"id": 1, "image_id": 1, "category_id": 1,
                          "bbox": [1, 2, 3, 4], "area": "big"})"),
      Doc(good_image, R"({"id": 1, "image_id": 1, "category_id": 1,
                          "bbox": [1, 2, 3, 4], "iscrowd": 0.5})"),
      Doc(good_image, R"({"id": 1, "image_id": 1, "category_id": 1,
                          "bbox": [1, 2, 3, 4], "iscrowd": null})"),
      Doc(good_image, R"({"id": 1, "image_id": 18446744073709551615,
                          "category_id": 1, "bbox": [1, 2, 3, 4]})"),
      Doc(good_image, R"({"id": 1, "image_id": 1, "category_id": 1,
                          "bbox": [1, 2, 3, 4], "bbox": [1, 2, 3, 4]})"),
      R"({"images": [], "annotations": [], "categories": [{"id": 1}]})",
      R"({"images": [], "annotations": [], "categories": [{"name": "x"}]})",
      R"({"images": [], "annotations": [1e999], "categories": []})",
  };
  for (const std::string& json : bad) ExpectAgrees(json, false);
}

// A generated file big enough for the two-thread split.
std::string BigDoc(int n, const std::string& tail_extra = "") {
  std::string images, anns;
  for (int i = 1; i <= n / 10; ++i) {
    absl::StrAppend(&images, i > 1 ? ", " : "", R"({"id": )", i,
                    R"(, "file_name": ")", i, R"(.jpg", "width": 640})");
  }
  for (int i = 1; i <= n; ++i) {
    absl::StrAppend(&anns, i > 1 ? ",\n " : "", R"({"id": )", i,
                    R"(, "image_id": )", 1 + i % (n / 10),
                    R"(, "category_id": 3, "bbox": [)", i * 0.37, ", ", i % 97,
                    ".25, 10.5, ", 1 + i % 13, R"(], "area": )", i * 1.1,
                    R"(, "iscrowd": )", i % 2, "}");
  }
  return absl::StrCat(R"({"info": {"n": )", n, R"(}, "images": [)", images,
                      R"(], "annotations": [)", anns, "], ", kCategories,
                      tail_extra, "}");
}

TEST(CocoFastReaderTest, SplitParseMatchesOnBigFiles) {
  const std::string json = BigDoc(30000);
  ASSERT_GT(json.size(), 1u << 20);
  EXPECT_TRUE(TryParseCleanCocoDataset(json, 2).clean);
  ExpectAgrees(json, true);
  // A later key whose string value looks like records: wherever the split
  // candidate falls, the result is the DOM reader's.
  std::string fake;
  for (int i = 0; i < 400000; ++i) absl::StrAppend(&fake, "}, {\\\"id\\\": 1");
  ExpectAgrees(BigDoc(30000, absl::StrCat(R"(, "zzz": ")", fake, "\"")), true);
  // A problem in the second half still gives the DOM reader's problems.
  std::string broken = json;
  const size_t at = broken.rfind("\"iscrowd\": 1");
  ASSERT_NE(at, std::string::npos);
  broken.replace(at, 12, "\"iscrowd\": \"yes\"");
  ExpectAgrees(broken, false);
}

TEST(CocoFastReaderTest, RealFilesMatchTheDomReader) {
  for (const char* file :
       {"bccd/coco/instances_trainval.json",
        "coco_tiny/annotations/instances_val2017.json",
        "eval/cocoapi_val2014_100/instances_val2014_100.json"}) {
    const std::string path = SharedDataPath(file);
    if (path.empty()) continue;
    auto text = ReadFileToString(path);
    ASSERT_THAT(text, IsOk());
    ExpectAgrees(*text, true);
  }
}

}  // namespace
}  // namespace cvt
