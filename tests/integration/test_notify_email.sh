#!/usr/bin/env bash
# The email protocol against real SMTP servers on 127.0.0.1 (aiosmtpd,
# smtp_server.py): STARTTLS with a self-signed certificate made here, AUTH,
# plain and HTML mails read back and parsed (headers, MIME structure,
# decoded bodies), a confirmation mail, 5xx -> FAILED, 4xx and a down
# server -> RETRY, a wrong password -> FAILED, require_tls against a
# server without STARTTLS, smtps, injection attempts refused.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

# aiosmtpd is a Debian package (scripts/deps.sh test): use the Debian
# python when the first python3 on PATH does not see it.
PY=python3
python3 -c 'import aiosmtpd' 2>/dev/null || PY=/usr/bin/python3
$PY -c 'import aiosmtpd' 2>/dev/null ||
  fail "python3-aiosmtpd is missing (scripts/deps.sh test)"

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/key.pem" \
  -out "$TMP/cert.pem" -days 2 -subj /CN=localhost \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null

PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; cleanup' EXIT
# server NAME ARGS...: start one on a free port into $TMP/NAME; PORT_NAME.
server() {
  local name=$1 port
  shift
  port=$(free_port)
  mkdir -p "$TMP/$name"
  $PY "$here/smtp_server.py" "$port" "$TMP/$name" "$@" \
    2>"$TMP/$name.err" &
  PIDS+=($!)
  for _ in $(seq 100); do
    [ -e "$TMP/$name/ready" ] && break
    sleep 0.1
  done
  [ -e "$TMP/$name/ready" ] || { cat "$TMP/$name.err"; fail "$name did not start"; }
  printf -v "PORT_$name" %s "$port"
}
server tls --tls "$TMP/cert.pem" "$TMP/key.pem" --auth alice:'pa ss:w0rd'
server plain
server smtps --tls "$TMP/cert.pem" "$TMP/key.pem" --implicit --auth alice:'pa ss:w0rd'

printf 'pa ss:w0rd\n' >"$TMP/pass"
# config FILE URL [EXTRA_YAML_LINES]
config() {
  {
    printf 'notify:\n  smtp:\n    url: "%s"\n    from: certhub@example.com\n' "$2"
    printf '%s' "${3-}"
  } >"$1"
}
AUTH=$'    username: alice\n    password_file: '"$TMP/pass"$'\n    ca_file: '"$TMP/cert.pem"$'\n'
config "$TMP/tls.yaml" "smtp://127.0.0.1:$PORT_tls" "$AUTH"

send() { # send CODE CONFIG ARGS...: topics send-test --protocol email
  local code=$1 cfg=$2
  shift 2
  run_expect "$code" "$CERTHUB" --config "$cfg" topics send-test \
    --protocol email "$@"
}

# mail DIR N KEY...: fields of the Nth mail received into DIR, one a line,
# into F. Keys: header names, "parts" (content types, comma-separated),
# "text"/"html" (decoded bodies, JSON-quoted), "maxline" (longest line in
# bytes), "meta.X" (the server's record).
mail() {
  mapfile -t F < <($PY - "$TMP/$1/$2" "${@:3}" <<'PY'
import email, email.policy, json, sys
base = sys.argv[1]
raw = open(base + ".eml", "rb").read()
meta = json.load(open(base + ".json"))
m = email.message_from_bytes(raw, policy=email.policy.default)
parts = [p for p in m.walk() if not p.is_multipart()]
for k in sys.argv[2:]:
    if k == "parts":
        print(",".join(p.get_content_type() for p in m.walk()))
    elif k in ("text", "html"):
        p = [p for p in parts if p.get_content_type() == "text/" + ("plain" if k == "text" else k)]
        print(json.dumps(p[0].get_content().replace("\r\n", "\n") if p else None))
    elif k == "maxline":
        print(max(len(l) for l in raw.split(b"\r\n")))
    elif k == "bare_lf":
        print(raw.replace(b"\r\n", b"").count(b"\n"))
    elif k.startswith("meta."):
        print(meta.get(k[5:]))
    else:
        print(m.get(k, ""))
PY
  )
}
count() { ls "$TMP/$1" | grep -c '\.eml$' || true; }

