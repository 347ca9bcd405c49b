#!/usr/bin/env python3
"""Test stand-in for the Databricks REST service (Files API, DBFS API 2.0, OAuth M2M, MLflow tracking).

This is NOT Databricks. It is the one mock the project allows: a small local HTTP server that the C++
integration tests of the checkpoint syncer (Unity Catalog Volumes Files API, DBFS API 2.0 fallback) and the
MLflow pusher (OAuth M2M, Databricks MLflow tracking and run artifacts) talk to instead of a real workspace. It
models the documented endpoint semantics (see shared/reference/mlflow_databricks.md sections 1-11 and the
Databricks "Files API" / "DBFS API" pages) and, where the documentation is silent, picks the more pessimistic
behaviour so that a client which works here does not rely on luck against the real service. MLflow tracking
itself is not re-implemented: with --mlflow_upstream, /api/2.0/mlflow/ is forwarded to a real OSS `mlflow
server` (sqlite backend, --serve-artifacts) and only the Databricks differences are added on top. Python 3
standard library only.

Usage:
  fake_databricks_server.py --root DIR --port_file FILE [--port 0] [--token PAT ...]
      [--client_id ID --client_secret SECRET] [--token_ttl_s 3600]
      [--volume CATALOG/SCHEMA/VOLUME ...] [--dbfs_handle_ttl_s 600]
      [--mlflow_upstream http://127.0.0.1:5123] [--signed_url_ttl_s 900] [--workspace_user NAME ...] [--verbose]

Binds 127.0.0.1, writes the port (decimal + newline) to --port_file atomically, serves until SIGTERM/SIGINT.
Storage: /Volumes/c/s/v/... lives under DIR/Volumes/c/s/v/..., DBFS /x/y under DIR/dbfs/x/y; upload staging
files under DIR/.staging/ (outside both visible trees). Run artifacts live in the MLflow upstream; the workspace
tree (folders, experiment nodes) and signed URLs live in memory.

Endpoints (all /api/ ones need a PAT or OAuth bearer token, else 401 UNAUTHENTICATED)
  GET  /oidc/.well-known/oauth-authorization-server        discovery (token_endpoint, issuer)
  POST /oidc/v1/token                                      client_credentials, HTTP Basic (or form) creds
  PUT|GET|HEAD|DELETE /api/2.0/fs/files<path>              Files API (PUT is atomic; GET supports Range)
  PUT|GET|HEAD|DELETE /api/2.0/fs/directories<path>        Files API directories (GET = paged listing)
  POST /api/2.0/dbfs/{create,add-block,close,put,mkdirs,move,delete}
  GET  /api/2.0/dbfs/{get-status,list,read}                (query parameters, or a JSON body as legacy clients send)
  POST /api/2.0/workspace/mkdirs {"path"}                  creates parents, idempotent -> {}
  GET  /api/2.0/workspace/get-status?path=                 -> {"object_type": "DIRECTORY"|"MLFLOW_EXPERIMENT",
                                                               "path", "object_id"}; 404 RESOURCE_DOES_NOT_EXIST
  *    /api/2.0/mlflow/<endpoint>                          forwarded to --mlflow_upstream (501 without it): method,
                                                           path, query, body and Content-Type verbatim, Authorization
                                                           (and every other header) dropped; the upstream's status,
                                                           body and Content-Type come back
  POST /api/2.0/mlflow/artifacts/credentials-for-write {"run_id", "path": [...]}
  GET  /api/2.0/mlflow/artifacts/credentials-for-read?run_id=&path=&path=
         -> {"credential_infos": [{"run_id", "path", "type": "AWS_PRESIGNED_URL", "signed_uri",
                                   "headers": [{"name": "x-amz-server-side-encryption", "value": "AES256"}]}]}
            (one per path, in request order; no "headers" for read), signed_uri =
            http://127.0.0.1:<port>/_signed/<token>?X-Amz-Signature=<64 hex>&X-Amz-Expires=<--signed_url_ttl_s>
  PUT  /_signed/<token>?...  (write URL)  no bearer auth; needs Content-Length and the listed header -> 200 + ETag
                                          "<md5 hex>"; the body is staged, then PUT to the upstream's
                                          /api/2.0/mlflow-artifacts/artifacts/<exp>/<run>/artifacts/<path>
  GET  /_signed/<token>?...  (read URL)   streams the artifact from the upstream (404 NoSuchKey if absent)
  POST /_test/faults, /_test/reset, /_test/expire_tokens, /_test/expire_dbfs_handles, /_test/expire_signed_urls;
  GET  /_test/faults, /_test/log, /_test/stats             test control, no auth, never logged or faulted

Databricks MLflow behaviour added on top of the upstream (reference sections 7.2 and 9)
  * Experiment names are absolute workspace paths: experiments/create, experiments/update (new_name) and
    experiments/get-by-name with a name not starting with '/' -> 400 INVALID_PARAMETER_VALUE "... must be an
    absolute path ...". create/rename also need the parent folder (made by workspace/mkdirs; /Users, /Shared and
    /Users/<--workspace_user> exist from the start): else 404 RESOURCE_DOES_NOT_EXIST "Parent directory <parent>
    does not exist."; a name that is a folder, or an experiment made through the fake (with or without a
    '/Workspace' prefix) -> 400 RESOURCE_ALREADY_EXISTS; the workspace root -> 403. These checks run before
    forwarding (so also without an upstream); the name itself is forwarded verbatim.
  * Every artifact location ("artifact_uri", "artifact_location", "root_uri") in a forwarded 200 JSON answer is
    rewritten to Databricks' form: mlflow-artifacts:/X -> dbfs:/databricks/mlflow-tracking/X, so a run's
    artifact_uri reads dbfs:/databricks/mlflow-tracking/<exp>/<run>/artifacts and an experiment's
    artifact_location dbfs:/databricks/mlflow-tracking/<exp>; other non-dbfs: values are rebuilt from the
    entity's experiment_id/run_id the same way. dbfs:/ values (e.g. a dbfs:/Volumes/... artifact_location) are
    kept, so such runs go through the Files API. There is no /api/2.0/mlflow-artifacts/ proxy here (404):
    clients must use credentials-for-write.
  * Artifact paths are relative to the run's artifact root: empty, absolute ('/...', 'C:'), backslash, '#', and
    non-normalized paths ('..', '.', '//', trailing '/') -> 400 INVALID_PARAMETER_VALUE; at most 2000 per request;
    unknown run -> the upstream's 404 RESOURCE_DOES_NOT_EXIST; write credentials for a deleted run -> 400.
  * Signed URLs behave like S3 presigned URLs, answering S3-style XML errors (Content-Type application/xml):
    an Authorization header -> 400 InvalidArgument; unknown token, altered X-Amz-Signature/X-Amz-Expires, wrong
    method, or the signed header missing/different -> 403 SignatureDoesNotMatch; after --signed_url_ttl_s
    seconds from issue (or /_test/expire_signed_urls) -> 403 with the body (after an XML declaration line)
      <Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>
    Transfer-Encoding: chunked -> 501 NotImplemented; no Content-Length -> 411; > 5 GiB -> 400 EntityTooLarge;
    upstream failure -> 500 InternalError. A URL may be reused (re-PUT overwrites) until it expires. Request-log
    entries of /_signed/ requests carry "run_id" and "artifact_path"; their "auth" is "signed" (valid token and
    signature), "bad", or, with an Authorization header, what that header classifies as (a leaked token shows).
  * /_test/expire_signed_urls -> {"expired": <URLs that were still live>}.
  * An unreachable upstream -> 502 TEMPORARILY_UNAVAILABLE (and a line on stderr).

Fault rules (POST /_test/faults, a JSON list, appended to a queue, first match fires, `times` decrements):
  {"method": "PUT"|"*", "path_prefix": "/api/2.0/fs/files/Volumes/main", "times": 1,
   "status": 429, "retry_after": "2", "body": {...}}        respond with that status (body drained first)
  {..., "action": "drop_mid_body", "after_bytes": N}          read N body bytes, reset the connection, commit nothing
  {..., "action": "drop_after_commit"}                         handle fully (effects committed), then reset, no response
  path_prefix is matched against the raw (percent-encoded) and the decoded request path. Rules apply to MLflow
  calls before they are forwarded (a status or drop_mid_body fault never reaches the upstream; drop_after_commit
  forwards, then swallows the answer: the lost-response "ghost run" case) and to /_signed/ URLs (there a status
  fault without "body" answers S3-style XML: 503 SlowDown, 500 InternalError, ...).

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
    "basic" for a token request with the right client credentials and "signed" (above). /_test/reset also drops
    the entries of requests still in flight when it came.
  * MLflow: everything not listed above is whatever the upstream OSS server does (its validation, limits, error
    texts, e.g. 400 when a POST lacks Content-Type: application/json), not Databricks' (quotas, throttling,
    "details" in errors). Workspace paths must be normalized ('//', trailing '/', '.', '..' -> 400, a leading
    '/Workspace' is stripped); mkdirs of a new top-level folder or a new /Users/<name> -> 403 PERMISSION_DENIED;
    workspace/list, delete, import, export -> 501. Experiment deletion does not free the workspace node.
  * Artifact credentials: always AWS_PRESIGNED_URL with the one SSE header; all paths in one answer (no
    page_token / next_page_token); multipart (create-multipart-upload, get-presigned-upload-part-url,
    complete-multipart-upload) -> 501; credentials are only issued for runs whose upstream artifact_uri is
    mlflow-artifacts:/ (a dbfs:/Volumes/... run -> 400, anything else -> 501). Signed URLs carry no
    X-Amz-Algorithm/Credential/Date/SignedHeaders, have no Range support, and point at this server (plain http).
    Python MLflow's first try, the undocumented /WorkspaceInternal/... Files API path, is not modeled.
"""

