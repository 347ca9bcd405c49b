#!/usr/bin/env python3
"""Regenerates the `run_dir_small` fixture: a small, hand-shaped run directory.

A "run directory" is what `train fit` writes and what `mlflow_push` publishes:

  run.json                          run metadata, flattened hyperparameters, tags
  metrics.jsonl                     one metric point per line
  checkpoints/checkpoints.json      index of finished checkpoints (size, sha256)
  checkpoints/*.ckpt                the checkpoints themselves
  plots/*.png                       plots (uploaded as artifacts)
  eval/*.json                       evaluation reports (uploaded as artifacts)
  predictions/*.json                COCO-style results (uploaded as artifacts)

Everything is deterministic (no clocks, no RNG state, no environment): run it
again and `git diff` shows nothing. The generated files are committed; this
script is kept so the fixture can be changed on purpose and regenerated.

  python3 testdata/run_dir_small/generate.py            # writes next to itself
  python3 testdata/run_dir_small/generate.py --out DIR  # somewhere else

Python stdlib only.
"""

import argparse
import hashlib
import json
import math
import os
import struct
import zlib

START_MS = 1764583200000  # 2025-12-01T10:00:00Z
END_MS = 1764583800000  # ten minutes later
STEPS_PER_EPOCH = 100
EPOCHS = 2
NAN_STEP = 35  # train/loss is NaN here (a real trainer can log one)

RUN = {
    "version": 1,
    "status": "FINISHED",
    "start_time_ms": START_MS,
    "end_time_ms": END_MS,
    "run_name": "yolo_small_bccd-20251201",
    "task": "detection",
    "model_name": "yolo_small",
    # Flattened with dots; values are strings already (MLflow params are strings).
    "hyperparameters": {
        "data.batch_size": "16",
        "data.dataset": "bccd",
        "data.image_size": "640",
        "data.num_workers": "4",
        "data.augment.hflip": "0.5",
        "data.augment.mosaic": "true",
        "model.name": "yolo_small",
        "model.num_classes": "3",
        "model.pretrained": "false",
        "optimizer.name": "adamw",
        "optimizer.lr": "0.001",
        "optimizer.weight_decay": "0.0005",
        "optimizer.betas": "[0.9, 0.999]",
        "scheduler.name": "cosine",
        "scheduler.warmup_steps": "20",
        "scheduler.min_lr": "1e-05",
        "trainer.max_epochs": "2",
        "trainer.precision": "16-mixed",
        "trainer.seed": "42",
        "trainer.val_check_interval": "0.5",
        "checkpoint.monitor": "val/map",
        "checkpoint.mode": "max",
    },
    "tags": {"dataset": "bccd"},
}


def step_time_ms(step):
    """Wall-clock time of a training step: 2.5 s per step after a 1 s setup."""
    return START_MS + 1000 + step * 2500


def lr_at(step):
    """Linear warmup to 1e-3 over 20 steps, then cosine down to 1e-5."""
    total = STEPS_PER_EPOCH * EPOCHS
    if step < 20:
        return 1e-3 * step / 20
    t = (step - 20) / (total - 20)
    return 1e-5 + 0.5 * (1e-3 - 1e-5) * (1 + math.cos(math.pi * t))


def metric_points():
    """~60 points: train/loss every 5 steps, lr every 20, val/* at half epochs."""
    points = []
    total = STEPS_PER_EPOCH * EPOCHS
    for step in range(5, total + 1, 5):
        epoch = (step - 1) // STEPS_PER_EPOCH
        ts = step_time_ms(step)
        if step == NAN_STEP:
            loss = float("nan")
        else:
            loss = round(2.0 * math.exp(-step / 60.0) + 0.3 + 0.02 * math.sin(step), 6)
        points.append(("train/loss", loss, step, epoch, ts))
        if step % 20 == 0:
            # Full-precision doubles on purpose: they must round-trip exactly.
            points.append(("lr", lr_at(step), step, epoch, ts))
        if step % 50 == 0:
            vts = ts + 500  # validation ends half a second after the step
            k = step / 50
            points.append(("val/loss", round(1.4 - 0.2 * k, 6), step, epoch, vts))
            points.append(("val/map", round(0.2 + 0.055 * k, 6), step, epoch, vts))
            points.append(("val/map_50", round(0.45 + 0.07 * k, 6), step, epoch, vts))
    return points


