#include "libs/train/checkpoint_policy.h"

#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "glog/logging.h"
#include "libs/base/json.h"
#include "libs/base/status_macros.h"
#include "libs/config/checkpoint_config.pb.h"

namespace cvt {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
// Upper bound on `-vN` attempts, so a broken `exists` cannot loop forever.
constexpr int kMaxVersions = 100000;
// Upper bound on widths and precisions in format specs.
constexpr int kMaxSpecDigits = 64;

// ---------------------------------------------------------------------------
// Python float formatting.

// Python's repr(float): the shortest digits that round-trip, in fixed
// notation when the decimal exponent is in [-4, 16), else scientific with a
// signed exponent of at least two digits; "nan", "inf", "-inf".
std::string PythonRepr(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buffer[64];
  const std::to_chars_result result = std::to_chars(
      buffer, buffer + sizeof(buffer), value, std::chars_format::scientific);
  const absl::string_view text(buffer, result.ptr - buffer);
  // text is "[-]d[.ddd]e(+|-)dd".
  const size_t e = text.find('e');
  absl::string_view mantissa = text.substr(0, e);
  int exponent = 0;
  CHECK(absl::SimpleAtoi(text.substr(e + 1), &exponent)) << text;
  std::string sign;
  if (absl::ConsumePrefix(&mantissa, "-")) sign = "-";
  std::string digits;
  for (const char c : mantissa) {
    if (c != '.') digits.push_back(c);
  }
  const int n = static_cast<int>(digits.size());
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) {
      return absl::StrCat(sign, "0.", std::string(-exponent - 1, '0'), digits);
    }
    if (n <= exponent + 1) {
      return absl::StrCat(sign, digits, std::string(exponent + 1 - n, '0'),
                          ".0");
    }
    return absl::StrCat(sign, digits.substr(0, exponent + 1), ".",
                        digits.substr(exponent + 1));
  }
  return absl::StrCat(sign, digits.substr(0, 1), n > 1 ? "." : "",
                      digits.substr(1), "e", exponent < 0 ? "-" : "+",
                      absl::StrFormat("%02d", std::abs(exponent)));
}

// ---------------------------------------------------------------------------
// Templates.

enum class SpecType {
  kNone,     // Python str()
  kInt,      // d, 0Nd
  kFixed,    // .Nf
  kExp,      // .Ne
  kGeneral,  // .Ng
};

struct Spec {
  SpecType type = SpecType::kNone;
  int width = 0;  // kInt: zero-padded width (0: none)
  int precision = 0;
};

struct Token {
  bool placeholder = false;
  std::string text;  // literal text, or the placeholder name
  std::string spec_text;
  Spec spec;
};

absl::string_view EffectiveTemplate(absl::string_view filename_template) {
  return filename_template.empty() ? kDefaultCheckpointTemplate
                                   : filename_template;
}

absl::Status TemplateError(absl::string_view filename_template,
                           absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(
      "checkpoint filename template \"", filename_template, "\": ", message));
}

// Parses a non-empty run of decimal digits into [0, kMaxSpecDigits].
std::optional<int> ParseDigits(absl::string_view digits) {
  if (digits.empty() || digits.size() > 2) return std::nullopt;
  for (const char c : digits) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      return std::nullopt;
    }
  }
  int value = 0;
  if (!absl::SimpleAtoi(digits, &value) || value > kMaxSpecDigits) {
    return std::nullopt;
  }
  return value;
}

