#!/usr/bin/env bash
# train fit / test / predict end to end on generated shapes data (YOLO nano):
#   - two runs with one seed end with bit-identical weights;
#   - a run killed with SIGKILL mid-epoch and resumed with --resume last,
#     and a run stopped by SIGTERM (KILLED, exit 1, last.ckpt with the loader
#     position) and resumed, both end bit-identical to the uninterrupted run,
#     with the same metrics.jsonl (names, values, steps);
#   - a fresh run into a run directory with checkpoints is refused (exit 2);
#   - a non-finite loss stops with exit 3 naming the step and image ids;
#   - predict writes COCO results that evaluate_map accepts, and test reports
#     the same mAP;
#   - Python's torch.load reads the checkpoint (Debian's python3-torch).
set -u
cd "${TEST_SRCDIR}/${TEST_WORKSPACE:-cvtools}" || exit 1
train=tools/train/train
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
data="$TEST_TMPDIR/shapes"
libs/data/write_synthetic_coco --out "$data" --train 24 --val 8 --test 8 >/dev/null || exit 1
common=(--config configs/yolo_nano_shapes.textproto --data "$data" --threads 1
        --set trainer.max_epochs=4 --set trainer.log_every_n_steps=1 --set data.batch_size=4)

same_weights() {  # dir_a dir_b
  /usr/bin/python3 - "$1/checkpoints/last.ckpt" "$2/checkpoints/last.ckpt" <<'PY'
import sys, torch
a, b = torch.load(sys.argv[1]), torch.load(sys.argv[2])
assert a["global_step"] == b["global_step"], (a["global_step"], b["global_step"])
bad = [k for k in a["state_dict"] if not torch.equal(a["state_dict"][k], b["state_dict"][k])]
assert not bad, "%d of %d tensors differ, e.g. %s" % (len(bad), len(a["state_dict"]), bad[:3])
PY
}
same_metrics() {  # dir_a dir_b: name, value, step, epoch of every line
  diff <(cut -d, -f1-4 "$1/metrics.jsonl") <(cut -d, -f1-4 "$2/metrics.jsonl") >/dev/null
}

"$train" fit "${common[@]}" --run_dir "$TEST_TMPDIR/a" 2>"$TEST_TMPDIR/a.log" || { cat "$TEST_TMPDIR/a.log"; fail "fit a"; }
grep -q '"status": "FINISHED"' "$TEST_TMPDIR/a/run.json" || fail "run a is not FINISHED"
[ -s "$TEST_TMPDIR/a/plots/training_curves.png" ] || fail "no training curves"
[ -s "$TEST_TMPDIR/a/predictions/val.json" ] || fail "no validation predictions"
grep -q '"best": true' "$TEST_TMPDIR/a/checkpoints/checkpoints.json" || fail "checkpoints.json marks no best"
"$train" fit "${common[@]}" --run_dir "$TEST_TMPDIR/b" 2>/dev/null || fail "fit b"
same_weights "$TEST_TMPDIR/a" "$TEST_TMPDIR/b" && echo "ok: two runs with one seed are bit-identical" || fail "two runs differ"

# SIGKILL once the first epoch's checkpoints exist, then resume.
"$train" fit "${common[@]}" --run_dir "$TEST_TMPDIR/k" 2>/dev/null &
pid=$!
for _ in $(seq 1 600); do
  [ -e "$TEST_TMPDIR/k/checkpoints/last.ckpt" ] && \
    n=$(grep -c '"train/loss"' "$TEST_TMPDIR/k/metrics.jsonl" 2>/dev/null); [ "${n:-0}" -ge 8 ] && break
  sleep 0.05
done
kill -9 $pid; wait $pid 2>/dev/null
echo "killed at $(grep -c '"train/loss"' "$TEST_TMPDIR/k/metrics.jsonl") logged steps"
"$train" fit "${common[@]}" --run_dir "$TEST_TMPDIR/k" --resume last 2>/dev/null || fail "resume after SIGKILL"
same_weights "$TEST_TMPDIR/a" "$TEST_TMPDIR/k" && echo "ok: SIGKILL + resume is bit-identical" || fail "SIGKILL + resume differs"
same_metrics "$TEST_TMPDIR/a" "$TEST_TMPDIR/k" && echo "ok: SIGKILL + resume gives the same metrics" || fail "metrics differ after SIGKILL"

# SIGTERM mid-epoch: KILLED, exit 1, then resume.
"$train" fit "${common[@]}" --run_dir "$TEST_TMPDIR/t" 2>"$TEST_TMPDIR/t.log" &
pid=$!
for _ in $(seq 1 600); do
  n=$(grep -c '"train/loss"' "$TEST_TMPDIR/t/metrics.jsonl" 2>/dev/null); [ "${n:-0}" -ge 9 ] && break
  sleep 0.05
done
kill -TERM $pid; wait $pid; rc=$?
[ $rc -eq 1 ] || fail "SIGTERM exit code $rc, expected 1"
grep -q "stopped by SIGTERM" "$TEST_TMPDIR/t.log" || fail "no SIGTERM message: $(cat "$TEST_TMPDIR/t.log")"
grep -q '"status": "KILLED"' "$TEST_TMPDIR/t/run.json" || fail "run t is not KILLED"
"$train" fit "${common[@]}" --run_dir "$TEST_TMPDIR/t" --resume last 2>/dev/null || fail "resume after SIGTERM"
same_weights "$TEST_TMPDIR/a" "$TEST_TMPDIR/t" && echo "ok: SIGTERM + resume is bit-identical" || fail "SIGTERM + resume differs"
same_metrics "$TEST_TMPDIR/a" "$TEST_TMPDIR/t" || fail "metrics differ after SIGTERM"

