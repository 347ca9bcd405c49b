#!/usr/bin/env bash
# Runs every tool binary and checks the command-line contract users script
# against: --help and --version exit 0 on stdout, bad usage exits 2 with a
# message naming the problem on stderr, a capability not built yet exits 1.
set -u
cd "${TEST_SRCDIR}/cvtools"
failures=0
out="${TEST_TMPDIR}/stdout"
err="${TEST_TMPDIR}/stderr"

# expect CODE PATTERN STREAM -- COMMAND...: runs COMMAND, checks the exit code
# and that STREAM (stdout|stderr) matches the extended regex PATTERN.
expect() {
  local code="$1" pattern="$2" stream="$3"
  shift 4
  "$@" >"$out" 2>"$err"
  local got=$?
  local file="$out"
  [ "$stream" = stderr ] && file="$err"
  if [ "$got" -ne "$code" ]; then
    echo "FAIL: '$*' exited $got, expected $code"; cat "$err"; failures=$((failures + 1))
  elif ! grep -Eq -- "$pattern" "$file"; then
    echo "FAIL: '$*' $stream does not match /$pattern/:"; cat "$file"; failures=$((failures + 1))
  else
    echo "ok: $* -> $code"
  fi
}

for tool in coco_prep train evaluate_map mlflow_push volume_sync tune; do
  bin="tools/$tool/$tool"
  expect 0 "Usage: $tool" stdout -- "$bin" --help
  expect 0 "^$tool \\(cvtools [0-9]+\\.[0-9]+\\.[0-9]+\\)" stdout -- "$bin" --version
  expect 2 "$tool: error: unknown flag --no_such_flag" stderr -- "$bin" --no_such_flag=1
  expect 2 "$tool: error: .*is required|$tool: error: missing subcommand" stderr -- "$bin"
done

# --help lists each tool's own flags.
expect 0 "--annotations" stdout -- tools/coco_prep/coco_prep --help
expect 0 "--max_dets" stdout -- tools/evaluate_map/evaluate_map --help
expect 0 "--tracking_uri" stdout -- tools/mlflow_push/mlflow_push --help
expect 0 "--include" stdout -- tools/volume_sync/volume_sync --help

# Malformed values are bad usage too.
expect 2 "bad value 'x' for --threads" stderr -- tools/evaluate_map/evaluate_map --threads=x
expect 2 "--max_dets needs positive integers" stderr -- \
  tools/evaluate_map/evaluate_map --gt=a --dt=b --max_dets=1,ten
expect 2 "--on_error must be 'skip' or 'fail'" stderr -- \
  tools/coco_prep/coco_prep --images=i --annotations=a.json --out=o --on_error=ignore
expect 2 "--tracking_uri must be" stderr -- \
  tools/mlflow_push/mlflow_push --run_dir=r --tracking_uri=ftp://x
expect 2 "--verify must be" stderr -- tools/volume_sync/volume_sync --src=a --dst=b --verify=md5
expect 2 "--mode must be" stderr -- \
  tools/tune/tune --config=c --search_space=s --data=d --out=o --mode=best

# train: subcommands and real config validation.
cfg=configs/yolo_small_bccd.textproto
expect 2 "unknown subcommand 'fitt'" stderr -- tools/train/train fitt
expect 2 "train: error: cannot open .*missing.textproto" stderr -- \
  tools/train/train fit --config=missing.textproto --data=d --run_dir=r
expect 2 "trainer.max_epoch: cvt.TrainerConfig has no field named 'max_epoch'" stderr -- \
  tools/train/train fit --config=$cfg --data=d --run_dir=r --set=trainer.max_epoch=3
expect 2 "optimizer.lr: must be > 0" stderr -- \
  tools/train/train fit --config=$cfg --data=d --run_dir=r --set=optimizer.lr=0
expect 2 "--checkpoint is required" stderr -- tools/train/train test --data=d
expect 2 "--nproc_per_node applies to train fit only" stderr -- \
  tools/train/train test --checkpoint=c --data=d --nproc_per_node=2
expect 2 "--nproc_per_node must be at least 1" stderr -- \
  tools/train/train fit --config=c --data=d --run_dir=r --nproc_per_node=-1
expect 2 "WORLD_SIZE=.two. is not an integer" stderr -- \
  env WORLD_SIZE=two tools/train/train fit --config=$cfg --data=d --run_dir=r

# A missing data folder: exit 2 naming the file, nothing written.
expect 2 "categories.json" stderr -- \
  tools/train/train fit --config=$cfg --data="$TEST_TMPDIR/nodata" --run_dir="$TEST_TMPDIR/run"
[ -e "$TEST_TMPDIR/run" ] && { echo "FAIL: train wrote $TEST_TMPDIR/run"; failures=$((failures + 1)); }

# evaluate_map: exit codes on real files, results from stdin.
gt="$TEST_TMPDIR/gt.json"
cat >"$gt" <<'JSON'
{"images": [{"id": 1, "file_name": "a.jpg"}], "categories": [{"id": 1, "name": "cat"}],
 "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10],
                  "area": 100, "iscrowd": 0}]}
JSON
echo '[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.5}]' >"$TEST_TMPDIR/dt.json"
echo '[{"image_id": 3, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.5}]' >"$TEST_TMPDIR/bad.json"
expect 0 "Average Precision  \(AP\) @\[ IoU=0.50:0.95 \| area=   all \| maxDets=100 \] = 1.000" stdout -- \
  tools/evaluate_map/evaluate_map --gt="$gt" --dt="$TEST_TMPDIR/dt.json"
expect 0 "maxDets=100 \] = 1.000" stdout -- \
  bash -c "tools/evaluate_map/evaluate_map --gt='$gt' --dt=- <'$TEST_TMPDIR/dt.json'"
expect 2 "evaluate_map: error: .*bad.json: results\[0\] names image_id 3" stderr -- \
  tools/evaluate_map/evaluate_map --gt="$gt" --dt="$TEST_TMPDIR/bad.json"
expect 2 "evaluate_map: error: cannot open .*missing.json" stderr -- \
  tools/evaluate_map/evaluate_map --gt="$TEST_TMPDIR/missing.json" --dt="$TEST_TMPDIR/dt.json"

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all checks passed"
