#!/bin/bash
# Checks the Databricks stand-in itself against the documented semantics, so
# that tests passing against it mean something.
set -euo pipefail
cd libs/storage/testing
exec "${CVT_PYTHON:-/usr/bin/python3}" fake_databricks_server_selftest.py \
  --big_mib 32
