#include "libs/tune/search_space.h"

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/file_io.h"
#include "libs/base/status_matchers.h"
#include "libs/base/testdata.h"
#include "libs/config/overrides.h"

namespace cvt {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

SearchSpace Parse(const std::string& text) {
  SearchSpace space;
  EXPECT_THAT(MergeTextProto(text, "space", &space), IsOk());
  return space;
}

std::string WriteSpace(const std::string& name, const std::string& text) {
  const std::string path = TestTempPath(name);
  EXPECT_THAT(WriteFileAtomically(path, text), IsOk());
  return path;
}

std::vector<std::string> Values(const std::vector<TrialParams>& trials,
                                size_t param) {
  std::vector<std::string> out;
  for (const TrialParams& t : trials) out.push_back(t[param].value);
  return out;
}

TEST(LoadSearchSpaceTest, ReadsATextProto) {
  const std::string path = WriteSpace("ok.textproto", R"pb(
    # proto-file: libs/tune/search_space.proto
    # proto-message: cvt.SearchSpace
    param {
      key: "optimizer.lr"
      loguniform { lo: 1e-4 hi: 1e-2 }
    }
    param {
      key: "data.batch_size"
      grid { values: [ "4", "8" ] }
    }
  )pb");
  absl::StatusOr<SearchSpace> space = LoadSearchSpace(path);
  ASSERT_THAT(space, IsOk());
  EXPECT_EQ(space->param_size(), 2);
  EXPECT_EQ(GridSize(*space), 2);
}

TEST(LoadSearchSpaceTest, ErrorsNameTheFileAndTheParam) {
  EXPECT_THAT(LoadSearchSpace(TestTempPath("missing.textproto")),
              StatusIs(absl::StatusCode::kNotFound));
  const std::string typo =
      WriteSpace("typo.textproto", "param {\n  kye: \"optimizer.lr\"\n}\n");
  EXPECT_THAT(LoadSearchSpace(typo),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("typo.textproto:2:")));
  const std::string bad = WriteSpace(
      "bad.textproto",
      "param { key: \"a.b\" uniform { lo: 0 hi: 1 } }\n"
      "param { key: \"optimizer.lr\" loguniform { lo: 0 hi: 1 } }\n");
  EXPECT_THAT(
      LoadSearchSpace(bad),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("bad.textproto: param 2 'optimizer.lr': loguniform "
                         "needs 0 < lo < hi (got lo 0, hi 1)")));
}

TEST(ValidateSearchSpaceTest, RejectsBadParams) {
  struct Case {
    const char* text;
    const char* message;
  };
  const Case cases[] = {
      {"", "has no param"},
      {"param { uniform { lo: 0 hi: 1 } }", "param 1 '': key is empty"},
      {"param { key: \"a\" }", "param 1 'a': needs one of"},
      {"param { key: \"a\" choice {} }", "choice has no values"},
      {"param { key: \"a\" grid {} }", "grid has no values"},
      {"param { key: \"a\" uniform { lo: 1 hi: 1 } }", "uniform needs lo < hi"},
      {"param { key: \"a\" uniform { lo: 0 hi: inf } }", "both finite"},
      {"param { key: \"a\" randint { lo: 3 hi: 3 } }", "hi is exclusive"},
      {"param { key: \"a\" choice { values: \"1\" } }\n"
       "param { key: \"a\" choice { values: \"2\" } }",
       "param 2 'a': key is repeated"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(
        ValidateSearchSpace(Parse(c.text), "s.textproto"),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.message)))
        << c.text;
  }
}

// Ray's grid_search: the grid key that sorts first varies fastest, and
// num_samples repeats the whole grid.
TEST(SampleTrialsTest, GridIsACrossProductRepeatedNumSamplesTimes) {
  const SearchSpace space = Parse(R"pb(
    param {
      key: "optimizer.lr"
      grid { values: [ "1e-3", "1e-4" ] }
    }
    param {
      key: "data.batch_size"
      grid { values: [ "4", "8", "16" ] }
    }
  )pb");
  Rng rng(1);
  const std::vector<TrialParams> trials = SampleTrials(space, 2, rng);
  ASSERT_EQ(trials.size(), 12u);
  // "data.batch_size" < "optimizer.lr": batch size varies fastest.
  EXPECT_THAT(Values(trials, 1), ElementsAre("4", "8", "16", "4", "8", "16",
                                             "4", "8", "16", "4", "8", "16"));
  EXPECT_THAT(Values(trials, 0),
              ElementsAre("1e-3", "1e-3", "1e-3", "1e-4", "1e-4", "1e-4",
                          "1e-3", "1e-3", "1e-3", "1e-4", "1e-4", "1e-4"));
  EXPECT_EQ(trials[0][0].Assignment(), "optimizer.lr=1e-3");
}

