"""Writes a seeded COCO-val2017-scale evaluation set: gt.json and dt.json.

5,000 images (640x480 .. 640x640), 80 categories with COCO's ids (1..90 with
gaps) and a skewed class frequency (person ~ 30%), ~36.8k GT boxes with
COCO-like sizes (about 41% small, 34% medium, 25% large), ~1% crowd, and
exactly 100 detections per image: jittered copies of GT boxes (mostly the
right class) plus background boxes, with 4-decimal scores.

Usage: python3 bench/gen_coco_eval_set.py OUT_DIR [--images 5000] [--seed 1]
"""

import argparse
import json
import math
import os
import random

COCO_IDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
            24, 25, 27, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47,
            48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 67, 70,
            72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90]


def box_of_area(rng, area, width, height):
    aspect = math.exp(rng.uniform(-1.0, 1.0))
    w = min(width - 1.0, math.sqrt(area * aspect))
    h = min(height - 1.0, area / max(w, 1.0))
    x = rng.uniform(0, width - w)
    y = rng.uniform(0, height - h)
    return [round(x, 2), round(y, 2), round(w, 2), round(h, 2)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir")
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--gt_per_image", type=float, default=7.36)
    parser.add_argument("--dets_per_image", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    weights = [30.0] + [rng.uniform(0.2, 3.0) for _ in COCO_IDS[1:]]
    images, annotations, results = [], [], []
    ann_id = 1
    for i in range(args.images):
        image_id = 100000 + i * 7
        width, height = 640, rng.choice([480, 427, 512, 640])
        images.append({"id": image_id, "file_name": f"{image_id:012d}.jpg",
                       "width": width, "height": height})
        n_gt = max(0, int(round(rng.expovariate(1.0 / args.gt_per_image))))
        gts = []
        for _ in range(n_gt):
            bucket = rng.random()
            if bucket < 0.41:
                area = rng.uniform(16, 1024)
            elif bucket < 0.75:
                area = rng.uniform(1024, 9216)
            else:
                area = rng.uniform(9216, width * height * 0.8)
            box = box_of_area(rng, area, width, height)
            cat = rng.choices(COCO_IDS, weights)[0]
            crowd = 1 if rng.random() < 0.01 else 0
            seg_area = round(box[2] * box[3] * rng.uniform(0.55, 0.95), 2)
            annotations.append({"id": ann_id, "image_id": image_id, "category_id": cat,
                                "bbox": box, "area": seg_area, "iscrowd": crowd})
            gts.append((box, cat))
            ann_id += 1
        dets = []
        for box, cat in gts:
            for _ in range(rng.randint(1, 4)):
                s = 0.02 + 0.15 * rng.random()
                jit = [box[0] + rng.gauss(0, s * box[2]), box[1] + rng.gauss(0, s * box[3]),
                       box[2] * math.exp(rng.gauss(0, s)), box[3] * math.exp(rng.gauss(0, s))]
                det_cat = cat if rng.random() < 0.85 else rng.choices(COCO_IDS, weights)[0]
                dets.append((jit, det_cat, rng.betavariate(4, 2)))
        while len(dets) < args.dets_per_image:
            area = math.exp(rng.uniform(math.log(16), math.log(width * height * 0.5)))
            dets.append((box_of_area(rng, area, width, height),
                         rng.choices(COCO_IDS, weights)[0], rng.betavariate(1.2, 5)))
        dets.sort(key=lambda d: -d[2])
        for box, cat, score in dets[: args.dets_per_image]:
            results.append({"image_id": image_id, "category_id": cat,
                            "bbox": [round(v, 2) for v in box], "score": round(score, 4)})
    categories = [{"id": c, "name": f"class_{c}", "supercategory": "object"} for c in COCO_IDS]
    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, "gt.json"), "w") as f:
        json.dump({"images": images, "annotations": annotations, "categories": categories}, f)
    with open(os.path.join(args.out_dir, "dt.json"), "w") as f:
        json.dump(results, f)
    crowd = sum(a["iscrowd"] for a in annotations)
    print(f"{len(images)} images, {len(annotations)} GT ({crowd} crowd), "
          f"{len(results)} detections -> {args.out_dir}")


if __name__ == "__main__":
    main()