def val_map_at(step):
    for name, value, s, _, _ in metric_points():
        if name == "val/map" and s == step:
            return value
    raise KeyError(step)


def deterministic_bytes(label, size):
    """`size` pseudo-random bytes from SHA-256 in counter mode, keyed by `label`."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{label}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


def png(width, height, pixel):
    """A valid 8-bit grayscale PNG; `pixel(x, y)` gives 0..255."""

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(
        b"\x00" + bytes(pixel(x, y) for x in range(width)) for y in range(height)
    )
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(path, "wb") as f:
        f.write(data)


def dump_json(obj):
    return json.dumps(obj, indent=2, sort_keys=False) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    out = parser.parse_args().out

    write(os.path.join(out, "run.json"), dump_json(RUN))

    # json.dumps writes NaN as the bare token `NaN` (Python's json style, not
    # strict JSON): readers of metrics.jsonl must accept it.
    lines = [
        json.dumps({"name": n, "value": v, "step": s, "epoch": e, "timestamp_ms": t})
        for n, v, s, e, t in metric_points()
    ]
    write(os.path.join(out, "metrics.jsonl"), "\n".join(lines) + "\n")

    # Checkpoints: epoch ends plus last.ckpt (same epoch/step as the final one,
    # as Lightning's save_last writes it, but with distinct bytes so that a
    # pusher that mixes the two files up is caught). A few KB each.
    ckpts = [
        ("epoch=0-step=100.ckpt", 0, 100, False, False, 3 * 1024 + 17),
        ("epoch=1-step=200.ckpt", 1, 200, True, False, 4 * 1024 + 5),
        ("last.ckpt", 1, 200, False, True, 4 * 1024 + 5),
    ]
    index = []
    for name, epoch, step, best, last, size in ckpts:
        data = deterministic_bytes("cvtools-fixture/" + name, size)
        write(os.path.join(out, "checkpoints", name), data)
        index.append({
            "file": name,
            "epoch": epoch,
            "step": step,
            "monitor": "val/map",
            "value": val_map_at(step),
            "best": best,
            "last": last,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        })
    write(
        os.path.join(out, "checkpoints", "checkpoints.json"),
        dump_json({"version": 1, "checkpoints": index}),
    )

    write(os.path.join(out, "plots", "loss.png"),
          png(16, 12, lambda x, y: (x * 16 + y * 5) % 256))
    write(os.path.join(out, "plots", "map.png"),
          png(12, 16, lambda x, y: 255 - (x * 9 + y * 11) % 256))

    classes = ["WBC", "RBC", "Platelets"]
    report = {
        "version": 1,
        "split": "val",
        "step": 200,
        "num_images": 4,
        "metrics": {"map": val_map_at(200), "map_50": 0.73, "map_75": 0.38,
                    "mar_100": 0.52},
        "per_class": [
            {"category_id": i + 1, "name": c, "ap": round(0.5 - 0.12 * i, 6)}
            for i, c in enumerate(classes)
        ],
    }
    write(os.path.join(out, "eval", "val_report.json"), dump_json(report))

    predictions = []
    for image_id in range(1, 5):
        for k in range(3):
            predictions.append({
                "image_id": image_id,
                "category_id": k + 1,
                "bbox": [10.0 * k + image_id, 20.0 + 5 * k, 32.5 + k, 28.0 + 2 * k],
                "score": round(0.95 - 0.1 * k - 0.01 * image_id, 4),
            })
    write(os.path.join(out, "predictions", "val_predictions.json"), dump_json(predictions))


if __name__ == "__main__":
    main()
