#!/usr/bin/env bash
# Data-parallel `train fit` over real c10d processes (TCPStore + Gloo on
# 127.0.0.1), on generated 64x64 shapes with a tiny DETR (frozen batch norm,
# no dropout, so one process and two ranks train the same function):
#   - 2 ranks x batch 2 (--nproc_per_node 2) end with weights within 1e-6 of
#     1 process x batch 4 with the same seed, with the same validation mAP;
#     only rank 0 wrote the run directory;
#   - the same for YOLO nano (letterboxed 64 px) at its first step, with
#     its batch norm synced over the ranks (model.yolo.sync_batch_norm) and
#     its target-score normaliser summed over them; per-rank batch norm
#     (the default) differs;
#   - a 2-rank run stopped after 3 steps (KILLED) and resumed with --resume
#     last on 2 ranks ends bit-identical to the uninterrupted 2-rank run;
#     resuming it on 1 process is refused (exit 2);
#   - SIGTERM to the --nproc_per_node launcher reaches both ranks, which
#     stop at the same step: exit 1, run KILLED, last.ckpt written;
#   - a diverging 2-rank run (lr 1e12) exits 3 (the non-finite loss code)
#     and its run ends FAILED;
#   - killing one rank (SIGKILL) of a hand-started 2-rank job (torchrun's
#     variables) makes the other exit non-zero within the timeout, naming
#     the failed collective, and its run ends FAILED;
#   - real torchrun (Debian's python3-torch torch.distributed.run
#     --standalone, through testing/torchrun.py, which fixes its Python 3.11
#     argument-parsing bug) starting workflows/databricks/train_ddp.py, the wrapper
#     Databricks' TorchDistributor runs, trains the same weights as
#     --nproc_per_node 2;
#   - bad torchrun variables exit 2 naming the variable.
set -u
cd "${TEST_SRCDIR}/${TEST_WORKSPACE:-cvtools}" || exit 1
train=tools/train/train
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
data="$TEST_TMPDIR/shapes"
libs/data/write_synthetic_coco --out "$data" --train 16 --val 8 --test 4 \
  --min_size 64 --max_size 64 >/dev/null || exit 1
tiny=(--config configs/detr_small_bccd.textproto --data "$data" --threads 1
  --set trainer.max_epochs=2 --set trainer.log_every_n_steps=1
  --set 'augmentation.train_min_sizes=[64]' --set augmentation.eval_min_size=64
  --set augmentation.max_size=64 --set augmentation.random_crop.probability=0
  --set model.detr.hidden_dim=32 --set model.detr.num_heads=2
  --set model.detr.encoder_layers=1 --set model.detr.decoder_layers=1
  --set model.detr.feedforward_dim=64 --set model.detr.num_queries=10
  --set model.detr.dropout=0 --set data.num_workers=1
  --set checkpoint.filename='e{epoch}')

max_diff() {  # dir_a dir_b -> prints the largest |a - b| over the weights
  /usr/bin/python3 - "$1/checkpoints/last.ckpt" "$2/checkpoints/last.ckpt" <<'PY'
import sys, torch
a, b = torch.load(sys.argv[1]), torch.load(sys.argv[2])
assert a["global_step"] == b["global_step"], (a["global_step"], b["global_step"])
assert a["state_dict"].keys() == b["state_dict"].keys()
print(max((a["state_dict"][k].double() - b["state_dict"][k].double()).abs().max().item()
          for k in a["state_dict"]))
PY
}
metric() {  # dir name -> last value
  /usr/bin/python3 -c '
import json, sys
v = [json.loads(l)["value"] for l in open(sys.argv[1]) if json.loads(l)["name"] == sys.argv[2]]
print(v[-1] if v else "nan")' "$1/metrics.jsonl" "$2"
}
count() {  # dir name -> number of points
  /usr/bin/python3 -c '
import json, sys
print(sum(json.loads(l)["name"] == sys.argv[2] for l in open(sys.argv[1])))' "$1/metrics.jsonl" "$2"
}

# --- 1 process x batch 4 vs 2 ranks x batch 2 ---------------------------------
"$train" fit "${tiny[@]}" --set data.batch_size=4 --run_dir "$TEST_TMPDIR/one" \
  2>"$TEST_TMPDIR/one.log" || { tail "$TEST_TMPDIR/one.log"; fail "1-process fit"; }
