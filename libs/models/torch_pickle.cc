#include "libs/models/torch_pickle.h"

#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ATen/ops/empty.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "c10/core/Storage.h"
#include "c10/core/TensorImpl.h"
#include "libs/base/exceptions.h"
#include "libs/base/status_macros.h"

namespace cvt {
namespace {

// Pickle opcodes (CPython's Lib/pickle.py), protocols 2 to 5.
enum Op : uint8_t {
  kMark = '(',
  kStop = '.',
  kPop = '0',
  kPopMark = '1',
  kDup = '2',
  kBinFloat = 'G',
  kBinInt = 'J',
  kBinInt1 = 'K',
  kBinInt2 = 'M',
  kNone = 'N',
  kBinPersId = 'Q',
  kReduce = 'R',
  kBinString = 'T',
  kShortBinString = 'U',
  kBinUnicode = 'X',
  kAppend = 'a',
  kBuild = 'b',
  kGlobal = 'c',
  kDict = 'd',
  kEmptyDict = '}',
  kAppends = 'e',
  kBinGet = 'h',
  kLongBinGet = 'j',
  kList = 'l',
  kEmptyList = ']',
  kBinPut = 'q',
  kLongBinPut = 'r',
  kSetItem = 's',
  kTuple = 't',
  kEmptyTuple = ')',
  kSetItems = 'u',
  kBinBytes = 'B',
  kShortBinBytes = 'C',
  kProto = 0x80,
  kNewObj = 0x81,
  kTuple1 = 0x85,
  kTuple2 = 0x86,
  kTuple3 = 0x87,
  kNewTrue = 0x88,
  kNewFalse = 0x89,
  kLong1 = 0x8a,
  kLong4 = 0x8b,
  kShortBinUnicode = 0x8c,
  kBinUnicode8 = 0x8d,
  kBinBytes8 = 0x8e,
  kEmptySet = 0x8f,
  kAddItems = 0x90,
  kFrozenSet = 0x91,
  kNewObjEx = 0x92,
  kStackGlobal = 0x93,
  kMemoize = 0x94,
  kFrame = 0x95,
  kByteArray8 = 0x96,
};

enum class Kind {
  kNone,
  kBool,
  kInt,
  kFloat,
  kString,  // str or bytes
  kTuple,
  kList,
  kDict,
  kGlobal,  // A class or function named by GLOBAL, not called yet.
  kStorage,
  kTensor,
  kOpaque,  // Anything else: a set, an unknown object.
};

// One Python value. Values live in `Unpickler::values_` and refer to each
// other by index, so nesting depth and cycles cost nothing on destruction.
struct Value {
  Kind kind = Kind::kNone;
  int64_t number = 0;  // kBool, kInt; kStorage: numel.
  double real = 0;     // kFloat
  std::string text;    // kString; kGlobal: "module.name"
  // kTuple, kList; kDict: key, value, key, value, ...
  std::vector<size_t> items;
  at::ScalarType dtype = at::kByte;  // kStorage
  c10::Storage storage;              // kStorage
  at::Tensor tensor;                 // kTensor
};

std::optional<at::ScalarType> StorageDtype(absl::string_view class_name) {
  static const auto* const kTypes =
      new std::map<absl::string_view, at::ScalarType>{
          {"FloatStorage", at::kFloat},
          {"DoubleStorage", at::kDouble},
          {"HalfStorage", at::kHalf},
          {"BFloat16Storage", at::kBFloat16},
          {"LongStorage", at::kLong},
          {"IntStorage", at::kInt},
          {"ShortStorage", at::kShort},
          {"CharStorage", at::kChar},
          {"ByteStorage", at::kByte},
          {"BoolStorage", at::kBool},
          {"ComplexFloatStorage", at::kComplexFloat},
          {"ComplexDoubleStorage", at::kComplexDouble},
          {"UntypedStorage", at::kByte},
      };
  auto it = kTypes->find(class_name);
  if (it == kTypes->end()) return std::nullopt;
  return it->second;
}

class Unpickler {
 public:
  Unpickler(absl::string_view data, const TorchStorageLoader& load_storage)
      : data_(data), load_storage_(load_storage) {}

