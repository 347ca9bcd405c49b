#!/usr/bin/env bash
# tune end to end with the real trainer on generated shapes data (YOLO nano,
# 16 images, 4 epochs, 1 thread per trial, 2 trials at once): a grid over
# optimizer.lr = {2e-3, 1e-12} repeated 3 times (6 trials), ASHA on
# train/loss_epoch (min) with grace 1, rf 2, max_t 4 (rungs 1, 2, 4):
#   - the 1e-12 trials that reach rung 1 after a 2e-3 trial are STOPPED at
#     epoch 1 (their trainers end KILLED with last.ckpt), the 2e-3 trials
#     (identical, so they tie and pass) COMPLETE 4 epochs;
#   - tune is killed with SIGKILL mid-search (its trainers get SIGTERM from
#     the kernel) and --resume finishes it: trials finished before the kill
#     are not run again (same metrics.jsonl, one launch), a trial that was
#     running continues from its last.ckpt;
#   - a fresh search into the used folder and --resume with another --metric
#     exit 2 naming the problem;
#   - results.json is sorted best first, best_config.textproto is a 2e-3
#     trial's config, and push_children.sh pushes the parent and the six
#     trials to an MLflow file store as its children.
set -u
cd "${TEST_SRCDIR}/${TEST_WORKSPACE:-cvtools}" || exit 1
tune=tools/tune/tune
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
data="$TEST_TMPDIR/shapes"
libs/data/write_synthetic_coco --out "$data" --train 16 --val 8 --test 4 >/dev/null || exit 1
space="$TEST_TMPDIR/space.textproto"
cat >"$space" <<'PB'
# proto-file: libs/tune/search_space.proto
# proto-message: cvt.SearchSpace
param { key: "optimizer.lr" grid { values: ["2e-3", "1e-12"] } }
PB
out="$TEST_TMPDIR/search"
args=(--config configs/yolo_nano_shapes.textproto --set data.batch_size=4
      --set lr_schedule.cosine.eta_min=0 --search_space "$space" --data "$data"
      --out "$out" --train_bin tools/train/train --num_trials 3 --max_concurrent 2
      --metric train/loss_epoch --mode min --grace_period 1 --reduction_factor 2
      --max_t 4 --seed 1 --poll_interval_s 0.05)

# Kill tune once two trials are finished and a running one (not being
# stopped) has a checkpoint.
"$tune" "${args[@]}" >/dev/null 2>"$TEST_TMPDIR/tune1.log" &
pid=$!
ready() {
  python3 - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
try:
    state = json.load(open(os.path.join(out, "tune_state.json")))
except Exception:
    sys.exit(1)
done = [t for t in state["trials"] if t["status"] in ("COMPLETED", "STOPPED")]
running = [t for t in state["trials"] if t["status"] == "RUNNING" and
           not t["stop_requested"] and not t["max_t_reached"] and
           os.path.exists(os.path.join(out, "trials", t["id"], "checkpoints", "last.ckpt"))]
sys.exit(0 if len(done) >= 2 and running else 1)
PY
}
for _ in $(seq 1 1200); do ready && break; kill -0 $pid 2>/dev/null || break; sleep 0.1; done
ready || fail "no moment with 2 finished trials and a running one with a checkpoint"
kill -9 $pid
wait $pid 2>/dev/null
echo "killed tune: $(grep -c 'STOPPED after\|COMPLETED after' "$TEST_TMPDIR/tune1.log") trials finished"
python3 - "$out" >"$TEST_TMPDIR/before.txt" <<'PY'
import json, os, sys
out = sys.argv[1]
state = json.load(open(os.path.join(out, "tune_state.json")))
for t in state["trials"]:
    if t["status"] in ("COMPLETED", "STOPPED"):
        st = os.stat(os.path.join(out, "trials", t["id"], "metrics.jsonl"))
        print(t["id"], st.st_mtime_ns, st.st_size)
PY
# The kernel's SIGTERM reaches the orphaned trainers: they save and exit.
for _ in $(seq 1 600); do pgrep -f -- "--run_dir $out/" >/dev/null || break; sleep 0.1; done
pgrep -f -- "--run_dir $out/" >/dev/null && fail "trainers outlived tune by 60 s"

"$tune" "${args[@]}" >/dev/null 2>"$TEST_TMPDIR/fresh.log"; rc=$?
[ $rc -eq 2 ] && grep -q "is not empty: pass --resume" "$TEST_TMPDIR/fresh.log" || \
  fail "fresh search into a used --out: rc $rc: $(tail -1 "$TEST_TMPDIR/fresh.log")"
