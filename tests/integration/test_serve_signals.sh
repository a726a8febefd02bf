#!/usr/bin/env bash
# Signals to the daemon: SIGTERM drains (the delivery in flight finishes, is
# recorded, and is not repeated), SIGHUP reloads the configuration (and
# keeps the running one when the new file is invalid), SIGINT stops it,
# and an idle daemon stops at once.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/serve_lib.sh"
t0=$SECONDS
now_ms() { echo $(($(date +%s%N) / 1000000)); }

note "SIGTERM while a 6 s delivery is in flight and 3 more are due"
cat >"$TMP/slow.sh" <<'SH'
#!/bin/bash
echo "start $CERTHUB_EVENT_ID $(date +%s%N)" >>"$RUNS"
sleep 6
echo "end $CERTHUB_EVENT_ID $(date +%s%N)" >>"$RUNS"
SH
chmod +x "$TMP/slow.sh"
RUNS=$TMP/runs.log
cat >"$TMP/slow.yaml" <<EOF
rules:
  - name: slow
    pattern: {source: [test.signals]}
    targets:
      - Id: slow
        Type: command
        Command: ["$TMP/slow.sh"]
        Environment: {RUNS: "$RUNS"}
        TimeoutSeconds: 30
EOF
run_expect 0 "$CERTHUB" --config "$TMP/slow.yaml" config check
serve_start --config "$TMP/slow.yaml" serve --interval 200ms
python3 -c 'import json; print(json.dumps([{"Source": "test.signals", "DetailType": "Slow"}] * 4))' >"$TMP/slow.json"
run_expect 0 "$CERTHUB" events put --entries "$TMP/slow.json"
mapfile -t IDS < <(printf '%s' "$OUT" | pyjson '"\n".join(e["EventId"] for e in d["Entries"])')
[ "${#IDS[@]}" = 4 ] || fail "put ${#IDS[@]} events"
started() { grep -q "^start " "$RUNS" 2>/dev/null; }
wait_until 30 "the slow command to start" started
sent=$(now_ms)
serve_stop TERM 30
stopped=$(now_ms)
[ "$SRC" = 0 ] || fail "serve exited $SRC after SIGTERM"
[ "$(grep -c "^start " "$RUNS")" = 1 ] ||
  fail "SIGTERM did not stop the queue: $(grep -c "^start " "$RUNS") deliveries started"
ID=$(awk '$1 == "start" {print $2}' "$RUNS")
grep -q "^end $ID" "$RUNS" || fail "serve exited before the delivery finished"
end=$(($(awk -v id="$ID" '$1 == "end" && $2 == id {print $3}' "$RUNS") / 1000000))
[ "$sent" -lt "$end" ] || fail "SIGTERM came after the delivery ended: the test proved nothing"
[ "$stopped" -ge "$end" ] || fail "serve exited before the delivery ended"
[ $((stopped - end)) -lt 5000 ] || fail "serve took $((stopped - end)) ms to exit after the delivery finished"
note "stopped $((stopped - sent)) ms after SIGTERM, $((stopped - end)) ms after the delivery ended"
log_has 'SIGTERM: draining and stopping' || fail "no SIGTERM line"
log_has 'stopped: 0 events emitted, 1 delivered' || fail "the stop line does not count the delivery"
show_state() {
  "$CERTHUB" events show "$1" -o json |
    pyjson '" ".join("%s:%s:%d" % (x["TargetId"], x["State"], x["Attempts"]) for x in d["Deliveries"])'
}
for id in "${IDS[@]}"; do
  st=$(show_state "$id")
  if [ "$id" = "$ID" ]; then
    [ "$st" = "slow:delivered:1" ] || fail "the drained delivery: $st"
  else # not attempted: due as before, no attempt counted
    [ "$st" = "slow:pending:0" ] || fail "a queued delivery after SIGTERM: $st"
  fi
done
note "the next start delivers the 3 others, not the drained one again"
serve_start --config "$TMP/slow.yaml" serve --once
set +e; wait "$SPID"; SRC=$?; set -e; SPID=
[ "$SRC" = 0 ] || fail "serve --once exited $SRC"
for id in "${IDS[@]}"; do
  [ "$(grep -c "^start $id" "$RUNS")" = 1 ] || fail "event $id ran $(grep -c "^start $id" "$RUNS") times"
  [ "$(show_state "$id")" = "slow:delivered:1" ] || fail "event $id: $(show_state "$id")"
done

note "an idle daemon (--interval 60s) stops at once on SIGTERM"
serve_start --config "$TMP/slow.yaml" serve
sleep 0.3
sent=$(now_ms)
serve_stop TERM 10
[ "$SRC" = 0 ] || fail "idle serve exited $SRC"
[ $(($(now_ms) - sent)) -lt 3000 ] || fail "idle serve took $(($(now_ms) - sent)) ms to stop"

note "SIGHUP: reload a new target; keep the running config on a bad file"
A=$TMP/a.jsonl B=$TMP/b.jsonl
write_cfg() {
  cat >"$TMP/hup.yaml" <<EOF
rules:
  - name: route
    pattern: {source: [test.hup]}
    targets:
      - {Id: out, Type: file, Path: "$1"}
EOF
}
write_cfg "$A"
serve_start --config "$TMP/hup.yaml" serve --interval 200ms
put() {
  run_expect 0 "$CERTHUB" events put --source test.hup --detail-type Hup --detail "{\"n\":$1}"
}
in_file() { [ -f "$2" ] && grep -q "\"n\":$1}" "$2"; }
put 1
wait_until 30 "event 1 in A" in_file 1 "$A"
write_cfg "$B"
kill -HUP "$SPID"
wait_until 30 "the reload" log_has "SIGHUP: configuration reloaded from $TMP/hup.yaml"
put 2
wait_until 30 "event 2 in B" in_file 2 "$B"
! in_file 2 "$A" || fail "event 2 went to A after the reload"
run_expect 0 "$CERTHUB" rules describe route
case "$OUT" in *"$B"*) ;; *) fail "the stored rule does not target B: $OUT" ;; esac

