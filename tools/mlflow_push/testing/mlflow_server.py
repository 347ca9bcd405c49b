#!/usr/bin/env python3
"""Starts and stops a real, local MLflow tracking server for integration tests.

  mlflow_server.py start --root DIR --port_file F [--python VENV_PYTHON]
  mlflow_server.py stop  --root DIR

`start` runs, with DIR as its working directory,

  VENV_PYTHON -m mlflow server --host 127.0.0.1 --port PORT --workers 1
      --backend-store-uri sqlite:///DIR/mlflow.db
      --artifacts-destination DIR/artifacts --serve-artifacts

in a new session (so its own process group, detached from the caller's
terminal and signals), waits until `GET /health` and one REST call answer,
then writes the port to F (atomically: temp file + rename) and the server's
pid (= its process group id) to DIR/server.pid, prints the tracking URI
(http://127.0.0.1:PORT) on stdout and exits, leaving the server running.
Server output goes to DIR/server.log. Runs are then created under the
server's default `mlflow-artifacts:/` artifact root, so artifacts go through
the proxy (`/api/2.0/mlflow-artifacts/artifacts/...`) into DIR/artifacts.

`stop` sends SIGTERM to that process group, waits (SIGKILL after --timeout
seconds; at once for the idle CLI wrapper when its uvicorn child has exited)
until every process in it is gone, and removes DIR/server.pid. It
is a no-op when no server is recorded, so it is safe in a shell `trap`.
Tests must always call it: the server is in its own session, so nothing
(neither Bazel nor the shell) kills it when the test ends.

Environment of the server: inherited MLFLOW_* and DATABRICKS_* variables are
dropped (a developer's MLFLOW_TRACKING_URI or workspace settings must not
leak in), telemetry is off (MLFLOW_DISABLE_TELEMETRY, DO_NOT_TRACK; it would
otherwise try to fetch a config over the network), and the server's job
runner (a huey consumer process, default on in MLflow 3.x) is disabled via
MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false: it is not needed for tracking and
only slows startup. --env KEY=VALUE adds or overrides variables (e.g.
MLFLOW_SERVER_ALLOWED_HOSTS for a Host-header test).

The interpreter defaults to $CVTOOLS_MLFLOW_PYTHON, else
~/.cache/cvtools/mlflow-venv/bin/python, made with

  python3 -m venv ~/.cache/cvtools/mlflow-venv
  ~/.cache/cvtools/mlflow-venv/bin/pip install mlflow==3.17.2

(3.17.2 is the version these scripts were checked against). This launcher
itself needs only the Python stdlib and may run under any python3.

Importable too: start(root, port_file, python=...) -> port, stop(root).
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

DEFAULT_PYTHON = os.environ.get(
    "CVTOOLS_MLFLOW_PYTHON",
    os.path.expanduser("~/.cache/cvtools/mlflow-venv/bin/python"),
)
HOST = "127.0.0.1"
PID_FILE = "server.pid"
LOG_FILE = "server.log"


def _free_port():
    """A port that was free a moment ago (the server binds it right after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _write_atomically(path, text):
    """Writes `text` to `path` via a temp file in the same folder + rename."""
    path = os.path.abspath(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _server_env(extra):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MLFLOW_", "DATABRICKS_"))
    }
    env.update({
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


def _get(url, timeout=2.0):
    """Status code of GET url, or None when nothing answers yet."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            resp.read()
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code
    except (urllib.error.URLError, ConnectionError, socket.timeout, OSError):
        return None


def _log_tail(root, lines=40):
    try:
        with open(os.path.join(root, LOG_FILE), errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return "(no log)"


def _group_alive(pgid):
    """True while any live (non-zombie) process of the group exists."""
    try:
        # Reap it if it is our own child (start() and stop() in one process).
        os.waitpid(pgid, os.WNOHANG)
    except ChildProcessError:
        pass
    # Zombies count as gone: once the launcher has exited, the server is
    # reparented to pid 1, which in some containers reaps only every few s.
    members = _group_members(pgid)
    if members is not None:
        return bool(members)
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _read_pid(root):
    try:
        with open(os.path.join(root, PID_FILE)) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def _looks_like_mlflow(pid):
    """Guards against pid reuse: only a process whose command line names mlflow."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"mlflow" in f.read()
    except FileNotFoundError:
        return False
    except OSError:
        return True  # no /proc here: trust the pid file


def start(root, port_file, python=DEFAULT_PYTHON, timeout=90.0, env=None, tries=3):
    """Starts the server; returns its port. Raises RuntimeError on failure."""
    root = os.path.abspath(root)
    os.makedirs(root, exist_ok=True)
    old = _read_pid(root)
    if old is not None and _group_alive(old) and _looks_like_mlflow(old):
        raise RuntimeError(f"a server is already running for {root} (pid {old}); stop it first")
    if not os.access(python, os.X_OK):
        raise RuntimeError(f"no python at {python}: create the mlflow venv or pass --python")

    last_error = ""
    # A fresh port each try: another process may take the free port first.
    # Note that `mlflow server` exits 0 even when its uvicorn child fails (e.g.
    # a missing module), so any early exit counts as a failed try.
    for _ in range(tries):
        port = _free_port()
        cmd = [
            python, "-m", "mlflow", "server",
            "--host", HOST,
            "--port", str(port),
            "--workers", "1",
            "--backend-store-uri", f"sqlite:///{root}/mlflow.db",
            "--artifacts-destination", os.path.join(root, "artifacts"),
            "--serve-artifacts",
        ]
        with open(os.path.join(root, LOG_FILE), "ab") as log:
            log.write(("+ " + " ".join(cmd) + "\n").encode())
            log.flush()
            proc = subprocess.Popen(
                cmd,
                cwd=root,
                env=_server_env(env or {}),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own session + process group
                close_fds=True,
            )
        # Recorded at once, so that `stop` finds it even if this launcher dies
        # while waiting.
        _write_atomically(os.path.join(root, PID_FILE), f"{proc.pid}\n")
        base = f"http://{HOST}:{port}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                last_error = f"server exited with {proc.returncode}"
                break
            if _get(base + "/health") == 200:
                # One real REST call: it also makes the worker initialise the
                # store now rather than during the test's first request.
                # (max_results is needed: without it 3.17.2 answers 400.) A 403
                # is fine: --env MLFLOW_SERVER_ALLOWED_HOSTS=... may exclude
                # 127.0.0.1 on purpose; /health is exempt from that check.
                status = _get(base + "/api/2.0/mlflow/experiments/search?max_results=1", 30)
                # Still ours? (Someone else's server on a stolen port would answer
                # too, while ours dies on "address already in use".)
                if status in (200, 403) and proc.poll() is None:
                    if status == 403:
                        print(f"mlflow_server.py: note: {base} rejects Host 127.0.0.1 "
                              "(MLFLOW_SERVER_ALLOWED_HOSTS)", file=sys.stderr)
                    _write_atomically(port_file, f"{port}\n")
                    return port
                if proc.poll() is not None:
                    last_error = f"server exited with {proc.returncode}"
                    break
                _abandon(root, proc.pid)
                raise RuntimeError(f"experiments/search answered {status}\n--- {LOG_FILE} ---\n"
                                   + _log_tail(root))
            time.sleep(0.1)
        else:
            _abandon(root, proc.pid)
            raise RuntimeError(f"no answer on {base}/health within {timeout:.0f}s\n"
                               f"--- {LOG_FILE} ---\n" + _log_tail(root))
        # It exited early (e.g. the port was taken meanwhile): try a new port.
        _abandon(root, proc.pid)
    raise RuntimeError(f"mlflow server did not start: {last_error}\n--- {LOG_FILE} ---\n"
                       + _log_tail(root))


def _abandon(root, pgid):
    """Kills a server that failed to start and forgets it."""
    _kill_group(pgid, 5.0)
    try:
        os.unlink(os.path.join(root, PID_FILE))
    except FileNotFoundError:
        pass


def _group_members(pgid):
    """Pids in process group `pgid` (from /proc), or None where /proc is missing."""
    if not os.path.isdir("/proc/self"):
        return None
    members = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # Fields after "(comm)": state ppid pgrp ...; comm itself may hold spaces.
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            members.add(int(name))
    return members


def _kill_group(pgid, timeout):
    """SIGTERM the group, SIGKILL it after `timeout` s; returns once it is gone.

    The group leader is the `mlflow server` CLI, which only waits for its
    uvicorn child and then spends ~2 s tearing its interpreter down; once the
    child (the process that serves and writes the database) is gone, the
    leader is SIGKILLed rather than waited for.
    """
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while _group_alive(pgid):
        members = _group_members(pgid)
        if time.monotonic() > deadline or (members is not None and members <= {pgid}):
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                return
            deadline = float("inf")  # SIGKILL cannot be ignored: just wait
        time.sleep(0.05)


def stop(root, timeout=15.0):
    """Stops the server recorded in root/server.pid; True if one was running."""
    root = os.path.abspath(root)
    pid = _read_pid(root)
    if pid is None:
        return False
    running = _group_alive(pid) and _looks_like_mlflow(pid)
    if running:
        _kill_group(pid, timeout)
    try:
        os.unlink(os.path.join(root, PID_FILE))
    except FileNotFoundError:
        pass
    return running


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_start = sub.add_parser("start", help="start a server and leave it running")
    p_start.add_argument("--root", required=True, help="folder for db, artifacts, pid, log")
    p_start.add_argument("--port_file", required=True, help="gets the port, written atomically")
    p_start.add_argument("--python", default=DEFAULT_PYTHON, help="python of the mlflow venv")
    p_start.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for /health")
    p_start.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                         help="extra environment variable for the server (repeatable)")
    p_stop = sub.add_parser("stop", help="stop the server of --root and wait for it")
    p_stop.add_argument("--root", required=True)
    p_stop.add_argument("--timeout", type=float, default=15.0, help="seconds before SIGKILL")
    args = parser.parse_args()

    if args.cmd == "start":
        extra = {}
        for item in args.env:
            key, sep, value = item.partition("=")
            if not sep:
                parser.error(f"--env wants KEY=VALUE, got {item!r}")
            extra[key] = value
        t0 = time.monotonic()
        try:
            port = start(args.root, args.port_file, args.python, args.timeout, extra)
        except RuntimeError as e:
            print(f"mlflow_server.py: {e}", file=sys.stderr)
            return 1
        print(f"http://{HOST}:{port}")
        print(f"mlflow_server.py: started in {time.monotonic() - t0:.1f}s, "
              f"pid in {os.path.join(os.path.abspath(args.root), PID_FILE)}", file=sys.stderr)
        return 0
    stop(args.root, args.timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
