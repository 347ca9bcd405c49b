# Sourced by the bench scripts: sets $prep to a coco_prep'd copy of BCCD
# under $work (made once), from $bccd with the binaries in $bin.
# shellcheck shell=bash
prep="$work/bccd"
if [ ! -e "$prep/categories.json" ]; then
  rm -rf "$prep"
  "$bin/tools/coco_prep/coco_prep" --images="$bccd/BCCD/JPEGImages" --out="$prep" \
    --annotations="train=$bccd/coco/instances_train.json,val=$bccd/coco/instances_val.json,test=$bccd/coco/instances_test.json" \
    >/dev/null
fi
