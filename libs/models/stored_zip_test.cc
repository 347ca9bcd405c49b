#include "libs/models/stored_zip.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/status_matchers.h"
#include "zlib.h"

namespace cvt {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Le(uint64_t value, int width) {
  std::string out(width, '\0');
  for (int i = 0; i < width; ++i) out[i] = static_cast<char>(value >> (8 * i));
  return out;
}

struct TestEntry {
  std::string name;
  std::string data;
  uint16_t method = 0;
  uint16_t flags = 0;
  std::string local_extra;  // torch.save pads with one here.
  bool zip64 = false;       // Sizes and offset in a zip64 extra field.
};

// A zip archive laid out as APPNOTE.TXT describes it.
std::string WriteZip(const std::vector<TestEntry>& entries,
                     bool zip64_end = false) {
  std::string out, directory;
  for (const TestEntry& e : entries) {
    const uint32_t crc = crc32_z(
        0, reinterpret_cast<const Bytef*>(e.data.data()), e.data.size());
    const uint64_t offset = out.size();
    const uint64_t size32 = e.zip64 ? 0xffffffff : e.data.size();
    out += Le(0x04034b50, 4) + Le(20, 2) + Le(e.flags, 2) + Le(e.method, 2) +
           Le(0, 4) + Le(crc, 4) + Le(size32, 4) + Le(size32, 4) +
           Le(e.name.size(), 2) + Le(e.local_extra.size(), 2) + e.name +
           e.local_extra + e.data;
    std::string extra;
    if (e.zip64) {
      extra = Le(1, 2) + Le(24, 2) + Le(e.data.size(), 8) +
              Le(e.data.size(), 8) + Le(offset, 8);
    }
    directory += Le(0x02014b50, 4) + Le(20, 2) + Le(20, 2) + Le(e.flags, 2) +
                 Le(e.method, 2) + Le(0, 4) + Le(crc, 4) + Le(size32, 4) +
                 Le(size32, 4) + Le(e.name.size(), 2) + Le(extra.size(), 2) +
                 Le(0, 2) + Le(0, 2) + Le(0, 2) + Le(0, 4) +
                 Le(e.zip64 ? 0xffffffff : offset, 4) + e.name + extra;
  }
  const uint64_t directory_offset = out.size();
  out += directory;
  if (zip64_end) {
    const uint64_t zip64_end_offset = out.size();
    out += Le(0x06064b50, 4) + Le(44, 8) + Le(45, 2) + Le(45, 2) + Le(0, 4) +
           Le(0, 4) + Le(entries.size(), 8) + Le(entries.size(), 8) +
           Le(directory.size(), 8) + Le(directory_offset, 8);
    out += Le(0x07064b50, 4) + Le(0, 4) + Le(zip64_end_offset, 8) + Le(1, 4);
    return out + Le(0x06054b50, 4) + Le(0, 4) + Le(0xffff, 2) + Le(0xffff, 2) +
           Le(0xffffffff, 4) + Le(0xffffffff, 4) + Le(0, 2);
  }
  return out + Le(0x06054b50, 4) + Le(0, 4) + Le(entries.size(), 2) +
         Le(entries.size(), 2) + Le(directory.size(), 4) +
         Le(directory_offset, 4) + Le(0, 2);
}

TEST(StoredZipTest, ReadsStoredEntries) {
  std::string zip = WriteZip({{.name = "a/data.pkl", .data = "pickle"},
                              {.name = "a/data/0",
                               .data = std::string(100, 'x'),
                               .local_extra = Le(0x4246, 2) + Le(3, 2) + "pad"},
                              {.name = "a/empty", .data = ""}});
  absl::StatusOr<StoredZip> parsed = StoredZip::Parse(zip);
  ASSERT_THAT(parsed, IsOk());
  EXPECT_THAT(parsed->names(),
              ElementsAre("a/data.pkl", "a/data/0", "a/empty"));
  EXPECT_TRUE(parsed->Has("a/data/0"));
  EXPECT_FALSE(parsed->Has("a/data/1"));
  EXPECT_THAT(parsed->Read("a/data.pkl"), IsOkAndHolds("pickle"));
  EXPECT_THAT(parsed->Read("a/data/0"), IsOkAndHolds(std::string(100, 'x')));
  EXPECT_THAT(parsed->Read("a/empty"), IsOkAndHolds(""));
  EXPECT_THAT(parsed->Read("a/data/1"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("a/data/1")));
}

TEST(StoredZipTest, ReadsZip64FieldsAndAComment) {
  std::string zip = WriteZip({{.name = "a/x", .data = "zip64", .zip64 = true}},
                             /*zip64_end=*/true);
  absl::StatusOr<StoredZip> parsed = StoredZip::Parse(zip);
  ASSERT_THAT(parsed, IsOk());
  EXPECT_THAT(parsed->Read("a/x"), IsOkAndHolds("zip64"));

  // An archive comment after the end record.
  std::string commented = WriteZip({{.name = "a/y", .data = "y"}});
  commented.replace(commented.size() - 2, 2, Le(5, 2) + "hello");
  parsed = StoredZip::Parse(commented);
  ASSERT_THAT(parsed, IsOk());
  EXPECT_THAT(parsed->Read("a/y"), IsOkAndHolds("y"));
}

TEST(StoredZipTest, RefusesWhatItDoesNotRead) {
  absl::StatusOr<StoredZip> parsed = StoredZip::Parse(
      WriteZip({{.name = "deflated", .data = "zz", .method = 8},
                {.name = "encrypted", .data = "zz", .flags = 1}}));
  ASSERT_THAT(parsed, IsOk());
  EXPECT_THAT(parsed->Read("deflated"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("compressed (method 8)")));
  EXPECT_THAT(
      parsed->Read("encrypted"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("encrypted")));

  EXPECT_THAT(StoredZip::Parse(WriteZip({{.name = "a"}, {.name = "a"}})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("duplicate entry a")));
  EXPECT_THAT(StoredZip::Parse(""), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("not a zip archive")));
  EXPECT_THAT(StoredZip::Parse(std::string(1000, 'P')),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not a zip archive")));

  std::string zip = WriteZip({{.name = "a", .data = "abc"}});
  zip[30 + 1 + 1] = 'X';  // The data: "aXc".
  parsed = StoredZip::Parse(zip);
  ASSERT_THAT(parsed, IsOk());
  EXPECT_THAT(parsed->Read("a"), StatusIs(absl::StatusCode::kInvalidArgument,
                                          HasSubstr("CRC-32 mismatch in a")));
}

TEST(StoredZipTest, EveryTruncationAndByteFlipFailsCleanly) {
  const std::string zip = WriteZip(
      {{.name = "a/data.pkl", .data = "pickle bytes"},
       {.name = "a/data/0", .data = std::string(64, 'x'), .zip64 = true}},
      /*zip64_end=*/true);
  for (size_t n = 0; n < zip.size(); ++n) {
    absl::StatusOr<StoredZip> parsed = StoredZip::Parse(zip.substr(0, n));
    if (parsed.ok()) {
      // A cut that happens to leave an end record behind (inside the data):
      // whatever it indexes must read cleanly.
      for (const std::string& name : parsed->names()) {
        absl::StatusOr<absl::string_view> read = parsed->Read(name);
        EXPECT_TRUE(read.ok() || absl::IsInvalidArgument(read.status()));
      }
    } else {
      EXPECT_THAT(parsed, StatusIs(absl::StatusCode::kInvalidArgument)) << n;
    }
  }
  for (size_t i = 0; i < zip.size(); ++i) {
    for (int v = 0; v < 256; v += 17) {
      std::string changed = zip;
      changed[i] = static_cast<char>(v);
      absl::StatusOr<StoredZip> parsed = StoredZip::Parse(changed);
      if (!parsed.ok()) {
        EXPECT_THAT(parsed, StatusIs(absl::StatusCode::kInvalidArgument));
        continue;
      }
      for (const std::string& name : parsed->names()) {
        absl::StatusOr<absl::string_view> read = parsed->Read(name);
        EXPECT_TRUE(read.ok() || absl::IsInvalidArgument(read.status()))
            << read.status();
      }
    }
  }
}

}  // namespace
}  // namespace cvt
