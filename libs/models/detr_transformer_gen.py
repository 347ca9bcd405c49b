"""Reference for detr_transformer_test: DETR's transformer (encoder and
decoder layers, post-norm, return_intermediate) re-derived from the paper's
reference implementation in Python torch with nn.MultiheadAttention, small
sizes, random weights, eval mode; saves its state_dict (as a plain dict),
the inputs and the decoder outputs.

Usage: /usr/bin/python3 detr_transformer_gen.py --out DIR
"""

import argparse
import copy
import os

import torch
from torch import nn


class EncoderLayer(nn.Module):
    def __init__(self, d, heads, ff, dropout):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d, heads, dropout=dropout)
        self.linear1, self.linear2 = nn.Linear(d, ff), nn.Linear(ff, d)
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.dropout, self.dropout1, self.dropout2 = (nn.Dropout(dropout) for _ in range(3))

    def forward(self, src, padding, pos):
        q = k = src + pos
        src = self.norm1(src + self.dropout1(self.self_attn(q, k, value=src,
                                                            key_padding_mask=padding)[0]))
        return self.norm2(src + self.dropout2(self.linear2(self.dropout(
            torch.relu(self.linear1(src))))))


class DecoderLayer(nn.Module):
    def __init__(self, d, heads, ff, dropout):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d, heads, dropout=dropout)
        self.multihead_attn = nn.MultiheadAttention(d, heads, dropout=dropout)
        self.linear1, self.linear2 = nn.Linear(d, ff), nn.Linear(ff, d)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.dropout, self.dropout1, self.dropout2, self.dropout3 = (
            nn.Dropout(dropout) for _ in range(4))

    def forward(self, tgt, memory, padding, pos, query_pos):
        q = k = tgt + query_pos
        tgt = self.norm1(tgt + self.dropout1(self.self_attn(q, k, value=tgt)[0]))
        tgt2 = self.multihead_attn(query=tgt + query_pos, key=memory + pos, value=memory,
                                   key_padding_mask=padding)[0]
        tgt = self.norm2(tgt + self.dropout2(tgt2))
        return self.norm3(tgt + self.dropout3(self.linear2(self.dropout(
            torch.relu(self.linear1(tgt))))))


class Transformer(nn.Module):
    def __init__(self, d=32, heads=4, enc=2, dec=3, ff=64, dropout=0.1):
        super().__init__()
        self.encoder = nn.Module()
        self.encoder.layers = nn.ModuleList(EncoderLayer(d, heads, ff, dropout) for _ in range(enc))
        self.decoder = nn.Module()
        self.decoder.layers = nn.ModuleList(DecoderLayer(d, heads, ff, dropout) for _ in range(dec))
        self.decoder.norm = nn.LayerNorm(d)

    def forward(self, src, pixel_mask, query_embed, pos):
        bs = src.shape[0]
        src = src.flatten(2).permute(2, 0, 1)
        pos = pos.flatten(2).permute(2, 0, 1)
        query = query_embed.unsqueeze(1).repeat(1, bs, 1)
        padding = (~pixel_mask).flatten(1)
        memory = src
        for layer in self.encoder.layers:
            memory = layer(memory, padding, pos)
        tgt = torch.zeros_like(query)
        out = []
        for layer in self.decoder.layers:
            tgt = layer(tgt, memory, padding, pos, query)
            out.append(self.decoder.norm(tgt))
        return torch.stack(out).transpose(1, 2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.manual_seed(9)
    net = Transformer()
    with torch.no_grad():  # make the norms' affine parameters matter
        for m in net.modules():
            if isinstance(m, nn.LayerNorm):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    net.eval()
    b, d, h, w, n = 2, 32, 4, 5, 7
    src = torch.randn(b, d, h, w)
    mask = torch.ones(b, h, w, dtype=torch.bool)
    mask[1, 3:, :] = False
    mask[1, :, 4:] = False
    query = torch.randn(n, d)
    pos = torch.randn(b, d, h, w)
    with torch.no_grad():
        hs = net(src, mask, query, pos)
    os.makedirs(args.out, exist_ok=True)
    torch.save(dict(net.state_dict()), os.path.join(args.out, "state_dict.pth"))
    torch.save({"src": src, "mask": mask, "query": query, "pos": pos, "hs": hs},
               os.path.join(args.out, "expected.pth"))


if __name__ == "__main__":
    main()
