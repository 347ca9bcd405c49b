// -----------------------------------------------------------------------------
// File: eval_plots.h
// -----------------------------------------------------------------------------
//
// PNG plots of an evaluation, drawn with OpenCV and written crash-safely:
//   pr_curves.png         precision-recall over all classes (mean over
//                         categories at each of COCO's 101 recall points) at
//                         IoU 0.50, 0.75 and the mean over 0.50:0.95;
//   pr_per_class.png      a grid with one IoU-0.50 curve per category;
//   confusion_matrix.png  the ConfusionMatrix with its background row and
//                         column, counts printed, colour = row-normalised.
// Curves use area "all" and the largest maxDet; a category without GT has
// no curve.

#ifndef LIBS_EVAL_EVAL_PLOTS_H_
#define LIBS_EVAL_EVAL_PLOTS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "libs/coco/category_map.h"
#include "libs/eval/coco_eval.h"
#include "libs/eval/confusion_matrix.h"

namespace cvt {

// Writes the three PNGs into `dir` (created if missing). Returns the paths
// written.
absl::StatusOr<std::vector<std::string>> WriteEvalPlots(
    const CocoEvalResult& result, const ConfusionMatrix& confusion,
    const CategoryMap& categories, absl::string_view dir);

}  // namespace cvt

#endif  // LIBS_EVAL_EVAL_PLOTS_H_