std::optional<Spec> ParseSpec(absl::string_view text) {
  Spec spec;
  if (text.empty()) return spec;
  if (text == "d") {
    spec.type = SpecType::kInt;
    return spec;
  }
  if (text.size() >= 3 && text.front() == '0' && text.back() == 'd') {
    const std::optional<int> width =
        ParseDigits(text.substr(1, text.size() - 2));
    if (!width.has_value() || *width == 0) return std::nullopt;
    spec.type = SpecType::kInt;
    spec.width = *width;
    return spec;
  }
  if (text.size() >= 3 && text.front() == '.') {
    switch (text.back()) {
      case 'f':
        spec.type = SpecType::kFixed;
        break;
      case 'e':
        spec.type = SpecType::kExp;
        break;
      case 'g':
        spec.type = SpecType::kGeneral;
        break;
      default:
        return std::nullopt;
    }
    const std::optional<int> precision =
        ParseDigits(text.substr(1, text.size() - 2));
    if (!precision.has_value()) return std::nullopt;
    spec.precision = *precision;
    return spec;
  }
  return std::nullopt;
}

absl::StatusOr<std::vector<Token>> ParseTemplate(
    absl::string_view filename_template) {
  std::vector<Token> tokens;
  std::string literal;
  for (size_t i = 0; i < filename_template.size(); ++i) {
    const char c = filename_template[i];
    if (c == '}') {
      return TemplateError(filename_template,
                           absl::StrCat("unmatched '}' at offset ", i));
    }
    if (c != '{') {
      literal.push_back(c);
      continue;
    }
    const size_t close = filename_template.find('}', i + 1);
    if (close == absl::string_view::npos) {
      return TemplateError(filename_template,
                           absl::StrCat("unclosed '{' at offset ", i));
    }
    const absl::string_view inner =
        filename_template.substr(i + 1, close - i - 1);
    if (inner.find('{') != absl::string_view::npos) {
      return TemplateError(filename_template,
                           absl::StrCat("nested '{' at offset ", i));
    }
    const size_t colon = inner.find(':');
    Token token;
    token.placeholder = true;
    token.text = std::string(inner.substr(0, colon));
    if (token.text.empty()) {
      return TemplateError(
          filename_template,
          absl::StrCat("empty placeholder name at offset ", i));
    }
    if (colon != absl::string_view::npos) {
      token.spec_text = std::string(inner.substr(colon + 1));
    }
    const std::optional<Spec> spec = ParseSpec(token.spec_text);
    if (!spec.has_value()) {
      return TemplateError(
          filename_template,
          absl::StrCat(
              "unsupported format spec \":", token.spec_text, "\" in {", inner,
              "} (supported: d, 0Nd, .Nf, .Ne, .Ng, N <= ", kMaxSpecDigits,
              ")"));
    }
    token.spec = *spec;
    if (!literal.empty()) {
      tokens.push_back(Token{.text = std::move(literal)});
      literal.clear();
    }
    tokens.push_back(std::move(token));
    i = close;
  }
  if (!literal.empty()) tokens.push_back(Token{.text = std::move(literal)});
  return tokens;
}

bool IsIntegerPlaceholder(absl::string_view name) {
  return name == "epoch" || name == "step";
}

// The metric among `keys` that placeholder `name` refers to: an exact match,
// else the one key whose placeholder name is `name`. NotFound when none,
// InvalidArgument when several match.
template <typename Keys>
absl::StatusOr<std::string> ResolveMetric(absl::string_view name,
                                          const Keys& keys) {
  std::vector<std::string> matches;
  for (const auto& key : keys) {
    if (key == name) return std::string(key);
    if (PlaceholderName(key) == name) matches.push_back(std::string(key));
  }
  std::sort(matches.begin(), matches.end());
  matches.erase(std::unique(matches.begin(), matches.end()), matches.end());
  if (matches.empty()) {
    return absl::NotFoundError(absl::StrCat("{", name, "}"));
  }
  if (matches.size() > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("placeholder {", name, "} is ambiguous: it names ",
                     absl::StrJoin(matches, " and ")));
  }
  return matches.front();
}

std::string FormatFloat(double value, const Spec& spec) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  switch (spec.type) {
    case SpecType::kNone:
    case SpecType::kInt:  // rejected before; keep Python str()
      return PythonRepr(value);
    case SpecType::kFixed:
      return absl::StrFormat("%.*f", spec.precision, value);
    case SpecType::kExp:
      return absl::StrFormat("%.*e", spec.precision, value);
    case SpecType::kGeneral:
      return absl::StrFormat("%.*g", spec.precision, value);
  }
  return PythonRepr(value);
}

