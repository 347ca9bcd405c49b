#!/usr/bin/env bash
# Pushes a finished tune search to MLflow with mlflow_push: <out>/parent_run
# becomes the parent run, and every started trial's run directory
# (<out>/trials/<id>/) one of its children (tag mlflow.parentRunId), tagged
# tune.trial=<id>. mlflow_push is idempotent, so running this again updates
# the same runs.
#
# Usage: push_children.sh OUT [mlflow_push flags ...]
#   e.g. push_children.sh out/search --tracking_uri file:./mlruns --experiment shapes
# MLFLOW_PUSH names the mlflow_push binary (default: mlflow_push on PATH).
# Prints {"parent_run_id": "..."} on stdout. Exit codes as mlflow_push's.
set -uo pipefail
if [ $# -lt 1 ] || [ ! -f "$1/parent_run/run.json" ]; then
  echo "push_children.sh: error: usage: push_children.sh OUT [mlflow_push flags]" \
       "(OUT holds a finished tune search: OUT/parent_run/run.json)" >&2
  exit 2
fi
out=$1
shift
push=${MLFLOW_PUSH:-mlflow_push}
summary=$("$push" --run_dir "$out/parent_run" "$@") || exit $?
parent=$(sed -n 's/.*"run_id": *"\([^"]*\)".*/\1/p' <<<"$summary")
if [ -z "$parent" ]; then
  echo "push_children.sh: error: mlflow_push printed no run_id: $summary" >&2
  exit 1
fi
for dir in "$out"/trials/*/; do
  [ -f "$dir/run.json" ] || continue  # Never started.
  id=$(basename "$dir")
  "$push" --run_dir "$dir" --parent_run_id "$parent" --tag "tune.trial=$id" "$@" \
    >/dev/null || exit $?
done
echo "{\"parent_run_id\": \"$parent\"}"
