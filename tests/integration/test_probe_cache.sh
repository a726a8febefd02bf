#!/usr/bin/env bash
# certhub probe keeps chain analyses across runs (table chain_checks): the
# second probe of an unchanged endpoint is a persistent-cache hit with the
# same verdict; another --ca-file is another trust and is verified afresh
# (trusted changes accordingly); --no-store uses no persistent cache; a
# damaged cache row is never trusted. Observed through
# CERTHUB_DEBUG_STATS=1 (docs/man/certhub-probe.1).
. "$(dirname "$0")/lib.sh"

SRV=
stop_server() {
  if [ -n "$SRV" ]; then kill "$SRV" 2>/dev/null || true; wait "$SRV" 2>/dev/null || true; fi
  SRV=
}
trap 'stop_server; cleanup' EXIT

PORT=$(free_port)
C=$TMP/certs; mkdir -p "$C"
gen() { "$CERTHUB_GEN" --key ec:P-256 "$@"; }
gen --ca --cn "cache root" --not-after +300d -o "$C/root.pem" --key-out "$C/root.key"
gen --ca --cn "other root" --not-after +300d -o "$C/other.pem" --key-out "$C/other.key"
gen --cn cache.test --san DNS:cache.test --not-after +60d \
  --issuer-cert "$C/root.pem" --issuer-key "$C/root.key" \
  -o "$C/leaf.pem" --key-out "$C/leaf.key"
openssl s_server -accept "127.0.0.1:$PORT" -www -cert "$C/leaf.pem" -key "$C/leaf.key" \
  </dev/null >"$TMP/s_server.log" 2>&1 &
SRV=$!
for _ in $(seq 100); do grep -q '^ACCEPT' "$TMP/s_server.log" && break; sleep 0.05; done
grep -q '^ACCEPT' "$TMP/s_server.log" || { cat "$TMP/s_server.log"; fail "s_server did not start"; }
T="127.0.0.1:$PORT"
export CERTHUB_DEBUG_STATS=1

# probe EXIT CA: one probe with stats; sets OUT (JSON) and ERR.
probe() { run_expect "$1" "$CERTHUB" probe --ca-file "$2" --sni cache.test -o json "$T"; }
trusted() { echo "$OUT" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r[0]["Trusted"], r[0]["Problems"])'; }
stats() { echo "$ERR" | grep 'stats: chain cache' || fail "no stats line: $ERR"; }

note "1. first probe: verified, written to the cache"
probe 0 "$C/root.pem"
[ "$(trusted)" = "True []" ] || fail "first probe: $(trusted)"
stats | grep -q 'persistent hits 0, misses 1, written 1' || fail "first: $(stats)"
[ "$(sqlite3 "$CERTHUB_DB" 'SELECT count(*) FROM chain_checks')" = 1 ] || fail "no chain_checks row"

note "2. second probe: a persistent hit, same verdict"
probe 0 "$C/root.pem"
[ "$(trusted)" = "True []" ] || fail "second probe: $(trusted)"
stats | grep -q 'persistent hits 1, misses 0, written 0' || fail "second: $(stats)"

note "3. another --ca-file: another trust, verified afresh, not trusted"
probe 0 "$C/other.pem"
[ "$(trusted)" = "False ['unknown_issuer']" ] || fail "other CA: $(trusted)"
stats | grep -q 'persistent hits 0, misses 1, written 1' || fail "other CA: $(stats)"
[ "$(sqlite3 "$CERTHUB_DB" 'SELECT count(DISTINCT trust_id) FROM chain_checks')" = 2 ] ||
  fail "expected two trust ids"

note "4. the trusting CA file again: its own entry, trusted"
probe 0 "$C/root.pem"
[ "$(trusted)" = "True []" ] || fail "back to root: $(trusted)"
stats | grep -q 'persistent hits 1, misses 0' || fail "back to root: $(stats)"

note "5. same path, changed contents: another trust"
cp "$C/other.pem" "$TMP/ca.pem"
probe 0 "$TMP/ca.pem"
[ "$(trusted)" = "False ['unknown_issuer']" ] || fail "ca.pem = other: $(trusted)"
cat "$C/root.pem" >>"$TMP/ca.pem"
probe 0 "$TMP/ca.pem"
[ "$(trusted)" = "True []" ] || fail "ca.pem + root: $(trusted)"
stats | grep -q 'persistent hits 0, misses 1, written 1' || fail "changed CA file: $(stats)"

note "6. a damaged row is not trusted: flipped bits are verified afresh"
sqlite3 "$CERTHUB_DB" "UPDATE chain_checks SET blob = CAST(replace(CAST(blob AS TEXT), 'chvc', 'chvd') AS BLOB)"
probe 0 "$C/other.pem"
[ "$(trusted)" = "False ['unknown_issuer']" ] || fail "damaged: $(trusted)"
stats | grep -q 'persistent hits 1, misses 0, written 1' || fail "damaged: $(stats)"
sqlite3 "$CERTHUB_DB" "UPDATE chain_checks SET blob = zeroblob(40)"
probe 0 "$C/root.pem"
[ "$(trusted)" = "True []" ] || fail "zeroed: $(trusted)"
stats | grep -q 'written 1' || fail "zeroed: $(stats)"

note "7. --no-store: no persistent cache"
n=$(sqlite3 "$CERTHUB_DB" 'SELECT count(*) FROM chain_checks')
run_expect 0 "$CERTHUB" probe --no-store --ca-file "$C/root.pem" --sni cache.test -o json "$T"
echo "$ERR" | grep -q 'persistent off' || fail "--no-store: $ERR"
[ "$(sqlite3 "$CERTHUB_DB" 'SELECT count(*) FROM chain_checks')" = "$n" ] || fail "--no-store wrote"
echo PASS
