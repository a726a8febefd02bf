#!/usr/bin/env bash
# Topic subscriptions over http against a real SNS-style receiver
# (sns_receiver.py) that verifies every signature with python3-cryptography:
# confirmation with the delivered token, raw delivery, MessageAttributes
# (signed JSON, raw, filter policy), a receiver that is
# down, then answers 500, then recovers (every message arrives once, the
# retries follow the delivery policy), a 404 dead-letters (dlq list, redrive,
# purge), and a kill -9 in flight re-delivers only what was in flight.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

PORT=$(free_port)
REC=$TMP/received.jsonl
MODE=$TMP/mode
DB_DIR=$(dirname "$CERTHUB_DB")
RPID=
DPID=
trap 'kill $RPID $DPID 2>/dev/null; wait $RPID $DPID 2>/dev/null || true; cleanup' EXIT

wait_port() {
  for _ in $(seq 200); do
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
stop_receiver() {
  kill "$RPID" 2>/dev/null || true
  wait "$RPID" 2>/dev/null || true
  RPID=
}
# py EXPR-PROGRAM: run python over the record (list R of dicts).
py() {
  python3 -c "import json,sys
R=[json.loads(l) for l in open('$REC')] if __import__('os').path.exists('$REC') else []
$1"
}

run_expect 0 "$CERTHUB" topics create certs
TOPIC_ARN=$OUT
# The signing key is made on first use; make it now so the receiver can
# load its certificate.
run_expect 0 "$CERTHUB" topics deliver --once
[ -s "$DB_DIR/sns-signing.key" ] || fail "no signing key generated"
[ "$(stat -c %a "$DB_DIR/sns-signing.key")" = 600 ] || fail "key not 0600"
echo ok >"$MODE"
start_receiver

# 20 retries over about 28 s: a loaded machine may take seconds to start
# the receiver below, and the last 200 must still be within the policy.
POLICY='{"healthyRetryPolicy":{"numRetries":20,"numNoDelayRetries":1,"minDelayTarget":1,"maxDelayTarget":2,"numMinDelayRetries":1,"backoffFunction":"linear"}}'
run_expect 0 "$CERTHUB" topics subscribe certs --protocol http \
  --endpoint "http://127.0.0.1:$PORT/sns/secret-path" \
  --attribute "DeliveryPolicy=$POLICY"
SUB=$OUT
case "$SUB" in "$TOPIC_ARN":*) ;; *) fail "subscription ARN $SUB" ;; esac
run_expect 0 "$CERTHUB" topics subscriptions certs
case "$OUT" in *PendingConfirmation*) ;; *) fail "not pending: $OUT" ;; esac
case "$OUT" in *secret-path*) fail "endpoint path shown: $OUT" ;; esac

note "confirmation is delivered, signed, and its token confirms"
run_expect 0 "$CERTHUB" topics deliver --once
TOKEN=$(py "c=[r for r in R if r['type']=='SubscriptionConfirmation']
assert len(c)==1, c
assert c[0]['verified'] is True, c
assert c[0]['headers_match'] and c[0]['ctype']=='text/plain; charset=UTF-8', c
assert 'ConfirmSubscription' in c[0]['subscribe'] and c[0]['token'] in c[0]['subscribe']
print(c[0]['token'])")
run_expect 2 "$CERTHUB" topics confirm certs not-the-token
run_expect 0 "$CERTHUB" topics confirm certs "$TOKEN"
[ "$OUT" = "$SUB" ] || fail "confirm printed $OUT"
run_expect 0 "$CERTHUB" topics subscriptions certs
case "$OUT" in *Confirmed*) ;; *) fail "not confirmed: $OUT" ;; esac

note "a raw subscriber, pre-confirmed by the administrator"
run_expect 0 "$CERTHUB" topics subscribe certs --protocol http --confirmed \
  --endpoint "http://127.0.0.1:$PORT/raw" --attribute RawMessageDelivery=true
