#!/usr/bin/env bash
# The HTTP API of certhub serve, driven with curl against a real daemon on
# a free loopback port: health, tokens (401, 403, revoked, expired), body
# limits (413 with and without a length), bad JSON (400), wrong media type
# (415), 404/405, findings import then reads, certificates list and
# describe, events, metrics, and the same over TLS with a self-signed
# certificate made here.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/serve_lib.sh"
DATA=${CERTHUB_TEST_DATA:-$here/../data}
command -v curl >/dev/null || fail "curl is needed"

# api METHOD PATH [CURL ARGS...]: the status in $CODE, the body in $BODY.
api() {
  local m=$1 p=$2; shift 2
  CODE=$(curl -sS -o "$TMP/body" -w '%{http_code}' -X "$m" "$@" "$URL$p")
  BODY=$(cat "$TMP/body")
}
expect() { # expect CODE DESC
  [ "$CODE" = "$1" ] || fail "$2: status $CODE, expected $1: $BODY"
}
err_code() { printf '%s' "$BODY" | pyjson 'd["error"]["code"]'; }
err_msg() { printf '%s' "$BODY" | pyjson 'd["error"]["message"]'; }

run_expect 0 "$CERTHUB" import "$DATA/certs/leaf.pem" "$DATA/certs/expired.pem"
run_expect 0 "$CERTHUB" tokens create reader --scope read
RO=$OUT
run_expect 0 "$CERTHUB" tokens create ci --scope findings:write --scope read \
  --expires 30d
RW=$OUT
run_expect 0 "$CERTHUB" tokens create gone --scope admin
GONE=$OUT
run_expect 0 "$CERTHUB" --now 2026-01-01T00:00:00Z tokens create old \
  --scope admin --expires 1d
