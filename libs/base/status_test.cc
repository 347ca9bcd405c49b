#include "libs/base/status.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/status_matchers.h"

namespace cvt {
namespace {

TEST(AnnotateTest, PrependsContextAndKeepsCodeAndPayload) {
  absl::Status status = absl::NotFoundError("no such file");
  status.SetPayload("cvt/path", absl::Cord("a.json"));
  const absl::Status annotated = Annotate(status, "reading annotations");
  EXPECT_THAT(annotated, StatusIs(absl::StatusCode::kNotFound,
                                  "reading annotations: no such file"));
  EXPECT_EQ(annotated.GetPayload("cvt/path").value_or(absl::Cord()), "a.json");
}

TEST(AnnotateTest, OkStaysOk) {
  EXPECT_THAT(Annotate(absl::OkStatus(), "context"), IsOk());
}

TEST(ExitCodeTest, BadInputIsTwoRuntimeFailureIsOne) {
  EXPECT_EQ(ExitCodeFor(absl::OkStatus()), 0);
  EXPECT_EQ(ExitCodeFor(absl::InvalidArgumentError("x")), 2);
  EXPECT_EQ(ExitCodeFor(absl::NotFoundError("x")), 2);
  EXPECT_EQ(ExitCodeFor(absl::FailedPreconditionError("x")), 2);
  EXPECT_EQ(ExitCodeFor(absl::OutOfRangeError("x")), 2);
  EXPECT_EQ(ExitCodeFor(absl::UnimplementedError("x")), 1);
  EXPECT_EQ(ExitCodeFor(absl::UnknownError("x")), 1);
  EXPECT_EQ(ExitCodeFor(absl::InternalError("x")), 1);
  EXPECT_EQ(ExitCodeFor(absl::UnavailableError("x")), 1);
}

TEST(ExitCodeTest, PrintsToolAndMessageOnError) {
  testing::internal::CaptureStderr();
  EXPECT_EQ(ExitCode("coco_prep", absl::InvalidArgumentError("bad box")), 2);
  EXPECT_EQ(testing::internal::GetCapturedStderr(),
            "coco_prep: error: bad box\n");
  testing::internal::CaptureStderr();
  EXPECT_EQ(ExitCode("coco_prep", absl::OkStatus()), 0);
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

}  // namespace
}  // namespace cvt
