#!/usr/bin/env bash
# The links in SNS messages against a running `certhub serve` and its HTTP
# API: a real subscriber (sns_receiver.py in "url" mode) downloads the
# signing certificate from SigningCertURL to verify each signature, and
# confirms by fetching SubscribeURL from the API; an UnsubscribeURL fetch
# unsubscribes. Wrong tokens, unknown actions and HEAD change nothing.
# With notify.base_url unset the links carry the API's own URL.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/serve_lib.sh"
command -v curl >/dev/null || fail "curl is needed"

RPORT=$(free_port)
PORT=$(free_port)
URL=http://127.0.0.1:$PORT
REC=$TMP/received.jsonl
DB_DIR=$(dirname "$CERTHUB_DB")
echo ok >"$TMP/mode"

# py PROGRAM: python over the receiver's record (list R of dicts).
py() {
  python3 -c "import json,os
R=[json.loads(l) for l in open('$REC')] if os.path.exists('$REC') else []
$1"
}
# get PATH [CURL ARGS]: GET on the API, status in $CODE, body in $BODY.
get() {
  local p=$1; shift
  CODE=$(curl -sS -o "$TMP/body" -w '%{http_code}' "$@" "$p")
  BODY=$(cat "$TMP/body")
}
subs_json() { "$CERTHUB" -o json topics subscriptions 2>/dev/null; }

run_expect 0 "$CERTHUB" topics create certs
TOPIC_ARN=$OUT
python3 "$here/sns_receiver.py" "$RPORT" "$REC" url "$TMP/mode" \
  >/dev/null 2>>"$TMP/receiver.err" &
EXTRA_PIDS+=($!)
serve_start serve --listen "127.0.0.1:$PORT" --interval 1s
api_up() { log_has "API at $URL"; }
wait_until 30 "the API URL in the log" api_up
rec_up() { curl -s -o /dev/null "http://127.0.0.1:$RPORT/"; }
wait_until 30 "the receiver" rec_up

note "SigningCertURL serves the signing certificate without a token"
get "$URL/sns/signing-cert.pem" -D "$TMP/h"
[ "$CODE" = 200 ] || fail "signing cert: $CODE $BODY"
grep -qi '^Content-Type: application/x-pem-file' "$TMP/h" || fail "PEM type: $(cat "$TMP/h")"
cmp -s "$TMP/body" "$DB_DIR/sns-signing.crt" || fail "served PEM is not sns-signing.crt"
openssl x509 -in "$TMP/body" -noout || fail "served PEM does not parse"

note "subscribe: the receiver verifies with the downloaded certificate and confirms"
run_expect 0 "$CERTHUB" topics subscribe certs --protocol http \
  --endpoint "http://127.0.0.1:$RPORT/sns"
SUB=$OUT
confirmed() { subs_json | grep -q '"Confirmed"'; }
wait_until 30 "the receiver to confirm through SubscribeURL" confirmed
py "c=[r for r in R if r['type']=='SubscriptionConfirmation']
assert len(c)==1 and c[0]['verified'] is True, c
assert c[0]['cert_url']=='$URL/sns/signing-cert.pem', c[0]['cert_url']
assert c[0]['subscribe'].startswith('$URL/?Action=ConfirmSubscription&TopicArn='), c[0]['subscribe']
k=[r for r in R if r['type']=='Confirmed']
assert len(k)==1 and k[0]['status']==200 and k[0]['ctype'].startswith('text/xml'), k
assert '<ConfirmSubscriptionResponse' in k[0]['body'], k
assert '<SubscriptionArn>$SUB</SubscriptionArn>' in k[0]['body'], k"
SUBURL=$(py "print([r for r in R if r['type']=='SubscriptionConfirmation'][0]['subscribe'])")

