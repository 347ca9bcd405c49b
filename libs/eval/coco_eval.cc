#include "libs/eval/coco_eval.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <numeric>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "libs/base/huge_pages.h"
#include "libs/base/parallel.h"

namespace cvt {
namespace {

// pycocotools' area ranges [lo, hi], both ends inclusive: all, small, medium,
// large.
constexpr double kAreaRanges[4][2] = {
    {0, 1e10}, {0, 1024}, {1024, 9216}, {9216, 1e10}};
constexpr const char* kAreaNames[4] = {"all", "small", "medium", "large"};

// The outcome of one detection at one IoU threshold.
enum Outcome : uint8_t { kIgnored = 0, kTruePositive = 1, kFalsePositive = 2 };

struct GtRef {
  const std::array<double, 4>* bbox;
  double area;
  int64_t id;
  bool crowd;
  bool ignore;
};

// A detection as pycocotools' loadRes sees it: area = w * h, id = position
// in the results file + 1. Built on the fly from the parsed detections.
struct DtRef {
  const std::array<double, 4>* bbox;
  double score;
  double area;
  int64_t id;
};

DtRef DtAt(const std::vector<CocoDetection>& dets, int j) {
  const CocoDetection& det = dets[j];
  return {&det.bbox, det.score, det.bbox[2] * det.bbox[3],
          static_cast<int64_t>(j) + 1};
}

// One evaluated (image, category) pair: an image when !use_cats.
struct Cell {
  int image = 0;
  std::vector<int> gts;  // Into gt_refs, in pycocotools' cell order.
  std::vector<int> dts;  // Into the detections, score-sorted, truncated.
  // Per area range: non-ignored GT count; outcomes [(d * 4 + a) * T + t]
  // (all of one detection's outcomes in one cache line).
  std::array<int, 4> npig = {0, 0, 0, 0};
  uint8_t* outcomes = nullptr;  // Into one arena shared by all cells.
  double* scores = nullptr;     // Of the kept detections, score-sorted.
  // Per detection: bit a = ignored at every threshold of area range a;
  // bit 4 + a = false positive at every threshold.
  uint8_t* summary = nullptr;
};

// Maps sorted unique ids to their positions: a flat table when the ids are
// compact (COCO's are), a hash map otherwise.
class IdIndex {
 public:
  explicit IdIndex(const std::vector<int64_t>& sorted_ids) {
    if (sorted_ids.empty()) return;
    min_ = sorted_ids.front();
    // Unsigned arithmetic: ids may span more than INT64_MAX.
    const uint64_t span = static_cast<uint64_t>(sorted_ids.back()) -
                          static_cast<uint64_t>(min_) + 1;
    if (span != 0 && span <= 8 * sorted_ids.size() + 4096) {
      table_.assign(span, -1);
      for (size_t i = 0; i < sorted_ids.size(); ++i) {
        table_[sorted_ids[i] - min_] = static_cast<int>(i);
      }
    } else {
      for (size_t i = 0; i < sorted_ids.size(); ++i) {
        map_[sorted_ids[i]] = static_cast<int>(i);
      }
    }
  }
  // Position of `id`, or -1.
  int Find(int64_t id) const {
    if (!table_.empty()) {
      const uint64_t offset =
          static_cast<uint64_t>(id) - static_cast<uint64_t>(min_);
      return id >= min_ && offset < table_.size() ? table_[offset] : -1;
    }
    const auto it = map_.find(id);
    return it == map_.end() ? -1 : it->second;
  }

