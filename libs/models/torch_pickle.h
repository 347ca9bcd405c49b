// -----------------------------------------------------------------------------
// File: torch_pickle.h
// -----------------------------------------------------------------------------
//
// Evaluates the pickle of a `torch.save` archive (its `data.pkl` record) when
// it holds a dict of tensors, without Python and without LibTorch's
// `pickle_load` (which, in 1.13, turns `collections.OrderedDict`, the type of
// `model.state_dict()`, into None).
//
// The evaluator knows the opcodes of pickle protocols 2 to 5 that describe
// plain data: None, bools, ints, floats, strings and bytes, tuples, lists,
// dicts, the memo, marks and protocol 4 frames. On top of those it knows the
// few Python callables `torch.save` writes for tensors:
//
//   * `collections.OrderedDict()` (and `collections.defaultdict`): a dict.
//     Attributes set on it with BUILD, such as a state_dict's `_metadata`,
//     are ignored.
//   * The persistent id `('storage', torch.<Type>Storage, key, location,
//     numel)`: the bytes of record `key`, which must hold exactly `numel`
//     elements. Every storage type with a plain dtype is known (Float, Double,
//     Half, BFloat16, Long, Int, Short, Char, Byte, Bool, ComplexFloat,
//     ComplexDouble) and so is `torch.UntypedStorage` (bytes, newer torch).
//     `location` is ignored: every tensor lands on the CPU.
//   * `torch._utils._rebuild_tensor_v2(storage, offset, size, stride,
//     requires_grad, backward_hooks[, metadata])` and `_rebuild_tensor`: a
//     tensor over that storage, with the saved offset, sizes and strides, so
//     views saved together share memory as they did in Python. Entries are
//     checked to lie inside the storage. `requires_grad`, the hooks and the
//     metadata are ignored.
//   * `torch._utils._rebuild_parameter` (and `_with_state`): its tensor.
//     `torch._tensor._rebuild_from_type_v2`: the tensor its function builds.
//
// Any other callable (a numpy scalar, an argparse Namespace) gives an opaque
// value, which is fine as long as it is not where a tensor or a dict is
// needed. Opcodes outside this set (protocol 0 and 1 text opcodes, ext
// registries, out-of-band buffers) are errors.
//
// Example:
//
//   CVT_ASSIGN_OR_RETURN(TorchPickleEntries entries,
//                        UnpickleTensorDict(pickle, [&](const std::string& key)
//                            -> absl::StatusOr<TorchStorageBytes> {
//                          return ReadRecord("data/" + key);
//                        }));
//
// Thread safety: `UnpickleTensorDict` may run concurrently on different
// inputs; it calls `load_storage` from the calling thread only.

#ifndef LIBS_MODELS_TORCH_PICKLE_H_
#define LIBS_MODELS_TORCH_PICKLE_H_

#include <cstddef>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "ATen/core/Tensor.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "c10/core/Allocator.h"

namespace cvt {

// The raw bytes of one storage record: CPU memory, as read from the archive.
struct TorchStorageBytes {
  at::DataPtr data;
  size_t size = 0;  // Bytes.
};

// Returns the bytes of storage `key` (the archive's record `data/<key>`).
// Called at most once per key.
using TorchStorageLoader =
    std::function<absl::StatusOr<TorchStorageBytes>(const std::string& key)>;

// The string-keyed tensor entries of a dict, in pickle (insertion) order.
using TorchPickleEntries = std::vector<std::pair<std::string, at::Tensor>>;

// Runs `pickle` and returns the entries of the dict (or OrderedDict) it
// builds whose key is a string and whose value is a tensor; other entries
// are skipped. Tensors are CPU tensors over storages made from
// `load_storage`'s bytes, and do not require grad.
//
// Errors: InvalidArgument for a malformed or unsupported pickle, a result
// that is not a dict, or a storage whose size disagrees with its persistent
// id; the message gives the pickle offset but no file name, which the caller
// adds. Errors from `load_storage` are returned as they are.
absl::StatusOr<TorchPickleEntries> UnpickleTensorDict(
    absl::string_view pickle, const TorchStorageLoader& load_storage);

}  // namespace cvt

#endif  // LIBS_MODELS_TORCH_PICKLE_H_
