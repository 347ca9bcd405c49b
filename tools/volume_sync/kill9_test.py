"""Crash-safety test: volume_sync killed with SIGKILL at random moments.

volume_sync promises that a destination is never left inconsistent, however
a run ends:

  * a file under its final name is complete: its bytes equal some complete
    version the source file has had (copies go to `.<name>.tmp-<pid>-<rand>`,
    are made durable, then renamed);
  * every entry of `<dst>/.volume_sync_manifest.json` describes the
    destination file exactly (size and sha256 of its bytes), so the next run
    may trust the manifest and skip files without reading them;
  * the next run removes stale temp files and finishes the job.

This test generates a 200-file source tree (nested folders, sizes
log-uniform from 0 B to 4 MiB, empty files, names with spaces, quotes,
backslashes and non-ASCII characters, a hidden file, and a foreign
`.x.tmp-...` file that must never be copied), then runs randomised trials.
Each trial may mutate the source (rewrite files, some with the same size;
add; delete), starts volume_sync (1 or 4 threads, sometimes --delete or
--verify sha256), SIGKILLs it after a delay calibrated from timed full and
no-op runs so that kills rotate through start-up/scan, copying, and
commit/after the end (sometimes twice in a row, killing a run that resumes
a killed one), and checks after every kill:

  (a) no final-name file in dst differs from every version the source has
      ever had at that path (the test keeps a sha256 history per path);
  (b) the manifest, if present, parses and each entry matches its dst file's
      size and sha256;

then re-runs volume_sync to completion with --delete and checks:

  (c) dst equals src (same relative paths besides the manifest, same bytes,
      same mtime_ns), no temp files remain, the manifest lists exactly the
      source files with the right size, sha256 and mtime_ns;
  (d) a second re-run copies nothing.

Afterwards it checks that --dry_run writes nothing (dst byte-identical,
a missing dst is not created), --include/--exclude glob filtering (and
--delete limited to the filtered set), and exit code 2 naming the path for a
missing --src or a --dst whose parent is missing.

Python standard library only. Usage:
  python3 kill9_test.py --binary PATH --tmp DIR [--trials 20] [--seed S]
"""

import argparse
import hashlib
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import time

MANIFEST = ".volume_sync_manifest.json"
MAX_SIZE = 4 << 20  # Largest generated file: 4 MiB.

# Paths that exercise name handling: spaces, quotes and backslashes (JSON
# escaping in the manifest), non-ASCII (UTF-8 in paths and JSON), deep
# nesting, a hidden file (must be copied) and a foreign in-progress temp
# file (must not be).
SPECIAL_NAMES = [
    "with space/file name 1.bin",
    "with space/ leading and trailing .txt",
    "unicode/résumé ünïcödé.bin",
    "unicode/日本語/チェックポイント.ckpt",
    "unicode/emoji 🙂.json",
    "odd/quote\"and'apos.txt",
    "odd/back\\slash.bin",
    "odd/100% [brackets] {braces}*?.bin",
    "deep/a/b/c/d/e/f/g/leaf.ckpt",
    "ckpt/.hidden_config",
]
FOREIGN_TEMP = "ckpt/.model.ckpt.tmp-99999-deadbeef"
FOLDERS = ["", "ckpt", "ckpt/epoch_001", "ckpt/epoch_002", "logs", "logs/tb",
           "tmp", "a/tmp", "deep/a", "deep/a/b", "with space", "unicode"]
# No file is named checkpoints.json: volume_sync would then gate the .ckpt
# files of that folder on it, which is not what this test is about.
EXTS = ["ckpt", "bin", "json", "txt", "pt"]


class TestFailure(Exception):
    pass


def is_temp_name(name):
    """Names volume_sync treats as in-progress writes (its own or others')."""
    return name.startswith(".") and ".tmp-" in name


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(1 << 20)
            if not block:
                return h.hexdigest()
            h.update(block)


def list_files(root):
    """Sorted relative paths of the files under root ([] if it is missing)."""
    out = []
    if not os.path.isdir(root):
        return out
    for dirpath, _, files in os.walk(root):
        for name in files:
            out.append(os.path.relpath(os.path.join(dirpath, name), root))
    return sorted(out)


def snapshot(root):
    """Everything a write could change: every entry's type, size, mtime, bytes."""
    snap = {}
    if not os.path.exists(root):
        return None
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            rel = os.path.relpath(full, root)
            digest = sha256_file(full) if name in files else None
            snap[rel] = (st.st_mode, st.st_size if digest else 0, st.st_mtime_ns, digest)
    return snap


