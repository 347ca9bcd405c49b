#!/usr/bin/env bash
# Benchmarks volume_sync against cp -r (and cp -r + sync, the durable peer)
# for a full copy of 10,000 small files, and against rsync -a for a no-op
# pass over an unchanged tree. Details: bench/volume_sync_bench.py.
#
# Usage: bash bench/volume_sync_bench.sh [--bin PATH] [--files N] [--dir DIR]
#                                        [--repeats N] [-- EXTRA_VOLUME_SYNC_FLAGS]
#   --bin      volume_sync binary (default bazel-bin/tools/volume_sync/volume_sync;
#              build it with: bazel build -c opt //tools/volume_sync)
#   --files    number of source files (default 10000)
#   --dir      scratch folder (default /tmp/volume_sync_bench; the source tree
#              is kept there and reused, the destination is removed)
#   --repeats  timed runs per command after one warm-up (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."

bin=bazel-bin/tools/volume_sync/volume_sync
files=10000
dir=/tmp/volume_sync_bench
repeats=3
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin="$2"; shift 2 ;;
    --files) files="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    --repeats) repeats="$2"; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "volume_sync_bench: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [ ! -x "$bin" ]; then
  echo "volume_sync_bench: no binary at $bin; build it with" >&2
  echo "  bazel build -c opt //tools/volume_sync" >&2
  exit 2
fi
case "$bin" in
  *-fastbuild/*|*-dbg/*) echo "note: $bin looks like a non-optimized build; use -c opt" >&2 ;;
esac
rsync_flag=()
if ! command -v rsync >/dev/null 2>&1; then
  echo "note: rsync not found, skipping the rsync no-op row (apt-get install -y rsync)" >&2
  rsync_flag=(--no-rsync)
fi

exec "${CVT_PYTHON:-python3}" bench/volume_sync_bench.py --bin "$bin" --files "$files" \
  --dir "$dir" --repeats "$repeats" "${rsync_flag[@]}" -- "${extra[@]}"
