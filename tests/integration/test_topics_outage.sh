#!/usr/bin/env bash
# A receiver that is down for minutes, then answers 500, then recovers, with
# a delivery policy that has every SNS phase (immediate retries, retries at
# the minimum delay, a linear backoff, retries at the maximum delay):
# - every message arrives exactly once with 200 (none twice);
# - each delivery's attempts are, in order, refused (code 0), then 500s,
#   then the 200, and the time between two attempts is the policy's delay
#   for that retry (immediate ones included), read from the store while the
#   deliverer runs, so the refused attempts are timed too;
# - the signatures verify with the openssl command (besides the receiver's
#   own check), SignatureVersion 1 (RSA-SHA1);
# then throttlePolicy.maxReceivesPerSecond spaces a burst at the receiver.
# The receiver is down 105 s and failing until 145 s; the test takes about
# 2.5 minutes.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

PORT=$(free_port)
REC=$TMP/received.jsonl
MODE=$TMP/mode
DB_DIR=$(dirname "$CERTHUB_DB")
RPID=
DPID=
WPID=
trap 'kill $RPID $DPID $WPID 2>/dev/null; wait $RPID $DPID $WPID 2>/dev/null || true; cleanup' EXIT

wait_port() {
  for _ in $(seq 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  fail "receiver on port $1 did not start"
}
start_receiver() {
  python3 "$here/sns_receiver.py" "$PORT" "$REC" "$DB_DIR/sns-signing.crt" \
    "$MODE" >/dev/null 2>>"$TMP/receiver.err" &
  RPID=$!
  wait_port "$PORT"
}

run_expect 0 "$CERTHUB" topics create outage
run_expect 0 "$CERTHUB" topics deliver --once # makes the signing key

# 16 retries: 2 immediate, 2 at 2 s, 10 backing off linearly from 2 s to
# 20 s, 2 at 20 s. Attempts start at 0, 0, 0, 2, 4, 6, 10, 16, 24, 34, 46,
# 60, 76, 94, 114, 134, 154 s.
POLICY='{"healthyRetryPolicy":{"numRetries":16,"numNoDelayRetries":2,"numMinDelayRetries":2,"minDelayTarget":2,"maxDelayTarget":20,"numMaxDelayRetries":2,"backoffFunction":"linear"}}'
run_expect 0 "$CERTHUB" topics subscribe outage --protocol http --confirmed \
  --endpoint "http://127.0.0.1:$PORT/sns" --attribute "DeliveryPolicy=$POLICY"
IDS=()
for i in 1 2 3 4 5; do
  run_expect 0 "$CERTHUB" topics publish outage --message "message $i" --subject "Outage $i"
  IDS+=("$OUT")
done

# Every attempt as the store records it: (message, attempts, updated_ms,
# last_code), polled every 50 ms; the gaps between polls are far below the
# policy's 2 s, so only immediate retries can fall between two polls.
python3 - "$CERTHUB_DB" "$TMP/attempts.jsonl" "$TMP/watch.ready" <<'PY' &
import json, sqlite3, sys, time
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=10)
seen = set()
ready = False
with open(sys.argv[2], "a") as out:
    while True:
        try:
            rows = db.execute("SELECT message_id, attempts, updated_ms, last_code,"
                              " status FROM deliveries WHERE kind = 'Notification'"
                              ).fetchall()
        except sqlite3.OperationalError:
            rows = []
        if not ready:
            open(sys.argv[3], "w").close()
            ready = True
        for r in rows:
            if r[1] and (r[0], r[1]) not in seen:
                seen.add((r[0], r[1]))
                out.write(json.dumps(r) + "\n")
                out.flush()
        time.sleep(0.05)
PY
WPID=$!
for _ in $(seq 300); do
  [ -e "$TMP/watch.ready" ] && break
  sleep 0.1
done
[ -e "$TMP/watch.ready" ] || fail "the store watcher did not start"

note "receiver down for 105 s, then 500s until 145 s, then back"
T0=$SECONDS
START=$(date +%s.%N)
"$CERTHUB" topics deliver --max-seconds 300 >"$TMP/deliver.out" 2>&1 &
DPID=$!
sleep 105
echo 500 >"$MODE"
start_receiver
sleep 40
echo ok >"$MODE"
wait "$DPID" || fail "deliver failed: $(cat "$TMP/deliver.out")"
DPID=
note "all delivered after $((SECONDS - T0)) s"
sleep 0.3
kill "$WPID"
wait "$WPID" 2>/dev/null || true
WPID=

run_expect 0 "$CERTHUB" -o json topics deliveries --topic outage
cp "$TMP/out" "$TMP/deliveries.json"
python3 - "$REC" "$TMP/attempts.jsonl" "$TMP/deliveries.json" "$START" "${IDS[@]}" <<'PY' ||
import json, sys
R = [json.loads(l) for l in open(sys.argv[1])]
A = [json.loads(l) for l in open(sys.argv[2])]
D = json.load(open(sys.argv[3]))
start = float(sys.argv[4])
ids = sys.argv[5:]

