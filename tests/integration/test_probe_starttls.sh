#!/usr/bin/env bash
# certhub probe against real servers on 127.0.0.1: STARTTLS in every
# dialect (postfix, dovecot IMAP and POP3, vsftpd, slapd, prosody,
# postgres), direct TLS (nginx, IMAPS, POP3S, LDAPS), a server that does
# not offer STARTTLS, a dialect mismatch, and mTLS (nginx with
# ssl_verify_client on, probed with --cert/--key). Each server presents a
# fresh leaf and its CA; the probe must report the leaf's SHA-256 first,
# then the CA's, over TLS 1.3 (every server here negotiates it with
# OpenSSL's s_client too).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/servers.sh"

C=$TMP/certs
mkdir -p "$C"
"$CERTHUB_GEN" --ca --cn "certhub probe test CA" --key-out "$C/ca.key" \
  -o "$C/ca.pem"
"$CERTHUB_GEN" --cn localhost --san DNS:localhost --san IP:127.0.0.1 \
  --issuer-cert "$C/ca.pem" --issuer-key "$C/ca.key" \
  --key-out "$C/leaf.key" -o "$C/leaf.pem"
"$CERTHUB_GEN" --cn "certhub probe client" --issuer-cert "$C/ca.pem" \
  --issuer-key "$C/ca.key" --key-out "$C/client.key" -o "$C/client.pem"
cat "$C/leaf.pem" "$C/ca.pem" >"$C/chain.pem"
sha() { openssl x509 -in "$1" -outform DER | sha256sum | cut -d' ' -f1; }
LEAF_SHA=$(sha "$C/leaf.pem")
CA_SHA=$(sha "$C/ca.pem")

# check_json STATUS REASON_PART: $OUT is one JSON result with that Status;
# ok results carry the leaf and CA (in order) over TLS 1.3 with an IANA
# cipher name; others carry a Reason containing REASON_PART.
check_json() {
  printf '%s' "$OUT" | python3 -c '
import json, sys
want, part, leaf, ca = sys.argv[1:5]
r = json.load(sys.stdin)
assert isinstance(r, list) and len(r) == 1, "want one result, got %r" % r
r = r[0]
def need(ok, what):
    if not ok:
        sys.exit("%s: %s" % (what, json.dumps(r, indent=1)))
need(r["Status"] == want, "Status %r, want %r" % (r["Status"], want))
need(r["Address"].startswith("127.0.0.1:"), "Address")
if want == "ok":
    need(r["TlsVersion"] == "TLSv1.3", "TlsVersion")
    need(r["Cipher"].startswith("TLS_"), "Cipher")
    ch = r["Chain"]
    need(len(ch) == 2, "Chain length %d, want 2" % len(ch))
    need(ch[0]["Sha256"].lower() == leaf, "leaf Sha256, want " + leaf)
    need(ch[1]["Sha256"].lower() == ca, "CA Sha256, want " + ca)
    need(ch[1]["Position"] == ch[0]["Position"] + 1, "Position order")
else:
    need(part in r["Reason"], "Reason lacks %r" % part)
' "$1" "$2" "$LEAF_SHA" "$CA_SHA" || fail "$NAME: unexpected result"
}

# probe_ok NAME ARGS...: certhub probe ARGS exits 0 with the chain.
probe_ok() {
  NAME=$1
  shift
  run_expect 0 "$CERTHUB" --db "$CERTHUB_DB" probe -o json --timeout 10s "$@"
  check_json ok ""
  note "$NAME: ok"
}

# probe_fail NAME STATUS REASON_PART ARGS...: exits 1 with that status.
probe_fail() {
  NAME=$1 st=$2 part=$3
  shift 3
  run_expect 1 "$CERTHUB" --db "$CERTHUB_DB" probe -o json --timeout 10s "$@"
  check_json "$st" "$part"
  note "$NAME: $st: $(printf '%s' "$OUT" | python3 -c \
    'import json,sys; print(json.load(sys.stdin)[0]["Reason"])')"
}

L=127.0.0.1

