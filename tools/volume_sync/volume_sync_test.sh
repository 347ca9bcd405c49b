#!/usr/bin/env bash
# End-to-end tests of the volume_sync binary: exit codes and messages for bad
# sources and destinations (missing, not writable, full disk), --follow
# beside a live "trainer" and on SIGTERM, and the Files API and DBFS
# transports through the Databricks stand-in (the one allowed mock: the
# service itself cannot run here), with credentials from the environment
# that must never show up in the output.
set -u
cd "${TEST_SRCDIR}/${TEST_WORKSPACE:-cvtools}" || exit 1
bin="$PWD/tools/volume_sync/volume_sync"
server_py="$PWD/libs/storage/testing/fake_databricks_server.py"
python="${CVT_PYTHON:-/usr/bin/python3}"
tmp="${TEST_TMPDIR}/vs"
rm -rf "$tmp" && mkdir -p "$tmp"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

# json_field FILE KEY: a top-level number from the JSON summary line.
json_field() { "$python" -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])[sys.argv[2]])' "$1" "$2"; }

make_source() {
  local src="$1"
  mkdir -p "$src/checkpoints" "$src/plots"
  head -c 300000 /dev/urandom >"$src/checkpoints/epoch=0-step=10.ckpt"
  echo '{"checkpoints": [{"file": "epoch=0-step=10.ckpt", "size": 300000}]}' \
    >"$src/checkpoints/checkpoints.json"
  echo '{"name": "loss", "value": 1.0, "step": 1}' >"$src/metrics.jsonl"
  head -c 5000 /dev/urandom >"$src/plots/loss.png"
}

same_tree() {  # same_tree SRC DST: identical files, the manifest aside.
  diff -r --exclude=.volume_sync_manifest.json "$1" "$2" >/dev/null
}

src="$tmp/run"
make_source "$src"

# --- local: copy, skip, exit codes ---------------------------------------
"$bin" --src "$src" --dst "$tmp/dst" --progress none >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 0 ] && [ "$(json_field "$tmp/out" copied)" = 4 ] && same_tree "$src" "$tmp/dst"; then
  ok "local copy"
else
  fail "local copy rc=$rc"; cat "$tmp/out" "$tmp/err"
fi
"$bin" --src "$src" --dst "$tmp/dst" --progress none >"$tmp/out" 2>"$tmp/err"
[ "$(json_field "$tmp/out" skipped)" = 4 ] && [ "$(json_field "$tmp/out" copied)" = 0 ] \
  && ok "unchanged files skipped" || { fail "second run"; cat "$tmp/out"; }

expect_error() {  # expect_error CODE PATTERN -- ARGS...
  local code="$1" pattern="$2"
  shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  if [ $got -ne "$code" ] || ! grep -Eq -- "$pattern" "$tmp/err"; then
    fail "'$*' exited $got (want $code), stderr:"; cat "$tmp/err"
  else
    ok "exit $code: $pattern"
  fi
}
expect_error 2 "--src $tmp/nope is not a folder" -- "$bin" --src "$tmp/nope" --dst "$tmp/d2"
expect_error 2 "destination $tmp/no/such does not exist and neither does its parent $tmp/no" -- \
  "$bin" --src "$src" --dst "$tmp/no/such"
touch "$tmp/a_file"
expect_error 2 "destination $tmp/a_file is not a folder" -- "$bin" --src "$src" --dst "$tmp/a_file"
expect_error 2 "--transport must be" -- "$bin" --src "$src" --dst "$tmp/d" --transport ftp
expect_error 2 "--threads must be in \[0, 64\]" -- "$bin" --src "$src" --dst "$tmp/d" --threads 65
expect_error 2 "--progress must be auto, bar, json or none" -- \
  "$bin" --src "$src" --dst "$tmp/d" --progress loud
expect_error 2 "--interval_s must be > 0" -- "$bin" --src "$src" --dst "$tmp/d" --interval_s 0
expect_error 2 "--dry_run and --follow cannot be combined" -- \
  "$bin" --src "$src" --dst "$tmp/d" --dry_run --follow