OLD=$OUT
case "$RO" in chk_*) ;; *) fail "token does not start with chk_: $RO" ;; esac
[ ${#RO} = 47 ] || fail "token length ${#RO}"
run_expect 0 "$CERTHUB" tokens list
case "$OUT" in *"$RO"*) fail "tokens list shows a secret" ;; esac
printf '%s' "$OUT" | grep -q '^ci ' || fail "tokens list lacks ci: $OUT"
printf '%s' "$OUT" | grep -q '^old .*expired' || fail "old not expired: $OUT"
[ "$(sqlite3 "$CERTHUB_DB" "SELECT count(*) FROM api_tokens WHERE hash LIKE '%${RO#chk_}%'")" = 0 ] ||
  fail "a secret is stored in the clear"
run_expect 0 "$CERTHUB" tokens revoke gone
run_expect 2 "$CERTHUB" tokens revoke gone
run_expect 2 "$CERTHUB" tokens create ci --scope read
run_expect 2 "$CERTHUB" tokens create x --scope bogus

PORT=$(free_port)
serve_start serve --listen "127.0.0.1:$PORT" --interval 1s
URL=http://127.0.0.1:$PORT
api_up() { log_has "API at $URL"; }
wait_until 30 "the API URL in the log" api_up
AUTH=(-H "Authorization: Bearer $RO")
WAUTH=(-H "Authorization: Bearer $RW")
JSON=(-H "Content-Type: application/json")

note "healthz needs no token ($SECONDS s)"
api GET /healthz
expect 200 healthz
[ "$(printf '%s' "$BODY" | pyjson 'd["status"]')" = ok ] || fail "healthz: $BODY"

note "401 without, with a malformed, a revoked and an expired token ($SECONDS s)"
api GET /v1/certificates
expect 401 "no token"
[ "$(err_code)" = Unauthorized ] || fail "401 body: $BODY"
curl -sS -D "$TMP/h" -o /dev/null "$URL/v1/certificates"
grep -qi '^WWW-Authenticate: Bearer' "$TMP/h" || fail "no WWW-Authenticate"
api GET /v1/certificates -H "Authorization: Bearer nope"
expect 401 "malformed token"
api GET /v1/certificates -H "Authorization: Bearer $GONE"
expect 401 "revoked token"
api GET /v1/certificates -H "Authorization: Bearer $OLD"
expect 401 "expired token"
err_msg | grep -q expired || fail "expired token message: $BODY"
api GET /v1/certificates -H "Authorization: Basic Zm9vOmJhcg=="
expect 401 "basic auth"

note "403 for a read token on import ($SECONDS s)"
api POST /v1/findings/import "${AUTH[@]}" "${JSON[@]}" --data-binary '[]'
expect 403 "read token importing"
err_msg | grep -q 'findings:write' || fail "403 message: $BODY"

note "404, 405, 415 ($SECONDS s)"
api GET /v1/nothing "${AUTH[@]}"
expect 404 "unknown path"
api DELETE /v1/certificates "${AUTH[@]}"
expect 405 "DELETE certificates"
api POST /v1/findings/import "${WAUTH[@]}" -d 'Findings=1'
expect 415 "form body"

note "413 on a 7 MB body, with Content-Length and chunked ($SECONDS s)"
head -c 7000000 /dev/zero | tr '\0' ' ' >"$TMP/big.json"
api POST /v1/findings/import "${WAUTH[@]}" "${JSON[@]}" --data-binary @"$TMP/big.json"
expect 413 "7 MB body"
[ "$(err_code)" = PayloadTooLarge ] || fail "413 body: $BODY"
api POST /v1/findings/import "${WAUTH[@]}" "${JSON[@]}" \
  -H 'Transfer-Encoding: chunked' --data-binary @"$TMP/big.json"
expect 413 "7 MB chunked body"
rss=$(awk '/VmHWM/ {print $2}' "/proc/$SPID/status")
[ "$rss" -lt 200000 ] || fail "serve peak RSS ${rss} kB after the big bodies"

note "400 on bad JSON, with where it broke ($SECONDS s)"
api POST /v1/findings/import "${WAUTH[@]}" "${JSON[@]}" --data-binary '{"Findings": ['
expect 400 "truncated JSON"
[ "$(err_code)" = InvalidJson ] || fail "bad JSON code: $BODY"
err_msg | grep -q 'line 1' || fail "bad JSON message: $BODY"
api POST /v1/findings/import "${WAUTH[@]}" "${JSON[@]}" --data-binary '{"Findings": 3}'
expect 400 "Findings not an array"
api POST /v1/findings/import "${WAUTH[@]}" "${JSON[@]}"
expect 400 "empty body"
python3 -c 'import json
f = json.load(open("'"$DATA"'/findings/two_valid.json"))
f = f.get("Findings", f)
print(json.dumps([dict(f[0], Id="x%d" % i) for i in range(101)]))' >"$TMP/101.json"
api POST /v1/findings/import "${WAUTH[@]}" "${JSON[@]}" --data-binary @"$TMP/101.json"
expect 400 "101 findings"
err_msg | grep -q '101' || fail "101 findings message: $BODY"
n=$(sqlite3 "$CERTHUB_DB" "SELECT count(*) FROM findings WHERE id LIKE 'x%'")
[ "$n" = 0 ] ||
  fail "a refused request stored findings ($n)"

note "import, then read the findings back ($SECONDS s)"
api POST /v1/findings/import "${WAUTH[@]}" "${JSON[@]}" --data-binary @"$DATA/findings/mixed.json"
expect 200 "mixed import"
[ "$(printf '%s' "$BODY" | pyjson '(d["SuccessCount"], d["FailedCount"], len(d["FailedFindings"]))')" = "(1, 4, 4)" ] ||
  fail "mixed import result: $BODY"
printf '%s' "$BODY" | pyjson '[f["ErrorCode"] for f in d["FailedFindings"]]' | grep -q MissingRequiredField ||
  fail "no MissingRequiredField: $BODY"
api POST /v1/findings/import "${WAUTH[@]}" "${JSON[@]}" --data-binary @"$DATA/findings/two_valid.json"
expect 200 "two_valid import"
[ "$(printf '%s' "$BODY" | pyjson 'd["SuccessCount"]')" = 2 ] || fail "two_valid: $BODY"
FID=$(pyjson 'd.get("Findings", d)[0]["Id"]' <"$DATA/findings/two_valid.json")
api GET "/v1/findings/$FID" "${AUTH[@]}"
expect 200 "GET finding $FID"
[ "$(printf '%s' "$BODY" | pyjson 'd["Id"]')" = "$FID" ] || fail "finding: $BODY"
[ "$(printf '%s' "$BODY" | pyjson 'd["Workflow"]["Status"]')" = NEW ] || fail "workflow: $BODY"
api GET "/v1/findings/ok-1?product_arn=arn:certhub:securityhub:local:000000000000:product/certhub/certhub" "${AUTH[@]}"
expect 200 "GET finding with product_arn"
api GET /v1/findings/no-such "${AUTH[@]}"
expect 404 "missing finding"
api GET /v1/findings/get "${AUTH[@]}"
expect 404 "GET on GetFindings' path"
err_msg | grep -q 'takes POST' || fail "GET /v1/findings/get message: $BODY"

# A header over libmicrohttpd's connection memory is answered by MHD
# itself (431, its own HTML body; certhub-serve(1) says so); the server
# keeps serving.
BIGH=$(head -c 61440 /dev/zero | tr '\0' a)
api GET /v1/certificates -H "Authorization: Bearer $BIGH"
expect 431 "60 KB Authorization header"
api GET /healthz
expect 200 "healthz after a 431"

note "wrong types are refused per finding, naming the field ($SECONDS s)"
python3 - "$DATA/findings/two_valid.json" >"$TMP/types.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
f = f.get("Findings", f)[0]
bad = [("Note", {"Text": 42, "UpdatedBy": "ops", "UpdatedAt": "2026-11-01T00:00:00Z"}),
       ("UserDefinedFields", {"a": 1}),
       ("ProductFields", {"k%d" % i: "v" for i in range(51)}),
       ("VerificationState", "MAYBE"), ("Sample", "yes"), ("SourceUrl", 3),
       ("Resources", [{"Type": "Other", "Id": "r" * 600}])]
print(json.dumps([dict(f, Id="ty-%d" % i, **{k: v}) for i, (k, v) in enumerate(bad)]))
PY
api POST /v1/findings/import "${WAUTH[@]}" "${JSON[@]}" --data-binary @"$TMP/types.json"
expect 200 "import with wrong types"
[ "$(printf '%s' "$BODY" | pyjson '(d["SuccessCount"], d["FailedCount"])')" = "(0, 7)" ] ||
  fail "wrong types were accepted: $BODY"
for want in "'Note.Text' must be a string" "'UserDefinedFields.a' must be a string" \
  "'ProductFields' has 51 entries (at most 50)" "'VerificationState' must be" \
  "'Sample' must be true or false" "'SourceUrl' must be a string" \
  "'Resources[0].Id' is longer than 512 characters"; do
  printf '%s' "$BODY" | grep -qF "$want" || fail "no \"$want\" in $BODY"
done
[ "$(sqlite3 "$CERTHUB_DB" "SELECT count(*) FROM findings WHERE id LIKE 'ty-%'")" = 0 ] ||
  fail "findings with wrong types were stored"
run_expect 0 "$CERTHUB" -o json findings list
printf '%s' "$OUT" | pyjson '[f["Id"] for f in d]' | grep -q "'ok-1'" ||
  fail "findings list lacks ok-1: $OUT"

note "GetFindings, BatchUpdateFindings, insights"
api POST /v1/findings/get "${AUTH[@]}" "${JSON[@]}" \
  --data-binary '{"Filters": {"Id": [{"Value": "ok-1", "Comparison": "EQUALS"}]}}'
expect 200 GetFindings
[ "$(printf '%s' "$BODY" | pyjson '[f["Id"] for f in d["Findings"]]')" = "['ok-1']" ] ||
  fail "GetFindings by Id: $BODY"
api POST /v1/findings/get "${AUTH[@]}" "${JSON[@]}" --data-binary '{"Filters": {"Bogus": []}}'
expect 400 "GetFindings with an unknown filter"
err_msg | grep -q Bogus || fail "unknown filter message: $BODY"
UPD='{"FindingIdentifiers": [{"Id": "ok-1", "ProductArn": "arn:certhub:securityhub:local:000000000000:product/certhub/certhub"}], "Workflow": {"Status": "RESOLVED"}}'
api POST /v1/findings/update "${AUTH[@]}" "${JSON[@]}" --data-binary "$UPD"
expect 403 "update with a read token"
api POST /v1/findings/update "${WAUTH[@]}" "${JSON[@]}" --data-binary "$UPD"
expect 200 BatchUpdateFindings
[ "$(printf '%s' "$BODY" | pyjson 'len(d["ProcessedFindings"])')" = 1 ] || fail "update: $BODY"
api GET /v1/findings/ok-1 "${AUTH[@]}"
[ "$(printf '%s' "$BODY" | pyjson 'd["Workflow"]["Status"]')" = RESOLVED ] ||
  fail "the update did not stick: $BODY"
api POST /v1/insights/results "${AUTH[@]}" "${JSON[@]}" --data-binary '{"GroupByAttribute": "SeverityLabel"}'
expect 200 insight
printf '%s' "$BODY" | pyjson 'd["InsightResults"]["ResultValues"]' | grep -q LOW || fail "insight: $BODY"

note "the OCSF view of findings ($SECONDS s)"
SHARED=${CERTHUB_SHARED:-${CERTHUB_SOURCE_DIR:-$here/../..}/../shared}
OCSF=$SHARED/reference/ocsf
# A certificate expiry finding is a Compliance Finding (2003); mixed.json's
# ok-1 (Types TTPs) a Detection Finding (2004).
api GET "/v1/findings/$FID?format=ocsf" "${AUTH[@]}"
expect 200 "GET finding as OCSF"
printf '%s' "$BODY" >"$TMP/ocsf-one.json"
python3 - "$TMP/ocsf-one.json" "$FID" <<'PY' || fail "OCSF finding: $BODY"
import json, sys
f = json.load(open(sys.argv[1]))
assert f["class_uid"] == 2003, f["class_uid"]
assert f["metadata"]["version"] == "1.6.0", f["metadata"]
assert f["finding_info"]["uid"] == sys.argv[2], f["finding_info"]
assert "Id" not in f and "SchemaVersion" not in f, "ASFF fields at the top"
PY
api GET "/v1/findings/ok-1?format=ocsf" "${AUTH[@]}"
expect 200 "GET detection finding as OCSF"
[ "$(printf '%s' "$BODY" | pyjson 'd["class_uid"]')" = 2004 ] || fail "ok-1 OCSF: $BODY"
api GET "/v1/findings/ok-1?format=asff" "${AUTH[@]}"
expect 200 "GET finding as ASFF"
[ "$(printf '%s' "$BODY" | pyjson 'd["Id"]')" = ok-1 ] || fail "asff: $BODY"
api GET "/v1/findings/ok-1?format=xml" "${AUTH[@]}"
expect 400 "unknown format"
err_msg | grep -q xml || fail "unknown format message: $BODY"
note "import OCSF over the API ($SECONDS s)"
python3 - "$TMP/ocsf-one.json" >"$TMP/ocsf-import.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
f["finding_info"]["uid"] = "ocsf-api-1"
print(json.dumps([f]))
PY
api POST "/v1/findings/import?format=xml" "${WAUTH[@]}" "${JSON[@]}" --data-binary @"$TMP/ocsf-import.json"
expect 400 "import with an unknown format"
[ "$(err_code)" = InvalidInput ] && err_msg | grep -q xml || fail "format=xml: $BODY"
api POST "/v1/findings/import?format=ocsf" "${WAUTH[@]}" "${JSON[@]}" --data-binary @"$TMP/ocsf-import.json"
expect 200 "OCSF import"
[ "$(printf '%s' "$BODY" | pyjson '(d["SuccessCount"], d["FailedCount"])')" = "(1, 0)" ] ||
  fail "OCSF import over the API: $BODY"
api GET /v1/findings/ocsf-api-1 "${AUTH[@]}"
expect 200 "the OCSF-imported finding"
[ "$(printf '%s' "$BODY" | pyjson 'd["Id"]')" = ocsf-api-1 ] || fail "OCSF-imported: $BODY"
api POST "/v1/findings/import?format=ocsf" "${WAUTH[@]}" "${JSON[@]}" --data-binary '[{"class_uid": 4001}]'
expect 200 "OCSF import of another class"
[ "$(printf '%s' "$BODY" | pyjson '(d["SuccessCount"], d["FailedCount"])')" = "(0, 1)" ] ||
  fail "OCSF import of class 4001: $BODY"
api POST "/v1/findings/get?format=ocsf" "${AUTH[@]}" "${JSON[@]}" \
  --data-binary '{"MaxResults": 1}'
expect 200 "GetFindings as OCSF"
printf '%s' "$BODY" >"$TMP/ocsf-page.json"
python3 - "$TMP/ocsf-page.json" <<'PY' || fail "GetFindings OCSF page: $BODY"
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d["Findings"]) == 1, d
assert d["Findings"][0]["class_uid"] in (2002, 2003, 2004), d
assert d.get("NextToken"), "no NextToken with more findings left"
PY
NEXT=$(pyjson 'd["NextToken"]' <"$TMP/ocsf-page.json")
api POST "/v1/findings/get?format=ocsf" "${AUTH[@]}" "${JSON[@]}" \
  --data-binary "{\"MaxResults\": 100, \"NextToken\": \"$NEXT\"}"
