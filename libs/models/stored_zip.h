// -----------------------------------------------------------------------------
// File: stored_zip.h
// -----------------------------------------------------------------------------
//
// Reads a zip archive held in memory whose entries are stored uncompressed,
// which is how `torch.save` (PyTorch's PyTorchStreamWriter) writes them.
// Zip64 sizes and offsets are understood; compressed, encrypted or
// multi-disk entries are refused. Every read checks the entry's CRC-32.
//
// LibTorch has a zip reader (`caffe2::serialize::PyTorchStreamReader`), but in
// 1.13 it leaks its miniz state whenever its constructor throws on a
// malformed file, and it reports every problem as a `c10::Error`. This one
// returns a Status and allocates nothing but its index.
//
// Example:
//
//   CVT_ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open(path));
//   CVT_ASSIGN_OR_RETURN(StoredZip zip, StoredZip::Parse(file.contents()));
//   CVT_ASSIGN_OR_RETURN(absl::string_view pickle,
//                        zip.Read("archive/data.pkl"));
//
// Thread safety: a parsed `StoredZip` is immutable; `Read` may be called
// from several threads at once.

#ifndef LIBS_MODELS_STORED_ZIP_H_
#define LIBS_MODELS_STORED_ZIP_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cvt {

class StoredZip {
 public:
  // Indexes the central directory of `data`, which must outlive the result.
  // Errors: InvalidArgument for data that is not a zip archive, a truncated
  // or inconsistent one, or one with a duplicate entry name.
  static absl::StatusOr<StoredZip> Parse(absl::string_view data);

  // Entry names, in central-directory order.
  const std::vector<std::string>& names() const { return names_; }

  bool Has(absl::string_view name) const {
    return entries_.count(std::string(name)) > 0;
  }

  // The bytes of entry `name`, a view into the parsed data. Errors: NotFound
  // for no such entry; InvalidArgument for a compressed or encrypted entry,
  // one that does not fit in the data, or a CRC-32 mismatch.
  absl::StatusOr<absl::string_view> Read(absl::string_view name) const;

 private:
  struct Entry {
    uint64_t local_header_offset = 0;
    uint64_t size = 0;  // Compressed and uncompressed: equal when stored.
    uint64_t uncompressed_size = 0;
    uint32_t crc32 = 0;
    uint16_t method = 0;
    uint16_t flags = 0;
  };

  StoredZip() = default;

  absl::string_view data_;
  std::vector<std::string> names_;
  std::map<std::string, Entry> entries_;
};

}  // namespace cvt

#endif  // LIBS_MODELS_STORED_ZIP_H_
