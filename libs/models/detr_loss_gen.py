"""Reference data for detr_loss_test with Python torch: DETR's SetCriterion
(labels, boxes and GIoU losses, no-object weight 0.1, weights 1/5/2, with an
auxiliary decoder output) re-derived from the paper's reference code, with an
exhaustive matcher, on random batches; the loss parts and the gradients of
the total with respect to every logit and box.

Usage: /usr/bin/python3 detr_loss_gen.py --out FILE
"""

import argparse
import itertools

import torch
import torch.nn.functional as F
from torchvision.ops import generalized_box_iou


def xyxy(b):
    cx, cy, w, h = b.unbind(-1)
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)


def match(logits, boxes, labels, gt):
    if len(labels) == 0:
        return [], []
    cost = (5 * torch.cdist(boxes, gt, p=1) - logits.softmax(-1)[:, labels]
            - 2 * generalized_box_iou(xyxy(boxes), xyxy(gt)))
    best = min(itertools.permutations(range(len(boxes)), len(labels)),
               key=lambda perm: sum(cost[q, j].item() for j, q in enumerate(perm)))
    pairs = sorted(zip(best, range(len(labels))))
    return [q for q, _ in pairs], [t for _, t in pairs]


def layer_loss(logits, boxes, targets, num_objects):
    b, q, c1 = logits.shape
    target_classes = torch.full((b, q), c1 - 1, dtype=torch.long)
    src, tgt = [], []
    for i, (labels, gt) in enumerate(targets):
        qi, ti = match(logits[i].detach(), boxes[i].detach(), labels, gt)
        if qi:
            target_classes[i, qi] = labels[ti]
            src.append(boxes[i, qi])
            tgt.append(gt[ti])
    weight = torch.ones(c1, dtype=logits.dtype)
    weight[-1] = 0.1
    ce = F.cross_entropy(logits.transpose(1, 2), target_classes, weight)
    if not src:
        return ce, boxes.sum() * 0, boxes.sum() * 0
    src, tgt = torch.cat(src), torch.cat(tgt)
    l1 = (src - tgt).abs().sum() / num_objects
    giou = (1 - torch.diag(generalized_box_iou(xyxy(src), xyxy(tgt)))).sum() / num_objects
    return ce, l1, giou


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--cases", type=int, default=30)
    args = ap.parse_args()
    torch.manual_seed(11)
    data = {"cases": torch.tensor(args.cases)}
    for i in range(args.cases):
        b, q, c = int(torch.randint(1, 4, ())), int(torch.randint(2, 7, ())), 4
        targets = []
        for _ in range(b):
            t = int(torch.randint(0, min(q, 3) + 1, ()))
            targets.append((torch.randint(0, c, (t,)),
                            torch.cat([torch.rand(t, 2), 0.05 + 0.4 * torch.rand(t, 2)], 1).double()))
        outputs = []
        for _ in range(2):  # final + one auxiliary layer
            logits = (torch.randn(b, q, c + 1, dtype=torch.float64) * 2).requires_grad_()
            boxes = torch.cat([torch.rand(b, q, 2), 0.05 + 0.4 * torch.rand(b, q, 2)], 2) \
                .double().requires_grad_()
            outputs.append((logits, boxes))
        num_objects = max(sum(len(l) for l, _ in targets), 1)
        total = 0
        parts = None
        for logits, boxes in outputs:
            ce, l1, giou = layer_loss(logits, boxes, targets, num_objects)
            total = total + ce + 5 * l1 + 2 * giou
            parts = parts or (ce, l1, giou)
        total.backward()
        data["%d_batch" % i] = torch.tensor(b)
        for k, (logits, boxes) in enumerate(outputs):
            data["%d_logits%d" % (i, k)] = logits.detach()
            data["%d_boxes%d" % (i, k)] = boxes.detach()
            data["%d_dlogits%d" % (i, k)] = logits.grad
            data["%d_dboxes%d" % (i, k)] = boxes.grad
        for j, (labels, gt) in enumerate(targets):
            data["%d_labels%d" % (i, j)] = labels
            data["%d_gt%d" % (i, j)] = gt
        data["%d_total" % i] = total.detach()
        data["%d_parts" % i] = torch.stack([p.detach() for p in parts])
    torch.save(data, args.out)


if __name__ == "__main__":
    main()