# Gradient accumulation: 6 batches per epoch with k = 4 make ceil(6/4) = 2
# optimizer steps per epoch.
"$train" fit "${common[@]}" --run_dir "$TEST_TMPDIR/acc" --set trainer.max_epochs=2 \
  --set optimizer.accumulate_grad_batches=4 2>/dev/null || fail "fit with accumulation"
/usr/bin/python3 -c "
import sys, torch
c = torch.load('$TEST_TMPDIR/acc/checkpoints/last.ckpt')
sys.exit(0 if c['global_step'] == 4 else 'global_step %d, expected 4' % c['global_step'])
" && echo "ok: accumulation steps every 4 batches and at the epoch end" || fail "accumulation step count"

# A fresh run beside checkpoints is refused.
"$train" fit "${common[@]}" --run_dir "$TEST_TMPDIR/a" 2>"$TEST_TMPDIR/again.log"; rc=$?
[ $rc -eq 2 ] && grep -q "already holds checkpoints" "$TEST_TMPDIR/again.log" || fail "fresh run into a used dir: rc $rc"

# Bad resumes and monitors: exit 2 naming the problem, nothing trained.
"$train" fit "${common[@]}" --run_dir "$TEST_TMPDIR/none" --resume last 2>"$TEST_TMPDIR/r1.log"; rc=$?
[ $rc -eq 2 ] && grep -q "no last\*.ckpt in .*none/checkpoints" "$TEST_TMPDIR/r1.log" || \
  fail "--resume without checkpoints: rc $rc: $(cat "$TEST_TMPDIR/r1.log")"
"$train" fit "${common[@]}" --run_dir "$TEST_TMPDIR/a" --resume last --set optimizer.lr=0.5 \
  2>"$TEST_TMPDIR/r2.log"; rc=$?
[ $rc -eq 2 ] && grep -q "cannot change on resume" "$TEST_TMPDIR/r2.log" || \
  fail "--resume with a changed lr: rc $rc: $(tail -1 "$TEST_TMPDIR/r2.log")"
"$train" fit "${common[@]}" --run_dir "$TEST_TMPDIR/nomap" --set trainer.compute_val_map=false \
  2>"$TEST_TMPDIR/r3.log"; rc=$?
[ $rc -eq 2 ] && grep -q "is not among the logged metrics" "$TEST_TMPDIR/r3.log" && \
  [ ! -e "$TEST_TMPDIR/nomap/run.json" ] || fail "val/map monitor without mAP: rc $rc: $(tail -1 "$TEST_TMPDIR/r3.log")"

# A non-finite loss: exit 3 naming the step and the images.
"$train" fit "${common[@]}" --run_dir "$TEST_TMPDIR/nan" --set optimizer.lr=1e12 \
  --set optimizer.gradient_clip_norm=0 2>"$TEST_TMPDIR/nan.log"; rc=$?
[ $rc -eq 3 ] && grep -q "non-finite training loss .* step .* (images " "$TEST_TMPDIR/nan.log" || \
  fail "NaN: rc $rc: $(tail -2 "$TEST_TMPDIR/nan.log")"
grep -q '"status": "FAILED"' "$TEST_TMPDIR/nan/run.json" || fail "NaN run is not FAILED"

# predict -> evaluate_map, and test, on a run trained long enough to detect.
"$train" fit --config configs/yolo_nano_shapes.textproto --data "$data" --threads 2 \
  --set trainer.max_epochs=20 --run_dir "$TEST_TMPDIR/p" 2>/dev/null || fail "fit p"
ckpt="$TEST_TMPDIR/p/checkpoints/last.ckpt"
"$train" predict --checkpoint "$ckpt" --data "$data" --out "$TEST_TMPDIR/pred.json" 2>/dev/null || fail "predict"
tools/evaluate_map/evaluate_map --gt "$data/annotations/test.json" --dt "$TEST_TMPDIR/pred.json" \
  --out "$TEST_TMPDIR/eval.json" >"$TEST_TMPDIR/eval.txt" || fail "evaluate_map rejected predict's output"
"$train" test --checkpoint "$ckpt" --data "$data" --out "$TEST_TMPDIR/test.json" >"$TEST_TMPDIR/test.txt" 2>/dev/null || fail "test"
ap_eval=$(grep -m1 "Average Precision  (AP) @\[ IoU=0.50:0.95" "$TEST_TMPDIR/eval.txt")
ap_test=$(grep -m1 "Average Precision  (AP) @\[ IoU=0.50:0.95" "$TEST_TMPDIR/test.txt")
ap=$(echo "$ap_eval" | awk '{print $NF}')
python3 -c "import sys; sys.exit(0 if float('${ap:-0}') > 0.05 else 1)" || fail "test AP $ap is not above 0.05"
[ -n "$ap_eval" ] && [ "$ap_eval" = "$ap_test" ] && echo "ok: predict + evaluate_map = train test: $ap_eval" || \
  fail "evaluate_map '$ap_eval' vs train test '$ap_test'"
"$train" predict --checkpoint "$ckpt" --images "$data/images" --out "$TEST_TMPDIR/pred_dir.json" 2>/dev/null || fail "predict --images"
[ $failures -eq 0 ]