import argparse
import base64
import binascii
import email.utils
import hashlib
import hmac
import http.client
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
from urllib.parse import parse_qs, quote, unquote, urlsplit
from xml.sax.saxutils import escape as xml_escape

CHUNK = 1 << 20                 # streaming unit; never more than this of a body in memory
MAX_BLOCK = 1 << 20             # DBFS add-block / put / read limit (decoded bytes)
DBFS_DEFAULT_READ = 512 * 1024  # DBFS read default length
MAX_FILE = 5 << 30              # Files API single PUT limit (5 GiB)
MAX_JSON_BODY = 8 << 20         # JSON request bodies (base64 of 1 MiB is ~1.4 MB)
MAX_PAGE = 1000                 # Files API listing page size cap

FILES_PREFIX = "/api/2.0/fs/files"
DIRS_PREFIX = "/api/2.0/fs/directories"
DBFS_PREFIX = "/api/2.0/dbfs/"
MLFLOW_PREFIX = "/api/2.0/mlflow/"
WORKSPACE_PREFIX = "/api/2.0/workspace/"
SIGNED_PREFIX = "/_signed/"
UPSTREAM_ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts/"   # the OSS server's artifact proxy
DBX_ARTIFACT_ROOT = "dbfs:/databricks/mlflow-tracking"
MAX_CRED_PATHS = 2000           # paths per credentials-for-write/-read request
UPSTREAM_TIMEOUT = 120          # seconds, per upstream request
SSE_HEADER = ("x-amz-server-side-encryption", "AES256")   # the header every signed PUT must carry
# mlflow-artifacts:/1/<run>/artifacts or mlflow-artifacts://host:port/1/<run>/artifacts -> "1/<run>/artifacts"
MLFLOW_ARTIFACTS_RE = re.compile(r"^mlflow-artifacts:(?://[^/]*)?/+(.*?)/*$")
S3_SIG_MISMATCH = ("The request signature we calculated does not match the signature you provided. "
                   "Check your key and signing method.")