std::string FormatInteger(int64_t value, const Spec& spec) {
  switch (spec.type) {
    case SpecType::kNone:
      return absl::StrCat(value);
    case SpecType::kInt:
      return spec.width > 0 ? absl::StrFormat("%0*d", spec.width, value)
                            : absl::StrCat(value);
    case SpecType::kFixed:
    case SpecType::kExp:
    case SpecType::kGeneral:
      return FormatFloat(static_cast<double>(value), spec);
  }
  return absl::StrCat(value);
}

// Renders the sanitised stem (no version, no extension).
absl::StatusOr<std::string> RenderStem(
    absl::string_view filename_template, int64_t epoch, int64_t step,
    const std::map<std::string, double>& metrics) {
  const absl::string_view effective = EffectiveTemplate(filename_template);
  CVT_ASSIGN_OR_RETURN(const std::vector<Token> tokens,
                       ParseTemplate(effective));
  std::vector<absl::string_view> keys;
  keys.reserve(metrics.size());
  for (const auto& [key, unused] : metrics) keys.push_back(key);
  std::string stem;
  for (const Token& token : tokens) {
    if (!token.placeholder) {
      stem += token.text;
      continue;
    }
    // Auto-insert the metric name, as Lightning does by default.
    absl::StrAppend(&stem, token.text, "=");
    if (token.text == "epoch") {
      stem += FormatInteger(epoch, token.spec);
      continue;
    }
    if (token.text == "step") {
      stem += FormatInteger(step, token.spec);
      continue;
    }
    const absl::StatusOr<std::string> key = ResolveMetric(token.text, keys);
    if (absl::IsNotFound(key.status())) {
      return TemplateError(
          effective, absl::StrCat("placeholder {", token.text,
                                  "} has no value: no metric named \"",
                                  token.text, "\" (or with '_' for '/')"));
    }
    if (!key.ok()) return TemplateError(effective, key.status().message());
    if (token.spec.type == SpecType::kInt) {
      return TemplateError(effective,
                           absl::StrCat("integer format \":", token.spec_text,
                                        "\" on the metric {", token.text,
                                        "}; use .Nf, .Ne or .Ng"));
    }
    stem += FormatFloat(metrics.at(*key), token.spec);
  }
  std::replace(stem.begin(), stem.end(), '/', '_');
  std::replace(stem.begin(), stem.end(), '\\', '_');
  return stem;
}

std::string FileName(absl::string_view stem, int version) {
  return version > 0 ? absl::StrCat(stem, "-v", version, kCheckpointExtension)
                     : absl::StrCat(stem, kCheckpointExtension);
}

// ---------------------------------------------------------------------------
// Paths (purely lexical).

std::string JoinPath(absl::string_view dir, absl::string_view name) {
  if (dir.empty()) return std::string(name);
  if (absl::EndsWith(dir, "/")) return absl::StrCat(dir, name);
  return absl::StrCat(dir, "/", name);
}

struct SplitPath {
  bool absolute = false;
  std::vector<std::string> parts;
};

// Splits `path` into components, dropping "." and empty ones and folding
// "a/.." away (a leading ".." of a relative path stays).
SplitPath Normalize(absl::string_view path) {
  SplitPath result;
  result.absolute = absl::StartsWith(path, "/");
  for (const absl::string_view part :
       absl::StrSplit(path, '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    if (part == "..") {
      if (!result.parts.empty() && result.parts.back() != "..") {
        result.parts.pop_back();
      } else if (!result.absolute) {
        result.parts.push_back("..");
      }
      continue;
    }
    result.parts.push_back(std::string(part));
  }
  return result;
}

bool SamePath(absl::string_view a, absl::string_view b) {
  const SplitPath x = Normalize(a);
  const SplitPath y = Normalize(b);
  return x.absolute == y.absolute && x.parts == y.parts;
}

