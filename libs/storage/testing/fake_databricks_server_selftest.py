#!/usr/bin/env python3
"""Self-test of fake_databricks_server.py: starts it as a subprocess and exercises every endpoint and fault.

Standard library only (http.client, http.server, socket, urllib.parse). Exit 0 on success; on failure, print
which check failed and exit 1.
Usage: fake_databricks_server_selftest.py [--server PATH] [--python EXE] [--big_mib N] [--mlflow_python EXE]

The MLflow proxy is tested against a recording stdlib upstream always, and against a real `mlflow server`
(sqlite backend, --serve-artifacts, own process group, stopped at the end) only when --mlflow_python or
$FAKE_DBX_MLFLOW_PYTHON names a python that has mlflow (e.g. ~/.cache/cvtools/mlflow-venv/bin/python);
otherwise that part prints "skip".
"""

import argparse
import base64
import email.utils
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit

PAT = "dapi-selftest-pat-0123456789"
CLIENT_ID = "selftest-client"
CLIENT_SECRET = "selftest-secret-xyz"
VOL = "/Volumes/main/cv/ckpt"
FILES = "/api/2.0/fs/files"
DIRS = "/api/2.0/fs/directories"
DBFS = "/api/2.0/dbfs"
MiB = 1 << 20


class CheckFailed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise CheckFailed(what)


class Resp:
    def __init__(self, r, data):
        self.status, self.headers, self.data = r.status, r.headers, data

    def json(self):
        return json.loads(self.data) if self.data else None

    def __repr__(self):
        return "<%d %r>" % (self.status, self.data[:200])


class Client:
    """One keep-alive connection."""

    def __init__(self, port, token=PAT):
        self.port, self.token = port, token
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60, blocksize=MiB)

    def req(self, method, path, body=None, headers=None, token=None):
        h = dict(headers or {})
        tok = self.token if token is None else token
        if tok:
            h["Authorization"] = "Bearer " + tok
        self.conn.request(method, path, body=body, headers=h)
        r = self.conn.getresponse()
        return Resp(r, r.read())

    def post_json(self, path, obj, token=None):
        return self.req("POST", path, json.dumps(obj).encode(), {"Content-Type": "application/json"}, token)

    def close(self):
        self.conn.close()


def enc(path):
    """Percent-encode per segment, keeping '/'."""
    return "/".join(quote(s, safe="") for s in path.split("/"))


def b64(data):
    return base64.b64encode(data).decode()