"$train" fit "${tiny[@]}" --set data.batch_size=2 --nproc_per_node 2 \
  --run_dir "$TEST_TMPDIR/two" 2>"$TEST_TMPDIR/two.log" ||
  { tail -20 "$TEST_TMPDIR/two.log"; fail "2-rank fit"; }
grep -q "rank 1 of 2" "$TEST_TMPDIR/two.log" || fail "rank 1 did not join"
grep -q '"status": "FINISHED"' "$TEST_TMPDIR/two/run.json" || fail "2-rank run not FINISHED"
grep -q '"trainer.world_size": "2"' "$TEST_TMPDIR/two/run.json" || fail "run.json lacks world_size 2"
grep -q '"trainer.effective_batch_size": "4"' "$TEST_TMPDIR/two/run.json" || fail "effective batch not 4"
diff=$(max_diff "$TEST_TMPDIR/one" "$TEST_TMPDIR/two") || fail "compare 1 vs 2"
echo "max |w(1 x 4) - w(2 x 2)| = $diff"
/usr/bin/python3 -c "import sys; sys.exit(0 if float('$diff') <= 1e-6 else 1)" ||
  fail "2 ranks differ from 1 process by $diff (> 1e-6)"
steps_one=$(count "$TEST_TMPDIR/one" train/loss)
steps_two=$(count "$TEST_TMPDIR/two" train/loss)
[ "$steps_one" = 8 ] && [ "$steps_two" = 8 ] || fail "steps logged: $steps_one vs $steps_two (want 8)"
map_one=$(metric "$TEST_TMPDIR/one" val/map)
map_two=$(metric "$TEST_TMPDIR/two" val/map)
echo "val/map: 1 process $map_one, 2 ranks $map_two"
/usr/bin/python3 -c "import sys; sys.exit(0 if abs($map_one - $map_two) <= 1e-6 else 1)" ||
  fail "val/map differs: $map_one vs $map_two"
loss_one=$(metric "$TEST_TMPDIR/one" train/loss_epoch)
loss_two=$(metric "$TEST_TMPDIR/two" train/loss_epoch)
/usr/bin/python3 -c "import sys; sys.exit(0 if abs($loss_one - $loss_two) <= 1e-4 * abs($loss_one) else 1)" ||
  fail "train/loss_epoch differs: $loss_one vs $loss_two"
# (val/loss is not compared: DETR's loss is normalised per batch, so its
# value depends on the batch size even in one process.)
# The gathered val predictions: every val image once, the same detections as
# one process (within float noise).
/usr/bin/python3 - "$TEST_TMPDIR/one/predictions/val.json" "$TEST_TMPDIR/two/predictions/val.json" <<'PY' || fail "gathered val predictions differ"
import json, sys
def load(p):
    return sorted((d["image_id"], d["category_id"], d["score"], d["bbox"]) for d in json.load(open(p)))
a, b = load(sys.argv[1]), load(sys.argv[2])
assert len({x[0] for x in b}) == 8, "not every val image"
assert len(a) == len(b), (len(a), len(b))
for x, y in zip(a, b):
    assert x[:2] == y[:2] and abs(x[2] - y[2]) < 1e-4, (x, y)
    assert max(abs(p - q) for p, q in zip(x[3], y[3])) < 1e-3, (x, y)
PY
# The val predictions hold every val image once (gathered from both ranks).
/usr/bin/python3 - "$TEST_TMPDIR/two/predictions/val.json" <<'PY' || fail "gathered val predictions"
import json, sys
ids = sorted({d["image_id"] for d in json.load(open(sys.argv[1]))})
assert len(ids) == 8, ids
PY

# --- YOLO: synced batch norm ------------------------------------------------------
# YOLO is compared at the first step (loss and the all-reduced gradient's
# norm), not by weights after several steps: on 64 px inputs its Adam steps
# amplify float rounding (one process with two valid batch-norm kernels
# already ends 0.2 apart after 8 steps), so later weights say nothing about
# DDP. The first step does: per-rank batch norm misses by 40%.
yolo=(--config configs/yolo_nano_shapes.textproto --data "$data" --threads 1
  --set trainer.max_epochs=1 --set trainer.log_every_n_steps=1
  --set augmentation.letterbox_size=64 --set data.num_workers=1
  --set checkpoint.filename='e{epoch}')
