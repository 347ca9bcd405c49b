"""Reference for position_encoding_test: DETR's PositionEmbeddingSine
(normalize=True, scale 2*pi, temperature 10000, 128 features), re-derived in
Python torch, on padded masks of several shapes.

Usage: /usr/bin/python3 position_encoding_gen.py --out FILE
"""

import argparse
import math

import torch


def sine(not_mask, num_pos_feats=128, temperature=10000):
    y_embed = not_mask.cumsum(1, dtype=torch.float32)
    x_embed = not_mask.cumsum(2, dtype=torch.float32)
    eps = 1e-6
    y_embed = y_embed / (y_embed[:, -1:, :] + eps) * 2 * math.pi
    x_embed = x_embed / (x_embed[:, :, -1:] + eps) * 2 * math.pi
    dim_t = torch.arange(num_pos_feats, dtype=torch.float32)
    dim_t = temperature ** (2 * (dim_t // 2) / num_pos_feats)
    pos_x = x_embed[:, :, :, None] / dim_t
    pos_y = y_embed[:, :, :, None] / dim_t
    pos_x = torch.stack((pos_x[:, :, :, 0::2].sin(), pos_x[:, :, :, 1::2].cos()), dim=4).flatten(3)
    pos_y = torch.stack((pos_y[:, :, :, 0::2].sin(), pos_y[:, :, :, 1::2].cos()), dim=4).flatten(3)
    return torch.cat((pos_y, pos_x), dim=3).permute(0, 3, 1, 2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.manual_seed(3)
    data = {}
    for i, (b, h, w) in enumerate([(1, 5, 7), (2, 13, 9), (3, 25, 34)]):
        mask = torch.zeros(b, h, w, dtype=torch.bool)
        for j in range(b):  # each image padded to the batch's size
            mask[j, :int(torch.randint(1, h + 1, ())), :int(torch.randint(1, w + 1, ()))] = True
        data["%d_mask" % i] = mask
        data["%d_pos" % i] = sine(mask)
    data["cases"] = torch.tensor(3)
    torch.save(data, args.out)


if __name__ == "__main__":
    main()
