#!/usr/bin/env bash
# Runs mlflow_push_test.py against a real MLflow server, with the Python of
# the mlflow venv (scripts/setup.sh makes it; scripts/test.sh passes it as
# CVT_MLFLOW_PYTHON).
set -u
cd "${TEST_SRCDIR}/${TEST_WORKSPACE:-cvtools}" || exit 1
export HOME="${HOME:-$TEST_TMPDIR}"
python="${CVT_MLFLOW_PYTHON:-python3}"
if ! "$python" -c "import mlflow" 2>/dev/null; then
  echo "FAIL: $python cannot import mlflow; run scripts/setup.sh and pass"
  echo "      --test_env=CVT_MLFLOW_PYTHON=/path/to/python (scripts/test.sh does both)"
  exit 1
fi
export MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT=true MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true
exec "$python" tools/mlflow_push/mlflow_push_test.py \
  --binary tools/mlflow_push/mlflow_push --tmp "${TEST_TMPDIR}/mlflow_push"
