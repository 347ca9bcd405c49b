#!/usr/bin/env bash
# DETR's matching cost and GIoU equal Python torch/torchvision's on random
# cases, and the matching reaches the exhaustive minimum. Needs Debian's
# python3-torch and python3-torchvision (scripts/setup.sh installs them).
set -u
cd "${TEST_SRCDIR}/${TEST_WORKSPACE:-cvtools}" || exit 1
if ! /usr/bin/python3 -c "import torch, torchvision" 2>/dev/null; then
  echo "FAIL: /usr/bin/python3 cannot import torch and torchvision; run scripts/setup.sh"
  exit 1
fi
/usr/bin/python3 libs/models/detr_matcher_gen.py --out "$TEST_TMPDIR/detr_matcher.pth" || exit 1
exec libs/models/detr_matcher_compare_main "$TEST_TMPDIR/detr_matcher.pth"
