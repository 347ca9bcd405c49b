"""Reference data for detr_matcher_test, computed with Python torch: random
queries and objects; the DETR matching cost (the formula of DETR's
HungarianMatcher: -softmax prob of the target class, L1 of cxcywh boxes,
-GIoU from torchvision.ops.generalized_box_iou, weights 1/5/2); and the
minimum total cost by exhaustive search.

Usage: /usr/bin/python3 detr_matcher_gen.py --out FILE
"""

import argparse
import itertools

import torch
from torchvision.ops import generalized_box_iou


def cxcywh_to_xyxy(b):
    cx, cy, w, h = b.unbind(-1)
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--cases", type=int, default=60)
    args = ap.parse_args()
    torch.manual_seed(5)
    data = {"cases": torch.tensor(args.cases)}
    for i in range(args.cases):
        n = int(torch.randint(1, 8, ()))
        t = int(torch.randint(0, min(n, 4) + 1, ()))
        c = int(torch.randint(1, 6, ()))
        logits = torch.randn(n, c + 1, dtype=torch.float64) * 2
        boxes = torch.cat([torch.rand(n, 2), 0.05 + 0.5 * torch.rand(n, 2)], 1).double()
        labels = torch.randint(0, c, (t,))
        gt = torch.cat([torch.rand(t, 2), 0.05 + 0.5 * torch.rand(t, 2)], 1).double()
        if i % 7 == 0 and t > 0:
            boxes[0] = gt[0]  # an exact hit: GIoU 1, L1 0
        prob = logits.softmax(-1)
        cost = (5 * torch.cdist(boxes, gt, p=1) - prob[:, labels]
                - 2 * generalized_box_iou(cxcywh_to_xyxy(boxes), cxcywh_to_xyxy(gt)))
        best = 0.0
        if t > 0:
            best = min(sum(cost[q, j].item() for j, q in enumerate(perm))
                       for perm in itertools.permutations(range(n), t))
        for name, value in [("logits", logits), ("boxes", boxes), ("labels", labels),
                            ("gt", gt), ("cost", cost), ("best", torch.tensor(best, dtype=torch.float64)),
                            ("giou", generalized_box_iou(cxcywh_to_xyxy(boxes),
                                                         cxcywh_to_xyxy(gt)))]:
            data["%d_%s" % (i, name)] = value
    torch.save(data, args.out)


if __name__ == "__main__":
    main()
