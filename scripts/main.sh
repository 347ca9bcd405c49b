#!/usr/bin/env bash
# The main cvtools job: installs what is missing, builds every tool
# (optimized), then runs the whole pipeline (workflows/pipeline.sh) on the
# bundled generated shapes data: coco_prep -> train fit (volume_sync
# --follow beside it) -> train test/predict -> evaluate_map -> mlflow_push
# into MLflow's file store. Outputs under out/pipeline/<run>/; open the
# MLflow runs with
#   MLFLOW_ALLOW_FILE_STORE=true mlflow ui --backend-store-uri file://$PWD/out/pipeline/mlruns
# Arguments are passed to the pipeline (see workflows/pipeline.sh --help),
# e.g. --images DIR --annotations FILE for another COCO dataset, or
# --tracking_uri http://host:5000.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
bazel build -c opt //tools/... //libs/data:write_synthetic_coco
for tool in coco_prep train evaluate_map mlflow_push volume_sync tune; do
  echo "== $("bazel-bin/tools/$tool/$tool" --version)"
done
exec workflows/pipeline.sh --out "${CVT_OUT:-out}/pipeline" "$@"
