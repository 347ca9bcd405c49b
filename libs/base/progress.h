// -----------------------------------------------------------------------------
// File: progress.h
// -----------------------------------------------------------------------------
//
// Progress of long work (decoding images, training epochs, uploads), written
// to stderr so that results on stdout stay clean:
//   - on a terminal, a bar redrawn in place:
//       "coco_prep: decoding [#########           ]  45% 164/364 12.1/s ETA
//       17s"
//   - otherwise nothing (`kAuto`), or JSON lines for machines (`kJsonLines`):
//       {"task":"decoding","done":164,"total":364,"elapsed_s":13.5}
//
// Updates are rate-limited (`min_interval_s`), and the last one is always
// written by `Finish()`.
//
// Thread safety: `Add`, `Set` and `Finish` may be called from any thread.

#ifndef LIBS_BASE_PROGRESS_H_
#define LIBS_BASE_PROGRESS_H_

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace cvt {

enum class ProgressMode {
  // A bar if the stream is stderr and stderr is a terminal, else nothing.
  kAuto,
  kBar,
  kJsonLines,
  kNone,
};

struct ProgressOptions {
  ProgressMode mode = ProgressMode::kAuto;
  // Where to write; nullptr means std::cerr.
  std::ostream* stream = nullptr;
  // Minimum seconds between two written updates.
  double min_interval_s = 0.2;
  // Width of the bar in characters.
  int bar_width = 20;
  // Clock, for tests; empty means absl::Now.
  std::function<absl::Time()> clock;
};

// Parses "auto", "bar", "json" or "none" (for a tool's --progress flag).
// Returns false on anything else.
bool ParseProgressMode(absl::string_view text, ProgressMode* mode);

class ProgressReporter {
 public:
  // `total` of 0 means unknown (no percentage, no ETA).
  ProgressReporter(absl::string_view task, int64_t total,
                   ProgressOptions options = {});
  ~ProgressReporter();  // Calls Finish().

  ProgressReporter(const ProgressReporter&) = delete;
  ProgressReporter& operator=(const ProgressReporter&) = delete;

  void Add(int64_t n = 1);
  void Set(int64_t done);
  // Writes the final state once; later calls do nothing.
  void Finish();

  // Resolved mode (never kAuto).
  ProgressMode mode() const { return mode_; }

 private:
  void MaybeWriteLocked(bool force) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  absl::Time Now() const;

  const std::string task_;
  const int64_t total_;
  const ProgressOptions options_;
  ProgressMode mode_;
  std::ostream* stream_;

  absl::Mutex mutex_;
  int64_t done_ ABSL_GUARDED_BY(mutex_) = 0;
  absl::Time start_ ABSL_GUARDED_BY(mutex_);
  absl::Time last_write_ ABSL_GUARDED_BY(mutex_) = absl::InfinitePast();
  bool finished_ ABSL_GUARDED_BY(mutex_) = false;
};

}  // namespace cvt

#endif  // LIBS_BASE_PROGRESS_H_