expect 200 "GetFindings as OCSF, next page"
printf '%s' "$BODY" | pyjson 'all(f["class_uid"] in (2002, 2003, 2004) for f in d["Findings"]) and len(d["Findings"]) > 0' |
  grep -q True || fail "second OCSF page: $BODY"
api POST "/v1/findings/get?format=json" "${AUTH[@]}" "${JSON[@]}" --data-binary '{}'
expect 400 "GetFindings with an unknown format"
if [ -f "$OCSF/validate.py" ] && python3 -c 'import jsonschema' 2>/dev/null; then
  python3 "$OCSF/validate.py" \
    "$OCSF/jsonschema-1.6.0/compliance_finding.cloud-datetime.schema.json" \
    "$TMP/ocsf-one.json" >"$TMP/validate.out" ||
    { cat "$TMP/validate.out"; fail "the API's OCSF finding does not validate"; }
else
  fail "no OCSF validator at $OCSF (set CERTHUB_SHARED) or no python3-jsonschema"
fi

note "certificates: list, filters, paging, describe ($SECONDS s)"
api GET /v1/certificates "${AUTH[@]}"
expect 200 certificates
[ "$(printf '%s' "$BODY" | pyjson 'len(d["Certificates"])')" = 2 ] || fail "list: $BODY"
api GET "/v1/certificates?status=EXPIRED" "${AUTH[@]}"
expect 200 "status filter"
# both fixtures have expired by now
[ "$(printf '%s' "$BODY" | pyjson '[c["Status"] for c in d["Certificates"]]')" = "['EXPIRED', 'EXPIRED']" ] ||
  fail "EXPIRED filter: $BODY"
