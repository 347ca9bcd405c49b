#!/usr/bin/env bash
# Benchmarks mlflow_push against the Python MLflow client's best path
# (log_batch in chunks of 1000 + log_artifact), in one run, against the same
# local `mlflow server` (sqlite backend, served artifacts): 100,000 metric
# points (10 keys x 10,000 steps), 50 params and 10 checkpoints of 10 MiB.
#
# Usage: bash bench/mlflow_push_bench.sh [--bin PATH] [--repeats N]
#   --bin      mlflow_push binary (default bazel-bin/tools/mlflow_push/mlflow_push;
#              build it with: bazel build -c opt //tools/mlflow_push)
#   --repeats  timed runs of each (default 3; the median is reported)
# Python's time is the one it measures itself (after `import mlflow`, ~2 s,
# which is left out in its favour); mlflow_push's is the whole process.
# Needs scripts/setup.sh's mlflow venv (~/.cache/cvtools/mlflow-venv).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=bazel-bin/tools/mlflow_push/mlflow_push
repeats=3
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin="$2"; shift 2 ;;
    --repeats) repeats="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "mlflow_push_bench: unknown argument $1" >&2; exit 2 ;;
  esac
done
py="${CVT_MLFLOW_PYTHON:-$HOME/.cache/cvtools/mlflow-venv/bin/python}"
[ -x "$bin" ] || { echo "build first: bazel build -c opt //tools/mlflow_push" >&2; exit 2; }
work=$(mktemp -d /tmp/mlflow_push_bench.XXXXXX)
trap 'python3 tools/mlflow_push/testing/mlflow_server.py stop --root "$work/server" >/dev/null; rm -rf "$work"' EXIT
export MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT=true MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true
"$py" bench/gen_mlflow_bench_run.py --out "$work/run" >/dev/null
uri=$(python3 tools/mlflow_push/testing/mlflow_server.py start --root "$work/server" \
  --port_file "$work/port" --python "$py" | tail -1)
echo "server: $uri; data: 100000 metric points, 50 params, 10 x 10 MiB checkpoints"
py_times=()
cpp_times=()
for i in $(seq "$repeats"); do
  # Python: a new run each time.
  t=$("$py" bench/mlflow_push_bench_python.py --tracking_uri "$uri" --data "$work/run" \
        --experiment "py-$i" 2>/dev/null | "$py" -c 'import json,sys; print(json.load(sys.stdin)["seconds"]["total"])')
  py_times+=("$t")
  # mlflow_push: a fresh state file, so a new run each time too.
  rm -f "$work/run/.mlflow_push_state.json"
  start=$(date +%s.%N)
  "$bin" --run_dir "$work/run" --tracking_uri "$uri" --experiment "cpp-$i" >/dev/null 2>&1
  end=$(date +%s.%N)
  cpp_times+=("$(echo "$end - $start" | bc -l)")
  echo "  round $i: python ${py_times[-1]} s, mlflow_push ${cpp_times[-1]} s"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mp=$(median "${py_times[@]}")
mc=$(median "${cpp_times[@]}")
printf 'median of %d: Python client %.2f s, mlflow_push %.2f s: mlflow_push is %.2fx faster\n' \
  "$repeats" "$mp" "$mc" "$(echo "$mp / $mc" | bc -l)"
