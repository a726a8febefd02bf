#!/usr/bin/env bash
# The webhook target against a real HTTP receiver on 127.0.0.1
# (webhook_receiver.py): OK / RETRY / FAILED per status, timeouts, the body
# and headers received, redirects not followed, capped responses.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
D=${CERTHUB_TARGET_DELIVER:?CERTHUB_TARGET_DELIVER must point at certhub-target-deliver}

PORT=$(free_port)
REC=$TMP/received.jsonl
python3 "$here/webhook_receiver.py" "$PORT" "$REC" 2>"$TMP/receiver.err" &
RPID=$!
SPID=
trap 'kill $RPID $SPID 2>/dev/null; wait $RPID $SPID 2>/dev/null || true; cleanup' EXIT
wait_port() {
  for _ in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  fail "receiver on port $1 did not start"
}
wait_port "$PORT"

EVENT=$TMP/event.json
cat >"$EVENT" <<'JSON'
{"version":"0","id":"9c95e8e4-96a4-ef3f-b739-b6aa5b193afb","detail-type":"ACM Certificate Approaching Expiration","source":"aws.acm","account":"123456789012","time":"2020-09-30T06:51:08Z","region":"us-east-1","resources":["arn:aws:acm:us-east-1:123456789012:certificate/61f50cd4"],"detail":{"DaysToExpiry":31,"CommonName":"example.com"}}
JSON

# spec PATH [EXTRA_JSON_MEMBERS]: write the target spec.
spec() {
  printf '{"Id":"hook","Type":"webhook","Url":"http://127.0.0.1:%s%s"%s}' \
    "$PORT" "$1" "${2:+,$2}" >"$TMP/spec.json"
}
# expect CODE RESULT SUBSTRING: deliver, check the exit code and output.
expect() {
  run_expect "$1" "$D" "$TMP/spec.json" "$EVENT" expiry-rule
  case "$OUT" in
    "$2"*"$3"*) ;;
    *) fail "expected $2 ... $3, got: $OUT" ;;
  esac
  note "$OUT"
}
# rec N KEY...: fields (dotted keys) of the Nth recorded request, one a
# line, into the array F (one python start: it is slow on a busy machine).
rec() {
  mapfile -t F < <(python3 - "$REC" "$@" <<'PY'
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])][int(sys.argv[2])]
for k in sys.argv[3:]:
    v = r
    for p in k.split("."):
        v = v.get(p, "") if isinstance(v, dict) else ""
    print(json.dumps(v) if k == "body" else v)
PY
  )
}
jstr() { python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))'; }

note "200: OK, body byte for byte, headers"
spec /ok '"Headers":{"Authorization":"Bearer s3cret","X-Team":"pki"}'
expect 0 OK "HTTP 200 from http://127.0.0.1:$PORT/ok"
rec 0 body method headers.Content-Type headers.Authorization headers.X-Team \
  headers.X-Certhub-Event-Id headers.X-Certhub-Rule headers.User-Agent
