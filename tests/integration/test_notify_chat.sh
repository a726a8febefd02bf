#!/usr/bin/env bash
# The slack, teams, googlechat and webhook protocols against a real HTTP(S)
# receiver on 127.0.0.1 (webhook_receiver.py), driven by `certhub topics
# send-test`: the JSON each posts, text limits, the webhook template with
# hostile input, OK / RETRY / FAILED per status, https trust, endpoint
# checks.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
# Any python3 works; the system one starts much faster than a version
# manager's shim, which matters for the many small checks below.
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/key.pem" \
  -out "$TMP/cert.pem" -days 2 -subj /CN=localhost \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
PORT=$(free_port)
SPORT=$(free_port)
REC=$TMP/received.jsonl
SREC=$TMP/received-tls.jsonl
$PY "$here/webhook_receiver.py" "$PORT" "$REC" 2>"$TMP/r.err" &
RPID=$!
$PY "$here/webhook_receiver.py" "$SPORT" "$SREC" "$TMP/cert.pem" \
  "$TMP/key.pem" 2>"$TMP/rs.err" &
SPID=$!
trap 'kill $RPID $SPID 2>/dev/null; wait $RPID $SPID 2>/dev/null || true; cleanup' EXIT
for p in $PORT $SPORT; do
  for _ in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && break
    sleep 0.1
  done
done
U=http://127.0.0.1:$PORT

send() { # send CODE PROTOCOL ENDPOINT ARGS...
  local code=$1 proto=$2 ep=$3
  shift 3
  run_expect "$code" "$CERTHUB" topics send-test --protocol "$proto" \
    --endpoint "$ep" "$@"
}
# body N EXPR...: python expressions over the Nth recorded request (b: the
# parsed JSON body, r: the record), one result a line, into F; values
# after "--" are V[0], V[1]... for the expressions.
body() {
  mapfile -t F < <($PY - "${REC_FILE:-$REC}" "$@" <<'PY'
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])][int(sys.argv[2])]
b = json.loads(r["body"])
args = sys.argv[3:]
exprs, V = (args[:args.index("--")], args[args.index("--") + 1:]) if "--" in args else (args, [])
for e in exprs:
    v = eval(e)
    # One line per value: a string's line breaks are shown as \n.
    print(v.replace("\n", "\\n") if isinstance(v, str) else json.dumps(v))
PY
  )
}
MSG=$'Certificate <www.example.com> & "friends"\nexpire\\s in 10 days <!channel> <users/all>'
SUBJ="Certificates expiring"
ARN=arn:certhub:sns:local:000000000000:alerts

note "slack: text, header, escaped mrkdwn section, context"
send 0 slack "$U/ok" --subject "$SUBJ" --message "$MSG" --topic-arn $ARN
case "$OUT" in "OK: HTTP 200"*) ;; *) fail "slack: $OUT" ;; esac
body 0 'b["text"]' '[x["type"] for x in b["blocks"]]' \
  'b["blocks"][0]["text"]["text"]' 'b["blocks"][1]["text"]["type"]' \
  'b["blocks"][1]["text"]["text"]' 'b["blocks"][2]["elements"][0]["text"]' \
  'r["headers"]["Content-Type"]' 'r["method"]'
[ "${F[0]}" = "$SUBJ" ] || fail "text ${F[0]}"
[ "${F[1]}" = '["header", "section", "context"]' ] || fail "blocks ${F[1]}"
[ "${F[2]}" = "$SUBJ" ] || fail "header ${F[2]}"
[ "${F[3]}" = mrkdwn ] || fail "section type ${F[3]}"
want=$(printf '%s' "$MSG" | sed 's/&/\&amp;/g; s/</\&lt;/g; s/>/\&gt;/g')
[ "${F[4]}" = "${want//$'\n'/\\n}" ] || fail "section ${F[4]}"
case "${F[5]}" in "certhub · topic alerts · "*) ;; *) fail "context ${F[5]}" ;; esac
case "${F[6]}" in application/json*) ;; *) fail "content type ${F[6]}" ;; esac
[ "${F[7]}" = POST ] || fail "method ${F[7]}"