expect_error 2 "no Databricks host configured" -- \
  env -u DATABRICKS_HOST -u DATABRICKS_TOKEN HOME="$tmp" "$bin" --src "$src" \
  --dst /Volumes/main/cv/ckpt/run --transport files_api

# --- a destination this user cannot write (root bypasses modes: use nobody)
as_nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
if [ "$(id -u)" = 0 ] && "${as_nobody[@]}" true 2>/dev/null; then
  shared=$(mktemp -d /tmp/volume_sync_perm.XXXXXX)
  chmod 755 "$shared"
  cp "$bin" "$shared/volume_sync" && cp -r "$src" "$shared/run"
  mkdir "$shared/readonly" && chmod -R a+rX "$shared"
  expect_error 2 "destination $shared/readonly is not writable" -- \
    "${as_nobody[@]}" "$shared/volume_sync" --src "$shared/run" --dst "$shared/readonly"
  mkdir -p "$shared/partly/checkpoints" && chmod 777 "$shared/partly" && chmod 555 "$shared/partly/checkpoints"
  expect_error 1 "cannot create $shared/partly/checkpoints/\\..*: Permission denied|$shared/partly/checkpoints.*ermission denied" -- \
    "${as_nobody[@]}" "$shared/volume_sync" --src "$shared/run" --dst "$shared/partly"
  rm -rf "$shared"
else
  echo "skip: permission checks need root and setpriv"
fi

# --- full disk: a 256 KiB tmpfs in a private mount namespace --------------
if unshare -m true 2>/dev/null; then
  mkdir -p "$tmp/small"
  unshare -m bash -c '
    mount -t tmpfs -o size=256k tmpfs "$2" || exit 77
    "$1" --src "$3" --dst "$2/dst" --progress none >"$4/out" 2>"$4/err"
    echo "first=$?" >"$4/full_rc"
    # Nothing partial under a final name, and the next run (with room) converges.
    test ! -e "$2/dst/checkpoints/epoch=0-step=10.ckpt" || echo partial >>"$4/full_rc"
    mount -o remount,size=4m "$2"
    "$1" --src "$3" --dst "$2/dst" --progress none >"$4/out2" 2>>"$4/err"
    echo "second=$?" >>"$4/full_rc"
    diff -r --exclude=.volume_sync_manifest.json "$3" "$2/dst" && echo same >>"$4/full_rc"
  ' _ "$bin" "$tmp/small" "$src" "$tmp"
  status=$?
  if [ $status -eq 77 ]; then
    echo "skip: cannot mount tmpfs here"
  elif grep -q "first=1" "$tmp/full_rc" && grep -Eq "No space left on device" "$tmp/err" \
      && grep -q "$tmp/small/dst" "$tmp/err" && ! grep -q partial "$tmp/full_rc" \
      && grep -q "second=0" "$tmp/full_rc" && grep -q same "$tmp/full_rc"; then
    ok "full disk: exit 1 naming the path, nothing partial, re-run converges"
  else
    fail "full disk"; cat "$tmp/full_rc" "$tmp/err"
  fi
else
  echo "skip: unshare -m not permitted"
fi

# --- --follow beside a live trainer ----------------------------------------
live="$tmp/live"
mkdir -p "$live/checkpoints"
echo '{"status": "RUNNING"}' >"$live/run.json"
(
  for epoch in 0 1 2; do
    sleep 0.3
    head -c 100000 /dev/urandom >"$live/checkpoints/.epoch=$epoch.ckpt.tmp-1-1-1"
    mv "$live/checkpoints/.epoch=$epoch.ckpt.tmp-1-1-1" "$live/checkpoints/epoch=$epoch.ckpt"
    list=""
    for e in $(seq 0 "$epoch"); do list="$list${list:+,}{\"file\": \"epoch=$e.ckpt\"}"; done
    echo "{\"checkpoints\": [$list]}" >"$live/checkpoints/.c.tmp-1-1-1"
    mv "$live/checkpoints/.c.tmp-1-1-1" "$live/checkpoints/checkpoints.json"
    echo "{\"epoch\": $epoch}" >>"$live/metrics.jsonl"
  done
  sleep 0.3
  echo '{"status": "FINISHED"}' >"$live/.run.json.tmp-1-1-1"
  mv "$live/.run.json.tmp-1-1-1" "$live/run.json"
) &
trainer=$!
timeout 60 "$bin" --src "$live" --dst "$tmp/live_dst" --follow --interval_s 0.1 \
  --settle_s 0.2 --progress none >"$tmp/out" 2>"$tmp/err"
