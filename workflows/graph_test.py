"""One source of truth for the pipeline graph (workflows/graph.py):
pipeline.sh's steps, the Databricks job (job.json), the bundle
(databricks.yml) and the task wrapper must all agree with it; the generated
files must be up to date; and the wrapper must run real steps.

Run by graph_test.sh with a Python that has PyYAML (CVT_MLFLOW_PYTHON).
"""
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "workflows"))
sys.path.insert(0, os.path.join(ROOT, "workflows", "databricks"))
import cvtools_task  # noqa: E402
import graph  # noqa: E402

failures = []


def check(ok, what):
    print(("ok: " if ok else "FAIL: ") + what)
    if not ok:
        failures.append(what)


keys = [t["key"] for t in graph.TASKS]
seen = set()
for t in graph.TASKS:
    check(all(d in seen for d in t["depends_on"]), "%s depends only on earlier tasks" % t["key"])
    seen.add(t["key"])

pipeline = open(os.path.join(ROOT, "workflows", "pipeline.sh")).read()
steps = []
for m in re.finditer(r'\bstep (\w+) "', pipeline):
    if m.group(1) not in steps:
        steps.append(m.group(1))
check(steps == keys, "pipeline.sh runs the graph's steps in order: %s" % steps)
only = re.search(r'case "\$only" in\n\s*""\|([\w|]+)\)', pipeline)
check(only is not None and only.group(1).split("|") == keys,
      "pipeline.sh --only accepts exactly the graph's steps")
check(list(cvtools_task.TASKS) == keys, "cvtools_task.py knows exactly the graph's tasks")
for k in graph.PARAMETERS:
    check(("--%s)" % k) in pipeline, "pipeline.sh has the job parameter --%s" % k)

job = json.load(open(os.path.join(ROOT, "workflows", "databricks", "job.json")))
bundle = yaml.safe_load(open(os.path.join(ROOT, "databricks.yml")))
bundle_job = bundle["resources"]["jobs"]["cvtools_pipeline"]
for name, j in (("job.json", job), ("databricks.yml", bundle_job)):
    tasks = j["tasks"]
    check([t["task_key"] for t in tasks] == keys, "%s has the graph's tasks in order" % name)
    for t, g in zip(tasks, graph.TASKS):
        deps = [d["task_key"] for d in t.get("depends_on", [])]
        check(deps == g["depends_on"] and t["run_if"] == g["run_if"] and
              t["max_retries"] == g["max_retries"],
              "%s task %s: depends_on %s, run_if %s, max_retries %s" %
              (name, t["task_key"], deps, t["run_if"], t["max_retries"]))
        check(t["spark_python_task"]["parameters"][0] == g["key"],
              "%s task %s runs the wrapper for its own step" % (name, g["key"]))
    check({p["name"]: p["default"] for p in j["parameters"]} == graph.PARAMETERS,
          "%s has the graph's job parameters" % name)
check(bundle_job["tasks"][-1]["run_if"] == "ALL_DONE", "mlflow_push runs even after failures")
gen = subprocess.run([sys.executable, os.path.join(ROOT, "workflows", "databricks", "generate.py"),
                      "--check"], capture_output=True, text=True)
check(gen.returncode == 0, "job.json and databricks.yml are generated from graph.py: "
      + gen.stdout.strip())

cmd = cvtools_task.command(["train", "--out=/v/runs", "--images=", "--threads=2"],
                           {"DATABRICKS_JOB_RUN_ID": "77", "CVTOOLS_HOME": "/opt/c"})
check(cmd == ["bash", "/opt/c/workflows/pipeline.sh", "--only", "train", "--bin", "/opt/c/bin",
              "--out", "/v/runs", "--threads", "2", "--run", "job-77"],
      "the wrapper's command: %s" % cmd)

# The wrapper runs the first two tasks of a job for real, against the built
# binaries laid out as init_script.sh installs them.
with tempfile.TemporaryDirectory() as tmp:
    home = os.path.join(tmp, "cvtools")
    os.makedirs(home)
    os.symlink(os.path.join(ROOT, "workflows"), os.path.join(home, "workflows"))
    os.symlink(os.path.join(ROOT, "configs"), os.path.join(home, "configs"))
    os.symlink(ROOT, os.path.join(home, "bin"))
    env = dict(os.environ, CVTOOLS_HOME=home, DATABRICKS_JOB_RUN_ID="5")
    for task in ("data", "coco_prep"):
        r = subprocess.run([sys.executable, os.path.join(ROOT, "workflows", "databricks",
                                                         "cvtools_task.py"), task,
                            "--out=" + os.path.join(tmp, "out"), "--images="],
                           env=env, capture_output=True, text=True)
        check(r.returncode == 0, "the %s task runs through the wrapper (%s)" %
              (task, (r.stdout + r.stderr).strip().splitlines()[-1:] if r.returncode else "exit 0"))
    check(os.path.exists(os.path.join(tmp, "out", "job-5", "prepared", "annotations", "test.json")),
          "the tasks share <out>/job-<run id>/")

# Bad usage exits 2 with a message naming the problem.
for argv, want in (
        (["bash", "workflows/pipeline.sh", "--frobnicate"], "unknown argument --frobnicate"),
        (["bash", "workflows/pipeline.sh", "--only", "deploy", "--bin", "."],
         "--only: unknown step 'deploy'"),
        (["libs/data/write_synthetic_coco"], "--out is required"),
        (["libs/data/write_synthetic_coco", "--out", "/tmp/unused_synth", "--classes", "9"],
         "1..4 classes")):
    r = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    check(r.returncode == 2 and want in r.stderr,
          "%s exits 2 saying %r (got %d: %s)" % (" ".join(argv[:3]), want, r.returncode,
                                              r.stderr.strip()[-200:]))

sys.exit(1 if failures else 0)