note "plain mail over STARTTLS with AUTH: headers and body"
MSG=$'Certificate www.example.com expires in 10 days.\n.a line starting with a dot\nx=y and trailing space \nend'
send 0 "$TMP/tls.yaml" --endpoint bob@example.org --subject "Expiry soon" \
  --message "$MSG" --topic-arn arn:certhub:sns:local:000000000000:alerts
case "$OUT" in "OK: SMTP 250"*) ;; *) fail "send: $OUT" ;; esac
[ "$(count tls)" = 1 ] || fail "no mail received"
mail tls 1 From To Subject Date Message-ID MIME-Version Content-Type \
  parts text meta.tls meta.login meta.mail_from meta.rcpt_tos \
  X-Certhub-Topic-Arn bare_lf Auto-Submitted
[ "${F[0]}" = certhub@example.com ] || fail "From ${F[0]}"
[ "${F[1]}" = bob@example.org ] || fail "To ${F[1]}"
[ "${F[2]}" = "Expiry soon" ] || fail "Subject ${F[2]}"
[[ "${F[3]}" =~ ^[A-Z][a-z][a-z],\ [0-9]{2}\ [A-Z][a-z][a-z]\ 20[0-9]{2}\ [0-9:]{8}\ \+0000$ ]] ||
  fail "Date ${F[3]}"
[[ "${F[4]}" =~ ^\<[0-9a-f-]{36}@example\.com\>$ ]] || fail "Message-ID ${F[4]}"
[ "${F[5]}" = 1.0 ] || fail "MIME-Version ${F[5]}"
case "${F[6]}" in "text/plain; charset="*UTF-8*) ;; *) fail "type ${F[6]}" ;; esac
[ "${F[7]}" = text/plain ] || fail "parts ${F[7]}"
WANT=$($PY -c 'import json,sys; print(json.dumps(sys.argv[1] + "\n\n--\nSent by certhub for the topic arn:certhub:sns:local:000000000000:alerts (message " + sys.argv[2] + ").\n"))' "$MSG" "$(sed 's/^<\(.*\)@.*/\1/' <<<"${F[4]}")")
[ "${F[8]}" = "$WANT" ] || fail "body ${F[8]} != $WANT"
[ "${F[9]}" = True ] || fail "not over TLS"
[ "${F[10]}" = alice ] || fail "login ${F[10]}"
[ "${F[11]}" = certhub@example.com ] || fail "envelope from ${F[11]}"
[ "${F[12]}" = "['bob@example.org']" ] || fail "envelope to ${F[12]}"
[ "${F[13]}" = arn:certhub:sns:local:000000000000:alerts ] || fail "topic ${F[13]}"
[ "${F[14]}" = 0 ] || fail "bare LF in the message"
[ "${F[15]}" = auto-generated ] || fail "Auto-Submitted ${F[15]}"
case "$OUT$ERR" in *"pa ss"*) fail "password in the output" ;; esac

note "HTML mail, UTF-8 subject (RFC 2047), long lines"
LONG=$($PY -c 'print("é" * 1500 + "x" * 3000)')
cat >"$TMP/page.html" <<'HTML'
<html><body><p>Zertifikat <b>läuft ab</b> — 10 Tage</p></body></html>
HTML
send 0 "$TMP/tls.yaml" --endpoint bob@example.org \
  --subject "Zertifikat läuft ab: www.example.com — ein sehr langer Betreff, der gefaltet werden muss" \
  --message "$LONG" --html @"$TMP/page.html"
mail tls 2 Subject parts text html maxline
[ "${F[0]}" = "Zertifikat läuft ab: www.example.com — ein sehr langer Betreff, der gefaltet werden muss" ] ||
  fail "decoded subject ${F[0]}"