 private:
  int64_t min_ = 0;
  std::vector<int> table_;
  absl::flat_hash_map<int64_t, int> map_;
};

std::string Prefix(const std::string& source) {
  return source.empty() ? "" : source + ": ";
}

bool Outside(double area, int a) {
  return area < kAreaRanges[a][0] || area > kAreaRanges[a][1];
}

// evaluateImg for every area range of one cell.
void MatchCell(const std::vector<GtRef>& gt_refs,
               const std::vector<CocoDetection>& dets,
               const std::vector<double>& iou_thrs, bool fix_zero_gt_id,
               Cell& cell) {
  const int G = static_cast<int>(cell.gts.size());
  const int D = static_cast<int>(cell.dts.size());
  const int T = static_cast<int>(iou_thrs.size());
  if (G == 0) {
    // No GT: every detection is unmatched at every threshold, so a false
    // positive where its own area is inside the range and ignored elsewhere.
    cell.npig = {0, 0, 0, 0};
    for (int d = 0; d < D; ++d) {
      const double area = DtAt(dets, cell.dts[d]).area;
      uint8_t summary = 0;
      for (int a = 0; a < 4; ++a) {
        const bool ignored = Outside(area, a);
        std::fill_n(cell.outcomes + (static_cast<size_t>(d) * 4 + a) * T, T,
                    ignored ? kIgnored : kFalsePositive);
        summary |= ignored ? (1u << a) : (16u << a);
      }
      cell.summary[d] = summary;
    }
    return;
  }
  // Per-thread scratch: cells are many and small.
  thread_local std::vector<double> ious;
  thread_local std::vector<int> order;
  thread_local std::vector<uint8_t> gt_ignored;
  thread_local std::vector<int64_t> gt_taken;  // DT id that took it; 0 = free.
  ious.resize(static_cast<size_t>(D) * G);
  order.resize(G);
  gt_ignored.resize(G);
  gt_taken.resize(G);
  std::fill(cell.outcomes, cell.outcomes + static_cast<size_t>(4) * T * D,
            kIgnored);
  for (int d = 0; d < D; ++d) {
    const DtRef dt = DtAt(dets, cell.dts[d]);
    for (int g = 0; g < G; ++g) {
      const GtRef& gt = gt_refs[cell.gts[g]];
      ious[static_cast<size_t>(d) * G + g] =
          CocoBoxIou(*dt.bbox, *gt.bbox, gt.crowd);
    }
  }
  // The greedy matching depends on the area range only through the GT
  // ignore flags; when a range ignores the same GTs as the previous one (a
  // cell whose GTs all fall in one size class), its matches are reused and
  // only the unmatched-detection area rule is applied again.
  thread_local std::vector<int> match_of;  // [t * D + d]: GT index or -1.
  thread_local std::vector<uint8_t> matched_pattern;
  match_of.resize(static_cast<size_t>(T) * D);
  for (int a = 0; a < 4; ++a) {
    for (int g = 0; g < G; ++g) {
      const GtRef& gt = gt_refs[cell.gts[g]];
      gt_ignored[g] = gt.ignore || Outside(gt.area, a);
    }
    int npig = 0;
    for (int g = 0; g < G; ++g) npig += gt_ignored[g] == 0;
    cell.npig[a] = npig;
    if (a == 0 || gt_ignored != matched_pattern) {
      matched_pattern = gt_ignored;
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int x, int y) {
        return gt_ignored[x] < gt_ignored[y];
      });
      for (int t = 0; t < T; ++t) {
        std::fill(gt_taken.begin(), gt_taken.end(), 0);
        for (int d = 0; d < D; ++d) {
          double best = std::min(iou_thrs[t], 1 - 1e-10);
          int m = -1;
          for (int s = 0; s < G; ++s) {
            const int g = order[s];
            if (gt_taken[g] > 0 && !gt_refs[cell.gts[g]].crowd) continue;
            if (m > -1 && !gt_ignored[m] && gt_ignored[g]) break;
            const double iou = ious[static_cast<size_t>(d) * G + g];
            if (iou < best) continue;
            best = iou;
            m = g;
          }
          if (m != -1) gt_taken[m] = DtAt(dets, cell.dts[d]).id;
          match_of[static_cast<size_t>(t) * D + d] = m;
        }
      }
    }
    for (int d = 0; d < D; ++d) {
      const bool area_outside = Outside(DtAt(dets, cell.dts[d]).area, a);
      uint8_t* out = cell.outcomes + (static_cast<size_t>(d) * 4 + a) * T;
      for (int t = 0; t < T; ++t) {
        const int m = match_of[static_cast<size_t>(t) * D + d];
        bool matched = false;
        bool ignored = false;
        if (m != -1) {
          ignored = gt_ignored[m];
          // pycocotools stores the GT id and tests it for != 0.
          matched = fix_zero_gt_id || gt_refs[cell.gts[m]].id != 0;
        }
        if (!matched && area_outside) ignored = true;
        out[t] =
            ignored ? kIgnored : (matched ? kTruePositive : kFalsePositive);
      }
    }
  }
  for (int d = 0; d < D; ++d) {
    uint8_t summary = 0;
    for (int a = 0; a < 4; ++a) {
      const uint8_t* row = cell.outcomes + (static_cast<size_t>(d) * 4 + a) * T;
      bool all_ignored = true, all_fp = true;
      for (int t = 0; t < T; ++t) {
        all_ignored &= row[t] == kIgnored;
        all_fp &= row[t] == kFalsePositive;
      }
      if (all_ignored) summary |= 1u << a;
      if (all_fp) summary |= 16u << a;
    }
    cell.summary[d] = summary;
  }
}

