#include "libs/dist/dist_env.h"

#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/status_matchers.h"

namespace cvt {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<DistEnv> FromMap(const std::map<std::string, std::string>& m) {
  return DistEnvFromEnvironment(
      [&](const char* name) -> std::optional<std::string> {
        auto it = m.find(name);
        if (it == m.end()) return std::nullopt;
        return it->second;
      });
}

TEST(DistEnvTest, UnsetIsOneProcess) {
  ASSERT_OK_AND_ASSIGN(DistEnv env, FromMap({}));
  EXPECT_EQ(env.world_size, 1);
  EXPECT_EQ(env.rank, 0);
  EXPECT_FALSE(env.distributed());
  EXPECT_TRUE(env.is_root());
  // WORLD_SIZE=1 needs nothing else either.
  ASSERT_OK_AND_ASSIGN(env, FromMap({{"WORLD_SIZE", "1"}}));
  EXPECT_FALSE(env.distributed());
}

TEST(DistEnvTest, TorchrunVariables) {
  ASSERT_OK_AND_ASSIGN(DistEnv env, FromMap({{"WORLD_SIZE", "4"},
                                             {"RANK", "3"},
                                             {"LOCAL_RANK", "1"},
                                             {"LOCAL_WORLD_SIZE", "2"},
                                             {"MASTER_ADDR", "10.0.0.5"},
                                             {"MASTER_PORT", "29500"}}));
  EXPECT_EQ(env.world_size, 4);
  EXPECT_EQ(env.rank, 3);
  EXPECT_EQ(env.local_rank, 1);
  EXPECT_EQ(env.local_world_size, 2);
  EXPECT_EQ(env.master_addr, "10.0.0.5");
  EXPECT_EQ(env.master_port, 29500);
  EXPECT_TRUE(env.distributed());
  EXPECT_FALSE(env.is_root());
}

TEST(DistEnvTest, LocalRankDefaultsToRankOnOneNode) {
  ASSERT_OK_AND_ASSIGN(DistEnv env, FromMap({{"WORLD_SIZE", "2"},
                                             {"RANK", "1"},
                                             {"MASTER_ADDR", "127.0.0.1"},
                                             {"MASTER_PORT", "1234"}}));
  EXPECT_EQ(env.local_rank, 1);
  EXPECT_EQ(env.local_world_size, 2);
}

TEST(DistEnvTest, ErrorsNameTheVariable) {
  EXPECT_THAT(FromMap({{"WORLD_SIZE", "two"}}).status().message(),
              HasSubstr("WORLD_SIZE='two' is not an integer"));
  EXPECT_THAT(FromMap({{"WORLD_SIZE", "0"}}).status().message(),
              HasSubstr("WORLD_SIZE=0"));
  EXPECT_THAT(
      FromMap({{"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}})
          .status()
          .message(),
      HasSubstr("RANK is not set"));
  EXPECT_THAT(FromMap({{"WORLD_SIZE", "2"},
                       {"RANK", "2"},
                       {"MASTER_ADDR", "h"},
                       {"MASTER_PORT", "1"}})
                  .status()
                  .message(),
              HasSubstr("RANK=2 is outside [0, WORLD_SIZE=2)"));
  EXPECT_THAT(
      FromMap({{"WORLD_SIZE", "2"}, {"RANK", "0"}, {"MASTER_PORT", "1"}})
          .status()
          .message(),
      HasSubstr("MASTER_ADDR is not set"));
  EXPECT_THAT(
      FromMap({{"WORLD_SIZE", "2"}, {"RANK", "0"}, {"MASTER_ADDR", "h"}})
          .status()
          .message(),
      HasSubstr("MASTER_PORT is not set"));
  EXPECT_THAT(FromMap({{"WORLD_SIZE", "2"},
                       {"RANK", "0"},
                       {"MASTER_ADDR", "h"},
                       {"MASTER_PORT", "70000"}})
                  .status()
                  .message(),
              HasSubstr("MASTER_PORT=70000 is not a TCP port"));
  EXPECT_EQ(FromMap({{"WORLD_SIZE", "x"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cvt
