// -----------------------------------------------------------------------------
// File: state_dict.h
// -----------------------------------------------------------------------------
//
// Reading weights written by Python's `torch.save` into LibTorch modules.
//
// `ReadTorchSaveDict` reads the zip archive `torch.save` writes by default
// (with `StoredZip`, stored_zip.h) and evaluates its pickle with
// `UnpickleTensorDict` (torch_pickle.h), not with LibTorch's `pickle_load`,
// which in 1.13 turns `collections.OrderedDict` into None. So both
// `torch.save(model.state_dict(), path)` (an OrderedDict; its `_metadata` is
// ignored) and `torch.save(dict(model.state_dict()), path)` load, as does
// any top-level dict of tensors of the plain dtypes (float, double, half,
// bfloat16, int64/32/16/8, uint8, bool, complex). Tensors keep the saved
// offset and strides, so entries that were views of one storage (a
// transpose, a slice) still share it; all land on the CPU. Not read: the
// legacy pre-1.6 format, nested checkpoints (`{"model": state_dict}`: only
// the top level is searched), big-endian files, quantized or sparse
// tensors, TorchScript archives.
//
// Example:
//
//   CVT_ASSIGN_OR_RETURN(TensorDict weights, ReadTorchSaveDict(path));
//   CVT_RETURN_IF_ERROR(CopyIntoModule(weights, path, "", module, nullptr));

#ifndef LIBS_MODELS_STATE_DICT_H_
#define LIBS_MODELS_STATE_DICT_H_

#include <functional>
#include <map>
#include <string>

#include "ATen/core/Tensor.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace torch {
namespace nn {
class Module;
}  // namespace nn
}  // namespace torch

namespace cvt {

using TensorDict = std::map<std::string, at::Tensor>;

// The string-keyed tensors of a `torch.save`d dict or OrderedDict (other
// entries are skipped). Errors name `path`: NotFound / PermissionDenied for
// the file, InvalidArgument for a file that is not a torch.save zip
// archive, is truncated or corrupt, or holds no dict; ResourceExhausted
// when memory runs out. Thread-safe.
absl::StatusOr<TensorDict> ReadTorchSaveDict(const std::string& path);

// Copies `weights[prefix + name]` into every parameter and buffer `name` of
// `module`. Errors: InvalidArgument naming `source` and the first missing
// key or mismatched shape; with `ignore` set, also the first key under
// `prefix` that the module does not have and `ignore(key)` does not excuse.
absl::Status CopyIntoModule(
    const TensorDict& weights, const std::string& source,
    const std::string& prefix, torch::nn::Module& module,
    const std::function<bool(const std::string&)>& ignore);

}  // namespace cvt

#endif  // LIBS_MODELS_STATE_DICT_H_