note "teams: an Adaptive Card message"
send 0 teams "$U/ok" --subject "$SUBJ" --message "$MSG" --topic-arn $ARN
body 1 'b["type"]' 'b["attachments"][0]["contentType"]' \
  'b["attachments"][0]["content"]["type"]' \
  'b["attachments"][0]["content"]["body"][0]["text"]' \
  'b["attachments"][0]["content"]["body"][1]["text"] == V[0]' -- "$MSG"
[ "${F[0]}" = message ] || fail "type ${F[0]}"
[ "${F[1]}" = application/vnd.microsoft.card.adaptive ] || fail "ct ${F[1]}"
[ "${F[2]}" = AdaptiveCard ] || fail "card ${F[2]}"
[ "${F[3]}" = "$SUBJ" ] || fail "title ${F[3]}"
[ "${F[4]}" = true ] || fail "card text differs"

note "googlechat: bold subject over the text, no mass mention"
send 0 googlechat "$U/ok" --subject "$SUBJ" --message "$MSG"
body 2 'list(b)' 'b["text"] == "*" + V[0] + "*\n" + V[1].replace("<users/", "‹users/")' -- "$SUBJ" "$MSG"
[ "${F[0]}" = '["text"]' ] || fail "keys ${F[0]}"
[ "${F[1]}" = true ] || fail "chat text differs"

note "webhook: default body, and a template with hostile values"
send 0 webhook "$U/ok" --subject "$SUBJ" --message "$MSG" --topic-arn $ARN
body 3 'b["Type"]' 'b["TopicArn"]' 'b["Subject"]' 'b["Message"] == V[0]' \
  'len(b["MessageId"])' 'b["Timestamp"][-1]' -- "$MSG"
[ "${F[*]}" = "Notification $ARN $SUBJ true 36 Z" ] || fail "default body: ${F[*]}"
TPL='{"summary":"[${Subject}] ${Message}","meta":{"id":"${MessageId}","topic":"${TopicArn}","at":"${Timestamp}","cost":"$$5 and $x"},"list":["${text}",1,true,null]}'
HOSTILE=$'"},"evil":1,{"x":"\\u0000 ${Message} ${Subject}\n\ttab'
send 0 webhook "$U/ok" --attribute "template=$TPL" --subject "$SUBJ" \
  --message "$HOSTILE" --topic-arn $ARN
body 4 'sorted(b)' 'b["summary"] == "[" + V[0] + "] " + V[1]' \
  'b["meta"]["topic"]' 'b["meta"]["cost"]' 'b["list"][0] == V[1]' \
  'b["list"][1:]' 'len(b["meta"]["id"])' -- "$SUBJ" "$HOSTILE"
[ "${F[0]}" = '["list", "meta", "summary"]' ] || fail "keys ${F[0]}"
[ "${F[1]}" = true ] || fail "summary not substituted exactly"
[ "${F[2]}" = "$ARN" ] || fail "topic ${F[2]}"
[ "${F[3]}" = '$5 and $x' ] || fail "literal dollars ${F[3]}"
[ "${F[4]}" = true ] || fail "text placeholder"
[ "${F[5]}" = '[1, true, null]' ] || fail "non-strings changed ${F[5]}"
[ "${F[6]}" = 36 ] || fail "id ${F[6]}"

note "webhook: a confirmation carries the token and the link"
send 0 webhook "$U/ok" --token abc123 --topic-arn $ARN --base-url https://hub.example
body 5 'b["Type"]' 'b["Token"]' '"https://hub.example/?Action=ConfirmSubscription&TopicArn=arn%3Acerthub%3Asns%3Alocal%3A000000000000%3Aalerts&Token=abc123" in b["text"]'
[ "${F[*]}" = "SubscriptionConfirmation abc123 true" ] || fail "confirmation ${F[*]}"

note "text limits: cut with a note"
BIG=$($PY -c 'print("ab&cd" * 4000 + "é" * 3000)')
send 0 slack "$U/ok" --message "$BIG"
send 0 googlechat "$U/ok" --message "$BIG"
send 0 teams "$U/ok" --message "$BIG"
body 6 'len(b["blocks"][1]["text"]["text"]) <= 3000' \
  '"[truncated by certhub" in b["blocks"][1]["text"]["text"]' \
  '"&am\n" not in b["blocks"][1]["text"]["text"]'
