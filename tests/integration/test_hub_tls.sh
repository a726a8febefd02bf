#!/usr/bin/env bash
# A hub reached over HTTPS, as instances in other regions reach it: the hub
# is certhub serve with a TLS certificate made here; an instance that does
# not trust it (no hub.ca_file) is refused by the TLS check, says so, and
# keeps its findings queued; with hub.ca_file it forwards them, and the
# hub keeps their account and region. The hub's /metrics shows them, and
# the instance's queue drains to 0.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/serve_lib.sh"
command -v curl >/dev/null || fail "curl is needed"

HUB_DB=$TMP/hub.db
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout "$TMP/hub.key" -out "$TMP/hub.pem" -days 2 -subj /CN=localhost \
  -addext subjectAltName=IP:127.0.0.1 2>/dev/null
PORT=$(free_port)
HUB=https://127.0.0.1:$PORT
cat >"$TMP/hub.yaml" <<YAML
rules: []
http:
  listen: 127.0.0.1:$PORT
  tls_cert_file: $TMP/hub.pem
  tls_key_file: $TMP/hub.key
YAML
run_expect 0 "$CERTHUB" --db "$HUB_DB" tokens create region-a --scope findings:write
printf '%s\n' "$OUT" >"$TMP/a.token"
run_expect 0 "$CERTHUB" --db "$HUB_DB" tokens create reader --scope read
READ=$OUT
serve_start --db "$HUB_DB" --config "$TMP/hub.yaml" serve --interval 1s
up() { curl -fsS --cacert "$TMP/hub.pem" "$HUB/healthz" >/dev/null 2>&1; }
wait_until 30 "the hub over TLS" up

note "an instance with 3 findings ($SECONDS s)"
python3 - >"$TMP/f.json" <<'PY'
import json
print(json.dumps([{
    "SchemaVersion": "2018-10-08", "Id": "tls-%d" % i,
    "ProductArn": "arn:certhub:securityhub:ap-south-1:333333333333:product/certhub/certhub",
    "GeneratorId": "it", "AwsAccountId": "333333333333", "Region": "ap-south-1",
    "CreatedAt": "2026-11-01T00:00:00Z", "UpdatedAt": "2026-11-02T00:00:00Z",
    "Title": "Certificate %d expires soon" % i, "Description": "d",
    "Types": ["Software and Configuration Checks/Certificate Expiry"],
    "Severity": {"Label": "HIGH"}, "Resources": [{"Type": "Other", "Id": "r%d" % i}],
} for i in range(3)]))
PY
run_expect 0 "$CERTHUB" -q findings import "$TMP/f.json"

note "not trusting the hub's certificate: refused, still queued ($SECONDS s)"
printf 'hub:\n  forward_to: %s\n  token_file: %s\n  timeout: 5s\n' "$HUB" "$TMP/a.token" >"$TMP/a.yaml"
run_expect 1 "$CERTHUB" --config "$TMP/a.yaml" hub forward
printf '%s' "$ERR" | grep -qi 'certificate' || fail "no TLS reason: $ERR"
printf '%s' "$ERR" | grep -q '3 still queued' || fail "queue not kept: $ERR"
[ "$(sqlite3 "$HUB_DB" 'SELECT count(*) FROM findings')" = 0 ] || fail "the hub took findings"

note "with hub.ca_file: forwarded, origin kept ($SECONDS s)"
printf '  ca_file: %s\n' "$TMP/hub.pem" >>"$TMP/a.yaml"
run_expect 0 "$CERTHUB" --config "$TMP/a.yaml" hub forward
printf '%s' "$ERR" | grep -q '^3 findings forwarded' || fail "forward: $ERR"
[ "$(sqlite3 "$HUB_DB" "SELECT count(*) FROM findings WHERE aws_account_id = '333333333333' AND region = 'ap-south-1'")" = 3 ] ||
  fail "the hub lacks the findings or their origin"
run_expect 0 "$CERTHUB" --config "$TMP/a.yaml" hub status -o json
[ "$(printf '%s' "$OUT" | pyjson 'd["Queued"]')" = 0 ] || fail "queue: $OUT"
curl -fsS --cacert "$TMP/hub.pem" -H "Authorization: Bearer $READ" "$HUB/metrics" >"$TMP/metrics"
grep -q '^certhub_findings{record_state="ACTIVE",severity="HIGH"} 3$' "$TMP/metrics" ||
  fail "hub metrics: $(grep certhub_findings "$TMP/metrics")"

serve_stop TERM
[ "$SRC" = 0 ] || fail "the hub exited $SRC"
echo "ok"