RAWSUB=$OUT
run_expect 0 "$CERTHUB" topics publish certs --message 'first {"x":1}' --subject Hello
M0=$OUT
run_expect 0 "$CERTHUB" topics deliver --once
py "n=[r for r in R if r['id']=='$M0']
assert len(n)==2, n
j=[r for r in n if not r['raw']][0]; w=[r for r in n if r['raw']][0]
assert j['verified'] is True and j['headers_match'] and j['message']=='first {\"x\":1}', j
assert j['h_sub']=='$SUB' and 'Unsubscribe' in j['unsubscribe'], j
assert w['message']=='first {\"x\":1}' and w['path']=='/raw' and w['h_sub']=='$RAWSUB', w
assert j['version']=='1'"

note "MessageAttributes: in the signed JSON (not in the string to sign, as SNS), not in a raw delivery, and a MessageAttributes-scope policy selects by them"
run_expect 0 "$CERTHUB" topics subscribe certs --protocol http --confirmed \
  --endpoint "http://127.0.0.1:$PORT/high" \
  --attribute 'FilterPolicy={"severity":["HIGH"],"days":[{"numeric":["<=",14]}]}'
HIGHSUB=$OUT
run_expect 0 "$CERTHUB" topics publish certs --message 'with attributes' \
  --message-attribute severity=String:HIGH --message-attribute days=Number:14 \
  --message-attribute 'owners=String.Array:["web","db"]' \
  --message-attribute blob=Binary:aGVsbG8=
MA=$OUT
run_expect 0 "$CERTHUB" topics publish certs --message 'low' \
  --message-attribute severity=String:LOW --message-attribute days=Number:3
ML=$OUT
run_expect 0 "$CERTHUB" topics deliver --once
py "a=[r for r in R if r['id']=='$MA']
assert sorted(r['path'] for r in a)==['/high','/raw','/sns/secret-path'], a
for r in a:
    if r['raw']:
        # SNS: raw HTTP deliveries carry the body only, no attributes
        assert r['message']=='with attributes', r
        assert r['h_amz']==['x-amz-sns-message-id','x-amz-sns-message-type','x-amz-sns-rawdelivery','x-amz-sns-subscription-arn','x-amz-sns-topic-arn'], r
        continue
    assert r['verified'] is True and r['headers_match'], r
    assert r['attrs']=={'blob':{'Type':'Binary','Value':'aGVsbG8='},
                        'days':{'Type':'Number','Value':'14'},
                        'owners':{'Type':'String.Array','Value':'[\"web\",\"db\"]'},
                        'severity':{'Type':'String','Value':'HIGH'}}, r
l=[r for r in R if r['id']=='$ML']
assert sorted(r['path'] for r in l)==['/raw','/sns/secret-path'], l
assert [r['verified'] for r in l if not r['raw']]==[True], l
# a message without attributes has no MessageAttributes key
assert all(r['attrs'] is None for r in R if r['id']=='$M0' and not r['raw']), R"
run_expect 0 "$CERTHUB" -o json topics deliveries --subscription "$HIGHSUB" --status filtered
python3 -c "import json
d=json.load(open('$TMP/out')); assert [x['MessageId'] for x in d]==['$ML'], d"
run_expect 0 "$CERTHUB" topics unsubscribe "$HIGHSUB"
run_expect 0 "$CERTHUB" topics unsubscribe "$RAWSUB"

note "receiver down, then 500s, then back: every message once, in policy order"
stop_receiver
IDS=()
for i in 1 2 3 4 5; do
  run_expect 0 "$CERTHUB" topics publish certs --message "message $i"
  IDS+=("$OUT")