// One detection of a category, carrying what accumulate reads, so that the
// per-threshold walks never chase pointers into cells.
struct MergedDet {
  double score;
  const uint8_t* outcomes;  // [a * T + t] of this detection.
  int pos;                  // Rank within its cell.
  uint8_t summary;          // Cell::summary of this detection.
};

// The accumulate step of one category: fills precision/recall slots of k.
void AccumulateCategory(const std::vector<Cell>& cells,
                        const std::vector<int>& cell_ids, int k,
                        const std::vector<double>& rec_thrs,
                        CocoEvalResult& result, CocoClassMetrics* metrics,
                        int best_f1_t) {
  if (cell_ids.empty()) return;
  std::vector<MergedDet> merged;
  const size_t AT = static_cast<size_t>(result.A) * result.T;
  for (int id : cell_ids) {
    const Cell& cell = cells[id];
    for (size_t p = 0; p < cell.dts.size(); ++p) {
      merged.push_back({cell.scores[p], cell.outcomes + p * AT,
                        static_cast<int>(p), cell.summary[p]});
    }
  }
  std::stable_sort(
      merged.begin(), merged.end(),
      [](const MergedDet& x, const MergedDet& y) { return x.score > y.score; });
  const int T = result.T, R = result.R, K = result.K, A = result.A,
            M = result.M;
  const std::vector<int>& max_dets = result.max_dets;
  // pycocotools walks every merged detection at every threshold. Three
  // observations give the same doubles with far less work:
  //  - precision only rises at true positives (recall is constant and
  //    precision falls across the false positives and ignored detections
  //    after a TP), so the envelope at each recall threshold is the suffix
  //    maximum over TP positions, and the first position that reaches a
  //    recall threshold is a TP;
  //  - a detection ignored at every threshold changes no count;
  //  - a detection that is a false positive at every threshold only adds to
  //    the FP count, so a running count of those replaces visiting them.
  // Only the "mixed" rest is walked per threshold.
  std::vector<const MergedDet*> mixed;
  std::vector<int> pure_fp_before;  // [mixed index * M + m]
  std::vector<int> pure_fp(M);
  std::vector<std::vector<double>> tp_rc(M), tp_pr(M);
  std::vector<double> tp_count(M), fp_count(M);
  for (int a = 0; a < A; ++a) {
    int npig = 0;
    for (int id : cell_ids) npig += cells[id].npig[a];
    if (npig == 0) continue;
    mixed.clear();
    pure_fp_before.clear();
    std::fill(pure_fp.begin(), pure_fp.end(), 0);
    for (const MergedDet& det : merged) {
      const uint8_t summary = det.summary;
      if (summary & (1u << a)) continue;  // Ignored at every threshold.
      if (summary & (16u << a)) {         // FP at every threshold.
        for (int m = M - 1; m >= 0 && det.pos < max_dets[m]; --m) ++pure_fp[m];
        continue;
      }
      mixed.push_back(&det);
      pure_fp_before.insert(pure_fp_before.end(), pure_fp.begin(),
                            pure_fp.end());
    }
    for (int t = 0; t < T; ++t) {
      const bool want_f1 = metrics != nullptr && a == 0 && t == best_f1_t;
      for (int m = 0; m < M; ++m) {
        tp_rc[m].clear();
        tp_pr[m].clear();
        tp_count[m] = 0;
        fp_count[m] = 0;
      }
      double best_f1 = -1;
      for (size_t j = 0; j < mixed.size(); ++j) {
        const MergedDet& det = *mixed[j];
        const uint8_t outcome = det.outcomes[a * T + t];
        if (outcome == kIgnored) continue;
        for (int m = M - 1; m >= 0; --m) {
          if (det.pos >= max_dets[m]) break;  // Sorted ascending.
          if (outcome == kFalsePositive) {
            fp_count[m] += 1;
            continue;
          }
          const double tp = (tp_count[m] += 1);
          const double fp = fp_count[m] + pure_fp_before[j * M + m];
          tp_rc[m].push_back(tp / npig);
          tp_pr[m].push_back(tp / ((fp + tp) + 0x1p-52));
          if (want_f1 && m == M - 1) {
            // F1 also peaks at true positives only.
            const double precision = tp / (tp + fp);
            const double recall = tp / npig;
            const double f1 = 2 * precision * recall / (precision + recall);
            if (f1 > best_f1) {
              best_f1 = f1;
              metrics->best_f1_score_threshold = det.score;
              metrics->tp = static_cast<int64_t>(tp);
              metrics->fp = static_cast<int64_t>(fp);
              metrics->precision = precision;
              metrics->recall = recall;
              metrics->f1 = f1;
            }
          }
        }
      }
      if (want_f1) metrics->fn = npig - metrics->tp;
      for (int m = 0; m < M; ++m) {
        result.recall[((static_cast<size_t>(t) * K + k) * A + a) * M + m] =
            tp_count[m] / npig;
        std::vector<double>& rc = tp_rc[m];
        std::vector<double>& pr = tp_pr[m];
        for (size_t i = pr.size(); i-- > 1;) {
          if (pr[i] > pr[i - 1]) pr[i - 1] = pr[i];
        }
        for (int r = 0; r < R; ++r) {
          const size_t idx =
              std::lower_bound(rc.begin(), rc.end(), rec_thrs[r]) - rc.begin();
          result.precision
              [(((static_cast<size_t>(t) * R + r) * K + k) * A + a) * M + m] =
              idx < rc.size() ? pr[idx] : 0.0;
        }
      }
    }
  }
}

