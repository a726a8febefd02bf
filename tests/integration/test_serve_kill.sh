#!/usr/bin/env bash
# At-least-once delivery across SIGKILL: ~300 events put in batches, some
# while the daemon runs, the daemon killed -9 at random moments and
# restarted; in the end every event reached both targets (a command and a
# file) at least once, nothing is dead-lettered. Then the lifecycle's
# once-per-day across kills: one Approaching event per certificate a day.
# Random choices are seeded; set SERVE_KILL_SEED to replay a run.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/serve_lib.sh"
t0=$SECONDS

SEED=${SERVE_KILL_SEED:-$RANDOM}
RANDOM=$SEED
note "seed $SEED (SERVE_KILL_SEED=$SEED to replay)"
# rand_sleep MIN_MS MAX_MS
rand_sleep() {
  local ms=$(($1 + RANDOM % ($2 - $1 + 1)))
  sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
}

# The command target: the event id read from the JSON on stdin, and the
# one in the environment, appended as one line; a small random sleep so
# kills land inside deliveries too.
cat >"$TMP/deliver.sh" <<'SH'
#!/bin/bash
id=$(sed -n 's/^{"version":"0","id":"\([0-9a-f-]*\)".*/\1/p')
sleep "0.0$((RANDOM % 3))"
echo "$id $CERTHUB_EVENT_ID" >>"$OUT_FILE"
SH
chmod +x "$TMP/deliver.sh"
CMD_OUT=$TMP/command.out
FILE_OUT=$TMP/file.jsonl
: >"$CMD_OUT"

run_expect 0 "$CERTHUB" rules put kill-test \
  --pattern '{"source":["test.kill"]}' \
  --target "{\"Id\":\"cmd\",\"Type\":\"command\",\"Command\":[\"$TMP/deliver.sh\"],\"TimeoutSeconds\":20,\"Environment\":{\"OUT_FILE\":\"$CMD_OUT\"},\"DeadLetterConfig\":{}}" \
  --target "{\"Id\":\"log\",\"Type\":\"file\",\"Path\":\"$FILE_OUT\",\"DeadLetterConfig\":{}}"

# put_batch N K: put K events of batch N; their ids go to $TMP/ids.
BATCH=0
put_batch() {
  python3 - "$1" "$2" >"$TMP/entries.json" <<'PY'
import json, sys
b, k = int(sys.argv[1]), int(sys.argv[2])
print(json.dumps([{"Source": "test.kill", "DetailType": "Kill Test",
                   "Detail": json.dumps({"batch": b, "n": i})} for i in range(k)]))
PY
  "$CERTHUB" events put --entries "$TMP/entries.json" >"$TMP/put.json" ||
    fail "events put (batch $1) failed"
  pyjson '"\n".join(e["EventId"] for e in d["Entries"]) if d["FailedEntryCount"] == 0 else "FAILED"' \
    <"$TMP/put.json" >>"$TMP/ids"
  ! grep -q FAILED "$TMP/ids" || fail "entries of batch $1 failed: $(cat "$TMP/put.json")"
}
: >"$TMP/ids"
put_batch 0 60

KILLS=15
note "kill -9 the daemon $KILLS times, 0.05-0.7 s apart; 240 more events on the way"
killed_busy=0
for i in $(seq 1 $KILLS); do
  serve_start serve --interval 200ms
  # Batches 1..6 (40 events each) go in while a daemon runs.
  if [ $((i % 2)) = 1 ] && [ $i -le 11 ]; then put_batch $(((i + 1) / 2)) 40; fi
  rand_sleep 50 700
  [ "$(outbox_count pending)" != 0 ] && killed_busy=$((killed_busy + 1))
  serve_kill9
done
[ "$(wc -l <"$TMP/ids")" = 300 ] || fail "$(wc -l <"$TMP/ids") ids recorded, want 300"
note "$killed_busy of $KILLS kills came with deliveries pending"
[ "$killed_busy" -gt 0 ] || fail "no kill interrupted any work: the test proved nothing"

note "last start: run until every delivery is done"
serve_start serve --interval 200ms
all_done() {
  [ "$(sqlite3 "$CERTHUB_DB" "SELECT count(*) FROM events WHERE routed = 0")" = 0 ] &&
    [ "$(outbox_count pending)" = 0 ]
}
wait_until 300 "every outbox row delivered" all_done
serve_stop TERM 30
[ "$SRC" = 0 ] || fail "serve exited $SRC after SIGTERM"

