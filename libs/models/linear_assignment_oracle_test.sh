#!/usr/bin/env bash
# Runs linear_assignment_oracle_test.py (scipy as the oracle) with $CVT_PYTHON,
# the venv scripts/setup.sh installs scipy into.
set -u
cd "${TEST_SRCDIR}/${TEST_WORKSPACE:-cvtools}" || exit 1
python="${CVT_PYTHON:-python3}"
if ! "$python" -c "import scipy, numpy" 2>/dev/null; then
  echo "FAIL: $python cannot import scipy and numpy; run scripts/setup.sh and pass"
  echo "      --test_env=CVT_PYTHON=/path/to/python3 (scripts/test.sh does both)"
  exit 1
fi
exec "$python" libs/models/linear_assignment_oracle_test.py \
  --binary libs/models/linear_assignment_oracle_main