// Whether `path` lies strictly below `dir` (Python's `dir in path.parents`).
bool IsInside(absl::string_view path, absl::string_view dir) {
  const SplitPath p = Normalize(path);
  const SplitPath d = Normalize(dir);
  if (p.absolute != d.absolute || p.parts.size() <= d.parts.size()) {
    return false;
  }
  if (!std::equal(d.parts.begin(), d.parts.end(), p.parts.begin())) {
    return false;
  }
  return p.parts[d.parts.size()] != "..";
}

// ---------------------------------------------------------------------------
// State JSON.

absl::Status FieldError(absl::string_view key, absl::string_view type) {
  return absl::InvalidArgumentError(
      absl::StrCat("checkpoint policy state JSON: field \"", key,
                   "\" is missing or not ", type));
}

absl::StatusOr<std::string> GetString(const rapidjson::Value& object,
                                      const char* key) {
  const auto it = object.FindMember(key);
  if (it == object.MemberEnd() || !it->value.IsString()) {
    return FieldError(key, "a string");
  }
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

absl::StatusOr<double> GetNumber(const rapidjson::Value& object,
                                 const char* key) {
  const auto it = object.FindMember(key);
  if (it == object.MemberEnd() || !it->value.IsNumber()) {
    return FieldError(key, "a number");
  }
  return it->value.GetDouble();
}

absl::StatusOr<std::optional<double>> GetOptionalNumber(
    const rapidjson::Value& object, const char* key) {
  const auto it = object.FindMember(key);
  if (it == object.MemberEnd() ||
      !(it->value.IsNumber() || it->value.IsNull())) {
    return FieldError(key, "a number or null");
  }
  if (it->value.IsNull()) return std::optional<double>();
  return std::optional<double>(it->value.GetDouble());
}

absl::string_view ModeName(CheckpointMode mode) {
  switch (mode) {
    case CheckpointMode::kMin:
      return "min";
    case CheckpointMode::kMax:
      return "max";
  }
  return "unknown";
}

}  // namespace

// ---------------------------------------------------------------------------
// Public free functions.

absl::StatusOr<ModelCheckpointOptions> ModelCheckpointOptionsFromProto(
    const CheckpointConfig& config, absl::string_view dirpath) {
  ModelCheckpointOptions options;
  options.dirpath = std::string(dirpath);
  options.monitor = config.monitor();
  options.mode = config.mode() == MonitorMode::MIN ? CheckpointMode::kMin
                                                   : CheckpointMode::kMax;
  options.save_top_k = config.save_top_k();
  options.save_last = config.save_last();
  options.filename = config.filename();
  options.every_n_epochs = config.every_n_epochs();
  if (options.save_top_k < -1) {
    return absl::InvalidArgumentError(
        absl::StrCat("CheckpointConfig: save_top_k must be >= -1, got ",
                     options.save_top_k));
  }
  if (options.every_n_epochs < 1) {
    return absl::InvalidArgumentError(
        "CheckpointConfig: every_n_epochs must be >= 1, got 0");
  }
  return options;
}

std::string PlaceholderName(absl::string_view metric_name) {
  std::string name(metric_name);
  std::replace(name.begin(), name.end(), '/', '_');
  return name;
}

