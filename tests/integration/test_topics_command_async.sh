#!/usr/bin/env bash
# `command` subscriptions run asynchronously: real programs next to a real
# HTTP receiver (sns_receiver.py) on one topic. Three programs that hang
# (sleep 60) run at the same time and do not hold up the HTTP delivery,
# which arrives while they are still running; they time out (notify
# timeout 3 s) and are retried per the delivery policy, then dead-lettered;
# a program that floods stdout (`yes`, and 100 MB then exit 0) is bounded;
# SIGTERM to `certhub serve` waits its drain time (5 s), then kills a program
# still running and keeps its delivery pending for retry; `topics
# send-test` runs a command the same way.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

PORT=$(free_port)
REC=$TMP/received.jsonl
DB_DIR=$(dirname "$CERTHUB_DB")
RPID=
DPID=
# Programs a failed run left behind go too (their pids are logged).
trap 'kill $RPID $DPID 2>/dev/null; wait $RPID $DPID 2>/dev/null || true
      kill $(cut -d" " -f1 "$TMP"/*.log 2>/dev/null) 2>/dev/null || true; cleanup' EXIT

wait_port() {
  for _ in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  fail "receiver on port $1 did not start"
}
# alive FILE: every pid listed in FILE still runs.
alive() {
  local p
  for p in $(cut -d' ' -f1 "$1"); do kill -0 "$p" 2>/dev/null || return 1; done
}

# Programs: each logs "PID MESSAGE-ID" when it starts.
cat >"$TMP/hang.sh" <<EOF
#!/bin/sh
echo "\$\$ \$CERTHUB_SNS_MESSAGE_ID" >>"$TMP/hang.log"
cat >/dev/null
exec sleep 60
EOF
cat >"$TMP/yes.sh" <<EOF
#!/bin/sh
echo "\$\$ \$CERTHUB_SNS_MESSAGE_ID" >>"$TMP/yes.log"
exec yes
EOF
cat >"$TMP/flood.sh" <<EOF
#!/bin/sh
cat >"$TMP/flood.stdin"
yes | head -c 100000000
echo "\$\$ done" >>"$TMP/flood.log"
EOF
chmod +x "$TMP"/*.sh
# Three subscriptions need three endpoints (a second identical one is the
# same subscription, as in SNS).
cp "$TMP/hang.sh" "$TMP/hang2.sh"
cp "$TMP/hang.sh" "$TMP/hang3.sh"

cat >"$TMP/config.yaml" <<YAML
notify:
  timeout: 3s
YAML
export CERTHUB_CONFIG=$TMP/config.yaml

run_expect 0 "$CERTHUB" topics create certs
run_expect 0 "$CERTHUB" topics deliver --once # makes the signing key
echo ok >"$TMP/mode"
python3 "$here/sns_receiver.py" "$PORT" "$REC" "$DB_DIR/sns-signing.crt" \
  "$TMP/mode" >/dev/null 2>"$TMP/receiver.err" &
RPID=$!
wait_port "$PORT"

# One retry without delay, then dead-lettered.
POLICY='{"healthyRetryPolicy":{"numRetries":1,"numNoDelayRetries":1,"minDelayTarget":1,"maxDelayTarget":1}}'
# The programs first: their deliveries are started before the HTTP one.
HANG=()
for h in hang hang2 hang3; do
  run_expect 0 "$CERTHUB" topics subscribe certs --protocol command \
    --endpoint "$TMP/$h.sh" --attribute "DeliveryPolicy=$POLICY"
  HANG+=("$OUT")
done
run_expect 0 "$CERTHUB" topics subscribe certs --protocol command \
  --endpoint "$TMP/yes.sh" --attribute "DeliveryPolicy=$POLICY"
YES=$OUT
run_expect 0 "$CERTHUB" topics subscribe certs --protocol command \
  --endpoint "$TMP/flood.sh"
FLOOD=$OUT
run_expect 0 "$CERTHUB" topics subscribe certs --protocol http --confirmed \
  --endpoint "http://127.0.0.1:$PORT/fast" --attribute RawMessageDelivery=true

note "the HTTP delivery arrives while three programs hang and one floods"
run_expect 0 "$CERTHUB" topics publish certs --message 'hello programs'
M=$OUT
T0=$(date +%s.%N)
"$CERTHUB" topics deliver --max-seconds 60 >"$TMP/deliver.out" 2>"$TMP/deliver.err" &
DPID=$!
for _ in $(seq 300); do
  grep -q "$M" "$REC" 2>/dev/null && break
  sleep 0.05
done
grep -q "$M" "$REC" || fail "the HTTP delivery never arrived"
T1=$(date +%s.%N)
# The shells may not have logged yet (a loaded machine): up to 5 s.
for _ in $(seq 100); do
  [ "$(wc -l <"$TMP/hang.log" 2>/dev/null)" = 3 ] && [ -s "$TMP/yes.log" ] && break
  sleep 0.05
done
# Synchronously run programs would each have been killed (3 s timeout)
# before the transfer started: all three must still run now.
[ "$(wc -l <"$TMP/hang.log")" = 3 ] || fail "not all three hanging programs run: $(cat "$TMP/hang.log")"
alive "$TMP/hang.log" || fail "a hanging program ended before the HTTP delivery arrived"
alive "$TMP/yes.log" || fail "the flooding program ended before the HTTP delivery arrived"
python3 -c "import sys; d=$T1-$T0; assert d < 2.5, ('HTTP delivery took', d)"

note "the programs time out, are retried once, then dead-lettered"
wait "$DPID" || fail "deliver failed: $(cat "$TMP/deliver.err")"
DPID=
T2=$(date +%s.%N)
# Two rounds of 3 s timeouts (+1 s grace) at most, in parallel, not 4 x 2.
python3 -c "d=$T2-$T0; assert d < 20, ('deliver took', d)"
[ "$(wc -l <"$TMP/hang.log")" = 6 ] || fail "hanging programs not retried once each: $(cat "$TMP/hang.log")"
[ "$(wc -l <"$TMP/yes.log")" = 2 ] || fail "yes not retried once: $(cat "$TMP/yes.log")"
for p in $(cut -d' ' -f1 "$TMP/hang.log" "$TMP/yes.log"); do
  if kill -0 "$p" 2>/dev/null; then fail "program $p still runs"; fi
done
grep -q "$M" "$TMP/flood.stdin" || fail "the flooding program did not get the message on stdin"
[ "$(wc -l <"$TMP/flood.log")" = 1 ] || fail "flood.sh did not finish once"
run_expect 0 "$CERTHUB" -o json topics deliveries --topic certs
python3 - "$TMP/out" "${HANG[@]}" "$YES" "$FLOOD" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
by = {x['SubscriptionArn']: x for x in d if x['Type'] == 'Notification'}
hang, yes, flood = sys.argv[2:5], sys.argv[5], sys.argv[6]
for a in hang + [yes]:
    x = by[a]
    assert x['Status'] == 'dead' and x['Attempts'] == 2, x
    assert x['LastDetail'].startswith('timed out after 3000 ms'), x
for a in [yes]:
    assert 'output beyond 4096 bytes discarded' in by[a]['LastDetail'], by[a]
x = by[flood]
assert x['Status'] == 'delivered' and x['Attempts'] == 1, x
assert x['LastDetail'] == 'exit status 0; output beyond 4096 bytes discarded', x
http = [x for x in d if x['Protocol'] == 'http' and x['Type'] == 'Notification']
assert len(http) == 1 and http[0]['Status'] == 'delivered', http
PY

note "SIGTERM to serve: a running program is killed, its delivery stays pending"
# A timeout longer than serve's 5 s drain, so the drain has to kill it.
printf 'notify:\n  timeout: 30s\n' >"$TMP/config.yaml"
for a in "${HANG[@]:1}" "$YES" "$FLOOD"; do
  run_expect 0 "$CERTHUB" topics unsubscribe "$a"
done
: >"$TMP/hang.log"
run_expect 0 "$CERTHUB" topics publish certs --message 'at shutdown'
M2=$OUT
"$CERTHUB" serve --interval 30m >/dev/null 2>"$TMP/serve.err" &
DPID=$!
for _ in $(seq 300); do
  [ -s "$TMP/hang.log" ] && break
  sleep 0.05
done
[ -s "$TMP/hang.log" ] || fail "serve did not start the program"
HP=$(cut -d' ' -f1 "$TMP/hang.log")
kill -TERM "$DPID"
TS=$(date +%s.%N)
wait "$DPID" || fail "serve exited non-zero after SIGTERM: $(cat "$TMP/serve.err")"
DPID=
python3 -c "d=$(date +%s.%N)-$TS; assert d < 15, ('shutdown took', d)"
if kill -0 "$HP" 2>/dev/null; then fail "the program survived serve's shutdown"; fi
run_expect 0 "$CERTHUB" -o json topics deliveries --status pending
python3 - "$TMP/out" "${HANG[0]}" "$M2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
x = [x for x in d if x['SubscriptionArn'] == sys.argv[2]]
assert len(x) == 1 and x[0]['MessageId'] == sys.argv[3], d
assert x[0]['Attempts'] == 0 and 'killed at shutdown' in x[0]['LastDetail'], x
PY
grep -q "killed at shutdown" "$TMP/serve.err" || fail "serve did not log the kill: $(cat "$TMP/serve.err")"

note "topics send-test runs a command the same way: timeout, exit 0, not found"
printf '#!/bin/sh\necho "$$ send-test" >>"%s"\nexec sleep 30\n' "$TMP/send.log" >"$TMP/send_hang.sh"
printf '#!/bin/sh\ncat >"%s"\n' "$TMP/send.stdin" >"$TMP/send_ok.sh"
chmod +x "$TMP/send_hang.sh" "$TMP/send_ok.sh"
S0=$(date +%s.%N)
run_expect 1 "$CERTHUB" topics send-test --protocol command \
  --endpoint "$TMP/send_hang.sh" --message hi --timeout 1s
python3 -c "d=$(date +%s.%N)-$S0; assert d < 8, ('send-test took', d)"
case "$OUT$ERR" in *"RETRY: timed out after 1000 ms"*) ;; *) fail "send-test timeout: $OUT $ERR" ;; esac
SP=$(cut -d' ' -f1 "$TMP/send.log")
if kill -0 "$SP" 2>/dev/null; then fail "send-test left the program running"; fi
run_expect 0 "$CERTHUB" topics send-test --protocol command \
  --endpoint "$TMP/send_ok.sh" --message 'to stdin'
grep -q '"Message": "to stdin"' "$TMP/send.stdin" || fail "send-test stdin: $(cat "$TMP/send.stdin")"
run_expect 1 "$CERTHUB" topics send-test --protocol command \
  --endpoint "$TMP/missing.sh" --message hi
case "$OUT$ERR" in *"FAILED: cannot execute: No such file or directory"*) ;; *) fail "send-test missing: $OUT $ERR" ;; esac
