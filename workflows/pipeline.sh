#!/usr/bin/env bash
# The cvtools pipeline end to end:
#   data -> coco_prep -> train fit (volume_sync --follow beside it)
#        -> train test + train predict -> evaluate_map -> mlflow_push (always)
#
# Usage: workflows/pipeline.sh [--out DIR] [--images DIR --annotations FILE]
#          [--config FILE] [--tracking_uri URI] [--experiment NAME] [--volume DEST]
#          [--bin DIR] [--threads N] [--nproc_per_node N] [-- EXTRA_TRAIN_FIT_FLAGS...]
#   --out           working folder (default out/pipeline); each run gets out/<run>/
#   --images/--annotations  a COCO dataset (default: generated shapes data,
#                   libs/data/write_synthetic_coco, 120 images)
#   --config        train config (default configs/yolo_nano_shapes.textproto)
#   --tracking_uri  MLflow (default file:<out>/mlruns; http://..., databricks)
#   --volume        where checkpoints are synced (default <out>/volume; /Volumes/...)
#   --bin           folder with tools/<tool>/<tool> binaries (default bazel-bin)
#   --threads       intra-op threads per training process (default 0: all cores,
#                   shared among the processes)
#   --nproc_per_node  data-parallel training processes on this machine (default 1)
#   --run NAME      the run folder's name (default run-<UTC time>-<pid>)
#   --only STEP     run one step of workflows/graph.py (data, coco_prep, train,
#                   test, evaluate_map, mlflow_push) in <out>/<run>: what each
#                   Databricks task does (workflows/databricks/cvtools_task.py).
#                   A retried train step resumes from its last.ckpt.
# Extra flags after -- go to `train fit` (e.g. --set trainer.max_epochs=5).
# Exits non-zero naming the failed step; mlflow_push runs even after a failed
# training so no MLflow run stays RUNNING.
set -uo pipefail
cd "$(dirname "$0")/.."
out=out/pipeline
images=""
annotations=""
config=configs/yolo_nano_shapes.textproto
tracking_uri=""
experiment=cvtools-pipeline
volume=""
bin=bazel-bin
threads=0
nproc=1
run_name=""
only=""
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --images) images="$2"; shift 2 ;;
    --annotations) annotations="$2"; shift 2 ;;
    --config) config="$2"; shift 2 ;;
    --tracking_uri) tracking_uri="$2"; shift 2 ;;
    --experiment) experiment="$2"; shift 2 ;;
    --volume) volume="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --nproc_per_node) nproc="$2"; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    --run) run_name="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    -h|--help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "pipeline: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$only" in
  ""|data|coco_prep|train|test|evaluate_map|mlflow_push) ;;
  *) echo "pipeline: --only: unknown step '$only'" >&2; exit 2 ;;
esac
mkdir -p "$out"
out=$(cd "$out" && pwd)
[ -n "$tracking_uri" ] || tracking_uri="file:$out/mlruns"
[ -n "$volume" ] || volume="$out/volume"
run_id="${run_name:-run-$(date -u +%Y%m%dT%H%M%SZ)-$$}"
work="$out/$run_id"
mkdir -p "$work"
step() { echo; echo "=== [$1] $2"; }
# Whether step $1 runs in this invocation.
runs() { [ -z "$only" ] || [ "$only" = "$1" ]; }
die() { echo "pipeline: step '$1' failed (exit $2); see above" >&2; exit "$2"; }

if [ -z "$images" ]; then
  if runs data; then
    step data "generating the shapes data set"
    "$bin/libs/data/write_synthetic_coco" --raw --out "$work/raw" --train 80 --val 20 --test 20 \
      --min_size 128 --max_size 160 || die data $?
  fi
  images="$work/raw/images"
  annotations="$work/raw/annotations.json"
elif runs data; then
  step data "using $annotations"
fi

if runs coco_prep; then
  step coco_prep "validating and splitting $annotations"
  rm -rf "$work/prepared"
  "$bin/tools/coco_prep/coco_prep" --images="$images" --annotations="$annotations" \
    --out="$work/prepared" --splits=train=0.7,val=0.15,test=0.15 || die coco_prep $?
fi

train_rc=0
sync_rc=0
if runs train; then
  step train "train fit ($config), volume_sync --follow to $volume"
  mkdir -p "$work/run" "$volume"
  resume=()
  # A retried task (preemption) continues bit-identically from last.ckpt.
  ls "$work/run/checkpoints/"last*.ckpt >/dev/null 2>&1 && resume=(--resume last)
  "$bin/tools/volume_sync/volume_sync" --src "$work/run" --dst "$volume/$run_id" --follow --delete \
    --include '*.ckpt,checkpoints.json' >"$work/volume_sync.json" 2>"$work/volume_sync.log" &
  sync_pid=$!
  "$bin/tools/train/train" fit --config "$config" --data "$work/prepared" --run_dir "$work/run" \
    --threads "$threads" --nproc_per_node "$nproc" "${resume[@]}" "${extra[@]}"
  train_rc=$?
  wait $sync_pid
  sync_rc=$?
fi

eval_rc=0
if [ $train_rc -eq 0 ]; then
  ckpt="$work/run/checkpoints/last.ckpt"
  if runs test; then
    step test "train test and train predict with the last checkpoint"
    mkdir -p "$work/run/eval" "$work/run/predictions"
    "$bin/tools/train/train" test --checkpoint "$ckpt" --data "$work/prepared" \
      --out "$work/run/eval/test_metrics.json" --threads "$threads" || eval_rc=$?
    "$bin/tools/train/train" predict --checkpoint "$ckpt" --data "$work/prepared" \
      --out "$work/run/predictions/test.json" --threads "$threads" || eval_rc=$?
  fi
  if runs evaluate_map && [ $eval_rc -eq 0 ]; then
    step evaluate_map "COCO mAP of the test predictions"
    "$bin/tools/evaluate_map/evaluate_map" --gt "$work/prepared/annotations/test.json" \
      --dt "$work/run/predictions/test.json" --out "$work/run/eval/evaluate_map.json" \
      --plots_dir "$work/run/plots/eval" || eval_rc=$?
  fi
fi

push_rc=0
if runs mlflow_push; then
  step mlflow_push "pushing $work/run to $tracking_uri (experiment $experiment)"
  "$bin/tools/mlflow_push/mlflow_push" --run_dir "$work/run" --tracking_uri "$tracking_uri" \
    --experiment "$experiment" >"$work/mlflow_push.json"
  push_rc=$?
  cat "$work/mlflow_push.json"
fi
if [ -n "$only" ]; then
  for rc in $train_rc $sync_rc $eval_rc $push_rc; do
    [ "$rc" -eq 0 ] || die "$only" "$rc"
  done
  exit 0
fi

echo
echo "=== summary"
echo "run directory : $work/run"
echo "checkpoints   : $work/run/checkpoints (synced to $volume/$run_id)"
echo "plots         : $work/run/plots"
if [ -f "$work/run/eval/evaluate_map.json" ]; then
  python3 - "$work/run/eval/evaluate_map.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = r["stats_by_name"]
print("test mAP      : %.4f   mAP50: %.4f" % (s["AP"], s["AP50"]))
PY
fi
[ $train_rc -eq 0 ] || die train $train_rc
[ $sync_rc -eq 0 ] || die volume_sync $sync_rc
[ $eval_rc -eq 0 ] || die evaluate $eval_rc
[ $push_rc -eq 0 ] || die mlflow_push $push_rc
echo "pipeline: done"
