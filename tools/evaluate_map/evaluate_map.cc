#include "tools/evaluate_map/evaluate_map.h"

#include <chrono>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "glog/logging.h"
#include "libs/base/file_io.h"
#include "libs/base/json.h"
#include "libs/base/status_macros.h"
#include "libs/base/tool_main.h"
#include "libs/coco/category_map.h"
#include "libs/coco/coco.h"
#include "libs/coco/coco_fast_reader.h"
#include "libs/eval/coco_eval.h"
#include "libs/eval/confusion_matrix.h"
#include "libs/eval/eval_plots.h"

namespace cvt {
namespace {

std::vector<std::string> Deviations(const EvaluateMapOptions& options) {
  std::vector<std::string> out;
  if (options.honor_ignore) out.push_back("honor_ignore");
  if (options.fix_zero_gt_id) out.push_back("fix_zero_gt_id");
  if (options.default_missing_fields) out.push_back("default_missing_fields");
  return out;
}

std::string PerClassTable(const CocoEvalResult& result) {
  std::string out = absl::StrFormat(
      "\n%-6s %-20s %6s %6s %6s %6s %6s %6s %6s %6s %6s %7s %6s\n", "id",
      "category", "AP", "AP50", "AP75", "APs", "APm", "APl", "AR100", "gt",
      "dets", "bestF1", "@score");
  for (const CocoClassMetrics& c : result.per_class) {
    absl::StrAppendFormat(
        &out,
        "%-6d %-20s %6.3f %6.3f %6.3f %6.3f %6.3f %6.3f %6.3f %6d %6d %7.3f "
        "%6.3f\n",
        c.category_id, c.name.substr(0, 20), c.ap, c.ap50, c.ap75, c.ap_small,
        c.ap_medium, c.ap_large, c.ar100, c.num_gt, c.num_detections, c.f1,
        c.best_f1_score_threshold);
  }
  return out;
}

void WriteClass(JsonWriter& json, const CocoClassMetrics& c) {
  json.StartObject();
  json.Key("category_id");
  json.Int(c.category_id);
  json.Key("name");
  json.String(c.name);
  const std::pair<const char*, double> values[] = {
      {"AP", c.ap},        {"AP50", c.ap50},     {"AP75", c.ap75},
      {"APs", c.ap_small}, {"APm", c.ap_medium}, {"APl", c.ap_large},
      {"AR1", c.ar1},      {"AR10", c.ar10},     {"AR100", c.ar100}};
  for (const auto& [key, value] : values) {
    json.Key(key);
    json.Double(value);
  }
  json.Key("num_gt");
  json.Int(c.num_gt);
  json.Key("num_detections");
  json.Int(c.num_detections);
  json.Key("at_best_f1");
  json.StartObject();
  json.Key("iou_threshold");
  json.Double(0.5);
  json.Key("score_threshold");
  json.Double(c.best_f1_score_threshold);
  json.Key("tp");
  json.Int(c.tp);
  json.Key("fp");
  json.Int(c.fp);
  json.Key("fn");
  json.Int(c.fn);
  json.Key("precision");
  json.Double(c.precision);
  json.Key("recall");
  json.Double(c.recall);
  json.Key("f1");
  json.Double(c.f1);
  json.EndObject();
  json.EndObject();
}

void WriteConfusion(JsonWriter& json, const ConfusionMatrix& cm,
                    const CategoryMap& categories) {
  json.StartObject();
  json.Key("iou_threshold");
  json.Double(cm.iou_threshold);
  json.Key("score_threshold");
  json.Double(cm.score_threshold);
  json.Key("labels");
  json.StartArray();
  for (int k = 0; k < categories.size(); ++k) json.String(categories.NameAt(k));
  json.String("background");
  json.EndArray();
  json.Key("rows_are");
  json.String("ground truth");
  json.Key("counts");
  json.StartArray();
  for (int i = 0; i <= cm.num_classes; ++i) {
    json.StartArray();
    for (int j = 0; j <= cm.num_classes; ++j) json.Int(cm.At(i, j));
    json.EndArray();
  }
  json.EndArray();
  json.EndObject();
}

std::string ReportJson(const EvaluateMapOptions& options,
                       const CocoEvalResult& result,
                       const ConfusionMatrix* confusion,
                       const CategoryMap& categories,
                       int64_t detections_in_file) {
  JsonWriter json({.non_finite = NonFinitePolicy::kNull, .indent = 2});
  json.StartObject();
  json.Key("format");
  json.String("cvtools.evaluate_map");
  json.Key("version");
  json.Int(1);
  json.Key("gt");
  json.String(options.gt_path);
  json.Key("dt");
  json.String(options.dt_path);
  json.Key("params");
  json.StartObject();
  json.Key("iou_type");
  json.String("bbox");
  json.Key("use_cats");
  json.Int(options.use_cats);
  json.Key("max_dets");
  json.StartArray();
  for (int m : result.max_dets) json.Int(m);
  json.EndArray();
  json.Key("iou_thresholds");
  json.StartArray();
  for (double t : result.iou_thresholds) json.Double(t);
  json.EndArray();
  json.Key("numpy_sum");
  json.String(options.numpy_sum);
  json.Key("deviations_from_pycocotools");
  json.StartArray();
  for (const std::string& d : Deviations(options)) json.String(d);
  json.EndArray();
  json.EndObject();
  json.Key("stats");
  json.StartArray();
  for (double s : result.stats) json.Double(s);
  json.EndArray();
  json.Key("stats_by_name");
  json.StartObject();
  for (int i = 0; i < 12; ++i) {
    json.Key(CocoStatNames()[i]);
    json.Double(result.stats[i]);
  }
  json.EndObject();
  json.Key("per_class");
  json.StartArray();
  for (const CocoClassMetrics& c : result.per_class) WriteClass(json, c);
  json.EndArray();
  if (confusion != nullptr) {
    json.Key("confusion_matrix");
    WriteConfusion(json, *confusion, categories);
  }
  json.Key("counts");
  json.StartObject();
  json.Key("images");
  json.Int(result.num_images);
  json.Key("gt_annotations");
  json.Int(result.num_gt);
  json.Key("detections_in_file");
  json.Int(detections_in_file);
  json.Key("detections_evaluated");
  json.Int(result.num_detections);
  json.EndObject();
  json.EndObject();
  return json.Finish().value_or("{}");
}

double Milliseconds(std::chrono::steady_clock::time_point a,
                    std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace

absl::Status RunEvaluateMap(const EvaluateMapOptions& options,
                            std::ostream& out) {
  CVT_RETURN_IF_ERROR(RequireFlag(options.gt_path, "gt"));
  CVT_RETURN_IF_ERROR(RequireFlag(options.dt_path, "dt"));
  if (options.use_cats != 0 && options.use_cats != 1) {
    return absl::InvalidArgumentError("--use_cats must be 0 or 1");
  }
  if (options.numpy_sum != "2.3" && options.numpy_sum != "legacy") {
    return absl::InvalidArgumentError("--numpy_sum must be '2.3' or 'legacy'");
  }
  for (double t : options.iou_thresholds) {
    if (!(t >= 0 && t <= 1)) {
      return absl::InvalidArgumentError("--iou_thrs values must be in [0, 1]");
    }
  }
  const auto start = std::chrono::steady_clock::now();
  CVT_ASSIGN_OR_RETURN(MappedFile gt_file, MappedFile::Open(options.gt_path));
  CVT_ASSIGN_OR_RETURN(
      CocoDataset gt,
      ParseCocoDatasetFast(gt_file.contents(), options.gt_path, nullptr,
                           options.threads == 1 ? 1 : 2));
  CVT_ASSIGN_OR_RETURN(std::vector<CocoDetection> dt,
                       ReadCocoResults(options.dt_path));
  const auto loaded = std::chrono::steady_clock::now();
  CocoEvalOptions eval;
  eval.use_cats = options.use_cats == 1;
  eval.max_dets = options.max_dets;
  eval.iou_thresholds = options.iou_thresholds;
  eval.sum_rule = options.numpy_sum == "legacy" ? NumpySumRule::kBuffered8192
                                                : NumpySumRule::kWholeArray;
  eval.threads = options.threads;
  eval.gt_source = options.gt_path;
  eval.dt_source = options.dt_path == "-" ? "<stdin>" : options.dt_path;
  eval.honor_ignore = options.honor_ignore;
  eval.fix_zero_gt_id = options.fix_zero_gt_id;
  eval.default_missing_fields = options.default_missing_fields;
  CVT_ASSIGN_OR_RETURN(CategoryMap categories,
                       CategoryMap::FromCategories(gt.categories));
  // The confusion matrix (report and plots only) runs beside the evaluation,
  // whose serial stretches leave a core idle; both only read gt and dt.
  std::optional<ConfusionMatrix> confusion;
  std::thread confusion_thread;
  if (eval.use_cats &&
      (!options.plots_dir.empty() || !options.out_path.empty())) {
    confusion_thread = std::thread([&] {
      confusion = ComputeConfusionMatrix(gt, dt, categories, 0.5,
                                         options.confusion_score_threshold);
    });
  }
  absl::StatusOr<CocoEvalResult> evaluation = EvaluateCocoBbox(gt, dt, eval);
  if (confusion_thread.joinable()) confusion_thread.join();
  if (!evaluation.ok()) return evaluation.status();
  const CocoEvalResult& result = *evaluation;
  const auto evaluated = std::chrono::steady_clock::now();
  if (dt.empty()) {
    LOG(WARNING) << eval.dt_source
                 << " holds no detections: evaluated as zero detections "
                    "(pycocotools would raise IndexError)";
  }
  out << FormatCocoSummary(result);
  if (eval.use_cats) out << PerClassTable(result);
  out.flush();
  if (!options.out_path.empty()) {
    CVT_RETURN_IF_ERROR(WriteFileAtomically(
        options.out_path,
        ReportJson(options, result, confusion ? &*confusion : nullptr,
                   categories, static_cast<int64_t>(dt.size()))));
  }
  if (!options.plots_dir.empty()) {
    if (!eval.use_cats) {
      LOG(WARNING) << "--plots_dir needs --use_cats=1; no plots written";
    } else {
      CVT_ASSIGN_OR_RETURN(
          std::vector<std::string> paths,
          WriteEvalPlots(result, *confusion, categories, options.plots_dir));
      for (const std::string& path : paths) LOG(INFO) << "wrote " << path;
    }
  }
  const auto done = std::chrono::steady_clock::now();
  LOG(INFO) << absl::StrFormat(
      "%d images, %d GT, %d detections: load %.0f ms, evaluate %.0f ms, "
      "total %.0f ms",
      result.num_images, result.num_gt, dt.size(), Milliseconds(start, loaded),
      Milliseconds(loaded, evaluated), Milliseconds(start, done));
  return absl::OkStatus();
}

}  // namespace cvt
