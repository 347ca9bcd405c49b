#!/usr/bin/env bash
# evaluate_map benchmark: builds the optimized binary, installs the Python
# peers into their own venv (~/.cache/cvtools/bench-venv, numpy pinned like
# the test oracle), generates the seeded val2017-scale set once, and runs
# bench/eval_bench.py, which prints times, ratios and peak memory.
#   scripts/bench_eval.sh [--repeat N] [--skip pycocotools]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
venv="$HOME/.cache/cvtools/bench-venv"
if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv"; fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check numpy==2.3.5 \
  pycocotools==2.0.11 faster-coco-eval==1.8.0 hotcoco==1.3.0 ultrafast-pycocotools==0.1.14
data="${CVT_EVALBENCH_DIR:-/tmp/cvtools-evalbench}"
[ -f "$data/dt.json" ] || python3 bench/gen_coco_eval_set.py "$data"
bazel build -c opt //tools/evaluate_map
python3 bench/eval_bench.py --binary bazel-bin/tools/evaluate_map/evaluate_map \
  --python "$venv/bin/python" --data "$data" "$@"
