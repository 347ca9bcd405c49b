#!/usr/bin/env bash
# DETR's sine position encoding equals a Python torch reference on padded
# masks. Needs Debian's python3-torch (scripts/setup.sh installs it).
set -u
cd "${TEST_SRCDIR}/${TEST_WORKSPACE:-cvtools}" || exit 1
if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
  echo "FAIL: /usr/bin/python3 cannot import torch; run scripts/setup.sh"
  exit 1
fi
/usr/bin/python3 libs/models/position_encoding_gen.py --out "$TEST_TMPDIR/pos.pth" || exit 1
exec libs/models/position_encoding_compare_main "$TEST_TMPDIR/pos.pth"
