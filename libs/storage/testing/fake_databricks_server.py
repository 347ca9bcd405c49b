#!/usr/bin/env python3
"""Test stand-in for the Databricks REST service (Files API, DBFS API 2.0, OAuth M2M).

This is NOT Databricks. It is the one mock the project allows: a small local HTTP server that the C++
integration tests of the checkpoint syncer (Unity Catalog Volumes Files API, DBFS API 2.0 fallback) and the
MLflow pusher (OAuth M2M) talk to instead of a real workspace. It models the documented endpoint semantics
(see shared/reference/mlflow_databricks.md sections 9-11 and the Databricks "Files API" / "DBFS API" pages)
and, where the documentation is silent, picks the more pessimistic behaviour so that a client which works
here does not rely on luck against the real service. Python 3 standard library only.

Usage:
  fake_databricks_server.py --root DIR --port_file FILE [--port 0] [--token PAT ...]
      [--client_id ID --client_secret SECRET] [--token_ttl_s 3600]
      [--volume CATALOG/SCHEMA/VOLUME ...] [--dbfs_handle_ttl_s 600] [--verbose]

Binds 127.0.0.1, writes the port (decimal + newline) to --port_file atomically, serves until SIGTERM/SIGINT.
Storage: /Volumes/c/s/v/... lives under DIR/Volumes/c/s/v/..., DBFS /x/y under DIR/dbfs/x/y; upload staging
files under DIR/.staging/ (outside both visible trees).

Endpoints
  GET  /oidc/.well-known/oauth-authorization-server        discovery (token_endpoint, issuer)
  POST /oidc/v1/token                                      client_credentials, HTTP Basic (or form) creds
  PUT|GET|HEAD|DELETE /api/2.0/fs/files<path>              Files API (PUT is atomic; GET supports Range)
  PUT|GET|HEAD|DELETE /api/2.0/fs/directories<path>        Files API directories (GET = paged listing)
  POST /api/2.0/dbfs/{create,add-block,close,put,mkdirs,move,delete}
  GET  /api/2.0/dbfs/{get-status,list,read}                (query parameters, or a JSON body as legacy clients send)
  POST /_test/faults, /_test/reset, /_test/expire_tokens, /_test/expire_dbfs_handles;
  GET  /_test/faults, /_test/log, /_test/stats             test control, no auth, never logged or faulted

Fault rules (POST /_test/faults, a JSON list, appended to a queue, first match fires, `times` decrements):
  {"method": "PUT"|"*", "path_prefix": "/api/2.0/fs/files/Volumes/main", "times": 1,
   "status": 429, "retry_after": "2", "body": {...}}        respond with that status (body drained first)
  {..., "action": "drop_mid_body", "after_bytes": N}          read N body bytes, reset the connection, commit nothing
  {..., "action": "drop_after_commit"}                         handle fully (effects committed), then reset, no response
  path_prefix is matched against the raw (percent-encoded) and the decoded request path.

Known deviations from the real service (deliberate, or unknown there):
  * Only /Volumes/<catalog>/<schema>/<volume>/... paths are modeled in the Files API (others -> 400); the
    multipart upload flow (?action=initiate-upload, create-upload-part-urls) is not modeled (-> 501).
  * Files API error codes: overwrite=false on an existing file, or a file/directory in the way -> 409
    ALREADY_EXISTS; a non-empty directory DELETE -> 409 DIRECTORY_NOT_EMPTY (the real code is undocumented);
    malformed paths ('.', '..', '//', an encoded '/') -> 400 INVALID_PARAMETER_VALUE.
  * Files API listing omits "contents" for an empty directory (Databricks proto-JSON omits empty repeated
    fields; clients must accept both). Directory entries carry no trailing '/' in "path" [unverified].
  * Page tokens are opaque but name-based (resume after the last name returned), so concurrent changes
    neither repeat nor skip surviving entries. next_page_token is only sent when more entries remain.
  * DBFS create makes the file visible at its final path at once and every add-block grows it in place
    (pessimistic: readers may see a partial file). add-block to a handle whose file was moved or deleted
    -> 404 RESOURCE_DOES_NOT_EXIST. DBFS move creates missing parents of the destination. Deleting "/" is
    refused (400). dbfs/put only takes base64 "contents" (no multipart form upload).
  * OAuth tokens are random strings, not JWTs. The token endpoint also accepts client_secret_post.
  * Request-log "auth" is "pat", "oauth", "none" or "bad" (unknown or expired bearer, wrong client creds), plus
    "basic" for a token request with the right client credentials.
"""

import argparse
import base64
import binascii
import email.utils
import hmac
import itertools
import json
import os
import re
import secrets
import shutil
import signal
import socket
import stat
import struct
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

CHUNK = 1 << 20                 # streaming unit; never more than this of a body in memory
MAX_BLOCK = 1 << 20             # DBFS add-block / put / read limit (decoded bytes)
DBFS_DEFAULT_READ = 512 * 1024  # DBFS read default length
MAX_FILE = 5 << 30              # Files API single PUT limit (5 GiB)
MAX_JSON_BODY = 8 << 20         # JSON request bodies (base64 of 1 MiB is ~1.4 MB)
MAX_PAGE = 1000                 # Files API listing page size cap

FILES_PREFIX = "/api/2.0/fs/files"
DIRS_PREFIX = "/api/2.0/fs/directories"
DBFS_PREFIX = "/api/2.0/dbfs/"

DEFAULT_FAULT_CODES = {
    429: "REQUEST_LIMIT_EXCEEDED", 503: "TEMPORARILY_UNAVAILABLE", 500: "INTERNAL_ERROR",
    502: "TEMPORARILY_UNAVAILABLE", 504: "TEMPORARILY_UNAVAILABLE", 401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED", 404: "NOT_FOUND", 408: "REQUEST_TIMEOUT",
}