class Server:
    def __init__(self, exe, script, root, extra):
        self.root = root
        self.port_file = os.path.join(root, "port")
        self.stderr_path = os.path.join(root, "server.stderr")
        self.stderr = open(self.stderr_path, "w")
        cmd = [exe, script, "--root", os.path.join(root, "store"), "--port_file", self.port_file] + extra
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.stderr)
        deadline = time.time() + 20
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None or time.time() > deadline:
                raise CheckFailed("server did not write its port file (rc=%s): %s"
                                  % (self.proc.poll(), open(self.stderr_path).read()))
            time.sleep(0.05)
        text = open(self.port_file).read()
        check(text.endswith("\n") and text.strip().isdigit(), "port file holds a number and a newline: %r" % text)
        self.port = int(text)
        self.store = os.path.join(root, "store")

    def ctl(self, method, path, obj=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        body = json.dumps(obj).encode() if obj is not None else None
        c.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, (json.loads(data) if data else None)

    def faults(self, *rules):
        status, out = self.ctl("POST", "/_test/faults", list(rules))
        check(status == 200, "fault rules accepted: %s %s" % (status, out))

    def log(self):
        return self.ctl("GET", "/_test/log")[1]

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise CheckFailed("server did not exit within 10 s of signal %d" % sig)
        self.stderr.close()
        return self.proc.returncode


def vm_hwm_kib(pid):
    try:
        for line in open("/proc/%d/status" % pid):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def wait_log(srv, pred, what):
    """The log entry of a dropped request is written just after the drop: poll briefly."""
    deadline = time.time() + 5
    while True:
        log = srv.log()
        if log and pred(log[-1]):
            return log[-1]
        if time.time() > deadline:
            raise CheckFailed("%s: last log entry %s" % (what, log[-1] if log else None))
        time.sleep(0.05)


def staging_empty(srv):
    d = os.path.join(srv.store, ".staging")
    return not os.listdir(d)


# ------------------------------------------------------------------------------------------------ tests


def test_auth(srv):
    c = Client(srv.port, token="")
    r = c.req("GET", DIRS + VOL)
    check(r.status == 401 and r.json()["error_code"] == "UNAUTHENTICATED", "no token -> 401: %r" % r)
    bad = "dapi-wrong-token-777"
    r = c.req("GET", DIRS + VOL, token=bad)
    check(r.status == 401 and r.json()["error_code"] == "UNAUTHENTICATED", "bad token -> 401: %r" % r)
    check(bad not in r.data.decode(), "401 message must not echo the token")
    r = c.req("GET", DIRS + VOL, token=PAT)
    check(r.status == 200, "PAT accepted: %r" % r)
    r = c.req("GET", "/api/2.0/nope", token=PAT)
    check(r.status == 404 and r.json()["error_code"] == "ENDPOINT_NOT_FOUND", "unknown endpoint: %r" % r)
    c.close()


def oauth_token(port, cid=CLIENT_ID, secret=CLIENT_SECRET, body=b"grant_type=client_credentials&scope=all-apis",
                ctype="application/x-www-form-urlencoded"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    basic = base64.b64encode(("%s:%s" % (cid, secret)).encode()).decode()
    c.request("POST", "/oidc/v1/token", body=body, headers={"Content-Type": ctype, "Authorization": "Basic " + basic})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, json.loads(data)


def test_oauth(srv):
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    c.request("GET", "/oidc/.well-known/oauth-authorization-server")
    r = c.getresponse()
    meta = json.loads(r.read())
    check(r.status == 200 and meta["token_endpoint"] == "http://127.0.0.1:%d/oidc/v1/token" % srv.port
          and "issuer" in meta, "discovery document: %s" % meta)
    status, out = oauth_token(srv.port)
    check(status == 200 and out["token_type"] == "Bearer" and out["expires_in"] == 3600 and out["access_token"],
          "token issued: %s" % out)
    token = out["access_token"]
    status, out = oauth_token(srv.port, secret="wrong")
    check(status == 401 and out["error"] == "invalid_client", "wrong secret -> invalid_client: %s" % out)
    status, out = oauth_token(srv.port, body=b"grant_type=password&scope=all-apis")
    check(status == 400 and out["error"] == "unsupported_grant_type", "bad grant_type: %s" % out)
    status, out = oauth_token(srv.port, ctype="application/json")
    check(status == 400 and out["error"] == "invalid_request", "bad content type: %s" % out)
    cl = Client(srv.port, token=token)
    r = cl.req("HEAD", DIRS + VOL)
    check(r.status == 200, "OAuth token accepted: %r" % r)
    check(srv.ctl("POST", "/_test/expire_tokens")[0] == 200, "expire_tokens")
    r = cl.req("HEAD", DIRS + VOL)
    check(r.status == 401, "expired OAuth token -> 401: %r" % r)
    cl.close()
    log = srv.log()
    auths = [e["auth"] for e in log]
    check("oauth" in auths and "basic" in auths and "bad" in auths, "log auth kinds: %s" % auths)
    dump = json.dumps(log)
    check(token not in dump and PAT not in dump and CLIENT_SECRET not in dump, "log never holds secrets")


def test_files_basic(srv):
    c = Client(srv.port)
    d = VOL + "/run-1"
    r = c.req("HEAD", DIRS + d)
    check(r.status == 404, "HEAD missing dir -> 404: %r" % r)
    r = c.req("PUT", DIRS + d + "/sub/deeper")
    check(r.status == 204 and r.data == b"", "PUT directories (parents) -> 204: %r" % r)
    r = c.req("PUT", DIRS + d + "/sub/deeper")
    check(r.status == 204, "PUT directories idempotent: %r" % r)
    check(c.req("HEAD", DIRS + d + "/sub").status == 200, "HEAD dir -> 200")

    payload = os.urandom(100000)
    r = c.req("PUT", FILES + d + "/last.ckpt", payload, {"Content-Type": "application/octet-stream"})
    check(r.status == 204 and r.data == b"", "PUT file -> 204: %r" % r)
    on_disk = os.path.join(srv.store, "Volumes/main/cv/ckpt/run-1/last.ckpt")
    check(open(on_disk, "rb").read() == payload, "stored bytes match")
    r = c.req("GET", FILES + d + "/last.ckpt")
    check(r.status == 200 and r.data == payload, "GET file")
    check(r.headers["Content-Type"] == "application/octet-stream", "GET content type")
    check(int(r.headers["Content-Length"]) == len(payload), "GET content length")
    lm = email.utils.parsedate_to_datetime(r.headers["Last-Modified"]).timestamp()
    check(abs(lm - os.stat(on_disk).st_mtime) < 2, "Last-Modified is RFC 1123 of the mtime")
    r = c.req("HEAD", FILES + d + "/last.ckpt")
    check(r.status == 200 and r.data == b"" and int(r.headers["Content-Length"]) == len(payload)
          and r.headers["Last-Modified"], "HEAD file")
    r = c.req("GET", FILES + d + "/last.ckpt", headers={"Range": "bytes=10-19"})
    check(r.status == 206 and r.data == payload[10:20]
          and r.headers["Content-Range"] == "bytes 10-19/%d" % len(payload), "Range a-b -> 206")
    r = c.req("GET", FILES + d + "/last.ckpt", headers={"Range": "bytes=-5"})
    check(r.status == 206 and r.data == payload[-5:], "suffix Range")
    r = c.req("GET", FILES + d + "/last.ckpt", headers={"Range": "bytes=99990-"})
    check(r.status == 206 and r.data == payload[99990:], "open Range")
    r = c.req("GET", FILES + d + "/last.ckpt", headers={"Range": "bytes=200000-"})
    check(r.status == 416, "unsatisfiable Range -> 416: %r" % r)

    r = c.req("PUT", FILES + d + "/last.ckpt?overwrite=false", b"other")
    check(r.status == 409 and r.json()["error_code"] == "ALREADY_EXISTS", "overwrite=false on existing -> 409: %r" % r)
    check(open(on_disk, "rb").read() == payload, "409 left the file alone")
    r = c.req("PUT", FILES + d + "/last.ckpt?overwrite=true", b"v2")
    check(r.status == 204 and open(on_disk, "rb").read() == b"v2", "overwrite=true replaces")
    r = c.req("PUT", FILES + d + "/new.bin?overwrite=false", b"")
    check(r.status == 204 and os.path.getsize(os.path.join(os.path.dirname(on_disk), "new.bin")) == 0,
          "empty file, overwrite=false on a new path")
    r = c.req("PUT", FILES + d + "/sub", b"x")
    check(r.status == 409, "PUT file onto a directory -> 409: %r" % r)

    for m in ("GET", "DELETE"):
        r = c.req(m, FILES + d + "/missing.ckpt")
        check(r.status == 404 and r.json()["error_code"] == "NOT_FOUND", "%s missing file -> 404: %r" % (m, r))
    r = c.req("HEAD", FILES + d + "/missing.ckpt")
    check(r.status == 404 and r.data == b"", "HEAD missing file -> 404")
    r = c.req("PUT", FILES + "/Volumes/main/cv/nosuchvol/a.bin", b"x")
    check(r.status == 404 and r.json()["error_code"] == "NOT_FOUND", "missing volume -> 404: %r" % r)
    r = c.req("PUT", DIRS + "/Volumes/main/cv/nosuchvol")
    check(r.status == 404, "volumes are not created via PUT directories: %r" % r)
    check(not os.path.exists(os.path.join(srv.store, "Volumes/main/cv/nosuchvol")), "no volume dir created")

    # Percent-encoding per segment, and path validation.
    name = "a b#%?+é.ckpt"
    r = c.req("PUT", FILES + enc(d + "/" + name), b"enc")
    check(r.status == 204, "percent-encoded name: %r" % r)
    check(open(os.path.join(os.path.dirname(on_disk), name), "rb").read() == b"enc", "decoded name on disk")
    r = c.req("GET", FILES + enc(d + "/" + name))
    check(r.status == 200 and r.data == b"enc", "GET percent-encoded name")
    for bad in (d + "/../../escape", d + "/x%2F..%2F..%2Fescape", d + "//double", d + "/./x"):
        r = c.req("PUT", FILES + bad, b"x")
        check(r.status == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE", "bad path %s -> 400: %r"
              % (bad, r))
    check(not os.path.exists(os.path.join(srv.store, "Volumes/main/escape")), "no traversal")

    # Deletes.
    r = c.req("DELETE", DIRS + d + "/sub")
    check(r.status == 409 and r.json()["error_code"] == "DIRECTORY_NOT_EMPTY", "DELETE non-empty dir -> 409: %r" % r)
    check(c.req("DELETE", DIRS + d + "/sub/deeper").status == 204, "DELETE empty dir")
    check(c.req("DELETE", DIRS + d + "/sub/deeper").status == 404, "DELETE missing dir -> 404")
    check(c.req("DELETE", FILES + d + "/new.bin").status == 204, "DELETE file -> 204")
    check(c.req("HEAD", FILES + d + "/new.bin").status == 404, "deleted file is gone")
    check(c.req("GET", DIRS + d + "/nope").status == 404, "list missing dir -> 404")
    check(staging_empty(srv), "staging is empty after uploads")
    c.close()


def test_listing(srv):
    c = Client(srv.port)
    d = VOL + "/listing"
    names = ["f%02d.bin" % i for i in range(7)]
    for i, n in enumerate(names):
        check(c.req("PUT", FILES + d + "/" + n, b"x" * i).status == 204, "PUT " + n)
    check(c.req("PUT", DIRS + d + "/zdir").status == 204, "PUT zdir")
    r = c.req("GET", DIRS + d + "/empty_not_yet")
    check(r.status == 404, "listing a missing dir")
    check(c.req("PUT", DIRS + d + "/zdir/empty").status == 204, "PUT empty dir")
    r = c.req("GET", DIRS + d + "/zdir/empty")
    check(r.status == 200 and "next_page_token" not in r.json(), "empty dir listing: %r" % r)
    check(r.json().get("contents", []) == [], "empty dir has no entries")

    seen, token, pages = [], None, 0
    while True:
        q = "?page_size=3" + ("&page_token=" + quote(token, safe="") if token else "")
        r = c.req("GET", DIRS + d + q)
        check(r.status == 200, "list page: %r" % r)
        out = r.json()
        check(len(out.get("contents", [])) <= 3, "page_size honoured")
        seen += out.get("contents", [])
        pages += 1
        token = out.get("next_page_token")
        if not token:
            break
        check(pages < 10, "pagination terminates")
    check(pages == 3, "8 entries at page_size 3 -> 3 pages, got %d" % pages)
    check([e["name"] for e in seen] == names + ["zdir"], "sorted by name: %s" % [e["name"] for e in seen])
    f3 = seen[3]
    check(f3["path"] == d + "/f03.bin" and f3["is_directory"] is False and f3["file_size"] == 3
          and isinstance(f3["last_modified"], int) and f3["last_modified"] > 1e12, "file entry: %s" % f3)
    z = seen[-1]
    check(z["is_directory"] is True and "file_size" not in z and "last_modified" not in z, "dir entry: %s" % z)
    r = c.req("GET", DIRS + d + "?page_size=5000")
    check(r.status == 200 and len(r.json()["contents"]) == 8 and "next_page_token" not in r.json(),
          "page_size > 1000 is clamped, not refused")
    r = c.req("GET", DIRS + d + "/")
    check(r.status == 200 and len(r.json()["contents"]) == 8, "trailing slash on a directory path")
    r = c.req("GET", DIRS + d + "?page_token=%%%%")
    check(r.status == 400, "garbage page token -> 400: %r" % r)
    c.close()


def test_chunked_and_length(srv):
    c = Client(srv.port)
    parts = [b"alpha", b"-" * 70000, b"omega"]
    c.conn.request("PUT", FILES + VOL + "/chunked.bin", body=iter(parts), encode_chunked=True,
                   headers={"Authorization": "Bearer " + PAT, "Transfer-Encoding": "chunked"})
    r = c.conn.getresponse()
    r.read()
    check(r.status == 204, "chunked PUT -> 204, got %d" % r.status)
    r = c.req("GET", FILES + VOL + "/chunked.bin")
    check(r.data == b"".join(parts), "chunked body stored intact")
    # No Content-Length, no chunked: 411, and the connection stays usable.
    c.conn.putrequest("PUT", FILES + VOL + "/nolen.bin")
    c.conn.putheader("Authorization", "Bearer " + PAT)
    c.conn.endheaders()
    r = c.conn.getresponse()
    r.read()
    check(r.status == 411, "PUT without Content-Length -> 411, got %d" % r.status)
    check(c.req("HEAD", FILES + VOL + "/chunked.bin").status == 200, "keep-alive after 411")
    check(not os.path.exists(os.path.join(srv.store, "Volumes/main/cv/ckpt/nolen.bin")), "411 created nothing")
    c.close()


def test_keepalive_and_log(srv):
    srv.ctl("POST", "/_test/reset")
    c = Client(srv.port)
    for i in range(5):
        check(c.req("PUT", FILES + VOL + "/ka/%d.bin" % i, b"k" * 10).status == 204, "keep-alive PUT")
    status, stats = srv.ctl("GET", "/_test/stats")
    check(stats["requests"] == 5 and stats["connections"] == 1, "5 requests on 1 connection: %s" % stats)
    c.close()
    log = srv.log()
    check(len(log) == 5, "log has 5 entries after reset: %d" % len(log))
    e = log[0]
    check(e["method"] == "PUT" and e["path"] == FILES + VOL + "/ka/0.bin" and e["status"] == 204
          and e["auth"] == "pat" and e["bytes_in"] == 10 and e["query"] == "", "log entry: %s" % e)
    check(len({x["conn"] for x in log}) == 1, "log shows one connection")


def test_status_faults(srv):
    srv.ctl("POST", "/_test/reset")
    c = Client(srv.port)
    p = FILES + VOL + "/faulty.bin"
    srv.faults({"method": "PUT", "path_prefix": FILES + "/Volumes/main", "times": 2, "status": 429,
                "retry_after": "2"},
                {"method": "*", "path_prefix": p, "status": 503},
                {"method": "GET", "path_prefix": p, "status": 500, "body": {"error_code": "CUSTOM", "message": "m"}})
    r = c.req("PUT", p, b"z" * 5000)
    check(r.status == 429 and r.headers["Retry-After"] == "2" and r.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED",
          "429 fault: %r" % r)
    r = c.req("PUT", p, b"z" * 5000)
    check(r.status == 429, "429 fault fires twice (times=2)")
    r = c.req("PUT", p, b"z" * 5000)
    check(r.status == 503 and r.json()["error_code"] == "TEMPORARILY_UNAVAILABLE" and "Retry-After" not in r.headers,
          "next rule: 503: %r" % r)
    check(not os.path.exists(os.path.join(srv.store, "Volumes/main/cv/ckpt/faulty.bin")), "faulted PUTs commit nothing")
    r = c.req("PUT", p, b"z" * 5000)
    check(r.status == 204, "rules used up -> normal PUT: %r" % r)
    r = c.req("HEAD", p)
    check(r.status == 200, "GET-only rule ignores HEAD")
    r = c.req("GET", p)
    check(r.status == 500 and r.json() == {"error_code": "CUSTOM", "message": "m"}, "custom body 500: %r" % r)
    r = c.req("GET", p)
    check(r.status == 200 and r.data == b"z" * 5000, "and then normal again")
    status, stats = srv.ctl("GET", "/_test/stats")
    check(stats["connections"] == 1, "status faults keep the connection alive: %s" % stats)
    log = srv.log()
    check([e["status"] for e in log] == [429, 429, 503, 204, 200, 500, 200], "log statuses %s" % log)
    check(log[0]["bytes_in"] == 5000 and log[0]["fault"] == "status", "fault consumed the body: %s" % log[0])
    # Default 500 body, and a decoded path_prefix.
    srv.faults({"path_prefix": VOL.replace("/Volumes", FILES + "/Volumes") + "/sp ace", "status": 500})
    r = c.req("GET", FILES + enc(VOL + "/sp ace.bin"))
    check(r.status == 500 and r.json()["error_code"] == "INTERNAL_ERROR", "decoded prefix match + default 500 body")
    for bad in ({"status": 429, "action": "drop_after_commit"}, {"stauts": 429}, {"action": "explode"},
                {"status": 200}, {"status": 429, "times": 0}):
        status, _ = srv.ctl("POST", "/_test/faults", [bad])
        check(status == 400, "invalid rule %s -> 400" % bad)
    check(srv.ctl("GET", "/_test/faults")[1] == [], "no rules left pending")
    c.close()


def test_drop_faults(srv):
    srv.ctl("POST", "/_test/reset")
    target = VOL + "/dropped.bin"
    on_disk = os.path.join(srv.store, "Volumes/main/cv/ckpt/dropped.bin")

    # drop_mid_body: server reads 1000 bytes and resets; nothing becomes visible.
    srv.faults({"method": "PUT", "path_prefix": FILES + target, "action": "drop_mid_body", "after_bytes": 1000})
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    head = ("PUT %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n"
            % (FILES + target, PAT, 300000)).encode()
    got = b""
    try:
        s.sendall(head)
        for _ in range(300):
            s.sendall(b"d" * 1000)
        got = s.recv(4096)
    except (ConnectionResetError, BrokenPipeError):
        pass
    finally:
        s.close()
    check(got == b"", "drop_mid_body sends no response: %r" % got[:100])
    check(not os.path.exists(on_disk), "drop_mid_body commits nothing")
    wait_log(srv, lambda e: e.get("fault") == "drop_mid_body" and e["status"] == 0 and e["bytes_in"] == 1000,
             "drop_mid_body logged")

    # Client disconnect mid-body (no fault): nothing visible, staging cleaned.
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(head)
    s.sendall(b"p" * 50000)
    s.close()
    wait_log(srv, lambda e: e.get("fault") == "client_gone" and e["status"] == 0 and e["bytes_in"] == 50000,
             "server noticed the disconnect")
    check(not os.path.exists(on_disk) and staging_empty(srv), "partial upload left nothing behind")

    # drop_after_commit: effect committed, no response.
    srv.faults({"method": "PUT", "path_prefix": FILES + target, "action": "drop_after_commit"})
    c = Client(srv.port)
    try:
        r = c.req("PUT", FILES + target, b"committed")
        raise CheckFailed("drop_after_commit must not answer, got %r" % r)
    except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, http.client.BadStatusLine):
        pass
    c.close()
    check(open(on_disk, "rb").read() == b"committed", "drop_after_commit committed the upload")
    wait_log(srv, lambda e: e.get("fault") == "drop_after_commit" and e["status"] == 0
             and e["dropped_status"] == 204, "drop_after_commit logged")
    # Drop on a JSON endpoint (GET), then a clean retry on a fresh connection works.
    srv.faults({"method": "GET", "path_prefix": DIRS, "action": "drop_mid_body"})
    c = Client(srv.port)
    try:
        c.req("GET", DIRS + VOL)
        raise CheckFailed("drop_mid_body on GET must not answer")
    except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, http.client.BadStatusLine):
        pass
    c.close()
    c = Client(srv.port)
    check(c.req("GET", DIRS + VOL).status == 200, "retry after a drop succeeds")
    c.close()
    check(staging_empty(srv), "staging empty after drops")


