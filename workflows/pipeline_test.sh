#!/usr/bin/env bash
# The pipeline end to end on generated data against a real local MLflow
# server (CVT_MLFLOW_PYTHON's mlflow; scripts/setup.sh installs it):
#   - twice: the final evaluate_map JSON shows test mAP50 >= 0.5 and
#     mAP >= 0.3 (a random detector scores ~0; 8 epochs of YOLO nano on the
#     shapes data reach ~0.8 mAP / ~1.0 mAP50 on validation, so the bars
#     leave a wide margin for run-to-run noise while catching a broken
#     model, adapter, resize or category mapping);
#   - the MLflow run is FINISHED and holds exactly the run directory's
#     params, metrics and artifacts (checkpoints included), as MLflow's own
#     Python client reads them (tools/mlflow_push/testing/check_run.py);
#   - the volume folder holds the completed checkpoints, byte-identical;
#   - the second pipeline run makes a second MLflow run, not a merged one;
#   - a training step that fails (a non-finite loss) makes the pipeline exit
#     non-zero naming the train step, and its MLflow run ends FAILED.
set -u
cd "${TEST_SRCDIR}/${TEST_WORKSPACE:-cvtools}" || exit 1
py="${CVT_MLFLOW_PYTHON:-}"
if [ -z "$py" ] || ! "$py" -c "import mlflow" 2>/dev/null; then
  echo "FAIL: CVT_MLFLOW_PYTHON (a venv with mlflow) is required; run scripts/test.sh"
  exit 1
fi
server="$TEST_TMPDIR/server"
mkdir -p "$server"
trap '"$py" tools/mlflow_push/testing/mlflow_server.py stop --root "$server"' EXIT
uri=$("$py" tools/mlflow_push/testing/mlflow_server.py start --root "$server" \
  --port_file "$server/port" --python "$py") || { echo "FAIL: mlflow server"; exit 1; }
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
out="$TEST_TMPDIR/pipeline"
pipeline=(workflows/pipeline.sh --bin . --out "$out" --tracking_uri "$uri" --experiment shapes
          --threads 2)

run_ids=()
for i in 1 2; do
  before=$(ls "$out" 2>/dev/null | grep -c '^run-')
  "${pipeline[@]}" -- --set trainer.max_epochs=8 >"$TEST_TMPDIR/p$i.log" 2>&1; rc=$?
  [ $rc -eq 0 ] || { tail -20 "$TEST_TMPDIR/p$i.log"; fail "pipeline run $i exit $rc"; continue; }
  work="$out/$(ls "$out" | grep '^run-' | sort | tail -1)"
  [ "$(ls "$out" | grep -c '^run-')" -gt "$before" ] || fail "no new run folder"
  python3 - "$work/run/eval/evaluate_map.json" <<'PY' || fail "run $i: mAP below the bar"
import json, sys
s = json.load(open(sys.argv[1]))["stats_by_name"]
print("test mAP %.4f mAP50 %.4f" % (s["AP"], s["AP50"]))
sys.exit(0 if s["AP50"] >= 0.5 and s["AP"] >= 0.3 else 1)
PY
  grep -q '"status":"FINISHED"' "$work/mlflow_push.json" || fail "run $i: push status: $(cat "$work/mlflow_push.json")"
  "$py" tools/mlflow_push/testing/check_run.py --tracking_uri "$uri" --run_dir "$work/run" \
    --experiment shapes >"$TEST_TMPDIR/check$i.log" 2>&1 || { cat "$TEST_TMPDIR/check$i.log"; fail "run $i: MLflow run differs from the run directory"; }
  vol="$out/volume/$(basename "$work")"
  for f in last.ckpt checkpoints.json; do
    cmp -s "$work/run/checkpoints/$f" "$vol/checkpoints/$f" || fail "run $i: volume copy of $f differs or is missing"
  done
  # The volume mirrors the kept checkpoints: evicted top-k files are gone there too.
  [ "$(ls "$work/run/checkpoints" | grep -c '\.ckpt$')" = "$(ls "$vol/checkpoints" | grep -c '\.ckpt$')" ] || \
    fail "run $i: volume holds $(ls "$vol/checkpoints") but the run keeps $(ls "$work/run/checkpoints")"
  run_ids+=("$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['run_id'])" "$work/mlflow_push.json")")
done
[ "${#run_ids[@]}" -eq 2 ] && [ "${run_ids[0]}" != "${run_ids[1]}" ] && \
  echo "ok: two pipeline runs made two MLflow runs (${run_ids[*]})" || fail "runs: ${run_ids[*]}"

# A failing training step.
"${pipeline[@]}" -- --set trainer.max_epochs=2 --set optimizer.lr=1e12 \
  --set optimizer.gradient_clip_norm=0 >"$TEST_TMPDIR/bad.log" 2>&1; rc=$?
work="$out/$(ls "$out" | grep '^run-' | sort | tail -1)"
[ $rc -ne 0 ] && grep -q "step 'train' failed" "$TEST_TMPDIR/bad.log" && \
  echo "ok: a failed training fails the pipeline (exit $rc)" || fail "failing train: rc $rc"
grep -q '"status":"FAILED"' "$work/mlflow_push.json" && echo "ok: its MLflow run is FAILED" || \
  fail "failed run's push: $(cat "$work/mlflow_push.json" 2>/dev/null)"
"$py" tools/mlflow_push/testing/check_run.py --tracking_uri "$uri" --run_dir "$work/run" \
  --experiment shapes >/dev/null 2>&1 || fail "the FAILED run does not match its run directory"
[ $failures -eq 0 ]
