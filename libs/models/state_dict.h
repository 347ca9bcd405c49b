// -----------------------------------------------------------------------------
// File: state_dict.h
// -----------------------------------------------------------------------------
//
// Reading weights written by Python's `torch.save` into LibTorch modules.
//
// LibTorch 1.13's `pickle_load` reads a `torch.save`d dict of tensors, but
// turns `collections.OrderedDict` (the type `model.state_dict()` returns)
// into None, since it expects one only as a tensor's backward hooks. Such
// files are refused with the fix in the message: save
// `dict(model.state_dict())`.
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

// The string-keyed tensors of a `torch.save`d dict (other entries are
// skipped). Errors: NotFound for the file, InvalidArgument for an
// OrderedDict or a file that holds no dict, Unknown for a LibTorch failure.
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
