"""Writes what resnet_test compares against: a torchvision ResNet's
state_dict (torch.save; an OrderedDict for ResNet-18, a dict otherwise), an
input batch and the outputs of layer1..layer4, computed by Python torch in
eval mode. Batch-norm statistics and affine
parameters are randomised first, so the comparison covers them.

Usage (Debian's python3-torch and python3-torchvision):
  /usr/bin/python3 resnet_torchvision_gen.py --depth 18 --out DIR
"""

import argparse
import os

import torch
import torchvision


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--depth", type=int, required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.manual_seed(args.depth)
    net = getattr(torchvision.models, "resnet%d" % args.depth)()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    net.eval()
    x = torch.randn(2, 3, 96, 128)
    feats = []
    with torch.no_grad():
        y = net.maxpool(net.relu(net.bn1(net.conv1(x))))
        for layer in (net.layer1, net.layer2, net.layer3, net.layer4):
            y = layer(y)
            feats.append(y)
    # The same weights with torchvision's FrozenBatchNorm2d (the fixed
    # affine form DETR trains with), for the frozen_bn comparison.
    frozen = getattr(torchvision.models, "resnet%d" % args.depth)(
        norm_layer=torchvision.ops.misc.FrozenBatchNorm2d)
    frozen.load_state_dict(net.state_dict())
    frozen.eval()
    frozen_feats = []
    with torch.no_grad():
        y = frozen.maxpool(frozen.relu(frozen.bn1(frozen.conv1(x))))
        for layer in (frozen.layer1, frozen.layer2, frozen.layer3, frozen.layer4):
            y = layer(y)
            frozen_feats.append(y)
    os.makedirs(args.out, exist_ok=True)
    # ResNet-18 as people usually save torchvision weights, the OrderedDict
    # `torch.save(model.state_dict())`; ResNet-50 as a plain dict, so the
    # test covers both.
    state_dict = net.state_dict()
    if args.depth != 18:
        state_dict = dict(state_dict)
    torch.save(state_dict, os.path.join(args.out, "state_dict.pth"))
    torch.save({"input": x, "c2": feats[0], "c3": feats[1], "c4": feats[2], "c5": feats[3]},
               os.path.join(args.out, "expected.pth"))
    torch.save({"input": x, "c2": frozen_feats[0], "c3": frozen_feats[1],
                "c4": frozen_feats[2], "c5": frozen_feats[3]},
               os.path.join(args.out, "expected_frozen.pth"))


if __name__ == "__main__":
    main()
