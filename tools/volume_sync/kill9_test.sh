#!/usr/bin/env bash
# sh_test wrapper for kill9_test.py: SIGKILLs volume_sync at random moments
# and checks that the destination and its manifest are never inconsistent and
# that the next run repairs everything (see the .py's docstring).
# Runs from the runfiles root of the workspace; scratch goes to $TEST_TMPDIR.
# The interpreter is ${CVT_PYTHON:-/usr/bin/python3} (standard library only).
# KILL9_TRIALS and KILL9_SEED override the trial count and the seed.
set -u
cd "${TEST_SRCDIR}/${TEST_WORKSPACE:-cvtools}" || exit 1
python="${CVT_PYTHON:-/usr/bin/python3}"
exec "$python" tools/volume_sync/kill9_test.py \
  --binary tools/volume_sync/volume_sync \
  --tmp "${TEST_TMPDIR}/kill9" \
  --trials "${KILL9_TRIALS:-20}" \
  --seed "${KILL9_SEED:-20240607}"
