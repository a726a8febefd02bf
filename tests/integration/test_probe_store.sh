#!/usr/bin/env bash
# certhub probe records what it finds: a successful probe is a scan of the
# endpoint's source (certificates sighted, tagged, trusted with --ca-file);
# a failed probe keeps the last known chain; a renewed certificate on the
# same endpoint marks the old one absent and links the renewal; endpoints
# list/describe and metrics show the last probe.
. "$(dirname "$0")/lib.sh"

SRV=
stop_server() {
  if [ -n "$SRV" ]; then kill "$SRV" 2>/dev/null || true; wait "$SRV" 2>/dev/null || true; fi
  SRV=
}
trap 'stop_server; cleanup' EXIT

# A free loopback port, reused for both servers so the endpoint is the same.
PORT=$(free_port)

# start_server CERT KEY: openssl s_server on $PORT, waits until it listens.
start_server() {
  openssl s_server -accept "127.0.0.1:$PORT" -www -cert "$1" -key "$2" \
    </dev/null >"$TMP/s_server.log" 2>&1 &
  SRV=$!
  for _ in $(seq 100); do
    grep -q '^ACCEPT' "$TMP/s_server.log" && return 0
    sleep 0.05
  done
  cat "$TMP/s_server.log"; fail "s_server did not start"
}

C=$TMP/certs; mkdir -p "$C"
gen() { "$CERTHUB_GEN" --key ec:P-256 "$@"; }
gen --ca --cn "probe store root" --not-after +300d -o "$C/root.pem" --key-out "$C/root.key"
for v in old new; do
  gen --cn store.test --san DNS:store.test --not-after "+$([ $v = old ] && echo 20 || echo 80)d" \
    --issuer-cert "$C/root.pem" --issuer-key "$C/root.key" \
    -o "$C/$v.pem" --key-out "$C/$v.key"
done
id_of() { openssl x509 -in "$1" -outform DER | sha256sum | cut -c1-16; }
OLD=$(id_of "$C/old.pem"); NEW=$(id_of "$C/new.pem")
T="127.0.0.1:$PORT"
LOC="$T sni=store.test"

note "1. first probe: stored, trusted, tagged"
start_server "$C/old.pem" "$C/old.key"
run_expect 0 "$CERTHUB" probe -q --ca-file "$C/root.pem" --sni store.test \
  --tag owner=team-a -o json "$T"
echo "$OUT" | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert len(r) == 1, r
r = r[0]
assert r["Status"] == "ok" and r["Trusted"] is True and r["HostnameMatch"] is True, r
assert r["Problems"] == [] and r["Chain"][0]["CertificateId"] == sys.argv[1], r
assert r["Chain"][0]["DaysToExpiry"] in (19, 20), r
' "$OLD" || fail "probe JSON: $OUT"
[ "$(sqlite3 "$CERTHUB_DB" "SELECT kind || '|' || locator FROM sources")" = "endpoint|$LOC" ] \
  || fail "endpoint source not recorded"
run_expect 0 "$CERTHUB" list -o csv --tag owner=team-a
echo "$OUT" | grep -q "$OLD" || fail "certificate not tagged owner=team-a: $OUT"

note "2. a failed probe keeps the last known chain"
stop_server
run_expect 1 "$CERTHUB" probe -q --ca-file "$C/root.pem" --sni store.test "$T"
echo "$OUT" | grep -Eq "refused +- +- +- +connection refused" || fail "table: $OUT"
[ "$(sqlite3 "$CERTHUB_DB" "SELECT count(*) FROM sightings WHERE present = 1")" = 1 ] \
  || fail "a failed probe changed the sightings"
run_expect 0 "$CERTHUB" endpoints describe "$T"
echo "$OUT" | grep -q "^Last probe: .* refused" || fail "describe: $OUT"
echo "$OUT" | grep -Eq "^  1  $OLD " || fail "describe lost the chain: $OUT"
run_expect 0 "$CERTHUB" metrics
echo "$OUT" | grep -qx "certhub_probe_success{endpoint=\"$LOC\",owner=\"team-a\"} 0" \
  || fail "metrics: $(echo "$OUT" | grep probe_success)"

note "3. renewed certificate: old absent, renewal linked"
start_server "$C/new.pem" "$C/new.key"
run_expect 0 "$CERTHUB" probe -q --ca-file "$C/root.pem" --sni store.test "$T"
run_expect 0 "$CERTHUB" describe "$OLD" -o json
echo "$OUT" | python3 -c '
import json, sys
o = json.load(sys.stdin)
o = o[0] if isinstance(o, list) else o
assert o["Status"] == "INACTIVE", o["Status"]
assert sys.argv[1] in o["ReplacedBy"], o["ReplacedBy"]
' "$NEW" || fail "old certificate: $OUT"
run_expect 0 "$CERTHUB" endpoints list --status ok -o csv
echo "$OUT" | grep -q "^$LOC,127.0.0.1:$PORT,ok,TLSv1.[23],[0-9]*,yes," || fail "list: $OUT"
run_expect 0 "$CERTHUB" endpoints list --problem expired -o csv
[ "$(echo "$OUT" | wc -l)" = 1 ] || fail "--problem expired matched: $OUT"
run_expect 0 "$CERTHUB" metrics --compat
echo "$OUT" | grep -qx "probe_success{instance=\"$LOC\"} 1" || fail "compat probe_success"
echo "$OUT" | grep -q "^probe_ssl_earliest_cert_expiry{instance=\"$LOC\"} [0-9]*$" \
  || fail "compat earliest expiry"
echo "$OUT" | grep -q "^certhub_probe_chain_trusted{endpoint=\"$LOC\",owner=\"team-a\"} 1$" \
  || fail "chain_trusted"
[ "$(sqlite3 "$CERTHUB_DB" "SELECT count(*) FROM probes")" = 3 ] || fail "probe rows"
note "ok"
