#include "libs/models/state_dict.h"

#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "c10/core/CPUAllocator.h"
#include "libs/base/exceptions.h"
#include "libs/base/file_io.h"
#include "libs/base/status_macros.h"
#include "libs/models/stored_zip.h"
#include "libs/models/torch_pickle.h"
#include "torch/nn/module.h"

namespace cvt {
namespace {

// A record the archive lacks is the file's fault, like a corrupt one.
absl::Status FileError(const std::string& path, const absl::Status& status) {
  absl::StatusCode code = status.code() == absl::StatusCode::kNotFound
                              ? absl::StatusCode::kInvalidArgument
                              : status.code();
  return absl::Status(code, absl::StrCat(path, ": ", status.message()));
}

// Reads the torch.save archive in `contents`.
absl::StatusOr<TorchPickleEntries> ReadArchive(absl::string_view contents) {
  // The legacy format (`_use_new_zipfile_serialization=False`) starts with
  // the pickle of a magic number; say so rather than "not a zip archive".
  if (absl::StartsWith(contents, "\x80\x02\x8a\x0a")) {
    return absl::InvalidArgumentError(
        "torch.save's legacy format is not supported; save it again with the "
        "default _use_new_zipfile_serialization=True");
  }
  CVT_ASSIGN_OR_RETURN(StoredZip zip, StoredZip::Parse(contents));
  // Every record sits in one folder, named after the file it was saved to
  // (or "archive"); PyTorch takes it from the first entry.
  if (zip.names().empty() ||
      zip.names().front().find('/') == std::string::npos) {
    return absl::InvalidArgumentError(
        "not a torch.save archive (no <archive>/ folder)");
  }
  const std::string folder =
      zip.names().front().substr(0, zip.names().front().find('/') + 1);
  if (zip.Has(folder + "byteorder")) {
    CVT_ASSIGN_OR_RETURN(absl::string_view order,
                         zip.Read(folder + "byteorder"));
    if (order != "little") {
      return absl::InvalidArgumentError(
          absl::StrCat("written on a '", order,
                       "'-endian machine; only little-endian files are read"));
    }
  }
  CVT_ASSIGN_OR_RETURN(absl::string_view pickle, zip.Read(folder + "data.pkl"));
  return UnpickleTensorDict(
      pickle, [&](const std::string& key) -> absl::StatusOr<TorchStorageBytes> {
        CVT_ASSIGN_OR_RETURN(absl::string_view record,
                             zip.Read(folder + "data/" + key));
        return CallCatchingExceptions(
            "allocating storage " + key,
            [&]() -> absl::StatusOr<TorchStorageBytes> {
              TorchStorageBytes bytes;
              bytes.size = record.size();
              bytes.data = c10::GetCPUAllocator()->allocate(bytes.size);
              if (bytes.size > 0) {
                std::memcpy(bytes.data.get(), record.data(), bytes.size);
              }
              return bytes;
            });
      });
}

}  // namespace

absl::StatusOr<TensorDict> ReadTorchSaveDict(const std::string& path) {
  CVT_ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open(path));
  absl::StatusOr<TorchPickleEntries> entries = ReadArchive(file.contents());
  if (!entries.ok()) return FileError(path, entries.status());
  TensorDict out;
  // A pickled dict has unique keys; should one repeat, the last wins.
  for (auto& [key, tensor] : *entries) out[key] = std::move(tensor);
  return out;
}

absl::Status CopyIntoModule(
    const TensorDict& weights, const std::string& source,
    const std::string& prefix, torch::nn::Module& module,
    const std::function<bool(const std::string&)>& ignore) {
  return CallCatchingExceptions("loading " + source, [&]() -> absl::Status {
    TensorDict ours;
    for (const auto& p : module.named_parameters()) ours[p.key()] = p.value();
    for (const auto& b : module.named_buffers()) ours[b.key()] = b.value();
    torch::NoGradGuard no_grad;
    for (auto& [name, tensor] : ours) {
      auto it = weights.find(prefix + name);
      if (it == weights.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat(source, ": missing key '", prefix, name, "'"));
      }
      if (it->second.sizes() != tensor.sizes()) {
        return absl::InvalidArgumentError(absl::StrCat(
            source, ": '", prefix, name, "' has shape [",
            absl::StrJoin(it->second.sizes(), ","), "], expected [",
            absl::StrJoin(tensor.sizes(), ","), "]"));
      }
      tensor.copy_(it->second);
    }
    if (ignore) {
      for (const auto& [key, tensor] : weights) {
        if (!absl::StartsWith(key, prefix)) continue;
        std::string name = key.substr(prefix.size());
        if (!ours.count(name) && !ignore(name)) {
          return absl::InvalidArgumentError(
              absl::StrCat(source, ": unexpected key '", key, "'"));
        }
      }
    }
    return absl::OkStatus();
  });
}

}  // namespace cvt