# Not YAML the loader accepts: an unknown key.
printf 'rules:\n  - name: route\n    pattern: {source: [test.hup]}\n    bogus: 1\n' >"$TMP/hup.yaml"
kill -HUP "$SPID"
wait_until 30 "the bad reload to be refused" log_has "SIGHUP: keeping the running configuration"
kill -0 "$SPID" 2>/dev/null || fail "serve died on a bad configuration"
# Valid YAML, but a target that cannot work: refused as well.
n_keep=$(grep -c 'SIGHUP: keeping the running configuration' "$SLOG")
cat >"$TMP/hup.yaml" <<EOF
rules:
  - name: route
    pattern: {source: [test.hup]}
    targets:
      - {Id: out, Type: carrier-pigeon}
EOF
kill -HUP "$SPID"
more_keeps() { [ "$(grep -c 'SIGHUP: keeping the running configuration' "$SLOG")" -gt "$n_keep" ]; }
wait_until 30 "the second bad reload to be refused" more_keeps
kill -0 "$SPID" 2>/dev/null || fail "serve died on an invalid target"
put 3
wait_until 30 "event 3 in B after the refused reloads" in_file 3 "$B"
! in_file 3 "$A" || fail "event 3 went to A"
run_expect 0 "$CERTHUB" rules describe route
case "$OUT" in *"$B"*) ;; *) fail "a refused reload changed the stored rule: $OUT" ;; esac
[ "$(wc -l <"$A")" = 1 ] && [ "$(wc -l <"$B")" = 2 ] ||
  fail "A has $(wc -l <"$A") lines, B $(wc -l <"$B"); want 1 and 2"

note "the store locked by another process past the busy timeout: logged, then recovered"
kill -STOP "$SPID"
put 4
python3 - "$CERTHUB_DB" "$TMP/locked" <<'PY' &
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN EXCLUSIVE")
open(sys.argv[2], "w").close()
time.sleep(9)
c.execute("COMMIT")
PY
LOCKER=$!
EXTRA_PIDS+=($LOCKER)
wait_until 20 "the lock" test -f "$TMP/locked"
kill -CONT "$SPID"
# A second daemon on the same database is refused at once.
run_expect 2 timeout 30 "$CERTHUB" --config "$TMP/slow.yaml" serve --once
case "$ERR" in *"another certhub serve is running"*) ;; *) fail "second daemon: $ERR" ;; esac
wait_until 30 "serve to report the lock" log_has 'database is locked'
! in_file 4 "$B" || fail "event 4 delivered while the store was locked"
wait "$LOCKER"
wait_until 30 "event 4 in B after the lock" in_file 4 "$B"
kill -0 "$SPID" || fail "serve died on a locked store"

note "SIGINT stops it cleanly"
sent=$(now_ms)
serve_stop INT 10
[ "$SRC" = 0 ] || fail "serve exited $SRC after SIGINT"
log_has 'SIGINT: draining and stopping' || fail "no SIGINT line"
[ "$(grep -c 'certhub serve: stopped: ' "$SLOG")" = 4 ] ||
  fail "want 4 'stopped' lines (TERM, --once, TERM, INT): $(grep -c 'stopped: ' "$SLOG")"
note "a store locked at start (past the busy timeout): exit 3, a storage error"
rm -f "$TMP/locked"
python3 - "$CERTHUB_DB" "$TMP/locked" <<'PY' &
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN EXCLUSIVE")
open(sys.argv[2], "w").close()
time.sleep(7)
c.execute("COMMIT")
PY
LOCKER=$!
EXTRA_PIDS+=($LOCKER)
wait_until 20 "the lock" test -f "$TMP/locked"
# slow.yaml's rules differ from the stored ones: serve must write them.
run_expect 3 timeout 30 "$CERTHUB" --config "$TMP/slow.yaml" serve --once
case "$ERR" in *"database is locked"*) ;; *) fail "serve on a locked store: $ERR" ;; esac
wait "$LOCKER"

note "an invalid configuration at start: exit 2 naming the problem; bad options: exit 2"
printf 'rules:\n  - name: x\n    pattern: {source: [a]}\n    targets:\n      - {Id: t, Type: carrier-pigeon}\n' >"$TMP/bad.yaml"
run_expect 2 timeout 30 "$CERTHUB" --config "$TMP/bad.yaml" serve --once
case "$ERR" in *carrier-pigeon*) ;; *) fail "the error does not name the bad target type: $ERR" ;; esac
run_expect 2 timeout 30 "$CERTHUB" serve --interval 2h
run_expect 2 timeout 30 "$CERTHUB" serve --interval soon
run_expect 2 timeout 30 "$CERTHUB" serve --interval 0s
case "$ERR" in *"'0s' is not a duration over zero"*) ;; *) fail "--interval 0s: $ERR" ;; esac
run_expect 2 timeout 30 "$CERTHUB" serve --evaluate-every 0
run_expect 2 timeout 30 "$CERTHUB" serve extra
echo "PASS test_serve_signals ($((SECONDS - t0))s)"
