#include "libs/base/exceptions.h"

#include <new>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace cvt {

absl::Status StatusFromException(absl::string_view context,
                                 const std::exception& e) {
  absl::string_view what(e.what());
  // c10::Error appends "\nException raised from <function> at <file>" and a
  // backtrace; cv::Exception ends with a newline. Keep the first non-empty
  // line, which is the message itself.
  what = absl::StripLeadingAsciiWhitespace(what);
  absl::string_view message = what.substr(0, what.find('\n'));
  message = absl::StripTrailingAsciiWhitespace(message);
  if (message.empty()) message = "exception without a message";
  const std::string text = context.empty()
                               ? std::string(message)
                               : absl::StrCat(context, ": ", message);
  if (dynamic_cast<const std::bad_alloc*>(&e) != nullptr) {
    return absl::ResourceExhaustedError(text);
  }
  return absl::UnknownError(text);
}

}  // namespace cvt
