#!/usr/bin/env bash
# Email subscriptions end to end, as a user runs them: `certhub serve` (with
# its HTTP API, no notify.base_url) delivers through a real SMTP server on
# 127.0.0.1 (aiosmtpd, smtp_server.py: STARTTLS, AUTH with the password from
# a file). The test reads every mail: the confirmation mail's link is
# fetched and confirms the subscription, a pre-confirmed subscriber gets no
# confirmation, a published message arrives and its unsubscribe link
# works, an ACM event arrives (rendered, text and HTML parts), and a wrong
# password dead-letters the delivery without the password appearing in the
# log, the output or the database.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/serve_lib.sh"
command -v curl >/dev/null || fail "curl is needed"

PY=python3
python3 -c 'import aiosmtpd' 2>/dev/null || PY=/usr/bin/python3
$PY -c 'import aiosmtpd' 2>/dev/null ||
  fail "python3-aiosmtpd is missing (scripts/deps.sh test)"

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/key.pem" \
  -out "$TMP/cert.pem" -days 2 -subj /CN=localhost \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null

SMTP_PORT=$(free_port)
API_PORT=$(free_port)
API=http://127.0.0.1:$API_PORT
MAIL=$TMP/mail
mkdir -p "$MAIL"
PASSWORD='s3cret pass-phrase'
$PY "$here/smtp_server.py" "$SMTP_PORT" "$MAIL" --tls "$TMP/cert.pem" \
  "$TMP/key.pem" --auth "alice:$PASSWORD" 2>"$TMP/smtp.err" &
EXTRA_PIDS+=($!)
smtp_up() { [ -e "$MAIL/ready" ]; }
wait_until 30 "the SMTP server" smtp_up
printf '%s\n' "$PASSWORD" >"$TMP/smtp.pass"

cat >"$TMP/config.yaml" <<YAML
notify:
  smtp:
    url: smtp://127.0.0.1:$SMTP_PORT
    from: certhub@example.com
    username: alice
    password_file: $TMP/smtp.pass
    ca_file: $TMP/cert.pem
topics:
  - name: cert-mail
YAML
export CERTHUB_CONFIG=$TMP/config.yaml

nmail() { ls "$MAIL" | grep -c '\.eml$' || true; }
# mail N KEY...: fields of the Nth mail into F (headers by name; "parts";
# "text"/"html": decoded bodies, JSON-quoted; "rcpt": the envelope's).
mail() {
  mapfile -t F < <($PY - "$MAIL/$1" "${@:2}" <<'PY'
import email, email.policy, json, sys
base = sys.argv[1]
m = email.message_from_bytes(open(base + ".eml", "rb").read(),
                             policy=email.policy.default)
meta = json.load(open(base + ".json"))
parts = [p for p in m.walk() if not p.is_multipart()]
for k in sys.argv[2:]:
    if k == "parts":
        print(",".join(p.get_content_type() for p in m.walk()))
    elif k in ("text", "html"):
        p = [p for p in parts if p.get_content_type() == "text/" + ("plain" if k == "text" else k)]
        print(json.dumps(p[0].get_content().replace("\r\n", "\n") if p else None))
    elif k == "rcpt":
        print(",".join(meta["rcpt_tos"]))
    else:
        print(m.get(k, ""))
PY
  )
}
subs_json() { "$CERTHUB" -o json topics subscriptions cert-mail 2>/dev/null; }

serve_start serve --listen "127.0.0.1:$API_PORT" --interval 1s
api_up() { log_has "API at $API"; }
wait_until 30 "the API URL in the log" api_up

note "subscribe: pending, the confirmation mail's link confirms it"
run_expect 0 "$CERTHUB" topics subscribe cert-mail --protocol email \
  --endpoint bob@example.org
SUB=$OUT
case "$(subs_json)" in *PendingConfirmation*) ;; *) fail "not pending: $(subs_json)" ;; esac
one_mail() { [ "$(nmail)" -ge 1 ]; }
wait_until 60 "the confirmation mail" one_mail
mail 1 Subject X-Certhub-Message-Type rcpt text
[ "${F[0]}" = "certhub Notification - Subscription Confirmation" ] || fail "subject ${F[0]}"
[ "${F[1]}" = SubscriptionConfirmation ] || fail "type ${F[1]}"
[ "${F[2]}" = bob@example.org ] || fail "sent to ${F[2]}"
LINK=$($PY -c 'import json,re,sys
t=json.loads(sys.argv[1])
m=re.findall(r"^(http\S+)$", t, re.M)
assert len(m)==1, t
print(m[0])' "${F[3]}") || fail "no single link in the confirmation mail: ${F[3]}"
case "$LINK" in "$API/?Action=ConfirmSubscription&TopicArn="*"&Token="*) ;;
  *) fail "the link does not point at the API: $LINK" ;; esac
CODE=$(curl -sS -o "$TMP/body" -w '%{http_code}' "$LINK")
[ "$CODE" = 200 ] || fail "the confirmation link answered $CODE: $(cat "$TMP/body")"
grep -q "<SubscriptionArn>$SUB</SubscriptionArn>" "$TMP/body" ||
  fail "confirmation answer: $(cat "$TMP/body")"
case "$(subs_json)" in *'"Confirmed"'*) ;; *) fail "not confirmed: $(subs_json)" ;; esac

