#include "libs/base/tool_main.h"

#include <cstdlib>
#include <iostream>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/internal/program_name.h"
#include "absl/flags/internal/usage.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace cvt {
namespace {

std::string ProgramName(const char* argv0) {
  absl::string_view name(argv0 == nullptr ? "cvtools" : argv0);
  const size_t slash = name.rfind('/');
  if (slash != absl::string_view::npos) name.remove_prefix(slash + 1);
  return std::string(name);
}

[[noreturn]] void UsageError(const std::string& program,
                             absl::string_view message) {
  std::cerr << program << ": error: " << message << " (see " << program
            << " --help)" << std::endl;
  std::exit(2);
}

// absl's parser defines these for itself; ours does not implement them, and
// silently ignoring them would be worse than refusing.
bool IsUnsupportedAbslFlag(absl::string_view name) {
  return name == "flagfile" || name == "fromenv" || name == "tryfromenv" ||
         name == "undefok";
}

}  // namespace

std::vector<std::string> TakeRepeatedFlag(int& argc, char** argv,
                                          absl::string_view name) {
  std::vector<std::string> values;
  const std::string eq = absl::StrCat("--", name, "=");
  const std::string bare = absl::StrCat("--", name);
  int out = argc > 0 ? 1 : 0;
  for (int i = out; i < argc; ++i) {
    const absl::string_view arg(argv[i]);
    if (arg == "--") {
      for (; i < argc; ++i) argv[out++] = argv[i];
      break;
    }
    if (absl::StartsWith(arg, eq)) {
      values.emplace_back(arg.substr(eq.size()));
    } else if (arg == bare && i + 1 < argc) {
      values.emplace_back(argv[++i]);
    } else {
      argv[out++] = argv[i];
    }
  }
  argc = out;
  argv[argc] = nullptr;
  return values;
}

std::vector<char*> ParseFlagsOrExit2(int argc, char** argv) {
  const std::string program = ProgramName(argc > 0 ? argv[0] : nullptr);
  if (argc > 0) absl::flags_internal::SetProgramInvocationName(argv[0]);
  absl::FlagsUsageConfig config;
  config.contains_help_flags = [](absl::string_view file) {
    return absl::StartsWith(file, "tools/") ||
           absl::StrContains(file, "/tools/");
  };
  config.contains_helpshort_flags = config.contains_help_flags;
  config.version_string = [program]() {
    return absl::StrCat(program, " (cvtools ", kCvtoolsVersion, ")\n");
  };
  absl::SetFlagsUsageConfig(config);

  std::vector<char*> positional;
  if (argc > 0) positional.push_back(argv[0]);
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg(argv[i]);
    if (arg == "--") {
      for (++i; i < argc; ++i) positional.push_back(argv[i]);
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      positional.push_back(argv[i]);
      continue;
    }
    absl::string_view body = arg.substr(arg[1] == '-' ? 2 : 1);
    const size_t equals = body.find('=');
    const bool has_value = equals != absl::string_view::npos;
    absl::string_view name = body.substr(0, equals);
    std::string value(has_value ? body.substr(equals + 1) : "");
    if (name.empty())
      UsageError(program, absl::StrCat("malformed flag '", arg, "'"));

    if (absl::flags_internal::DeduceUsageFlags(name, value)) continue;
    if (IsUnsupportedAbslFlag(name)) {
      UsageError(program, absl::StrCat("--", name, " is not supported"));
    }
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr && !has_value && absl::StartsWith(name, "no")) {
      absl::CommandLineFlag* negated =
          absl::FindCommandLineFlag(name.substr(2));
      if (negated != nullptr && negated->IsOfType<bool>()) {
        flag = negated;
        value = "false";
        name = name.substr(2);
      }
    } else if (flag != nullptr && flag->IsOfType<bool>() && !has_value) {
      value = "true";
    } else if (flag != nullptr && !has_value) {
      if (i + 1 >= argc) {
        UsageError(program, absl::StrCat("flag --", name, " needs a value"));
      }
      value = argv[++i];
    }
    if (flag == nullptr || flag->IsRetired()) {
      UsageError(program, absl::StrCat("unknown flag --", name));
    }
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      UsageError(program, absl::StrCat("bad value '", value, "' for --", name,
                                       ": ", error));
    }
  }
  const int usage_exit = absl::flags_internal::HandleUsageFlags(
      std::cout, absl::ProgramUsageMessage());
  // absl returns 1 after printing help; printing what was asked for is a
  // success.
  if (usage_exit != -1) std::exit(0);
  return positional;
}

absl::Status RequireFlag(absl::string_view value, absl::string_view flag_name) {
  if (!value.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("--", flag_name, " is required"));
}

std::string ResolveUserPath(absl::string_view path) {
  if (path.empty() || path[0] == '/' || path == "-") return std::string(path);
  const char* dir = std::getenv("BUILD_WORKING_DIRECTORY");
  if (dir == nullptr || *dir == '\0') return std::string(path);
  return absl::StrCat(dir, "/", path);
}

}  // namespace cvt
