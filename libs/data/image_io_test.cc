#include "libs/data/image_io.h"

#include <cstdint>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/status_matchers.h"
#include "libs/data/test_images.h"
#include "opencv2/core.hpp"
#include "opencv2/imgcodecs.hpp"

namespace cvt {
namespace {

using ::testing::HasSubstr;

// A 40x20 BGR image: left half white, right half black, top-left pixel red.
cv::Mat HalfWhite() {
  cv::Mat image(20, 40, CV_8UC3, cv::Scalar(0, 0, 0));
  image(cv::Rect(0, 0, 20, 20)).setTo(cv::Scalar(255, 255, 255));
  return image;
}

TEST(ImageIoTest, SniffsByContentAndNamesByExtension) {
  const std::string jpeg = EncodeJpegForTest(HalfWhite());
  const std::string png = EncodePngForTest(HalfWhite());
  EXPECT_EQ(SniffImageFormat(jpeg), ImageFormat::kJpeg);
  EXPECT_EQ(SniffImageFormat(png), ImageFormat::kPng);
  EXPECT_EQ(SniffImageFormat("GIF89a"), ImageFormat::kUnknown);
  EXPECT_EQ(FormatFromExtension("a/b.JPG"), ImageFormat::kJpeg);
  EXPECT_EQ(FormatFromExtension("x.jpeg"), ImageFormat::kJpeg);
  EXPECT_EQ(FormatFromExtension("x.png"), ImageFormat::kPng);
  EXPECT_EQ(FormatFromExtension("x.bmp"), ImageFormat::kUnknown);
  EXPECT_EQ(FormatFromExtension("noext"), ImageFormat::kUnknown);
}

TEST(ImageIoTest, DecodesColourJpeg) {
  const cv::Mat original = HalfWhite();
  auto decoded = DecodeImage(EncodeJpegForTest(original), "a.jpg");
  ASSERT_THAT(decoded, IsOk());
  EXPECT_EQ(decoded->header.format, ImageFormat::kJpeg);
  EXPECT_EQ(decoded->header.width, 40);
  EXPECT_EQ(decoded->header.height, 20);
  EXPECT_EQ(decoded->header.channels, 3);
  EXPECT_TRUE(decoded->header.complete);
  ASSERT_EQ(decoded->bgr.type(), CV_8UC3);
  EXPECT_LT(cv::norm(decoded->bgr, original, cv::NORM_INF), 40);
  EXPECT_GT(decoded->bgr.at<cv::Vec3b>(5, 5)[0], 240);
  EXPECT_LT(decoded->bgr.at<cv::Vec3b>(5, 35)[0], 15);
}

TEST(ImageIoTest, GreyJpegBecomesThreeEqualChannels) {
  cv::Mat grey(16, 16, CV_8UC1, cv::Scalar(77));
  auto decoded = DecodeImage(EncodeJpegForTest(grey), "g.jpg");
  ASSERT_THAT(decoded, IsOk());
  EXPECT_EQ(decoded->header.channels, 1);
  ASSERT_EQ(decoded->bgr.type(), CV_8UC3);
  const cv::Vec3b pixel = decoded->bgr.at<cv::Vec3b>(8, 8);
  EXPECT_EQ(pixel[0], pixel[1]);
  EXPECT_EQ(pixel[1], pixel[2]);
  EXPECT_NEAR(pixel[0], 77, 2);
}

TEST(ImageIoTest, RgbPngRoundTripsExactly) {
  cv::Mat image(7, 5, CV_8UC3);
  cv::randu(image, 0, 256);
  auto png = EncodeImage(image, ImageFormat::kPng);
  ASSERT_THAT(png, IsOk());
  auto decoded = DecodeImage(*png, "x.png");
  ASSERT_THAT(decoded, IsOk());
  EXPECT_EQ(cv::norm(decoded->bgr, image, cv::NORM_INF), 0);
}

TEST(ImageIoTest, RgbaPngIsCompositedOverBlack) {
  // Pixels: opaque (R=200,G=100,B=50); half (same colour, alpha 128);
  // transparent white (alpha 0).
  const std::vector<uint8_t> rows = {
      0, 200, 100, 50, 255, 200, 100, 50, 128, 255, 255, 255, 0,
  };
  const std::string png = MakePngForTest(3, 1, /*color_type=*/6, 8, rows);
  auto decoded = DecodeImage(png, "rgba.png");
  ASSERT_THAT(decoded, IsOk());
  EXPECT_TRUE(decoded->header.has_alpha);
  ASSERT_EQ(decoded->bgr.type(), CV_8UC3);
  EXPECT_EQ(decoded->bgr.at<cv::Vec3b>(0, 0), cv::Vec3b(50, 100, 200));
  // round(200 * 128 / 255) = 100, round(100 * 128 / 255) = 50, 50 -> 25.
  EXPECT_EQ(decoded->bgr.at<cv::Vec3b>(0, 1), cv::Vec3b(25, 50, 100));
  EXPECT_EQ(decoded->bgr.at<cv::Vec3b>(0, 2), cv::Vec3b(0, 0, 0));
}

TEST(ImageIoTest, GreyAlphaPngIsCompositedOverBlack) {
  const std::vector<uint8_t> rows = {0, 200, 255, 200, 0};
  auto decoded =
      DecodeImage(MakePngForTest(2, 1, /*color_type=*/4, 8, rows), "ga.png");
  ASSERT_THAT(decoded, IsOk());
  EXPECT_EQ(decoded->bgr.at<cv::Vec3b>(0, 0), cv::Vec3b(200, 200, 200));
  EXPECT_EQ(decoded->bgr.at<cv::Vec3b>(0, 1), cv::Vec3b(0, 0, 0));
}

TEST(ImageIoTest, PalettePngWithTransparency) {
  // Palette: 0 = red, 1 = green (alpha 0 via tRNS), 2 = blue.
  const std::vector<uint8_t> rows = {0, 0, 1, 2};
  std::vector<PngChunkForTest> chunks = {
      {"PLTE", std::string("\xff\x00\x00\x00\xff\x00\x00\x00\xff", 9)},
      {"tRNS", std::string("\xff\x00\xff", 3)},
  };
  auto decoded = DecodeImage(
      MakePngForTest(3, 1, /*color_type=*/3, 8, rows, chunks), "pal.png");
  ASSERT_THAT(decoded, IsOk());
  EXPECT_TRUE(decoded->header.palette);
  EXPECT_TRUE(decoded->header.has_alpha);
  EXPECT_EQ(decoded->bgr.at<cv::Vec3b>(0, 0), cv::Vec3b(0, 0, 255));
  EXPECT_EQ(decoded->bgr.at<cv::Vec3b>(0, 1), cv::Vec3b(0, 0, 0));
  EXPECT_EQ(decoded->bgr.at<cv::Vec3b>(0, 2), cv::Vec3b(255, 0, 0));
}

TEST(ImageIoTest, PalettePngWithoutTransparency) {
  const std::vector<uint8_t> rows = {0, 1, 0};
  std::vector<PngChunkForTest> chunks = {
      {"PLTE", std::string("\x10\x20\x30\x40\x50\x60", 6)}};
  auto decoded = DecodeImage(
      MakePngForTest(2, 1, /*color_type=*/3, 8, rows, chunks), "pal.png");
  ASSERT_THAT(decoded, IsOk());
  EXPECT_FALSE(decoded->header.has_alpha);
  EXPECT_EQ(decoded->bgr.at<cv::Vec3b>(0, 0), cv::Vec3b(0x60, 0x50, 0x40));
  EXPECT_EQ(decoded->bgr.at<cv::Vec3b>(0, 1), cv::Vec3b(0x30, 0x20, 0x10));
}

TEST(ImageIoTest, SixteenBitGreyPngScalesTo8Bits) {
  // Samples 0xFFFF, 0x8080 (= 128 * 257) and 0x0101 (= 257).
  const std::vector<uint8_t> rows = {0, 0xFF, 0xFF, 0x80, 0x80, 0x01, 0x01};
  auto decoded =
      DecodeImage(MakePngForTest(3, 1, /*color_type=*/0, 16, rows), "g16.png");
  ASSERT_THAT(decoded, IsOk());
  EXPECT_EQ(decoded->header.bit_depth, 16);
  ASSERT_EQ(decoded->bgr.type(), CV_8UC3);
  EXPECT_EQ(decoded->bgr.at<cv::Vec3b>(0, 0), cv::Vec3b(255, 255, 255));
  EXPECT_EQ(decoded->bgr.at<cv::Vec3b>(0, 1), cv::Vec3b(128, 128, 128));
  EXPECT_EQ(decoded->bgr.at<cv::Vec3b>(0, 2), cv::Vec3b(1, 1, 1));
}

TEST(ImageIoTest, SixteenBitRgbaPng) {
  // One pixel R=0xFFFF G=0 B=0x8080, alpha 0xFFFF (opaque).
  const std::vector<uint8_t> rows = {0,    0xFF, 0xFF, 0,   0,
                                     0x80, 0x80, 0xFF, 0xFF};
  auto decoded = DecodeImage(MakePngForTest(1, 1, /*color_type=*/6, 16, rows),
                             "rgba16.png");
  ASSERT_THAT(decoded, IsOk());
  EXPECT_EQ(decoded->bgr.at<cv::Vec3b>(0, 0), cv::Vec3b(128, 0, 255));
}

TEST(ImageIoTest, PngNamedJpgDecodesAsPng) {
  const std::string png = EncodePngForTest(HalfWhite());
  auto decoded = DecodeImage(png, "really_a_png.jpg");
  ASSERT_THAT(decoded, IsOk());
  EXPECT_EQ(decoded->header.format, ImageFormat::kPng);
  EXPECT_NE(FormatFromExtension("really_a_png.jpg"), decoded->header.format);
}

TEST(ImageIoTest, AppliesExifOrientation) {
  const std::string plain = EncodeJpegForTest(HalfWhite());
  // 6: rotate 90 degrees clockwise. The white left half ends up on top.
  auto rotated = DecodeImage(WithExifOrientationForTest(plain, 6), "r6.jpg");
  ASSERT_THAT(rotated, IsOk());
  EXPECT_EQ(rotated->header.exif_orientation, 6);
  EXPECT_EQ(rotated->header.stored_width, 40);
  EXPECT_EQ(rotated->header.width, 20);
  EXPECT_EQ(rotated->header.height, 40);
  ASSERT_EQ(rotated->bgr.cols, 20);
  ASSERT_EQ(rotated->bgr.rows, 40);
  EXPECT_GT(rotated->bgr.at<cv::Vec3b>(5, 10)[0], 240);
  EXPECT_LT(rotated->bgr.at<cv::Vec3b>(35, 10)[0], 15);
  // 3: rotate 180. White moves to the right half.
  auto upside = DecodeImage(WithExifOrientationForTest(plain, 3), "r3.jpg");
  ASSERT_THAT(upside, IsOk());
  ASSERT_EQ(upside->bgr.cols, 40);
  EXPECT_LT(upside->bgr.at<cv::Vec3b>(10, 5)[0], 15);
  EXPECT_GT(upside->bgr.at<cv::Vec3b>(10, 35)[0], 240);
  // 2: mirror. Same as 180 for this image's columns.
  auto mirrored = DecodeImage(WithExifOrientationForTest(plain, 2), "r2.jpg");
  ASSERT_THAT(mirrored, IsOk());
  EXPECT_GT(mirrored->bgr.at<cv::Vec3b>(10, 35)[0], 240);
  // 8: rotate 90 degrees counter-clockwise. White ends up at the bottom.
  auto ccw = DecodeImage(WithExifOrientationForTest(plain, 8), "r8.jpg");
  ASSERT_THAT(ccw, IsOk());
  ASSERT_EQ(ccw->bgr.rows, 40);
  EXPECT_LT(ccw->bgr.at<cv::Vec3b>(5, 10)[0], 15);
  EXPECT_GT(ccw->bgr.at<cv::Vec3b>(35, 10)[0], 240);
  // 1: unchanged.
  auto upright = DecodeImage(WithExifOrientationForTest(plain, 1), "r1.jpg");
  ASSERT_THAT(upright, IsOk());
  EXPECT_EQ(upright->bgr.cols, 40);
  EXPECT_GT(upright->bgr.at<cv::Vec3b>(10, 5)[0], 240);
}

TEST(ImageIoTest, RefusesDecompressionBombsFromTheHeader) {
  // A header declaring 20000 x 20000 with no pixel data at all.
  const std::string bomb = MakePngForTest(20000, 20000, 2, 8, {});
  auto header = ReadImageHeader(bomb, "bomb.png");
  ASSERT_THAT(header, IsOk());
  EXPECT_EQ(header->width, 20000);
  EXPECT_THAT(DecodeImage(bomb, "bomb.png"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("bomb.png: 20000x20000 = 400000000 pixels "
                                 "exceeds the decompression-bomb limit")));
  // The limit is configurable.
  const std::string small = EncodeJpegForTest(HalfWhite());
  EXPECT_THAT(DecodeImage(small, "s.jpg", {.max_pixels = 799}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("decompression-bomb limit of 799")));
  EXPECT_THAT(DecodeImage(small, "s.jpg", {.max_pixels = 800}), IsOk());
}

TEST(ImageIoTest, TruncatedFilesAreErrors) {
  cv::Mat noise(64, 64, CV_8UC3);
  cv::randu(noise, 0, 256);
  const std::string jpeg = EncodeJpegForTest(noise);
  const std::string cut_jpeg = jpeg.substr(0, jpeg.size() / 2);
  auto header = ReadImageHeader(cut_jpeg, "cut.jpg");
  ASSERT_THAT(header, IsOk());
  EXPECT_FALSE(header->complete);
  EXPECT_THAT(DecodeImage(cut_jpeg, "cut.jpg"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("cut.jpg: truncated jpeg")));
  const std::string png = EncodePngForTest(noise);
  EXPECT_THAT(DecodeImage(png.substr(0, png.size() - 20), "cut.png"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("cut.png: truncated png")));
  EXPECT_THAT(DecodeImage(jpeg.substr(0, 10), "tiny.jpg"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("tiny.jpg: corrupt or truncated JPEG")));
}

TEST(ImageIoTest, UndecodableAndUnknownFilesAreErrors) {
  EXPECT_THAT(DecodeImage("", "empty.jpg"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("empty.jpg: empty file")));
  EXPECT_THAT(DecodeImage("GIF89a....", "anim.gif"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("anim.gif: not a JPEG or PNG file (starts "
                                 "with 0x47494638)")));
  // A complete PNG whose compressed pixel data is garbage.
  std::string png = MakePngForTest(4, 4, 2, 8, std::vector<uint8_t>(52, 7));
  const size_t idat = png.find("IDAT");
  ASSERT_NE(idat, std::string::npos);
  for (size_t i = idat + 4; i < idat + 20; ++i) png[i] = '\x5a';
  EXPECT_THAT(DecodeImage(png, "garbage.png"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("garbage.png: undecodable png")));
}

TEST(ImageIoTest, FitSizeLimitsTheLongestSide) {
  EXPECT_EQ(FitSize(640, 480, 0), cv::Size(640, 480));
  EXPECT_EQ(FitSize(640, 480, 640), cv::Size(640, 480));
  EXPECT_EQ(FitSize(640, 480, 320), cv::Size(320, 240));
  EXPECT_EQ(FitSize(480, 640, 100), cv::Size(75, 100));
  EXPECT_EQ(FitSize(641, 427, 256), cv::Size(256, 171));  // 170.5 rounds up
  EXPECT_EQ(FitSize(1000, 1, 10), cv::Size(10, 1));       // never 0
}

// A smooth 400x300 photo-like JPEG.
std::string SmoothJpeg() {
  cv::Mat image(300, 400, CV_8UC3);
  for (int y = 0; y < 300; ++y) {
    for (int x = 0; x < 400; ++x) {
      image.at<cv::Vec3b>(y, x) =
          cv::Vec3b(x * 255 / 400, y * 255 / 300, (x + y) * 255 / 700);
    }
  }
  return EncodeJpegForTest(image);
}

TEST(ImageIoTest, DecodeToFitMatchesFullDecodePlusResize) {
  const std::string jpeg = SmoothJpeg();
  for (int max_size : {200, 100, 50, 130}) {
    auto fast = DecodeImageToFit(jpeg, "s.jpg", max_size);
    auto exact =
        DecodeImageToFit(jpeg, "s.jpg", max_size, {}, {.dct_scaling = false});
    ASSERT_THAT(fast, IsOk());
    ASSERT_THAT(exact, IsOk());
    EXPECT_EQ(fast->bgr.size(), FitSize(400, 300, max_size));
    EXPECT_EQ(exact->bgr.size(), FitSize(400, 300, max_size));
    EXPECT_EQ(fast->header.width, 400);  // The header keeps the full size.
    cv::Mat diff;
    cv::absdiff(fast->bgr, exact->bgr, diff);
    EXPECT_LT(cv::mean(diff)[0], 2.0) << max_size;
    EXPECT_LT(cv::norm(fast->bgr, exact->bgr, cv::NORM_INF), 24) << max_size;
  }
  // Within the limit: exactly DecodeImage.
  auto same = DecodeImageToFit(jpeg, "s.jpg", 400);
  auto full = DecodeImage(jpeg, "s.jpg");
  ASSERT_THAT(same, IsOk());
  ASSERT_THAT(full, IsOk());
  EXPECT_EQ(cv::norm(same->bgr, full->bgr, cv::NORM_INF), 0);
}

TEST(ImageIoTest, DecodeToFitAppliesOrientationAndHandlesPng) {
  auto rotated = DecodeImageToFit(WithExifOrientationForTest(SmoothJpeg(), 6),
                                  "r.jpg", 100);
  ASSERT_THAT(rotated, IsOk());
  EXPECT_EQ(rotated->bgr.size(), cv::Size(75, 100));
  cv::Mat image(30, 60, CV_8UC3, cv::Scalar(10, 20, 30));
  auto png = DecodeImageToFit(EncodePngForTest(image), "p.png", 20);
  ASSERT_THAT(png, IsOk());
  EXPECT_EQ(png->bgr.size(), cv::Size(20, 10));
  EXPECT_EQ(png->bgr.at<cv::Vec3b>(5, 5), cv::Vec3b(10, 20, 30));
  // Errors are those of DecodeImage.
  EXPECT_THAT(DecodeImageToFit("nope", "x.jpg", 10),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("x.jpg: not a JPEG or PNG")));
}

TEST(ImageIoTest, VerifyImageFindsWhatDecodeImageFinds) {
  cv::Mat noise(64, 64, CV_8UC3);
  cv::randu(noise, 0, 256);
  const std::string jpeg = EncodeJpegForTest(noise);
  const std::string png = EncodePngForTest(noise);
  EXPECT_THAT(VerifyImage(jpeg, "ok.jpg"), IsOk());
  EXPECT_THAT(VerifyImage(png, "ok.png"), IsOk());
  EXPECT_THAT(VerifyImage(jpeg.substr(0, jpeg.size() / 2), "cut.jpg"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("cut.jpg: truncated jpeg")));
  EXPECT_THAT(VerifyImage(jpeg, "s.jpg", {.max_pixels = 100}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("decompression-bomb limit")));
  EXPECT_THAT(VerifyImage("junk", "j.jpg"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not a JPEG or PNG")));
}

TEST(ImageIoTest, EncodesDeterministically) {
  cv::Mat image(30, 50, CV_8UC3);
  cv::randu(image, 0, 256);
  auto a = EncodeImage(image, ImageFormat::kJpeg);
  auto b = EncodeImage(image, ImageFormat::kJpeg);
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(SniffImageFormat(*a), ImageFormat::kJpeg);
  auto huffman =
      EncodeImage(image, ImageFormat::kPng, {.png_huffman_only = true});
  ASSERT_THAT(huffman, IsOk());
  auto back = DecodeImage(*huffman, "h.png");
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(cv::norm(back->bgr, image, cv::NORM_INF), 0);
  EXPECT_THAT(EncodeImage(image, ImageFormat::kUnknown),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(EncodeImage(cv::Mat(), ImageFormat::kPng),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace cvt
