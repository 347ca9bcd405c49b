#!/usr/bin/env bash
# Modules exported by Python torch (torch.jit.script and torch.jit.trace)
# train in C++ through their adapters. Needs Debian's python3-torch
# (scripts/setup.sh installs it).
set -u
cd "${TEST_SRCDIR}/${TEST_WORKSPACE:-cvtools}" || exit 1
if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
  echo "FAIL: /usr/bin/python3 cannot import torch; run scripts/setup.sh"
  exit 1
fi
/usr/bin/python3 libs/adapters/torchscript_gen.py --out "$TEST_TMPDIR/ts" || exit 1
libs/adapters/torchscript_train_main "$TEST_TMPDIR/ts"