def random_size(rng):
    """Log-uniform in [0, MAX_SIZE]: as many 10-byte files as 1-MiB ones."""
    return int(math.exp(rng.uniform(0.0, math.log(MAX_SIZE + 1)))) - 1


class SourceTree:
    """The source folder plus every version each path has ever had."""

    def __init__(self, root, rng):
        self.root = root
        self.rng = rng
        self.current = {}  # rel -> (size, sha256) of what is there now
        self.history = {}  # rel -> {sha256 of every version ever written}
        self.serial = 0

    def write(self, rel, size=0, data=None):
        """Writes `data` (or `size` random bytes) to rel, recording the version."""
        if data is None:
            data = self.rng.randbytes(size)
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        old_mtime = os.stat(path).st_mtime_ns if os.path.exists(path) else None
        with open(path, "wb") as f:
            f.write(data)
        if old_mtime is not None and os.stat(path).st_mtime_ns == old_mtime:
            # Coarse timestamps could hide a rewrite; a real writer's later
            # mtime differs, so make sure ours does too.
            os.utime(path, ns=(old_mtime + 10**9, old_mtime + 10**9))
        digest = hashlib.sha256(data).hexdigest()
        self.history.setdefault(rel, set()).add(digest)
        if not is_temp_name(os.path.basename(rel)):
            self.current[rel] = (len(data), digest)

    def remove(self, rel):
        os.unlink(os.path.join(self.root, rel))
        del self.current[rel]

    def new_name(self):
        self.serial += 1
        folder = self.rng.choice(FOLDERS + ["added", "added/nested dir"])
        stem = f"file_{self.serial:04d}"
        if self.rng.random() < 0.1:
            stem += " nouveau é"
        return os.path.join(folder, f"{stem}.{self.rng.choice(EXTS)}")

    def generate(self, count):
        names = list(SPECIAL_NAMES)
        while len(names) < count:
            names.append(self.new_name())
        for i, rel in enumerate(names):
            self.write(rel, 0 if i % 67 == 5 else random_size(self.rng))  # a few empty
        self.write(FOREIGN_TEMP, 1000)
        os.sync()  # so volume_sync's own flushes do not also pay for ours

    def mutate(self, intensity):
        """Rewrites, adds and deletes files; returns a short description."""
        rng = self.rng
        files = sorted(self.current)
        n_rewrite = min(len(files), max(1, int(len(files) * intensity * rng.random())))
        same_size = 0
        for rel in rng.sample(files, n_rewrite):
            size = self.current[rel][0]
            if rng.random() < 0.5:  # Same size: only the mtime and bytes tell.
                same_size += 1
                self.write(rel, size)
            else:
                self.write(rel, random_size(rng))
        n_add = rng.randrange(0, 6)
        for _ in range(n_add):
            self.write(self.new_name(), random_size(rng))
        n_del = rng.randrange(0, 6)
        for rel in rng.sample(sorted(self.current), min(n_del, len(self.current) - 10)):
            self.remove(rel)
        os.sync()
        return f"rewrote {n_rewrite} ({same_size} same size), +{n_add} -{n_del}"


