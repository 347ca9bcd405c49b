#!/usr/bin/env python3
"""Checks that an MLflow run holds exactly what a run directory says.

  check_run.py --tracking_uri http://127.0.0.1:PORT --run_dir DIR [--experiment NAME]
  check_run.py --file_store path/to/mlruns          --run_dir DIR [--experiment NAME]

Used by mlflow_push's integration tests: push DIR with the C++ tool, then run
this with the Python MLflow client (MlflowClient), which is the reference
reader. Exit 0 when everything matches; otherwise a diff of every mismatch on
stdout and exit 1 (exit 2 for bad usage or an unreadable or inconsistent
run directory).

Finding the run, first match wins:
  1. --run_id;
  2. DIR/.mlflow_push_state.json, written by mlflow_push: {"run_id": ...}
     (a "run_key" there is used for the duplicate check below);
  3. the tag cvtools.run_key = --run_key (or the state file's run_key),
     searched over --experiment, else the state file's experiment_id, else
     every experiment (the oldest match wins);
  4. last resort: tag mlflow.runName = run.json run_name and start_time =
     run.json start_time_ms.
Whenever a run key is known, all active runs with that key are counted: more
than one means a retried create left "ghost" runs, which is a failure.

What is compared (the run-directory contract is in
testdata/run_dir_small/generate.py):
  * params == run.json "hyperparameters" (string values, same key set);
  * every point of metrics.jsonl (name, value, step, timestamp_ms) appears
    exactly once in client.get_metric_history(name), values compared exactly
    (the pusher must write doubles that round-trip); no other metric keys
    (--allow_metric adds exceptions, e.g. an "epoch" series). NaN equals NaN.
    ±Infinity also matches ±1.7976931348623157e308, which is what the SQL
    store stores for infinities (the FileStore keeps inf). The SQL store
    silently drops exact duplicates, so there only a re-sent point with a new
    timestamp shows up as a duplicate; a FileStore shows every re-send;
  * tags: mlflow.runName == run_name, cvtools.version non-empty (== the
    --cvtools_version value if given), cvtools.task == task,
    cvtools.model_name == model_name, and every run.json "tags" entry;
  * status, start_time and end_time == run.json (end_time unset while RUNNING);
  * artifacts, byte-identical (downloaded with client.download_artifacts):
      - per checkpoint in checkpoints/checkpoints.json, Lightning
        MLFlowLogger(log_model="all") layout, stem S = file name minus .ckpt:
          S/S.ckpt        the file (its size/sha256 must match the index too)
          S/aliases.txt   "['latest', 'best']" if best, else "['latest']"
          S/metadata.yaml YAML: Checkpoint (map with _every_n_train_steps,
                          mode, monitor, save_last, save_top_k,
                          save_weights_only), original_filename, score
      - plots/**/*.png, eval/**/*.json, predictions/**/*.json at the same
        relative path;
    other artifacts are listed as a note (a failure with --strict_artifacts).

File stores: MLflow 3.x keeps the `./mlruns` FileStore in maintenance mode
and, in the installed 3.17.2 (since ~3.13), refuses to open one unless
MLFLOW_ALLOW_FILE_STORE=true; --file_store sets it for this process.

Needs the Python stdlib and mlflow (PyYAML, used for metadata.yaml, is one of
mlflow's own dependencies). Run it with the mlflow venv's python, e.g.
~/.cache/cvtools/mlflow-venv/bin/python.
"""

import argparse
import collections
import glob
import hashlib
import json
import math
import os
import sys
import tempfile

# Keep the client quiet and quick: no telemetry, no network beyond the
# tracking URI, and few retries so that a dead server fails the check in
# seconds rather than after the client's ~4 minutes of backoff.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")

STATE_FILE = ".mlflow_push_state.json"

# Tag keys the pusher sets (the bookkeeping prefix is cvtools.; mlflow. is
# reserved for MLflow's system tags).
TAG_RUN_NAME = "mlflow.runName"
TAG_VERSION = "cvtools.version"
TAG_TASK = "cvtools.task"
TAG_MODEL = "cvtools.model_name"
TAG_RUN_KEY = "cvtools.run_key"

# Artifacts copied as they are: (glob under the run dir, recursive).
PLAIN_ARTIFACT_GLOBS = ["plots/**/*.png", "eval/**/*.json", "predictions/**/*.json"]

