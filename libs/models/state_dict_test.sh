#!/usr/bin/env bash
# ReadTorchSaveDict reads what Python's torch.save writes (OrderedDict and
# dict, every plain dtype, views sharing a storage) and refuses damaged or
# unsupported files, naming them. Needs Debian's python3-torch.
set -u
cd "${TEST_SRCDIR}/${TEST_WORKSPACE:-cvtools}" || exit 1
if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
  echo "FAIL: /usr/bin/python3 cannot import torch; run scripts/setup.sh"
  exit 1
fi
/usr/bin/python3 libs/models/state_dict_gen.py --out "$TEST_TMPDIR/files" || exit 1
STATE_DICT_DIR="$TEST_TMPDIR/files" exec libs/models/state_dict_test_main
