#include "libs/models/torch_pickle.h"

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "c10/core/CPUAllocator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/status_matchers.h"

namespace cvt {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;
using std::string_literals::operator""s;

// --- Hand-written pickles, opcode by opcode (CPython's Lib/pickle.py).

std::string Le32(uint32_t v) {
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(v >> (8 * i));
  return out;
}
std::string Str(const std::string& s) { return "X" + Le32(s.size()) + s; }
std::string Int(int32_t v) {
  if (v >= 0 && v < 256) return std::string("K") + static_cast<char>(v);
  return "J" + Le32(static_cast<uint32_t>(v));
}
std::string Global(const std::string& module, const std::string& name) {
  return "c" + module + "\n" + name + "\n";
}
std::string Ints(const std::vector<int32_t>& values) {
  std::string out = "(";
  for (int32_t v : values) out += Int(v);
  return out + "t";
}
std::string Storage(const std::string& type, const std::string& key,
                    int32_t numel) {
  return "(" + Str("storage") + Global("torch", type) + Str(key) + Str("cpu") +
         Int(numel) + "tQ";
}
std::string EmptyOrderedDict() {
  return Global("collections", "OrderedDict") + ")R";
}
// torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False,
// OrderedDict()), as torch.save writes it.
std::string Tensor(const std::string& storage, int32_t offset,
                   const std::vector<int32_t>& sizes,
                   const std::vector<int32_t>& strides) {
  return Global("torch._utils", "_rebuild_tensor_v2") + "(" + storage +
         Int(offset) + Ints(sizes) + Ints(strides) + "\x89" +
         EmptyOrderedDict() + "tR";
}
// What torch.save(model.state_dict()) writes: an OrderedDict, its items,
// then its `_metadata` attribute.
std::string OrderedDictPickle(const std::string& items) {
  return "\x80\x02" + EmptyOrderedDict() + "q\x00("s + items + "u}" +
         Str("_metadata") + EmptyOrderedDict() + Str("") + "}" +
         Str("version") + Int(1) + "sssb.";
}

template <typename T>
std::string Bytes(const std::vector<T>& values) {
  std::string out(values.size() * sizeof(T), '\0');
  std::memcpy(out.data(), values.data(), out.size());
  return out;
}

// Serves storage records from a map and counts the calls.
struct FakeArchive {
  std::map<std::string, std::string> records;
  std::map<std::string, int> loads;

