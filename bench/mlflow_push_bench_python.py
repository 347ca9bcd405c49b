#!/usr/bin/env python3
"""The Python MLflow client's best path for pushing a run directory: the
baseline that the C++ mlflow_push is measured against.

  bench/gen_mlflow_bench_run.py --out /tmp/mlflow_bench_run
  python3 tools/mlflow_push/testing/mlflow_server.py start --root /tmp/mlflow_bench_srv \
      --port_file /tmp/mlflow_bench_srv/port
  ~/.cache/cvtools/mlflow-venv/bin/python bench/mlflow_push_bench_python.py \
      --tracking_uri http://127.0.0.1:$(cat /tmp/mlflow_bench_srv/port) --data /tmp/mlflow_bench_run
  python3 tools/mlflow_push/testing/mlflow_server.py stop --root /tmp/mlflow_bench_srv

Per repeat, on a new run (timed phases):
  read        parse run.json, metrics.jsonl, checkpoints.json
  create_run  get-or-create the experiment, runs/create (start_time, tags)
  params      one runs/log-batch with every param (<= 100 per batch)
  metrics     runs/log-batch in chunks of --chunk metrics (1000 = the limit)
  artifacts   client.log_artifact per checkpoint into <stem>/ (Lightning layout),
              sequentially: one PUT to the mlflow-artifacts proxy each
  terminate   runs/update with run.json's status and end_time
Untimed afterwards: the metric history of one key and the artifact listing
are read back to make sure everything landed.

Prints one JSON object: seconds per phase (median over --repeats) and each
repeat's total. Needs the Python stdlib and mlflow.
"""

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
# set_terminated otherwise prints "View run ..." links on stdout (and spends a
# runs/get on them), which would break the JSON output.
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")

PHASES = ["read", "create_run", "params", "metrics", "artifacts", "terminate"]


def push_once(client, data_dir, experiment, chunk, repeat):
    from mlflow.entities import Metric, Param

    t = {}
    t0 = time.perf_counter()
    with open(os.path.join(data_dir, "run.json")) as f:
        run = json.load(f)
    metrics = []
    with open(os.path.join(data_dir, "metrics.jsonl")) as f:
        for line in f:
            d = json.loads(line)
            metrics.append(Metric(d["name"], float(d["value"]), int(d["timestamp_ms"]),
                                  int(d["step"])))
    params = [Param(k, str(v)) for k, v in run["hyperparameters"].items()]
    with open(os.path.join(data_dir, "checkpoints", "checkpoints.json")) as f:
        ckpts = json.load(f)["checkpoints"]
    t1 = time.perf_counter()
    t["read"] = t1 - t0

    exp = client.get_experiment_by_name(experiment)
    exp_id = exp.experiment_id if exp else client.create_experiment(experiment)
    tags = {"cvtools.task": run["task"], "cvtools.model_name": run["model_name"],
            "cvtools.run_key": f"bench/{run['run_name']}/{repeat}/{time.time_ns()}",
            **run.get("tags", {})}
    created = client.create_run(exp_id, start_time=run["start_time_ms"], tags=tags,
                                run_name=run["run_name"])
    run_id = created.info.run_id
    t2 = time.perf_counter()
    t["create_run"] = t2 - t1

    client.log_batch(run_id, params=params)
    t3 = time.perf_counter()
    t["params"] = t3 - t2

    for i in range(0, len(metrics), chunk):
        client.log_batch(run_id, metrics=metrics[i:i + chunk])
    t4 = time.perf_counter()
    t["metrics"] = t4 - t3

    total_bytes = 0
    for c in ckpts:
        path = os.path.join(data_dir, "checkpoints", c["file"])
        stem = c["file"][:-len(".ckpt")]
        client.log_artifact(run_id, path, artifact_path=stem)
        total_bytes += os.path.getsize(path)
    t5 = time.perf_counter()
    t["artifacts"] = t5 - t4

    client.set_terminated(run_id, status=run["status"], end_time=run["end_time_ms"])
    t6 = time.perf_counter()
    t["terminate"] = t6 - t5
    t["total"] = t6 - t0

    # Untimed: the data is really there.
    first = metrics[0].key
    want = sum(1 for m in metrics if m.key == first)
    got = len(client.get_metric_history(run_id, first))
    if got != want:
        raise SystemExit(f"run {run_id}: {first} has {got} points, want {want}")
    listed = {f.path for f in client.list_artifacts(run_id)}
    missing = [c["file"] for c in ckpts if c["file"][:-5] not in listed]
    if missing:
        raise SystemExit(f"run {run_id}: artifacts missing: {missing}")
    return t, run_id, len(metrics), len(params), len(ckpts), total_bytes


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracking_uri", required=True)
    parser.add_argument("--data", required=True, help="run directory (gen_mlflow_bench_run.py)")
    parser.add_argument("--experiment", default="mlflow-push-bench")
    parser.add_argument("--chunk", type=int, default=1000, help="metrics per log-batch")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()

    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=args.tracking_uri)
    results = []
    for r in range(args.repeats):
        t, run_id, n_metrics, n_params, n_ckpts, n_bytes = push_once(
            client, args.data, args.experiment, args.chunk, r)
        results.append(t)
        print(f"repeat {r}: {t['total']:.2f}s run {run_id}", file=sys.stderr)
    median = {k: round(statistics.median(t[k] for t in results), 3) for k in PHASES + ["total"]}
    print(json.dumps({
        "client": "python-mlflow",
        "mlflow_version": mlflow.__version__,
        "tracking_uri": args.tracking_uri,
        "metric_points": n_metrics,
        "params": n_params,
        "checkpoints": n_ckpts,
        "checkpoint_bytes": n_bytes,
        "chunk": args.chunk,
        "repeats": args.repeats,
        "seconds": median,
        "totals": [round(t["total"], 3) for t in results],
        "metric_points_per_s": round(n_metrics / median["metrics"]),
        "artifact_mib_per_s": round(n_bytes / 2**20 / median["artifacts"], 1),
    }, indent=2))


if __name__ == "__main__":
    main()