[ "${F[1]}" = multipart/alternative,text/plain,text/html ] || fail "parts ${F[1]}"
case "${F[2]}" in "\"$($PY -c 'import json,sys; print(json.dumps(sys.argv[1])[1:-1])' "$LONG")\n\n--"*) ;;
  *) fail "text part differs" ;; esac
[ "${F[3]}" = "$($PY -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$TMP/page.html")" ] ||
  fail "html part ${F[3]}"
[ "${F[4]}" -le 78 ] || fail "a line of ${F[4]} bytes"
grep -q '^Subject: =?UTF-8?B?' "$TMP/tls/2.eml" || fail "subject not encoded"

note "the largest message (256 KiB of 2-byte characters) with an HTML form"
$PY -c 'print("é" * 131000)' >"$TMP/big.txt"
send 0 "$TMP/tls.yaml" --endpoint bob@example.org --message @"$TMP/big.txt" \
  --html @"$TMP/big.txt"
mail tls 3 parts html maxline
[ "${F[0]}" = multipart/alternative,text/plain,text/html ] || fail "big parts ${F[0]}"
[ "${F[1]}" = "$($PY -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$TMP/big.txt")" ] ||
  fail "big html part differs"
[ "${F[2]}" -le 78 ] || fail "big: a line of ${F[2]} bytes"

note "confirmation mail: link and token"
send 0 "$TMP/tls.yaml" --endpoint bob@example.org --token 'tok+en/1=' \
  --topic-arn arn:certhub:sns:local:000000000000:alerts \
  --base-url https://certhub.example.net/
mail tls 4 Subject X-Certhub-Message-Type text
[ "${F[0]}" = "certhub Notification - Subscription Confirmation" ] || fail "subject ${F[0]}"
[ "${F[1]}" = SubscriptionConfirmation ] || fail "type ${F[1]}"
case "${F[2]}" in
  *"https://certhub.example.net/?Action=ConfirmSubscription&TopicArn=arn%3Acerthub%3Asns%3Alocal%3A000000000000%3Aalerts&Token=tok%2Ben%2F1%3D"*"certhub topics confirm alerts tok+en/1="*) ;;
  *) fail "confirmation text ${F[2]}" ;;
esac

note "the server refuses the recipient: 550 is FAILED, 451 is RETRY"
send 1 "$TMP/tls.yaml" --endpoint reject@example.org
case "$OUT" in "FAILED: SMTP 550"*) ;; *) fail "550: $OUT" ;; esac
send 1 "$TMP/tls.yaml" --endpoint tempfail@example.org
case "$OUT" in "RETRY: SMTP 451"*) ;; *) fail "451: $OUT" ;; esac
[ "$(count tls)" = 4 ] || fail "a refused mail was stored"

note "wrong password: FAILED (login denied), nothing sent, no password shown"
printf 'wrong\n' >"$TMP/badpass"
config "$TMP/bad.yaml" "smtp://127.0.0.1:$PORT_tls" \
  "${AUTH/$TMP\/pass/$TMP/badpass}"
send 1 "$TMP/bad.yaml" --endpoint bob@example.org
case "$OUT" in "FAILED: SMTP 535"*"login denied"*) ;; *) fail "bad login: $OUT" ;; esac
case "$OUT$ERR" in *wrong*) fail "password in the output" ;; esac

note "password from the environment"
config "$TMP/env.yaml" "smtp://127.0.0.1:$PORT_tls" \
  $'    username: alice\n    password_env: SMTP_PW_TEST\n    ca_file: '"$TMP/cert.pem"$'\n'
SMTP_PW_TEST='pa ss:w0rd' send 0 "$TMP/env.yaml" --endpoint bob@example.org
send 2 "$TMP/env.yaml" --endpoint bob@example.org
case "$ERR" in *'$SMTP_PW_TEST is not set'*) ;; *) fail "unset env: $ERR" ;; esac

