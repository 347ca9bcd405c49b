#include "libs/train/checkpoint_io.h"

#include <vector>

#include "ATen/ATen.h"
#include "absl/strings/str_cat.h"
#include "libs/base/exceptions.h"
#include "libs/base/file_io.h"
#include "libs/base/status_macros.h"
#include "torch/csrc/jit/serialization/pickle.h"

namespace cvt {
namespace {

c10::impl::GenericDict TensorDictToIValue(
    const std::map<std::string, at::Tensor>& tensors) {
  c10::impl::GenericDict dict(c10::StringType::get(), c10::TensorType::get());
  for (const auto& [name, tensor] : tensors) {
    dict.insert(name, tensor.detach().contiguous());
  }
  return dict;
}

absl::StatusOr<std::map<std::string, at::Tensor>> TensorDictFromIValue(
    const c10::IValue& value, const std::string& key) {
  if (!value.isGenericDict()) {
    return absl::InvalidArgumentError(absl::StrCat(key, " is not a dict"));
  }
  std::map<std::string, at::Tensor> out;
  for (const auto& item : value.toGenericDict()) {
    if (!item.key().isString() || !item.value().isTensor()) {
      return absl::InvalidArgumentError(
          absl::StrCat(key, " holds a non-tensor entry"));
    }
    out[item.key().toStringRef()] = item.value().toTensor();
  }
  return out;
}

}  // namespace

absl::Status WriteTrainingCheckpoint(const TrainingCheckpoint& c,
                                     const std::string& path) {
  std::vector<char> bytes;
  CVT_RETURN_IF_ERROR(CallCatchingExceptions(
      absl::StrCat(path, ": serialising the checkpoint"), [&] {
        c10::impl::GenericDict dict(c10::StringType::get(),
                                    c10::AnyType::get());
        dict.insert("format_version", c.format_version);
        dict.insert("tool_version", c.tool_version);
        dict.insert("epoch", c.epoch);
        dict.insert("global_step", c.global_step);
        dict.insert("batch_in_epoch", c.batch_in_epoch);
        dict.insert("epoch_complete", c.epoch_complete);
        dict.insert("state_dict", TensorDictToIValue(c.state_dict));
        dict.insert("optimizer", TensorDictToIValue(c.optimizer));
        std::map<std::string, at::Tensor> rng;
        if (c.rng_cpu.defined()) rng["torch_cpu"] = c.rng_cpu;
        for (size_t r = 0; r < c.rng_cpu_other_ranks.size(); ++r) {
          rng[absl::StrCat("torch_cpu_rank", r + 1)] = c.rng_cpu_other_ranks[r];
        }
        dict.insert("rng", TensorDictToIValue(rng));
        dict.insert("trainer_state", c.trainer_state_json);
        dict.insert("config", c.config_textproto);
        dict.insert("categories", c.categories_json);
        dict.insert("hyper_parameters", c.hyper_parameters_json);
        bytes = torch::jit::pickle_save(c10::IValue(dict));
        return absl::OkStatus();
      }));
  return WriteFileAtomically(path,
                             absl::string_view(bytes.data(), bytes.size()));
}

absl::StatusOr<TrainingCheckpoint> ReadTrainingCheckpoint(
    const std::string& path) {
  CVT_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a cvtools checkpoint (", why, ")"));
  };
  absl::StatusOr<c10::IValue> loaded =
      CallCatchingExceptions(absl::StrCat(path, ": reading the checkpoint"),
                             [&]() -> absl::StatusOr<c10::IValue> {
                               return torch::jit::pickle_load(std::vector<char>(
                                   bytes.begin(), bytes.end()));
                             });
  if (!loaded.ok()) return bad(loaded.status().message());
  if (!loaded->isGenericDict()) return bad("the archive holds no dict");
  c10::impl::GenericDict dict = loaded->toGenericDict();
  auto get = [&](const char* key) -> absl::StatusOr<c10::IValue> {
    if (!dict.contains(key)) return bad(absl::StrCat("no '", key, "'"));
    return dict.at(key);
  };
  TrainingCheckpoint c;
  CVT_ASSIGN_OR_RETURN(c10::IValue version, get("format_version"));
  if (!version.isInt()) return bad("format_version is not an int");
  c.format_version = version.toInt();
  if (c.format_version != kCheckpointFormatVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": checkpoint format_version ", c.format_version,
                     " is not supported by this cvtools (it reads version ",
                     kCheckpointFormatVersion, ")"));
  }
  auto get_int = [&](const char* key, int64_t& out) -> absl::Status {
    CVT_ASSIGN_OR_RETURN(c10::IValue v, get(key));
    if (!v.isInt()) return bad(absl::StrCat(key, " is not an int"));
    out = v.toInt();
    return absl::OkStatus();
  };
  auto get_str = [&](const char* key, std::string& out) -> absl::Status {
    CVT_ASSIGN_OR_RETURN(c10::IValue v, get(key));
    if (!v.isString()) return bad(absl::StrCat(key, " is not a string"));
    out = v.toStringRef();
    return absl::OkStatus();
  };
  CVT_RETURN_IF_ERROR(get_str("tool_version", c.tool_version));
  CVT_RETURN_IF_ERROR(get_int("epoch", c.epoch));
  CVT_RETURN_IF_ERROR(get_int("global_step", c.global_step));
  CVT_RETURN_IF_ERROR(get_int("batch_in_epoch", c.batch_in_epoch));
  CVT_ASSIGN_OR_RETURN(c10::IValue complete, get("epoch_complete"));
  if (!complete.isBool()) return bad("epoch_complete is not a bool");
  c.epoch_complete = complete.toBool();
  for (const char* key : {"state_dict", "optimizer", "rng"}) {
    CVT_ASSIGN_OR_RETURN(c10::IValue v, get(key));
    absl::StatusOr<std::map<std::string, at::Tensor>> tensors =
        TensorDictFromIValue(v, key);
    if (!tensors.ok()) return bad(tensors.status().message());
    if (std::string(key) == "state_dict") c.state_dict = std::move(*tensors);
    if (std::string(key) == "optimizer") c.optimizer = std::move(*tensors);
    if (std::string(key) == "rng" && tensors->count("torch_cpu")) {
      c.rng_cpu = (*tensors)["torch_cpu"];
      for (size_t r = 1;; ++r) {
        auto it = tensors->find(absl::StrCat("torch_cpu_rank", r));
        if (it == tensors->end()) break;
        c.rng_cpu_other_ranks.push_back(it->second);
      }
    }
  }
  CVT_RETURN_IF_ERROR(get_str("trainer_state", c.trainer_state_json));
  CVT_RETURN_IF_ERROR(get_str("config", c.config_textproto));
  CVT_RETURN_IF_ERROR(get_str("categories", c.categories_json));
  CVT_RETURN_IF_ERROR(get_str("hyper_parameters", c.hyper_parameters_json));
  return c;
}

}  // namespace cvt
