// ReadTorchSaveDict on files that Python torch wrote (state_dict_gen.py, run
// by state_dict_test.sh into $STATE_DICT_DIR): an OrderedDict state_dict with
// every plain dtype, views, 0-dim and empty tensors; the same with pickle
// protocol 4; a plain dict with a Parameter; and files it must refuse.

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "ATen/core/Tensor.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/file_io.h"
#include "libs/base/status_matchers.h"
#include "libs/models/state_dict.h"

namespace cvt {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string Dir() {
  const char* dir = std::getenv("STATE_DICT_DIR");
  return dir == nullptr ? "" : dir;
}

// Scratch files: no need for WriteFileAtomically's fsyncs.
void WriteScratch(const std::string& path, const std::string& contents) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << contents;
}

std::vector<double> Values(const at::Tensor& t) {
  at::Tensor d = t.to(at::kDouble).contiguous();
  return std::vector<double>(d.data_ptr<double>(),
                             d.data_ptr<double>() + d.numel());
}

void ExpectEntry(const TensorDict& dict, const std::string& key,
                 at::ScalarType dtype, std::vector<int64_t> sizes,
                 std::vector<double> values) {
  SCOPED_TRACE(key);
  auto it = dict.find(key);
  ASSERT_NE(it, dict.end());
  EXPECT_EQ(it->second.scalar_type(), dtype);
  EXPECT_EQ(it->second.sizes(), at::IntArrayRef(sizes));
  EXPECT_EQ(Values(it->second), values);
  EXPECT_FALSE(it->second.requires_grad());
}