  // Runs the pickle to its STOP and returns the index of the result.
  absl::StatusOr<size_t> Run() {
    while (true) {
      op_pos_ = pos_;
      uint8_t op;
      if (!ReadByte(&op)) return Error("truncated pickle (no STOP opcode)");
      if (op == kStop) {
        size_t result;
        CVT_RETURN_IF_ERROR(Pop(&result));
        return result;
      }
      CVT_RETURN_IF_ERROR(Step(op));
    }
  }

  const Value& value(size_t index) const { return values_[index]; }

 private:
  template <typename... Args>
  absl::Status Error(const Args&... args) const {
    return absl::InvalidArgumentError(
        absl::StrCat("pickle offset ", op_pos_, ": ", args...));
  }

  // --- Reading the byte stream.

  bool ReadBytes(size_t n, absl::string_view* out) {
    if (n > data_.size() - pos_) return false;
    *out = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool ReadByte(uint8_t* out) {
    absl::string_view bytes;
    if (!ReadBytes(1, &bytes)) return false;
    *out = static_cast<uint8_t>(bytes[0]);
    return true;
  }
  // An unsigned little-endian integer of `n` <= 8 bytes.
  bool ReadLittleEndian(size_t n, uint64_t* out) {
    absl::string_view bytes;
    if (!ReadBytes(n, &bytes)) return false;
    *out = 0;
    for (size_t i = 0; i < n; ++i) {
      *out |= uint64_t{static_cast<uint8_t>(bytes[i])} << (8 * i);
    }
    return true;
  }
  // A text line for GLOBAL, without its '\n'.
  bool ReadLine(std::string* out) {
    size_t end = data_.find('\n', pos_);
    if (end == absl::string_view::npos) return false;
    *out = std::string(data_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return true;
  }

  // --- The stack, marks and values.

  size_t New(Kind kind) {
    values_.emplace_back();
    values_.back().kind = kind;
    return values_.size() - 1;
  }
  void Push(size_t index) { stack_.push_back(index); }
  size_t Floor() const { return marks_.empty() ? 0 : marks_.back(); }
  absl::Status Pop(size_t* out) {
    if (stack_.size() <= Floor()) return Error("pickle stack underflow");
    *out = stack_.back();
    stack_.pop_back();
    return absl::OkStatus();
  }
  absl::StatusOr<size_t> Top() const {
    if (stack_.size() <= Floor()) return Error("pickle stack underflow");
    return stack_.back();
  }
  // Pops everything above the last MARK, and the mark.
  absl::Status PopMark(std::vector<size_t>* out) {
    if (marks_.empty()) return Error("no MARK to pop to");
    out->assign(stack_.begin() + marks_.back(), stack_.end());
    stack_.resize(marks_.back());
    marks_.pop_back();
    return absl::OkStatus();
  }
  void PushContainer(Kind kind, std::vector<size_t> items) {
    size_t index = New(kind);
    values_[index].items = std::move(items);
    Push(index);
  }
  void PushInt(int64_t number) {
    size_t index = New(Kind::kInt);
    values_[index].number = number;
    Push(index);
  }
  void PushString(absl::string_view text) {
    size_t index = New(Kind::kString);
    values_[index].text = std::string(text);
    Push(index);
  }
  absl::Status PushGlobal(absl::string_view module, absl::string_view name) {
    size_t index = New(Kind::kGlobal);
    values_[index].text = absl::StrCat(module, ".", name);
    Push(index);
    return absl::OkStatus();
  }
  // Appends `items` to the list (or, for SETITEMS, dict) on top of the stack.
  absl::Status AddItems(Kind want, const std::vector<size_t>& items) {
    CVT_ASSIGN_OR_RETURN(size_t target, Top());
    Value& container = values_[target];
    if (container.kind == Kind::kOpaque) return absl::OkStatus();
    if (container.kind != want) {
      return Error(want == Kind::kList ? "APPEND" : "SETITEM",
                   " to something that is not a ",
                   want == Kind::kList ? "list" : "dict");
    }
    if (want == Kind::kDict && items.size() % 2 != 0) {
      return Error("SETITEMS with an odd number of values");
    }
    container.items.insert(container.items.end(), items.begin(), items.end());
    return absl::OkStatus();
  }

  absl::StatusOr<int64_t> IntAt(size_t index, absl::string_view what) const {
    const Value& v = values_[index];
    if (v.kind != Kind::kInt && v.kind != Kind::kBool) {
      return Error(what, " is not an int");
    }
    return v.number;
  }
  absl::StatusOr<std::vector<int64_t>> IntTupleAt(
      size_t index, absl::string_view what) const {
    const Value& v = values_[index];
    if (v.kind != Kind::kTuple && v.kind != Kind::kList) {
      return Error(what, " is not a tuple");
    }
    std::vector<int64_t> out;
    for (size_t item : v.items) {
      CVT_ASSIGN_OR_RETURN(int64_t number, IntAt(item, what));
      out.push_back(number);
    }
    return out;
  }

  // --- The torch parts.

  // BINPERSID: ('storage', storage_type, key, location, numel).
  absl::StatusOr<size_t> LoadStorage(size_t pid_index) {
    const Value& pid = values_[pid_index];
    if (pid.kind != Kind::kTuple || pid.items.size() != 5 ||
        values_[pid.items[0]].kind != Kind::kString ||
        values_[pid.items[0]].text != "storage") {
      return Error(
          "persistent id is not ('storage', type, key, location, numel)");
    }
    const Value& type = values_[pid.items[1]];
    const Value& key = values_[pid.items[2]];
    std::optional<at::ScalarType> dtype;
    if (type.kind == Kind::kGlobal) {
      dtype = StorageDtype(type.text.substr(type.text.rfind('.') + 1));
    }
    if (!dtype.has_value()) {
      return Error("unsupported storage type ",
                   type.kind == Kind::kGlobal ? type.text : "(not a class)");
    }
    if (key.kind != Kind::kString) return Error("storage key is not a str");
    CVT_ASSIGN_OR_RETURN(int64_t numel, IntAt(pid.items[4], "storage numel"));
    const size_t element_size = c10::elementSize(*dtype);
    if (numel < 0) return Error("storage '", key.text, "' has numel ", numel);

    auto cached = storages_.find(key.text);
    if (cached == storages_.end()) {
      CVT_ASSIGN_OR_RETURN(TorchStorageBytes bytes, load_storage_(key.text));
      c10::Storage storage(c10::Storage::use_byte_size_t(), bytes.size,
                           std::move(bytes.data), /*allocator=*/nullptr,
                           /*resizable=*/false);
      cached = storages_.emplace(key.text, std::move(storage)).first;
    }
    const size_t nbytes = cached->second.nbytes();
    if (nbytes % element_size != 0 ||
        nbytes / element_size != static_cast<uint64_t>(numel)) {
      return Error("storage '", key.text, "' has ", nbytes,
                   " bytes, but its persistent id says ", numel,
                   " elements of ", element_size, " bytes");
    }
    size_t index = New(Kind::kStorage);
    values_[index].dtype = *dtype;
    values_[index].number = numel;
    values_[index].storage = cached->second;
    return index;
  }

  // _rebuild_tensor_v2(storage, offset, size, stride, ...).
  absl::StatusOr<size_t> RebuildTensor(const std::vector<size_t>& args) {
    if (args.size() < 4) return Error("tensor rebuild with too few arguments");
    const Value& storage = values_[args[0]];
    if (storage.kind != Kind::kStorage) {
      return Error("tensor rebuild over something that is not a storage");
    }
    CVT_ASSIGN_OR_RETURN(int64_t offset, IntAt(args[1], "storage offset"));
    CVT_ASSIGN_OR_RETURN(std::vector<int64_t> sizes,
                         IntTupleAt(args[2], "tensor size"));
    CVT_ASSIGN_OR_RETURN(std::vector<int64_t> strides,
                         IntTupleAt(args[3], "tensor stride"));
    if (sizes.size() != strides.size()) {
      return Error("tensor with ", sizes.size(), " sizes and ", strides.size(),
                   " strides");
    }
    if (offset < 0) return Error("negative storage offset ", offset);
    // The last element must lie inside the storage. An empty tensor touches
    // nothing, wherever its offset points, but its data pointer must not
    // overflow. Stride-0 (expanded) dims are allowed, as in Python.
    int64_t numel = 1;
    for (size_t d = 0; d < sizes.size(); ++d) {
      if (sizes[d] < 0 || strides[d] < 0) {
        return Error("tensor with a negative size or stride");
      }
      if (__builtin_mul_overflow(numel, sizes[d], &numel)) {
        return Error("tensor numel overflows");
      }
    }
    int64_t last = offset;
    for (size_t d = 0; d < sizes.size() && numel > 0; ++d) {
      int64_t extent;
      if (__builtin_mul_overflow(sizes[d] - 1, strides[d], &extent) ||
          __builtin_add_overflow(last, extent, &last)) {
        return Error("tensor extent overflows");
      }
    }
    if (numel > 0 && last >= storage.number) {
      return Error("tensor reaches element ", last, " of a storage of ",
                   storage.number);
    }
    int64_t offset_bytes;
    if (__builtin_mul_overflow(
            offset, static_cast<int64_t>(c10::elementSize(storage.dtype)),
            &offset_bytes)) {
      return Error("storage offset ", offset, " overflows");
    }
    size_t index = New(Kind::kTensor);
    at::Tensor tensor =
        at::empty({0}, at::TensorOptions().dtype(storage.dtype));
    c10::TensorImpl* impl = tensor.unsafeGetTensorImpl();
    impl->set_storage_keep_dtype(storage.storage);
    impl->set_storage_offset(offset);
    impl->set_sizes_and_strides(sizes, strides);
    values_[index].tensor = std::move(tensor);
    return index;
  }

  // REDUCE: callable(*args).
  absl::StatusOr<size_t> Call(size_t callable_index, size_t args_index,
                              bool nested = false) {
    const Value& callable = values_[callable_index];
    const Value& args_value = values_[args_index];
    if (callable.kind == Kind::kOpaque) return New(Kind::kOpaque);
    if (callable.kind != Kind::kGlobal) return Error("REDUCE of a non-class");
    if (args_value.kind != Kind::kTuple) {
      return Error("REDUCE with arguments that are not a tuple");
    }
    const std::string& name = callable.text;
    const std::vector<size_t> args = args_value.items;
    if (name == "collections.OrderedDict" ||
        name == "collections.defaultdict") {
      if (name == "collections.OrderedDict" && !args.empty()) {
        return Error("collections.OrderedDict with arguments");
      }
      return New(Kind::kDict);
    }
    if (name == "torch._utils._rebuild_tensor_v2" ||
        name == "torch._utils._rebuild_tensor") {
      return RebuildTensor(args);
    }
    if (name == "torch._utils._rebuild_parameter" ||
        name == "torch._utils._rebuild_parameter_with_state") {
      if (args.empty() || values_[args[0]].kind != Kind::kTensor) {
        return Error(name, " without a tensor");
      }
      return args[0];
    }
    if ((name == "torch._tensor._rebuild_from_type_v2" ||
         name == "torch.tensor._rebuild_from_type_v2") &&
        !nested) {
      // (func, new_type, args, state): the tensor func(*args) builds.
      if (args.size() != 4) return Error(name, " without 4 arguments");
      return Call(args[0], args[2], /*nested=*/true);
    }
    return New(Kind::kOpaque);
  }

  absl::Status Step(uint8_t op) {
    uint64_t n = 0;
    absl::string_view bytes;
    std::vector<size_t> items;
    size_t a, b;
    switch (op) {
      case kProto: {
        uint8_t protocol;
        if (!ReadByte(&protocol)) break;
        if (protocol > 5) return Error("pickle protocol ", int{protocol});
        return absl::OkStatus();
      }
      case kFrame:
        if (!ReadLittleEndian(8, &n)) break;
        return absl::OkStatus();
      case kMark:
        marks_.push_back(stack_.size());
        return absl::OkStatus();
      case kPop:
        return Pop(&a);
      case kPopMark:
        return PopMark(&items);
      case kDup: {
        CVT_ASSIGN_OR_RETURN(a, Top());
        Push(a);
        return absl::OkStatus();
      }
      case kNone:
        Push(New(Kind::kNone));
        return absl::OkStatus();
      case kNewTrue:
      case kNewFalse:
        a = New(Kind::kBool);
        values_[a].number = op == kNewTrue ? 1 : 0;
        Push(a);
        return absl::OkStatus();
      case kBinInt:
        if (!ReadLittleEndian(4, &n)) break;
        PushInt(static_cast<int32_t>(static_cast<uint32_t>(n)));
        return absl::OkStatus();
      case kBinInt1:
      case kBinInt2:
        if (!ReadLittleEndian(op == kBinInt1 ? 1 : 2, &n)) break;
        PushInt(static_cast<int64_t>(n));
        return absl::OkStatus();
      case kLong1:
      case kLong4: {
        if (!ReadLittleEndian(op == kLong1 ? 1 : 4, &n)) break;
        if (n > 8) return Error("integer of ", n, " bytes is too large");
        uint64_t bits;
        if (!ReadLittleEndian(n, &bits)) break;
        // Two's complement of `n` bytes, sign-extended.
        if (n > 0 && n < 8 && (bits >> (8 * n - 1)) & 1) {
          bits |= ~uint64_t{0} << (8 * n);
        }
        PushInt(static_cast<int64_t>(bits));
        return absl::OkStatus();
      }
      case kBinFloat: {
        if (!ReadBytes(8, &bytes)) break;
        uint64_t bits = 0;  // Big-endian.
        for (char c : bytes) bits = (bits << 8) | static_cast<uint8_t>(c);
        a = New(Kind::kFloat);
        std::memcpy(&values_[a].real, &bits, sizeof(bits));
        Push(a);
        return absl::OkStatus();
      }
      case kShortBinUnicode:
      case kShortBinString:
      case kShortBinBytes:
      case kBinUnicode:
      case kBinString:
      case kBinBytes:
      case kBinUnicode8:
      case kBinBytes8:
      case kByteArray8: {
        size_t width =
            (op == kShortBinUnicode || op == kShortBinString ||
             op == kShortBinBytes)
                ? 1
            : (op == kBinUnicode8 || op == kBinBytes8 || op == kByteArray8) ? 8
                                                                            : 4;
        if (!ReadLittleEndian(width, &n)) break;
        if (op == kBinString && (n >> 31) != 0) {
          return Error("negative string length");
        }
        if (!ReadBytes(n, &bytes)) break;
        PushString(bytes);
        return absl::OkStatus();
      }
      case kEmptyTuple:
      case kEmptyList:
      case kEmptyDict:
        PushContainer(op == kEmptyTuple  ? Kind::kTuple
                      : op == kEmptyList ? Kind::kList
                                         : Kind::kDict,
                      {});
        return absl::OkStatus();
      case kTuple1:
      case kTuple2:
      case kTuple3: {
        size_t count = op - kTuple1 + 1;
        if (stack_.size() < Floor() + count) {
          return Error("pickle stack underflow");
        }
        items.assign(stack_.end() - count, stack_.end());
        stack_.resize(stack_.size() - count);
        PushContainer(Kind::kTuple, std::move(items));
        return absl::OkStatus();
      }
      case kTuple:
      case kList:
      case kDict:
        CVT_RETURN_IF_ERROR(PopMark(&items));
        if (op == kDict && items.size() % 2 != 0) {
          return Error("DICT with an odd number of values");
        }
        PushContainer(op == kTuple  ? Kind::kTuple
                      : op == kList ? Kind::kList
                                    : Kind::kDict,
                      std::move(items));
        return absl::OkStatus();
      case kAppend:
        CVT_RETURN_IF_ERROR(Pop(&a));
        return AddItems(Kind::kList, {a});
      case kAppends:
        CVT_RETURN_IF_ERROR(PopMark(&items));
        return AddItems(Kind::kList, items);
      case kSetItem:
        CVT_RETURN_IF_ERROR(Pop(&b));
        CVT_RETURN_IF_ERROR(Pop(&a));
        return AddItems(Kind::kDict, {a, b});
      case kSetItems:
        CVT_RETURN_IF_ERROR(PopMark(&items));
        return AddItems(Kind::kDict, items);
      case kEmptySet:
        Push(New(Kind::kOpaque));
        return absl::OkStatus();
      case kAddItems: {
        CVT_RETURN_IF_ERROR(PopMark(&items));
        CVT_ASSIGN_OR_RETURN(a, Top());
        if (values_[a].kind != Kind::kOpaque) {
          return Error("ADDITEMS to something that is not a set");
        }
        return absl::OkStatus();
      }
      case kFrozenSet:
        CVT_RETURN_IF_ERROR(PopMark(&items));
        Push(New(Kind::kOpaque));
        return absl::OkStatus();
      case kGlobal: {
        std::string module, name;
        if (!ReadLine(&module) || !ReadLine(&name)) break;
        return PushGlobal(module, name);
      }
      case kStackGlobal: {
        CVT_RETURN_IF_ERROR(Pop(&b));
        CVT_RETURN_IF_ERROR(Pop(&a));
        if (values_[a].kind != Kind::kString ||
            values_[b].kind != Kind::kString) {
          return Error("STACK_GLOBAL of non-strings");
        }
        return PushGlobal(values_[a].text, values_[b].text);
      }
      case kBinPersId: {
        CVT_RETURN_IF_ERROR(Pop(&a));
        CVT_ASSIGN_OR_RETURN(b, LoadStorage(a));
        Push(b);
        return absl::OkStatus();
      }
      case kReduce: {
        CVT_RETURN_IF_ERROR(Pop(&b));
        CVT_RETURN_IF_ERROR(Pop(&a));
        CVT_ASSIGN_OR_RETURN(size_t result, Call(a, b));
        Push(result);
        return absl::OkStatus();
      }
      case kNewObj:
      case kNewObjEx:
        // cls.__new__(cls, *args[, **kwargs]): an object we do not know.
        CVT_RETURN_IF_ERROR(Pop(&a));
        if (op == kNewObjEx) CVT_RETURN_IF_ERROR(Pop(&a));
        CVT_RETURN_IF_ERROR(Pop(&a));
        Push(New(Kind::kOpaque));
        return absl::OkStatus();
      case kBuild:
        // obj.__setstate__(state) or obj.__dict__.update(state): dropped.
        CVT_RETURN_IF_ERROR(Pop(&a));
        return Top().status();
      case kBinPut:
      case kLongBinPut: {
        if (!ReadLittleEndian(op == kBinPut ? 1 : 4, &n)) break;
        CVT_ASSIGN_OR_RETURN(a, Top());
        memo_[n] = a;
        return absl::OkStatus();
      }
      case kMemoize: {
        CVT_ASSIGN_OR_RETURN(a, Top());
        memo_[memo_.size()] = a;
        return absl::OkStatus();
      }
      case kBinGet:
      case kLongBinGet: {
        if (!ReadLittleEndian(op == kBinGet ? 1 : 4, &n)) break;
        auto it = memo_.find(n);
        if (it == memo_.end()) return Error("memo entry ", n, " is not set");
        Push(it->second);
        return absl::OkStatus();
      }
      default:
        return Error(absl::StrFormat("unsupported pickle opcode 0x%02x", op));
    }
    return Error(absl::StrFormat("truncated pickle (opcode 0x%02x)", op));
  }

  absl::string_view data_;
  const TorchStorageLoader& load_storage_;
  size_t pos_ = 0;
  size_t op_pos_ = 0;  // Where the current opcode starts.
  std::deque<Value> values_;
  std::vector<size_t> stack_;
  std::vector<size_t> marks_;  // Stack sizes at each MARK.
  std::unordered_map<uint64_t, size_t> memo_;
  std::map<std::string, c10::Storage> storages_;  // By key.
};

}  // namespace

absl::StatusOr<TorchPickleEntries> UnpickleTensorDict(
    absl::string_view pickle, const TorchStorageLoader& load_storage) {
  // The checks above leave LibTorch nothing to refuse, but an allocation can
  // still fail.
  return CallCatchingExceptions(
      "unpickling", [&]() -> absl::StatusOr<TorchPickleEntries> {
        Unpickler unpickler(pickle, load_storage);
        CVT_ASSIGN_OR_RETURN(size_t result, unpickler.Run());
        const auto& dict = unpickler.value(result);
        if (dict.kind != Kind::kDict) {
          return absl::InvalidArgumentError(
              "the pickle does not hold a dict (or OrderedDict)");
        }
        TorchPickleEntries entries;
        for (size_t i = 0; i + 1 < dict.items.size(); i += 2) {
          const auto& key = unpickler.value(dict.items[i]);
          const auto& value = unpickler.value(dict.items[i + 1]);
          if (key.kind == Kind::kString && value.kind == Kind::kTensor) {
            entries.emplace_back(key.text, value.tensor);
          }
        }
        return entries;
      });
}

}  // namespace cvt