// Mean of the entries > -1 gathered by `collect`, or -1 if none.
template <typename Collect>
double MeanOfValid(NumpySumRule rule, Collect collect) {
  std::vector<double> values;
  collect([&values](double v) {
    if (v > -1) values.push_back(v);
  });
  return values.empty() ? -1.0 : NumpyMean(values, rule);
}

std::vector<int> IndicesOf(const std::vector<double>& thrs, double value) {
  std::vector<int> out;
  for (size_t i = 0; i < thrs.size(); ++i) {
    if (thrs[i] == value) out.push_back(static_cast<int>(i));
  }
  return out;
}

std::vector<int> MaxDetIndices(const std::vector<int>& max_dets, int value) {
  std::vector<int> out;
  for (size_t i = 0; i < max_dets.size(); ++i) {
    if (max_dets[i] == value) out.push_back(static_cast<int>(i));
  }
  return out;
}

// pycocotools' _summarize over precision (ap) or recall.
double Summarize(const CocoEvalResult& r, NumpySumRule rule, bool ap,
                 const std::vector<int>& ts, int a,
                 const std::vector<int>& ms) {
  return MeanOfValid(rule, [&](auto add) {
    for (int t : ts) {
      if (ap) {
        for (int rr = 0; rr < r.R; ++rr) {
          for (int k = 0; k < r.K; ++k) {
            for (int m : ms) add(r.Precision(t, rr, k, a, m));
          }
        }
      } else {
        for (int k = 0; k < r.K; ++k) {
          for (int m : ms) add(r.Recall(t, k, a, m));
        }
      }
    }
  });
}

}  // namespace

std::vector<double> CocoIouThresholds() {
  // np.linspace(0.5, 0.95, 10): step = (0.95 - 0.5) / 9, element i =
  // i * step + 0.5 rounded twice, last element = 0.95.
  const double start = 0.5, stop = 0.95;
  const double step = (stop - start) / 9;
  std::vector<double> thrs(10);
  for (int i = 0; i < 10; ++i) {
    const volatile double scaled = i * step;  // No contraction into an FMA.
    thrs[i] = scaled + start;
  }
  thrs[9] = stop;
  return thrs;
}

std::vector<double> CocoRecallThresholds() {
  std::vector<double> thrs(101);
  const double step = 1.0 / 100;
  for (int i = 0; i < 101; ++i) thrs[i] = i * step + 0.0;
  thrs[100] = 1.0;
  return thrs;
}

double CocoBoxIou(const std::array<double, 4>& d,
                  const std::array<double, 4>& g, bool gt_is_crowd) {
  const double da = d[2] * d[3];
  const double ga = g[2] * g[3];
  const double iw = std::fmin(d[0] + d[2], g[0] + g[2]) - std::fmax(d[0], g[0]);
  if (iw <= 0) return 0.0;
  const double ih = std::fmin(d[1] + d[3], g[1] + g[3]) - std::fmax(d[1], g[1]);
  if (ih <= 0) return 0.0;
  const double inter = iw * ih;
  const double uni = gt_is_crowd ? da : (da + ga) - inter;
  return inter / uni;
}

const std::array<const char*, 12>& CocoStatNames() {
  static const std::array<const char*, 12> kNames = {
      "AP",  "AP50", "AP75",  "APs", "APm", "APl",
      "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"};
  return kNames;
}

