#!/usr/bin/env bash
# Runs every cvtools test from a fresh clone: installs what is missing, checks
# formatting, then `bazel test //...` (offline; compiled objects come from the
# disk cache in ~/.cache/cvtools when this machine has built cvtools before).
# Prints a summary line "N passed, N failed" over all test cases.
set -uo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh || exit 1

echo "== formatting (clang-format, Google style)"
if ! scripts/check_format.sh; then
  echo "0 passed, 1 failed"
  exit 1
fi

# The venv that setup.sh installed pycocotools into, by its absolute path
# (Bazel gives tests their own HOME).
CVT_PYTHON="${CVT_VENV:-$HOME/.cache/cvtools/venv}/bin/python"
export CVT_PYTHON
CVT_MLFLOW_PYTHON="${CVT_MLFLOW_VENV:-$HOME/.cache/cvtools/mlflow-venv}/bin/python"
export CVT_MLFLOW_PYTHON

stamp=$(mktemp)
trap 'rm -f "$stamp"' EXIT
echo "== bazel test //..."
bazel test --nocache_test_results //... "$@"
status=$?

/usr/bin/python3 scripts/test_summary.py bazel-testlogs --since "$stamp" || true
exit "$status"
