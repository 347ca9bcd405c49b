#!/usr/bin/env bash
# A stand-in for `train fit` in tune_test: it keeps train's run-directory
# contract (run.json, metrics.jsonl by whole lines, checkpoints/last.ckpt,
# SIGTERM -> KILLED and exit 1, --resume last cuts metrics.jsonl back to the
# checkpoint) without training anything.
#
# The config's tracking.run_name says what to report as "val/map" each epoch:
#   v<X>     the constant X
#   fail<E>  X = 1 until epoch E (1-based), then "train: error: ..." and exit 3
# Each start appends a line to <run_dir>/launches.txt.
set -u
[ "${1:-}" = fit ] || { echo "train: error: fake_train only fits" >&2; exit 2; }
shift
resume=""
while [ $# -gt 0 ]; do
  case "$1" in
    --config) config=$2; shift 2 ;;
    --run_dir) run_dir=$2; shift 2 ;;
    --resume) resume=$2; shift 2 ;;
    --data|--threads) shift 2 ;;
    *) echo "train: error: unknown flag $1" >&2; exit 2 ;;
  esac
done
name=$(sed -n 's/^ *run_name: "\(.*\)"$/\1/p' "$config")
max_epochs=$(sed -n 's/^ *max_epochs: \([0-9]*\)$/\1/p' "$config")
mkdir -p "$run_dir/checkpoints"
echo "$resume" >>"$run_dir/launches.txt"
metrics="$run_dir/metrics.jsonl"
now_ms() { date +%s%3N; }
run_json() {  # status
  printf '{"version": 1, "status": "%s", "start_time_ms": %s, "pid": %s}\n' \
    "$1" "$start_ms" $$ >"$run_dir/.run.json.tmp" && mv "$run_dir/.run.json.tmp" "$run_dir/run.json"
}
start_ms=$(now_ms)
start=0
if [ "$resume" = last ]; then
  start=$(cat "$run_dir/checkpoints/last.ckpt") || exit 2
  echo "train: resumed at epoch $start"
  # Like train: metrics.jsonl goes back to what the checkpoint had seen.
  touch "$metrics"
  awk -v s="$start" 'match($0, /"epoch":[0-9]+/) {
      if (substr($0, RSTART + 8, RLENGTH - 8) + 0 < s) print; next } { print }' \
    "$metrics" >"$metrics.tmp" && mv "$metrics.tmp" "$metrics"
fi
term=0
trap 'term=1' TERM
run_json RUNNING
for ((e = start; e < max_epochs; e++)); do
  sleep 0.05
  case "$name" in
    v*) value=${name#v} ;;
    fail*)
      if [ $((e + 1)) -ge "${name#fail}" ]; then
        echo "train: error: fake failure at epoch $((e + 1))" >&2
        run_json FAILED
        exit 3
      fi
      value=1 ;;
    *) echo "train: error: run_name '$name'" >&2; exit 2 ;;
  esac
  printf '{"name":"val/map","value":%s,"step":%d,"epoch":%d,"timestamp_ms":%s}\n' \
    "$value" "$e" "$e" "$(now_ms)" >>"$metrics"
  echo $((e + 1)) >"$run_dir/checkpoints/.last.tmp" && mv "$run_dir/checkpoints/.last.tmp" "$run_dir/checkpoints/last.ckpt"
  if [ $term = 1 ]; then
    echo "train: error: stopped by SIGTERM" >&2
    run_json KILLED
    exit 1
  fi
done
run_json FINISHED