absl::Status ValidateTemplate(absl::string_view filename_template,
                              absl::Span<const std::string> known_metrics) {
  const absl::string_view effective = EffectiveTemplate(filename_template);
  CVT_ASSIGN_OR_RETURN(const std::vector<Token> tokens,
                       ParseTemplate(effective));
  for (const Token& token : tokens) {
    if (!token.placeholder || IsIntegerPlaceholder(token.text)) continue;
    const absl::StatusOr<std::string> key =
        ResolveMetric(token.text, known_metrics);
    if (absl::IsNotFound(key.status())) {
      std::vector<std::string> names = {"epoch", "step"};
      for (const std::string& metric : known_metrics) {
        names.push_back(
            PlaceholderName(metric) == metric
                ? metric
                : absl::StrCat(PlaceholderName(metric), " (", metric, ")"));
      }
      return TemplateError(
          effective, absl::StrCat("unknown placeholder {", token.text,
                                  "}; known: ", absl::StrJoin(names, ", ")));
    }
    if (!key.ok()) return TemplateError(effective, key.status().message());
    if (token.spec.type == SpecType::kInt) {
      return TemplateError(effective,
                           absl::StrCat("integer format \":", token.spec_text,
                                        "\" on the metric {", token.text,
                                        "}; use .Nf, .Ne or .Ng"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> RenderCheckpointName(
    absl::string_view filename_template, int64_t epoch, int64_t step,
    const std::map<std::string, double>& metrics, int version) {
  if (version < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint version must be >= 0, got ", version));
  }
  CVT_ASSIGN_OR_RETURN(const std::string stem,
                       RenderStem(filename_template, epoch, step, metrics));
  return FileName(stem, version);
}

bool PathExists(const std::string& path) {
  struct stat info;
  return ::stat(path.c_str(), &info) == 0;
}

// ---------------------------------------------------------------------------
// ModelCheckpointPolicy.

absl::StatusOr<ModelCheckpointPolicy> ModelCheckpointPolicy::Create(
    ModelCheckpointOptions options,
    absl::Span<const std::string> known_metrics) {
  if (options.dirpath.empty()) {
    return absl::InvalidArgumentError("model checkpoint: dirpath is empty");
  }
  if (options.save_top_k < -1) {
    return absl::InvalidArgumentError(
        absl::StrCat("model checkpoint: save_top_k must be >= -1, got ",
                     options.save_top_k));
  }
  if (options.every_n_epochs < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("model checkpoint: every_n_epochs must be >= 1, got ",
                     options.every_n_epochs));
  }
  if (options.monitor.empty()) {
    if (options.save_top_k > 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "model checkpoint: save_top_k=", options.save_top_k,
          " without a monitor is not a valid configuration: there is no "
          "quantity to rank (use -1, 0 or 1)"));
    }
  } else if (std::find(known_metrics.begin(), known_metrics.end(),
                       options.monitor) == known_metrics.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model checkpoint: monitor \"", options.monitor,
        "\" is not among the logged metrics: ",
        known_metrics.empty() ? "(none)" : absl::StrJoin(known_metrics, ", ")));
  }
  if (options.filename.empty()) {
    options.filename = std::string(kDefaultCheckpointTemplate);
  }
  CVT_RETURN_IF_ERROR(ValidateTemplate(options.filename, known_metrics));
  return ModelCheckpointPolicy(std::move(options));
}

ModelCheckpointPolicy::ModelCheckpointPolicy(ModelCheckpointOptions options)
    : options_(std::move(options)) {
  state_.kth_value = WorstScore();
}

double ModelCheckpointPolicy::WorstScore() const {
  return options_.mode == CheckpointMode::kMin ? kInf : -kInf;
}

bool ModelCheckpointPolicy::Better(double a, double b) const {
  return options_.mode == CheckpointMode::kMin ? a < b : a > b;
}

bool ModelCheckpointPolicy::MayDelete(const std::string& previous,
                                      const std::string& current) const {
  if (previous == current) return false;
  if (!resume_path_.empty() && SamePath(previous, resume_path_)) return false;
  return IsInside(previous, options_.dirpath);
}

absl::StatusOr<std::string> ModelCheckpointPolicy::FreePath(
    const std::string& stem, const FileExistsFn& exists,
    const std::string& allowed) const {
  std::string path = JoinPath(options_.dirpath, FileName(stem, 0));
  for (int version = 1; exists(path) && path != allowed; ++version) {
    if (version > kMaxVersions) {
      return absl::FailedPreconditionError(absl::StrCat(
          "model checkpoint: no free name for \"", stem, "\" after ",
          kMaxVersions, " versions in ", options_.dirpath));
    }
    path = JoinPath(options_.dirpath, FileName(stem, version));
  }
  return path;
}

