"""volume_sync against cp -r and rsync on many small files.

Checkpoint folders hold thousands of small files (optimizer shards, metrics,
configs), so per-file costs dominate: a sync tool must copy them about as
fast as `cp -r` and must skip unchanged ones about as fast as `rsync -a`
(which compares size and mtime, as volume_sync's manifest does).

Generates N files (100 folders, sizes log-uniform 1 KiB-64 KiB, fixed seed;
reused across runs when already there), then measures, each once to warm up
and then --repeats times, the commands of a pass interleaved (median; the
page cache is not dropped, so every timed run reads a warm source):

  1. full copy into an empty destination:
       cp -r SRC DST;  cp -r SRC DST && sync  (the durable peer: volume_sync
       fsyncs every file);  volume_sync --src SRC --dst DST --progress none
  2. no-op pass over an already synced destination:
       rsync -a SRC/ DST/;  volume_sync re-run

`sync` runs untimed before each timed run so one run's dirty pages are not
flushed during the next. bench/volume_sync_bench.sh is the entry point.
"""

import argparse
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import time


def generate(src, files, seed):
    """Writes `files` files into 100 folders unless a matching tree is there."""
    stamp_path = src.rstrip("/") + ".stamp"  # beside src, so it is not copied
    stamp = f"files={files} seed={seed} sizes=1KiB-64KiB log-uniform\n"
    if os.path.exists(stamp_path) and open(stamp_path).read() == stamp:
        return
    shutil.rmtree(src, ignore_errors=True)
    if os.path.exists(stamp_path):
        os.unlink(stamp_path)
    rng = random.Random(seed)
    folders = 100
    per_folder = math.ceil(files / folders)
    for i in range(files):
        folder = os.path.join(src, f"shard_{i // per_folder:03d}")
        os.makedirs(folder, exist_ok=True)
        size = int(math.exp(rng.uniform(math.log(1024), math.log(64 * 1024))))
        with open(os.path.join(folder, f"part_{i % per_folder:03d}.bin"), "wb") as f:
            f.write(rng.randbytes(size))
    with open(stamp_path, "w") as f:
        f.write(stamp)


def tree_stats(root):
    count, total = 0, 0
    for dirpath, _, names in os.walk(root):
        for name in names:
            count += 1
            total += os.path.getsize(os.path.join(dirpath, name))
    return count, total


def sh(cmd):
    """Runs cmd (a list), fails loudly; returns stdout."""
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    return proc.stdout


def measure(cases, repeats):
    """cases: {key: (label, setup, steps)}. Each round runs every case once,
    setup() untimed, then the command lists in steps timed together; round 0
    is the warm-up. Interleaving the cases spreads slow drift of a shared
    machine over all of them. Returns {key: sorted times}."""
    times = {key: [] for key in cases}
    for round_index in range(repeats + 1):
        for key, (label, setup, steps) in cases.items():
            setup()
            sh(["sync"])
            start = time.perf_counter()
            for cmd in steps:
                sh(cmd)
            elapsed = time.perf_counter() - start
            if round_index:
                times[key].append(elapsed)
            print(f"  round {round_index} {label}: {elapsed:.3f}s", file=sys.stderr)
    return {key: sorted(t) for key, t in times.items()}


def summary_of(stdout):
    for line in reversed(stdout.splitlines()):
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and "copied" in obj:
            return obj
    sys.exit(f"FAIL: volume_sync printed no JSON summary:\n{stdout[-2000:]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", required=True)
    parser.add_argument("--files", type=int, default=10000)
    parser.add_argument("--dir", default="/tmp/volume_sync_bench")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-rsync", action="store_true")
    parser.add_argument("vs_args", nargs="*", help="extra volume_sync flags (after --)")
    args = parser.parse_args()

    binary = os.path.abspath(args.bin)
    src = os.path.join(args.dir, "src")
    dst = os.path.join(args.dir, "dst")
    os.makedirs(args.dir, exist_ok=True)
    t = time.perf_counter()
    generate(src, args.files, args.seed)
    count, total = tree_stats(src)
    print(f"source ready in {time.perf_counter() - t:.1f}s", file=sys.stderr)
    vs = [binary, "--src", src, "--dst", dst, "--progress", "none"] + args.vs_args

    def empty_dst():
        shutil.rmtree(dst, ignore_errors=True)

    def check_full_copy():
        # Guard against timing a tool that silently does nothing.
        got, _ = tree_stats(dst)
        if got != count + 1:  # + the manifest
            sys.exit(f"FAIL: volume_sync left {got} files in {dst}, expected {count} + manifest")

    rows = measure({
        "cp": ("cp -r", empty_dst, [["cp", "-r", src, dst]]),
        "cp_sync": ("cp -r + sync", empty_dst, [["cp", "-r", src, dst], ["sync"]]),
        "vs_full": ("volume_sync full", empty_dst, [vs]),
    }, args.repeats)
    check_full_copy()
    s = summary_of(sh(vs))
    if s.get("copied") != 0:
        sys.exit(f"FAIL: volume_sync re-run copied {s.get('copied')} files, expected 0")
    # No-op passes: volume_sync over its own synced dst, rsync over a copy
    # rsync made (each tool reads the metadata it wrote).
    rsync_dst = dst + "_rsync"
    cases = {"vs_noop": ("volume_sync no-op", lambda: None, [vs])}
    if not args.no_rsync:
        shutil.rmtree(rsync_dst, ignore_errors=True)
        sh(["rsync", "-a", src + "/", rsync_dst + "/"])
        cases["rsync_noop"] = ("rsync -a no-op", lambda: None,
                               [["rsync", "-a", src + "/", rsync_dst + "/"]])
    rows.update(measure(cases, args.repeats))
    empty_dst()
    shutil.rmtree(rsync_dst, ignore_errors=True)

    med = {k: statistics.median(v) for k, v in rows.items()}
    print(f"volume_sync benchmark: {count} files in 100 folders, "
          f"{total / 2**20:.1f} MiB (log-uniform 1-64 KiB, seed {args.seed}), "
          f"{os.cpu_count()} cores, scratch {args.dir}")
    print(f"median of {args.repeats} after 1 warm-up, seconds:")
    print(f"  {'pass':<10} {'command':<24} {'median':>8}   runs")
    names = [("full copy", "cp -r", "cp"), ("", "cp -r + sync", "cp_sync"),
             ("", "volume_sync", "vs_full"), ("no-op", "rsync -a", "rsync_noop"),
             ("", "volume_sync", "vs_noop")]
    for phase, label, key in names:
        if key in med:
            runs = " ".join(f"{t:.3f}" for t in rows[key])
            print(f"  {phase:<10} {label:<24} {med[key]:8.3f}   {runs}")
    print(f"volume_sync speed = {med['cp'] / med['vs_full']:.2f}× cp -r, "
          f"{med['cp_sync'] / med['vs_full']:.2f}× cp -r + sync (above 1 = faster)")
    if "rsync_noop" in med:
        print(f"no-op: volume_sync {med['vs_noop']:.3f} s vs rsync {med['rsync_noop']:.3f} s "
              f"({med['rsync_noop'] / med['vs_noop']:.2f}× rsync's speed)")
    else:
        print(f"no-op: volume_sync {med['vs_noop']:.3f} s (rsync not installed)")


if __name__ == "__main__":
    main()