absl::StatusOr<CocoEvalResult> EvaluateCocoBbox(
    const CocoDataset& gt, const std::vector<CocoDetection>& detections,
    const CocoEvalOptions& options) {
  CocoEvalResult result;
  result.iou_thresholds = options.iou_thresholds.empty()
                              ? CocoIouThresholds()
                              : options.iou_thresholds;
  result.recall_thresholds = options.recall_thresholds.empty()
                                 ? CocoRecallThresholds()
                                 : options.recall_thresholds;
  result.max_dets = options.max_dets;
  std::sort(result.max_dets.begin(), result.max_dets.end());
  if (result.max_dets.empty() || result.max_dets.front() < 1) {
    return absl::InvalidArgumentError("max_dets must be positive integers");
  }
  const std::vector<double>& iou_thrs = result.iou_thresholds;
  const int max_det = result.max_dets.back();

  // Images and categories, sorted and deduplicated.
  std::vector<int64_t> image_ids;
  for (const CocoImage& image : gt.images) image_ids.push_back(image.id);
  std::sort(image_ids.begin(), image_ids.end());
  image_ids.erase(std::unique(image_ids.begin(), image_ids.end()),
                  image_ids.end());
  const int I = static_cast<int>(image_ids.size());
  const IdIndex image_index(image_ids);
  std::vector<int64_t> cat_ids;
  for (const CocoCategory& cat : gt.categories) cat_ids.push_back(cat.id);
  std::sort(cat_ids.begin(), cat_ids.end());
  cat_ids.erase(std::unique(cat_ids.begin(), cat_ids.end()), cat_ids.end());
  const int C = static_cast<int>(cat_ids.size());
  const IdIndex cat_index(cat_ids);

  // Cells keyed by (category, image); GT in pycocotools' traversal order.
  // A dense (category, image) table when it is small enough, else a map.
  const int64_t num_keys = static_cast<int64_t>(C) * I;
  std::vector<int> cell_table(num_keys <= (int64_t{1} << 26) ? num_keys : 0,
                              -1);
  absl::flat_hash_map<int64_t, int> cell_map;
  std::vector<Cell> cat_cells;  // Per (category, image).
  cat_cells.reserve(std::min(gt.annotations.size() + detections.size(),
                             static_cast<size_t>(num_keys)));
  AdviseHugePages(cat_cells.data(), cat_cells.capacity() * sizeof(Cell));
  std::vector<int> cat_cell_cat;
  auto cell_index = [&](int c, int i) -> int {
    const int64_t key = static_cast<int64_t>(c) * I + i;
    int& slot = cell_table.empty() ? cell_map.try_emplace(key, -1).first->second
                                   : cell_table[key];
    if (slot < 0) {
      slot = static_cast<int>(cat_cells.size());
      cat_cells.emplace_back();
      cat_cells.back().image = i;
      cat_cell_cat.push_back(c);
    }
    return slot;
  };
  auto cell_for = [&](int c, int i) -> Cell& {
    return cat_cells[cell_index(c, i)];
  };

  absl::flat_hash_map<int64_t, int> last_with_id;
  for (size_t j = 0; j < gt.annotations.size(); ++j) {
    last_with_id[gt.annotations[j].id] = static_cast<int>(j);
  }
  std::vector<std::vector<int>> occurrences(I);  // imgToAnns, file order.
  for (size_t j = 0; j < gt.annotations.size(); ++j) {
    const int it = image_index.Find(gt.annotations[j].image_id);
    if (it >= 0) occurrences[it].push_back(static_cast<int>(j));
  }
  std::vector<GtRef> gt_refs;
  for (int i = 0; i < I; ++i) {
    for (int j : occurrences[i]) {
      if (options.use_cats && cat_index.Find(gt.annotations[j].category_id) < 0)
        continue;
      const int resolved = last_with_id[gt.annotations[j].id];
      const CocoAnnotation& ann = gt.annotations[resolved];
      const int img = image_index.Find(ann.image_id);
      const int cat = cat_index.Find(ann.category_id);
      if (img < 0 || cat < 0) continue;
      if ((!ann.area.has_value() || !ann.iscrowd.has_value()) &&
          !options.default_missing_fields) {
        return absl::InvalidArgumentError(absl::StrCat(
            Prefix(options.gt_source), "ground-truth annotation id ", ann.id,
            " (annotations[", resolved, "]) has no \"",
            ann.area.has_value() ? "iscrowd" : "area",
            "\" (pycocotools requires both)"));
      }
      const bool crowd = ann.iscrowd.value_or(0) != 0;
      gt_refs.push_back(
          {&ann.bbox, ann.area.value_or(ann.bbox[2] * ann.bbox[3]), ann.id,
           crowd,
           crowd || (options.honor_ignore && ann.ignore.value_or(0) != 0)});
      cell_for(cat, img).gts.push_back(static_cast<int>(gt_refs.size()) - 1);
      ++result.num_gt;
    }
  }

  // Detections: loadRes rules (area = w*h, id = position + 1). Checks and
  // id lookups run in parallel; the first bad entry in file order is
  // reported.
  auto check = [&](size_t j, int img) -> absl::Status {
    const CocoDetection& det = detections[j];
    if (img < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          Prefix(options.dt_source), "results[", j, "] names image_id ",
          det.image_id, ", which is not an image of the ground truth"));
    }
    for (double v : det.bbox) {
      if (!std::isfinite(v)) {
        return absl::InvalidArgumentError(absl::StrCat(
            Prefix(options.dt_source), "results[", j, "] (image_id ",
            det.image_id, "): bbox has a non-finite number"));
      }
    }
    if (det.bbox[2] < 0 || det.bbox[3] < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          Prefix(options.dt_source), "results[", j, "] (image_id ",
          det.image_id, "): bbox has a negative size [", det.bbox[0], ", ",
          det.bbox[1], ", ", det.bbox[2], ", ", det.bbox[3], "]"));
    }
    if (!std::isfinite(det.score)) {
      return absl::InvalidArgumentError(
          absl::StrCat(Prefix(options.dt_source), "results[", j, "] (image_id ",
                       det.image_id, "): score is not finite"));
    }
    return absl::OkStatus();
  };
  const size_t num_dets = detections.size();
  // Per detection: image index, category index (-1: not evaluated), and
  // whether it failed a check.
  std::vector<int> det_image(num_dets), det_cat(num_dets);
  std::vector<uint8_t> det_bad(num_dets);
  constexpr int64_t kDetBlock = 16384;
  ParallelFor((static_cast<int64_t>(num_dets) + kDetBlock - 1) / kDetBlock,
              ResolveThreads(options.threads), [&](int64_t block) {
                const size_t end =
                    std::min<size_t>(num_dets, (block + 1) * kDetBlock);
                for (size_t j = block * kDetBlock; j < end; ++j) {
                  const CocoDetection& det = detections[j];
                  det_image[j] = image_index.Find(det.image_id);
                  det_cat[j] = cat_index.Find(det.category_id);
                  const auto& b = det.bbox;
                  det_bad[j] = det_image[j] < 0 || !std::isfinite(b[0]) ||
                               !std::isfinite(b[1]) || !std::isfinite(b[2]) ||
                               !std::isfinite(b[3]) || b[2] < 0 || b[3] < 0 ||
                               !std::isfinite(det.score);
                }
              });
  // Two passes: find every detection's cell, then fill each cell's list in
  // file order with its exact size reserved (no regrowth).
  int64_t evaluated_detections = 0;
  // det_cat is reused in place: category index -> cell index (-1 stays -1).
  std::vector<int>& det_cell = det_cat;
  for (size_t j = 0; j < num_dets; ++j) {
    if (det_bad[j]) return check(j, det_image[j]);
    if (det_cat[j] < 0) continue;  // Never evaluated (pycocotools drops it).
    ++evaluated_detections;
    det_cell[j] = cell_index(det_cat[j], det_image[j]);
  }
  {
    std::vector<int> count(cat_cells.size(), 0);
    for (size_t j = 0; j < num_dets; ++j) {
      if (det_cell[j] >= 0) ++count[det_cell[j]];
    }
    for (size_t c = 0; c < cat_cells.size(); ++c) {
      cat_cells[c].dts.reserve(count[c]);
    }
    for (size_t j = 0; j < num_dets; ++j) {
      if (det_cell[j] >= 0)
        cat_cells[det_cell[j]].dts.push_back(static_cast<int>(j));
    }
  }
  result.num_detections = evaluated_detections;
  result.num_images = I;

  // Evaluation cells: (category, image), or whole images when !use_cats.
  std::vector<Cell> cells;
  std::vector<std::vector<int>> cells_of_k;
  if (options.use_cats) {
    result.category_ids = cat_ids;
    cells_of_k.resize(C);
    cells = std::move(cat_cells);
    if (!cell_table.empty()) {
      // The table is (category, image)-major: reading it in order lists
      // each category's cells by ascending image without sorting.
      for (int c = 0; c < C; ++c) {
        const int* row = cell_table.data() + static_cast<int64_t>(c) * I;
        for (int i = 0; i < I; ++i) {
          if (row[i] >= 0) cells_of_k[c].push_back(row[i]);
        }
      }
    } else {
      for (size_t id = 0; id < cells.size(); ++id)
        cells_of_k[cat_cell_cat[id]].push_back(id);
      for (auto& ids : cells_of_k) {
        std::sort(ids.begin(), ids.end(), [&](int x, int y) {
          return cells[x].image < cells[y].image;
        });
      }
    }
  } else {
    result.category_ids = {-1};
    std::vector<int> order(cat_cells.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int x, int y) {
      return cat_cells[x].image != cat_cells[y].image
                 ? cat_cells[x].image < cat_cells[y].image
                 : cat_cell_cat[x] < cat_cell_cat[y];
    });
    cells_of_k.resize(1);
    for (int id : order) {
      const Cell& part = cat_cells[id];
      if (cells.empty() || cells.back().image != part.image) {
        cells.emplace_back();
        cells.back().image = part.image;
        cells_of_k[0].push_back(static_cast<int>(cells.size()) - 1);
      }
      Cell& cell = cells.back();
      cell.gts.insert(cell.gts.end(), part.gts.begin(), part.gts.end());
      cell.dts.insert(cell.dts.end(), part.dts.begin(), part.dts.end());
    }
  }

  result.T = static_cast<int>(iou_thrs.size());
  result.R = static_cast<int>(result.recall_thresholds.size());
  result.K = static_cast<int>(cells_of_k.size());
  result.M = static_cast<int>(result.max_dets.size());
  result.precision.assign(
      static_cast<size_t>(result.T) * result.R * result.K * result.A * result.M,
      -1.0);
  result.recall.assign(
      static_cast<size_t>(result.T) * result.K * result.A * result.M, -1.0);

  const int threads = ResolveThreads(options.threads);
  // One arena for every cell's outcomes: 4 * T bytes per kept detection.
  size_t arena_size = 0;
  for (const Cell& cell : cells) {
    arena_size += std::min<size_t>(cell.dts.size(), max_det);
  }
  // Uninitialised on purpose: MatchCell writes every byte of its slice, so
  // zero-filling 20 MB first would only cost time.
  const size_t arena_bytes = arena_size * 4 * iou_thrs.size();
  std::unique_ptr<uint8_t[]> arena(
      new uint8_t[std::max<size_t>(arena_bytes, 1)]);
  AdviseHugePages(arena.get(), arena_bytes);
  std::unique_ptr<uint8_t[]> summaries(
      new uint8_t[std::max<size_t>(arena_size, 1)]);
  std::unique_ptr<double[]> scores(new double[std::max<size_t>(arena_size, 1)]);
  AdviseHugePages(scores.get(), arena_size * sizeof(double));
  size_t offset = 0, kept = 0;
  for (Cell& cell : cells) {
    cell.outcomes = arena.get() + offset;
    cell.summary = summaries.get() + kept;
    cell.scores = scores.get() + kept;
    const size_t d = std::min<size_t>(cell.dts.size(), max_det);
    offset += d * 4 * iou_thrs.size();
    kept += d;
  }
  // Blocks of neighbouring cells per task, so that threads never write to
  // the same cache lines of the arena.
  constexpr int64_t kBlock = 256;
  const int64_t num_cells = static_cast<int64_t>(cells.size());
  ParallelFor((num_cells + kBlock - 1) / kBlock, threads, [&](int64_t block) {
    const int64_t end = std::min(num_cells, (block + 1) * kBlock);
    for (int64_t id = block * kBlock; id < end; ++id) {
      Cell& cell = cells[id];
      std::stable_sort(cell.dts.begin(), cell.dts.end(), [&](int x, int y) {
        return detections[x].score > detections[y].score;
      });
      if (static_cast<int>(cell.dts.size()) > max_det) {
        cell.dts.resize(max_det);
      }
      MatchCell(gt_refs, detections, iou_thrs, options.fix_zero_gt_id, cell);
      for (size_t d = 0; d < cell.dts.size(); ++d) {
        cell.scores[d] = detections[cell.dts[d]].score;
      }
    }
  });

  const std::vector<int> t50 = IndicesOf(iou_thrs, 0.5);
  const std::vector<int> t75 = IndicesOf(iou_thrs, 0.75);
  if (options.use_cats) {
    result.per_class.resize(result.K);
    for (int k = 0; k < result.K; ++k) {
      result.per_class[k].category_id = cat_ids[k];
      for (const CocoCategory& cat : gt.categories) {
        if (cat.id == cat_ids[k]) {
          result.per_class[k].name = cat.name;
          break;
        }
      }
    }
  }
  const int f1_t = t50.empty() ? 0 : t50[0];
  ParallelFor(result.K, threads, [&](int64_t k) {
    AccumulateCategory(cells, cells_of_k[k], static_cast<int>(k),
                       result.recall_thresholds, result,
                       options.use_cats ? &result.per_class[k] : nullptr, f1_t);
  });

  // Summarize.
  const NumpySumRule rule = options.sum_rule;
  std::vector<int> all_t(result.T);
  std::iota(all_t.begin(), all_t.end(), 0);
  const std::vector<int>& md = result.max_dets;
  auto md_at = [&](size_t i) { return md[std::min(i, md.size() - 1)]; };
  const std::vector<int> m100 = MaxDetIndices(md, 100);
  const std::vector<int> m2 = MaxDetIndices(md, md_at(2));
  auto& s = result.stats;
  s[0] = Summarize(result, rule, true, all_t, 0, m100);
  s[1] = Summarize(result, rule, true, t50, 0, m2);
  s[2] = Summarize(result, rule, true, t75, 0, m2);
  s[3] = Summarize(result, rule, true, all_t, 1, m2);
  s[4] = Summarize(result, rule, true, all_t, 2, m2);
  s[5] = Summarize(result, rule, true, all_t, 3, m2);
  s[6] = Summarize(result, rule, false, all_t, 0, MaxDetIndices(md, md_at(0)));
  s[7] = Summarize(result, rule, false, all_t, 0, MaxDetIndices(md, md_at(1)));
  s[8] = Summarize(result, rule, false, all_t, 0, m2);
  s[9] = Summarize(result, rule, false, all_t, 1, m2);
  s[10] = Summarize(result, rule, false, all_t, 2, m2);
  s[11] = Summarize(result, rule, false, all_t, 3, m2);

  // Per-class means over each category's own slices.
  for (int k = 0; k < static_cast<int>(result.per_class.size()); ++k) {
    CocoClassMetrics& c = result.per_class[k];
    const int last_m = result.M - 1;
    auto class_ap = [&](const std::vector<int>& ts, int a) {
      return MeanOfValid(rule, [&](auto add) {
        for (int t : ts) {
          for (int r = 0; r < result.R; ++r)
            add(result.Precision(t, r, k, a, last_m));
        }
      });
    };
    auto class_ar = [&](int m) {
      return MeanOfValid(rule, [&](auto add) {
        for (int t = 0; t < result.T; ++t) add(result.Recall(t, k, 0, m));
      });
    };
    c.ap = class_ap(all_t, 0);
    c.ap50 = class_ap(t50, 0);
    c.ap75 = class_ap(t75, 0);
    c.ap_small = class_ap(all_t, 1);
    c.ap_medium = class_ap(all_t, 2);
    c.ap_large = class_ap(all_t, 3);
    c.ar1 = class_ar(std::min(0, last_m));
    c.ar10 = class_ar(std::min(1, last_m));
    c.ar100 = class_ar(std::min(2, last_m));
    for (int id : cells_of_k[k]) {
      c.num_gt += cells[id].npig[0];
    }
  }
  // Detections per category before the maxDet truncation.
  if (options.use_cats) {
    std::vector<int64_t> per_cat(C, 0);
    for (const CocoDetection& det : detections) {
      const int cat = cat_index.Find(det.category_id);
      if (cat >= 0) ++per_cat[cat];
    }
    for (int k = 0; k < C; ++k) result.per_class[k].num_detections = per_cat[k];
  }
  return result;
}

