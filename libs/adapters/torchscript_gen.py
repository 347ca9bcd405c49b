"""Exports two small detectors with torch.jit for the TorchScript import test.

detr_style.pt (torch.jit.script): forward(images, pixel_mask) returns
  {"pred_logits": [B, Q, K + 1], "pred_boxes": [B, Q, 4] cxcywh in [0, 1]}.
dense.pt (torch.jit.trace): forward(images) returns [B, N, 4 + K]: xyxy
  input pixels, then per-class probabilities (an anchor-free grid head).

Run with Debian's /usr/bin/python3 (python3-torch 1.13.1, matching LibTorch).
"""
import argparse
import os
from typing import Dict

import torch
from torch import nn


class DetrStyle(nn.Module):
    def __init__(self, num_classes: int, queries: int = 8, width: int = 32):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, width, 3, 2, 1), nn.ReLU(),
            nn.Conv2d(width, width, 3, 2, 1), nn.ReLU(),
            nn.Conv2d(width, width, 3, 2, 1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(4))
        self.queries = queries
        self.num_classes = num_classes
        self.fc = nn.Linear(width * 16, 128)
        self.logits = nn.Linear(128, queries * (num_classes + 1))
        self.boxes = nn.Linear(128, queries * 4)

    def forward(self, images: torch.Tensor,
                pixel_mask: torch.Tensor) -> Dict[str, torch.Tensor]:
        x = images * pixel_mask.unsqueeze(1).to(images.dtype)
        h = torch.relu(self.fc(self.body(x).flatten(1)))
        b = images.shape[0]
        return {
            "pred_logits": self.logits(h).view(b, self.queries,
                                               self.num_classes + 1),
            "pred_boxes": self.boxes(h).view(b, self.queries, 4).sigmoid(),
        }


class Dense(nn.Module):
    """One prediction per stride-16 cell: box = centre +- exp(distances)."""

    def __init__(self, num_classes: int, width: int = 32):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, width, 3, 2, 1), nn.ReLU(),
            nn.Conv2d(width, width, 3, 2, 1), nn.ReLU(),
            nn.Conv2d(width, width, 3, 2, 1), nn.ReLU(),
            nn.Conv2d(width, width, 3, 2, 1), nn.ReLU())
        self.head = nn.Conv2d(width, 4 + num_classes, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        f = self.head(self.body(images))  # [B, 4 + K, H/16, W/16]
        b, c, h, w = f.shape
        ys = (torch.arange(h, dtype=images.dtype) + 0.5) * 16
        xs = (torch.arange(w, dtype=images.dtype) + 0.5) * 16
        cy, cx = torch.meshgrid(ys, xs, indexing="ij")
        f = f.flatten(2).transpose(1, 2)  # [B, N, 4 + K]
        d = f[..., :4].clamp(max=6).exp() * 16
        cx = cx.reshape(1, -1)
        cy = cy.reshape(1, -1)
        boxes = torch.stack([cx - d[..., 0], cy - d[..., 1],
                             cx + d[..., 2], cy + d[..., 3]], -1)
        return torch.cat([boxes, f[..., 4:].sigmoid()], -1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--num_classes", type=int, default=3)
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    detr = torch.jit.script(DetrStyle(args.num_classes))
    detr.save(os.path.join(args.out, "detr_style.pt"))
    dense = torch.jit.trace(Dense(args.num_classes),
                            torch.zeros(1, 3, 128, 128))
    dense.save(os.path.join(args.out, "dense.pt"))
    print("wrote", args.out)


if __name__ == "__main__":
    main()
