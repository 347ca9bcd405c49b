#!/usr/bin/env bash
# DETR's transformer loads weights named as in the reference implementation
# and gives the same decoder outputs as a Python torch re-derivation of it
# (padding mask included). Needs Debian's python3-torch.
set -u
cd "${TEST_SRCDIR}/${TEST_WORKSPACE:-cvtools}" || exit 1
if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
  echo "FAIL: /usr/bin/python3 cannot import torch; run scripts/setup.sh"
  exit 1
fi
/usr/bin/python3 libs/models/detr_transformer_gen.py --out "$TEST_TMPDIR/detr" || exit 1
exec libs/models/detr_transformer_compare_main "$TEST_TMPDIR/detr"
