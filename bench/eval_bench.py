"""End-to-end evaluate_map benchmark against the Python peers, in one run.

Each evaluator runs in a fresh process on the same files (JSON in, 12 stats
out): cvtools' evaluate_map, pycocotools 2.0.11, faster-coco-eval, hotcoco
and ultrafast-pycocotools. Prints wall time (best of --repeat), peak RSS,
the ratio against evaluate_map, and whether each peer's stats equal
pycocotools' bit for bit.

Usage (scripts/bench_eval.sh sets up the peers' venv and builds -c opt):
  python3 bench/eval_bench.py --binary bazel-bin/tools/evaluate_map/evaluate_map \
      --python ~/.cache/cvtools/bench-venv/bin/python --data /tmp/cvtools-evalbench
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

PEERS = {
    "pycocotools": ("from pycocotools.coco import COCO\n"
                    "from pycocotools.cocoeval import COCOeval as E\n"),
    "faster-coco-eval": "from faster_coco_eval import COCO, COCOeval_faster as E\n",
    "hotcoco": "from hotcoco import COCO, COCOeval as E\n",
    "ultrafast-pycocotools": "from ultrafast_pycocotools import COCO, COCOeval as E\n",
}

RUN = """
import contextlib, io, sys
with contextlib.redirect_stdout(io.StringIO()):
    gt = COCO(sys.argv[1])
    dt = gt.loadRes(sys.argv[2])
    e = E(gt, dt, "bbox")
    e.evaluate()
    e.accumulate()
    e.summarize()
print(repr([float(s) for s in e.stats]))
"""


def run(argv):
    """Runs argv; returns (seconds, stdout)."""
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True)
    out, err = proc.stdout, proc.stderr
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed: {err.decode()[-2000:]}")
    return seconds, out.decode()


def peak_rss_mib(argv):
    """Peak RSS of one fresh run (os.wait4 of that child alone)."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(proc.pid, 0)
    return usage.ru_maxrss / 1024.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--python", required=True, help="interpreter with the peers")
    parser.add_argument("--data", required=True, help="folder with gt.json and dt.json")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip", default="", help="comma-separated peers to skip")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    gt = os.path.join(args.data, "gt.json")
    dt = os.path.join(args.data, "dt.json")
    out_json = os.path.join(tempfile.mkdtemp(), "report.json")
    commands = {"cvtools evaluate_map": [args.binary, f"--gt={gt}", f"--dt={dt}",
                                         f"--out={out_json}", f"--threads={args.threads}"]}
    skip = set(filter(None, args.skip.split(",")))
    for name, imports in PEERS.items():
        if name not in skip:
            commands[name] = [args.python, "-c", imports + RUN, gt, dt]
    rows = {}
    for name, argv in commands.items():
        repeat = 1 if name == "pycocotools" else args.repeat
        times = []
        for _ in range(repeat):
            seconds, out = run(argv)
            times.append(seconds)
        if name == "cvtools evaluate_map":
            with open(out_json) as f:
                stats = json.load(f)["stats"]
        else:
            stats = eval(out.strip().splitlines()[-1])  # A list of floats we printed.
        rows[name] = (min(times), peak_rss_mib(argv), stats)
        print(f"  {name}: {min(times):.3f} s", file=sys.stderr)
    ours = rows["cvtools evaluate_map"][0]
    oracle = rows.get("pycocotools", (None, None, None))[2]
    print(f"{'evaluator':<24} {'time (s)':>9} {'x evaluate_map':>15} {'peak RSS (MiB)':>15}"
          f"  stats == pycocotools")
    for name, (seconds, rss, stats) in rows.items():
        same = "n/a" if oracle is None else ("yes" if stats == oracle else
                                             f"no (max |d| {max(abs(a - b) for a, b in zip(stats, oracle)):.1e})")
        print(f"{name:<24} {seconds:>9.3f} {seconds / ours:>15.2f} {rss:>15.0f}  {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