S3_FAULT_CODES = {500: "InternalError", 503: "SlowDown", 403: "AccessDenied", 400: "InvalidRequest",
                  404: "NoSuchKey", 408: "RequestTimeout"}

DEFAULT_FAULT_CODES = {
    429: "REQUEST_LIMIT_EXCEEDED", 503: "TEMPORARILY_UNAVAILABLE", 500: "INTERNAL_ERROR",
    502: "TEMPORARILY_UNAVAILABLE", 504: "TEMPORARILY_UNAVAILABLE", 401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED", 404: "NOT_FOUND", 408: "REQUEST_TIMEOUT",
}


class ApiError(Exception):
    """An error response. `body` overrides the default {"error_code", "message"} JSON."""

    def __init__(self, status, code, message, body=None, close=False, headers=None, content_type=None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.body = body if body is not None else {"error_code": code, "message": message}
        self.close = close          # respond with Connection: close and do not drain the body
        self.headers = headers or {}
        self.content_type = content_type  # set when `body` is raw bytes (S3-style XML errors)


class ClientGone(Exception):
    """The client went away (EOF or reset) before the request body was complete."""


class FsConflict(Exception):
    """A file is in the way of a directory (or the reverse)."""


def bad_param(message):
    return ApiError(400, "INVALID_PARAMETER_VALUE", message)


def s3_xml(code, message, extra=""):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message>%s</Error>'
            % (code, xml_escape(message), extra)).encode()


def s3_error(status, code, message, hint=None, close=False, headers=None):
    """An S3-style error (what a presigned object-store URL answers). `hint` is a fake-only element."""
    extra = "<FakeHint>%s</FakeHint>" % xml_escape(hint) if hint else ""
    return ApiError(status, code, message, body=s3_xml(code, message, extra), close=close, headers=headers,
                    content_type="application/xml")


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
        # MLflow tracking: the upstream OSS server (None: /api/2.0/mlflow/ answers 501), signed URLs.
        self.upstream = None             # (host, port, path prefix without trailing '/')
        if args.mlflow_upstream:
            u = urlsplit(args.mlflow_upstream)
            self.upstream = (u.hostname, u.port or 80, u.path.rstrip("/"))
        self.signed_ttl = args.signed_url_ttl_s
        self.signed = {}                 # token -> signed URL record (see Handler._artifact_credentials)
        # Workspace tree (folders and experiments), normalized path -> {"object_type", "object_id"}.
        self.object_ids = itertools.count(1000 + secrets.randbelow(1 << 30))
        self.workspace = {}
        for path in ["/", "/Users", "/Shared"] + ["/Users/" + u for u in args.workspace_user]:
            self.workspace[path] = {"object_type": "DIRECTORY", "object_id": next(self.object_ids)}

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
        if "body" not in rule:
            out["default_body"] = True   # on /_signed/ URLs the default body is S3-style XML instead
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
# Workspace paths, artifact paths, the MLflow upstream.


