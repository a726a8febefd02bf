#!/usr/bin/env bash
# Addresses and options of certhub probe against real openssl s_server
# processes on loopback: an IPv6 literal, a name resolved by c-ares with
# --all-addresses, the legacy TLS 1.0/1.1 check (a server that still
# accepts them and one that does not), and the endpoints of a YAML config
# with their owner tag, down to the metrics.
. "$(dirname "$0")/lib.sh"

PIDS=()
stop_servers() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  PIDS=()
}
trap 'stop_servers; cleanup' EXIT

# serve NAME ADDR PORT [s_server options]: start, wait until it listens.
serve() {
  local name=$1 addr=$2 port=$3; shift 3
  openssl s_server -accept "$addr:$port" -cert "$C/leaf.pem" -key "$C/leaf.key" \
    -cert_chain "$C/root.pem" -quiet "$@" </dev/null >"$TMP/$name.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do
    python3 -c 'import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 0.2).close()' \
      "${addr//[\[\]]/}" "$port" 2>/dev/null && return 0
    sleep 0.05
  done
  cat "$TMP/$name.log"; fail "s_server $name did not start"
}

C=$TMP/certs; mkdir -p "$C"
"$CERTHUB_GEN" --ca --cn "net root" --not-after +300d -o "$C/root.pem" --key-out "$C/root.key"
"$CERTHUB_GEN" --cn localhost --san DNS:localhost --san IP:127.0.0.1 --san IP:::1 \
  --not-after +40d --issuer-cert "$C/root.pem" --issuer-key "$C/root.key" \
  -o "$C/leaf.pem" --key-out "$C/leaf.key"
export CERTHUB_DB=$TMP/net.db
unset CERTHUB_CONFIG

field() { python3 -c 'import json,sys; r=json.load(sys.stdin); print(json.dumps(r[0][sys.argv[1]]))' "$1"; }

# IPv6 literal: the address is bracketed, the IP SAN matches.
if [ -e /proc/net/if_inet6 ] && python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1",0))' 2>/dev/null; then
  P6=$(free_port 6)
  serve v6 "[::1]" "$P6"
  out=$("$CERTHUB" -q probe -o json --ca-file "$C/root.pem" "[::1]:$P6") || fail "v6 probe: $out"
  [ "$(field Address <<<"$out")" = "\"[::1]:$P6\"" ] || fail "v6 address: $out"
  [ "$(field Trusted <<<"$out")" = true ] || fail "v6 trusted: $out"
  [ "$(field HostnameMatch <<<"$out")" = true ] || fail "v6 IP SAN: $out"
  note "IPv6 literal ok"
else
  note "no IPv6 loopback here: IPv6 case skipped"
fi

# A name through c-ares (localhost from /etc/hosts), every address.
P=$(free_port)
serve v4 127.0.0.1 "$P" -cipher 'DEFAULT:@SECLEVEL=0'
out=$("$CERTHUB" -q probe -o json --all-addresses --ca-file "$C/root.pem" --tag owner=net-team "localhost:$P") ||
  fail "localhost probe: $out"
[ "$(field Endpoint <<<"$out")" = "\"localhost:$P addr=127.0.0.1:$P\"" ] || fail "all-addresses locator: $out"
[ "$(field HostnameMatch <<<"$out")" = true ] || fail "hostname: $out"

# Legacy check: this server (security level 0) still speaks TLS 1.0/1.1.
out=$("$CERTHUB" -q probe -o json --no-store --legacy --ca-file "$C/root.pem" "127.0.0.1:$P")
[ "$(field LegacyTls <<<"$out")" = '["TLSv1.0", "TLSv1.1"]' ] || fail "legacy accepted: $out"
# ...and this one (OpenSSL's defaults: TLS 1.2 at least) does not.
P2=$(free_port)
serve modern 127.0.0.1 "$P2" -no_tls1 -no_tls1_1
out=$("$CERTHUB" -q probe -o json --no-store --legacy --ca-file "$C/root.pem" "127.0.0.1:$P2")
[ "$(field LegacyTls <<<"$out")" = '[]' ] || fail "legacy refused: $out"
[ "$(field Status <<<"$out")" = '"ok"' ] || fail "modern status: $out"
note "legacy check ok"

# Endpoints from the configuration, with an owner, then the metrics.
cat >"$TMP/config.yaml" <<YAML
db: $TMP/net.db
probe:
  ca_file: $C/root.pem
  timeout: 5s
endpoints:
  - target: 127.0.0.1:$P2
    tags: {owner: payments}
  - "https://localhost:$P/"
YAML
"$CERTHUB" --config "$TMP/config.yaml" -q probe >"$TMP/cfg.out" || { cat "$TMP/cfg.out"; fail "config probe"; }
grep -q "127.0.0.1:$P2 .* ok .* yes" "$TMP/cfg.out" || { cat "$TMP/cfg.out"; fail "config endpoint row"; }
"$CERTHUB" --config "$TMP/config.yaml" -q endpoints list -o json >"$TMP/eps.json"
python3 - "$TMP/eps.json" "$P2" <<'PY' || fail "endpoints list"
import json, sys
eps = json.load(open(sys.argv[1]))
e = [x for x in eps if x.get("Endpoint", x.get("Locator", "")).startswith("127.0.0.1:%s" % sys.argv[2])]
assert e, eps
assert "payments" in json.dumps(e[0]), e[0]
PY
"$CERTHUB" --config "$TMP/config.yaml" metrics --compat >"$TMP/metrics.txt"
grep -Eq "^certhub_probe_success\{.*endpoint=\"127\.0\.0\.1:$P2\".*\} 1$" "$TMP/metrics.txt" ||
  { grep probe_success "$TMP/metrics.txt"; fail "certhub_probe_success"; }
grep -Eq "^probe_ssl_earliest_cert_expiry\{.*\} [0-9.e+]+$" "$TMP/metrics.txt" ||
  fail "probe_ssl_earliest_cert_expiry (--compat)"
grep -Eq "^certhub_probe_success\{.*owner=\"payments\".*\} 1$" "$TMP/metrics.txt" ||
  fail "owner label on the endpoint's metrics"
note "config endpoints and metrics ok"