def delay(r):  # the policy above, retry r (1-based), in seconds
    if r <= 2: return 0
    if r <= 4: return 2
    if r <= 14: return 2 + 18 * (r - 5) / 9
    if r <= 16: return 20
    raise AssertionError("retry %d is beyond numRetries" % r)

for i in ids:
    got = [r for r in R if r["id"] == i]
    assert [r["status"] for r in got].count(200) == 1, ("not once", i, got)
    assert got[-1]["status"] == 200, ("a request after the 200", i, got)
    assert all(r["verified"] is True and r["version"] == "1" for r in got), got
    d = [x for x in D if x["MessageId"] == i]
    assert len(d) == 1 and d[0]["Status"] == "delivered", d
    codes = d[0]["Codes"].split(",")
    assert len(codes) == d[0]["Attempts"], d
    # down, then 500s, then the 200, in that order
    n0 = codes.index("500")
    assert n0 >= 5 and codes[:n0] == ["0"] * n0, ("phases", codes)
    assert codes[n0:-1] == ["500"] * (len(codes) - n0 - 1) and codes[-1] == "200", codes
    # every attempt that reached the receiver is one in the store's list
    assert len(got) == len(codes) - n0, (len(got), codes)
    # attempt times: the store's updated_ms at each attempt count
    # The first three (the attempt and its two immediate retries) may all
    # fall between two polls: the first is then timed by the start of the
    # deliverer (a little earlier), and the fourth must come 2 s later.
    t = {a[1]: a[2] / 1000.0 for a in A if a[0] == i}
    t.setdefault(1, start)
    assert max(t) == len(codes), (sorted(t), codes)
    assert t.keys() >= set(range(4, len(codes) + 1)), ("attempts not seen", sorted(t))
    ks = sorted(t)
    gaps = [(a, b, round(t[b] - t[a], 2), sum(delay(r) for r in range(a, b)))
            for a, b in zip(ks, ks[1:])]
    for a, b, gap, want in gaps:
        # never early; late only by the time an attempt takes on a busy
        # machine
        assert want - 0.05 <= gap <= want + 3 * (b - a), \
            ("retry %d..%d after %.2f s, the policy says %.2f s" % (a, b, gap, want), i, gaps)
print("ok")
PY
  fail "the outage deliveries do not follow the policy (above)"

note "the signature checked again with the openssl command"
openssl x509 -in "$DB_DIR/sns-signing.crt" -pubkey -noout >"$TMP/pub.pem"
python3 - "$REC" "$TMP" <<'PY'
import base64, json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if '"status": 200' in l][0]
open(sys.argv[2] + "/sts.txt", "w").write(r["sts"])
open(sys.argv[2] + "/sig.bin", "wb").write(base64.b64decode(r["signature"]))
PY
openssl dgst -sha1 -verify "$TMP/pub.pem" -signature "$TMP/sig.bin" \
  "$TMP/sts.txt" >"$TMP/verify.out" 2>&1 || fail "openssl: $(cat "$TMP/verify.out")"
grep -q '^Verified OK' "$TMP/verify.out" || fail "openssl: $(cat "$TMP/verify.out")"
printf 'x' >>"$TMP/sts.txt"
if openssl dgst -sha1 -verify "$TMP/pub.pem" -signature "$TMP/sig.bin" \
  "$TMP/sts.txt" >/dev/null 2>&1; then fail "openssl verified a changed string"; fi

note "maxReceivesPerSecond 2: a burst of 6 arrives at least 0.5 s apart"
run_expect 0 "$CERTHUB" topics unsubscribe "$(
  "$CERTHUB" -o json topics subscriptions outage |
    python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["SubscriptionArn"])')"
run_expect 0 "$CERTHUB" topics subscribe outage --protocol http --confirmed \
  --endpoint "http://127.0.0.1:$PORT/throttled" \
  --attribute 'DeliveryPolicy={"throttlePolicy":{"maxReceivesPerSecond":2}}'
for i in 1 2 3 4 5 6; do
  run_expect 0 "$CERTHUB" topics publish outage --message "burst $i"
done
run_expect 0 "$CERTHUB" topics deliver --max-seconds 60
python3 - "$REC" <<'PY' || fail "throttle (above)"
import json, sys
R = [json.loads(l) for l in open(sys.argv[1])]
b = [r for r in R if r["path"] == "/throttled"]
assert len(b) == 6 and all(r["status"] == 200 for r in b), b
ts = sorted(r["t"] for r in b)
gaps = [round(y - x, 3) for x, y in zip(ts, ts[1:])]
assert min(gaps) >= 0.45, gaps
print("ok")
PY
echo PASS