api GET "/v1/certificates?status=ISSUED" "${AUTH[@]}"
[ "$(printf '%s' "$BODY" | pyjson 'len(d["Certificates"])')" = 0 ] ||
  fail "ISSUED filter: $BODY"
api GET "/v1/certificates?search=app.example" "${AUTH[@]}"
[ "$(printf '%s' "$BODY" | pyjson '[c["DomainName"] for c in d["Certificates"]]')" = "['app.example.com']" ] ||
  fail "search: $BODY"
api GET "/v1/certificates?status=bogus" "${AUTH[@]}"
expect 400 "bad status"
api GET "/v1/certificates?limit=1" "${AUTH[@]}"
expect 200 "page 1"
TOK=$(printf '%s' "$BODY" | pyjson 'd["NextToken"]')
ID1=$(printf '%s' "$BODY" | pyjson 'd["Certificates"][0]["Id"]')
api GET "/v1/certificates?limit=1&next_token=$TOK" "${AUTH[@]}"
expect 200 "page 2"
ID2=$(printf '%s' "$BODY" | pyjson 'd["Certificates"][0]["Id"]')
[ "$ID1" != "$ID2" ] || fail "page 2 repeats page 1"
printf '%s' "$BODY" | pyjson '"NextToken" in d' | grep -q False || fail "a third page: $BODY"
api GET "/v1/certificates/$ID1" "${AUTH[@]}"
expect 200 describe
[ "$(printf '%s' "$BODY" | pyjson 'd["Certificate"]["Id"]')" = "$ID1" ] || fail "describe: $BODY"
printf '%s' "$BODY" | pyjson 'd["Certificate"]["Sources"][0]["Locator"]' | grep -q 'certs/' ||
  fail "describe sources: $BODY"