start_nginx "$C/chain.pem" "$C/leaf.key"
probe_ok "nginx https://" "https://$L:$NGINX_PORT/"
probe_ok "nginx host:port" --sni localhost "$L:$NGINX_PORT"

start_postfix "$C/chain.pem" "$C/leaf.key"
probe_ok "postfix smtp://" "smtp://$L:$SMTP_PORT"
probe_ok "postfix --starttls smtp" --starttls smtp "$L:$SMTP_PORT"
SMTP_TLS_PORT=$SMTP_PORT

start_postfix "$C/chain.pem" "$C/leaf.key" none
probe_fail "postfix without STARTTLS" protocol \
  "server does not offer STARTTLS (EHLO reply: localhost" \
  "smtp://$L:$SMTP_PORT"

start_dovecot "$C/chain.pem" "$C/leaf.key"
probe_ok "dovecot imap://" "imap://$L:$IMAP_PORT"
probe_ok "dovecot pop3://" "pop3://$L:$POP3_PORT"
probe_ok "dovecot imaps://" "imaps://$L:$IMAPS_PORT"
probe_ok "dovecot pop3s://" "pop3s://$L:$POP3S_PORT"
probe_fail "smtp dialect against IMAP" protocol "malformed SMTP reply: * OK" \
  "smtp://$L:$IMAP_PORT"

start_vsftpd "$C/chain.pem" "$C/leaf.key"
probe_ok "vsftpd ftp://" "ftp://$L:$FTP_PORT"

start_slapd "$C/chain.pem" "$C/leaf.key"
probe_ok "slapd ldap://" "ldap://$L:$LDAP_PORT"
probe_ok "slapd ldaps://" "ldaps://$L:$LDAPS_PORT"

start_prosody "$C/chain.pem" "$C/leaf.key" localhost
probe_ok "prosody xmpp://" --sni localhost "xmpp://$L:$XMPP_PORT"
probe_fail "prosody, unknown domain" protocol \
  "server sent stream error: host-unknown" \
  --sni other.example "xmpp://$L:$XMPP_PORT"

start_postgres "$C/chain.pem" "$C/leaf.key"
probe_ok "postgres postgres://" "postgres://$L:$PG_PORT"
probe_ok "postgres postgresql://" "postgresql://$L:$PG_PORT"

# Several dialects in one run: one result each, all ok, exit 0.
run_expect 0 "$CERTHUB" --db "$CERTHUB_DB" probe -o json \
  "smtp://$L:$SMTP_TLS_PORT" "imap://$L:$IMAP_PORT" "ftp://$L:$FTP_PORT" \
  "ldap://$L:$LDAP_PORT" "postgres://$L:$PG_PORT"
printf '%s' "$OUT" | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert len(r) == 5 and all(x["Status"] == "ok" for x in r), r
assert all(x["Chain"][0]["Sha256"].lower() == sys.argv[1] for x in r), r
' "$LEAF_SHA" || fail "five dialects in one run"
note "five dialects in one run: ok"

# mTLS: nginx requires a client certificate signed by the CA.
start_nginx "$C/chain.pem" "$C/leaf.key" "$C/ca.pem"
probe_ok "nginx mTLS with --cert/--key" --cert "$C/client.pem" \
  --key "$C/client.key" "https://$L:$NGINX_PORT/"
# A key file that is not a key: a clear message naming it, not ok.
printf 'not a key\n' >"$TMP/bad.key"
set +e
"$CERTHUB" --db "$CERTHUB_DB" probe -o json --cert "$C/client.pem" \
  --key "$TMP/bad.key" "https://$L:$NGINX_PORT/" >"$TMP/out" 2>"$TMP/err"
rc=$?
set -e
[ "$rc" != 0 ] || fail "probe with a bad client key exited 0"
grep -qF "$TMP/bad.key" "$TMP/out" "$TMP/err" ||
  { cat "$TMP/out" "$TMP/err"; fail "bad client key: no message naming it"; }
note "bad client key: exit $rc, named"

echo "ok"
