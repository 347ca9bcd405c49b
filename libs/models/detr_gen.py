"""Reference for detr_test: the whole DETR forward pass in Python torch (the
reference implementation's structure: torchvision ResNet-18 body with
FrozenBatchNorm2d, 1x1 input projection, sine positions of the
nearest-downsampled mask, the transformer of detr_transformer_gen.py, a
linear class head and a 3-layer MLP box head), small sizes, random weights,
eval mode. Saves the weights under the reference names as a plain dict, a
padded batch and the outputs of every decoder layer.

Usage: /usr/bin/python3 detr_gen.py --out DIR
"""

import argparse
import os
import sys

import torch
import torchvision
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from detr_transformer_gen import Transformer  # noqa: E402
from position_encoding_gen import sine  # noqa: E402


class MLP(nn.Module):
    def __init__(self, d, out, layers):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(d, d if i + 1 < layers else out)
                                    for i in range(layers))

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i + 1 < len(self.layers):
                x = torch.relu(x)
        return x


class Detr(nn.Module):
    def __init__(self, d=32, queries=5, classes=3):
        super().__init__()
        body = torchvision.models.resnet18(norm_layer=torchvision.ops.misc.FrozenBatchNorm2d)
        del body.fc
        self.backbone = nn.ModuleList([nn.Module()])
        self.backbone[0].body = body
        self.input_proj = nn.Conv2d(512, d, 1)
        self.query_embed = nn.Embedding(queries, d)
        self.transformer = Transformer(d=d)
        self.class_embed = nn.Linear(d, classes + 1)
        self.bbox_embed = MLP(d, 4, 3)

    def forward(self, images, pixel_mask):
        b = self.backbone[0].body
        x = b.maxpool(b.relu(b.bn1(b.conv1(images))))
        x = b.layer4(b.layer3(b.layer2(b.layer1(x))))
        mask = nn.functional.interpolate(pixel_mask[None].float(), size=x.shape[-2:]).bool()[0]
        pos = sine(mask, num_pos_feats=16)
        hs = self.transformer(self.input_proj(x), mask, self.query_embed.weight, pos)
        return self.class_embed(hs), self.bbox_embed(hs).sigmoid()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.manual_seed(21)
    net = Detr()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torchvision.ops.misc.FrozenBatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.8, 1.2)
    net.eval()
    images = torch.randn(2, 3, 96, 128)
    pixel_mask = torch.ones(2, 96, 128, dtype=torch.bool)
    pixel_mask[1, 64:, :] = False
    pixel_mask[1, :, 96:] = False
    with torch.no_grad():
        logits, boxes = net(images, pixel_mask)
    os.makedirs(args.out, exist_ok=True)
    torch.save(dict(net.state_dict()), os.path.join(args.out, "state_dict.pth"))
    torch.save({"images": images, "pixel_mask": pixel_mask, "logits": logits, "boxes": boxes},
               os.path.join(args.out, "expected.pth"))


if __name__ == "__main__":
    main()
