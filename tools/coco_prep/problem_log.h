// -----------------------------------------------------------------------------
// File: problem_log.h
// -----------------------------------------------------------------------------
//
// What coco_prep found wrong with a dataset: every problem has a stable kind
// ("bad_bbox"), the action taken (fixed, dropped, refused) and a message
// naming the file and the record. The log counts problems per kind, keeps
// the first examples of each for report.json, and keeps the first problems
// that lose data for --on_error=fail.
//
// Example:
//
//   ProblemLog log;
//   log.Add("box_clipped", Action::kFixed, "a.json: annotation id 3: ...");
//   if (fail_mode) CVT_RETURN_IF_ERROR(log.FailIfBlocking());
//
// Thread safety: not thread-safe; coco_prep adds from one thread, in a fixed
// order, so that reports are deterministic.

#ifndef TOOLS_COCO_PREP_PROBLEM_LOG_H_
#define TOOLS_COCO_PREP_PROBLEM_LOG_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace cvt {

// What happened to the item a problem is about.
enum class Action {
  kFixed,    // Repaired; the item is kept.
  kDropped,  // Bad data; the item is left out.
  kRefused,  // Perhaps valid, but over a safety limit; left out.
};

// "fixed", "dropped" or "refused".
absl::string_view ActionName(Action action);

// The inverse of ActionName; false for any other text.
bool ParseAction(absl::string_view name, Action* action);

struct Problem {
  std::string kind;
  Action action = Action::kDropped;
  std::string message;
};

class ProblemLog {
 public:
  // Examples kept per kind, and problems listed by FailIfBlocking.
  static constexpr int kExamplesPerKind = 5;
  static constexpr int kFirstProblemsListed = 10;

  struct Kind {
    // The action of the kind's last problem (one per kind in coco_prep).
    Action action = Action::kDropped;
    int64_t count = 0;
    std::vector<std::string> examples;
  };

  void Add(const Problem& problem);
  void Add(absl::string_view kind, Action action, std::string message);

  int64_t total(Action action) const {
    return totals_[static_cast<int>(action)];
  }
  // Problems that lose data: dropped plus refused.
  int64_t blocking_count() const {
    return total(Action::kDropped) + total(Action::kRefused);
  }
  // OK when nothing was dropped or refused; otherwise InvalidArgument
  // "N problem(s) would drop or refuse data (--on_error=fail); nothing was
  // written. First:" followed by the first problems, one per line.
  absl::Status FailIfBlocking() const;

  // By kind, sorted.
  const std::map<std::string, Kind>& kinds() const { return kinds_; }

 private:
  std::map<std::string, Kind> kinds_;
  int64_t totals_[3] = {0, 0, 0};
  std::vector<std::string> blocking_;
};

}  // namespace cvt

#endif  // TOOLS_COCO_PREP_PROBLEM_LOG_H_
