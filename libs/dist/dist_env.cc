#include "libs/dist/dist_env.h"

#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace cvt {
namespace {

absl::StatusOr<int> IntVar(
    const std::function<std::optional<std::string>(const char*)>& getenv,
    const char* name, int fallback) {
  std::optional<std::string> value = getenv(name);
  if (!value.has_value() || value->empty()) return fallback;
  int out = 0;
  if (!absl::SimpleAtoi(*value, &out)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "environment variable ", name, "='", *value, "' is not an integer"));
  }
  return out;
}

}  // namespace

absl::StatusOr<DistEnv> DistEnvFromEnvironment(
    const std::function<std::optional<std::string>(const char*)>& getenv) {
  DistEnv env;
  absl::StatusOr<int> world = IntVar(getenv, "WORLD_SIZE", 1);
  if (!world.ok()) return world.status();
  if (*world < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "environment variable WORLD_SIZE=", *world, " must be at least 1"));
  }
  env.world_size = *world;
  if (env.world_size == 1) return env;
  for (auto [name, field, fallback] :
       {std::tuple<const char*, int*, int>{"RANK", &env.rank, -1},
        {"LOCAL_RANK", &env.local_rank, -2},
        {"LOCAL_WORLD_SIZE", &env.local_world_size, env.world_size},
        {"MASTER_PORT", &env.master_port, -1}}) {
    absl::StatusOr<int> v = IntVar(getenv, name, fallback);
    if (!v.ok()) return v.status();
    *field = *v;
  }
  if (env.rank == -1) {
    return absl::InvalidArgumentError(
        absl::StrCat("WORLD_SIZE=", env.world_size,
                     " but the environment variable RANK is not set"));
  }
  if (env.rank < 0 || env.rank >= env.world_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("environment variable RANK=", env.rank,
                     " is outside [0, WORLD_SIZE=", env.world_size, ")"));
  }
  if (env.local_rank == -2) env.local_rank = env.rank % env.local_world_size;
  if (env.local_world_size < 1 || env.local_rank < 0 ||
      env.local_rank >= env.local_world_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "environment variables LOCAL_RANK=", env.local_rank,
        " and LOCAL_WORLD_SIZE=", env.local_world_size, " do not fit"));
  }
  std::optional<std::string> addr = getenv("MASTER_ADDR");
  if (!addr.has_value() || addr->empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("WORLD_SIZE=", env.world_size,
                     " but the environment variable MASTER_ADDR is not set"));
  }
  env.master_addr = *addr;
  if (env.master_port == -1) {
    return absl::InvalidArgumentError(
        absl::StrCat("WORLD_SIZE=", env.world_size,
                     " but the environment variable MASTER_PORT is not set"));
  }
  if (env.master_port < 1 || env.master_port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("environment variable MASTER_PORT=", env.master_port,
                     " is not a TCP port"));
  }
  return env;
}

absl::StatusOr<DistEnv> DistEnvFromEnvironment() {
  return DistEnvFromEnvironment(
      [](const char* name) -> std::optional<std::string> {
        const char* v = std::getenv(name);
        if (v == nullptr) return std::nullopt;
        return std::string(v);
      });
}

}  // namespace cvt
