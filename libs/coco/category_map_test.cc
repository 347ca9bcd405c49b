#include "libs/coco/category_map.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/status_matchers.h"
#include "libs/base/testdata.h"

namespace cvt {
namespace {

using ::testing::HasSubstr;

std::vector<CocoCategory> Categories() {
  return {{90, "toothbrush", "indoor"},
          {1, "person", "person"},
          {3, "car", "vehicle"}};
}

TEST(CategoryMapTest, IndicesFollowAscendingIdsWithGaps) {
  absl::StatusOr<CategoryMap> map = CategoryMap::FromCategories(Categories());
  ASSERT_THAT(map, IsOk());
  EXPECT_EQ(map->size(), 3);
  EXPECT_EQ(map->IndexOf(1), 0);
  EXPECT_EQ(map->IndexOf(3), 1);
  EXPECT_EQ(map->IndexOf(90), 2);
  EXPECT_EQ(map->IndexOf(2), -1);
  EXPECT_EQ(map->IdAt(2), 90);
  EXPECT_EQ(map->NameAt(1), "car");
}

TEST(CategoryMapTest, DuplicateIdIsAnError) {
  EXPECT_THAT(CategoryMap::FromCategories({{1, "a", ""}, {1, "b", ""}}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("duplicate category id 1")));
}

TEST(CategoryMapTest, JsonRoundTripAndFileRoundTrip) {
  absl::StatusOr<CategoryMap> map = CategoryMap::FromCategories(Categories());
  ASSERT_THAT(map, IsOk());
  const std::string path = TestTempPath("categories.json");
  ASSERT_THAT(map->Write(path), IsOk());
  absl::StatusOr<CategoryMap> back = CategoryMap::Read(path);
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(back->ToJson(), map->ToJson());
  EXPECT_EQ(back->IndexOf(90), 2);
  EXPECT_EQ(back->categories()[2].supercategory, "indoor");
}

TEST(CategoryMapTest, RejectsTamperedMaps) {
  EXPECT_THAT(
      CategoryMap::FromJson(R"({"version": 1, "categories": [
                  {"index": 1, "id": 1, "name": "a"}]})",
                            "categories.json"),
      StatusIs(
          absl::StatusCode::kInvalidArgument,
          HasSubstr("categories.json: categories[0] has index 1, expected 0")));
  EXPECT_THAT(CategoryMap::FromJson(R"({"version": 1, "categories": [
                  {"index": 0, "id": 5, "name": "a"}, {"index": 1, "id": 2, "name": "b"}]})",
                                    "c.json"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("ids must ascend")));
  EXPECT_THAT(
      CategoryMap::FromJson(R"({"version": 2, "categories": []})", "c.json"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("version")));
}

}  // namespace
}  // namespace cvt