absl::StatusOr<SavePlan> ModelCheckpointPolicy::Plan(
    int64_t epoch, int64_t step,
    const std::map<std::string, double>& metrics) const {
  return Plan(epoch, step, metrics, &PathExists);
}

absl::StatusOr<SavePlan> ModelCheckpointPolicy::Plan(
    int64_t epoch, int64_t step, const std::map<std::string, double>& metrics,
    const FileExistsFn& exists) const {
  return PlanImpl(epoch, step, metrics, exists, /*consider_top_k=*/true,
                  options_.save_last);
}

absl::StatusOr<SavePlan> ModelCheckpointPolicy::PlanLast(int64_t epoch,
                                                         int64_t step) const {
  return PlanLast(epoch, step, &PathExists);
}

absl::StatusOr<SavePlan> ModelCheckpointPolicy::PlanLast(
    int64_t epoch, int64_t step, const FileExistsFn& exists) const {
  return PlanImpl(epoch, step, {}, exists, /*consider_top_k=*/false,
                  /*write_last=*/true);
}

absl::StatusOr<SavePlan> ModelCheckpointPolicy::PlanImpl(
    int64_t epoch, int64_t step, const std::map<std::string, double>& metrics,
    const FileExistsFn& exists, bool consider_top_k, bool write_last) const {
  if (epoch < 0 || step < 0) {
    return absl::InvalidArgumentError(absl::StrCat("model checkpoint: epoch (",
                                                   epoch, ") and step (", step,
                                                   ") must be >= 0"));
  }
  SavePlan plan;
  plan.epoch = epoch;
  plan.step = step;
  plan.generation = generation_;
  ModelCheckpointState next = state_;
  std::vector<std::string> deletions;

  const int64_t k = options_.save_top_k;
  if (consider_top_k && k != 0 && (epoch + 1) % options_.every_n_epochs == 0) {
    if (options_.monitor.empty()) {
      // Without a monitor: k == 1 keeps the newest file, k == -1 all.
      CVT_ASSIGN_OR_RETURN(const std::string stem,
                           RenderStem(options_.filename, epoch, step, metrics));
      CVT_ASSIGN_OR_RETURN(std::string path, FreePath(stem, exists, ""));
      const std::string previous = next.best_model_path;
      next.best_model_path = path;
      if (k == 1 && !previous.empty() && MayDelete(previous, path)) {
        deletions.push_back(previous);
      }
      plan.top_k_path = std::move(path);
    } else {
      const auto it = metrics.find(options_.monitor);
      if (it == metrics.end()) {
        std::vector<std::string> available;
        for (const auto& [key, unused] : metrics) available.push_back(key);
        return absl::InvalidArgumentError(absl::StrCat(
            "model checkpoint: the monitored metric \"", options_.monitor,
            "\" is missing from this validation's metrics (available: ",
            available.empty() ? "none" : absl::StrJoin(available, ", "), ")"));
      }
      double current = it->second;
      std::vector<std::pair<std::string, double>>& kept = next.best_k_models;
      const auto find = [&kept](const std::string& path) {
        return std::find_if(kept.begin(), kept.end(),
                            [&path](const auto& e) { return e.first == path; });
      };
      // The index of the worst (or, with `best`, the best) kept entry; the
      // first of equals, as Python's max/min over a dict return.
      const auto extreme = [&](bool best) {
        size_t index = 0;
        for (size_t i = 1; i < kept.size(); ++i) {
          if (best ? Better(kept[i].second, kept[index].second)
                   : Better(kept[index].second, kept[i].second)) {
            index = i;
          }
        }
        return index;
      };
      bool accept = k == -1 || static_cast<int64_t>(kept.size()) < k;
      if (!accept) {
        const auto kth = find(next.kth_best_model_path);
        const double kth_score =
            kth != kept.end() ? kth->second : kept[extreme(false)].second;
        accept = Better(current, kth_score);  // false for NaN: rejected
      }
      if (accept) {
        const size_t capacity =
            k == -1 ? kept.size() + 1 : static_cast<size_t>(k);
        std::string evicted;
        if (kept.size() == capacity && capacity > 0) {
          auto kth = find(next.kth_best_model_path);
          if (kth == kept.end()) kth = kept.begin() + extreme(false);
          evicted = kth->first;
          kept.erase(kth);
          plan.evicted_path = evicted;
        }
        if (std::isnan(current)) current = WorstScore();
        CVT_ASSIGN_OR_RETURN(
            const std::string stem,
            RenderStem(options_.filename, epoch, step, metrics));
        CVT_ASSIGN_OR_RETURN(std::string path, FreePath(stem, exists, evicted));
        next.current_score = current;
        const auto existing = find(path);
        if (existing != kept.end()) {
          existing->second = current;  // a Python dict keeps the position
        } else {
          kept.emplace_back(path, current);
        }
        if (kept.size() == capacity) {
          const size_t worst = extreme(false);
          next.kth_best_model_path = kept[worst].first;
          next.kth_value = kept[worst].second;
        }
        const size_t best = extreme(true);
        next.best_model_path = kept[best].first;
        next.best_model_score = kept[best].second;
        if (!evicted.empty() && MayDelete(evicted, path)) {
          deletions.push_back(evicted);
        }
        plan.top_k_path = std::move(path);
        plan.top_k_score = current;
      }
    }
  }
  plan.state_for_top_k_file = next;

  if (write_last) {
    // The top-k file is written first, so it counts as existing here.
    const FileExistsFn exists_or_planned = [&](const std::string& path) {
      return (plan.top_k_path.has_value() && path == *plan.top_k_path) ||
             exists(path);
    };
    CVT_ASSIGN_OR_RETURN(std::string path,
                         FreePath(std::string(kLastCheckpointStem),
                                  exists_or_planned, next.last_model_path));
    const std::string previous = next.last_model_path;
    next.last_model_path = path;
    if (!previous.empty() && MayDelete(previous, path)) {
      deletions.push_back(previous);
    }
    plan.last_path = std::move(path);
  }

  // Never delete what this plan writes or what the new state still names.
  for (std::string& path : deletions) {
    const bool written = (plan.top_k_path && *plan.top_k_path == path) ||
                         (plan.last_path && *plan.last_path == path);
    const bool referenced =
        path == next.best_model_path || path == next.last_model_path ||
        std::any_of(next.best_k_models.begin(), next.best_k_models.end(),
                    [&path](const auto& e) { return e.first == path; });
    const bool listed =
        std::find(plan.paths_to_delete_after_save.begin(),
                  plan.paths_to_delete_after_save.end(),
                  path) != plan.paths_to_delete_after_save.end();
    if (!written && !referenced && !listed) {
      plan.paths_to_delete_after_save.push_back(std::move(path));
    }
  }
  plan.state_after = std::move(next);
  return plan;
}