TEST(SampleTrialsTest, OneSeedGivesOneTrialList) {
  const SearchSpace space = Parse(R"pb(
    param {
      key: "optimizer.lr"
      loguniform { lo: 1e-5 hi: 1e-1 }
    }
    param {
      key: "optimizer.weight_decay"
      uniform { lo: 0 hi: 0.1 }
    }
    param {
      key: "data.batch_size"
      randint { lo: 2 hi: 5 }
    }
    param {
      key: "model.yolo.size"
      choice { values: [ "NANO", "SMALL" ] }
    }
    param {
      key: "trainer.seed"
      grid { values: [ "1", "2" ] }
    }
  )pb");
  Rng a(DeriveSeed(7, kSamplerStream)), b(DeriveSeed(7, kSamplerStream));
  Rng c(DeriveSeed(8, kSamplerStream));
  const std::vector<TrialParams> ta = SampleTrials(space, 3, a);
  EXPECT_EQ(ta, SampleTrials(space, 3, b));
  EXPECT_NE(ta, SampleTrials(space, 3, c));
  ASSERT_EQ(ta.size(), 6u);
  for (const TrialParams& t : ta) {
    ASSERT_EQ(t.size(), 5u);
    EXPECT_EQ(t[0].key, "optimizer.lr");
    const double lr = std::stod(t[0].value);
    EXPECT_GE(lr, 1e-5);
    EXPECT_LE(lr, 1e-1);
  }
}

TEST(SampleTrialsTest, DrawsFollowTheirDistributions) {
  const SearchSpace space = Parse(R"pb(
    param {
      key: "l"
      loguniform { lo: 1e-4 hi: 1 }
    }
    param {
      key: "u"
      uniform { lo: -1 hi: 3 }
    }
    param {
      key: "r"
      randint { lo: -2 hi: 2 }
    }
    param {
      key: "c"
      choice { values: [ "x", "y", "z" ] }
    }
  )pb");
  Rng rng(3);
  const std::vector<TrialParams> trials = SampleTrials(space, 30000, rng);
  int below_1e2 = 0;
  double u_sum = 0;
  std::map<std::string, int> r_counts, c_counts;
  for (const TrialParams& t : trials) {
    const double l = std::stod(t[0].value);
    ASSERT_GE(l, 1e-4);
    ASSERT_LE(l, 1.0);
    below_1e2 += l < 1e-2;
    const double u = std::stod(t[1].value);
    ASSERT_GE(u, -1.0);
    ASSERT_LT(u, 3.0);
    u_sum += u;
    ++r_counts[t[2].value];
    ++c_counts[t[3].value];
  }
  // Half of log10 in [-4, 0] lies below -2.
  EXPECT_NEAR(below_1e2 / 30000.0, 0.5, 0.02);
  EXPECT_NEAR(u_sum / 30000, 1.0, 0.03);
  EXPECT_EQ(r_counts.size(), 4u);  // -2, -1, 0, 1: hi is exclusive.
  EXPECT_EQ(r_counts.count("2"), 0u);
  for (const auto& [v, n] : r_counts) EXPECT_NEAR(n, 7500, 400) << v;
  for (const auto& [v, n] : c_counts) EXPECT_NEAR(n, 10000, 450) << v;
}

TEST(RepresentativeValuesTest, CoversFiniteDomainsAndBounds) {
  const SearchSpace space = Parse(R"pb(
    param {
      key: "a"
      choice { values: [ "1", "2" ] }
    }
    param {
      key: "b"
      randint { lo: 1 hi: 4 }
    }
    param {
      key: "c"
      loguniform { lo: 0.001 hi: 0.1 }
    }
  )pb");
  EXPECT_THAT(RepresentativeValues(space.param(0)), ElementsAre("1", "2"));
  EXPECT_THAT(RepresentativeValues(space.param(1)), ElementsAre("1", "3"));
  EXPECT_THAT(RepresentativeValues(space.param(2)), ElementsAre("0.001"));
}

}  // namespace
}  // namespace cvt
