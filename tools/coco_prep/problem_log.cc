#include "tools/coco_prep/problem_log.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace cvt {

absl::string_view ActionName(Action action) {
  switch (action) {
    case Action::kFixed:
      return "fixed";
    case Action::kDropped:
      return "dropped";
    case Action::kRefused:
      return "refused";
  }
  return "dropped";
}

bool ParseAction(absl::string_view name, Action* action) {
  for (Action a : {Action::kFixed, Action::kDropped, Action::kRefused}) {
    if (ActionName(a) == name) {
      *action = a;
      return true;
    }
  }
  return false;
}

void ProblemLog::Add(const Problem& problem) {
  Kind& kind = kinds_[problem.kind];
  kind.action = problem.action;
  ++kind.count;
  if (kind.examples.size() < kExamplesPerKind) {
    kind.examples.push_back(problem.message);
  }
  ++totals_[static_cast<int>(problem.action)];
  if (problem.action != Action::kFixed &&
      blocking_.size() < kFirstProblemsListed) {
    blocking_.push_back(absl::StrCat(problem.kind, ": ", problem.message));
  }
}

void ProblemLog::Add(absl::string_view kind, Action action,
                     std::string message) {
  Add(Problem{std::string(kind), action, std::move(message)});
}

absl::Status ProblemLog::FailIfBlocking() const {
  if (blocking_count() == 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      blocking_count(),
      " problem(s) would drop or refuse data (--on_error=fail); nothing "
      "was written. First:\n  ",
      absl::StrJoin(blocking_, "\n  ")));
}

}  // namespace cvt
