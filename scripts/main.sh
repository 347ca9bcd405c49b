#!/usr/bin/env bash
# The main cvtools job. Until training lands (and with it the end-to-end
# pipeline), it builds every tool (optimized), shows each one's --help, and
# runs what is built on the bundled data: coco_prep on BCCD, evaluate_map on
# COCO val2014, mlflow_push of a sample run directory into MLflow's file
# store, and volume_sync of all outputs.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
bazel build -c opt //tools/...
for tool in coco_prep train evaluate_map mlflow_push volume_sync tune; do
  echo
  echo "== $tool"
  "bazel-bin/tools/$tool/$tool" --version
  "bazel-bin/tools/$tool/$tool" --help
done

# What is built already, on real data when ../shared/data is beside the clone.
out_root="${CVT_OUT:-out}"
bccd=../shared/data/bccd
if [ -d "$bccd/BCCD/JPEGImages" ]; then
  echo
  echo "== coco_prep on BCCD (364 microscope images, official splits, longest side 416 px)"
  rm -rf "$out_root/bccd_prepared"
  mkdir -p "$out_root"
  bazel-bin/tools/coco_prep/coco_prep --images="$bccd/BCCD/JPEGImages" \
    --annotations="train=$bccd/coco/instances_train.json,val=$bccd/coco/instances_val.json,test=$bccd/coco/instances_test.json" \
    --out="$out_root/bccd_prepared" --max_size=416
fi
eval_dir=../shared/data/eval/cocoapi_val2014_100
if [ -f "$eval_dir/instances_val2014_100.json" ]; then
  out="$out_root/evaluate_map"
  mkdir -p "$out"
  echo
  echo "== evaluate_map on COCO val2014 (100 images) with cocoapi's example results"
  bazel-bin/tools/evaluate_map/evaluate_map --gt "$eval_dir/instances_val2014_100.json" \
    --dt "$eval_dir/instances_val2014_fakebbox100_results.json" \
    --out "$out/report.json" --plots_dir "$out/plots"
  echo "report: $out/report.json, plots: $out/plots/"
fi

# mlflow_push: the bundled sample run directory into MLflow's file store
# (file:out/mlruns; open it with MLFLOW_ALLOW_FILE_STORE=true mlflow ui
# --backend-store-uri file://$PWD/out/mlruns). A second push is a no-op.
echo
echo "== mlflow_push of testdata/run_dir_small to file:$out_root/mlruns"
mkdir -p "$out_root"
rm -rf "$out_root/run_dir_small"
cp -r testdata/run_dir_small "$out_root/run_dir_small"
bazel-bin/tools/mlflow_push/mlflow_push --run_dir "$out_root/run_dir_small" \
  --tracking_uri "file:$out_root/mlruns" --experiment cvtools-sample
bazel-bin/tools/mlflow_push/mlflow_push --run_dir "$out_root/run_dir_small" \
  --tracking_uri "file:$out_root/mlruns" --experiment cvtools-sample

# volume_sync: copy the outputs to "persistent storage" (a local folder here;
# /Volumes/... or dbfs:/... on Databricks), then show that a second pass is a
# no-op.
if [ -d "$out_root" ]; then
  echo
  echo "== volume_sync of $out_root to $out_root.volume (crash-safe, incremental)"
  bazel-bin/tools/volume_sync/volume_sync --src "$out_root" --dst "$out_root.volume" \
    --delete --progress none
  bazel-bin/tools/volume_sync/volume_sync --src "$out_root" --dst "$out_root.volume" \
    --delete --progress none
fi