note "confirming again is fine; a wrong token, no token, HEAD, bad Action refused"
get "$SUBURL"
[ "$CODE" = 200 ] || fail "second confirm: $CODE $BODY"
BAD=${SUBURL%Token=*}Token=0000
get "$BAD"
[ "$CODE" = 404 ] || fail "wrong token confirm: $CODE $BODY"
printf '%s' "$BODY" | grep -q '"error"' || fail "not a JSON error: $BODY"
get "${SUBURL%&Token=*}"
[ "$CODE" = 400 ] || fail "no token: $CODE $BODY"
printf '%s' "$BODY" | grep -q Token || fail "no token message: $BODY"
get "$URL/?Action=DeleteTopic&TopicArn=$TOPIC_ARN"
[ "$CODE" = 400 ] || fail "unknown action: $CODE $BODY"
get "$URL/"
[ "$CODE" = 404 ] || fail "GET / without Action: $CODE $BODY"

note "a notification: signed, verified with the served certificate, links to the API"
run_expect 0 "$CERTHUB" topics publish certs --message "hello" --subject Hi
MID=$OUT
arrived() { grep -q "$MID" "$REC"; }
wait_until 30 "the notification" arrived
py "n=[r for r in R if r['id']=='$MID']
assert len(n)==1 and n[0]['verified'] is True and n[0]['message']=='hello', n
assert n[0]['unsubscribe'].startswith('$URL/?Action=Unsubscribe&SubscriptionArn='), n"
UNSUB=$(py "print([r for r in R if r['id']=='$MID'][0]['unsubscribe'])")

note "UnsubscribeURL: a wrong token and HEAD change nothing; the real one unsubscribes"
before=$(subs_json)
get "${UNSUB%Token=*}Token=$(printf 'f%.0s' $(seq 64))"
[ "$CODE" = 403 ] || fail "wrong token unsubscribe: $CODE $BODY"
get "$UNSUB" -I
[ "$CODE" = 405 ] || fail "HEAD unsubscribe: $CODE"
[ "$(subs_json)" = "$before" ] || fail "a refused request changed the subscriptions"
subs_json | grep -q "$SUB" || fail "unsubscribed by a refused request"
get "$UNSUB"
[ "$CODE" = 200 ] || fail "unsubscribe: $CODE $BODY"
printf '%s' "$BODY" | grep -q '<UnsubscribeResponse' || fail "unsubscribe body: $BODY"
[ "$(subs_json)" = "[]" ] || fail "still subscribed: $(subs_json)"
get "$UNSUB"
[ "$CODE" = 403 ] || fail "second unsubscribe: $CODE $BODY"

serve_stop TERM
[ "$SRC" = 0 ] || fail "serve exited $SRC"

note "notify.base_url, when set, is what the links carry"
PORT2=$(free_port)
cat >"$TMP/cfg.yaml" <<EOF2
http:
  listen: 127.0.0.1:$PORT2
notify:
  base_url: http://127.0.0.1:9/certhub/
EOF2
serve_start --config "$TMP/cfg.yaml" serve --interval 1s
run_expect 0 "$CERTHUB" topics subscribe certs --protocol http \
  --endpoint "http://127.0.0.1:$RPORT/other"
second() { py "assert len([r for r in R if r['type']=='SubscriptionConfirmation'])==2" 2>/dev/null; }
wait_until 30 "the second confirmation request" second
py "c=[r for r in R if r['type']=='SubscriptionConfirmation'][1]
assert c['subscribe'].startswith('http://127.0.0.1:9/certhub/?Action=ConfirmSubscription'), c
assert c['cert_url']=='http://127.0.0.1:9/certhub/sns/signing-cert.pem', c"
serve_stop TERM

note "without notify.base_url, http.base_url is what the links carry"
cat >"$TMP/cfg2.yaml" <<EOF2
http:
  listen: 127.0.0.1:$PORT2
  base_url: http://127.0.0.1:9/api/
EOF2
serve_start --config "$TMP/cfg2.yaml" serve --interval 1s
run_expect 0 "$CERTHUB" topics subscribe certs --protocol http \
  --endpoint "http://127.0.0.1:$RPORT/third"
third() { py "assert len([r for r in R if r['type']=='SubscriptionConfirmation'])==3" 2>/dev/null; }
wait_until 30 "the third confirmation request" third
py "c=[r for r in R if r['type']=='SubscriptionConfirmation'][2]
assert c['subscribe'].startswith('http://127.0.0.1:9/api/?Action=ConfirmSubscription'), c
assert c['cert_url']=='http://127.0.0.1:9/api/sns/signing-cert.pem', c"
serve_stop TERM
echo PASS
