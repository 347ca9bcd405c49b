# Sourced by the BCCD bench scripts after they set $steps (their default):
# parses the shared flags (--steps N, --config FILE, --bccd DIR, --help,
# which prints the script's header comment), then sets $work to
# /tmp/<script name> and $prep to a coco_prep'd copy of BCCD there (made
# once) with the binaries in $bin ($CVT_BIN, default /tmp/optbin/bin).
# shellcheck shell=bash
config=configs/yolo_small_bccd.textproto
bccd=../shared/data/bccd
bin=${CVT_BIN:-/tmp/optbin/bin}
bench_name=$(basename "$0" .sh)
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) steps="$2"; shift 2 ;;
    --config) config="$2"; shift 2 ;;
    --bccd) bccd="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "$bench_name: unknown argument $1" >&2; exit 2 ;;
  esac
done
work=/tmp/$bench_name
mkdir -p "$work"
prep="$work/bccd"
if [ ! -e "$prep/categories.json" ]; then
  rm -rf "$prep"
  "$bin/tools/coco_prep/coco_prep" --images="$bccd/BCCD/JPEGImages" --out="$prep" \
    --annotations="train=$bccd/coco/instances_train.json,val=$bccd/coco/instances_val.json,test=$bccd/coco/instances_test.json" \
    >/dev/null
fi
