#!/usr/bin/env bash
# libs/train/adamw.h against Python torch's AdamW and clip_grad_norm_
# (Debian's python3-torch; scripts/setup.sh installs it).
set -u
cd "${TEST_SRCDIR}/${TEST_WORKSPACE:-cvtools}" || exit 1
/usr/bin/python3 libs/train/adamw_gen.py --out "$TEST_TMPDIR/ref" || exit 1
libs/train/adamw_compare_main "$TEST_TMPDIR/ref"