class ApiError(Exception):
    """An error response. `body` overrides the default {"error_code", "message"} JSON."""

    def __init__(self, status, code, message, body=None, close=False, headers=None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.body = body if body is not None else {"error_code": code, "message": message}
        self.close = close          # respond with Connection: close and do not drain the body
        self.headers = headers or {}


class ClientGone(Exception):
    """The client went away (EOF or reset) before the request body was complete."""


class FsConflict(Exception):
    """A file is in the way of a directory (or the reverse)."""


def bad_param(message):
    return ApiError(400, "INVALID_PARAMETER_VALUE", message)


# --------------------------------------------------------------------------------------------------------
# Request bodies: Content-Length or chunked, counted, streamed.


class Body:
    def __init__(self, rfile, length, chunked):
        self.rfile, self.remaining, self.chunked = rfile, length, chunked
        self.has_length = chunked or length is not None
        if length is None:
            self.remaining = 0
        self.count = 0
        self.done = not chunked and self.remaining == 0
        self._chunk_left = 0

    def _read_exact(self, n):
        try:
            data = self.rfile.read(n)
        except (OSError, ValueError) as e:   # reset, timeout, closed file
            raise ClientGone(str(e))
        if len(data) < n:
            self.count += len(data)
            raise ClientGone("EOF after %d body bytes" % self.count)
        return data

    def _readline(self):
        try:
            line = self.rfile.readline(65537)
        except (OSError, ValueError) as e:
            raise ClientGone(str(e))
        if not line:
            raise ClientGone("EOF in chunked framing")
        return line

    def read(self, n=CHUNK):
        """Up to n bytes of the body; b'' at its end. Raises ClientGone on a premature end."""
        if self.done or n <= 0:
            return b""
        if not self.chunked:
            data = self._read_exact(min(n, self.remaining))
            self.remaining -= len(data)
            self.done = self.remaining == 0
        else:
            if self._chunk_left == 0:
                line = self._readline()
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise ApiError(400, "MALFORMED_REQUEST", "bad chunk size line", close=True)
                if size == 0:
                    while self._readline() not in (b"\r\n", b"\n"):  # trailers
                        pass
                    self.done = True
                    return b""
                self._chunk_left = size
            data = self._read_exact(min(n, self._chunk_left))
            self._chunk_left -= len(data)
            if self._chunk_left == 0:
                self._readline()  # CRLF after the chunk
        self.count += len(data)
        return data

    def drain(self):
        while self.read():
            pass

    def read_all(self, limit):
        parts, total = [], 0
        while True:
            data = self.read()
            if not data:
                return b"".join(parts)
            total += len(data)
            if total > limit:
                raise ApiError(413, "REQUEST_TOO_LARGE", "request body over %d bytes" % limit, close=True)
            parts.append(data)


class NullWriter:
    """Swallows a response (drop_after_commit)."""
    closed = False

    def write(self, data):
        return len(data)

    def flush(self):
        pass

    def close(self):
        self.closed = True


# --------------------------------------------------------------------------------------------------------
# Shared server state.


class State:
    def __init__(self, args):
        self.root = os.path.abspath(args.root)
        self.vol_root = os.path.join(self.root, "Volumes")
        self.dbfs_root = os.path.join(self.root, "dbfs")
        self.staging = os.path.join(self.root, ".staging")
        self.pats = list(args.token or [])
        self.client_id, self.client_secret = args.client_id, args.client_secret
        self.token_ttl = args.token_ttl_s
        self.handle_ttl = args.dbfs_handle_ttl_s
        self.verbose = args.verbose
        self.port = 0
        self.lock = threading.Lock()     # faults, log, counters, tokens, handles
        self.fs_lock = threading.RLock()  # every check-then-mutate on the stored trees
        self.faults = []
        self.log = []
        self.oauth = {}                  # token -> monotonic expiry
        self.handles = {}                # DBFS handle -> {"fs", "last"}
        self.next_handle = itertools.count(secrets.randbelow(1 << 40) + 1000)
        self.conn_ids = itertools.count(1)
        self.epoch = 0                   # bumped by /_test/reset
        self.requests = 0                # /api + /oidc requests since reset
        self.connections = 0             # connections that carried one of those since reset
        self.tcp_connections = 0         # every accepted connection, never reset
        self.test_requests = 0

    def classify_bearer(self, header):
        """'pat' | 'oauth' | 'none' | 'bad' for an Authorization header value."""
        if not header:
            return "none"
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return "bad"
        for pat in self.pats:
            if hmac.compare_digest(pat.encode(), token.encode()):
                return "pat"
        with self.lock:
            expiry = self.oauth.get(token)
        if expiry is not None and time.monotonic() < expiry:
            return "oauth"
        return "bad"

    def take_fault(self, method, raw_path):
        decoded = unquote(raw_path)
        with self.lock:
            for rule in self.faults:
                if rule["method"] not in ("*", method):
                    continue
                prefix = rule["path_prefix"]
                if not (raw_path.startswith(prefix) or decoded.startswith(prefix)):
                    continue
                rule["times"] -= 1
                if rule["times"] <= 0:
                    self.faults.remove(rule)
                return dict(rule)
        return None

    def reset(self):
        with self.lock:
            self.faults.clear()
            self.log.clear()
            self.epoch += 1
            self.requests = self.connections = self.test_requests = 0


FAULT_KEYS = {"method", "path_prefix", "times", "status", "retry_after", "body", "action", "after_bytes"}


def validate_fault(rule):
    if not isinstance(rule, dict):
        raise bad_param("each fault rule must be a JSON object")
    unknown = set(rule) - FAULT_KEYS
    if unknown:
        raise bad_param("unknown fault rule keys: %s" % sorted(unknown))
    out = {"method": str(rule.get("method", "*")).upper(), "path_prefix": rule.get("path_prefix", "/"),
           "times": rule.get("times", 1)}
    if not isinstance(out["path_prefix"], str) or not out["path_prefix"].startswith("/"):
        raise bad_param("path_prefix must be a string starting with '/'")
    if not isinstance(out["times"], int) or isinstance(out["times"], bool) or out["times"] < 1:
        raise bad_param("times must be an integer >= 1")
    if ("status" in rule) == ("action" in rule):
        raise bad_param("a fault rule needs exactly one of 'status' or 'action'")
    if "status" in rule:
        status = rule["status"]
        if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
            raise bad_param("status must be an integer 400..599")
        out["status"] = status
        if "retry_after" in rule:
            out["retry_after"] = str(rule["retry_after"])
        code = DEFAULT_FAULT_CODES.get(status, "INTERNAL_ERROR" if status >= 500 else "BAD_REQUEST")
        out["body"] = rule.get("body", {"error_code": code, "message": "injected fault (HTTP %d)" % status})
    else:
        action = rule["action"]
        if action == "drop_mid_body":
            n = rule.get("after_bytes", 0)
            if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                raise bad_param("after_bytes must be an integer >= 0")
            out["after_bytes"] = n
        elif action != "drop_after_commit":
            raise bad_param("action must be 'drop_mid_body' or 'drop_after_commit'")
        out["action"] = action
    return out


# --------------------------------------------------------------------------------------------------------
# Small helpers.


def ms(st):
    return int(st.st_mtime * 1000)


def makedirs(path):
    """mkdir -p that reports a file in the way as FsConflict."""
    try:
        os.makedirs(path, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise FsConflict(path)
    if not os.path.isdir(path):
        raise FsConflict(path)


def query_bool(q, name, default):
    if name not in q:
        return default
    v = q[name][-1].lower()
    if v in ("true", "1"):
        return True
    if v in ("false", "0"):
        return False
    raise bad_param("%s must be true or false" % name)


def json_bool(body, name, default=False):
    v = body.get(name, default)
    if v is None:
        return default
    if not isinstance(v, bool):
        raise bad_param("%s must be a boolean" % name)
    return v


def json_int(v, name, default=None):
    if v is None:
        if default is None:
            raise bad_param("%s is required" % name)
        return default
    if isinstance(v, bool):
        raise bad_param("%s must be an integer" % name)
    if isinstance(v, int):
        return v
    if isinstance(v, str) and re.fullmatch(r"-?\d+", v.strip()):  # proto JSON int64 may be a string
        return int(v)
    raise bad_param("%s must be an integer" % name)


def parse_range(header, size):
    """(start, end) inclusive, None to serve the whole file, or 'unsatisfiable'."""
    m = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header or "")
    if not m or (m.group(1) == "" and m.group(2) == ""):
        return None          # absent, malformed or multi-range: ignored, as RFC 9110 allows
    a, b = m.groups()
    if a == "":
        n = int(b)
        if n == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - n), size - 1
    start = int(a)
    end = int(b) if b else size - 1
    if b and end < start:
        return None          # invalid range: ignored
    if start >= size:
        return "unsatisfiable"
    return start, min(end, size - 1)


