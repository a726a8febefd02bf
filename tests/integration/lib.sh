# Shared helpers for integration tests (sourced, not run).
# Every test gets a private temp dir, removed on exit.
set -euo pipefail
: "${CERTHUB:?CERTHUB must point at the certhub binary}"
: "${CERTHUB_GEN:?CERTHUB_GEN must point at certhub-gen}"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/certhub-it.XXXXXX")
cleanup() { rm -rf "$TMP"; }
trap cleanup EXIT
export CERTHUB_DB="$TMP/db/certhub.db"
export NO_COLOR=1
unset CERTHUB_CONFIG CERTHUB_NOW

fail() { echo "FAIL: $*" >&2; exit 1; }

# free_port [6]: a TCP port nobody listens on now, on 127.0.0.1 (or ::1).
free_port() {
  python3 -c 'import socket, sys
v6 = sys.argv[1:] == ["6"]
s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET)
s.bind(("::1" if v6 else "127.0.0.1", 0))
print(s.getsockname()[1])' "$@"
}
note() { echo "# $*"; }

# run_expect CODE CMD...: run, capture stdout/stderr in $OUT/$ERR, check exit.
run_expect() {
  local want=$1; shift
  set +e
  "$@" >"$TMP/out" 2>"$TMP/err"
  local got=$?
  set -e
  OUT=$(cat "$TMP/out"); ERR=$(cat "$TMP/err")
  if [ "$got" != "$want" ]; then
    echo "--- stdout"; cat "$TMP/out"; echo "--- stderr"; cat "$TMP/err"
    fail "$* exited $got, expected $want"
  fi
}

# Digest of everything stored (schema and rows), to prove nothing changed.
db_digest() { sqlite3 "$CERTHUB_DB" .dump | sha256sum | cut -d' ' -f1; }
