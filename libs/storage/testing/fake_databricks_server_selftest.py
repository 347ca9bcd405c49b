#!/usr/bin/env python3
"""Self-test of fake_databricks_server.py: starts it as a subprocess and exercises every endpoint and fault.

Standard library only (http.client, socket, urllib.parse). Exit 0 on success; on failure, print which check
failed and exit 1.  Usage: fake_databricks_server_selftest.py [--server PATH] [--python EXE] [--big_mib N]
"""

import argparse
import base64
import email.utils
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from urllib.parse import quote

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


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", default=os.path.join(here, "fake_databricks_server.py"))
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--big_mib", type=int, default=int(os.environ.get("FAKE_DBX_SELFTEST_BIG_MIB", "200")))
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="fake_dbx_selftest_")
    srv = None
    current = "startup"
    try:
        srv = Server(args.python, args.server, tmp, [
            "--token", PAT, "--token", "second-pat", "--client_id", CLIENT_ID, "--client_secret", CLIENT_SECRET,
            "--volume", "main/cv/ckpt", "--dbfs_handle_ttl_s", "1", "--verbose"])
        tests = [test_auth, test_oauth, test_files_basic, test_listing, test_chunked_and_length,
                 test_keepalive_and_log, test_status_faults, test_drop_faults, test_dbfs]
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
