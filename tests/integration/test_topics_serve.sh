#!/usr/bin/env bash
# Topics from the configuration delivered by `certhub serve` over https to a
# real TLS receiver (sns_receiver.py, signatures verified with
# python3-cryptography): the endpoint comes from endpoint_file, the topic
# signs with SignatureVersion 2, notify.ca_file trusts the receiver's CA;
# the subscription is confirmed with the token the receiver got; SIGTERM
# stops the daemon cleanly.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

PORT=$(free_port)
REC=$TMP/received.jsonl
DB_DIR=$(dirname "$CERTHUB_DB")
RPID=
SPID=
trap 'kill $RPID $SPID 2>/dev/null; wait $RPID $SPID 2>/dev/null || true; cleanup' EXIT
py() {
  python3 -c "import json,os
R=[json.loads(l) for l in open('$REC')] if os.path.exists('$REC') else []
$1"
}
# wait_for TEXT: up to 30 s for TEXT in the record (grep: python starts
# slowly on a loaded machine).
wait_for() {
  for _ in $(seq 300); do
    grep -q -- "$1" "$REC" 2>/dev/null && return 0
    sleep 0.1
  done
  fail "timed out waiting for $1 at the receiver"
}
wait_port() {
  for _ in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  fail "receiver on port $1 did not start"
}

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$TMP/tls.key" \
  -out "$TMP/tls.crt" 2>/dev/null
echo "https://127.0.0.1:$PORT/hook/token-in-path" >"$TMP/endpoint.url"
cat >"$TMP/config.yaml" <<YAML
notify:
  base_url: https://certhub.example:8443/
  ca_file: $TMP/tls.crt
  timeout: 5s
topics:
  - name: cert-alerts
    signature_version: 2
    delivery_policy: {healthyRetryPolicy: {numRetries: 3, minDelayTarget: 1, maxDelayTarget: 1}}
    subscriptions:
      - {protocol: https, endpoint_file: $TMP/endpoint.url}
YAML
export CERTHUB_CONFIG=$TMP/config.yaml

# The signing key first (made on first use), so the receiver can load its
# certificate before anything is sent.
CERTHUB_CONFIG= run_expect 0 "$CERTHUB" topics deliver --once
[ -s "$DB_DIR/sns-signing.crt" ] || fail "no signing certificate"
echo ok >"$TMP/mode"
python3 "$here/sns_receiver.py" "$PORT" "$REC" "$DB_DIR/sns-signing.crt" \
  "$TMP/mode" "$TMP/tls.crt" "$TMP/tls.key" >/dev/null 2>"$TMP/receiver.err" &
RPID=$!
wait_port "$PORT"

# The first start makes the topic and the pending subscription.
run_expect 0 "$CERTHUB" topics subscriptions cert-alerts
[ "$OUT" = "" ] || fail "subscribed before serve: $OUT"
"$CERTHUB" serve --interval 1s 2>"$TMP/serve.err" &
SPID=$!

wait_for SubscriptionConfirmation
run_expect 0 "$CERTHUB" topics subscriptions cert-alerts
case "$OUT$ERR" in *token-in-path*) fail "endpoint shown: $OUT" ;; esac
TOKEN=$(py "c=[r for r in R if r['type']=='SubscriptionConfirmation'][0]
assert c['verified'] is True and c['version']=='2', c
assert c['subscribe'].startswith('https://certhub.example:8443/?Action=ConfirmSubscription'), c
print(c['token'])")
run_expect 0 "$CERTHUB" topics confirm arn:certhub:sns:local:000000000000:cert-alerts "$TOKEN"

run_expect 0 "$CERTHUB" topics publish cert-alerts --message "expiring soon" --subject "Expiry"
MID=$OUT
wait_for "$MID"
py "n=[r for r in R if r['id']=='$MID']
assert len(n)==1 and n[0]['verified'] is True and n[0]['version']=='2', n
assert n[0]['message']=='expiring soon' and n[0]['path']=='/hook/token-in-path', n"

note "keep-alive: messages one at a time reuse serve's TLS connection"
for i in 1 2 3 4 5; do
  run_expect 0 "$CERTHUB" topics publish cert-alerts --message "ka-$i"
  wait_for "$OUT"
done
# One running engine, one message at a time: each request goes over the
# connection the previous one used (the receiver records the client's
# port). A new connection, and TLS handshake, per request would mean no
# keep-alive.
py "ka=[r for r in R if r['type']=='Notification']
assert len(ka)==6, len(ka)
conns=len(set(r['peer'] for r in ka))
assert conns<=2, ('6 notifications over %d connections' % conns)"

note "a second dispatcher is refused while serve runs"
run_expect 2 "$CERTHUB" topics deliver --once
case "$ERR" in *"certhub serve is running"*) ;; *) fail "deliver ran beside serve: $ERR" ;; esac

kill -TERM "$SPID"
wait "$SPID" || fail "serve exited $? after SIGTERM: $(cat "$TMP/serve.err")"
SPID=
grep -q "topics: 1 delivered" "$TMP/serve.err" || fail "no delivery logged: $(cat "$TMP/serve.err")"
if grep -q "token-in-path" "$TMP/serve.err"; then fail "endpoint logged"; fi

note "a missing endpoint_file is a usage error naming it"
sed -i "s|$TMP/endpoint.url|$TMP/missing.url|" "$TMP/config.yaml"
run_expect 2 "$CERTHUB" serve --once
case "$ERR" in *missing.url*) ;; *) fail "error does not name the file: $ERR" ;; esac
echo PASS