# Lightning's metadata.yaml keys (src/lightning/pytorch/loggers/mlflow.py).
METADATA_KEYS = {"Checkpoint", "original_filename", "score"}
CHECKPOINT_KEYS = {"_every_n_train_steps", "mode", "monitor", "save_last",
                   "save_top_k", "save_weights_only"}

FLOAT_MAX = sys.float_info.max


class RunDirError(Exception):
    """The run directory itself is unreadable or inconsistent (exit 2)."""


class Report:
    """Collects mismatches per section and prints them as a diff."""

    def __init__(self):
        self.sections = collections.OrderedDict()
        self.notes = []

    def add(self, section, line):
        self.sections.setdefault(section, []).append(line)

    def note(self, line):
        self.notes.append(line)

    def ok(self):
        return not self.sections

    def print(self, max_lines=30):
        for note in self.notes:
            print(f"note: {note}")
        for section, lines in self.sections.items():
            print(f"MISMATCH {section}: {len(lines)} problem(s)")
            for line in lines[:max_lines]:
                print(f"  {line}")
            if len(lines) > max_lines:
                print(f"  ... and {len(lines) - max_lines} more")


# --------------------------------------------------------------------------
# Reading the run directory


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)  # accepts NaN/Infinity tokens, as Python wrote them
    except (OSError, ValueError) as e:
        raise RunDirError(f"cannot read {path}: {e}") from e


def read_metrics(path):
    """metrics.jsonl -> list of (name, value, step, timestamp_ms)."""
    points = []
    try:
        with open(path) as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    d = json.loads(line)
                    points.append((str(d["name"]), float(d["value"]), int(d["step"]),
                                   int(d["timestamp_ms"])))
                except (ValueError, KeyError, TypeError) as e:
                    raise RunDirError(f"{path}:{lineno}: bad metric line: {e}") from e
    except FileNotFoundError:
        return []
    except OSError as e:
        raise RunDirError(f"cannot read {path}: {e}") from e
    return points


def value_key(v):
    """Canonical form of a metric value for comparisons (NaN == NaN; see doc)."""
    if math.isnan(v):
        return "NaN"
    if v == math.inf or v == FLOAT_MAX:
        return "+Inf"
    if v == -math.inf or v == -FLOAT_MAX:
        return "-Inf"
    return v


def point_text(value, step, ts):
    return f"value={value!r} step={step} timestamp={ts}"


def expected_artifacts(run_dir):
    """artifact path -> ("file", local path) or ("text", exact str) or ("metadata", entry)."""
    expected = collections.OrderedDict()
    index_path = os.path.join(run_dir, "checkpoints", "checkpoints.json")
    entries = []
    if os.path.exists(index_path):
        index = read_json(index_path)
        entries = index.get("checkpoints", [])
    for entry in entries:
        name = entry["file"]
        local = os.path.join(run_dir, "checkpoints", name)
        # The fixture itself must be consistent, or the comparison means nothing.
        try:
            with open(local, "rb") as f:
                data = f.read()
        except OSError as e:
            raise RunDirError(f"checkpoints.json lists {name}, which cannot be read: {e}") from e
        if "size" in entry and entry["size"] != len(data):
            raise RunDirError(f"{name}: size {len(data)} != index size {entry['size']}")
        if entry.get("sha256") and entry["sha256"] != hashlib.sha256(data).hexdigest():
            raise RunDirError(f"{name}: sha256 differs from checkpoints.json")
        stem = name[:-len(".ckpt")] if name.endswith(".ckpt") else os.path.splitext(name)[0]
        expected[f"{stem}/{name}"] = ("file", local)
        expected[f"{stem}/aliases.txt"] = (
            "text", "['latest', 'best']" if entry.get("best") else "['latest']")
        expected[f"{stem}/metadata.yaml"] = ("metadata", entry)
    for pattern in PLAIN_ARTIFACT_GLOBS:
        for local in sorted(glob.glob(os.path.join(run_dir, pattern), recursive=True)):
            rel = os.path.relpath(local, run_dir).replace(os.sep, "/")
            expected[rel] = ("file", local)
    return expected


# --------------------------------------------------------------------------
# Finding the run