def workspace_path(value, name="path"):
    """A workspace path -> its normalized absolute form ('/Workspace' prefix stripped); 400 if malformed."""
    if not isinstance(value, str) or not value:
        raise bad_param("%s is required" % name)
    if not value.startswith("/"):
        raise bad_param("%s must be an absolute workspace path, got %r" % (name, value))
    p = value
    if p == "/Workspace" or p.startswith("/Workspace/"):
        p = p[len("/Workspace"):] or "/"
    if p == "/":
        return "/"
    segs = p[1:].split("/")
    if any(s in ("", ".", "..") or "\0" in s for s in segs):
        raise bad_param("%s %r is not a normalized workspace path (no '//', trailing '/', '.' or '..')" % (name, value))
    return "/" + "/".join(segs)


def ws_parent(path):
    return path.rsplit("/", 1)[0] or "/"


def artifact_rel_path(p):
    """Checks a path relative to a run's artifact root (the rules of MLflow's artifact handlers)."""
    if not isinstance(p, str) or not p:
        raise bad_param("artifact paths must be non-empty strings")
    if p.startswith("/") or "\\" in p or "#" in p or "\0" in p or re.match(r"[A-Za-z]:", p):
        raise bad_param("Invalid artifact path %r: absolute paths, backslashes and '#' are not allowed" % p)
    if any(s in ("", ".", "..") for s in p.split("/")):
        raise bad_param("Invalid artifact path %r: it must be normalized (no '..', '.', '//' or trailing '/')" % p)
    return p


def rewrite_artifact_uris(obj):
    """Rewrites upstream artifact locations to Databricks' dbfs:/databricks/mlflow-tracking/...; True if changed.

    mlflow-artifacts:/X (RunInfo.artifact_uri, Experiment.artifact_location, artifacts/list root_uri, ...) ->
    <root>/X; any other non-dbfs: RunInfo.artifact_uri -> <root>/<exp>/<run>/artifacts, artifact_location ->
    <root>/<exp>. dbfs:/ values (a Volume artifact_location) are kept."""
    changed = False
    if isinstance(obj, list):
        for v in obj:
            changed |= rewrite_artifact_uris(v)
    elif isinstance(obj, dict):
        for v in obj.values():
            if isinstance(v, (dict, list)):
                changed |= rewrite_artifact_uris(v)
        exp = obj.get("experiment_id")
        run = obj.get("run_id") or obj.get("run_uuid")
        for key in ("artifact_uri", "artifact_location", "root_uri"):
            v = obj.get(key)
            if not isinstance(v, str) or v.startswith("dbfs:"):
                continue
            m = MLFLOW_ARTIFACTS_RE.match(v)
            if m:                    # the upstream's <exp>/<run>/artifacts (or <exp>/models/<id>/artifacts, ...)
                new = "%s/%s" % (DBX_ARTIFACT_ROOT, m.group(1))
            elif key == "artifact_uri" and isinstance(exp, str) and exp and isinstance(run, str) and run:
                new = "%s/%s/%s/artifacts" % (DBX_ARTIFACT_ROOT, exp, run)
            elif key == "artifact_location" and isinstance(exp, str) and exp:
                new = "%s/%s" % (DBX_ARTIFACT_ROOT, exp)
            else:
                continue
            if new != v:
                obj[key] = new
                changed = True
    return changed


