// -----------------------------------------------------------------------------
// File: testdata.h
// -----------------------------------------------------------------------------
//
// Finds test data in a test's runfiles (testonly). A test declares
// `data = ["//testdata:coco_tiny"]` and asks for
// `TestDataPath("testdata/coco_tiny/instances.json")`: the path is relative
// to the workspace root.

#ifndef LIBS_BASE_TESTDATA_H_
#define LIBS_BASE_TESTDATA_H_

#include <string>

#include "absl/strings/string_view.h"

namespace cvt {

// Returns the absolute path of `workspace_relative_path` in the runfiles of
// the running test; aborts the test binary if runfiles cannot be found.
std::string TestDataPath(absl::string_view workspace_relative_path);

// Returns the runfiles path of `relative_path` inside the shared data sets
// (../shared/data beside the workspace, exposed as @shared_data; the test
// declares `data = ["@shared_data//:eval"]`), or "" when that data is not on
// this machine; callers then GTEST_SKIP().
std::string SharedDataPath(absl::string_view relative_path);

// Returns $TEST_TMPDIR (or /tmp outside Bazel) joined with `name`.
std::string TestTempPath(absl::string_view name);

}  // namespace cvt

#endif  // LIBS_BASE_TESTDATA_H_
