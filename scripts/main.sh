#!/usr/bin/env bash
# The main cvtools job. Until the end-to-end pipeline lands, it builds every
# tool (optimized) and shows each one's --help.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
bazel build -c opt //tools/...
for tool in coco_prep train evaluate_map mlflow_push volume_sync tune; do
  echo
  echo "== $tool"
  "bazel-bin/tools/$tool/$tool" --version
  "bazel-bin/tools/$tool/$tool" --help
done