absl::Status ModelCheckpointPolicy::Commit(const SavePlan& plan) {
  if (plan.generation != generation_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "model checkpoint: the plan for epoch ", plan.epoch,
        " was made against an older state (already committed, or the state "
        "changed since)"));
  }
  state_ = plan.state_after;
  ++generation_;
  return absl::OkStatus();
}

std::string ModelCheckpointPolicy::StateToJson(
    const ModelCheckpointState& state) const {
  std::string prefix = options_.dirpath;
  if (!absl::EndsWith(prefix, "/")) prefix += "/";
  const auto relative = [&prefix](const std::string& path) {
    absl::string_view view = path;
    absl::ConsumePrefix(&view, prefix);
    return view;
  };
  const auto optional_double = [](JsonWriter& json,
                                  const std::optional<double>& value) {
    if (value.has_value()) {
      json.Double(*value);
    } else {
      json.Null();
    }
  };
  JsonWriter json({.non_finite = NonFinitePolicy::kPythonLiterals});
  json.StartObject();
  json.Key("monitor");
  json.String(options_.monitor);
  json.Key("mode");
  json.String(ModeName(options_.mode));
  json.Key("dirpath");
  json.String(options_.dirpath);
  json.Key("best_model_score");
  optional_double(json, state.best_model_score);
  json.Key("best_model_path");
  json.String(relative(state.best_model_path));
  json.Key("current_score");
  optional_double(json, state.current_score);
  json.Key("best_k_models");
  json.StartArray();
  for (const auto& [path, score] : state.best_k_models) {
    json.StartObject();
    json.Key("path");
    json.String(relative(path));
    json.Key("score");
    json.Double(score);
    json.EndObject();
  }
  json.EndArray();
  json.Key("kth_best_model_path");
  json.String(relative(state.kth_best_model_path));
  json.Key("kth_value");
  json.Double(state.kth_value);
  json.Key("last_model_path");
  json.String(relative(state.last_model_path));
  json.EndObject();
  // Complete, and every non-finite value is allowed: cannot fail.
  absl::StatusOr<std::string> text = json.Finish();
  CHECK(text.ok()) << text.status();
  return *std::move(text);
}