done
"$CERTHUB" topics deliver --max-seconds 40 >"$TMP/deliver.out" 2>&1 &
DPID=$!
sleep 1.5
echo 500 >"$MODE"
start_receiver
sleep 2.5
echo ok >"$MODE"
wait "$DPID" || fail "deliver failed: $(cat "$TMP/deliver.out")"
DPID=
py "ids='${IDS[*]}'.split()
for i in ids:
    got=[r for r in R if r['id']==i]
    ok=[r for r in got if r['status']==200]
    assert len(ok)==1, (i, got)
    assert all(r['verified'] for r in got), got
    fails=[r for r in got if r['status']==500]
    assert fails, ('no 500 seen for', i)
    # retries after a 500 wait at least the policy's delay (>= 1 s here)
    ts=[r['t'] for r in got]
    for a,b in zip(ts,ts[1:]):
        assert b-a >= 0.9, ('retry too soon', i, ts)
"
run_expect 0 "$CERTHUB" -o json topics deliveries --topic certs --status delivered
python3 -c "import json,sys
d=[x for x in json.load(open('$TMP/out')) if x['Type']=='Notification' and x['MessageId'] in '${IDS[*]}']
assert len(d)==5, d
for x in d:
    c=x['Codes'].split(',')
    # down (0) first: one immediate retry, then 500s, then the 200
    assert c[0]=='0' and c[-1]=='200' and '500' in c, x
    assert c.index('500') > 0 and all(v=='500' for v in c[c.index('500'):-1]), x
    assert 'secret-path' not in json.dumps(x) and '127.0.0.1' not in json.dumps(x), x
"

note "a 404 goes to the dead-letter store; redrive delivers it; purge"
echo 404 >"$MODE"
run_expect 0 "$CERTHUB" topics publish certs --message "to the dlq"
MD=$OUT
run_expect 0 "$CERTHUB" topics deliver --once
run_expect 0 "$CERTHUB" -o json topics dlq list
python3 -c "import json
d=json.load(open('$TMP/out')); assert len(d)==1 and d[0]['MessageId']=='$MD' and d[0]['LastCode']==404, d"
echo ok >"$MODE"
run_expect 0 "$CERTHUB" topics dlq redrive
run_expect 0 "$CERTHUB" topics deliver --once
run_expect 0 "$CERTHUB" -o json topics dlq list
[ "$OUT" = "[]" ] || fail "dlq not empty after redrive: $OUT"
py "assert [r['status'] for r in R if r['id']=='$MD']==[404,200], R"
run_expect 2 "$CERTHUB" topics dlq redrive 999999
run_expect 0 "$CERTHUB" topics dlq purge

note "kill -9 in flight: only the in-flight deliveries come again"
echo hang >"$MODE"
run_expect 0 "$CERTHUB" topics publish certs --message "in flight"
MK=$OUT
"$CERTHUB" topics deliver --max-seconds 20 >/dev/null 2>&1 &
DPID=$!
for _ in $(seq 200); do
  grep -q "$MK" "$REC" && break
  sleep 0.05
done
grep -q "$MK" "$REC" || fail "the in-flight message never arrived"
kill -9 "$DPID" || fail "deliver ended before the receiver answered"
wait "$DPID" 2>/dev/null || true
DPID=
echo ok >"$MODE"
run_expect 0 "$CERTHUB" topics deliver --once
py "got=[r for r in R if r['id']=='$MK']
assert len(got)==2, got"
run_expect 0 "$CERTHUB" -o json topics deliveries --status pending
[ "$OUT" = "[]" ] || fail "left pending: $OUT"

note "unsubscribe with the wrong token is refused; with its token it goes"
UTOK=$(py "print([r for r in R if r['type']=='Notification' and not r['raw']][-1]['unsubscribe'].split('Token=')[1])")
run_expect 2 "$CERTHUB" topics unsubscribe "$SUB" --token wrong
run_expect 0 "$CERTHUB" topics unsubscribe "$SUB" --token "$UTOK"
run_expect 0 "$CERTHUB" -o json topics subscriptions
[ "$OUT" = "[]" ] || fail "still subscribed: $OUT"
echo "PASS"
