#!/usr/bin/env bash
# BatchImportFindings through the HTTP API: start `certhub serve` on a free
# loopback port with a fresh SQLite store, make a findings:write token, and
# drive POST /v1/findings/import with bench_http_findings (100 findings a
# call, CONC in flight) until TOTAL new findings are stored.
#
#   bench/http_findings.sh BUILD_DIR [TOTAL] [CONC] [THREADS] [DB]
#   (defaults: 1000000 findings, 8 in flight, 4 server threads)
#
# DB: an existing database to import into instead of a fresh one (e.g. a
# copy of a store holding 1,000,000 findings). It is written to: pass a
# copy. Its findings are counted before and after.
set -euo pipefail
build=${1:?usage: http_findings.sh BUILD_DIR [TOTAL] [CONC] [THREADS]}
total=${2:-1000000}
conc=${3:-8}
threads=${4:-4}
db=${5:-}
certhub=$build/certhub
client=$build/bench/bench_http_findings
tmp=$(mktemp -d "${TMPDIR:-/tmp}/certhub-bench-http.XXXXXX")
spid=
trap '[ -z "$spid" ] || kill "$spid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
export CERTHUB_DB=$tmp/bench.db
if [ -n "$db" ]; then
  [ -f "$db" ] || { echo "http_findings.sh: $db: no such database" >&2; exit 2; }
  CERTHUB_DB=$(realpath "$db")
fi
before=0
if [ -n "$db" ]; then
  before=$(sqlite3 "$CERTHUB_DB" 'SELECT count(*) FROM findings')
  # serve prunes findings not updated for 90 days when it starts; the
  # stores bench_findings_query makes date their findings up to this
  # time: with today's clock the prune would scan a tenth of them, holding
  # the write lock, while the import runs.
  export CERTHUB_NOW=${CERTHUB_NOW:-2026-11-23T10:00:00Z}
fi
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'http:\n  listen: 127.0.0.1:%s\n  threads: %s\n' "$port" "$threads" >"$tmp/c.yaml"
token=$("$certhub" -q tokens create bench --scope findings:write)
"$certhub" --config "$tmp/c.yaml" serve --interval 60s 2>"$tmp/serve.log" &
spid=$!
for _ in $(seq 100); do
  grep -q 'API at' "$tmp/serve.log" && break
  sleep 0.1
done
grep -q 'API at' "$tmp/serve.log" || { cat "$tmp/serve.log"; exit 1; }
# The server's CPU time so far (start-up: serve makes a notification
# signing key, 0.1-0.3 s of RSA key generation that varies run to run),
# subtracted from the import's below.
read -r -a st0 <"/proc/$spid/stat"
echo "# $total findings into a store of $before, $conc in flight, $threads server threads, $(nproc) CPUs"
"$client" "http://127.0.0.1:$port" "$token" "$total" "$conc"
echo "# findings stored: $(sqlite3 "$CERTHUB_DB" 'SELECT count(*) FROM findings')"
# The server's own CPU time (utime + stime of /proc/PID/stat, in clock
# ticks): on a shared machine its rate per CPU second says more than the
# wall-clock rate.
# The writer lock's time and the checkpointer (certhub_http_* on
# /metrics; absent in builds before them).
curl -sf "http://127.0.0.1:$port/metrics" | tee "$tmp/metrics" | awk -v n="$total" '
  /^certhub_http_(write|checkpoint|wal)/ { v[$1] = $2 }
  END { if ("certhub_http_write_lock_seconds_total" in v)
    printf "# writer lock: held %.3f s (cpu %.3f s, commit %.3f s), waited %.3f s; checkpoints %d, %.3f s beside it; per 20,000: held %.3f s\n",
      v["certhub_http_write_lock_seconds_total"], v["certhub_http_write_lock_cpu_seconds_total"],
      v["certhub_http_write_commit_seconds_total"], v["certhub_http_write_lock_wait_seconds_total"],
      v["certhub_http_checkpoints_total"], v["certhub_http_checkpoint_seconds_total"],
      v["certhub_http_write_lock_seconds_total"] * 20000 / n }' || true
[ -z "${CH_BENCH_METRICS:-}" ] || grep "^certhub_http" "$tmp/metrics" || true
# Requests and connections each API worker took (certhub_http_worker_* on
# /metrics; absent in builds before them, where the threads' CPU below
# shows the spread).
awk '/^certhub_http_worker_(requests|connections)_total\{/ {
    w = $1; sub(/.*worker="/, "", w); sub(/".*/, "", w)
    if ($1 ~ /requests/) r[w] = $2; else c[w] = $2; n = w + 1 }
  END { if (n) { printf "# workers (requests/connections):"
    for (i = 0; i < n; i++) printf " %d:%d/%d", i, r[i], c[i]; print "" } }' "$tmp/metrics"
# CPU seconds of each server thread (MHD's workers: how the connections
# were spread over them; the checkpointer).
for tk in /proc/$spid/task/*; do
  awk -v t="$(getconf CLK_TCK)" '{ sub(/^[0-9]+ \(/, ""); n = $0; sub(/\).*/, "", n);
    sub(/^[^)]*\) /, ""); printf "%s:%.2f ", n, ($12 + $13) / t }' "$tk/stat"
done | sed 's/^/# threads (CPU s): /'; echo
read -r -a st <"/proc/$spid/stat"
# Minor page faults of the server after start-up (each a first touch of a
# 4 KiB page: ~15 us of CPU on our VMs).
echo "# server page faults after start-up: $((st[9] - st0[9]))"
tck=$(getconf CLK_TCK)
awk -v u="${st[13]}" -v s="${st[14]}" -v u0="${st0[13]}" -v s0="${st0[14]}" \
  -v t="$tck" -v n="$total" 'BEGIN {
  c = (u + s) / t
  printf "# server CPU: %.2f s user+sys (%.2f user), %.0f findings per CPU second\n", c, u / t, n / c
  c = (u + s - u0 - s0) / t
  printf "# server CPU after start-up: %.2f s user+sys (%.2f user), %.0f findings per CPU second\n", c, (u - u0) / t, n / c }'
kill "$spid"
wait "$spid" || true
spid=
