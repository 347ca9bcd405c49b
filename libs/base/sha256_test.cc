#include "libs/base/sha256.h"

#include <string>

#include "gtest/gtest.h"
#include "libs/base/file_io.h"
#include "libs/base/status_matchers.h"
#include "libs/base/testdata.h"

namespace cvt {
namespace {

TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(Sha256Hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(
      Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Sha256Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, PiecewiseUpdatesMatchOneUpdate) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data.push_back(static_cast<char>(i * 7));
  for (size_t step : {1, 3, 63, 64, 65, 200}) {
    Sha256 hash;
    for (size_t i = 0; i < data.size(); i += step) {
      hash.Update(absl::string_view(data).substr(i, step));
    }
    EXPECT_EQ(hash.HexDigest(), Sha256Hex(data)) << "step " << step;
  }
}

TEST(Sha256Test, MovedHashKeepsState) {
  Sha256 first;
  first.Update("ab");
  Sha256 second = std::move(first);
  second.Update("c");
  EXPECT_EQ(second.HexDigest(), Sha256Hex("abc"));
}

TEST(Sha256Test, FileHashMatchesInMemoryHash) {
  std::string data;
  for (int i = 0; i < 3 * (1 << 20) + 17; ++i) {
    data.push_back(static_cast<char>((i * 131) >> 3));
  }
  std::string path = TestTempPath("sha256_file.bin");
  ASSERT_THAT(WriteFileAtomically(path, data), IsOk());
  EXPECT_THAT(Sha256OfFile(path), IsOkAndHolds(Sha256Hex(data)));
  EXPECT_THAT(Sha256OfFile(TestTempPath("missing.bin")),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(Sha256Test, RecognisesHexDigests) {
  EXPECT_TRUE(IsSha256Hex(Sha256Hex("x")));
  EXPECT_FALSE(IsSha256Hex("abc"));
  EXPECT_FALSE(IsSha256Hex(std::string(64, 'G')));
  EXPECT_FALSE(IsSha256Hex(std::string(64, 'A')));
}

}  // namespace
}  // namespace cvt