// The entries of state_dict_gen.py's tensors() and the views' sharing.
void ExpectTensors(TensorDict& dict) {
  ExpectEntry(dict, "f32", at::kFloat, {3, 4},
              {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  ExpectEntry(dict, "f32_t", at::kFloat, {4, 3},
              {0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});
  ExpectEntry(dict, "f32_slice", at::kFloat, {2, 2}, {4, 6, 8, 10});
  ExpectEntry(dict, "expanded", at::kFloat, {2, 3}, {0, 1, 2, 0, 1, 2});
  ExpectEntry(dict, "f64", at::kDouble, {5}, {-1, -0.5, 0, 0.5, 1});
  ExpectEntry(dict, "f16", at::kHalf, {3}, {0.5, -2, 65504});
  ExpectEntry(dict, "bf16", at::kBFloat16, {2}, {1.5, -3});
  ExpectEntry(dict, "i64", at::kLong, {4}, {-1099511627776.0, -1, 0, 7});
  ExpectEntry(dict, "i32", at::kInt, {2}, {-5, 1073741824});
  ExpectEntry(dict, "i16", at::kShort, {2}, {-300, 300});
  ExpectEntry(dict, "i8", at::kChar, {2}, {-128, 127});
  ExpectEntry(dict, "u8", at::kByte, {2}, {0, 255});
  ExpectEntry(dict, "bool", at::kBool, {3}, {1, 0, 1});
  ExpectEntry(dict, "scalar", at::kFloat, {}, {3.25});
  ExpectEntry(dict, "empty", at::kFloat, {0, 4}, {});
  if (::testing::Test::HasFailure()) return;

  // The views kept their layout and still share f32's storage, as in Python.
  const at::Tensor& base = dict.at("f32");
  const at::Tensor& t = dict.at("f32_t");
  const at::Tensor& slice = dict.at("f32_slice");
  EXPECT_EQ(t.strides(), at::IntArrayRef({1, 4}));
  EXPECT_EQ(slice.strides(), at::IntArrayRef({4, 2}));
  EXPECT_EQ(slice.storage_offset(), 4);
  EXPECT_EQ(dict.at("expanded").strides(), at::IntArrayRef({0, 1}));
  EXPECT_TRUE(t.storage().is_alias_of(base.storage()));
  EXPECT_TRUE(slice.storage().is_alias_of(base.storage()));
  base.data_ptr<float>()[6] = 100;       // base[1][2]
  EXPECT_EQ(Values(t)[2 * 3 + 1], 100);  // t[2][1]
  EXPECT_EQ(Values(slice)[1], 100);      // slice[0][1]
}

TEST(ReadTorchSaveDictTest, ReadsAnOrderedDictStateDict) {
  for (const char* name : {"ordered.pth", "protocol4.pth"}) {
    SCOPED_TRACE(name);
    absl::StatusOr<TensorDict> dict =
        ReadTorchSaveDict(absl::StrCat(Dir(), "/", name));
    ASSERT_THAT(dict, IsOk());
    // BatchNorm1d(3)'s five entries and tensors()' 15; the int and the
    // string are skipped, and so is _metadata.
    EXPECT_EQ(dict->size(), 20u);
    EXPECT_EQ(dict->count("not_a_tensor"), 0u);
    EXPECT_EQ(dict->count("a_string"), 0u);
    ExpectEntry(*dict, "weight", at::kFloat, {3}, {1, 1, 1});
    ExpectEntry(*dict, "bias", at::kFloat, {3}, {0, 0, 0});
    ExpectEntry(*dict, "running_mean", at::kFloat, {3}, {0, 0, 0});
    ExpectEntry(*dict, "running_var", at::kFloat, {3}, {1, 1, 1});
    ExpectEntry(*dict, "num_batches_tracked", at::kLong, {}, {5});
    ExpectTensors(*dict);
  }
}

TEST(ReadTorchSaveDictTest, ReadsAPlainDictWithAParameter) {
  absl::StatusOr<TensorDict> dict = ReadTorchSaveDict(Dir() + "/plain.pth");
  ASSERT_THAT(dict, IsOk());
  EXPECT_EQ(dict->size(), 4u);
  ExpectEntry(*dict, "f32", at::kFloat, {3, 4},
              {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  ExpectEntry(*dict, "f32_slice", at::kFloat, {2, 2}, {4, 6, 8, 10});
  ExpectEntry(*dict, "i64", at::kLong, {4}, {-1099511627776.0, -1, 0, 7});
  ExpectEntry(*dict, "param", at::kFloat, {2}, {1, 2});
  EXPECT_TRUE(
      dict->at("f32_slice").storage().is_alias_of(dict->at("f32").storage()));
}

TEST(ReadTorchSaveDictTest, RefusesWhatItCannotRead) {
  const struct {
    const char* name;
    const char* message;
  } kCases[] = {
      {"list.pth", "does not hold a dict"},
      {"legacy.pth", "legacy format"},
      {"truncated.pth", "not a zip archive"},
      {"garbage.pth", "not a zip archive"},
      {"bad_pickle.pth", "pickle offset 6: truncated pickle"},
  };
  for (const auto& c : kCases) {
    std::string path = absl::StrCat(Dir(), "/", c.name);
    EXPECT_THAT(ReadTorchSaveDict(path),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         AllOf(StartsWith(path + ": "), HasSubstr(c.message))));
  }
  EXPECT_THAT(ReadTorchSaveDict(Dir() + "/missing.pth"),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(ReadTorchSaveDictTest, DamagedCopiesFailCleanly) {
  absl::StatusOr<std::string> bytes = ReadFileToString(Dir() + "/ordered.pth");
  ASSERT_THAT(bytes, IsOk());
  const std::string path =
      absl::StrCat(std::getenv("TEST_TMPDIR"), "/damaged.pth");
  // Every cut loses the zip's central directory at the end.
  for (size_t n = 0; n < bytes->size(); n += 7) {
    WriteScratch(path, bytes->substr(0, n));
    EXPECT_THAT(
        ReadTorchSaveDict(path),
        StatusIs(absl::StatusCode::kInvalidArgument, StartsWith(path + ": ")))
        << n << " bytes";
  }
  // A changed byte anywhere: a clean result or a clean error naming the file
  // (the CRCs catch most changes to the records).
  int refused = 0;
  for (size_t i = 0; i < bytes->size(); i += 3) {
    std::string changed = *bytes;
    changed[i] = static_cast<char>(changed[i] ^ 0x5a);
    WriteScratch(path, changed);
    absl::StatusOr<TensorDict> dict = ReadTorchSaveDict(path);
    if (dict.ok()) {
      for (const auto& [key, tensor] : *dict) Values(tensor);
    } else {
      ++refused;
      EXPECT_THAT(dict.status(), StatusIs(absl::StatusCode::kInvalidArgument,
                                          StartsWith(path + ": ")))
          << "byte " << i;
    }
  }
  EXPECT_GT(refused, 0);
}

}  // namespace
}  // namespace cvt
