#!/usr/bin/env bash
# The assembled DETR loads weights under the reference implementation's names
# and gives the same logits and boxes at every decoder layer as the Python
# torch model (ResNet-18 body with frozen batch norm, padded batch). Needs
# Debian's python3-torch and python3-torchvision.
set -u
cd "${TEST_SRCDIR}/${TEST_WORKSPACE:-cvtools}" || exit 1
if ! /usr/bin/python3 -c "import torch, torchvision" 2>/dev/null; then
  echo "FAIL: /usr/bin/python3 cannot import torch and torchvision; run scripts/setup.sh"
  exit 1
fi
/usr/bin/python3 libs/models/detr_gen.py --out "$TEST_TMPDIR/detr" || exit 1
exec libs/models/detr_compare_main "$TEST_TMPDIR/detr"
