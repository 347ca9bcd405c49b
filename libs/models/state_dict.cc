#include "libs/models/state_dict.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/base/exceptions.h"
#include "libs/base/file_io.h"
#include "torch/nn/module.h"
#include "torch/serialize.h"

namespace cvt {

absl::StatusOr<TensorDict> ReadTorchSaveDict(const std::string& path) {
  absl::StatusOr<std::string> bytes = ReadFileToString(path);
  if (!bytes.ok()) return bytes.status();
  // The pickle of an OrderedDict file starts with protocol 2 and that
  // global. (The literal is split so that "\x02" does not swallow the "c".)
  if (bytes->find("\x80\x02"
                  "ccollections\nOrderedDict\n") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        path,
        " holds a collections.OrderedDict, which LibTorch 1.13 cannot read; "
        "save it as a plain dict: torch.save(dict(model.state_dict()), path)"));
  }
  return CallCatchingExceptions(
      "loading " + path, [&]() -> absl::StatusOr<TensorDict> {
        c10::IValue value =
            torch::pickle_load(std::vector<char>(bytes->begin(), bytes->end()));
        if (!value.isGenericDict()) {
          return absl::InvalidArgumentError(
              absl::StrCat(path, " does not hold a dict of tensors"));
        }
        TensorDict out;
        for (const auto& entry : value.toGenericDict()) {
          if (entry.key().isString() && entry.value().isTensor()) {
            out[entry.key().toStringRef()] = entry.value().toTensor();
          }
        }
        return out;
      });
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