[ "${F[0]}" = "$(jstr <"$EVENT")" ] || fail "body differs: ${F[0]}"
[ "${F[1]}" = POST ] || fail "method ${F[1]}"
[ "${F[2]}" = application/json ] || fail "content type ${F[2]}"
[ "${F[3]}" = "Bearer s3cret" ] || fail "custom header ${F[3]}"
[ "${F[4]}" = pki ] || fail "custom header 2 ${F[4]}"
[ "${F[5]}" = 9c95e8e4-96a4-ef3f-b739-b6aa5b193afb ] || fail "event id ${F[5]}"
[ "${F[6]}" = expiry-rule ] || fail "rule header ${F[6]}"
case "${F[7]}" in certhub/*) ;; *) fail "user agent ${F[7]}" ;; esac

note "a text template is sent as text/plain; a JSON template as JSON"
spec /ok '"InputTransformer":{"InputPathsMap":{"cn":"$.detail.CommonName","d":"$.detail.DaysToExpiry"},"InputTemplate":"<cn> expires in <d> days"}'
expect 0 OK "HTTP 200"
rec 1 body headers.Content-Type
[ "${F[0]}" = '"example.com expires in 31 days"' ] || fail "text body: ${F[0]}"
case "${F[1]}" in text/plain*) ;; *) fail "text content type ${F[1]}" ;; esac
spec /ok '"InputTransformer":{"InputPathsMap":{"cn":"$.detail.CommonName"},"InputTemplate":"{\"text\":\"<cn> \\\"soon\\\"\"}"}'
expect 0 OK "HTTP 200"
rec 2 body
[ "${F[0]}" = "$(printf '%s' '{"text":"example.com \"soon\""}' | jstr)" ] ||
  fail "json body: ${F[0]}"

note "retryable statuses"
spec /503
expect 1 RETRY "HTTP 503 from http://127.0.0.1:$PORT/503: status 503 from receiver"
spec /500
expect 1 RETRY "HTTP 500"
spec /429
expect 1 RETRY "HTTP 429"

note "other 4xx: FAILED"
spec /404
expect 2 FAILED "HTTP 404"

note "redirects are not followed"
spec /redirect
expect 2 FAILED "redirect to http://127.0.0.1:$PORT/ok, not followed"
[ "$(wc -l <"$REC")" -eq 3 ] || fail "the redirect was followed"

note "no answer: RETRY at the timeout"
spec /hang '"TimeoutSeconds":1'
start=$(date +%s%N)
expect 1 RETRY "timed out"
ms=$((($(date +%s%N) - start) / 1000000))
[ "$ms" -ge 900 ] && [ "$ms" -lt 5000 ] || fail "timeout took $ms ms"

note "slow but within the timeout: OK"
spec /slow '"TimeoutSeconds":5'
expect 0 OK "HTTP 200"

note "a 20 MB response is read and dropped"
spec /big
expect 0 OK "HTTP 200"

note "connection refused: RETRY"
DEAD=$(free_port)
printf '{"Id":"hook","Type":"webhook","Url":"http://127.0.0.1:%s/x"}' "$DEAD" >"$TMP/spec.json"
expect 1 RETRY "POST http://127.0.0.1:$DEAD/x:"

note "TLS to a plain HTTP port: RETRY"
printf '{"Id":"hook","Type":"webhook","Url":"https://127.0.0.1:%s/ok"}' "$PORT" >"$TMP/spec.json"
expect 1 RETRY "POST https://127.0.0.1:$PORT/ok:"

note "a bad target spec is reported, nothing sent"
printf '{"Id":"hook","Type":"webhook","Url":"gopher://127.0.0.1/"}' >"$TMP/spec.json"
run_expect 3 "$D" "$TMP/spec.json" "$EVENT"
case "$OUT" in *"Url: must start with http:// or https://"*) ;; *) fail "$OUT" ;; esac

[ "$(wc -l <"$REC")" -eq 4 ] || fail "expected 4 recorded requests, got $(wc -l <"$REC")"

note "HTTPS: verified with CaFile, refused without it, Insecure skips the check"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$TMP/key.pem" -out "$TMP/cert.pem" 2>/dev/null
SPORT=$(free_port)
python3 "$here/webhook_receiver.py" "$SPORT" "$REC" "$TMP/cert.pem" "$TMP/key.pem" \
  2>"$TMP/tls-receiver.err" &
SPID=$!
wait_port "$SPORT"
printf '{"Id":"hook","Type":"webhook","Url":"https://127.0.0.1:%s/ok","CaFile":"%s"}' \
  "$SPORT" "$TMP/cert.pem" >"$TMP/spec.json"
expect 0 OK "HTTP 200 from https://127.0.0.1:$SPORT/ok"
printf '{"Id":"hook","Type":"webhook","Url":"https://127.0.0.1:%s/ok"}' "$SPORT" >"$TMP/spec.json"
expect 1 RETRY "POST https://127.0.0.1:$SPORT/ok:"
printf '{"Id":"hook","Type":"webhook","Url":"https://127.0.0.1:%s/ok","Insecure":true}' \
  "$SPORT" >"$TMP/spec.json"
expect 0 OK "HTTP 200"
printf '{"Id":"hook","Type":"webhook","Url":"https://127.0.0.1:%s/ok","CaFile":"%s/none.pem"}' \
  "$SPORT" "$TMP" >"$TMP/spec.json"
expect 2 FAILED "POST https://127.0.0.1:$SPORT/ok:"
[ "$(wc -l <"$REC")" -eq 6 ] || fail "expected 6 recorded requests, got $(wc -l <"$REC")"
echo "PASS test_targets_webhook"
