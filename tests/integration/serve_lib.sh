# Helpers for the tests of `certhub serve` (sourced after lib.sh).
# One daemon at a time: its pid is $SPID, its stderr goes to $SLOG.
SPID=
SLOG=$TMP/serve.log
# Extra pids to stop at exit (receivers, ...).
EXTRA_PIDS=()

serve_cleanup() {
  [ -z "$SPID" ] || kill -9 "$SPID" 2>/dev/null || true
  for p in "${EXTRA_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  cleanup
}
trap 'serve_cleanup' EXIT

# wait_until SECONDS DESC CMD...: poll CMD every 0.1 s until it succeeds;
# fail naming DESC after SECONDS.
wait_until() {
  local limit=$1 desc=$2; shift 2
  local end=$((SECONDS + limit))
  until "$@"; do
    [ $SECONDS -lt $end ] || {
      [ -f "$SLOG" ] && { echo "--- serve log"; tail -n 30 "$SLOG"; }
      fail "timed out after ${limit}s waiting for: $desc"
    }
    sleep 0.1
  done
}

log_has() { grep -q -- "$1" "$SLOG"; }

# serve_start [ARGS...]: start `certhub [ARGS...] serve` in the background
# (global options may be in ARGS; serve's own go after `serve`), append its
# stderr to $SLOG and wait for its "started" line.
serve_start() {
  local before=0
  [ -f "$SLOG" ] && before=$(grep -c 'certhub serve: started' "$SLOG" || true)
  "$CERTHUB" "$@" 2>>"$SLOG" >>"$TMP/serve.out" &
  SPID=$!
  started_more() {
    local n
    n=$(grep -c 'certhub serve: started' "$SLOG" 2>/dev/null || true)
    [ "${n:-0}" -gt "$before" ]
  }
  wait_until 30 "serve to start" started_more
}

# serve_stop SIGNAL [SECONDS]: send SIGNAL, wait for the exit (at most
# SECONDS, default 30); the exit status is in $SRC.
serve_stop() {
  local sig=$1 limit=${2:-30}
  kill -"$sig" "$SPID"
  local end=$((SECONDS + limit))
  while kill -0 "$SPID" 2>/dev/null; do
    [ $SECONDS -lt $end ] || fail "serve did not exit within ${limit}s of SIG$sig"
    sleep 0.05
  done
  set +e; wait "$SPID"; SRC=$?; set -e
  SPID=
}

# serve_kill9: kill -9 the daemon and reap it.
serve_kill9() {
  kill -9 "$SPID" 2>/dev/null || true
  set +e; wait "$SPID" 2>/dev/null; set -e
  SPID=
}

# jq-like helper: py 'EXPR over d' < json
pyjson() {
  python3 -c 'import json, sys
d = json.load(sys.stdin)
print(eval(sys.argv[1]))' "$1"
}

# Outbox rows in STATE (pending, delivered, dead, ...).
outbox_count() {
  sqlite3 "$CERTHUB_DB" "SELECT count(*) FROM outbox WHERE state = '$1'"
}
