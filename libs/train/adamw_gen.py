"""Reference AdamW trajectories from Python torch for adamw_test.

Writes <out>/adamw.pth (a dict): initial parameters p0, p1; gradients
g{step}_{i} for 6 steps; the parameters after each step, expected{step}_{i},
from torch.optim.AdamW(lr=1e-2, betas=(0.9, 0.999), eps=1e-8,
weight_decay=0.1) with the gradient clipped to a global norm of 0.5 by
torch.nn.utils.clip_grad_norm_ before each step (norm{step} records the
total before clipping).
"""
import argparse
import os

import torch

p = argparse.ArgumentParser()
p.add_argument("--out", required=True)
args = p.parse_args()
os.makedirs(args.out, exist_ok=True)
torch.manual_seed(3)
params = [torch.randn(4, 3, requires_grad=True), torch.randn(5, requires_grad=True)]
out = {"p0": params[0].detach().clone(), "p1": params[1].detach().clone()}
opt = torch.optim.AdamW(params, lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)
for step in range(6):
    for i, q in enumerate(params):
        g = torch.randn_like(q) * (step + 1)
        out["g%d_%d" % (step, i)] = g.clone()
        q.grad = g
    norm = torch.nn.utils.clip_grad_norm_(params, 0.5)
    out["norm%d" % step] = torch.tensor([float(norm)], dtype=torch.float64)
    opt.step()
    for i, q in enumerate(params):
        out["expected%d_%d" % (step, i)] = q.detach().clone()
torch.save(out, os.path.join(args.out, "adamw.pth"))