[ "${F[*]}" = "true true true" ] || fail "slack limit: ${F[*]}"
body 7 'len(b["text"]) <= 4096' '"[truncated by certhub" in b["text"]'
[ "${F[*]}" = "true true" ] || fail "googlechat limit: ${F[*]}"
body 8 'len(r["body"].encode()) < 28000' \
  '"[truncated by certhub" in b["attachments"][0]["content"]["body"][1]["text"]'
[ "${F[*]}" = "true true" ] || fail "teams limit: ${F[*]}"

note "statuses: 5xx and 429 RETRY, other 4xx and redirects FAILED"
for p in slack teams googlechat webhook; do
  send 1 $p "$U/503"
  case "$OUT" in "RETRY: HTTP 503: status 503 from receiver") ;; *) fail "$p 503: $OUT" ;; esac
  send 1 $p "$U/429"
  case "$OUT" in "RETRY: HTTP 429"*) ;; *) fail "$p 429: $OUT" ;; esac
  send 1 $p "$U/404"
  case "$OUT" in "FAILED: HTTP 404"*) ;; *) fail "$p 404: $OUT" ;; esac
done
send 1 slack "$U/500"
case "$OUT" in "RETRY: HTTP 500"*) ;; *) fail "500: $OUT" ;; esac
send 1 webhook "$U/redirect"
case "$OUT" in "FAILED: HTTP 302"*) ;; *) fail "redirect: $OUT" ;; esac
send 1 slack "http://127.0.0.1:$(free_port)/ok"
case "$OUT" in "RETRY: "*) ;; *) fail "down: $OUT" ;; esac
send 1 webhook "$U/hang" --timeout 1s
case "$OUT" in "RETRY: "*[Tt]imeout*) ;; *) fail "hang: $OUT" ;; esac
case "$OUT$ERR" in *"127.0.0.1:$PORT"*) fail "endpoint in the detail: $OUT" ;; esac
n=$(wc -l <"$REC")
[ "$n" = 9 ] || fail "$n requests recorded, expected 9"

note "https: trusted with --ca-file, RETRY without"
send 0 slack "https://localhost:$SPORT/ok" --ca-file "$TMP/cert.pem" --message hi
REC_FILE=$SREC body 0 'b["blocks"][1]["text"]["text"]'
[ "${F[0]}" = hi ] || fail "https body ${F[0]}"
send 1 slack "https://localhost:$SPORT/ok" --message hi
case "$OUT" in "RETRY: "*) ;; *) fail "untrusted: $OUT" ;; esac

note "bad endpoints, templates and messages: exit 2, nothing sent"
for p in slack teams googlechat; do
  send 2 $p "http://example.com/hook"
  case "$ERR" in *"only to 127.0.0.1 or localhost"*) ;; *) fail "$p http: $ERR" ;; esac
done
for ep in "ftp://127.0.0.1/x" "not a url" $'https://h/x\r\nX: y' "" "https://"; do
  send 2 webhook "$ep"
  case "$ERR" in *"endpoint for webhook"*) ;; *) fail "webhook '$ep': $ERR" ;; esac
done
for t in '{"a":"${Nope}"}' '{"a":"${Message"}' '42' '"str"' '{"a":' \
  '{"${Subject}":1}' '{"a":1,"a":2}'; do
  send 2 webhook "$U/ok" --attribute "template=$t"
  case "$ERR" in *"attributes: template: "*) ;; *) fail "template '$t': $ERR" ;; esac
done
$PY -c 'print("{\"a\":\"" + "x" * 20000 + "\"}")' >"$TMP/big.tpl"
send 2 webhook "$U/ok" --attribute "template=$(cat "$TMP/big.tpl")"
case "$ERR" in *"larger than 16384 bytes"*) ;; *) fail "big template: $ERR" ;; esac
printf 'bad \xff utf8' >"$TMP/bad.txt"
send 2 slack "$U/ok" --message @"$TMP/bad.txt"
send 2 nosuch "$U/ok"
case "$ERR" in *"unknown protocol 'nosuch' (known: "*slack*) ;; *) fail "protocol: $ERR" ;; esac
send 2 slack "$U/ok" --attribute novalue
n2=$(wc -l <"$REC")
[ "$n2" = "$n" ] || fail "a refused send reached the receiver"

