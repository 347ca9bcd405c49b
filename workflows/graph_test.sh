#!/usr/bin/env bash
# See graph_test.py. Needs a Python with PyYAML: CVT_MLFLOW_PYTHON (mlflow's venv).
set -u
cd "${TEST_SRCDIR}/${TEST_WORKSPACE:-cvtools}" || exit 1
py="${CVT_MLFLOW_PYTHON:-python3}"
exec "$py" workflows/graph_test.py
