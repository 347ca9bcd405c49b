#!/usr/bin/env bash
# DETR's set loss (with an auxiliary layer) and its gradients equal a Python
# torch reference of DETR's SetCriterion on random batches. Needs Debian's
# python3-torch and python3-torchvision (scripts/setup.sh installs them).
set -u
cd "${TEST_SRCDIR}/${TEST_WORKSPACE:-cvtools}" || exit 1
if ! /usr/bin/python3 -c "import torch, torchvision" 2>/dev/null; then
  echo "FAIL: /usr/bin/python3 cannot import torch and torchvision; run scripts/setup.sh"
  exit 1
fi
/usr/bin/python3 libs/models/detr_loss_gen.py --out "$TEST_TMPDIR/detr_loss.pth" || exit 1
exec libs/models/detr_loss_compare_main "$TEST_TMPDIR/detr_loss.pth"