"$tune" "${args[@]}" --resume --metric val/loss >/dev/null 2>"$TEST_TMPDIR/other.log"; rc=$?
[ $rc -eq 2 ] && grep -q -- "--metric differs" "$TEST_TMPDIR/other.log" || \
  fail "--resume with another --metric: rc $rc: $(tail -1 "$TEST_TMPDIR/other.log")"

"$tune" "${args[@]}" --resume >"$TEST_TMPDIR/summary.txt" 2>"$TEST_TMPDIR/tune2.log" || \
  { cat "$TEST_TMPDIR/tune2.log"; fail "--resume"; }
cat "$TEST_TMPDIR/tune1.log" "$TEST_TMPDIR/tune2.log"

python3 - "$out" "$TEST_TMPDIR/before.txt" <<'PY' || fail "search results"
import json, os, sys
out, before = sys.argv[1], sys.argv[2]
state = json.load(open(os.path.join(out, "tune_state.json")))
results = json.load(open(os.path.join(out, "results.json")))
trials = {t["trial_id"]: t for t in results["trials"]}
problems = []
def run_status(tid):
    return json.load(open(os.path.join(out, "trials", tid, "run.json")))["status"]
assert len(trials) == 6, trials.keys()
for i in range(6):
    tid = "trial_%04d" % i
    t = trials[tid]
    lr = t["params"]["optimizer.lr"]
    if lr == "2e-3":
        if t["status"] != "COMPLETED" or t["last_epoch"] != 4 or run_status(tid) != "FINISHED":
            problems.append("good %s: %s after %d epochs, run %s" % (tid, t["status"], t["last_epoch"], run_status(tid)))
    elif i in (3, 5):
        if t["status"] != "STOPPED" or t["last_epoch"] >= 4 or run_status(tid) != "KILLED":
            problems.append("bad %s: %s after %d epochs, run %s" % (tid, t["status"], t["last_epoch"], run_status(tid)))
        else:
            print("ok: %s (lr %s) STOPPED by ASHA after %d of 4 epochs, run KILLED" % (tid, lr, t["last_epoch"]))
values = [t["best_value"] for t in results["trials"]]
if values != sorted(values):
    problems.append("results.json is not sorted best first: %s" % values)
if trials[results["best_trial"]]["params"]["optimizer.lr"] != "2e-3":
    problems.append("best trial %s" % results["best_trial"])
launches = {t["id"]: t["launches"] for t in state["trials"]}
for line in open(before):
    tid, mtime, size = line.split()
    st = os.stat(os.path.join(out, "trials", tid, "metrics.jsonl"))
    if launches[tid] != 1 or st.st_mtime_ns != int(mtime) or st.st_size != int(size):
        problems.append("%s finished before the kill but was touched (launches %d)" % (tid, launches[tid]))
    else:
        print("ok: %s finished before the kill and was not run again" % tid)
resumed = [tid for tid, n in launches.items() if n == 2 and
           "resumed from" in open(os.path.join(out, "trials", tid, "train.log")).read()]
if not resumed:
    problems.append("no trial resumed from its checkpoint: launches %s" % launches)
else:
    print("ok: %s continued from last.ckpt after the kill" % resumed)
for p in problems:
    print("FAIL:", p)
sys.exit(1 if problems else 0)
PY
grep -q "lr: 0.002" "$out/best_config.textproto" || fail "best_config.textproto is not a 2e-3 trial's"
head -1 "$out/results.csv" | grep -q "^trial_id,bracket,optimizer.lr,status," || fail "results.csv header"

# MLflow children in a file store.
MLFLOW_PUSH=tools/mlflow_push/mlflow_push tools/tune/push_children.sh "$out" \
  --tracking_uri "file:$TEST_TMPDIR/mlruns" >"$TEST_TMPDIR/push.json" 2>"$TEST_TMPDIR/push.log" || \
  { cat "$TEST_TMPDIR/push.log"; fail "push_children.sh"; }
parent=$(sed -n 's/.*"parent_run_id": "\(.*\)".*/\1/p' "$TEST_TMPDIR/push.json")
children=$(grep -rlx -- "$parent" "$TEST_TMPDIR/mlruns" --include=mlflow.parentRunId 2>/dev/null | wc -l)
[ -n "$parent" ] && [ "$children" -eq 6 ] && echo "ok: 6 trials pushed as children of $parent" || \
  fail "push_children.sh: parent '$parent', $children children"
[ $failures -eq 0 ]