note "a pre-confirmed subscriber gets no confirmation mail"
run_expect 0 "$CERTHUB" topics subscribe cert-mail --protocol email \
  --endpoint carol@example.org --confirmed
sleep 2
[ "$(nmail)" = 1 ] || fail "a mail to the pre-confirmed subscriber: $(nmail) mails"

note "a published message reaches both"
run_expect 0 "$CERTHUB" topics publish cert-mail --subject "Expiry soon" \
  --message "www.example.com expires in 10 days"
MID=$OUT
three_mails() { [ "$(nmail)" -ge 3 ]; }
wait_until 60 "the two notification mails" three_mails
got=
for n in 2 3; do
  mail $n Subject rcpt text Message-ID
  [ "${F[0]}" = "Expiry soon" ] || fail "subject ${F[0]}"
  case "${F[2]}" in '"www.example.com expires in 10 days'*"$MID"*) ;;
    *) fail "body ${F[2]}" ;; esac
  [ "${F[3]}" = "<$MID@example.com>" ] || fail "Message-ID ${F[3]} for $MID"
  got="$got ${F[1]}"
  [ "${F[1]}" = carol@example.org ] && CAROL_TEXT=${F[2]}
done
case "$got" in " bob@example.org carol@example.org" | " carol@example.org bob@example.org") ;;
  *) fail "recipients:$got" ;; esac

note "the unsubscribe link in carol's mail unsubscribes her"
ULINK=$($PY -c 'import json,re,sys
t=json.loads(sys.argv[1])
m=re.findall(r"^(http\S+Action=Unsubscribe\S+)$", t, re.M)
assert len(m)==1, t
print(m[0])' "$CAROL_TEXT") || fail "no unsubscribe link in the mail: $CAROL_TEXT"
case "$ULINK" in "$API/?Action=Unsubscribe&SubscriptionArn="*"&Token="*) ;;
  *) fail "the unsubscribe link does not point at the API: $ULINK" ;; esac
CODE=$(curl -sS -o "$TMP/body" -w '%{http_code}' "$ULINK")
[ "$CODE" = 200 ] || fail "the unsubscribe link answered $CODE: $(cat "$TMP/body")"
case "$(subs_json)" in *carol*) fail "carol is still subscribed: $(subs_json)" ;; esac

note "an ACM event is rendered: subject, text and HTML"
"$CERTHUB" import --now 2025-11-23T12:00:00Z --tag owner=web-team \
  "$here/../data/certs/leaf.pem" >/dev/null 2>&1 || fail "import"
EV='{"version":"0","id":"e1","detail-type":"ACM Certificate Approaching Expiration","source":"certhub.acm","account":"000000000000","time":"2025-12-18T00:00:00Z","region":"local","resources":["arn:certhub:acm:local:000000000000:certificate/b376d23c-dcbe-5f85-f767-d3fe599248ae"],"detail":{"DaysToExpiry":14,"CommonName":"app.example.com"}}'
run_expect 0 "$CERTHUB" topics publish cert-mail --message "$EV"
four_mails() { [ "$(nmail)" -ge 4 ]; }
wait_until 60 "the event mail" four_mails
sleep 2
[ "$(nmail)" = 4 ] || fail "a mail after unsubscribing: $(nmail) mails"
mail 4 Subject parts text html rcpt
[ "${F[0]}" = "Certificate app.example.com expires in 14 days (2026-01-01)" ] ||
  fail "rendered subject ${F[0]}"
[ "${F[1]}" = multipart/alternative,text/plain,text/html ] || fail "parts ${F[1]}"
case "${F[2]}" in *web-team*) ;; *) fail "no owner in the text: ${F[2]}" ;; esac
case "${F[3]}" in *app.example.com*web-team*Action=Unsubscribe*) ;; *) fail "html ${F[3]}" ;; esac
[ "${F[4]}" = bob@example.org ] || fail "the event mail went to ${F[4]}"

note "a wrong password: dead-lettered, the password shown nowhere"
printf 'wrong-%s\n' "$PASSWORD" >"$TMP/smtp.pass"
run_expect 0 "$CERTHUB" topics publish cert-mail --message "not sent"
MD=$OUT
dead1() {
  [ "$("$CERTHUB" -o json topics dlq list 2>/dev/null | grep -o "$MD" | wc -l)" = 1 ]
}
wait_until 60 "the delivery of $MD in the dead-letter store" dead1
[ "$(nmail)" = 4 ] || fail "a mail went out with the wrong password"
run_expect 0 "$CERTHUB" -o json topics dlq list
case "$OUT" in *535*) ;; *) fail "the dead letter does not say why: $OUT" ;; esac
serve_stop TERM
[ "$SRC" = 0 ] || fail "serve exited $SRC after SIGTERM"
for f in "$SLOG" "$TMP/serve.out" "$TMP/out" "$TMP/err"; do
  if grep -q -- "$PASSWORD" "$f"; then fail "the SMTP password is in $f"; fi
done
if sqlite3 "$CERTHUB_DB" .dump | grep -q -- "$PASSWORD"; then
  fail "the SMTP password is in the database"
fi
log_has "dead-lettered" || fail "the dead letter is not logged: $(tail -n 5 "$SLOG")"
echo PASS