api GET /v1/certificates/ffffffffffff "${AUTH[@]}"
expect 404 "unknown certificate"

note "an expiry finding's Remediation Url opens its certificate here ($SECONDS s)"
# serve's seed rules turned the expired fixtures into findings; their Url
# is this API's URL (no base_url is configured) and must answer.
furl() {
  sqlite3 "$CERTHUB_DB" "SELECT json_extract(finding, '\$.Remediation.Recommendation.Url')
    FROM findings WHERE generator_id = 'certhub-lifecycle' ORDER BY id LIMIT 1"
}
has_furl() { [ -n "$(furl)" ]; }
wait_until 30 "an expiry finding with a Url" has_furl
FURL=$(furl)
case "$FURL" in "$URL"/certificates/*) ;; *) fail "Url $FURL is not on $URL" ;; esac
api GET "${FURL#"$URL"}" "${AUTH[@]}"
expect 200 "the finding's Url"
[ "$(printf '%s' "$BODY" | pyjson 'd["Certificate"]["Id"]')" = "${FURL##*/}" ] ||
  fail "the Url opened another certificate: $BODY"
api GET "${FURL#"$URL"}"
expect 401 "the finding's Url without a token"

note "events archive ($SECONDS s)"
run_expect 0 "$CERTHUB" events put --source test.http --detail-type Ping \
  --detail '{"n": 1}'