note "down server: RETRY"
DOWN=$(free_port)
config "$TMP/down.yaml" "smtp://127.0.0.1:$DOWN" "$AUTH"
send 1 "$TMP/down.yaml" --endpoint bob@example.org
case "$OUT" in RETRY:*) ;; *) fail "down: $OUT" ;; esac

note "require_tls (default) against a server without STARTTLS: refused"
config "$TMP/plain.yaml" "smtp://127.0.0.1:$PORT_plain"
send 1 "$TMP/plain.yaml" --endpoint bob@example.org
case "$OUT" in "FAILED: the SMTP server does not offer STARTTLS"*) ;; *) fail "no starttls: $OUT" ;; esac
[ "$(count plain)" = 0 ] || fail "sent without TLS"
config "$TMP/plain-ok.yaml" "smtp://127.0.0.1:$PORT_plain" $'    require_tls: false\n'
send 0 "$TMP/plain-ok.yaml" --endpoint bob@example.org
mail plain 1 meta.tls
[ "${F[0]}" = False ] || fail "tls ${F[0]}"

note "untrusted certificate: RETRY, nothing sent"
config "$TMP/untrusted.yaml" "smtp://127.0.0.1:$PORT_tls" \
  $'    username: alice\n    password_file: '"$TMP/pass"$'\n'
send 1 "$TMP/untrusted.yaml" --endpoint bob@example.org
case "$OUT" in RETRY:*) ;; *) fail "untrusted: $OUT" ;; esac

note "smtps (implicit TLS)"
config "$TMP/smtps.yaml" "smtps://127.0.0.1:$PORT_smtps" "$AUTH"
send 0 "$TMP/smtps.yaml" --endpoint carol@example.org --message hi
mail smtps 1 meta.tls meta.login text
[ "${F[0]}" = True ] && [ "${F[1]}" = alice ] || fail "smtps: ${F[*]}"

note "bad endpoints and configs: exit 2, nothing sent"
before=$(count tls)
for ep in $'bob@example.org\r\nBcc: eve@example.org' 'bob@example.org>, eve@x.org' \
  'bob example.org' 'a@b@c' '@example.org' 'bob@' 'bob@exa..mple' ''; do
  send 2 "$TMP/tls.yaml" --endpoint "$ep"
  case "$ERR" in *"endpoint for email"*) ;; *) fail "endpoint '$ep': $ERR" ;; esac
done
send 2 "$TMP/tls.yaml" --endpoint bob@example.org --subject $'a\r\nBcc: eve@example.org'
[ "$(count tls)" = "$before" ] || fail "a bad endpoint was sent"
run_expect 2 "$CERTHUB" topics send-test --protocol email --endpoint bob@example.org
case "$ERR" in *"no notify.smtp"*) ;; *) fail "no config: $ERR" ;; esac
# Config checks (certhub config check loads the file).
bad_config() { # bad_config YAML_SMTP_LINES EXPECTED
  printf 'notify:\n  smtp:\n%s' "$1" >"$TMP/c.yaml"
  run_expect 2 "$CERTHUB" --config "$TMP/c.yaml" topics send-test \
    --protocol email --endpoint bob@example.org
  case "$ERR" in *"$2"*) ;; *) fail "config: $ERR (want $2)" ;; esac
}
bad_config $'    url: http://x\n    from: a@b.c\n' "must start with smtp://"
bad_config $'    url: smtp://x\n' "notify.smtp.from: missing"
bad_config $'    url: smtp://x\n    from: "a@b.c\\r\\nBcc: e@x"\n' "notify.smtp.from: not an address"
bad_config $'    url: smtp://x\n    from: a@b.c\n    username: u\n' "needs password_file or password_env"
bad_config $'    url: smtp://x\n    from: a@b.c\n    username: u\n    password_env: X\n    require_tls: false\n' "unencrypted"
bad_config $'    url: smtp://x\n    from: a@b.c\n    pasword_file: x\n' "unknown key"
note "ok"
