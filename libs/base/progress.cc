#include "libs/base/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "libs/base/json.h"

namespace cvt {

bool ParseProgressMode(absl::string_view text, ProgressMode* mode) {
  if (text == "auto") {
    *mode = ProgressMode::kAuto;
  } else if (text == "bar") {
    *mode = ProgressMode::kBar;
  } else if (text == "json") {
    *mode = ProgressMode::kJsonLines;
  } else if (text == "none") {
    *mode = ProgressMode::kNone;
  } else {
    return false;
  }
  return true;
}

ProgressReporter::ProgressReporter(absl::string_view task, int64_t total,
                                   ProgressOptions options)
    : task_(task),
      total_(std::max<int64_t>(total, 0)),
      options_(std::move(options)),
      mode_(options_.mode),
      stream_(options_.stream != nullptr ? options_.stream : &std::cerr) {
  if (mode_ == ProgressMode::kAuto) {
    mode_ = (stream_ == &std::cerr && isatty(STDERR_FILENO))
                ? ProgressMode::kBar
                : ProgressMode::kNone;
  }
  absl::MutexLock lock(&mutex_);
  start_ = Now();
}

ProgressReporter::~ProgressReporter() { Finish(); }

absl::Time ProgressReporter::Now() const {
  return options_.clock ? options_.clock() : absl::Now();
}

void ProgressReporter::Add(int64_t n) {
  absl::MutexLock lock(&mutex_);
  done_ += n;
  MaybeWriteLocked(false);
}

void ProgressReporter::Set(int64_t done) {
  absl::MutexLock lock(&mutex_);
  done_ = done;
  MaybeWriteLocked(false);
}

void ProgressReporter::Finish() {
  absl::MutexLock lock(&mutex_);
  if (finished_) return;
  MaybeWriteLocked(true);
  if (mode_ == ProgressMode::kBar) *stream_ << "\n" << std::flush;
  finished_ = true;
}

void ProgressReporter::MaybeWriteLocked(bool force) {
  if (finished_ || mode_ == ProgressMode::kNone) return;
  const absl::Time now = Now();
  if (!force && now - last_write_ < absl::Seconds(options_.min_interval_s)) {
    return;
  }
  last_write_ = now;
  const double elapsed_s = absl::ToDoubleSeconds(now - start_);
  if (mode_ == ProgressMode::kJsonLines) {
    JsonWriter json;
    json.StartObject();
    json.Key("task");
    json.String(task_);
    json.Key("done");
    json.Int(done_);
    json.Key("total");
    json.Int(total_);
    json.Key("elapsed_s");
    json.Double(std::round(elapsed_s * 1000.0) / 1000.0);
    json.EndObject();
    *stream_ << json.Finish().value_or("{}") << "\n" << std::flush;
    return;
  }
  // kBar.
  std::string line = absl::StrCat("\r", task_, " ");
  const double rate = elapsed_s > 0 ? done_ / elapsed_s : 0.0;
  if (total_ > 0) {
    const double fraction =
        std::clamp(static_cast<double>(done_) / total_, 0.0, 1.0);
    const int filled = static_cast<int>(fraction * options_.bar_width);
    absl::StrAppend(
        &line, "[", std::string(filled, '#'),
        std::string(options_.bar_width - filled, ' '), "] ",
        absl::StrFormat("%3d%% %d/%d", static_cast<int>(fraction * 100), done_,
                        total_));
    if (rate > 0 && done_ < total_) {
      absl::StrAppend(&line, absl::StrFormat(" %.1f/s ETA %.0fs", rate,
                                             (total_ - done_) / rate));
    } else {
      absl::StrAppend(&line, absl::StrFormat(" %.1fs", elapsed_s));
    }
  } else {
    absl::StrAppend(&line, absl::StrFormat("%d %.1f/s", done_, rate));
  }
  *stream_ << line << "\x1b[K" << std::flush;
}

}  // namespace cvt