  TorchStorageLoader Loader() {
    return [this](const std::string& key) -> absl::StatusOr<TorchStorageBytes> {
      ++loads[key];
      auto it = records.find(key);
      if (it == records.end()) return absl::NotFoundError("no record " + key);
      TorchStorageBytes bytes;
      bytes.size = it->second.size();
      bytes.data = c10::GetCPUAllocator()->allocate(bytes.size);
      if (bytes.size > 0) {
        std::memcpy(bytes.data.get(), it->second.data(), bytes.size);
      }
      return bytes;
    };
  }
};

std::vector<double> Values(const at::Tensor& t) {
  at::Tensor d = t.to(at::kDouble).contiguous();
  return std::vector<double>(d.data_ptr<double>(),
                             d.data_ptr<double>() + d.numel());
}

TEST(UnpickleTensorDictTest, ReadsAnOrderedDictWithViewsOfOneStorage) {
  FakeArchive archive;
  archive.records["0"] = Bytes<float>({0, 1, 2, 3, 4, 5});
  std::string storage = Storage("FloatStorage", "0", 6);
  // The second use of the storage comes from the memo, as torch.save writes.
  std::string pickle = OrderedDictPickle(
      Str("w") + Tensor(storage + "q\x01", 0, {2, 3}, {3, 1}) + Str("t") +
      Tensor("h\x01", 0, {3, 2}, {1, 3}) + Str("column") +
      Tensor(storage, 1, {2}, {3}) + Str("scalar") +
      Tensor(storage, 5, {}, {}) + Str("not_a_tensor") + Int(7));
  absl::StatusOr<TorchPickleEntries> entries =
      UnpickleTensorDict(pickle, archive.Loader());
  ASSERT_THAT(entries, IsOk());
  ASSERT_THAT(*entries, SizeIs(4));
  EXPECT_EQ((*entries)[0].first, "w");
  EXPECT_EQ((*entries)[1].first, "t");
  EXPECT_EQ((*entries)[2].first, "column");
  EXPECT_EQ((*entries)[3].first, "scalar");
  const at::Tensor& w = (*entries)[0].second;
  const at::Tensor& t = (*entries)[1].second;
  EXPECT_EQ(w.scalar_type(), at::kFloat);
  EXPECT_EQ(w.sizes(), at::IntArrayRef({2, 3}));
  EXPECT_EQ(t.strides(), at::IntArrayRef({1, 3}));
  EXPECT_FALSE(w.requires_grad());
  EXPECT_EQ(Values(w), std::vector<double>({0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(Values(t), std::vector<double>({0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(Values((*entries)[2].second), std::vector<double>({1, 4}));
  EXPECT_EQ((*entries)[3].second.dim(), 0);
  EXPECT_EQ(Values((*entries)[3].second), std::vector<double>({5}));
  // One storage, read once, shared by every view.
  EXPECT_EQ(archive.loads["0"], 1);
  EXPECT_TRUE(t.storage().is_alias_of(w.storage()));
  w.data_ptr<float>()[4] = 40;
  EXPECT_EQ(Values(t)[3], 40);
}

TEST(UnpickleTensorDictTest, ReadsProtocol4OpcodesAndLongs) {
  FakeArchive archive;
  archive.records["k"] = Bytes<int64_t>({-1, int64_t{1} << 40});
  // FRAME, MEMOIZE, SHORT_BINUNICODE, STACK_GLOBAL, LONG1, BINGET.
  std::string body =
      std::string("}\x94(\x8c\x01x\x94") +
      "\x8c\x0ctorch._utils\x94\x8c\x12_rebuild_tensor_v2\x94\x93\x94(" +
      "(\x8c\x07storage\x8c\x05torch\x8c\x0bLongStorage\x93\x8c\x01k" +
      "\x8c\x03"
      "cpu\x8a\x01\x02tQ" +
      "\x8a\x00"s + "\x8a\x01\x02\x85" + "\x8a\x01\x01\x85" + "\x88" + "}tR" +
      "\x8c\x01y" + "h\x00"s + "u.";
  std::string pickle = std::string("\x80\x04\x95") + Le32(body.size()) +
                       std::string(4, '\0') + body;
  absl::StatusOr<TorchPickleEntries> entries =
      UnpickleTensorDict(pickle, archive.Loader());
  ASSERT_THAT(entries, IsOk());
  // "y" maps to the dict itself (a cycle), which is not a tensor.
  ASSERT_THAT(*entries, SizeIs(1));
  EXPECT_EQ((*entries)[0].second.scalar_type(), at::kLong);
  EXPECT_EQ((*entries)[0].second.data_ptr<int64_t>()[1], int64_t{1} << 40);
  EXPECT_EQ((*entries)[0].second.data_ptr<int64_t>()[0], -1);
}

TEST(UnpickleTensorDictTest, ReadsParametersAndTensorSubclassWrappers) {
  FakeArchive archive;
  archive.records["0"] = Bytes<double>({1.5, 2.5});
  std::string tensor = Tensor(Storage("DoubleStorage", "0", 2), 0, {2}, {1});
  std::string pickle =
      "\x80\x02}(" + Str("p") + Global("torch._utils", "_rebuild_parameter") +
      "(" + tensor + "\x88" + EmptyOrderedDict() + "tR" + Str("sub") +
      Global("torch._tensor", "_rebuild_from_type_v2") + "(" +
      Global("torch._utils", "_rebuild_tensor_v2") + Global("torch", "Tensor") +
      "(" + Storage("DoubleStorage", "0", 2) + Int(1) + Ints({1}) + Ints({1}) +
      "\x89" + EmptyOrderedDict() + "t}tR" + Str("opaque") +
      Global("numpy.core.multiarray", "scalar") + "(NtR" + "u.";
  absl::StatusOr<TorchPickleEntries> entries =
      UnpickleTensorDict(pickle, archive.Loader());
  ASSERT_THAT(entries, IsOk());
  ASSERT_THAT(*entries, SizeIs(2));
  EXPECT_EQ(Values((*entries)[0].second), std::vector<double>({1.5, 2.5}));
  EXPECT_FALSE((*entries)[0].second.requires_grad());
  EXPECT_EQ(Values((*entries)[1].second), std::vector<double>({2.5}));
}

TEST(UnpickleTensorDictTest, RefusesMalformedPickles) {
  FakeArchive archive;
  archive.records["0"] = Bytes<float>({0, 1, 2, 3, 4, 5});
  const std::string storage = Storage("FloatStorage", "0", 6);
  const struct {
    std::string pickle;
    std::string message;
  } kCases[] = {
      {"", "truncated pickle"},
      {"\x80\x02]q\x00."s, "does not hold a dict"},
      {"\x80\x02.", "stack underflow"},
      {"\x80\x02}s.", "stack underflow"},
      {"\x80\x02}h\x05.", "memo entry 5 is not set"},
      {"\x80\x02I1\n.", "unsupported pickle opcode 0x49"},
      {"\x80\x02}X\xff\xff\xff\xff", "truncated pickle"},
      {"\x80\x02]" + Str("k") + Int(1) + "s.", "not a dict"},
      {OrderedDictPickle(Str("w") +
                         Tensor(Storage("FloatStorage", "0", 7), 0, {7}, {1})),
       "has 24 bytes, but its persistent id says 7 elements of 4 bytes"},
      {OrderedDictPickle(Str("w") + Tensor(storage, 0, {3, 3}, {3, 1})),
       "tensor reaches element 8 of a storage of 6"},
      {OrderedDictPickle(Str("w") + Tensor(storage, 5, {2}, {-1})),
       "negative size or stride"},
      {OrderedDictPickle(Str("w") + Tensor(storage, 0, {2, 3}, {1})),
       "2 sizes and 1 strides"},
      {OrderedDictPickle(Str("w") +
                         Tensor(Storage("QInt8Storage", "0", 6), 0, {6}, {1})),
       "unsupported storage type torch.QInt8Storage"},
      {OrderedDictPickle(Str("w") + Tensor(Int(3), 0, {6}, {1})),
       "not a storage"},
      {OrderedDictPickle(Str("w") + Tensor(storage, 0,
                                           {2147483647, 2147483647, 2147483647},
                                           {0, 0, 0})),
       "numel overflows"},
  };
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.message);
    EXPECT_THAT(
        UnpickleTensorDict(c.pickle, archive.Loader()),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.message)));
  }
}

TEST(UnpickleTensorDictTest, PassesStorageErrorsOn) {
  FakeArchive archive;
  EXPECT_THAT(
      UnpickleTensorDict(
          OrderedDictPickle(
              Str("w") + Tensor(Storage("FloatStorage", "9", 1), 0, {1}, {1})),
          archive.Loader()),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("no record 9")));
}

TEST(UnpickleTensorDictTest, EveryTruncationAndByteFlipFailsCleanly) {
  FakeArchive archive;
  archive.records["0"] = Bytes<float>({0, 1, 2, 3, 4, 5});
  const std::string storage = Storage("FloatStorage", "0", 6);
  const std::string pickle = OrderedDictPickle(
      Str("w") + Tensor(storage + "q\x01", 0, {2, 3}, {3, 1}) + Str("t") +
      Tensor("h\x01", 1, {2, 2}, {3, 1}));
  ASSERT_THAT(UnpickleTensorDict(pickle, archive.Loader()), IsOk());
  for (size_t n = 0; n < pickle.size(); ++n) {
    EXPECT_THAT(UnpickleTensorDict(pickle.substr(0, n), archive.Loader()),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << n << " bytes";
  }
  // Any one byte changed: a clean result or a clean error, never a crash.
  for (size_t i = 0; i < pickle.size(); ++i) {
    for (int v = 0; v < 256; ++v) {
      std::string changed = pickle;
      changed[i] = static_cast<char>(v);
      absl::StatusOr<TorchPickleEntries> entries =
          UnpickleTensorDict(changed, archive.Loader());
      if (entries.ok()) {
        for (const auto& [key, tensor] : *entries) Values(tensor);
      } else {
        EXPECT_THAT(entries.status().code(),
                    ::testing::AnyOf(absl::StatusCode::kInvalidArgument,
                                     absl::StatusCode::kNotFound))
            << entries.status();
      }
    }
  }
}

TEST(UnpickleTensorDictTest, DeepNestingAndCyclesAreHarmless) {
  FakeArchive archive;
  const int kDepth = 200000;
  std::string deep = "\x80\x02}" + Str("deep") + std::string(kDepth, ']') +
                     std::string(kDepth - 1, 'a') + "s" + Str("cycle") +
                     "]2as.";
  absl::StatusOr<TorchPickleEntries> entries =
      UnpickleTensorDict(deep, archive.Loader());
  ASSERT_THAT(entries, IsOk());
  EXPECT_THAT(*entries, SizeIs(0));
}

}  // namespace
}  // namespace cvt
