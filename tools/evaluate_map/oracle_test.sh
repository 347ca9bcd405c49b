#!/usr/bin/env bash
# Runs oracle_test.py (pycocotools 2.0.11 as the oracle) against the
# evaluate_map binary. The interpreter comes from $CVT_PYTHON (scripts/test.sh
# sets it to the Python that scripts/setup.sh installed pycocotools into).
set -u
cd "${TEST_SRCDIR}/cvtools"
python="${CVT_PYTHON:-python3}"
if ! "$python" -c "import pycocotools, numpy" 2>/dev/null; then
  echo "FAIL: $python cannot import pycocotools and numpy; run scripts/setup.sh and pass"
  echo "      --test_env=CVT_PYTHON=/path/to/python3 (scripts/test.sh does both)"
  exit 1
fi
"$python" -c "import numpy, pycocotools; print('oracle: numpy', numpy.__version__)"
exec "$python" tools/evaluate_map/oracle_test.py --binary tools/evaluate_map/evaluate_map \
  --pairs "${ORACLE_PAIRS:-200}"