absl::Status ModelCheckpointPolicy::RestoreStateFromJson(
    absl::string_view json) {
  CVT_ASSIGN_OR_RETURN(const rapidjson::Document doc,
                       ParseJson(json, "checkpoint policy state JSON"));
  if (!doc.IsObject()) {
    return absl::InvalidArgumentError(
        "checkpoint policy state JSON: expected an object");
  }
  CVT_ASSIGN_OR_RETURN(const std::string monitor, GetString(doc, "monitor"));
  CVT_ASSIGN_OR_RETURN(const std::string mode, GetString(doc, "mode"));
  if (monitor != options_.monitor || mode != ModeName(options_.mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("model checkpoint: the stored state ranks \"", monitor,
                     "\" (", mode, "), but this run ranks \"", options_.monitor,
                     "\" (", ModeName(options_.mode), ")"));
  }
  const auto absolute = [this](const std::string& path) {
    if (path.empty() || absl::StartsWith(path, "/")) return path;
    return JoinPath(options_.dirpath, path);
  };
  const auto score = [this](double value) {
    return std::isnan(value) ? WorstScore() : value;
  };
  ModelCheckpointState state;
  CVT_ASSIGN_OR_RETURN(state.best_model_score,
                       GetOptionalNumber(doc, "best_model_score"));
  CVT_ASSIGN_OR_RETURN(state.current_score,
                       GetOptionalNumber(doc, "current_score"));
  CVT_ASSIGN_OR_RETURN(const std::string best_model_path,
                       GetString(doc, "best_model_path"));
  CVT_ASSIGN_OR_RETURN(const std::string kth_best_model_path,
                       GetString(doc, "kth_best_model_path"));
  CVT_ASSIGN_OR_RETURN(const double kth_value, GetNumber(doc, "kth_value"));
  CVT_ASSIGN_OR_RETURN(const std::string last_model_path,
                       GetString(doc, "last_model_path"));
  state.best_model_path = absolute(best_model_path);
  state.kth_best_model_path = absolute(kth_best_model_path);
  state.kth_value = score(kth_value);
  state.last_model_path = absolute(last_model_path);
  const auto models = doc.FindMember("best_k_models");
  if (models == doc.MemberEnd() || !models->value.IsArray()) {
    return FieldError("best_k_models", "an array");
  }
  for (const rapidjson::Value& entry : models->value.GetArray()) {
    if (!entry.IsObject()) return FieldError("best_k_models", "objects");
    CVT_ASSIGN_OR_RETURN(const std::string path, GetString(entry, "path"));
    CVT_ASSIGN_OR_RETURN(const double value, GetNumber(entry, "score"));
    state.best_k_models.emplace_back(absolute(path), score(value));
  }
  state_ = std::move(state);
  ++generation_;
  return absl::OkStatus();
}

}  // namespace cvt