EID=$(printf '%s' "$OUT" | pyjson 'd["Entries"][0]["EventId"]')
api GET "/v1/events?source=test.http" "${AUTH[@]}"
expect 200 events
[ "$(printf '%s' "$BODY" | pyjson 'd["Events"][0]["id"]')" = "$EID" ] || fail "events: $BODY"
api GET "/v1/events/$EID" "${AUTH[@]}"
expect 200 "event by id"
[ "$(printf '%s' "$BODY" | pyjson 'd["detail"]["n"]')" = 1 ] || fail "event: $BODY"
api GET /v1/events/nope "${AUTH[@]}"
expect 404 "unknown event"
api GET /v1/endpoints "${AUTH[@]}"
expect 200 endpoints

note "metrics: open on loopback by default ($SECONDS s)"
api GET /metrics
expect 200 metrics
printf '%s' "$BODY" | grep -q '^certhub_certificates{status="EXPIRED"} 2' ||
  fail "metrics: $(printf '%s' "$BODY" | head -20)"
# The findings gauges say what the store holds, line for line.
want=$(sqlite3 "$CERTHUB_DB" "SELECT 'certhub_findings{record_state=\"' || record_state ||
  '\",severity=\"' || severity_label || '\"} ' || count(*) FROM findings GROUP BY record_state, severity_label" | sort)
got=$(printf '%s\n' "$BODY" | grep '^certhub_findings{' | sort)
[ -n "$want" ] && [ "$got" = "$want" ] || fail "findings metrics: got [$got], want [$want]"
want=$(sqlite3 "$CERTHUB_DB" "SELECT count(*) FROM findings WHERE record_state = 'ACTIVE' AND workflow_status = 'RESOLVED'")
printf '%s' "$BODY" | grep -q "^certhub_findings_workflow{record_state=\"ACTIVE\",workflow=\"RESOLVED\"} $want\$" ||
  fail "workflow metrics ($want RESOLVED): $(printf '%s' "$BODY" | grep workflow)"
printf '%s' "$BODY" | grep -q '^certhub_hub_queued 0$' || fail "no certhub_hub_queued 0"
# The writer lock's metrics: one more writing call counts once, its time
# is in the lock's, the lock's CPU and COMMIT are parts of that.
mval() { printf '%s\n' "$BODY" | awk -v k="$1" '$1 == k { print $2 }'; }
for k in writes_total write_lock_wait_seconds_total write_lock_seconds_total \
  write_lock_cpu_seconds_total write_commit_seconds_total checkpoints_total \
  checkpoint_seconds_total wal_pages; do
  [ -n "$(mval certhub_http_$k)" ] || fail "no certhub_http_$k in /metrics"
done
w1=$(mval certhub_http_writes_total) h1=$(mval certhub_http_write_lock_seconds_total)
[ "$w1" -gt 0 ] || fail "certhub_http_writes_total $w1 after the imports"
api POST /v1/findings/import "${WAUTH[@]}" "${JSON[@]}" --data-binary @"$DATA/findings/mixed.json"
expect 200 "import for the lock metrics"
api GET /metrics
expect 200 "metrics again"
[ "$(mval certhub_http_writes_total)" = $((w1 + 1)) ] ||
  fail "writes_total $w1 -> $(mval certhub_http_writes_total) after one import"
python3 - "$h1" "$(mval certhub_http_write_lock_seconds_total)" \
  "$(mval certhub_http_write_lock_cpu_seconds_total)" \
  "$(mval certhub_http_write_commit_seconds_total)" <<'PY' || fail "lock metrics: $(printf '%s' "$BODY" | grep certhub_http_)"
import sys
h1, h2, cpu, commit = map(float, sys.argv[1:])
assert h2 > h1 > 0, (h1, h2)
assert 0 < cpu <= h2 * 1.05 + 0.01, (cpu, h2)
assert 0 < commit < h2, (commit, h2)
PY
# The writers' own store handle: its page cache counters are on /metrics,
# and a writing call reads its pages through it (the pool's handles
# serve the reads).
for k in hits misses writes; do
  [ -n "$(mval certhub_http_write_cache_${k}_total)" ] || fail "no certhub_http_write_cache_${k}_total"
done
c1=$(mval certhub_http_write_cache_hits_total) p1=$(mval certhub_http_write_cache_writes_total)
[ "$p1" -gt 0 ] || fail "the writer wrote no pages after the imports: $(printf '%s' "$BODY" | grep write_cache)"
api GET /v1/certificates "${AUTH[@]}"
expect 200 "a read between two writes"
api POST /v1/findings/import "${WAUTH[@]}" "${JSON[@]}" --data-binary @"$DATA/findings/mixed.json"
expect 200 "import for the writer's cache"
api GET /metrics
expect 200 "metrics after it"
[ "$(mval certhub_http_write_cache_hits_total)" -gt "$c1" ] ||
  fail "the import did not go through the writer's handle: hits $c1 -> $(mval certhub_http_write_cache_hits_total)"

note "SIGTERM stops the API with the daemon ($SECONDS s)"
serve_stop TERM
[ "$SRC" = 0 ] || fail "serve exited $SRC"
curl -s -o /dev/null "$URL/healthz" && fail "the API still answers after SIGTERM"

note "a listener that cannot start is an error (2) ($SECONDS s)"
run_expect 2 "$CERTHUB" serve --listen "bad-address"
printf '%s' "$ERR" | grep -q 'listen address' || fail "bad listen message: $ERR"

note "TLS with a self-signed certificate; metrics_auth from the config ($SECONDS s)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout "$TMP/api.key" -out "$TMP/api.pem" -days 2 -subj /CN=localhost \
  -addext subjectAltName=IP:127.0.0.1 2>/dev/null
PORT=$(free_port)
cat >"$TMP/tls.yaml" <<EOF2
http:
  listen: 127.0.0.1:$PORT
  tls_cert_file: $TMP/api.pem
  tls_key_file: $TMP/api.key
  metrics_auth: true
  max_body: 4096
EOF2
serve_start --config "$TMP/tls.yaml" serve --interval 1s
URL=https://127.0.0.1:$PORT
wait_until 30 "the https URL in the log" api_up
api GET /healthz --cacert "$TMP/api.pem"
expect 200 "healthz over TLS"
api GET /v1/certificates --cacert "$TMP/api.pem" "${AUTH[@]}"
expect 200 "certificates over TLS"
api GET /metrics --cacert "$TMP/api.pem"
expect 401 "metrics with metrics_auth"
api GET /metrics --cacert "$TMP/api.pem" "${AUTH[@]}"
expect 200 "metrics with a token"
# Expect: 100-continue, as a careful client sends it: the 413 comes before
# the body, so the answer does not race the upload (without it, the server
# may close while curl is still writing, and curl sees a broken pipe).
api POST /v1/findings/import --cacert "$TMP/api.pem" "${WAUTH[@]}" "${JSON[@]}" \
  -H 'Expect: 100-continue' --data-binary @"$TMP/101.json"
expect 413 "max_body 4096"
curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && fail "plain HTTP answered on the TLS port"
serve_stop TERM
[ "$SRC" = 0 ] || fail "TLS serve exited $SRC"
note "SIGHUP moves the listener when http.listen changes"
P1=$(free_port)
printf 'http:\n  listen: 127.0.0.1:%s\n' "$P1" >"$TMP/hup.yaml"
serve_start --config "$TMP/hup.yaml" serve --interval 1s
URL=http://127.0.0.1:$P1
wait_until 30 "the API URL in the log" api_up
curl -sf -o /dev/null "$URL/healthz" || fail "no API on $P1"
P2=$(free_port)
printf 'http:\n  listen: 127.0.0.1:%s\n' "$P2" >"$TMP/hup.yaml"
kill -HUP "$SPID"
moved() { curl -sf -o /dev/null "http://127.0.0.1:$P2/healthz"; }
wait_until 20 "the API on the new port" moved
curl -s -o /dev/null "http://127.0.0.1:$P1/healthz" && fail "the old port still answers"
serve_stop TERM
[ "$SRC" = 0 ] || fail "serve exited $SRC after SIGHUP"
echo "ok"