first() {  # dir name -> value at step 0
  /usr/bin/python3 -c '
import json, sys
print([json.loads(l)["value"] for l in open(sys.argv[1])
       if json.loads(l)["name"] == sys.argv[2] and json.loads(l)["step"] == 0][0])' "$1/metrics.jsonl" "$2"
}
close() {  # a b rtol
  /usr/bin/python3 -c "import sys; sys.exit(0 if abs($1 - $2) <= $3 * abs($1) else 1)"
}
"$train" fit "${yolo[@]}" --set data.batch_size=4 --run_dir "$TEST_TMPDIR/yolo_one" \
  2>"$TEST_TMPDIR/yolo_one.log" || { tail "$TEST_TMPDIR/yolo_one.log"; fail "YOLO 1-process fit"; }
"$train" fit "${yolo[@]}" --set data.batch_size=2 --nproc_per_node 2 \
  --set model.yolo.sync_batch_norm=true \
  --run_dir "$TEST_TMPDIR/yolo_two" 2>"$TEST_TMPDIR/yolo_two.log" ||
  { tail -20 "$TEST_TMPDIR/yolo_two.log"; fail "YOLO 2-rank fit"; }
"$train" fit "${yolo[@]}" --set data.batch_size=2 --nproc_per_node 2 \
  --run_dir "$TEST_TMPDIR/yolo_local_bn" \
  2>"$TEST_TMPDIR/yolo_local_bn.log" || fail "YOLO 2-rank fit, per-rank batch norm"
for name in train/loss grad_norm; do
  one=$(first "$TEST_TMPDIR/yolo_one" $name)
  two=$(first "$TEST_TMPDIR/yolo_two" $name)
  loc=$(first "$TEST_TMPDIR/yolo_local_bn" $name)
  echo "YOLO step 0 $name: 1 x 4 $one, 2 x 2 synced $two, 2 x 2 per-rank batch norm $loc"
  close "$one" "$two" 1e-4 || fail "YOLO $name: 2 synced ranks $two vs 1 process $one"
  close "$one" "$loc" 1e-2 && fail "YOLO $name: per-rank batch norm matched ($loc)"
done

# --- resume on 2 ranks --------------------------------------------------------
"$train" fit "${tiny[@]}" --set data.batch_size=2 --nproc_per_node 2 --stop_after_steps 3 \
  --run_dir "$TEST_TMPDIR/resumed" 2>"$TEST_TMPDIR/stop.log"
code=$?
[ "$code" = 1 ] || { tail "$TEST_TMPDIR/stop.log"; fail "stopped 2-rank run exited $code, want 1"; }
grep -q '"status": "KILLED"' "$TEST_TMPDIR/resumed/run.json" || fail "stopped run not KILLED"
"$train" fit "${tiny[@]}" --set data.batch_size=2 --resume last \
  --run_dir "$TEST_TMPDIR/resumed" 2>"$TEST_TMPDIR/wrong_world.log"
code=$?
[ "$code" = 2 ] || fail "resume on another world size exited $code, want 2"
grep -q "same world size" "$TEST_TMPDIR/wrong_world.log" || fail "world-size message"
"$train" fit "${tiny[@]}" --set data.batch_size=2 --nproc_per_node 2 --resume last \
  --run_dir "$TEST_TMPDIR/resumed" 2>"$TEST_TMPDIR/resume.log" ||
  { tail "$TEST_TMPDIR/resume.log"; fail "2-rank resume"; }
diff=$(max_diff "$TEST_TMPDIR/two" "$TEST_TMPDIR/resumed") || fail "compare resumed"
echo "max |w(2 ranks) - w(2 ranks, stopped and resumed)| = $diff"
[ "$diff" = "0.0" ] || fail "resumed 2-rank run differs by $diff"

# --- SIGTERM to the launcher; divergence -------------------------------------------
"$train" fit "${tiny[@]}" --set data.batch_size=2 --set trainer.max_epochs=1000 \
  --nproc_per_node 2 --run_dir "$TEST_TMPDIR/term" 2>"$TEST_TMPDIR/term.log" &
