"""Property test: evaluate_map against pycocotools 2.0.11 as the oracle.

Generates seeded GT/DT pairs that exercise every rule pycocotools has (score
ties within and across images, equal IoUs, crowd regions, empty images,
boxes exactly on the 32^2 / 96^2 area bounds, GT id 0, duplicate GT ids,
more than 100 detections per image and class, categories without GT,
detections of categories unknown to the GT, images with only detections),
runs both evaluators for useCats 1 and 0, and requires every one of the 12
stats to be the same double. Per-class AP, AP50 and AR100 must equal the
means of pycocotools' precision/recall slices.

Usage: python3 oracle_test.py --binary PATH [--pairs N] [--seed S]
"""

import argparse
import contextlib
import io
import json
import os
import random
import subprocess
import sys
import tempfile

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def make_pair(rng: random.Random, index: int):
    num_images = rng.randint(1, 12)
    num_cats = rng.choice([1, 2, 3, 5, 12])
    cat_ids = sorted(rng.sample(range(1, 40), num_cats))
    images = [{"id": i + 1 + 100 * index % 7, "file_name": f"{i}.jpg", "width": 640,
               "height": 480} for i in range(num_images)]
    image_ids = [im["id"] for im in images]
    annotations = []
    next_id = rng.choice([0, 1])  # Sometimes a GT with id 0.
    boxes_by_image = {}
    tie_dets = []
    for image_id in image_ids:
        if rng.random() < 0.15:
            continue  # An image without GT.
        for _ in range(rng.randint(1, 15)):
            cat = rng.choice(cat_ids[: max(1, num_cats - (1 if num_cats > 2 else 0))])
            kind = rng.random()
            if kind < 0.15:  # Exactly on an area bound.
                side = rng.choice([32, 96])
                w, h = float(side), float(side)
                x, y = float(rng.randint(0, 500)), float(rng.randint(0, 380))
            else:
                w = round(rng.uniform(2, 300), rng.choice([0, 1, 2]))
                h = round(rng.uniform(2, 300), rng.choice([0, 1, 2]))
                x = round(rng.uniform(0, 600), 1)
                y = round(rng.uniform(0, 450), 1)
            area = w * h
            if rng.random() < 0.2:
                area = round(area * rng.uniform(0.3, 1.0), 2)  # Segmentation-like.
            if kind < 0.15 and rng.random() < 0.5:
                area = float(rng.choice([1024, 9216]))
            crowd = 1 if rng.random() < 0.06 else 0
            ann = {"id": next_id, "image_id": image_id, "category_id": cat,
                   "bbox": [x, y, w, h], "area": area, "iscrowd": crowd}
            if rng.random() < 0.03 and annotations:
                ann["id"] = rng.choice(annotations)["id"]  # Duplicate id.
            else:
                next_id += 1
            annotations.append(ann)
            boxes_by_image.setdefault(image_id, []).append(ann)
    # Equal-IoU ties: DT1 sits exactly between two GTs (same IoU with both),
    # DT2 overlaps only the first. pycocotools gives DT1 to the later GT, so
    # DT2 can still match the first one; any other tie rule loses a match.
    for image_id in image_ids:
        if rng.random() < 0.35:
            cat = cat_ids[0]
            s = rng.choice([2.0, 4.0, 6.0])
            side = rng.choice([20.0, 40.0, 64.0])
            x, y = float(rng.randint(0, 400)), float(rng.randint(0, 300))
            first = {"id": next_id, "image_id": image_id, "category_id": cat,
                     "bbox": [x, y, side, side], "area": side * side, "iscrowd": 0}
            second = {"id": next_id + 1, "image_id": image_id, "category_id": cat,
                      "bbox": [x + s, y, side, side], "area": side * side, "iscrowd": 0}
            next_id += 2
            annotations += [first, second]
            boxes_by_image.setdefault(image_id, [])
            tie_dets.append({"image_id": image_id, "category_id": cat,
                             "bbox": [x + s / 2, y, side, side], "score": 0.99})
            tie_dets.append({"image_id": image_id, "category_id": cat,
                             "bbox": [x - s / 2, y, side, side], "score": 0.98})
    categories = [{"id": c, "name": f"c{c}"} for c in cat_ids]
    gt = {"images": images, "annotations": annotations, "categories": categories}

    results = list(tie_dets)
    unknown_cat = max(cat_ids) + 1
    for image_id in image_ids:
        gts = boxes_by_image.get(image_id, [])
        many = rng.random() < 0.1
        count = rng.randint(0, 8) if not many else rng.randint(101, 140)
        for _ in range(count):
            if gts and rng.random() < 0.6:
                g = rng.choice(gts)
                x, y, w, h = g["bbox"]
                jitter = rng.choice([0.0, 0.0, 1.0, 2.5, 8.0])
                box = [x + rng.uniform(-jitter, jitter), y + rng.uniform(-jitter, jitter),
                       max(0.5, w + rng.uniform(-jitter, jitter)),
                       max(0.5, h + rng.uniform(-jitter, jitter))]
                if rng.random() < 0.3:
                    box = [round(v, 1) for v in box]
                cat = g["category_id"] if rng.random() < 0.85 else rng.choice(cat_ids)
            else:
                box = [round(rng.uniform(0, 600), 1), round(rng.uniform(0, 450), 1),
                       round(rng.uniform(1, 200), 1), round(rng.uniform(1, 200), 1)]
                cat = rng.choice(cat_ids + ([unknown_cat] if rng.random() < 0.05 else []))
            if many:
                cat = cat_ids[0]
            score = round(rng.random(), rng.choice([1, 2, 3, 6]))  # Many ties.
            results.append({"image_id": image_id, "category_id": cat, "bbox": box,
                            "score": score})
    if not results:
        results.append({"image_id": image_ids[0], "category_id": cat_ids[0],
                        "bbox": [1.0, 1.0, 10.0, 10.0], "score": 0.5})
    return gt, results


