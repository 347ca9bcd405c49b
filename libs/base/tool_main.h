// -----------------------------------------------------------------------------
// File: tool_main.h
// -----------------------------------------------------------------------------
//
// What every `tools/<name>/main.cc` shares: command-line parsing that keeps
// the exit-code convention (absl's own `ParseCommandLine` exits 1 on a bad
// flag; cvtools promises 2), `--help` / `--version` that exit 0, and path
// resolution under `bazel run`.
//
// Example:
//
//   int main(int argc, char** argv) {
//     absl::SetProgramUsageMessage("Evaluates detections: evaluate_map ...");
//     std::vector<char*> args = cvt::ParseFlagsOrExit2(argc, argv);
//     ...
//     return cvt::ExitCode("evaluate_map", cvt::RunEvaluateMap(options));
//   }

#ifndef LIBS_BASE_TOOL_MAIN_H_
#define LIBS_BASE_TOOL_MAIN_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace cvt {

// The cvtools release these binaries belong to.
inline constexpr char kCvtoolsVersion[] = "0.1.0";

// Parses absl flags in `argv` (`--name=value`, `--name value`, `--bool`,
// `--nobool`, `-name`; `--` ends the flags). Returns argv[0] followed by the
// positional arguments.
//
// Removes every occurrence of the flag `--name=V` / `--name V` from argv
// (before ParseFlagsOrExit2) and returns the values in order. Abseil's
// vector flags keep only the last occurrence and split on commas; this keeps
// all of them whole, for repeatable flags such as `--set k=[480,512]`.
// `argc` is updated; argv[argc] stays a null pointer.
std::vector<std::string> TakeRepeatedFlag(int& argc, char** argv,
                                          absl::string_view name);

// Exits the process:
//   - with 0 after printing help (`--help`, `--helpfull`, `--helpshort`,
//     `--helpmatch=S`) or the version (`--version`) to stdout;
//   - with 2 after printing "<program>: error: ..." to stderr for an unknown
//     flag, a malformed value, or a flag missing its value.
// Only `main` may call this.
std::vector<char*> ParseFlagsOrExit2(int argc, char** argv);

// Returns InvalidArgument "--<flag_name> is required" if `value` is empty.
absl::Status RequireFlag(absl::string_view value, absl::string_view flag_name);

// Under `bazel run` the working directory is the runfiles tree; relative
// paths given by the user are relative to $BUILD_WORKING_DIRECTORY. Returns
// `path` resolved against it when set, else unchanged. Empty stays empty.
std::string ResolveUserPath(absl::string_view path);

}  // namespace cvt

#endif  // LIBS_BASE_TOOL_MAIN_H_