note "topics deliver: a bus event is rendered (inventory lookup, base_url, per-topic templates)"
"$CERTHUB" import --now 2025-11-23T12:00:00Z --tag owner=web-team \
  "$here/../data/certs/leaf.pem" >/dev/null 2>&1 || fail "import"
cat >"$TMP/topics.yaml" <<YAML
notify:
  base_url: https://certhub.example.net/
topics:
  - name: alerts
    subscriptions:
      - protocol: slack
        endpoint: $U/ok
  - name: custom
    templates:
      subject: "[{{certificate.Owner}}] {{detail.CommonName}} in {{detail.DaysToExpiry}}d"
    subscriptions:
      - protocol: slack
        endpoint: $U/ok
YAML
EV='{"version":"0","id":"e1","detail-type":"ACM Certificate Approaching Expiration","source":"certhub.acm","account":"000000000000","time":"2025-12-18T00:00:00Z","region":"local","resources":["arn:certhub:acm:local:000000000000:certificate/b376d23c-dcbe-5f85-f767-d3fe599248ae"],"detail":{"DaysToExpiry":14,"CommonName":"app.example.com"}}'
run_expect 0 "$CERTHUB" --config "$TMP/topics.yaml" topics deliver
for t in alerts custom; do
  run_expect 0 "$CERTHUB" --config "$TMP/topics.yaml" topics publish $t --message "$EV"
done
run_expect 0 "$CERTHUB" --config "$TMP/topics.yaml" topics publish alerts --message "plain words"
run_expect 0 "$CERTHUB" --config "$TMP/topics.yaml" topics deliver
case "$ERR" in *"3 delivered"*) ;; *) fail "deliver: $ERR" ;; esac
[ "$(wc -l <"$REC")" = $((n2 + 3)) ] || fail "expected 3 more requests"
# Which request is which: deliveries run in due order, not publish order.
mapfile -t F < <($PY - "$REC" "$n2" <<'PY'
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])][int(sys.argv[2]):]
bs = [json.loads(r["body"]) for r in rs]
sec = lambda b: b["blocks"][1]["text"]["text"]
ctx = lambda b: b["blocks"][2]["elements"][0]["text"]
a = [b for b in bs if "topic alerts" in ctx(b) and "app.example.com" in b["text"]]
c = [b for b in bs if "topic custom" in ctx(b)]
p = [b for b in bs if sec(b) == "plain words"]
print(len(a), len(c), len(p))
print(a[0]["text"])
print("expires in 14 days" in sec(a[0]))
print("web-team" in sec(a[0]))
print("https://certhub.example.net/certificates/b376d23cdcbe5f85" in sec(a[0]))
print(c[0]["text"])
print("expires in 14 days" in sec(c[0]))
print(p[0]["text"])
PY
)
[ "${F[0]}" = "1 1 1" ] || fail "rendered deliveries: ${F[0]}"
[ "${F[1]}" = "Certificate app.example.com expires in 14 days (2026-01-01)" ] ||
  fail "subject ${F[1]}"
[ "${F[2]}" = True ] || fail "text lacks 'expires in 14 days'"
[ "${F[3]}" = True ] || fail "text lacks the owner from the inventory"
[ "${F[4]}" = True ] || fail "text lacks the base_url link"
[ "${F[5]}" = "[web-team] app.example.com in 14d" ] || fail "template subject ${F[5]}"
[ "${F[6]}" = True ] || fail "custom topic: built-in text expected"
[ "${F[7]}" = "certhub Notification Message" ] || fail "plain message subject ${F[7]}"

note "a bad topic template is refused with FILE:LINE"
cat >"$TMP/badtpl.yaml" <<YAML
topics:
  - name: custom
    templates:
      text: "{{#detail}}unclosed"
YAML
run_expect 2 "$CERTHUB" --config "$TMP/badtpl.yaml" config check
case "$ERR" in *"badtpl.yaml:3: topics[0].templates: "*"never closed"*) ;; *) fail "bad template: $ERR" ;; esac
note "ok"
