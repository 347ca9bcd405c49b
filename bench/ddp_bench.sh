#!/usr/bin/env bash
# Data-parallel throughput (issue 9), in one run on ../shared/data/bccd:
# `train fit` with 2 processes x 1 thread (--nproc_per_node 2, Gloo on
# 127.0.0.1) against 1 process x 1 thread, each process with the same batch,
# YOLO small at the config's sizes. Images per second come from the median
# time between logged optimizer steps (metrics.jsonl timestamps, every step
# logged), so start-up and validation are not counted.
# Goal: ratio >= 1.7. Also 2 processes with synced batch norm
# (model.yolo.sync_batch_norm=true), which pays three all-reduces per
# batch-norm layer and step.
#
# Usage: bash bench/ddp_bench.sh [--steps N] [--config FILE] [--bccd DIR]
# Build first: bazel build -c opt --symlink_prefix=/tmp/optbin/ \
#   //tools/train //tools/coco_prep
set -euo pipefail
cd "$(dirname "$0")/.."
steps=10
source bench/prepare_bccd.sh "$@"
# One epoch cut to `steps` optimizer steps per process, one validation batch.
train_images=$(/usr/bin/python3 -c "import json; print(len(json.load(open('$prep/annotations/train.json'))['images']))")
batch=$(sed -n 's/^ *batch_size: *\([0-9]*\).*/\1/p' "$config" | head -1)
run() {  # name nproc [extra train flags...]
  local name=$1 nproc=$2 batches fraction
  shift 2
  batches=$(( (train_images + nproc * batch - 1) / (nproc * batch) ))
  fraction=$(/usr/bin/python3 -c "print(min(1.0, ($steps + 0.5) / $batches))")
  rm -rf "$work/$name"
  local launch=(--nproc_per_node "$nproc")
  "$bin/tools/train/train" fit --config "$config" --data "$prep" --run_dir "$work/$name" \
    --threads 1 "${launch[@]}" \
    --set trainer.max_epochs=1 --set trainer.log_every_n_steps=1 \
    --set trainer.limit_train_batches="$fraction" --set trainer.limit_val_batches=0.01 \
    --set trainer.compute_val_map=false --set checkpoint.monitor=val/loss \
    --set checkpoint.mode=MIN --set checkpoint.filename='e{epoch}' --set early_stopping.enabled=false \
    --set data.num_workers=1 "$@" >"$work/$name.log" 2>&1
  /usr/bin/python3 - "$work/$name/metrics.jsonl" <<'PY'
import json, statistics, sys
t = [json.loads(l)["timestamp_ms"] for l in open(sys.argv[1]) if json.loads(l)["name"] == "train/loss"]
d = [b - a for a, b in zip(t, t[1:])]
print(statistics.median(d) / 1000.0)
PY
}
one=$(run one 1)
two=$(run two 2)
synced=$(run synced 2 --set model.yolo.sync_batch_norm=true)
/usr/bin/python3 - "$one" "$two" "$synced" "$batch" "$config" <<'PY'
import sys
one, two, synced = map(float, sys.argv[1:4])
batch, config = int(sys.argv[4]), sys.argv[5]
ips1, ips2, ips3 = batch / one, 2 * batch / two, 2 * batch / synced
print(f"config {config}, batch {batch} per process, 1 thread per process")
print(f"1 process             : {one:.3f} s/step, {ips1:.2f} img/s")
print(f"2 processes           : {two:.3f} s/step, {ips2:.2f} img/s (global batch {2 * batch})")
print(f"2 processes, synced BN: {synced:.3f} s/step, {ips3:.2f} img/s")
print(f"ratio (2 x 1 thread / 1 x 1 thread): {ips2 / ips1:.2f}  (goal >= 1.7)")
print(f"ratio with synced batch norm       : {ips3 / ips1:.2f}")
PY