# --------------------------------------------------------------------------------------------------------
# The handler: one instance per TCP connection, one _handle() per request.


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeDatabricks/1.0"
    timeout = 300  # seconds of socket silence before an idle/stalled connection is dropped

    def setup(self):
        super().setup()
        self.st = self.server.state
        with self.st.lock:
            self.st.tcp_connections += 1
            self.conn_id = next(self.st.conn_ids)
        self.conn_epoch = -1

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):
        if self.st.verbose:
            sys.stderr.write("fake_databricks: %s\n" % (fmt % args))

    def send_response(self, code, message=None):
        self.status = code
        super().send_response(code, message)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_PATCH = do_OPTIONS = lambda self: self._handle()

    # ---- responses

    def _send_json(self, status, obj, headers=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _send_empty(self, status, headers=None):
        self.send_response(status)
        if status != 204:
            self.send_header("Content-Length", "0")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()

    def _send_error(self, e):
        if e.close:
            self.close_connection = True
        self._send_json(e.status, e.body, e.headers)

    def _abort_connection(self):
        """Close abruptly (RST), with no response."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # ---- entry point

    def _handle(self):
        st = self.st
        self.status = 0
        self.auth = "none"
        split = urlsplit(self.path)
        raw_path, query = split.path, split.query
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        cl = self.headers.get("Content-Length")
        try:
            if "chunked" in te:
                self.body = Body(self.rfile, None, True)
            elif cl is not None:
                if not cl.strip().isdigit():
                    raise ApiError(400, "MALFORMED_REQUEST", "bad Content-Length", close=True)
                self.body = Body(self.rfile, int(cl), False)
            else:
                self.body = Body(self.rfile, None, False)
        except ApiError as e:
            self.body = Body(self.rfile, 0, False)
            self._send_error(e)
            return

        if raw_path.startswith("/_test/"):
            with st.lock:
                st.test_requests += 1
            try:
                try:
                    self._route_test(raw_path, query)
                except ApiError as e:
                    if not e.close:
                        self.body.drain()
                    self._send_error(e)
                if not self.close_connection:
                    self.body.drain()
            except (ClientGone, OSError):
                self.close_connection = True
            return

        with st.lock:
            st.requests += 1
            if self.conn_epoch != st.epoch:
                self.conn_epoch = st.epoch
                st.connections += 1
        self.auth = st.classify_bearer(self.headers.get("Authorization"))
        entry = {"method": self.command, "path": raw_path, "query": query, "conn": self.conn_id}
        rule = st.take_fault(self.command, raw_path)
        aborted = False
        try:
            if rule is None:
                self._serve(raw_path, query)
            elif "status" in rule:
                entry["fault"] = "status"
                self.body.drain()
                headers = {"Retry-After": rule["retry_after"]} if "retry_after" in rule else None
                self._send_json(rule["status"], rule["body"], headers)
            elif rule["action"] == "drop_mid_body":
                entry["fault"] = "drop_mid_body"
                left = rule["after_bytes"]
                while left > 0 and self.body.read(min(CHUNK, left)):
                    left = rule["after_bytes"] - self.body.count
                aborted = True
            else:
                entry["fault"] = "drop_after_commit"
                self.wfile = NullWriter()
                self._serve(raw_path, query)
                entry["dropped_status"] = self.status
                self.status = 0
                aborted = True
            if aborted:
                self._abort_connection()
            elif not self.close_connection:
                self.body.drain()
        except ClientGone:
            self.close_connection = True
        except ApiError as e:  # malformed chunked framing while draining a faulted request
            self.close_connection = True
            if self.status == 0 and not aborted:
                self._send_error(e)
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            self.close_connection = True
        except Exception:
            traceback.print_exc()
            self.close_connection = True
            if self.status == 0:
                try:
                    self._send_json(500, {"error_code": "INTERNAL_ERROR", "message": "fake server bug"})
                except OSError:
                    pass
        finally:
            if self.status == 0 and "fault" not in entry:
                entry["fault"] = "client_gone"  # no response was sent
            entry.update(status=0 if aborted else self.status, auth=self.auth, bytes_in=self.body.count)
            with st.lock:
                st.log.append(entry)

    def _serve(self, raw_path, query):
        try:
            q = parse_qs(query, keep_blank_values=True)
            if raw_path.startswith("/oidc/"):
                self._route_oidc(raw_path)
            elif raw_path.startswith("/api/"):
                if self.auth not in ("pat", "oauth"):
                    raise ApiError(401, "UNAUTHENTICATED",
                                   "missing Authorization header" if self.auth == "none"
                                   else "invalid or expired access token",
                                   headers={"WWW-Authenticate": "Bearer"})
                self._route_api(raw_path, q)
            else:
                raise ApiError(404, "ENDPOINT_NOT_FOUND", "no API found for '%s %s'" % (self.command, raw_path))
        except ApiError as e:
            if not e.close:
                self.body.drain()
            self._send_error(e)

    # ---- /_test/

    def _route_test(self, raw_path, query):
        st, m = self.st, self.command
        if raw_path == "/_test/faults" and m == "POST":
            try:
                rules = json.loads(self.body.read_all(MAX_JSON_BODY) or b"[]")
            except ValueError:
                raise ApiError(400, "MALFORMED_REQUEST", "faults body must be JSON")
            if isinstance(rules, dict):
                rules = [rules]
            if not isinstance(rules, list):
                raise bad_param("faults body must be a JSON list of rules")
            rules = [validate_fault(r) for r in rules]
            with st.lock:
                st.faults.extend(rules)
                pending = len(st.faults)
            self._send_json(200, {"queued": len(rules), "pending": pending})
        elif raw_path == "/_test/faults" and m == "GET":
            with st.lock:
                self._send_json(200, [dict(r) for r in st.faults])
        elif raw_path == "/_test/reset" and m == "POST":
            st.reset()
            self._send_json(200, {})
        elif raw_path == "/_test/expire_tokens" and m == "POST":
            with st.lock:
                for t in st.oauth:
                    st.oauth[t] = 0.0
                n = len(st.oauth)
            self._send_json(200, {"expired": n})
        elif raw_path == "/_test/expire_dbfs_handles" and m == "POST":
            with st.lock:
                n = len(st.handles)
                st.handles.clear()
            self._send_json(200, {"expired": n})
        elif raw_path == "/_test/log" and m == "GET":
            with st.lock:
                self._send_json(200, list(st.log))
        elif raw_path == "/_test/stats" and m == "GET":
            with st.lock:
                self._send_json(200, {"requests": st.requests, "connections": st.connections,
                                      "tcp_connections_total": st.tcp_connections,
                                      "test_requests": st.test_requests})
        else:
            raise ApiError(404, "ENDPOINT_NOT_FOUND", "unknown test endpoint %s %s" % (m, raw_path))

    # ---- /oidc/ (OAuth M2M)

    def _route_oidc(self, raw_path):
        st = self.st
        base = "http://127.0.0.1:%d" % st.port
        if raw_path == "/oidc/.well-known/oauth-authorization-server" and self.command == "GET":
            self._send_json(200, {
                "issuer": base + "/oidc",
                "token_endpoint": base + "/oidc/v1/token",
                "authorization_endpoint": base + "/oidc/v1/authorize",
                "grant_types_supported": ["client_credentials"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                "scopes_supported": ["all-apis"],
            })
            return
        if raw_path != "/oidc/v1/token":
            raise ApiError(404, "ENDPOINT_NOT_FOUND", "no OIDC endpoint %s" % raw_path)
        if self.command != "POST":
            raise ApiError(405, "METHOD_NOT_ALLOWED", "use POST", body={"error": "invalid_request"})
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        raw = self.body.read_all(65536)

        def oauth_error(status, err, desc, headers=None):
            return ApiError(status, err, desc, body={"error": err, "error_description": desc}, headers=headers)

        if ctype != "application/x-www-form-urlencoded":
            raise oauth_error(400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded")
        form = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        cid = secret = None
        authz = self.headers.get("Authorization") or ""
        if authz[:6].lower() == "basic ":
            try:
                cid, _, secret = base64.b64decode(authz[6:].strip(), validate=True).decode().partition(":")
                cid, secret = unquote(cid), unquote(secret)
            except (binascii.Error, UnicodeDecodeError):
                cid = secret = None
        elif "client_id" in form:
            cid, secret = form["client_id"][-1], form.get("client_secret", [""])[-1]
        ok = (st.client_id is not None and st.client_secret is not None and cid is not None
              and hmac.compare_digest(cid.encode(), st.client_id.encode())
              and hmac.compare_digest(secret.encode(), st.client_secret.encode()))
        self.auth = "basic" if ok else ("none" if cid is None and not authz else "bad")
        if not ok:
            raise oauth_error(401, "invalid_client", "Client authentication failed",
                              headers={"WWW-Authenticate": 'Basic realm="oidc"'})
        if form.get("grant_type", [""])[-1] != "client_credentials":
            raise oauth_error(400, "unsupported_grant_type", "grant_type must be client_credentials")
        scopes = " ".join(form.get("scope", [""])).split()
        if "all-apis" not in scopes:
            raise oauth_error(400, "invalid_scope", "scope must include all-apis")
        token = "fakeoauth-" + secrets.token_urlsafe(32)
        with st.lock:
            st.oauth[token] = time.monotonic() + st.token_ttl
        self._send_json(200, {"access_token": token, "token_type": "Bearer", "expires_in": st.token_ttl,
                              "scope": "all-apis"}, {"Cache-Control": "no-store"})

    # ---- /api/ routing

    def _route_api(self, raw_path, q):
        for prefix, kind in ((FILES_PREFIX, "files"), (DIRS_PREFIX, "dirs")):
            if raw_path == prefix or raw_path.startswith(prefix + "/"):
                rest = raw_path[len(prefix):]
                if kind == "files":
                    self._files(rest, q)
                else:
                    self._dirs(rest, q)
                return
        if raw_path.startswith(DBFS_PREFIX):
            op = raw_path[len(DBFS_PREFIX):]
            handler = DBFS_OPS.get((self.command, op))
            if handler is None:
                if any(o == op for _, o in DBFS_OPS):
                    raise ApiError(405, "METHOD_NOT_ALLOWED", "wrong method for dbfs/%s" % op)
                raise ApiError(404, "ENDPOINT_NOT_FOUND", "no API found for '%s %s'" % (self.command, raw_path))
            handler(self, q)
            return
        if raw_path.startswith("/api/2.0/fs/"):
            raise ApiError(501, "NOT_IMPLEMENTED", "this Files API endpoint is not modeled by the fake")
        raise ApiError(404, "ENDPOINT_NOT_FOUND", "no API found for '%s %s'" % (self.command, raw_path))

    # ---- Files API

    def _vol_path(self, rest, is_dir):
        """Percent-decode `rest` per segment -> (display path, fs path, depth inside the volume)."""
        if not rest.startswith("/"):
            raise bad_param("path must be absolute")
        parts = rest[1:].split("/")
        if is_dir and len(parts) > 1 and parts[-1] == "":
            parts.pop()  # a directory path may end in '/'
        segs = []
        for p in parts:
            try:
                s = unquote(p, errors="strict")
            except UnicodeDecodeError:
                raise bad_param("path is not valid UTF-8")
            if s in ("", ".", "..") or "/" in s or "\0" in s:
                raise bad_param("invalid path segment %r" % s)
            segs.append(s)
        if len(segs) < 4 or segs[0] != "Volumes":
            raise bad_param("path must be /Volumes/<catalog>/<schema>/<volume>/...")
        vol = os.path.join(self.st.vol_root, *segs[1:4])
        if not os.path.isdir(vol):
            raise ApiError(404, "NOT_FOUND", "volume /Volumes/%s does not exist" % "/".join(segs[1:4]))
        return "/" + "/".join(segs), os.path.join(self.st.vol_root, *segs[1:]), len(segs) - 4

    def _files(self, rest, q):
        m = self.command
        display, fs, depth = self._vol_path(rest, is_dir=False)
        if m == "PUT":
            if depth == 0:
                raise ApiError(409, "ALREADY_EXISTS", "a volume root is a directory")
            self._files_put(display, fs, query_bool(q, "overwrite", True))
        elif m in ("GET", "HEAD"):
            self._files_get(display, fs)
        elif m == "DELETE":
            with self.st.fs_lock:
                if not os.path.isfile(fs):
                    raise ApiError(404, "NOT_FOUND", "file %s does not exist" % display)
                os.unlink(fs)
            self._send_empty(204)
        elif m == "POST":
            raise ApiError(501, "NOT_IMPLEMENTED", "multipart/resumable uploads are not modeled by the fake")
        else:
            raise ApiError(405, "METHOD_NOT_ALLOWED", "%s not allowed on fs/files" % m)

    def _files_put(self, display, fs, overwrite):
        if not self.body.has_length:
            raise ApiError(411, "LENGTH_REQUIRED", "Content-Length (or chunked encoding) is required")
        if not self.body.chunked and self.body.remaining > MAX_FILE:
            raise ApiError(413, "INVALID_PARAMETER_VALUE", "single-part uploads are limited to 5 GiB", close=True)

        def conflict():
            if os.path.isdir(fs):
                return ApiError(409, "ALREADY_EXISTS", "a directory exists at %s" % display)
            if not overwrite and os.path.lexists(fs):
                return ApiError(409, "ALREADY_EXISTS", "file %s already exists" % display)
            return None

        err = conflict()
        if err:                        # cheap early answer; the body is drained by the caller
            raise err
        stage = os.path.join(self.st.staging, uuid.uuid4().hex)
        try:
            with open(stage, "wb") as f:
                total = 0
                while True:
                    data = self.body.read()
                    if not data:
                        break
                    total += len(data)
                    if total > MAX_FILE:
                        raise ApiError(413, "INVALID_PARAMETER_VALUE", "uploads are limited to 5 GiB", close=True)
                    f.write(data)
            # The whole body is here: commit atomically, re-checking under the lock.
            with self.st.fs_lock:
                err = conflict()
                if err:
                    raise err
                try:
                    makedirs(os.path.dirname(fs))
                except FsConflict:
                    raise ApiError(409, "ALREADY_EXISTS", "a file is in the way of the parent of %s" % display)
                os.replace(stage, fs)
        finally:
            if os.path.exists(stage):
                os.unlink(stage)
        self._send_empty(204)

    def _files_get(self, display, fs):
        try:
            f = open(fs, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            f = None
        if f is None or not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            if f:
                f.close()
            if self.command == "HEAD":
                self._send_empty(404)
                return
            raise ApiError(404, "NOT_FOUND", "file %s does not exist" % display)
        with f:
            info = os.fstat(f.fileno())
            size = info.st_size
            headers = {"Content-Type": "application/octet-stream", "Accept-Ranges": "bytes",
                       "Last-Modified": email.utils.formatdate(info.st_mtime, usegmt=True)}
            rng = parse_range(self.headers.get("Range"), size) if self.command == "GET" else None
            if rng == "unsatisfiable":
                raise ApiError(416, "INVALID_PARAMETER_VALUE", "range not satisfiable",
                               headers={"Content-Range": "bytes */%d" % size})
            start, end = rng if rng else (0, size - 1)
            length = end - start + 1 if size else 0
            self.send_response(206 if rng else 200)
            for k, v in headers.items():
                self.send_header(k, v)
            if rng:
                self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
            self.send_header("Content-Length", str(length))
            self.end_headers()
            if self.command == "HEAD":
                return
            f.seek(start)
            while length > 0:
                data = f.read(min(CHUNK, length))
                if not data:             # truncated under us: the promised length cannot be kept
                    self.close_connection = True
                    return
                self.wfile.write(data)
                length -= len(data)

    def _dirs(self, rest, q):
        m = self.command
        display, fs, depth = self._vol_path(rest, is_dir=True)
        st = self.st
        if m == "PUT":
            with st.fs_lock:
                try:
                    makedirs(fs)
                except FsConflict:
                    raise ApiError(409, "ALREADY_EXISTS", "a file is in the way of directory %s" % display)
            self._send_empty(204)
        elif m == "HEAD":
            self._send_empty(200 if os.path.isdir(fs) else 404)
        elif m == "DELETE":
            if depth == 0:
                raise bad_param("a volume cannot be deleted through the Files API")
            with st.fs_lock:
                if not os.path.isdir(fs):
                    raise ApiError(404, "NOT_FOUND", "directory %s does not exist" % display)
                if os.listdir(fs):
                    # The real error code for a non-empty directory is not documented; 409 with
                    # DIRECTORY_NOT_EMPTY is this fake's choice (clients should treat any 4xx as "not deleted").
                    raise ApiError(409, "DIRECTORY_NOT_EMPTY", "directory %s is not empty" % display)
                os.rmdir(fs)
            self._send_empty(204)
        elif m == "GET":
            self._dirs_list(display, fs, q)
        else:
            raise ApiError(405, "METHOD_NOT_ALLOWED", "%s not allowed on fs/directories" % m)

    def _dirs_list(self, display, fs, q):
        page_size = MAX_PAGE
        if q.get("page_size", [""])[-1] != "":
            try:
                page_size = int(q["page_size"][-1])
            except ValueError:
                raise bad_param("page_size must be an integer")
            if page_size <= 0:
                page_size = MAX_PAGE
            page_size = min(page_size, MAX_PAGE)  # documented: values above 1000 are coerced to 1000
        after = None
        token = q.get("page_token", [""])[-1]
        if token:
            try:
                raw = token.encode("ascii") + b"=" * (-len(token) % 4)  # tokens are sent unpadded
                after = json.loads(base64.b64decode(raw, altchars=b"-_", validate=True))["after"]
                if not isinstance(after, str):
                    raise ValueError(token)
            except (ValueError, KeyError, TypeError, binascii.Error, UnicodeError):
                raise bad_param("invalid page_token")
        try:
            entries = sorted(os.scandir(fs), key=lambda e: e.name)
        except (FileNotFoundError, NotADirectoryError):
            raise ApiError(404, "NOT_FOUND", "directory %s does not exist" % display)
        if after is not None:
            entries = [e for e in entries if e.name > after]
        page, more = entries[:page_size], len(entries) > page_size
        contents = []
        for e in page:
            try:
                info = e.stat()
            except FileNotFoundError:
                continue
            item = {"path": display + "/" + e.name, "name": e.name, "is_directory": e.is_dir()}
            if not item["is_directory"]:
                item["file_size"] = info.st_size
                item["last_modified"] = ms(info)
            contents.append(item)
        out = {}
        if contents:
            out["contents"] = contents
        if more:
            token = base64.urlsafe_b64encode(json.dumps({"after": page[-1].name}).encode()).decode()
            out["next_page_token"] = token.rstrip("=")
        self._send_json(200, out)

    # ---- DBFS API 2.0

    def _dbfs_path(self, value, name="path"):
        """dbfs:/a/b or /a/b -> (display "/a/b", fs path)."""
        if not isinstance(value, str) or not value:
            raise bad_param("%s is required and must be an absolute DBFS path" % name)
        p = value[5:] if value.startswith("dbfs:") else value
        if not p.startswith("/"):
            raise bad_param("%s must be an absolute DBFS path (dbfs:/... or /...)" % name)
        segs = [s for s in p.split("/") if s]
        if any(s in (".", "..") or "\0" in s for s in segs):
            raise bad_param("%s contains an invalid segment" % name)
        return "/" + "/".join(segs), os.path.join(self.st.dbfs_root, *segs)

    def _json_body(self):
        raw = self.body.read_all(MAX_JSON_BODY)
        if not raw.strip():
            return {}
        try:
            obj = json.loads(raw)
        except ValueError:
            raise ApiError(400, "MALFORMED_REQUEST", "request body is not valid JSON")
        if not isinstance(obj, dict):
            raise ApiError(400, "MALFORMED_REQUEST", "request body must be a JSON object")
        return obj

    def _get_params(self, q):
        """GET parameters: the query string, else a JSON body (older clients send one with GET)."""
        params = {k: v[-1] for k, v in q.items()}
        if self.body.has_length:
            body = self._json_body()
            for k, v in body.items():
                params.setdefault(k, v)
        return params

    @staticmethod
    def _file_info(display, info):
        is_dir = stat.S_ISDIR(info.st_mode)
        return {"path": display, "is_dir": is_dir, "file_size": 0 if is_dir else info.st_size,
                "modification_time": ms(info)}

    def _b64(self, value, name):
        if value is None:
            return b""
        if not isinstance(value, str):
            raise bad_param("%s must be a base64 string" % name)
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise bad_param("%s is not valid base64" % name)

    def _live_handle(self, body):
        h = json_int(body.get("handle"), "handle")
        with self.st.lock:
            info = self.st.handles.get(h)
            if info is not None and time.monotonic() - info["last"] > self.st.handle_ttl:
                del self.st.handles[h]
                info = None
        if info is None:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", "handle %d does not exist (closed or idle too long)" % h)
        return h, info

    def dbfs_create(self, q):
        body = self._json_body()
        display, fs = self._dbfs_path(body.get("path"))
        overwrite = json_bool(body, "overwrite")
        with self.st.fs_lock:
            if os.path.isdir(fs) or (os.path.lexists(fs) and not overwrite):
                raise ApiError(400, "RESOURCE_ALREADY_EXISTS", "%s already exists" % display)
            try:
                makedirs(os.path.dirname(fs))
            except FsConflict:
                raise ApiError(400, "RESOURCE_ALREADY_EXISTS", "a file is in the way of %s" % display)
            open(fs, "wb").close()  # visible (empty) at its final path from now on
        with self.st.lock:
            h = next(self.st.next_handle)
            self.st.handles[h] = {"fs": fs, "last": time.monotonic()}
        self._send_json(200, {"handle": h})

    def dbfs_add_block(self, q):
        body = self._json_body()
        data = self._b64(body.get("data"), "data")
        if len(data) > MAX_BLOCK:
            raise ApiError(400, "MAX_BLOCK_SIZE_EXCEEDED", "block of %d bytes exceeds the 1 MB limit" % len(data))
        h, info = self._live_handle(body)
        with self.st.fs_lock:
            try:
                fd = os.open(info["fs"], os.O_WRONLY | os.O_APPEND)
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                with self.st.lock:
                    self.st.handles.pop(h, None)
                raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", "the file of handle %d no longer exists" % h)
            try:
                os.write(fd, data)   # visible immediately: partial files are observable
            finally:
                os.close(fd)
        with self.st.lock:
            info["last"] = time.monotonic()
        self._send_json(200, {})

    def dbfs_close(self, q):
        h, _ = self._live_handle(self._json_body())
        with self.st.lock:
            self.st.handles.pop(h, None)
        self._send_json(200, {})

    def dbfs_put(self, q):
        body = self._json_body()
        display, fs = self._dbfs_path(body.get("path"))
        overwrite = json_bool(body, "overwrite")
        data = self._b64(body.get("contents"), "contents")
        if len(data) > MAX_BLOCK:
            raise ApiError(400, "MAX_BLOCK_SIZE_EXCEEDED", "contents exceed the 1 MB limit; use create/add-block")
        stage = os.path.join(self.st.staging, uuid.uuid4().hex)
        try:
            with open(stage, "wb") as f:
                f.write(data)
            with self.st.fs_lock:
                if os.path.isdir(fs) or (os.path.lexists(fs) and not overwrite):
                    raise ApiError(400, "RESOURCE_ALREADY_EXISTS", "%s already exists" % display)
                try:
                    makedirs(os.path.dirname(fs))
                except FsConflict:
                    raise ApiError(400, "RESOURCE_ALREADY_EXISTS", "a file is in the way of %s" % display)
                os.replace(stage, fs)
        finally:
            if os.path.exists(stage):
                os.unlink(stage)
        self._send_json(200, {})

    def dbfs_get_status(self, q):
        p = self._get_params(q)
        display, fs = self._dbfs_path(p.get("path"))
        try:
            info = os.stat(fs)
        except (FileNotFoundError, NotADirectoryError):
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", "no file or directory exists on path %s" % display)
        self._send_json(200, self._file_info(display, info))

    def dbfs_list(self, q):
        p = self._get_params(q)
        display, fs = self._dbfs_path(p.get("path"))
        try:
            info = os.stat(fs)
        except (FileNotFoundError, NotADirectoryError):
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", "no file or directory exists on path %s" % display)
        if not stat.S_ISDIR(info.st_mode):
            self._send_json(200, {"files": [self._file_info(display, info)]})
            return
        files = []
        for e in sorted(os.scandir(fs), key=lambda e: e.name):
            try:
                files.append(self._file_info(display.rstrip("/") + "/" + e.name, e.stat()))
            except FileNotFoundError:
                pass
        self._send_json(200, {"files": files} if files else {})

    def dbfs_read(self, q):
        p = self._get_params(q)
        display, fs = self._dbfs_path(p.get("path"))
        offset = json_int(p.get("offset"), "offset", 0)
        length = json_int(p.get("length"), "length", DBFS_DEFAULT_READ)
        if offset < 0 or length < 0:
            raise bad_param("offset and length must not be negative")
        if length > MAX_BLOCK:
            raise ApiError(400, "MAX_READ_SIZE_EXCEEDED", "length exceeds the 1 MB read limit")
        if os.path.isdir(fs):
            raise bad_param("%s is a directory" % display)
        try:
            with open(fs, "rb") as f:
                f.seek(offset)
                data = f.read(length)
        except (FileNotFoundError, NotADirectoryError):
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", "no file exists on path %s" % display)
        self._send_json(200, {"bytes_read": len(data), "data": base64.b64encode(data).decode("ascii")})

    def dbfs_mkdirs(self, q):
        display, fs = self._dbfs_path(self._json_body().get("path"))
        with self.st.fs_lock:
            try:
                makedirs(fs)
            except FsConflict:
                raise ApiError(400, "RESOURCE_ALREADY_EXISTS", "a file exists at a prefix of %s" % display)
        self._send_json(200, {})

    def dbfs_move(self, q):
        body = self._json_body()
        src_d, src = self._dbfs_path(body.get("source_path"), "source_path")
        dst_d, dst = self._dbfs_path(body.get("destination_path"), "destination_path")
        if src_d == "/" or dst_d == "/":
            raise bad_param("cannot move the DBFS root")
        if dst_d.startswith(src_d + "/"):
            raise bad_param("cannot move %s into itself" % src_d)
        with self.st.fs_lock:  # existence checks and the rename are one atomic step
            if not os.path.lexists(src):
                raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", "source %s does not exist" % src_d)
            if os.path.lexists(dst):
                raise ApiError(400, "RESOURCE_ALREADY_EXISTS", "destination %s already exists" % dst_d)
            try:
                makedirs(os.path.dirname(dst))
            except FsConflict:
                raise ApiError(400, "RESOURCE_ALREADY_EXISTS", "a file is in the way of %s" % dst_d)
            os.rename(src, dst)
        self._send_json(200, {})

    def dbfs_delete(self, q):
        body = self._json_body()
        display, fs = self._dbfs_path(body.get("path"))
        recursive = json_bool(body, "recursive")
        if display == "/":
            raise bad_param("the fake refuses to delete the DBFS root")
        with self.st.fs_lock:
            if os.path.isdir(fs) and not os.path.islink(fs):
                if os.listdir(fs):
                    if not recursive:
                        raise ApiError(400, "IO_ERROR", "directory %s is not empty (recursive is false)" % display)
                    shutil.rmtree(fs)
                else:
                    os.rmdir(fs)
            elif os.path.lexists(fs):
                os.unlink(fs)
            # a missing path is not an error for DBFS delete
        self._send_json(200, {})


DBFS_OPS = {
    ("POST", "create"): Handler.dbfs_create,
    ("POST", "add-block"): Handler.dbfs_add_block,
    ("POST", "close"): Handler.dbfs_close,
    ("POST", "put"): Handler.dbfs_put,
    ("GET", "get-status"): Handler.dbfs_get_status,
    ("GET", "list"): Handler.dbfs_list,
    ("GET", "read"): Handler.dbfs_read,
    ("POST", "mkdirs"): Handler.dbfs_mkdirs,
    ("POST", "move"): Handler.dbfs_move,
    ("POST", "delete"): Handler.dbfs_delete,
}


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, state):
        self.state = state
        super().__init__(addr, Handler)


def parse_args(argv):
    ap = argparse.ArgumentParser(description="Local stand-in for the Databricks Files/DBFS/OAuth REST API (tests only).")
    ap.add_argument("--root", required=True, help="storage directory")
    ap.add_argument("--port_file", required=True, help="file that receives the bound port")
    ap.add_argument("--port", type=int, default=0, help="port to bind on 127.0.0.1 (0 = any free port)")
    ap.add_argument("--token", action="append", help="accepted personal access token (repeatable)")
    ap.add_argument("--client_id", help="OAuth M2M client id")
    ap.add_argument("--client_secret", help="OAuth M2M client secret")
    ap.add_argument("--token_ttl_s", type=int, default=3600, help="OAuth access token lifetime")
    ap.add_argument("--volume", action="append", default=[], help="CATALOG/SCHEMA/VOLUME to pre-create (repeatable)")
    ap.add_argument("--dbfs_handle_ttl_s", type=float, default=600, help="idle lifetime of a DBFS create handle")
    ap.add_argument("--verbose", action="store_true", help="log each request line to stderr")
    args = ap.parse_args(argv)
    if (args.client_id is None) != (args.client_secret is None):
        ap.error("--client_id and --client_secret go together")
    for v in args.volume:
        parts = v.strip("/").split("/")
        if len(parts) != 3 or any(p in ("", ".", "..") for p in parts):
            ap.error("--volume must be CATALOG/SCHEMA/VOLUME, got %r" % v)
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    state = State(args)
    for d in (state.vol_root, state.dbfs_root, state.staging):
        os.makedirs(d, exist_ok=True)
    for name in os.listdir(state.staging):  # leftovers of a killed run
        try:
            os.unlink(os.path.join(state.staging, name))
        except OSError:
            pass
    for v in args.volume:
        os.makedirs(os.path.join(state.vol_root, *v.strip("/").split("/")), exist_ok=True)

    httpd = Server(("127.0.0.1", args.port), state)
    state.port = httpd.server_address[1]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()

    tmp = "%s.tmp.%d" % (args.port_file, os.getpid())
    with open(tmp, "w") as f:
        f.write("%d\n" % state.port)
    os.replace(tmp, args.port_file)
    if args.verbose:
        sys.stderr.write("fake_databricks: listening on 127.0.0.1:%d, root %s\n" % (state.port, state.root))

    rc = 0
    while not stop.wait(0.5):
        if not thread.is_alive():
            sys.stderr.write("fake_databricks: server thread died\n")
            rc = 1
            break
    httpd.shutdown()
    httpd.server_close()
    return rc


if __name__ == "__main__":
    sys.exit(main())