def search_runs(client, experiment_ids, filter_string):
    from mlflow.entities import ViewType

    runs, token = [], None
    while True:
        page = client.search_runs(experiment_ids, filter_string, run_view_type=ViewType.ACTIVE_ONLY,
                                  max_results=1000, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def find_run(client, args, run, report):
    """Returns (mlflow Run, run key or None). Raises LookupError if not found."""
    state = {}
    state_path = os.path.join(args.run_dir, STATE_FILE)
    if os.path.exists(state_path):
        state = read_json(state_path)
    run_key = args.run_key or state.get("run_key")

    if args.experiment:
        exp = client.get_experiment_by_name(args.experiment)
        if exp is None:
            raise LookupError(f"experiment {args.experiment!r} does not exist")
        experiment_ids = [exp.experiment_id]
    elif state.get("experiment_id"):
        experiment_ids = [str(state["experiment_id"])]
    else:
        experiment_ids = [e.experiment_id for e in client.search_experiments()]

    def quote(s):
        return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"

    found = None
    if args.run_id:
        found, how = client.get_run(args.run_id), "--run_id"
    elif state.get("run_id"):
        found, how = client.get_run(state["run_id"]), f"{STATE_FILE}"
    elif run_key:
        runs = search_runs(client, experiment_ids, f"tags.`{TAG_RUN_KEY}` = {quote(run_key)}")
        if not runs:
            raise LookupError(f"no active run has tag {TAG_RUN_KEY} = {run_key!r}")
        found, how = min(runs, key=lambda r: r.info.start_time or 0), f"tag {TAG_RUN_KEY}"
    else:
        runs = search_runs(
            client, experiment_ids,
            f"tags.`{TAG_RUN_NAME}` = {quote(run['run_name'])} "
            f"AND attributes.start_time = {int(run['start_time_ms'])}")
        if not runs:
            raise LookupError(f"no {STATE_FILE}, no run key, and no active run named "
                              f"{run['run_name']!r} starting at {run['start_time_ms']}")
        if len(runs) > 1:
            report.add("run", f"{len(runs)} active runs named {run['run_name']!r} with the same "
                              f"start_time: {[r.info.run_id for r in runs]}")
        found, how = runs[0], "run name + start_time (no state file, no run key)"
    report.note(f"run {found.info.run_id} found by {how}")

    if state.get("tracking_uri") and args.tracking_uri and \
            state["tracking_uri"].rstrip("/") != args.tracking_uri.rstrip("/"):
        report.note(f"{STATE_FILE} names tracking_uri {state['tracking_uri']}, "
                    f"checking {args.tracking_uri}")
    if state.get("experiment_id") and str(state["experiment_id"]) != found.info.experiment_id:
        report.add("run", f"{STATE_FILE} experiment_id {state['experiment_id']} != run's "
                          f"{found.info.experiment_id}")
    if state.get("run_id") and state["run_id"] != found.info.run_id:
        report.add("run", f"{STATE_FILE} run_id {state['run_id']} != {found.info.run_id}")
    if found.info.lifecycle_stage != "active":
        report.add("run", f"lifecycle_stage is {found.info.lifecycle_stage!r}, not 'active'")
    if args.experiment and found.info.experiment_id not in experiment_ids:
        got = client.get_experiment(found.info.experiment_id).name
        report.add("run", f"run is in experiment {got!r}, not {args.experiment!r}")

    # Ghost runs: a key must map to exactly one active run.
    if run_key:
        dupes = search_runs(client, [found.info.experiment_id],
                            f"tags.`{TAG_RUN_KEY}` = {quote(run_key)}")
        if len(dupes) != 1:
            report.add("run", f"{len(dupes)} active runs carry {TAG_RUN_KEY} = {run_key!r} "
                              f"(want exactly 1): {[r.info.run_id for r in dupes]}")
    return found, run_key


# --------------------------------------------------------------------------
# The checks


def check_params(found, run, report):
    want = {str(k): str(v) for k, v in run.get("hyperparameters", {}).items()}
    got = dict(found.data.params)
    for k in sorted(want.keys() - got.keys()):
        report.add("params", f"missing   {k} = {want[k]!r}")
    for k in sorted(got.keys() - want.keys()):
        report.add("params", f"unexpected {k} = {got[k]!r}")
    for k in sorted(want.keys() & got.keys()):
        if want[k] != got[k]:
            report.add("params", f"differs   {k}: expected {want[k]!r}, got {got[k]!r}")


def check_metrics(client, found, points, allowed_extra, report):
    by_name = collections.OrderedDict()
    for name, value, step, ts in points:
        by_name.setdefault(name, []).append((value, step, ts))
    for name, pts in by_name.items():
        want = collections.Counter((value_key(v), s, t) for v, s, t in pts)
        history = client.get_metric_history(found.info.run_id, name)
        got = collections.Counter((value_key(m.value), m.step, m.timestamp) for m in history)
        for (v, s, t), n in sorted((want - got).items(), key=lambda kv: (kv[0][1], kv[0][2])):
            report.add("metrics", f"{name}: missing    {point_text(v, s, t)}"
                                  + (f" (x{n})" if n > 1 else ""))
        for (v, s, t), n in sorted((got - want).items(), key=lambda kv: (kv[0][1], kv[0][2])):
            what = "duplicate " if (v, s, t) in want else "unexpected"
            report.add("metrics", f"{name}: {what} {point_text(v, s, t)}"
                                  + (f" (x{n})" if n > 1 else ""))
    extra = set(found.data.metrics) - set(by_name) - set(allowed_extra)
    for name in sorted(extra):
        report.add("metrics", f"unexpected metric key {name!r} (not in metrics.jsonl)")
    return sum(len(p) for p in by_name.values())


def check_tags(found, run, run_key, cvtools_version, report):
    tags = found.data.tags
    want = {TAG_RUN_NAME: run.get("run_name"), TAG_TASK: run.get("task"),
            TAG_MODEL: run.get("model_name")}
    want.update({str(k): str(v) for k, v in run.get("tags", {}).items()})
    if run_key:
        want[TAG_RUN_KEY] = run_key
    if cvtools_version:
        want[TAG_VERSION] = cvtools_version
    for k, v in want.items():
        if v is None:
            continue
        if k not in tags:
            report.add("tags", f"missing   {k} = {v!r}")
        elif tags[k] != str(v):
            report.add("tags", f"differs   {k}: expected {v!r}, got {tags[k]!r}")
    if not cvtools_version and not tags.get(TAG_VERSION):
        report.add("tags", f"missing   {TAG_VERSION} (any non-empty value)")
    if found.info.run_name != run.get("run_name"):
        report.add("tags", f"run_name attribute {found.info.run_name!r} != {run.get('run_name')!r}")


def check_status(found, run, report):
    info = found.info
    if info.status != run.get("status"):
        report.add("status", f"status: expected {run.get('status')!r}, got {info.status!r}")
    if info.start_time != run.get("start_time_ms"):
        report.add("status", f"start_time: expected {run.get('start_time_ms')}, "
                             f"got {info.start_time}")
    want_end = run.get("end_time_ms")
    if run.get("status") == "RUNNING":
        want_end = None
    if info.end_time != want_end:
        report.add("status", f"end_time: expected {want_end}, got {info.end_time}")


def list_all_artifacts(client, run_id, path=None):
    """Recursive listing: artifact path -> size (None if unknown)."""
    out = {}
    for info in client.list_artifacts(run_id, path):
        if info.is_dir:
            out.update(list_all_artifacts(client, run_id, info.path))
        else:
            out[info.path] = info.file_size
    return out


def check_metadata_yaml(data, entry, run, report, path):
    import yaml  # a dependency of mlflow itself

    try:
        meta = yaml.safe_load(data.decode())
    except (UnicodeDecodeError, yaml.YAMLError) as e:
        report.add("artifacts", f"{path}: not YAML: {e}")
        return
    if not isinstance(meta, dict):
        report.add("artifacts", f"{path}: not a YAML mapping: {meta!r}")
        return
    if set(meta) != METADATA_KEYS:
        report.add("artifacts", f"{path}: keys {sorted(meta)}, want {sorted(METADATA_KEYS)}")
    if meta.get("original_filename") != entry["file"]:
        report.add("artifacts", f"{path}: original_filename {meta.get('original_filename')!r}, "
                                f"want {entry['file']!r}")
    want_score = entry.get("value")
    score = meta.get("score")
    if not (score == want_score or (isinstance(score, float) and isinstance(want_score, float)
                                    and math.isnan(score) and math.isnan(want_score))):
        report.add("artifacts", f"{path}: score {score!r}, want {want_score!r}")
    ckpt = meta.get("Checkpoint")
    if not isinstance(ckpt, dict):
        report.add("artifacts", f"{path}: Checkpoint is {ckpt!r}, want a mapping")
        return
    if set(ckpt) != CHECKPOINT_KEYS:
        report.add("artifacts", f"{path}: Checkpoint keys {sorted(ckpt)}, "
                                f"want {sorted(CHECKPOINT_KEYS)}")
    if "monitor" in entry and ckpt.get("monitor") != entry["monitor"]:
        report.add("artifacts", f"{path}: Checkpoint.monitor {ckpt.get('monitor')!r}, "
                                f"want {entry['monitor']!r}")
    mode = run.get("hyperparameters", {}).get("checkpoint.mode")
    if mode is not None and ckpt.get("mode") != mode:
        report.add("artifacts", f"{path}: Checkpoint.mode {ckpt.get('mode')!r}, want {mode!r}")


def check_artifacts(client, found, run, expected, strict, report):
    run_id = found.info.run_id
    present = list_all_artifacts(client, run_id)
    with tempfile.TemporaryDirectory(prefix="check_run-") as tmp:
        for i, (path, (kind, what)) in enumerate(expected.items()):
            if path not in present:
                report.add("artifacts", f"missing    {path}")
                continue
            dst = os.path.join(tmp, str(i))
            os.makedirs(dst)
            with open(client.download_artifacts(run_id, path, dst_path=dst), "rb") as f:
                data = f.read()
            if kind == "file":
                with open(what, "rb") as f:
                    want = f.read()
                if data != want:
                    report.add("artifacts", f"differs    {path}: {len(data)} bytes sha256 "
                                            f"{hashlib.sha256(data).hexdigest()[:16]}…, want "
                                            f"{len(want)} bytes sha256 "
                                            f"{hashlib.sha256(want).hexdigest()[:16]}…")
            elif kind == "text":
                if data != what.encode():
                    report.add("artifacts", f"differs    {path}: {data[:200]!r}, want "
                                            f"{what.encode()!r}")
            else:
                check_metadata_yaml(data, what, run, report, path)
            size = present[path]
            if size is not None and size != len(data):
                report.add("artifacts", f"listed size {size} != downloaded {len(data)}: {path}")
    extra = sorted(set(present) - set(expected))
    for path in extra:
        if strict:
            report.add("artifacts", f"unexpected {path}")
        else:
            report.note(f"extra artifact {path} (not checked)")
    return len(expected)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[1:]))
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--tracking_uri", help="http://127.0.0.1:PORT (any MLflow tracking URI)")
    where.add_argument("--file_store", help="path of an mlruns FileStore to read instead")
    parser.add_argument("--run_dir", required=True, help="the run directory that was pushed")
    parser.add_argument("--experiment", help="experiment name the run must be in")
    parser.add_argument("--run_id", help="check this run instead of locating it")
    parser.add_argument("--run_key", help=f"value of tag {TAG_RUN_KEY} to locate the run by")
    parser.add_argument("--cvtools_version", help=f"exact value wanted for tag {TAG_VERSION}")
    parser.add_argument("--allow_metric", action="append", default=[], metavar="KEY",
                        help="metric key the run may have beyond metrics.jsonl (repeatable)")
    parser.add_argument("--strict_artifacts", action="store_true",
                        help="artifacts beyond the expected ones are a failure")
    args = parser.parse_args()

    if args.file_store:
        # MLflow >= ~3.13 (incl. 3.17.2) refuses a FileStore without this.
        os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
        args.tracking_uri = "file://" + os.path.abspath(args.file_store)

    try:
        run = read_json(os.path.join(args.run_dir, "run.json"))
        points = read_metrics(os.path.join(args.run_dir, "metrics.jsonl"))
        expected = expected_artifacts(args.run_dir)
    except RunDirError as e:
        print(f"check_run.py: bad run directory: {e}", file=sys.stderr)
        return 2

    import mlflow  # after the environment above is set
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=args.tracking_uri)
    report = Report()
    try:
        found, run_key = find_run(client, args, run, report)
        check_params(found, run, report)
        n_points = check_metrics(client, found, points, args.allow_metric, report)
        check_tags(found, run, run_key, args.cvtools_version, report)
        check_status(found, run, report)
        n_artifacts = check_artifacts(client, found, run, expected, args.strict_artifacts, report)
    except (LookupError, MlflowException) as e:
        report.print()
        print(f"MISMATCH run: {e}")
        return 1
    except RunDirError as e:
        print(f"check_run.py: bad run directory: {e}", file=sys.stderr)
        return 2

    report.print()
    if not report.ok():
        print(f"FAILED: run {found.info.run_id} does not match {args.run_dir}")
        return 1
    print(f"OK: run {found.info.run_id} matches {args.run_dir} (mlflow {mlflow.__version__}: "
          f"{len(found.data.params)} params, {n_points} metric points, "
          f"{n_artifacts} artifacts)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
