#!/usr/bin/env bash
# train benchmarks on ../shared/data/bccd (issue 6), in one run:
#   (a) a bare training step with the real loader / with pre-decoded
#       in-memory batches (goal <= 1.05: the loader never starves the model);
#   (b) `train fit`'s step (every step logged, from metrics.jsonl timestamps)
#       / the bare loop with the real loader (goal <= 1.05: the trainer adds
#       no overhead).
# Median seconds per step over --steps steps, YOLO small config, 2 threads.
#
# Usage: bash bench/train_bench.sh [--steps N] [--config FILE] [--bccd DIR]
# Build first: bazel build -c opt --symlink_prefix=/tmp/optbin/ \
#   //bench:train_bench //tools/train //tools/coco_prep
set -euo pipefail
cd "$(dirname "$0")/.."
steps=8
source bench/prepare_bccd.sh "$@"
memory=$("$bin/bench/train_bench" --data "$prep" --config "$config" --mode memory --steps "$steps" | awk '/step_s/ {print $2}')
loader=$("$bin/bench/train_bench" --data "$prep" --config "$config" --mode loader --steps "$steps" | awk '/step_s/ {print $2}')
rm -rf "$work/run"
"$bin/tools/train/train" fit --config "$config" --data "$prep" --run_dir "$work/run" --threads 2 \
  --set trainer.max_epochs=1 --set trainer.log_every_n_steps=1 --set trainer.compute_val_map=false \
  --set checkpoint.monitor=val/loss --set checkpoint.mode=MIN --set "checkpoint.filename={epoch}-{val_loss:.4f}" --set early_stopping.enabled=false \
  --set "trainer.limit_train_batches=$(python3 -c "print(min(1.0, ($steps + 2) / 26.0))")" \
  --set trainer.limit_val_batches=0.05 2>/dev/null
fit=$(python3 - "$work/run/metrics.jsonl" <<'PY'
import json, sys
t = [json.loads(l)["timestamp_ms"] for l in open(sys.argv[1]) if '"train/loss"' in l]
d = sorted((b - a) / 1000.0 for a, b in zip(t[1:], t[2:]))  # skip the first step
print("%.6f" % d[len(d) // 2])
PY
)
python3 - "$memory" "$loader" "$fit" "$config" <<'PY'
import sys
memory, loader, fit = map(float, sys.argv[1:4])
print("config: %s" % sys.argv[4])
print("bare loop, in-memory batches : %.3f s/step" % memory)
print("bare loop, real loader       : %.3f s/step" % loader)
print("train fit                    : %.3f s/step" % fit)
print("(a) loader / in-memory = %.3f (goal <= 1.05)" % (loader / memory))
print("(b) train fit / bare   = %.3f (goal <= 1.05)" % (fit / loader))
PY
