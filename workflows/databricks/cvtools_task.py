"""The Databricks task wrapper: `spark_python_task` entry point of every task
of the cvtools job (Databricks has no shell task type).

    cvtools_task.py TASK --out=... --config=... [--KEY=VALUE ...]

It runs `workflows/pipeline.sh --only TASK` with the job parameters, so the
commands of each step live in one place (pipeline.sh) for the laptop, CI and
Databricks alike. Binaries come from $CVTOOLS_HOME (default
/databricks/cvtools, where init_script.sh installs them), and the run folder
is named after the job run ($DATABRICKS_JOB_RUN_ID, or --run), so every task
of one job run works in the same <out>/<run>/ folder on the shared Volume.
Parameters left empty ("") are dropped. Exits with pipeline.sh's status.

Multi-node training: torchrun or TorchDistributor start this wrapper once per
process with MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK and LOCAL_RANK in the
environment; they pass through unchanged to `train fit` (distributed training
itself is issue 9's).
"""
import os
import sys

TASKS = ("data", "coco_prep", "train", "test", "evaluate_map", "mlflow_push")


def command(argv, env):
    if not argv or argv[0] not in TASKS:
        raise SystemExit("cvtools_task: first argument must be one of %s" % ", ".join(TASKS))
    task, rest = argv[0], argv[1:]
    home = env.get("CVTOOLS_HOME", "/databricks/cvtools")
    args = ["bash", os.path.join(home, "workflows", "pipeline.sh"), "--only", task,
            "--bin", os.path.join(home, "bin")]
    run = env.get("DATABRICKS_JOB_RUN_ID", "")
    has_run = False
    for a in rest:
        if not a.startswith("--") or "=" not in a:
            raise SystemExit("cvtools_task: expected --key=value, got %r" % a)
        key, value = a[2:].split("=", 1)
        if value == "":
            continue
        has_run = has_run or key == "run"
        args += ["--" + key, value]
    if not has_run:
        if not run:
            raise SystemExit("cvtools_task: pass --run=NAME or run under a Databricks job")
        args += ["--run", "job-" + run]
    return args


def main():
    args = command(sys.argv[1:], os.environ)
    sys.stdout.flush()
    os.execvp(args[0], args)


if __name__ == "__main__":
    main()