std::string FormatCocoSummary(const CocoEvalResult& result) {
  const std::vector<double>& thrs = result.iou_thresholds;
  const std::vector<int>& md = result.max_dets;
  auto md_at = [&](size_t i) { return md[std::min(i, md.size() - 1)]; };
  struct Line {
    bool ap;
    double iou;  // < 0: the whole range.
    int area;
    int max_dets;
  };
  const Line lines[12] = {{true, -1, 0, 100},        {true, 0.5, 0, md_at(2)},
                          {true, 0.75, 0, md_at(2)}, {true, -1, 1, md_at(2)},
                          {true, -1, 2, md_at(2)},   {true, -1, 3, md_at(2)},
                          {false, -1, 0, md_at(0)},  {false, -1, 0, md_at(1)},
                          {false, -1, 0, md_at(2)},  {false, -1, 1, md_at(2)},
                          {false, -1, 2, md_at(2)},  {false, -1, 3, md_at(2)}};
  std::string out;
  for (int i = 0; i < 12; ++i) {
    const Line& line = lines[i];
    const std::string iou =
        line.iou < 0 ? absl::StrFormat("%0.2f:%0.2f", thrs.front(), thrs.back())
                     : absl::StrFormat("%0.2f", line.iou);
    absl::StrAppendFormat(
        &out, " %-18s %s @[ IoU=%-9s | area=%6s | maxDets=%3d ] = %0.3f\n",
        line.ap ? "Average Precision" : "Average Recall",
        line.ap ? "(AP)" : "(AR)", iou, kAreaNames[line.area], line.max_dets,
        result.stats[i]);
  }
  return out;
}

}  // namespace cvt