launcher=$!
for _ in $(seq 1 600); do
  grep -q '"train/loss"' "$TEST_TMPDIR/term/metrics.jsonl" 2>/dev/null && break
  sleep 0.1
done
kill -TERM "$launcher"
wait "$launcher"
code=$?
[ "$code" = 1 ] || { tail "$TEST_TMPDIR/term.log"; fail "SIGTERM to the launcher: exit $code, want 1"; }
grep -q '"status": "KILLED"' "$TEST_TMPDIR/term/run.json" || fail "SIGTERM: run not KILLED"
[ -s "$TEST_TMPDIR/term/checkpoints/last.ckpt" ] || fail "SIGTERM: no last.ckpt"
"$train" fit "${tiny[@]}" --set data.batch_size=2 --set optimizer.lr=1e12 \
  --set optimizer.gradient_clip_norm=0 --nproc_per_node 2 --run_dir "$TEST_TMPDIR/nan" \
  2>"$TEST_TMPDIR/nan.log"
code=$?
[ "$code" = 3 ] || { tail "$TEST_TMPDIR/nan.log"; fail "diverging 2-rank run exited $code, want 3"; }
grep -q '"status": "FAILED"' "$TEST_TMPDIR/nan/run.json" || fail "diverging run not FAILED"

# --- a dying rank -------------------------------------------------------------
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
long=("${tiny[@]}" --set data.batch_size=2 --set trainer.max_epochs=1000 --dist_timeout_s 120
  --run_dir "$TEST_TMPDIR/dying")
for r in 0 1; do
  WORLD_SIZE=2 RANK=$r LOCAL_RANK=$r MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
    "$train" fit "${long[@]}" 2>"$TEST_TMPDIR/dying$r.log" &
  eval "pid$r=$!"
done
for _ in $(seq 1 600); do
  grep -q '"train/loss"' "$TEST_TMPDIR/dying/metrics.jsonl" 2>/dev/null && break
  sleep 0.1
done
kill -KILL "$pid1"
start=$(date +%s)
wait "$pid0"
code=$?
took=$(( $(date +%s) - start ))
echo "rank 0 exited $code ${took}s after rank 1 was killed"
[ "$code" != 0 ] || fail "rank 0 exited 0 after its peer died"
[ "$took" -lt 120 ] || fail "rank 0 took ${took}s (timeout 120 s)"
grep -q "distributed .* failed on rank 0 of 2" "$TEST_TMPDIR/dying0.log" ||
  { tail -5 "$TEST_TMPDIR/dying0.log"; fail "rank 0 did not name the failed collective"; }
grep -q '"status": "FAILED"' "$TEST_TMPDIR/dying/run.json" || fail "dying run not FAILED"

# --- torchrun + the Databricks wrapper ----------------------------------------
CVTOOLS_TRAIN="$PWD/$train" OMP_NUM_THREADS=1 /usr/bin/python3 tools/train/testing/torchrun.py \
  --standalone --nproc_per_node 2 workflows/databricks/train_ddp.py \
  "${tiny[@]}" --set data.batch_size=2 --run_dir "$TEST_TMPDIR/torchrun" \
  >"$TEST_TMPDIR/torchrun.log" 2>&1 || { tail -20 "$TEST_TMPDIR/torchrun.log"; fail "torchrun fit"; }
diff=$(max_diff "$TEST_TMPDIR/two" "$TEST_TMPDIR/torchrun") || fail "compare torchrun"
echo "max |w(--nproc_per_node 2) - w(torchrun 2)| = $diff"
[ "$diff" = "0.0" ] || fail "torchrun run differs by $diff"

# --- bad torchrun variables ---------------------------------------------------
WORLD_SIZE=2 RANK=5 MASTER_ADDR=127.0.0.1 MASTER_PORT=1 \
  "$train" fit "${tiny[@]}" --run_dir "$TEST_TMPDIR/bad" 2>"$TEST_TMPDIR/bad.log"
code=$?
[ "$code" = 2 ] || fail "RANK=5 of 2 exited $code, want 2"
grep -q "RANK=5 is outside" "$TEST_TMPDIR/bad.log" || fail "bad RANK message"
[ ! -e "$TEST_TMPDIR/bad" ] || fail "a bad environment wrote the run directory"

[ "$failures" = 0 ] && echo "PASS" || { echo "$failures failure(s)"; exit 1; }