def upstream_request(st, method, path, body=None, headers=None):
    """One request to the MLflow upstream on a fresh connection -> (status, content type, body bytes).

    `body` may be bytes or a binary file (then headers must hold its Content-Length). An unreachable upstream
    -> ApiError 502 TEMPORARILY_UNAVAILABLE."""
    host, port, prefix = st.upstream
    conn = http.client.HTTPConnection(host, port, timeout=UPSTREAM_TIMEOUT, blocksize=CHUNK)
    try:
        conn.request(method, prefix + path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.getheader("Content-Type"), r.read()
    except (OSError, http.client.HTTPException) as e:
        sys.stderr.write("fake_databricks: MLflow upstream %s %s failed: %s\n" % (method, path.split("?")[0], e))
        raise ApiError(502, "TEMPORARILY_UNAVAILABLE", "the MLflow tracking backend did not answer")
    finally:
        conn.close()


def upstream_error(status, data):
    """An upstream error answer, passed on as it came."""
    try:
        obj = json.loads(data)
    except ValueError:
        obj = None
    if isinstance(obj, dict) and "error_code" in obj:
        return ApiError(status, obj["error_code"], obj.get("message", ""), body=obj)
    return ApiError(status, "INTERNAL_ERROR", "MLflow backend answered HTTP %d" % status)


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

    def _send_raw(self, status, data, content_type, headers=None):
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _send_error(self, e):
        if e.close:
            self.close_connection = True
        if isinstance(e.body, bytes):
            self._send_raw(e.status, e.body, e.content_type, e.headers)
        else:
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
        self.log_extra = {}
        split = urlsplit(self.path)
        raw_path, query = split.path, split.query
        self.raw_query = query
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
            epoch = st.epoch         # the entry is logged after the response: drop it if a reset came between
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
                if raw_path.startswith(SIGNED_PREFIX) and rule.get("default_body"):
                    code = S3_FAULT_CODES.get(rule["status"], "InjectedFault")
                    self._send_raw(rule["status"], s3_xml(code, "injected fault (HTTP %d)" % rule["status"]),
                                   "application/xml", headers)
                else:
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
            entry.update(self.log_extra)
            with st.lock:
                if st.epoch == epoch:
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
            elif raw_path.startswith(SIGNED_PREFIX):
                self._signed(raw_path[len(SIGNED_PREFIX):], q)
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
        elif raw_path == "/_test/expire_signed_urls" and m == "POST":
            now, n = time.monotonic(), 0
            with st.lock:
                for rec in st.signed.values():
                    if rec["expiry"] > now:
                        n += 1
                    rec["expiry"] = 0.0
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
        if raw_path.startswith(WORKSPACE_PREFIX):
            self._workspace(raw_path[len(WORKSPACE_PREFIX):], q)
            return
        if raw_path.startswith(MLFLOW_PREFIX):
            self._mlflow(raw_path[len(MLFLOW_PREFIX):], q)
            return
        if raw_path.startswith("/api/2.0/fs/"):
            raise ApiError(501, "NOT_IMPLEMENTED", "this Files API endpoint is not modeled by the fake")
        raise ApiError(404, "ENDPOINT_NOT_FOUND", "no API found for '%s %s'" % (self.command, raw_path))

    # ---- Workspace API (folders only: the parents of experiments)

    def _workspace(self, op, q):
        st, m = self.st, self.command
        if op == "mkdirs":
            if m != "POST":
                raise ApiError(405, "METHOD_NOT_ALLOWED", "use POST for workspace/mkdirs")
            path = workspace_path(self._json_body().get("path"))
            chain, p = [], path
            while p != "/":
                chain.append(p)
                p = ws_parent(p)
            with st.lock:
                for p in reversed(chain):   # outermost first; only the failing level and below are missing
                    node = st.workspace.get(p)
                    if node is None:
                        if ws_parent(p) in ("/", "/Users"):
                            raise ApiError(403, "PERMISSION_DENIED",
                                           "cannot create %s: no new top-level folders or user homes (the fake "
                                           "pre-creates /Users/<name> for each --workspace_user)" % p)
                        st.workspace[p] = {"object_type": "DIRECTORY", "object_id": next(st.object_ids)}
                    elif node["object_type"] != "DIRECTORY":
                        raise ApiError(400, "RESOURCE_ALREADY_EXISTS",
                                       "Node named '%s' already exists" % p.rsplit("/", 1)[1])
            self._send_json(200, {})
        elif op == "get-status":
            if m != "GET":
                raise ApiError(405, "METHOD_NOT_ALLOWED", "use GET for workspace/get-status")
            raw = self._get_params(q).get("path")
            path = workspace_path(raw)
            with st.lock:
                node = st.workspace.get(path)
            if node is None:
                raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", "Path (%s) doesn't exist." % raw)
            self._send_json(200, {"object_type": node["object_type"], "path": path, "object_id": node["object_id"]})
        elif op in ("list", "delete", "import", "export"):
            raise ApiError(501, "NOT_IMPLEMENTED", "workspace/%s is not modeled by the fake" % op)
        else:
            raise ApiError(404, "ENDPOINT_NOT_FOUND", "no API found for '%s /api/2.0/workspace/%s'" % (m, op))

    # ---- MLflow tracking (forwarded to --mlflow_upstream) and Databricks artifact credentials

    def _check_experiment_name(self, name, field, create, exp_id=None):
        """Databricks rules for experiment names; returns the workspace path a create will occupy."""
        if not isinstance(name, str) or not name:
            return None          # the upstream answers its own "missing name" error
        if not name.startswith("/"):
            raise bad_param("Got an invalid experiment name %r. An experiment name must be an absolute path within "
                            "the Databricks workspace, e.g. '/Users/<some-username>/my-experiment'." % name)
        if not create:
            return None
        path = workspace_path(name, field)
        parent = ws_parent(path)
        with self.st.lock:
            pnode, node = self.st.workspace.get(parent), self.st.workspace.get(path)
        if parent == "/":
            raise ApiError(403, "PERMISSION_DENIED", "cannot create an experiment at the workspace root")
        if pnode is None:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST",
                           "Parent directory %s does not exist." % (name.rsplit("/", 1)[0] or "/"))
        if pnode["object_type"] != "DIRECTORY":
            raise bad_param("Parent path %s is not a directory." % name.rsplit("/", 1)[0])
        if node is not None:
            if exp_id is not None and node.get("experiment_id") == exp_id:
                return path          # renamed to its own name
            if node["object_type"] == "MLFLOW_EXPERIMENT":
                raise ApiError(400, "RESOURCE_ALREADY_EXISTS", "Experiment with name '%s' already exists." % name)
            raise ApiError(400, "RESOURCE_ALREADY_EXISTS", "Node named '%s' already exists" % path.rsplit("/", 1)[1])
        return path

    def _record_experiment(self, path, exp_id):
        if not isinstance(exp_id, str) or not exp_id:
            return
        oid = int(exp_id) if exp_id.isdigit() else next(self.st.object_ids)
        with self.st.lock:
            for p in [p for p, n in self.st.workspace.items() if n.get("experiment_id") == exp_id]:
                del self.st.workspace[p]     # a rename moves the node
            self.st.workspace[path] = {"object_type": "MLFLOW_EXPERIMENT", "object_id": oid, "experiment_id": exp_id}

    def _mlflow(self, op, q):
        st, m = self.st, self.command
        if op in ("artifacts/credentials-for-write", "artifacts/credentials-for-read"):
            want = "POST" if op.endswith("write") else "GET"
            if m != want:
                raise ApiError(405, "METHOD_NOT_ALLOWED", "use %s for %s" % (want, op))
            self._artifact_credentials("PUT" if want == "POST" else "GET", q)
            return
        if op in ("artifacts/create-multipart-upload", "artifacts/complete-multipart-upload",
                  "artifacts/get-presigned-upload-part-url"):
            raise ApiError(501, "NOT_IMPLEMENTED", "multipart artifact uploads are not modeled by the fake")
        body = self.body.read_all(MAX_JSON_BODY) if self.body.has_length else None
        ws_new, req = None, None
        if m == "POST" and op in ("experiments/create", "experiments/update"):
            try:
                req = json.loads(body or b"")
            except ValueError:
                req = None           # malformed: the upstream answers
            if isinstance(req, dict):
                key = "name" if op == "experiments/create" else "new_name"
                ws_new = self._check_experiment_name(req.get(key), key, create=True,
                                                     exp_id=req.get("experiment_id") if key == "new_name" else None)
        elif op == "experiments/get-by-name":
            self._check_experiment_name((q.get("experiment_name") or [None])[-1], "experiment_name", create=False)
        if st.upstream is None:
            raise ApiError(501, "NOT_IMPLEMENTED", "MLflow tracking is served only when the fake runs with "
                                                   "--mlflow_upstream")
        headers = {}
        if self.headers.get("Content-Type"):
            headers["Content-Type"] = self.headers["Content-Type"]
        path = MLFLOW_PREFIX + op + ("?" + self.raw_query if self.raw_query else "")
        status, ctype, data = upstream_request(st, m, path, body, headers)
        if status == 200 and ctype and "json" in ctype.lower():
            try:
                obj = json.loads(data)
            except ValueError:
                obj = None
            if obj is not None and rewrite_artifact_uris(obj):
                data = json.dumps(obj).encode()
            if ws_new and isinstance(obj, dict):
                exp_id = obj.get("experiment_id") if op == "experiments/create" else req.get("experiment_id")
                self._record_experiment(ws_new, exp_id)
        self._send_raw(status, data, ctype)

    def _artifact_credentials(self, method, q):
        """credentials-for-write (method PUT) / credentials-for-read (GET): one signed URL per path."""
        st = self.st
        if method == "PUT":
            body = self._json_body()
            run_id, paths = body.get("run_id"), body.get("path")
        else:
            run_id, paths = (q.get("run_id") or [None])[-1], q.get("path")
            if self.body.has_length:     # a JSON body with GET, as some clients send
                body = self._json_body()
                run_id, paths = run_id or body.get("run_id"), paths or body.get("path")
        if not isinstance(run_id, str) or not run_id:
            raise bad_param("run_id is required")
        if not isinstance(paths, list) or not paths:
            raise bad_param("path must be a non-empty list of paths relative to the run's artifact root")
        if len(paths) > MAX_CRED_PATHS:
            raise bad_param("at most %d paths per request" % MAX_CRED_PATHS)
        for p in paths:
            artifact_rel_path(p)
        if st.upstream is None:
            raise ApiError(501, "NOT_IMPLEMENTED", "MLflow tracking is served only when the fake runs with "
                                                   "--mlflow_upstream")
        status, _, data = upstream_request(st, "GET", MLFLOW_PREFIX + "runs/get?run_id=" + quote(run_id, safe=""))
        if status != 200:
            raise upstream_error(status, data)
        info = json.loads(data)["run"]["info"]
        if method == "PUT" and info.get("lifecycle_stage", "active") != "active":
            raise bad_param("The run %s must be in the 'active' state. Current state is %s."
                            % (run_id, info.get("lifecycle_stage")))
        uri = info.get("artifact_uri") or ""
        mm = MLFLOW_ARTIFACTS_RE.match(uri)
        if not mm:
            if uri.startswith("dbfs:/Volumes/"):
                raise bad_param("run %s keeps its artifacts in a Unity Catalog volume (%s): use the Files API"
                                % (run_id, uri))
            raise ApiError(501, "NOT_IMPLEMENTED", "the fake signs URLs only for runs whose upstream artifact_uri "
                                                   "is mlflow-artifacts:/...; this run has %r" % uri)
        ttl = st.signed_ttl
        expiry = time.monotonic() + ttl
        infos = []
        with st.lock:
            for p in paths:
                token, sig = secrets.token_urlsafe(24), secrets.token_hex(32)
                st.signed[token] = {"sig": sig, "expires": str(ttl), "expiry": expiry, "method": method,
                                    "run_id": run_id, "path": p, "upstream_path": mm.group(1) + "/" + p,
                                    "headers": dict([SSE_HEADER]) if method == "PUT" else {}}
                ci = {"run_id": run_id, "path": p, "type": "AWS_PRESIGNED_URL",
                      "signed_uri": "http://127.0.0.1:%d%s%s?X-Amz-Signature=%s&X-Amz-Expires=%d"
                                    % (st.port, SIGNED_PREFIX, token, sig, ttl)}
                if method == "PUT":
                    ci["headers"] = [{"name": SSE_HEADER[0], "value": SSE_HEADER[1]}]
                infos.append(ci)
        self._send_json(200, {"credential_infos": infos})

    # ---- /_signed/: the presigned object-store URLs (no bearer auth: the signature is the auth)

    def _signed(self, token, q):
        st = self.st
        with st.lock:
            rec = st.signed.get(token)
        if rec is not None:
            self.log_extra = {"run_id": rec["run_id"], "artifact_path": rec["path"]}
        if self.headers.get("Authorization") is not None:
            raise s3_error(400, "InvalidArgument", "Only one auth mechanism allowed; only the X-Amz-Algorithm query "
                           "parameter, Signature query string parameter or the Authorization header should be "
                           "specified")
        sig = q.get("X-Amz-Signature", [""])[-1]
        valid = (rec is not None and hmac.compare_digest(sig.encode(), rec["sig"].encode())
                 and q.get("X-Amz-Expires", [""])[-1] == rec["expires"])
        self.auth = "signed" if valid else "bad"
        if not valid:
            raise s3_error(403, "SignatureDoesNotMatch", S3_SIG_MISMATCH, hint="unknown token or altered query")
        if self.command != rec["method"]:
            raise s3_error(403, "SignatureDoesNotMatch", S3_SIG_MISMATCH, hint="URL signed for %s" % rec["method"])
        if time.monotonic() >= rec["expiry"]:
            raise s3_error(403, "AccessDenied", "Request has expired")
        for name, value in rec["headers"].items():
            if self.headers.get(name) != value:
                raise s3_error(403, "SignatureDoesNotMatch", S3_SIG_MISMATCH,
                               hint="signed header %s: %s missing or different" % (name, value))
        if rec["method"] == "PUT":
            self._signed_put(rec)
        else:
            self._signed_get(rec)

    def _signed_put(self, rec):
        st = self.st
        if self.body.chunked:
            raise s3_error(501, "NotImplemented", "A header you provided implies functionality that is not "
                           "implemented", hint="Transfer-Encoding: chunked; send Content-Length")
        if not self.body.has_length:
            raise s3_error(411, "MissingContentLength", "You must provide the Content-Length HTTP header.")
        if self.body.remaining > MAX_FILE:
            raise s3_error(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size", close=True)
        stage = os.path.join(st.staging, uuid.uuid4().hex)
        md5 = hashlib.md5()
        try:
            with open(stage, "wb") as f:
                while True:
                    data = self.body.read()
                    if not data:
                        break
                    md5.update(data)
                    f.write(data)
            size = os.path.getsize(stage)
            target = UPSTREAM_ARTIFACTS + quote(rec["upstream_path"])
            try:
                with open(stage, "rb") as f:
                    status, _, data = upstream_request(st, "PUT", target, f, {
                        "Content-Length": str(size), "Content-Type": "application/octet-stream"})
            except ApiError:
                status, data = 0, b"(unreachable)"
            if status != 200:
                sys.stderr.write("fake_databricks: upstream artifact PUT %s -> %d %r\n" % (target, status, data[:300]))
                raise s3_error(500, "InternalError", "We encountered an internal error. Please try again.",
                               hint="MLflow backend answered %d" % status)
        finally:
            if os.path.exists(stage):
                os.unlink(stage)
        self._send_empty(200, {"ETag": '"%s"' % md5.hexdigest()})

    def _signed_get(self, rec):
        host, port, prefix = self.st.upstream
        conn = http.client.HTTPConnection(host, port, timeout=UPSTREAM_TIMEOUT, blocksize=CHUNK)
        try:
            try:
                conn.request("GET", prefix + UPSTREAM_ARTIFACTS + quote(rec["upstream_path"]))
                r = conn.getresponse()
            except (OSError, http.client.HTTPException) as e:
                sys.stderr.write("fake_databricks: upstream artifact GET failed: %s\n" % e)
                raise s3_error(500, "InternalError", "We encountered an internal error. Please try again.")
            if r.status != 200:
                r.read()
                if r.status == 404:
                    raise s3_error(404, "NoSuchKey", "The specified key does not exist.")
                raise s3_error(500, "InternalError", "We encountered an internal error. Please try again.",
                               hint="MLflow backend answered %d" % r.status)
            length = r.getheader("Content-Length")
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            if length is not None:
                self.send_header("Content-Length", length)
            else:
                self.close_connection = True
                self.send_header("Connection", "close")
            self.end_headers()
            while True:
                data = r.read(CHUNK)
                if not data:
                    break
                self.wfile.write(data)
        finally:
            conn.close()

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
    ap = argparse.ArgumentParser(description="Local stand-in for the Databricks Files/DBFS/OAuth/MLflow REST API "
                                             "(tests only).")
    ap.add_argument("--root", required=True, help="storage directory")
    ap.add_argument("--port_file", required=True, help="file that receives the bound port")
    ap.add_argument("--port", type=int, default=0, help="port to bind on 127.0.0.1 (0 = any free port)")
    ap.add_argument("--token", action="append", help="accepted personal access token (repeatable)")
    ap.add_argument("--client_id", help="OAuth M2M client id")
    ap.add_argument("--client_secret", help="OAuth M2M client secret")
    ap.add_argument("--token_ttl_s", type=int, default=3600, help="OAuth access token lifetime")
    ap.add_argument("--volume", action="append", default=[], help="CATALOG/SCHEMA/VOLUME to pre-create (repeatable)")
    ap.add_argument("--dbfs_handle_ttl_s", type=float, default=600, help="idle lifetime of a DBFS create handle")
    ap.add_argument("--mlflow_upstream", help="http://HOST:PORT of a real MLflow tracking server (--serve-artifacts) "
                    "that /api/2.0/mlflow/ is forwarded to")
    ap.add_argument("--signed_url_ttl_s", type=int, default=900, help="lifetime of artifact signed URLs")
    ap.add_argument("--workspace_user", action="append", default=[],
                    help="user name whose home folder /Users/<name> exists (repeatable)")
    ap.add_argument("--verbose", action="store_true", help="log each request line to stderr")
    args = ap.parse_args(argv)
    if args.mlflow_upstream:
        u = urlsplit(args.mlflow_upstream)
        try:
            u.port
        except ValueError:
            ap.error("--mlflow_upstream has a bad port: %r" % args.mlflow_upstream)
        if u.scheme != "http" or not u.hostname or u.query or u.fragment:
            ap.error("--mlflow_upstream must be http://HOST[:PORT][/PREFIX], got %r" % args.mlflow_upstream)
    if args.signed_url_ttl_s < 1:
        ap.error("--signed_url_ttl_s must be >= 1")
    for name in args.workspace_user:
        if not name or "/" in name or name in (".", ".."):
            ap.error("--workspace_user must be a plain user name, got %r" % name)
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