run_expect 0 "$CERTHUB" dlq list -o json
[ "$(printf '%s' "$OUT" | pyjson 'len(d)')" = 0 ] || fail "dead letters: $OUT"
[ "$(outbox_count dead)" = 0 ] || fail "dead outbox rows"

# Every id at least once in each target's output; duplicates are allowed.
report=$(python3 - "$TMP/ids" "$CMD_OUT" "$FILE_OUT" <<'PY'
import collections, json, sys
ids = open(sys.argv[1]).read().split()
assert len(ids) == 300 and len(set(ids)) == 300, len(set(ids))
cmd = collections.Counter()
cut = 0
for line in open(sys.argv[2]):
    stdin_id, env_id = line.rstrip("\n").split(" ")
    if not stdin_id and env_id in ids:
        # The daemon was killed between starting the command and writing
        # its stdin: the orphan saw EOF. That delivery is not recorded as
        # done, so it is repeated with the whole event (checked below).
        cut += 1
        continue
    if stdin_id != env_id:
        sys.exit("FAIL: command got id %r on stdin, %r in CERTHUB_EVENT_ID" % (stdin_id, env_id))
    cmd[stdin_id] += 1
fil = collections.Counter()
for line in open(sys.argv[3]):
    ev = json.loads(line)  # a torn line would not parse
    if ev["source"] != "test.kill":
        sys.exit("FAIL: file target got %s" % ev["source"])
    fil[ev["id"]] += 1
for name, c in (("command", cmd), ("file", fil)):
    missing = [i for i in ids if c[i] == 0]
    if missing:
        sys.exit("FAIL: %d events never reached the %s target, e.g. %s" % (len(missing), name, missing[:3]))
    extra = set(c) - set(ids)
    if extra:
        sys.exit("FAIL: %s target got unknown ids %s" % (name, sorted(extra)[:3]))
print("command: %d deliveries (%d duplicates, %d cut short by a kill), file: %d lines (%d duplicates)" %
      (sum(cmd.values()), sum(cmd.values()) - 300, cut, sum(fil.values()), sum(fil.values()) - 300))
PY
) || fail "at-least-once: $report"
note "$report"

# The delivery log of a sample of events says delivered, once or more.
for id in $(shuf -n 15 --random-source=<(yes "$SEED") "$TMP/ids"); do
  run_expect 0 "$CERTHUB" events show "$id" -o json
  st=$(printf '%s' "$OUT" | pyjson '" ".join(sorted("%s:%s" % (x["TargetId"], x["State"]) for x in d["Deliveries"]))')
  [ "$st" = "cmd:delivered log:delivered" ] || fail "event $id deliveries: $st"
done

note "lifecycle: once per UTC day across kills"
export CERTHUB_DB=$TMP/lc/certhub.db
SLOG=$TMP/serve-lc.log
DAY=2026-12-09
"$CERTHUB_GEN" --now "${DAY}T10:00:00Z" --cn lc-%d.example.test --count 5 \
  --not-after +20d -o "$TMP/lc.pem"
run_expect 0 "$CERTHUB" --now "${DAY}T10:00:00Z" import "$TMP/lc.pem"
for i in $(seq 1 6); do
  serve_start --now "${DAY}T1$i:00:00Z" serve --interval 200ms
  rand_sleep 50 700
  serve_kill9
done
serve_start --now "${DAY}T23:59:00Z" serve --once
set +e; wait "$SPID"; SRC=$?; set -e; SPID=
[ "$SRC" = 0 ] || fail "serve --once exited $SRC"
run_expect 0 "$CERTHUB" events list -o json
lc=$(printf '%s' "$OUT" | python3 -c '
import collections, json, sys
ev = json.load(sys.stdin)
a = collections.Counter()
for e in ev:
    if e["DetailType"] == "ACM Certificate Approaching Expiration":
        assert e["Time"].startswith("2026-12-09T"), e["Time"]
        a[e["Event"]["detail"]["CommonName"]] += 1
want = ["lc-%d.example.test" % i for i in range(1, 6)]
if sorted(a) != want or set(a.values()) != {1}:
    sys.exit("FAIL: approaching events per certificate: %s" % dict(a))
print(sum(a.values()))') || fail "$lc"
note "$lc Approaching events for 5 certificates after 6 kills"
[ "$(outbox_count pending)" = 0 ] || fail "lifecycle deliveries left pending"

echo "PASS test_serve_kill ($((SECONDS - t0))s, seed $SEED)"
