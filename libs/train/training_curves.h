// -----------------------------------------------------------------------------
// File: training_curves.h
// -----------------------------------------------------------------------------
//
// Loss and mAP curves of a run as one PNG (plots/training_curves.png): the
// training loss at every logged step and the validation loss on the left
// panel, validation mAP and mAP50 on the right, against optimizer steps.
// Written atomically.

#ifndef LIBS_TRAIN_TRAINING_CURVES_H_
#define LIBS_TRAIN_TRAINING_CURVES_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace cvt {

class TrainingCurves {
 public:
  // Non-finite values are skipped.
  void Add(const std::string& series, int64_t step, double value);
  // Writes the PNG (creating its folder). Nothing to plot is not an error:
  // the panels are drawn empty.
  absl::Status WritePng(const std::string& path) const;

  const std::map<std::string, std::vector<std::pair<int64_t, double>>>& series()
      const {
    return series_;
  }

 private:
  std::map<std::string, std::vector<std::pair<int64_t, double>>> series_;
};

}  // namespace cvt

#endif  // LIBS_TRAIN_TRAINING_CURVES_H_