rc=$?
wait $trainer
if [ $rc -eq 0 ] && same_tree "$live" "$tmp/live_dst" && [ "$(json_field "$tmp/out" passes)" -gt 2 ]; then
  ok "--follow ends with the run and converges"
else
  fail "--follow rc=$rc"; cat "$tmp/out" "$tmp/err"
fi

# SIGTERM ends --follow after a final pass (no run.json here).
nojson="$tmp/nojson"
mkdir -p "$nojson" && echo data >"$nojson/a.txt"
"$bin" --src "$nojson" --dst "$tmp/nojson_dst" --follow --interval_s 0.1 \
  --progress none >"$tmp/out" 2>"$tmp/err" &
pid=$!
sleep 1
echo more >"$nojson/b.txt"
kill -TERM $pid
wait $pid
rc=$?
[ $rc -eq 0 ] && same_tree "$nojson" "$tmp/nojson_dst" && ok "SIGTERM: final pass, exit 0" \
  || { fail "SIGTERM rc=$rc"; cat "$tmp/err"; }

# --- Files API and DBFS through the Databricks stand-in --------------------
secret="dapi-very-secret-token-42"
"$python" "$server_py" --root "$tmp/server" --port_file "$tmp/port" --token "$secret" \
  --volume main/cv/ckpt 2>"$tmp/server.log" &
server=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
port=$(cat "$tmp/port")
export DATABRICKS_HOST="http://127.0.0.1:$port" DATABRICKS_TOKEN="$secret"
export MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR=0.01 MLFLOW_HTTP_REQUEST_BACKOFF_JITTER=0
curl -s -X POST "http://127.0.0.1:$port/_test/faults" -d \
  '[{"method": "PUT", "path_prefix": "/api/2.0/fs/files/Volumes/main/cv/ckpt/run-7/checkpoints", "times": 2, "status": 429, "retry_after": "0"}]' >/dev/null
"$bin" --src "$src" --dst /Volumes/main/cv/ckpt/run-7 --progress none --verbose_http \
  --verify sha256 >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 0 ] && same_tree "$src" "$tmp/server/Volumes/main/cv/ckpt/run-7" \
    && grep -q "Files API" "$tmp/out" && grep -q "Authorization: Bearer \*\*\*" "$tmp/err"; then
  ok "Files API through throttling"
else
  fail "Files API rc=$rc"; cat "$tmp/out" "$tmp/err"
fi
mkdir -p "$tmp/server/dbfs/ckpt"
"$bin" --src "$src" --dst dbfs:/ckpt/run-7 --progress none >>"$tmp/out" 2>>"$tmp/err"
rc=$?
[ $rc -eq 0 ] && same_tree "$src" "$tmp/server/dbfs/ckpt/run-7" && ok "DBFS API" \
  || { fail "DBFS rc=$rc"; cat "$tmp/err"; }
expect_error 2 "volume /Volumes/main/cv/absent does not exist" -- \
  "$bin" --src "$src" --dst /Volumes/main/cv/absent/run
DATABRICKS_TOKEN=wrong-token "$bin" --src "$src" --dst /Volumes/main/cv/ckpt/x \
  >>"$tmp/out" 2>>"$tmp/err" && fail "a wrong token was accepted"
if grep -q -- "$secret" "$tmp/out" "$tmp/err" || grep -q wrong-token "$tmp/err"; then
  fail "a token appeared in the output"
else
  ok "tokens never printed"
fi
kill $server; wait $server 2>/dev/null

echo "$failures failure(s)"
[ $failures -eq 0 ]