def test_dbfs(srv):
    c = Client(srv.port)
    tmp, final = "dbfs:/ckpt/run-1/.last.ckpt.partial", "/ckpt/run-1/last.ckpt"
    fs_tmp = os.path.join(srv.store, "dbfs/ckpt/run-1/.last.ckpt.partial")
    r = c.post_json(DBFS + "/create", {"path": tmp, "overwrite": False})
    check(r.status == 200 and isinstance(r.json()["handle"], int), "create -> handle: %r" % r)
    h = r.json()["handle"]
    check(os.path.exists(fs_tmp) and os.path.getsize(fs_tmp) == 0, "created file visible at once (empty)")
    blocks = [os.urandom(MiB), os.urandom(1234)]
    r = c.post_json(DBFS + "/add-block", {"handle": h, "data": b64(blocks[0])})
    check(r.status == 200 and r.json() == {}, "add-block 1 MiB: %r" % r)
    r = c.req("GET", DBFS + "/get-status?path=" + quote(tmp, safe=""))
    check(r.status == 200 and r.json()["file_size"] == MiB and r.json()["is_dir"] is False,
          "partial file visible while open: %r" % r)
    check(r.json()["path"] == "/ckpt/run-1/.last.ckpt.partial", "get-status path without dbfs: prefix")
    r = c.post_json(DBFS + "/add-block", {"handle": h, "data": b64(blocks[1])})
    check(r.status == 200, "add-block 2")
    r = c.post_json(DBFS + "/add-block", {"handle": h, "data": b64(b"x" * (MiB + 1))})
    check(r.status == 400 and r.json()["error_code"] == "MAX_BLOCK_SIZE_EXCEEDED", "block > 1 MiB: %r" % r)
    check(c.post_json(DBFS + "/close", {"handle": h}).json() == {}, "close -> {}")
    r = c.post_json(DBFS + "/add-block", {"handle": h, "data": b64(b"late")})
    check(r.status == 404 and r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST", "closed handle -> 404: %r" % r)
    r = c.post_json(DBFS + "/close", {"handle": 123})
    check(r.status == 404 and r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST", "unknown handle close -> 404")
    r = c.post_json(DBFS + "/create", {"path": tmp})
    check(r.status == 400 and r.json()["error_code"] == "RESOURCE_ALREADY_EXISTS", "create existing !overwrite")

    r = c.post_json(DBFS + "/move", {"source_path": tmp, "destination_path": "dbfs:" + final})
    check(r.status == 200 and r.json() == {}, "move -> {}: %r" % r)
    check(not os.path.exists(fs_tmp), "move removed the source")
    r = c.req("GET", DBFS + "/read?path=%s&offset=%d&length=%d" % (quote(final), MiB - 2, 10))
    out = r.json()
    check(r.status == 200 and out["bytes_read"] == 10 and base64.b64decode(out["data"])
          == (blocks[0] + blocks[1])[MiB - 2:MiB + 8], "read offset/length: %r" % r)
    r = c.req("GET", DBFS + "/read?path=%s&offset=%d&length=%d" % (quote(final), MiB + 1200, 1000))
    check(r.json()["bytes_read"] == 34, "read stops at EOF")
    r = c.req("GET", DBFS + "/read?path=%s&length=%d" % (quote(final), MiB + 1))
    check(r.status == 400 and r.json()["error_code"] == "MAX_READ_SIZE_EXCEEDED", "read > 1 MiB: %r" % r)
    r = c.req("GET", DBFS + "/read?path=/ckpt&length=10")
    check(r.status == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE", "read a directory -> 400")
    r = c.req("GET", DBFS + "/read?path=/nope")
    check(r.status == 404 and r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST", "read missing -> 404")

    r = c.post_json(DBFS + "/move", {"source_path": "/nope", "destination_path": "/nope2"})
    check(r.status == 404 and r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST", "move missing source -> 404")
    check(c.post_json(DBFS + "/put", {"path": "/ckpt/run-1/other", "contents": b64(b"o")}).status == 200, "put small")
    r = c.post_json(DBFS + "/move", {"source_path": "/ckpt/run-1/other", "destination_path": final})
    check(r.status == 400 and r.json()["error_code"] == "RESOURCE_ALREADY_EXISTS", "move onto existing -> 400")
    r = c.post_json(DBFS + "/put", {"path": "/ckpt/run-1/other", "contents": b64(b"o2")})
    check(r.status == 400 and r.json()["error_code"] == "RESOURCE_ALREADY_EXISTS", "put existing !overwrite")
    r = c.post_json(DBFS + "/put", {"path": "/ckpt/run-1/other", "contents": b64(b"o2"), "overwrite": True})
    check(r.status == 200, "put overwrite")
    r = c.post_json(DBFS + "/put", {"path": "/ckpt/big", "contents": b64(b"b" * (MiB + 1))})
    check(r.status == 400 and r.json()["error_code"] == "MAX_BLOCK_SIZE_EXCEEDED", "put > 1 MiB")
    r = c.post_json(DBFS + "/put", {"path": "relative/path", "contents": ""})
    check(r.status == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE", "relative path -> 400")

    r = c.req("GET", DBFS + "/list?path=/ckpt/run-1")
    files = r.json()["files"]
    check([f["path"] for f in files] == ["/ckpt/run-1/last.ckpt", "/ckpt/run-1/other"], "list: %s" % files)
    check(files[0]["file_size"] == MiB + 1234 and files[0]["is_dir"] is False
          and files[0]["modification_time"] > 1e12, "list entry: %s" % files[0])
    r = c.req("GET", DBFS + "/list?path=" + final)
    check(r.json()["files"][0]["path"] == final, "list of a file returns the file")
    check(c.post_json(DBFS + "/mkdirs", {"path": "/ckpt/empty/a/b"}).json() == {}, "mkdirs")
    check(c.post_json(DBFS + "/mkdirs", {"path": "dbfs:/ckpt/empty/a/b"}).status == 200, "mkdirs idempotent")
    r = c.post_json(DBFS + "/mkdirs", {"path": final + "/sub"})
    check(r.status == 400 and r.json()["error_code"] == "RESOURCE_ALREADY_EXISTS", "mkdirs through a file")
    r = c.req("GET", DBFS + "/list?path=/ckpt/empty/a/b")
    check(r.status == 200 and r.json() == {}, "empty dir: no 'files' key: %r" % r)
    r = c.req("GET", DBFS + "/get-status?path=/ckpt/empty")
    check(r.json()["is_dir"] is True and r.json()["file_size"] == 0, "get-status of a dir")
    r = c.req("GET", DBFS + "/list?path=/missing")
    check(r.status == 404 and r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST", "list missing -> 404")
    r = c.req("GET", DBFS + "/get-status?path=/missing")
    check(r.status == 404 and r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST", "get-status missing -> 404")
    r = c.req("GET", DBFS + "/get-status", json.dumps({"path": final}).encode(), {"Content-Type": "application/json"})
    check(r.status == 200 and r.json()["path"] == final, "get-status with a JSON body (legacy clients)")

    r = c.post_json(DBFS + "/delete", {"path": "/ckpt/empty"})
    check(r.status == 400 and r.json()["error_code"] == "IO_ERROR", "delete non-empty !recursive -> IO_ERROR")
    check(c.post_json(DBFS + "/delete", {"path": "/ckpt/empty", "recursive": True}).json() == {}, "recursive delete")
    check(not os.path.exists(os.path.join(srv.store, "dbfs/ckpt/empty")), "recursive delete removed it")
    check(c.post_json(DBFS + "/delete", {"path": "/ckpt/never"}).json() == {}, "delete missing -> {}")
    check(c.post_json(DBFS + "/delete", {"path": final}).json() == {}, "delete file")
    check(c.req("GET", DBFS + "/get-status?path=" + final).status == 404, "deleted file is gone")

    # Handle expiry: by idle TTL (the server runs with --dbfs_handle_ttl_s 1) and by the test hook.
    h = c.post_json(DBFS + "/create", {"path": "/ckpt/ttl", "overwrite": True}).json()["handle"]
    time.sleep(1.3)
    r = c.post_json(DBFS + "/add-block", {"handle": h, "data": b64(b"x")})
    check(r.status == 404 and r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST", "idle handle expired: %r" % r)
    h = c.post_json(DBFS + "/create", {"path": "/ckpt/ttl", "overwrite": True}).json()["handle"]
    check(srv.ctl("POST", "/_test/expire_dbfs_handles")[1]["expired"] >= 1, "expire_dbfs_handles")
    r = c.post_json(DBFS + "/close", {"handle": h})
    check(r.status == 404, "hook-expired handle -> 404")
    r = c.req("GET", DBFS + "/create")
    check(r.status == 405, "wrong method on a DBFS endpoint: %r" % r)
    r = c.req("POST", DBFS + "/mkdirs", b"{not json", {"Content-Type": "application/json"})
    check(r.status == 400, "malformed JSON -> 400")
    check(staging_empty(srv), "staging empty after DBFS")
    c.close()


class GenFile:
    """A file-like object producing `size` pseudo-random bytes, hashing as it goes."""

    def __init__(self, size):
        self.left, self.sha = size, hashlib.sha256()
        self.block = os.urandom(MiB)

    def read(self, n=-1):
        n = self.left if n is None or n < 0 else min(n, self.left)
        data = (self.block * (n // MiB + 1))[:n] if n > MiB else self.block[:n]
        self.left -= len(data)
        self.sha.update(data)
        return data


def test_big_stream(srv, mib):
    size = mib * MiB
    base = vm_hwm_kib(srv.proc.pid)
    c = Client(srv.port)
    gen = GenFile(size)
    t0 = time.time()
    r = c.req("PUT", FILES + VOL + "/big.ckpt", gen, {"Content-Length": str(size)})
    check(r.status == 204, "big PUT: %r" % r)
    c.conn.request("GET", FILES + VOL + "/big.ckpt", headers={"Authorization": "Bearer " + PAT})
    resp = c.conn.getresponse()
    check(resp.status == 200 and int(resp.headers["Content-Length"]) == size, "big GET headers")
    sha, got = hashlib.sha256(), 0
    while True:
        data = resp.read(MiB)
        if not data:
            break
        sha.update(data)
        got += len(data)
    check(got == size and sha.hexdigest() == gen.sha.hexdigest(), "big file round trip")
    c.close()
    peak = vm_hwm_kib(srv.proc.pid)
    if base is not None and peak is not None:
        check(peak - base < 64 * 1024, "server streams (peak RSS grew %d KiB for %d MiB)" % (peak - base, mib))
    os.unlink(os.path.join(srv.store, "Volumes/main/cv/ckpt/big.ckpt"))
    growth = (peak - base) // 1024 if base is not None and peak is not None else -1
    return time.time() - t0, growth


def test_second_server(exe, script, tmp):
    """Short OAuth TTL, a fixed --port, SIGINT exit."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    root = os.path.join(tmp, "second")
    os.makedirs(root)
    srv = Server(exe, script, root, ["--port", str(port), "--client_id", CLIENT_ID, "--client_secret", CLIENT_SECRET,
                                     "--token_ttl_s", "1", "--volume", "a/b/c"])
    try:
        check(srv.port == port, "--port honoured")
        status, out = oauth_token(port)
        check(status == 200 and out["expires_in"] == 1, "short-lived token: %s" % out)
        c = Client(port, token=out["access_token"])
        check(c.req("HEAD", DIRS + "/Volumes/a/b/c").status == 200, "fresh token works")
        time.sleep(1.3)
        check(c.req("HEAD", DIRS + "/Volumes/a/b/c").status == 401, "token expires after --token_ttl_s")
        r = c.req("HEAD", DIRS + "/Volumes/a/b/c", token=PAT)
        check(r.status == 401, "no PAT configured -> PATs refused")
        c.close()
    finally:
        rc = srv.stop(signal.SIGINT)
    check(rc == 0, "SIGINT -> clean exit 0, got %s" % rc)


# ------------------------------------------------------------------------ workspace + MLflow (Databricks flavour)

MLF = "/api/2.0/mlflow"
WS = "/api/2.0/workspace"
USER = "me@example.com"
SIGNED_RE = re.compile(r"^http://127\.0\.0\.1:(\d+)/_signed/([A-Za-z0-9_-]+)\?X-Amz-Signature=([0-9a-f]+)"
                       r"&X-Amz-Expires=(\d+)$")
EXPIRED_XML = "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
SSE = {"x-amz-server-side-encryption": "AES256"}


def signed_req(method, url, body=None, headers=None):
    """A request to a signed URL on a fresh connection (never with a bearer token)."""
    u = urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    c.request(method, u.path + "?" + u.query, body=body, headers=headers or {})
    r = c.getresponse()
    out = Resp(r, r.read())
    c.close()
    return out


def creds(c, run_id, paths, kind="write"):
    if kind == "write":
        r = c.post_json(MLF + "/artifacts/credentials-for-write", {"run_id": run_id, "path": paths})
    else:
        r = c.req("GET", MLF + "/artifacts/credentials-for-read?run_id=%s&%s"
                  % (quote(run_id), "&".join("path=" + quote(p, safe="") for p in paths)))
    check(r.status == 200, "credentials-for-%s: %r" % (kind, r))
    infos = r.json()["credential_infos"]
    check([i["path"] for i in infos] == paths, "one credential per path, in order: %s" % infos)
    return infos


def check_signed_uri(srv, info, run_id, ttl):
    m = SIGNED_RE.match(info["signed_uri"])
    check(m and int(m.group(1)) == srv.port and int(m.group(4)) == ttl, "signed URL format: %s" % info["signed_uri"])
    check(info["type"] == "AWS_PRESIGNED_URL" and info["run_id"] == run_id, "credential info: %s" % info)


def test_workspace(srv):
    c = Client(srv.port)
    r = c.post_json(WS + "/mkdirs", {"path": "/Shared/x"}, token="")
    check(r.status == 401, "workspace API needs auth: %r" % r)
    for p in ("/Shared", "/Users", "/Users/" + USER, "/Workspace/Shared"):
        r = c.req("GET", WS + "/get-status?path=" + quote(p, safe=""))
        check(r.status == 200 and r.json()["object_type"] == "DIRECTORY" and isinstance(r.json()["object_id"], int),
              "pre-existing folder %s: %r" % (p, r))
    r = c.req("GET", WS + "/get-status?path=/Shared/cv")
    check(r.status == 404 and r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST", "missing folder -> 404: %r" % r)
    check(c.post_json(WS + "/mkdirs", {"path": "/Shared/cv/deep/er"}).json() == {}, "mkdirs creates parents")
    check(c.post_json(WS + "/mkdirs", {"path": "/Shared/cv/deep/er"}).status == 200, "mkdirs is idempotent")
    r = c.req("GET", WS + "/get-status?path=/Shared/cv/deep")
    check(r.status == 200 and r.json() == {"object_type": "DIRECTORY", "path": "/Shared/cv/deep",
                                           "object_id": r.json()["object_id"]}, "parent created: %r" % r)
    check(c.post_json(WS + "/mkdirs", {"path": "/Workspace/Shared/ws"}).status == 200, "mkdirs /Workspace/...")
    check(c.req("GET", WS + "/get-status?path=/Shared/ws").status == 200, "/Workspace prefix is the same tree")
    check(c.post_json(WS + "/mkdirs", {"path": "/Users/%s/cv" % USER}).status == 200, "mkdirs in a user home")
    for p in ("/Users/other@example.com/cv", "/TopLevel"):
        r = c.post_json(WS + "/mkdirs", {"path": p})
        check(r.status == 403 and r.json()["error_code"] == "PERMISSION_DENIED", "mkdirs %s -> 403: %r" % (p, r))
    for p in ("relative/x", "/Shared//x", "/Shared/x/", "/Shared/../x", None):
        r = c.post_json(WS + "/mkdirs", {"path": p})
        check(r.status == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE", "mkdirs %r -> 400: %r" % (p, r))
    check(c.req("GET", WS + "/mkdirs").status == 405, "GET mkdirs -> 405")
    check(c.req("GET", WS + "/list?path=/Shared").status == 501, "workspace/list not modeled -> 501")
    c.close()


def test_mlflow_rules(srv):
    """The Databricks checks the fake makes before (or without) an upstream."""
    c = Client(srv.port)
    r = c.req("GET", MLF + "/runs/get?run_id=abc", token="")
    check(r.status == 401 and r.json()["error_code"] == "UNAUTHENTICATED", "MLflow API needs auth: %r" % r)
    r = c.post_json(MLF + "/experiments/create", {"name": "cv-exp"})
    check(r.status == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
          and "must be an absolute path" in r.json()["message"], "relative experiment name -> 400: %r" % r)
    r = c.req("GET", MLF + "/experiments/get-by-name?experiment_name=cv-exp")
    check(r.status == 400 and "must be an absolute path" in r.json()["message"], "relative get-by-name: %r" % r)
    r = c.post_json(MLF + "/experiments/create", {"name": "/Shared/nope/exp"})
    check(r.status == 404 and r.json() == {"error_code": "RESOURCE_DOES_NOT_EXIST",
                                           "message": "Parent directory /Shared/nope does not exist."},
          "missing parent -> 404: %r" % r)
    r = c.post_json(MLF + "/experiments/create", {"name": "/exp"})
    check(r.status == 403, "experiment at the workspace root -> 403: %r" % r)
    r = c.post_json(MLF + "/experiments/create", {"name": "/Shared/cv/deep"})
    check(r.status == 400 and r.json()["error_code"] == "RESOURCE_ALREADY_EXISTS", "name of a folder -> 400: %r" % r)
    r = c.post_json(MLF + "/experiments/create", {"name": "/Shared/cv/exp"})
    check(r.status == 501 and r.json()["error_code"] == "NOT_IMPLEMENTED", "no upstream -> 501: %r" % r)
    for bad in ("../x", "a/../b", "/abs", "a\\b", "a#b", "a//b", "a/", "./a", ""):
        r = c.post_json(MLF + "/artifacts/credentials-for-write", {"run_id": "r1", "path": [bad]})
        check(r.status == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE",
              "artifact path %r: %r" % (bad, r))
    for body in ({"path": ["a"]}, {"run_id": "r1"}, {"run_id": "r1", "path": []}, {"run_id": "r1", "path": "a"},
                 {"run_id": "r1", "path": ["a"] * 2001}):
        r = c.post_json(MLF + "/artifacts/credentials-for-write", body)
        check(r.status == 400, "bad credentials request %s -> 400: %r" % (str(body)[:60], r))
    r = c.req("GET", MLF + "/artifacts/credentials-for-write")
    check(r.status == 405, "GET credentials-for-write -> 405: %r" % r)
    r = c.post_json(MLF + "/artifacts/credentials-for-write", {"run_id": "r1", "path": ["a/b.ckpt"]})
    check(r.status == 501, "credentials without upstream -> 501: %r" % r)
    r = c.req("PUT", "/api/2.0/mlflow-artifacts/artifacts/1/r1/artifacts/x", b"x")
    check(r.status == 404 and r.json()["error_code"] == "ENDPOINT_NOT_FOUND", "no OSS artifact proxy here: %r" % r)
    r = c.req("PUT", "/_signed/nosuchtoken?X-Amz-Signature=00&X-Amz-Expires=900", b"x", token="")
    check(r.status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in r.data
          and r.headers["Content-Type"] == "application/xml", "unknown signed URL -> 403 XML: %r" % r)
    r = c.req("PUT", "/_signed/nosuchtoken?X-Amz-Signature=00&X-Amz-Expires=900", b"x")
    check(r.status == 400 and b"<Code>InvalidArgument</Code>" in r.data, "signed URL + Authorization -> 400: %r" % r)
    check(srv.ctl("POST", "/_test/expire_signed_urls") == (200, {"expired": 0}), "expire_signed_urls, none issued")
    c.close()


class EchoUpstream:
    """A stdlib stand-in for the MLflow upstream: records requests, knows run r1 (exp 7), stores artifacts."""

    def __init__(self):
        self.requests, self.artifacts = [], {}
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def send(self, status, data, ctype="application/json"):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def handle_one(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                outer.requests.append({"method": self.command, "path": self.path, "body": body,
                                       "headers": {k.lower(): v for k, v in self.headers.items()}})
                u = urlsplit(self.path)
                info = {"run_id": "r1", "run_uuid": "r1", "experiment_id": "7", "lifecycle_stage": "active",
                        "artifact_uri": "mlflow-artifacts:/7/r1/artifacts"}
                if u.path.startswith("/api/2.0/mlflow-artifacts/artifacts/"):
                    key = unquote(u.path[len("/api/2.0/mlflow-artifacts/artifacts/"):])
                    if self.command == "PUT":
                        outer.artifacts[key] = body
                        self.send(200, b"{}")
                    elif key in outer.artifacts:
                        self.send(200, outer.artifacts[key], "application/octet-stream")
                    else:
                        self.send(404, b'{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no such artifact"}')
                elif u.path == "/api/2.0/mlflow/runs/get":
                    if parse_qs(u.query).get("run_id") == ["r1"]:
                        self.send(200, json.dumps({"run": {"info": info}}).encode())
                    else:
                        self.send(404, b'{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Run not found"}')
                elif u.path == "/api/2.0/mlflow/plain":
                    self.send(418, b"teapot", "text/plain; charset=utf-8")
                else:
                    self.send(200, json.dumps({"run": {"info": info}, "experiment": {
                        "experiment_id": "7", "artifact_location": "mlflow-artifacts:/7"},
                        "root_uri": "mlflow-artifacts:/7/r1/artifacts/sub", "value": 0.1 + 0.2}).encode())

            do_GET = do_POST = do_PUT = do_DELETE = handle_one

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_mlflow_forwarding(exe, script, tmp):
    """Forwarding, rewriting and signed URLs against a recording stdlib upstream (no MLflow needed)."""
    up = EchoUpstream()
    root = os.path.join(tmp, "echo")
    os.makedirs(root)
    srv = Server(exe, script, root, ["--token", PAT, "--mlflow_upstream", "http://127.0.0.1:%d/" % up.port,
                                     "--signed_url_ttl_s", "2"])
    try:
        c = Client(srv.port)
        n = len(up.requests)
        r = c.req("POST", MLF + "/runs/log-batch?x=1%202&y=", b'{"run_id": "r1"}',
                  {"Content-Type": "application/json; charset=utf-8", "X-Other": "dropped"})
        check(r.status == 200 and r.headers["Content-Type"] == "application/json", "forwarded POST: %r" % r)
        got = up.requests[n]
        check(got["method"] == "POST" and got["path"] == MLF + "/runs/log-batch?x=1%202&y=" and
              got["body"] == b'{"run_id": "r1"}'
              and got["headers"]["content-type"] == "application/json; charset=utf-8",
              "forwarded verbatim: %s" % got)
        check("authorization" not in got["headers"], "Authorization is stripped: %s" % got["headers"])
        out = r.json()
        check(out["run"]["info"]["artifact_uri"] == "dbfs:/databricks/mlflow-tracking/7/r1/artifacts"
              and out["experiment"]["artifact_location"] == "dbfs:/databricks/mlflow-tracking/7"
              and out["root_uri"] == "dbfs:/databricks/mlflow-tracking/7/r1/artifacts/sub"
              and out["value"] == 0.1 + 0.2, "artifact locations rewritten, numbers kept: %s" % out)
        r = c.req("GET", MLF + "/runs/search")
        check(up.requests[-1]["method"] == "GET" and up.requests[-1]["body"] == b"", "GET forwarded without a body")
        r = c.req("GET", MLF + "/plain")
        check(r.status == 418 and r.data == b"teapot" and r.headers["Content-Type"] == "text/plain; charset=utf-8",
              "non-JSON upstream answers pass through: %r" % r)
        # Faults apply before forwarding; drop_after_commit forwards and swallows the answer.
        n = len(up.requests)
        srv.faults({"method": "POST", "path_prefix": MLF + "/runs/log-batch", "status": 429, "retry_after": "1"})
        r = c.post_json(MLF + "/runs/log-batch", {"run_id": "r1"})
        check(r.status == 429 and r.headers["Retry-After"] == "1" and len(up.requests) == n, "429 not forwarded")
        srv.faults({"method": "POST", "path_prefix": MLF + "/runs/create", "action": "drop_after_commit"})
        try:
            c.post_json(MLF + "/runs/create", {"experiment_id": "7"})
            raise CheckFailed("drop_after_commit must not answer")
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, http.client.BadStatusLine):
            pass
        c.close()
        check(len(up.requests) == n + 1 and up.requests[-1]["path"] == MLF + "/runs/create",
              "drop_after_commit reached the upstream")
        c = Client(srv.port)

        # Signed URLs.
        infos = creds(c, "r1", ["dir/a b=1.bin", "empty.txt"])
        check_signed_uri(srv, infos[0], "r1", 2)
        check(infos[0]["headers"] == [{"name": "x-amz-server-side-encryption", "value": "AES256"}], "SSE header")
        url = infos[0]["signed_uri"]
        payload = os.urandom(300000)
        r = signed_req("PUT", url, payload)
        check(r.status == 403 and b"SignatureDoesNotMatch" in r.data, "signed PUT without its header -> 403: %r" % r)
        r = signed_req("PUT", url, payload, dict(SSE, Authorization="Bearer " + PAT))
        check(r.status == 400 and b"<Code>InvalidArgument</Code>" in r.data, "signed PUT + bearer -> 400: %r" % r)
        r = signed_req("PUT", url.replace("X-Amz-Signature=", "X-Amz-Signature=0"), payload, SSE)
        check(r.status == 403 and b"SignatureDoesNotMatch" in r.data, "altered signature -> 403: %r" % r)
        r = signed_req("GET", url)
        check(r.status == 403, "a PUT URL does not GET: %r" % r)
        check(up.artifacts == {}, "nothing uploaded by refused PUTs")
        r = signed_req("PUT", url, payload, SSE)
        check(r.status == 200 and r.headers["ETag"] == '"%s"' % hashlib.md5(payload).hexdigest(),
              "signed PUT -> 200 + ETag: %r" % r)
        check(up.artifacts.get("7/r1/artifacts/dir/a b=1.bin") == payload, "artifact at the upstream proxy path")
        put = [q for q in up.requests if q["method"] == "PUT"][-1]
        check(put["path"] == "/api/2.0/mlflow-artifacts/artifacts/7/r1/artifacts/dir/a%20b%3D1.bin"
              and "authorization" not in put["headers"], "upstream PUT percent-encoded: %s" % put["path"])
        r = signed_req("PUT", infos[1]["signed_uri"], b"", SSE)
        check(r.status == 200 and up.artifacts.get("7/r1/artifacts/empty.txt") == b"", "empty file upload")
        r = signed_req("PUT", url, payload, SSE)
        check(r.status == 200, "a signed URL can be reused until it expires")
        u = urlsplit(url)
        cc = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        cc.request("PUT", u.path + "?" + u.query, body=iter([b"x"]), encode_chunked=True, headers=SSE)
        rr = cc.getresponse()
        check(rr.status == 501 and b"NotImplemented" in rr.read(), "chunked signed PUT -> 501 (as S3)")
        cc.close()
        entry = [e for e in srv.log() if e["path"].startswith("/_signed/") and e["status"] == 200][0]
        check(entry["auth"] == "signed" and entry["run_id"] == "r1" and entry["artifact_path"] == "dir/a b=1.bin"
              and entry["bytes_in"] == len(payload), "signed PUT logged: %s" % entry)
        check(staging_empty(srv), "staging empty after signed PUTs")

        # Read credentials.
        rinfo = creds(c, "r1", ["dir/a b=1.bin", "missing.bin"], "read")
        check("headers" not in rinfo[0], "read credentials need no headers")
        r = signed_req("GET", rinfo[0]["signed_uri"])
        check(r.status == 200 and r.data == payload, "signed GET downloads: %r" % r)
        r = signed_req("GET", rinfo[1]["signed_uri"])
        check(r.status == 404 and b"NoSuchKey" in r.data, "signed GET of a missing artifact -> 404: %r" % r)

        # Expiry: by the hook, and by --signed_url_ttl_s.
        status, out = srv.ctl("POST", "/_test/expire_signed_urls")
        check(status == 200 and out["expired"] == 4, "expire_signed_urls: %s" % out)
        r = signed_req("PUT", url, b"late", SSE)
        check(r.status == 403 and r.data.decode().endswith(EXPIRED_XML)
              and r.headers["Content-Type"] == "application/xml", "expired URL -> 403 XML: %r" % r)
        url2 = creds(c, "r1", ["dir/a b=1.bin"])[0]["signed_uri"]
        check(url2 != url, "fresh credentials give a new URL")
        check(signed_req("PUT", url2, b"v2", SSE).status == 200, "fresh URL works")
        check(up.artifacts["7/r1/artifacts/dir/a b=1.bin"] == b"v2", "re-upload overwrites")
        time.sleep(2.2)
        r = signed_req("PUT", url2, b"v3", SSE)
        check(r.status == 403 and EXPIRED_XML in r.data.decode(), "URL expires after --signed_url_ttl_s: %r" % r)

        # Faults on signed URLs answer S3-style XML.
        url3 = creds(c, "r1", ["f.bin"])[0]["signed_uri"]
        srv.faults({"method": "PUT", "path_prefix": "/_signed/", "status": 503, "retry_after": "1"})
        r = signed_req("PUT", url3, b"f", SSE)
        check(r.status == 503 and b"<Code>SlowDown</Code>" in r.data and r.headers["Retry-After"] == "1",
              "503 fault on a signed URL: %r" % r)
        check(signed_req("PUT", url3, b"f", SSE).status == 200, "then the PUT works")

        r = c.post_json(MLF + "/artifacts/credentials-for-write", {"run_id": "nope", "path": ["a"]})
        check(r.status == 404 and r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST", "unknown run -> 404: %r" % r)
        up.stop()
        r = c.req("GET", MLF + "/runs/get?run_id=r1")
        check(r.status == 502 and r.json()["error_code"] == "TEMPORARILY_UNAVAILABLE", "upstream down -> 502: %r" % r)
        c.close()
    finally:
        up.stop()
        rc = srv.stop()
    check(rc == 0, "SIGTERM -> exit 0, got %s" % rc)
    err = open(srv.stderr_path).read()
    check("Traceback" not in err, "no tracebacks:\n" + err[-3000:])


# ------------------------------------------------------------------------ against a real MLflow server


def group_members(pgid):
    out = set()
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                text = open("/proc/%s/stat" % name).read()
            except OSError:
                continue
            fields = text[text.rfind(")") + 2:].split()
            if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
                out.add(int(name))
    return out


class MlflowUpstream:
    """`python -m mlflow server` (sqlite, --serve-artifacts) in its own process group."""

    def __init__(self, python, root):
        self.root, self.proc = root, None
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DATABRICKS_"))}
        env.update(MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true", MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false",
                   PYTHONUNBUFFERED="1")
        self.log_path = os.path.join(root, "mlflow.log")
        self.artifacts = os.path.join(root, "mlartifacts")
        for _ in range(3):   # a fresh port per try: the free port may be taken before mlflow binds it
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
            s.close()
            cmd = [python, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(self.port),
                   "--workers", "1", "--backend-store-uri", "sqlite:///" + os.path.join(root, "mlflow.db"),
                   "--artifacts-destination", self.artifacts, "--serve-artifacts"]
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(cmd, cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=subprocess.STDOUT, start_new_session=True)
            self.url = "http://127.0.0.1:%d" % self.port
            deadline = time.time() + 120
            while time.time() < deadline and self.proc.poll() is None:
                if self.get("/health")[0] == 200:
                    status, _ = self.get(MLF + "/experiments/search?max_results=1")
                    if status == 200 and self.proc.poll() is None:
                        return
                time.sleep(0.2)
            self.stop()
        raise CheckFailed("mlflow server did not start:\n" + open(self.log_path, errors="replace").read()[-3000:])

    def get(self, path):
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            c.request("GET", path)
            r = c.getresponse()
            data = r.read()
            c.close()
            return r.status, data
        except OSError:
            return None, b""

    def stop(self):
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        pgid = proc.pid        # start_new_session: the leader's pid is the group id
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.time() + 10
        while True:
            proc.poll()
            members = group_members(pgid)
            if not members:
                break
            if time.time() > deadline or members <= {pgid}:   # the idle CLI wrapper: no need to wait for it
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except ProcessLookupError:
                    break
                deadline = float("inf")
            time.sleep(0.05)
        proc.wait()


def test_mlflow_real(exe, script, tmp, mlflow_python):
    root = os.path.join(tmp, "mlflow")
    os.makedirs(root)
    t0 = time.time()
    up = MlflowUpstream(mlflow_python, root)
    srv = None
    try:
        startup = time.time() - t0
        os.makedirs(os.path.join(root, "fake"))
        srv = Server(exe, script, os.path.join(root, "fake"), [
            "--token", PAT, "--client_id", CLIENT_ID, "--client_secret", CLIENT_SECRET,
            "--mlflow_upstream", up.url, "--workspace_user", USER])
        status, tok = oauth_token(srv.port)
        c = Client(srv.port, token=tok["access_token"])      # OAuth M2M for the MLflow API
        r = c.post_json(MLF + "/experiments/search", {"max_results": 10}, token="")
        check(r.status == 401, "no token -> 401: %r" % r)
        r = c.post_json(MLF + "/experiments/search", {"max_results": 10}, token="wrong")
        check(r.status == 401, "bad token -> 401: %r" % r)
        name = "/Users/%s/cv/detr" % USER
        r = c.req("GET", MLF + "/experiments/get-by-name?experiment_name=" + quote(name, safe=""))
        check(r.status == 404 and r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST", "upstream 404 passed on: %r" % r)
        r = c.post_json(MLF + "/experiments/create", {"name": "detr"})
        check(r.status == 400 and "must be an absolute path" in r.json()["message"], "relative name: %r" % r)
        r = c.post_json(MLF + "/experiments/create", {"name": name})
        check(r.status == 404 and r.json()["message"] == "Parent directory /Users/%s/cv does not exist." % USER,
              "parent rule: %r" % r)
        check(c.post_json(WS + "/mkdirs", {"path": "/Users/%s/cv" % USER}).status == 200, "mkdirs parent")
        r = c.post_json(MLF + "/experiments/create", {"name": name})
        check(r.status == 200 and r.json()["experiment_id"], "create experiment through the proxy: %r" % r)
        exp = r.json()["experiment_id"]
        r = c.post_json(MLF + "/experiments/create", {"name": "/Workspace" + name})
        check(r.status == 400 and r.json()["error_code"] == "RESOURCE_ALREADY_EXISTS", "same node again: %r" % r)
        r = c.req("GET", WS + "/get-status?path=" + quote(name))
        check(r.status == 200 and r.json()["object_type"] == "MLFLOW_EXPERIMENT" and r.json()["object_id"] == int(exp),
              "experiment is a workspace object: %r" % r)
        r = c.req("GET", MLF + "/experiments/get-by-name?experiment_name=" + quote(name, safe=""))
        check(r.status == 200 and r.json()["experiment"]["experiment_id"] == exp
              and r.json()["experiment"]["artifact_location"] == "dbfs:/databricks/mlflow-tracking/" + exp,
              "get-by-name: %r" % r)

        r = c.post_json(MLF + "/runs/create", {"experiment_id": exp, "run_name": "r", "start_time": 1732000000000,
                                               "tags": [{"key": "pusher.key", "value": "k1"}]})
        check(r.status == 200, "runs/create: %r" % r)
        run = r.json()["run"]["info"]["run_id"]
        want = "dbfs:/databricks/mlflow-tracking/%s/%s/artifacts" % (exp, run)
        check(r.json()["run"]["info"]["artifact_uri"] == want, "runs/create artifact_uri rewritten: %r" % r)
        r = c.req("GET", MLF + "/runs/get?run_id=" + run)
        check(r.status == 200 and r.json()["run"]["info"]["artifact_uri"] == want, "runs/get rewritten: %r" % r)
        r = c.post_json(MLF + "/runs/search", {"experiment_ids": [exp], "filter": "tags.`pusher.key` = 'k1'"})
        check(r.status == 200 and [x["info"]["artifact_uri"] for x in r.json()["runs"]] == [want],
              "runs/search: %r" % r)
        status, data = up.get(MLF + "/runs/get?run_id=" + run)
        check(json.loads(data)["run"]["info"]["artifact_uri"].startswith("mlflow-artifacts:/"),
              "the upstream itself still says mlflow-artifacts:")

        # Fault injection on log-batch, then the retry lands.
        srv.faults({"method": "POST", "path_prefix": MLF + "/runs/log-batch", "status": 429, "retry_after": "2"})
        batch = {"run_id": run, "metrics": [{"key": "train/loss", "value": 0.5, "timestamp": 1732000001000, "step": 1}],
                 "params": [{"key": "lr", "value": "0.001"}]}
        r = c.post_json(MLF + "/runs/log-batch", batch)
        check(r.status == 429 and r.headers["Retry-After"] == "2"
              and r.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED", "429 on log-batch: %r" % r)
        status, data = up.get(MLF + "/runs/get?run_id=" + run)
        check("metrics" not in json.loads(data)["run"]["data"], "the faulted batch did not reach the upstream")
        r = c.post_json(MLF + "/runs/log-batch", batch)
        check(r.status == 200 and r.json() == {}, "retried log-batch: %r" % r)
        status, data = up.get(MLF + "/runs/get?run_id=" + run)
        check(json.loads(data)["run"]["data"]["metrics"][0]["value"] == 0.5, "metric visible upstream")
        r = c.req("POST", MLF + "/runs/log-batch", json.dumps(batch).encode())
        check(r.status == 400, "upstream's own rule (POST needs Content-Type: application/json) passes: %r" % r)

        # Artifacts through credentials-for-write + signed PUT.
        paths = ["last/last.ckpt", "last/metadata.yaml", "epoch=3-step=400/epoch=3-step=400.ckpt", "empty.txt"]
        infos = creds(c, run, paths)
        check_signed_uri(srv, infos[0], run, 900)
        blobs = {p: (os.urandom(2 * MiB + 17) if p.endswith(".ckpt") else (b"" if p == "empty.txt" else b"m: 1\n"))
                 for p in paths}
        for info in infos:
            h = {x["name"]: x["value"] for x in info["headers"]}
            r = signed_req("PUT", info["signed_uri"], blobs[info["path"]], h)
            check(r.status == 200 and r.headers["ETag"], "signed PUT %s: %r" % (info["path"], r))
        for p in paths:
            status, data = up.get("/api/2.0/mlflow-artifacts/artifacts/%s/%s/artifacts/%s" % (exp, run, quote(p)))
            check(status == 200 and data == blobs[p], "artifact %s visible at the upstream: %s" % (p, status))
        r = c.req("GET", MLF + "/artifacts/list?run_id=%s&path=last" % run)
        files = {f["path"]: f.get("file_size", 0) for f in r.json().get("files", [])}
        check(r.status == 200 and files == {"last/last.ckpt": 2 * MiB + 17, "last/metadata.yaml": 5}
              and r.json()["root_uri"] == want, "artifacts/list through the proxy: %r" % r)
        r = signed_req("GET", creds(c, run, ["last/metadata.yaml"], "read")[0]["signed_uri"])
        check(r.status == 200 and r.data == b"m: 1\n", "credentials-for-read download: %r" % r)

        # Expired URL -> 403, fresh credentials work.
        url = creds(c, run, ["last/last.ckpt"])[0]["signed_uri"]
        check(srv.ctl("POST", "/_test/expire_signed_urls")[0] == 200, "expire_signed_urls")
        r = signed_req("PUT", url, b"new", SSE)
        check(r.status == 403 and EXPIRED_XML in r.data.decode(), "expired -> 403: %r" % r)
        url = creds(c, run, ["last/last.ckpt"])[0]["signed_uri"]
        check(signed_req("PUT", url, b"new", SSE).status == 200, "fresh credentials work")
        status, data = up.get("/api/2.0/mlflow-artifacts/artifacts/%s/%s/artifacts/last/last.ckpt" % (exp, run))
        check(data == b"new", "overwritten at the upstream")

        # A lost runs/create answer leaves a ghost run (what search-before-create is for).
        srv.faults({"method": "POST", "path_prefix": MLF + "/runs/create", "action": "drop_after_commit"})
        try:
            c.post_json(MLF + "/runs/create", {"experiment_id": exp, "tags": [{"key": "pusher.key", "value": "k2"}]})
            raise CheckFailed("drop_after_commit must not answer")
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, http.client.BadStatusLine):
            pass
        c.close()
        c = Client(srv.port)
        r = c.post_json(MLF + "/runs/search", {"experiment_ids": [exp], "filter": "tags.`pusher.key` = 'k2'"})
        check(r.status == 200 and len(r.json().get("runs", [])) == 1, "the dropped create committed: %r" % r)

        check(c.post_json(MLF + "/runs/delete", {"run_id": run}).status == 200, "runs/delete")
        r = c.post_json(MLF + "/artifacts/credentials-for-write", {"run_id": run, "path": ["x"]})
        check(r.status == 400, "no write credentials for a deleted run: %r" % r)
        c.close()
        check(staging_empty(srv), "staging empty")
        rc = srv.stop()
        check(rc == 0, "SIGTERM -> 0, got %s" % rc)
        err = open(srv.stderr_path).read()
        check("Traceback" not in err and PAT not in err, "fake stderr clean:\n" + err[-3000:])
        srv = None
        return startup
    finally:
        if srv is not None:
            srv.stop()
        up.stop()


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", default=os.path.join(here, "fake_databricks_server.py"))
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--big_mib", type=int, default=int(os.environ.get("FAKE_DBX_SELFTEST_BIG_MIB", "200")))
    ap.add_argument("--mlflow_python", default=os.environ.get("FAKE_DBX_MLFLOW_PYTHON", ""),
                    help="python with mlflow installed: also test against a real MLflow server")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="fake_dbx_selftest_")
    srv = None
    current = "startup"
    try:
        srv = Server(args.python, args.server, tmp, [
            "--token", PAT, "--token", "second-pat", "--client_id", CLIENT_ID, "--client_secret", CLIENT_SECRET,
            "--volume", "main/cv/ckpt", "--dbfs_handle_ttl_s", "1", "--workspace_user", USER, "--verbose"])
        tests = [test_auth, test_oauth, test_files_basic, test_listing, test_chunked_and_length,
                 test_keepalive_and_log, test_status_faults, test_drop_faults, test_dbfs, test_workspace,
                 test_mlflow_rules]
        for t in tests:
            current = t.__name__
            t(srv)
            print("ok   %s" % current)
        current = "test_big_stream"
        secs, growth = test_big_stream(srv, args.big_mib)
        print("ok   %s (%d MiB up+down in %.1f s, server peak RSS +%d MiB)" % (current, args.big_mib, secs, growth))
        check(not os.listdir(os.path.join(srv.store, ".staging")), "staging empty at the end")
        current = "sigterm"
        proc = srv
        srv = None
        rc = proc.stop(signal.SIGTERM)
        check(rc == 0, "SIGTERM -> clean exit 0, got %s" % rc)
        err = open(proc.stderr_path).read()
        check(PAT not in err and CLIENT_SECRET not in err, "server stderr never holds secrets")
        check("Traceback" not in err, "server stderr has no tracebacks:\n" + err[-3000:])
        print("ok   %s" % current)
        current = "test_second_server"
        test_second_server(args.python, args.server, tmp)
        print("ok   %s" % current)
        current = "test_mlflow_forwarding"
        test_mlflow_forwarding(args.python, args.server, tmp)
        print("ok   %s" % current)
        current = "test_mlflow_real"
        if args.mlflow_python:
            secs = test_mlflow_real(args.python, args.server, tmp, args.mlflow_python)
            print("ok   %s (mlflow server %s, started in %.1f s)" % (current, args.mlflow_python, secs))
        else:
            print("skip %s (set FAKE_DBX_MLFLOW_PYTHON to a python with mlflow to run it)" % current)
    except CheckFailed as e:
        print("FAIL %s: %s" % (current, e), file=sys.stderr)
        return 1
    except Exception:
        print("FAIL %s: unexpected exception" % current, file=sys.stderr)
        traceback.print_exc()
        return 1
    finally:
        if srv is not None:
            try:
                srv.stop()
            except CheckFailed:
                pass
            try:
                sys.stderr.write(open(srv.stderr_path).read()[-4000:])
            except OSError:
                pass
        shutil.rmtree(tmp, ignore_errors=True)
    print("PASS fake_databricks_server selftest (%s)" % args.python)
    return 0


if __name__ == "__main__":
    sys.exit(main())