def pycocotools_eval(gt_path, dt_path, use_cats):
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(gt_path)
        coco_dt = coco_gt.loadRes(dt_path)
        ev = COCOeval(coco_gt, coco_dt, "bbox")
        ev.params.useCats = use_cats
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def per_class_expected(ev):
    precision = ev.eval["precision"]
    recall = ev.eval["recall"]
    out = {}
    for k, cat_id in enumerate(ev.params.catIds):
        p = precision[:, :, k, 0, -1]
        p50 = precision[0, :, k, 0, -1]
        r = recall[:, k, 0, -1]
        mean = lambda a: float(np.mean(a[a > -1])) if (a > -1).any() else -1.0
        out[cat_id] = (mean(p), mean(p50), mean(r))
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=20261201)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    tmp = tempfile.mkdtemp(prefix="oracle_", dir=os.environ.get("TEST_TMPDIR"))
    failures = 0
    checks = 0
    for index in range(args.pairs):
        gt, results = make_pair(rng, index)
        gt_path = os.path.join(tmp, "gt.json")
        dt_path = os.path.join(tmp, "dt.json")
        out_path = os.path.join(tmp, "out.json")
        with open(gt_path, "w") as f:
            json.dump(gt, f)
        with open(dt_path, "w") as f:
            json.dump(results, f)
        for use_cats in (1, 0):
            ev = pycocotools_eval(gt_path, dt_path, use_cats)
            proc = subprocess.run(
                [args.binary, f"--gt={gt_path}", f"--dt={dt_path}", f"--out={out_path}",
                 f"--use_cats={use_cats}", "--threads=2"],
                capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"pair {index} use_cats={use_cats}: evaluate_map exited "
                      f"{proc.returncode}: {proc.stderr}")
                failures += 1
                continue
            with open(out_path) as f:
                report = json.load(f)
            ours = report["stats"]
            for i, (a, b) in enumerate(zip(ours, ev.stats.tolist())):
                checks += 1
                if a != b:
                    failures += 1
                    print(f"pair {index} use_cats={use_cats} stat {i}: ours {a!r} "
                          f"pycocotools {b!r} (diff {a - b:.3e})")
            if use_cats:
                expected = per_class_expected(ev)
                for row in report["per_class"]:
                    want = expected[row["category_id"]]
                    got = (row["AP"], row["AP50"], row["AR100"])
                    checks += 3
                    if got != want:
                        failures += 1
                        print(f"pair {index} category {row['category_id']}: ours {got} "
                              f"pycocotools {want}")
        if failures > 20:
            break
    print(f"{checks - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
