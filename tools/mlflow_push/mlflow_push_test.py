"""Integration tests of mlflow_push against a real MLflow tracking server.

Starts `mlflow server` (sqlite backend, served artifacts) on 127.0.0.1 with
testing/mlflow_server.py and checks every push with testing/check_run.py,
which reads the run back with MLflow's own Python client: params, every
metric point (value, step, timestamp) exactly once, tags, status, end time,
and artifacts byte for byte in Lightning's checkpoint layout.

  * a push, then a re-push that changes nothing;
  * the server killed in the middle of a push and restarted: pushing again
    gives one run and no duplicated point;
  * --follow beside a run directory that is still being written;
  * a RUNNING run whose trainer is gone is marked FAILED;
  * the file store (file:<dir>) opened by the Python client;
  * exit codes for bad input.

Usage: mlflow_push_test.py --binary PATH --tmp DIR (run with the Python of
the mlflow venv; scripts/setup.sh makes it).
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "testing", "mlflow_server.py")
CHECK = os.path.join(HERE, "testing", "check_run.py")
FAKE_DBX = os.path.join(os.path.dirname(os.path.dirname(HERE)), "libs", "storage", "testing",
                        "fake_databricks_server.py")
FIXTURE = os.path.join(os.path.dirname(os.path.dirname(HERE)), "testdata", "run_dir_small")

failures = []


def fail(msg):
    print("FAIL:", msg)
    failures.append(msg)


def ok(msg):
    print("ok:", msg)


class Server:
    def __init__(self, root):
        self.root = root
        self.port_file = os.path.join(root, "port")

    def start(self):
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)
        subprocess.run([sys.executable, SERVER, "start", "--root", self.root,
                        "--port_file", self.port_file, "--python", sys.executable],
                       check=True, stdout=subprocess.DEVNULL)
        with open(self.port_file) as f:
            self.uri = "http://127.0.0.1:%s" % f.read().strip()
        return self.uri

    def stop(self):
        subprocess.run([sys.executable, SERVER, "stop", "--root", self.root],
                       check=False, stdout=subprocess.DEVNULL)


def env_fast_retries():
    env = dict(os.environ)
    env.update(MLFLOW_HTTP_REQUEST_MAX_RETRIES="2", MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR="0.2",
               MLFLOW_HTTP_REQUEST_BACKOFF_JITTER="0")
    for k in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_TRACKING_TOKEN"):
        env.pop(k, None)
    return env


def push(binary, run_dir, uri, *extra, check=True):
    p = subprocess.run([binary, "--run_dir", run_dir, "--tracking_uri", uri, *extra],
                       capture_output=True, text=True, env=env_fast_retries())
    if check and p.returncode != 0:
        raise RuntimeError("mlflow_push exited %d: %s" % (p.returncode, p.stderr[-2000:]))
    summary = json.loads(p.stdout.strip().splitlines()[-1]) if p.returncode == 0 else None
    return p, summary


def check_run(run_dir, *where):
    p = subprocess.run([sys.executable, CHECK, *where, "--run_dir", run_dir],
                       capture_output=True, text=True)
    return p.returncode == 0, p.stdout + p.stderr


def append_metrics(run_dir, count, start_step):
    with open(os.path.join(run_dir, "metrics.jsonl"), "a") as f:
        for i in range(count):
            step = start_step + i
            f.write(json.dumps({"name": "train/loss_extra", "value": 1.0 / (step + 1),
                                "step": step, "epoch": 1,
                                "timestamp_ms": 1764583900000 + step}) + "\n")


def test_push_and_repush(binary, tmp, server):
    run_dir = os.path.join(tmp, "run_basic")
    shutil.copytree(FIXTURE, run_dir)
    _, s1 = push(binary, run_dir, server.uri, "--experiment", "basic", "--tag", "team=cv")
    good, out = check_run(run_dir, "--tracking_uri", server.uri, "--experiment", "basic")
    if good and s1["created"] and s1["metrics"] == 62 and s1["status"] == "FINISHED":
        ok("push: params, 62 metric points, tags, status and 13 artifacts match")
    else:
        fail("push: %s %s" % (s1, out))
    _, s2 = push(binary, run_dir, server.uri, "--experiment", "basic")
    good, out = check_run(run_dir, "--tracking_uri", server.uri, "--experiment", "basic")
    if good and not s2["created"] and s2["metrics"] == 0 and s2["artifacts"] == 0 \
            and s2["run_id"] == s1["run_id"]:
        ok("re-push: same run, nothing sent again")
    else:
        fail("re-push: %s %s" % (s2, out))
    # The state file gone (a fresh clone of the run dir): the run-key tag
    # still finds the same run.
    os.unlink(os.path.join(run_dir, ".mlflow_push_state.json"))
    _, s3 = push(binary, run_dir, server.uri, "--experiment", "basic")
    good, out = check_run(run_dir, "--tracking_uri", server.uri, "--experiment", "basic")
    if good and not s3["created"] and s3["run_id"] == s1["run_id"]:
        ok("state file lost: the run is found by its cvtools.run_key tag")
    else:
        fail("lost state: %s %s" % (s3, out))


def test_server_killed_mid_push(binary, tmp, server):
    run_dir = os.path.join(tmp, "run_killed")
    shutil.copytree(FIXTURE, run_dir)
    append_metrics(run_dir, 30000, 1000)
    proc = subprocess.Popen([binary, "--run_dir", run_dir, "--tracking_uri", server.uri,
                             "--experiment", "killed"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env_fast_retries())
    # Wait until some points are in, then take the server down.
    state = os.path.join(run_dir, ".mlflow_push_state.json")
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with open(state) as f:
                if json.load(f).get("metrics_points", 0) >= 3000:
                    break
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    server.stop()
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        fail("push survived a dead server?")
    with open(state) as f:
        partial = json.load(f)["metrics_points"]
    server.start()
    _, summary = push(binary, run_dir, server.uri, "--experiment", "killed")
    good, out = check_run(run_dir, "--tracking_uri", server.uri, "--experiment", "killed")
    if good and not summary["created"] and 0 < partial < 30062:
        ok("server killed after %d of 30062 points, restarted: one run, every point once"
           % partial)
    else:
        fail("killed server: partial=%s %s %s %s" % (partial, summary, out, err[-500:]))


def test_follow(binary, tmp, server):
    run_dir = os.path.join(tmp, "run_live")
    shutil.copytree(FIXTURE, run_dir)
    # A live trainer: our sleeping child's pid, status RUNNING, half the
    # metrics and checkpoints not there yet.
    trainer = subprocess.Popen(["sleep", "60"])
    with open(os.path.join(run_dir, "run.json")) as f:
        run = json.load(f)
    final = dict(run)
    run.update(status="RUNNING", pid=trainer.pid, end_time_ms=0)
    run.pop("end_time_ms")
    with open(os.path.join(run_dir, "run.json"), "w") as f:
        json.dump(run, f)
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        lines = f.readlines()
    with open(os.path.join(run_dir, "metrics.jsonl"), "w") as f:
        f.writelines(lines[:20])
    index_path = os.path.join(run_dir, "checkpoints", "checkpoints.json")
    with open(index_path) as f:
        index = json.load(f)
    with open(index_path, "w") as f:
        json.dump({"version": 1, "checkpoints": index["checkpoints"][:1]}, f)
    proc = subprocess.Popen([binary, "--run_dir", run_dir, "--tracking_uri", server.uri,
                             "--experiment", "live", "--follow", "--interval_s", "0.3"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env_fast_retries())
    time.sleep(1.5)
    with open(os.path.join(run_dir, "metrics.jsonl"), "a") as f:
        f.writelines(lines[20:40])
        f.write(lines[40][: len(lines[40]) // 2])  # a line still being written
    time.sleep(1.0)
    with open(os.path.join(run_dir, "metrics.jsonl"), "a") as f:
        f.write(lines[40][len(lines[40]) // 2:])
        f.writelines(lines[41:])
    with open(index_path + ".tmp", "w") as f:
        json.dump(index, f)
    os.replace(index_path + ".tmp", index_path)
    time.sleep(1.0)
    with open(os.path.join(run_dir, "run.json.tmp"), "w") as f:
        json.dump(final, f)
    os.replace(os.path.join(run_dir, "run.json.tmp"), os.path.join(run_dir, "run.json"))
    out, err = proc.communicate(timeout=60)
    trainer.kill()
    trainer.wait()
    good, report = check_run(run_dir, "--tracking_uri", server.uri, "--experiment", "live")
    if proc.returncode == 0 and good and json.loads(out.strip().splitlines()[-1])["status"] \
            == "FINISHED":
        ok("--follow: metrics and checkpoints pushed as they appeared, ends FINISHED")
    else:
        fail("--follow rc=%d %s %s %s" % (proc.returncode, out, err[-1500:], report))


def test_dead_trainer(binary, tmp, server):
    import mlflow
    run_dir = os.path.join(tmp, "run_dead")
    shutil.copytree(FIXTURE, run_dir)
    gone = subprocess.Popen(["true"])
    gone.wait()
    with open(os.path.join(run_dir, "run.json")) as f:
        run = json.load(f)
    run.update(status="RUNNING", pid=gone.pid)
    run.pop("end_time_ms")
    with open(os.path.join(run_dir, "run.json"), "w") as f:
        json.dump(run, f)
    _, summary = push(binary, run_dir, server.uri, "--experiment", "dead")
    got = mlflow.tracking.MlflowClient(server.uri).get_run(summary["run_id"])
    if summary["status"] == "FAILED" and got.info.status == "FAILED" and got.info.end_time:
        ok("trainer gone without a final status: the run is FAILED, not RUNNING")
    else:
        fail("dead trainer: %s %s" % (summary, got.info))


def test_file_store(binary, tmp):
    run_dir = os.path.join(tmp, "run_file")
    shutil.copytree(FIXTURE, run_dir)
    store = os.path.join(tmp, "mlruns")
    push(binary, run_dir, "file:" + store, "--experiment", "offline")
    push(binary, run_dir, "file:" + store, "--experiment", "offline")
    good, out = check_run(run_dir, "--file_store", store, "--experiment", "offline")
    ok("file store read by MLflow's client (MLFLOW_ALLOW_FILE_STORE=true)") if good \
        else fail("file store: " + out)


def test_bad_input(binary, tmp):
    cases = [
        (["--run_dir", os.path.join(tmp, "nope"), "--tracking_uri", "file:" + tmp + "/x"], 2,
         "does not exist"),
        (["--run_dir", tmp, "--tracking_uri", "file:" + tmp + "/x"], 2, "run.json"),
        (["--run_dir", FIXTURE, "--log_checkpoints", "most"], 2, "--log_checkpoints"),
        (["--run_dir", FIXTURE, "--tracking_uri", "ftp://x"], 2, "--tracking_uri"),
        (["--run_dir", FIXTURE, "--tag", "novalue"], 2, "--tag must be key=value"),
        (["get-metrics", "--tracking_uri", "file:" + tmp + "/x"], 2, "--run_id"),
        (["pull", "--run_dir", FIXTURE], 2, "unknown subcommand 'pull'"),
        (["--run_dir", FIXTURE, "--follow", "--interval_s", "0"], 2, "--interval_s must be > 0"),
    ]
    bad = os.path.join(tmp, "run_bad")
    shutil.copytree(FIXTURE, bad)
    with open(os.path.join(bad, "metrics.jsonl"), "a") as f:
        f.write('{"name": "x", "value": "high", "step": 1, "timestamp_ms": 1}\n')
    cases.append((["--run_dir", bad, "--tracking_uri", "file:" + tmp + "/bad_store"], 2,
                  "metrics.jsonl:63"))
    for args, code, text in cases:
        p = subprocess.run([binary, *args], capture_output=True, text=True,
                           env=env_fast_retries())
        if p.returncode == code and text in p.stderr:
            ok("exit %d naming %s" % (code, text))
        else:
            fail("%s -> %d %s" % (args, p.returncode, p.stderr[-500:]))


def post(url, body):
    import urllib.request
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"{}")


def test_databricks(binary, tmp, server):
    """Databricks through the stand-in (the service cannot run here), which
    forwards MLflow calls to the real server and implements the Databricks
    parts: absolute experiment paths and workspace/mkdirs, OAuth M2M,
    credentials-for-write signed URLs. Faults: 429 + Retry-After on
    log-batch, a refused (expired) signed URL, an expired OAuth token."""
    import urllib.request
    root = os.path.join(tmp, "dbx")
    os.makedirs(root)
    port_file = os.path.join(root, "port")
    secret = "sp-secret-value-7"
    fake = subprocess.Popen([sys.executable, FAKE_DBX, "--root", root, "--port_file", port_file,
                             "--client_id", "sp-client", "--client_secret", secret,
                             "--mlflow_upstream", server.uri])
    try:
        for _ in range(200):
            if os.path.exists(port_file) and open(port_file).read().strip():
                break
            time.sleep(0.05)
        host = "http://127.0.0.1:%s" % open(port_file).read().strip()
        post(host + "/_test/faults", [
            {"method": "POST", "path_prefix": "/api/2.0/mlflow/runs/log-batch", "times": 2,
             "status": 429, "retry_after": "1"},
            {"method": "PUT", "path_prefix": "/_signed/", "times": 1, "status": 403}])
        run_dir = os.path.join(tmp, "run_dbx")
        shutil.copytree(FIXTURE, run_dir)
        trainer = subprocess.Popen(["sleep", "60"])
        with open(os.path.join(run_dir, "run.json")) as f:
            final = json.load(f)
        live = dict(final, status="RUNNING", pid=trainer.pid)
        live.pop("end_time_ms")
        with open(os.path.join(run_dir, "run.json"), "w") as f:
            json.dump(live, f)
        env = env_fast_retries()
        env.update(DATABRICKS_HOST=host, DATABRICKS_CLIENT_ID="sp-client",
                   DATABRICKS_CLIENT_SECRET=secret, HOME=tmp)
        env.pop("DATABRICKS_TOKEN", None)
        proc = subprocess.Popen([binary, "--run_dir", run_dir, "--tracking_uri", "databricks",
                                 "--experiment", "/Workspace/Shared/cv/bccd", "--follow",
                                 "--interval_s", "0.3", "--verbose"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        state = os.path.join(run_dir, ".mlflow_push_state.json")
        for _ in range(300):
            try:
                if len(json.load(open(state)).get("artifacts", {})) >= 13:
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.1)
        post(host + "/_test/expire_tokens", {})
        with open(os.path.join(run_dir, "metrics.jsonl"), "a") as f:
            f.write(json.dumps({"name": "val/map", "value": 0.5, "step": 300,
                                "timestamp_ms": 1764583799000}) + "\n")
        time.sleep(1.0)
        with open(os.path.join(run_dir, "run.json.tmp"), "w") as f:
            json.dump(final, f)
        os.replace(os.path.join(run_dir, "run.json.tmp"), os.path.join(run_dir, "run.json"))
        out, err = proc.communicate(timeout=120)
        trainer.kill()
        trainer.wait()
        with urllib.request.urlopen(host + "/_test/log") as r:
            log = json.loads(r.read())
        statuses = [(e["path"], e["status"]) for e in log]
        throttled = sum(1 for p, st in statuses if p.endswith("log-batch") and st == 429)
        refused = sum(1 for p, st in statuses if p.startswith("/_signed/") and st == 403)
        unauthorized = sum(1 for p, st in statuses if st == 401)
        tokens = sum(1 for p, st in statuses if p == "/oidc/v1/token" and st == 200)
        mkdirs = sum(1 for p, st in statuses if p == "/api/2.0/workspace/mkdirs")
        good, report = check_run(run_dir, "--tracking_uri", server.uri, "--experiment",
                                 "/Shared/cv/bccd")
        leaked = secret in out + err or "Bearer " in err.replace("Bearer ***", "")
        if proc.returncode == 0 and good and throttled == 2 and refused == 1 and \
                unauthorized >= 1 and tokens >= 2 and mkdirs >= 1 and not leaked:
            ok("Databricks: OAuth refresh after expiry, 429 Retry-After, refused signed URL "
               "retried with fresh credentials, /Workspace prefix dropped, parent folder made")
        else:
            fail("databricks rc=%d throttled=%d refused=%d 401s=%d tokens=%d mkdirs=%d "
                 "leaked=%s\n%s\n%s" % (proc.returncode, throttled, refused, unauthorized,
                                         tokens, mkdirs, leaked, report, err[-3000:]))
    finally:
        fake.terminate()
        fake.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--tmp", required=True)
    args = ap.parse_args()
    binary = os.path.abspath(args.binary)
    tmp = os.path.abspath(args.tmp)
    os.makedirs(tmp, exist_ok=True)
    server = Server(os.path.join(tmp, "server"))
    server.start()
    try:
        test_push_and_repush(binary, tmp, server)
        test_server_killed_mid_push(binary, tmp, server)
        test_follow(binary, tmp, server)
        test_dead_trainer(binary, tmp, server)
        test_databricks(binary, tmp, server)
    finally:
        server.stop()
    test_file_store(binary, tmp)
    test_bad_input(binary, tmp)
    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