class Tester:
    def __init__(self, args):
        self.binary = os.path.abspath(args.binary)
        self.tmp = os.path.abspath(args.tmp)
        self.rng = random.Random(args.seed)
        self.seed = args.seed
        self.trials = args.trials
        self.src = os.path.join(self.tmp, "src")
        self.dst = os.path.join(self.tmp, "dst")
        self.tree = SourceTree(self.src, self.rng)
        self.runs = 0

    # -- running the binary -------------------------------------------------

    def run(self, args, dst=None, src=None, kill_after=None, expect_rc=0):
        """Runs volume_sync. With kill_after, SIGKILLs it after that many
        seconds if still running. Returns (rc, summary or None, seconds, killed)."""
        self.runs += 1
        cmd = [self.binary, "--src", src or self.src, "--dst", dst or self.dst] + list(args)
        out_path = os.path.join(self.tmp, "stdout.txt")
        err_path = os.path.join(self.tmp, "stderr.txt")
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            start = time.monotonic()
            proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
            killed = False
            if kill_after is not None:
                deadline = start + kill_after
                while proc.poll() is None and time.monotonic() < deadline:
                    time.sleep(min(0.002, max(0.0, deadline - time.monotonic())))
                if proc.poll() is None:
                    os.kill(proc.pid, signal.SIGKILL)
                    killed = True
            rc = proc.wait()
            seconds = time.monotonic() - start
        with open(out_path, encoding="utf-8", errors="replace") as f:
            self.last_stdout = f.read()
        with open(err_path, encoding="utf-8", errors="replace") as f:
            self.last_stderr = f.read()
        if killed:
            return rc, None, seconds, True
        if expect_rc is not None and rc != expect_rc:
            raise TestFailure(f"{' '.join(cmd)}\n  exited {rc}, expected {expect_rc}\n"
                              f"  stdout: {self.last_stdout[-2000:]}\n"
                              f"  stderr: {self.last_stderr[-2000:]}")
        summary = None
        for line in reversed(self.last_stdout.splitlines()):
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict) and "copied" in obj:
                summary = obj
                break
        if rc == 0 and summary is None:
            raise TestFailure(f"{' '.join(cmd)}\n  printed no JSON summary line "
                              f"{{\"copied\":N,...}} on stdout:\n{self.last_stdout[-2000:]}")
        return rc, summary, seconds, False

    # -- invariants ---------------------------------------------------------

    def load_manifest(self, dst, required):
        path = os.path.join(dst, MANIFEST)
        if not os.path.exists(path):
            if required:
                raise TestFailure(f"no manifest at {path} after a completed run")
            return None
        try:
            with open(path, encoding="utf-8") as f:
                manifest = json.load(f)
        except ValueError as e:
            with open(path, "rb") as f:
                head = f.read(300)
            raise TestFailure(f"manifest {path} does not parse ({e}); starts {head!r}")
        if manifest.get("version") != 1 or not isinstance(manifest.get("files"), dict):
            raise TestFailure(f"manifest lacks version 1 / files object: {str(manifest)[:300]}")
        return manifest["files"]

    def check_after_kill(self):
        """(a) final names hold some source version, (b) manifest is exact.
        Returns (final files, manifest entries, temp files) for the summary."""
        errors = []
        finals, temps = 0, 0
        hashes = {}
        for rel in list_files(self.dst):
            if rel == MANIFEST:
                continue
            if is_temp_name(os.path.basename(rel)):
                temps += 1
                continue
            finals += 1
            digest = sha256_file(os.path.join(self.dst, rel))
            hashes[rel] = digest
            if rel not in self.tree.history:
                errors.append(f"(a) dst has {rel!r}, a path the source never had")
            elif digest not in self.tree.history[rel]:
                size = os.path.getsize(os.path.join(self.dst, rel))
                errors.append(f"(a) dst {rel!r} ({size} bytes, sha256 {digest[:12]}) matches "
                              f"none of the {len(self.tree.history[rel])} versions the source "
                              f"had: a torn or partial file under its final name")
        entries = self.load_manifest(self.dst, required=False) or {}
        for rel, entry in sorted(entries.items()):
            path = os.path.join(self.dst, rel)
            if rel not in hashes:
                errors.append(f"(b) manifest lists {rel!r} but dst has no such file")
                continue
            size = os.path.getsize(path)
            if entry.get("size") != size or entry.get("sha256") != hashes[rel]:
                errors.append(f"(b) manifest entry {rel!r} size={entry.get('size')} "
                              f"sha256={str(entry.get('sha256'))[:12]} but dst file has "
                              f"size={size} sha256={hashes[rel][:12]}")
        if errors:
            raise TestFailure("\n".join(errors[:20]))
        return finals, len(entries), temps

    def check_synced(self, src=None, dst=None, expected=None):
        """(c) dst mirrors src: paths, bytes, mtimes, manifest, no temp files."""
        src = src or self.src
        dst = dst or self.dst
        if expected is None:
            expected = {rel: v for rel, v in self.tree.current.items()}
        errors = []
        got = [rel for rel in list_files(dst) if rel != MANIFEST]
        if FOREIGN_TEMP in got:
            errors.append(f"(c) copied {FOREIGN_TEMP!r}, another program's in-progress "
                          f"write (names starting with '.' containing '.tmp-' are skipped)")
        temps = [rel for rel in got if is_temp_name(os.path.basename(rel))]
        if set(temps) - {FOREIGN_TEMP}:
            errors.append(f"(c) temp files remain after a completed run: {temps[:5]}")
        got = set(got) - set(temps)
        missing = sorted(set(expected) - got)
        extra = sorted(got - set(expected))
        if missing:
            errors.append(f"(c) {len(missing)} source files missing in dst: {missing[:5]}")
        if extra:
            errors.append(f"(c) {len(extra)} dst files not in source: {extra[:5]}")
        entries = self.load_manifest(dst, required=True)
        if set(entries) != set(expected):
            errors.append(f"(c) manifest lists {len(entries)} files, source has "
                          f"{len(expected)}; only in manifest: "
                          f"{sorted(set(entries) - set(expected))[:5]}, missing: "
                          f"{sorted(set(expected) - set(entries))[:5]}")
        for rel in sorted(got & set(expected)):
            size, digest = expected[rel]
            dpath = os.path.join(dst, rel)
            dst_st = os.stat(dpath)
            src_mtime = os.stat(os.path.join(src, rel)).st_mtime_ns
            dst_digest = sha256_file(dpath)
            if dst_st.st_size != size or dst_digest != digest:
                errors.append(f"(c) dst {rel!r} has {dst_st.st_size} bytes sha256 "
                              f"{dst_digest[:12]}, source {size} bytes {digest[:12]}")
            if dst_st.st_mtime_ns != src_mtime:
                errors.append(f"(c) dst {rel!r} mtime_ns {dst_st.st_mtime_ns} != source "
                              f"{src_mtime}")
            entry = entries.get(rel)
            if entry is not None and (entry.get("size") != size or entry.get("sha256") != digest
                                      or entry.get("mtime_ns") != src_mtime):
                errors.append(f"(c) manifest entry {rel!r} = {entry} but source has "
                              f"size={size} sha256={digest} mtime_ns={src_mtime}")
        if errors:
            raise TestFailure("\n".join(errors[:20]))

    # -- the trials ----------------------------------------------------------

    def pending_bytes(self):
        """Bytes a run would copy now: files absent or different in dst."""
        total = 0
        for rel, (size, _) in self.tree.current.items():
            d = os.path.join(self.dst, rel)
            try:
                dst_st = os.stat(d)
            except FileNotFoundError:
                total += size
                continue
            s = os.stat(os.path.join(self.src, rel))
            if dst_st.st_size != s.st_size or dst_st.st_mtime_ns != s.st_mtime_ns:
                total += size
        return total

    def complete(self, label):
        """Re-run to completion with --delete, then (c), then (d)."""
        threads = self.rng.choice([1, 4])
        _, s1, t1, _ = self.run(["--delete", "--threads", str(threads)])
        self.check_synced()
        n = len(self.tree.current)
        if s1.get("copied", 0) + s1.get("skipped", 0) != n:
            raise TestFailure(f"{label}: completing run reported copied={s1.get('copied')} + "
                              f"skipped={s1.get('skipped')} != {n} source files")
        _, s2, t2, _ = self.run(["--delete"])
        if s2.get("copied") != 0 or s2.get("deleted", 0) != 0:
            raise TestFailure(f"(d) {label}: second re-run over an unchanged source reported "
                              f"{s2} (expected copied=0, deleted=0)")
        return s1, t1, t2

    def main(self):
        os.makedirs(self.tmp, exist_ok=True)
        for sub in ("src", "dst"):
            shutil.rmtree(os.path.join(self.tmp, sub), ignore_errors=True)
        t = time.monotonic()
        self.tree.generate(200)
        total = sum(size for size, _ in self.tree.current.values())
        print(f"source: {len(self.tree.current)} files, {total / 2**20:.1f} MiB, "
              f"seed {self.seed} (generated in {time.monotonic() - t:.1f}s)")

        # Calibration: a full copy into an empty dst (twice, the faster one
        # counts: the first also warms caches), then a no-op pass.
        try:
            t_full = math.inf
            for _ in range(2):
                shutil.rmtree(self.dst, ignore_errors=True)
                _, s, secs, _ = self.run(["--threads", "4"])
                t_full = min(t_full, secs)
                self.check_synced()
                if s.get("copied") != len(self.tree.current):
                    raise TestFailure(f"reported {s}, expected "
                                      f"copied={len(self.tree.current)}")
            _, s, t_noop, _ = self.run([])
            if s.get("copied") != 0:
                raise TestFailure(f"(d) the re-run reported {s}, expected copied=0")
        except TestFailure as e:
            raise TestFailure(f"first full copy into an empty dst (no kill):\n{e}")
        rate = max(t_full - t_noop, 0.01) / max(total, 1)  # seconds per byte
        print(f"calibration: full copy {t_full:.2f}s, no-op {t_noop:.3f}s")

        self.stats = {"killed": 0, "mid": 0, "finished": 0}
        for trial in range(self.trials):
            self.trial(trial, t_noop, rate)
        print(f"kills: {self.stats['killed']} killed ({self.stats['mid']} mid-copy), "
              f"{self.stats['finished']} finished first")
        if self.trials >= 10 and self.stats["mid"] < 3:
            raise TestFailure(f"only {self.stats['mid']} kills landed mid-copy: the delay "
                              f"calibration did not work, so crash safety went untested")

        self.check_dry_run()
        self.check_filters()
        self.check_errors()
        print(f"PASS: {self.trials} kill trials, dry run, filters and errors "
              f"({self.runs} volume_sync runs)")

    def trial(self, trial, t_noop, rate):
        """One trial: maybe mutate, 1-2 killed runs with checks (a)(b), then
        completion with (c)(d). Failures carry what the trial had done."""
        rng = self.rng
        if trial % 3 == 0 or rng.random() < 0.1:
            shutil.rmtree(self.dst)
            what = "fresh dst"
        else:
            what = self.tree.mutate(rng.choice([0.05, 0.2, 0.6]))
        notes = []
        try:
            for k in range(2 if rng.random() < 0.3 else 1):
                if k and rng.random() < 0.5:
                    what += "; then " + self.tree.mutate(0.1)
                before = self.pending_bytes()
                # A run is ~t_noop of start-up, scan and planning, then ~work
                # seconds of copying. Rotate the kill through the three
                # phases so every one is hit: early (start-up / scan), mid
                # (copying) and late (commit, manifest, past the estimate,
                # which is rough, so some runs finish first).
                work = rate * before
                phase = ["early", "mid", "late"][(trial + k) % 3]
                delay = {"early": rng.uniform(0.0, t_noop),
                         "mid": t_noop + rng.uniform(0.0, 1.0) * work,
                         "late": t_noop + work + rng.uniform(0.0, 1.5) * (t_noop + work)}[phase]
                args = ["--threads", str(rng.choice([1, 4]))]
                if rng.random() < 0.4:
                    args.append("--delete")
                if rng.random() < 0.25:
                    args += ["--verify", "sha256"]
                plan = f"{phase} kill after {delay:.3f}s of ~{t_noop + work:.3f}s"
                notes.append(f"{' '.join(args)}: {plan}")
                rc, _, secs, killed = self.run(args, kill_after=delay, expect_rc=None)
                notes[-1] = (f"{' '.join(args)}: {plan}: "
                             f"{'killed' if killed else 'done'} at {secs:.3f}s")
                if not killed and rc != 0:
                    raise TestFailure(f"exited {rc} without being killed:\n"
                                      f"{self.last_stderr[-2000:]}")
                finals, entries, temps = self.check_after_kill()
                after = self.pending_bytes()
                if killed:
                    self.stats["killed"] += 1
                    # Mid-copy: some of the work was done, some was not.
                    if 0 < after < before or temps:
                        self.stats["mid"] += 1
                else:
                    self.stats["finished"] += 1
                done = 100.0 * (before - after) / before if before else 100.0
                notes[-1] += (f", {done:.0f}% of {before / 2**20:.1f} MiB done -> "
                              f"{finals} files, {entries} in manifest, {temps} temp")
            s1, t1, t2 = self.complete(f"trial {trial}")
        except TestFailure as e:
            raise TestFailure(f"trial {trial}: {what}\n" + "".join(f"    {n}\n" for n in notes)
                              + str(e))
        print(f"trial {trial:2d}: {what}")
        for note in notes:
            print(f"    {note}")
        print(f"    resume --delete: copied={s1.get('copied')} skipped={s1.get('skipped')} "
              f"deleted={s1.get('deleted')} {t1:.2f}s; re-run copied=0 {t2:.3f}s: ok")

    # -- dry run, filters, bad input -----------------------------------------

    def check_dry_run(self):
        what = self.tree.mutate(0.2)
        self.tree.write("dry_run_added_file.bin", 1234)  # an ASCII name to look for
        before = snapshot(self.dst)
        _, s, _, _ = self.run(["--dry_run", "--delete"])
        if snapshot(self.dst) != before:
            raise TestFailure("--dry_run changed the destination tree")
        if "dry_run_added_file.bin" not in self.last_stdout:
            raise TestFailure(f"--dry_run did not print the planned copy of "
                              f"dry_run_added_file.bin:\n{self.last_stdout[-2000:]}")
        fresh = os.path.join(self.tmp, "dry_run_new_dst")
        shutil.rmtree(fresh, ignore_errors=True)
        self.run(["--dry_run"], dst=fresh)
        if os.path.exists(fresh):
            raise TestFailure(f"--dry_run created the destination {fresh}")
        self.complete("after dry run")
        print(f"dry run: {what}; dst unchanged, missing dst not created: ok")

    def check_filters(self):
        src = os.path.join(self.tmp, "filter_src")
        shutil.rmtree(src, ignore_errors=True)
        names = ["a.ckpt", "sub/b.ckpt", "sub/deep/c.ckpt", "notes.txt", "sub/d.bin",
                 "tmp/e.ckpt", "tmp/f.txt", "a/tmp/g.ckpt", "tmpfile.ckpt", "x.ckpt.bak"]
        tree = SourceTree(src, random.Random(self.seed + 1))
        for rel in names:
            tree.write(rel, 100 + len(rel))
        ckpt = {r for r in names if r.endswith(".ckpt")}
        not_tmp = {r for r in names if not r.startswith("tmp/")}
        cases = [
            (["--include", "*.ckpt"], ckpt),
            (["--exclude", "tmp/*"], not_tmp),
            (["--include", "*.ckpt", "--exclude", "tmp/*"], ckpt & not_tmp),
        ]
        for i, (args, want) in enumerate(cases):
            dst = os.path.join(self.tmp, f"filter_dst{i}")
            shutil.rmtree(dst, ignore_errors=True)
            self.run(args, src=src, dst=dst)
            try:
                self.check_synced(src=src, dst=dst,
                                  expected={r: tree.current[r] for r in want})
            except TestFailure as e:
                raise TestFailure(f"filter {args}: expected exactly {sorted(want)}\n{e}")
        # --delete only touches files the filters select.
        dst = os.path.join(self.tmp, "filter_dst0")
        for rel in ("gone.ckpt", "keep_me.txt"):
            with open(os.path.join(dst, rel), "wb") as f:
                f.write(b"dst only")
        _, s, _, _ = self.run(["--include", "*.ckpt", "--delete"], src=src, dst=dst)
        if os.path.exists(os.path.join(dst, "gone.ckpt")) or s.get("deleted") != 1:
            raise TestFailure(f"--include '*.ckpt' --delete should delete dst-only gone.ckpt "
                              f"(summary {s})")
        if not os.path.exists(os.path.join(dst, "keep_me.txt")):
            raise TestFailure("--include '*.ckpt' --delete deleted keep_me.txt, which the "
                              "filter does not select")
        print("filters: --include '*.ckpt', --exclude 'tmp/*', both, --delete within "
              "the filter: ok")

    def check_errors(self):
        missing = os.path.join(self.tmp, "no_such_src")
        self.run([], src=missing, expect_rc=2)
        if missing not in self.last_stderr:
            raise TestFailure(f"missing --src: stderr does not name {missing}:\n"
                              f"{self.last_stderr}")
        bad_dst = os.path.join(self.tmp, "no_such_parent", "dst")
        self.run([], dst=bad_dst, expect_rc=2)
        if "no_such_parent" not in self.last_stderr:
            raise TestFailure(f"--dst with a missing parent: stderr does not name "
                              f"{bad_dst}:\n{self.last_stderr}")
        if os.path.exists(bad_dst):
            raise TestFailure(f"{bad_dst} was created although its parent was missing")
        print("errors: missing --src and --dst parent exit 2 naming the path: ok")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--tmp", required=True, help="scratch folder")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=20240607)
    args = parser.parse_args()
    if not os.access(args.binary, os.X_OK):
        print(f"FAIL: {args.binary} is not an executable")
        return 1
    start = time.monotonic()
    tester = Tester(args)
    try:
        tester.main()
    except TestFailure as e:
        print(f"FAIL (seed {args.seed}, after {time.monotonic() - start:.1f}s):\n{e}")
        return 1
    print(f"total {time.monotonic() - start:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
