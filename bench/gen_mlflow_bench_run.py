#!/usr/bin/env python3
"""Generates a large run directory for mlflow_push benchmarks.

Same contract as testdata/run_dir_small (see its generate.py): run.json,
metrics.jsonl, checkpoints/checkpoints.json + *.ckpt. Defaults give the
benchmark's workload:

  10 metric names x 10,000 steps = 100,000 metric points
  50 params
  10 checkpoints of 10 MiB each (100 MiB)

  python3 bench/gen_mlflow_bench_run.py --out /tmp/mlflow_bench_run

Deterministic for a given Python version (seeded random.Random). A stamp file
beside the output (OUT.stamp) lets a second call with the same sizes return
at once instead of rewriting 100 MiB. Python stdlib only.
"""

import argparse
import hashlib
import json
import math
import os
import random
import shutil

START_MS = 1764583200000  # 2025-12-01T10:00:00Z


def generate(out, metrics, steps, params, checkpoints, checkpoint_mib, seed):
    rng = random.Random(seed)
    step_ms = 100  # a training step every 100 ms
    end_ms = START_MS + 1000 + steps * step_ms + 1000
    os.makedirs(os.path.join(out, "checkpoints"), exist_ok=True)

    hyper = {}
    for i in range(params):
        group = ["data", "model", "optimizer", "scheduler", "trainer"][i % 5]
        hyper[f"{group}.param_{i:03d}"] = repr(round(rng.uniform(0, 10), 6))
    run = {
        "version": 1,
        "status": "FINISHED",
        "start_time_ms": START_MS,
        "end_time_ms": end_ms,
        "run_name": f"bench-{metrics}x{steps}",
        "task": "detection",
        "model_name": "yolo_small",
        "hyperparameters": hyper,
        "tags": {"dataset": "synthetic", "bench": "mlflow_push"},
    }
    with open(os.path.join(out, "run.json"), "w") as f:
        json.dump(run, f, indent=2)
        f.write("\n")

    names = [f"{['train', 'val'][k % 2]}/metric_{k:02d}" for k in range(metrics)]
    steps_per_epoch = max(1, steps // max(1, checkpoints))
    with open(os.path.join(out, "metrics.jsonl"), "w") as f:
        # Step-major order, as a trainer writes it: all metrics of a step, then the next.
        for step in range(1, steps + 1):
            ts = START_MS + 1000 + step * step_ms
            epoch = (step - 1) // steps_per_epoch
            for k, name in enumerate(names):
                value = math.exp(-step / (steps / 3)) * (1 + k) + rng.random() * 0.01
                f.write(json.dumps({"name": name, "value": value, "step": step,
                                    "epoch": epoch, "timestamp_ms": ts}) + "\n")

    index = []
    for c in range(checkpoints):
        step = (c + 1) * steps_per_epoch
        name = f"epoch={c}-step={step}.ckpt"
        data = rng.randbytes(checkpoint_mib * 1024 * 1024)
        with open(os.path.join(out, "checkpoints", name), "wb") as f:
            f.write(data)
        index.append({"file": name, "epoch": c, "step": step, "monitor": "val/map",
                      "value": round(0.2 + 0.02 * c, 6), "best": c == checkpoints - 1,
                      "last": False, "size": len(data),
                      "sha256": hashlib.sha256(data).hexdigest()})
    with open(os.path.join(out, "checkpoints", "checkpoints.json"), "w") as f:
        json.dump({"version": 1, "checkpoints": index}, f, indent=2)
        f.write("\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="run directory to (re)create")
    parser.add_argument("--metrics", type=int, default=10, help="metric names")
    parser.add_argument("--steps", type=int, default=10000, help="steps per metric")
    parser.add_argument("--params", type=int, default=50)
    parser.add_argument("--checkpoints", type=int, default=10)
    parser.add_argument("--checkpoint_mib", type=int, default=10, help="MiB per checkpoint")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    out = os.path.abspath(args.out)
    stamp_path = out.rstrip("/") + ".stamp"  # beside out, so it is never pushed
    stamp = (f"metrics={args.metrics} steps={args.steps} params={args.params} "
             f"checkpoints={args.checkpoints}x{args.checkpoint_mib}MiB seed={args.seed} v1\n")
    if os.path.exists(stamp_path) and os.path.isdir(out) and open(stamp_path).read() == stamp:
        print(f"{out}: up to date")
        return
    shutil.rmtree(out, ignore_errors=True)
    if os.path.exists(stamp_path):
        os.unlink(stamp_path)
    generate(out, args.metrics, args.steps, args.params, args.checkpoints,
             args.checkpoint_mib, args.seed)
    with open(stamp_path, "w") as f:
        f.write(stamp)
    print(f"{out}: {args.metrics * args.steps} metric points, {args.params} params, "
          f"{args.checkpoints} x {args.checkpoint_mib} MiB checkpoints")


if __name__ == "__main__":
    main()
