#include "libs/base/testdata.h"

#include <unistd.h>

#include <cstdlib>
#include <memory>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "tools/cpp/runfiles/runfiles.h"

namespace cvt {
namespace {

using bazel::tools::cpp::runfiles::Runfiles;

Runfiles& TestRunfiles() {
  static Runfiles* const runfiles = [] {
    std::string error;
    Runfiles* files = Runfiles::CreateForTest(&error);
    CHECK(files != nullptr) << "cannot find runfiles: " << error;
    return files;
  }();
  return *runfiles;
}

}  // namespace

std::string TestDataPath(absl::string_view workspace_relative_path) {
  return TestRunfiles().Rlocation(
      absl::StrCat("cvtools/", workspace_relative_path));
}

std::string SharedDataPath(absl::string_view relative_path) {
  const std::string path =
      TestRunfiles().Rlocation(absl::StrCat("shared_data/", relative_path));
  return access(path.c_str(), R_OK) == 0 ? path : "";
}

std::string TestTempPath(absl::string_view name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
}

}  // namespace cvt
