#include "libs/base/testdata.h"

#include <cstdlib>
#include <memory>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "tools/cpp/runfiles/runfiles.h"

namespace cvt {

std::string TestDataPath(absl::string_view workspace_relative_path) {
  using bazel::tools::cpp::runfiles::Runfiles;
  static Runfiles* const runfiles = [] {
    std::string error;
    Runfiles* files = Runfiles::CreateForTest(&error);
    CHECK(files != nullptr) << "cannot find runfiles: " << error;
    return files;
  }();
  return runfiles->Rlocation(absl::StrCat("cvtools/", workspace_relative_path));
}

std::string TestTempPath(absl::string_view name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
}

}  // namespace cvt
