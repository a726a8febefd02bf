#!/usr/bin/env bash
# Findings from probes, and OCSF export: real TLS servers (openssl s_server)
# present bad certificates (expired, wrong hostname, weak key, SHA-1,
# self-signed, no intermediate sent) or accept TLS 1.0/1.1; `certhub probe` turns each problem
# into one finding on its endpoint; every exported finding (probe checks,
# an expiry finding from `certhub serve`, imported vulnerability and
# detection findings) validates against the OCSF 1.6.0 JSON Schemas with
# the shared validator; the OCSF export imports back with the same key
# fields; fixing the servers resolves the findings, breaking one again
# reopens its finding.
. "$(dirname "$0")/lib.sh"

SHARED=${CERTHUB_SHARED:-${CERTHUB_SOURCE_DIR:-$(dirname "$0")/../..}/../shared}
OCSF=$SHARED/reference/ocsf
[ -f "$OCSF/validate.py" ] || fail "no OCSF validator at $OCSF (set CERTHUB_SHARED)"
python3 -c 'import jsonschema' 2>/dev/null ||
  fail "python3-jsonschema is missing (scripts/deps.sh test)"

declare -A SRV PORT
stop_servers() {
  for k in "${!SRV[@]}"; do
    kill "${SRV[$k]}" 2>/dev/null || true
    wait "${SRV[$k]}" 2>/dev/null || true
  done
  SRV=()
}
trap 'stop_servers; cleanup' EXIT

# start NAME CERT KEY [s_server options]: serve on NAME's port.
start() {
  local name=$1 cert=$2 key=$3; shift 3
  [ -n "${SRV[$name]:-}" ] && { kill "${SRV[$name]}"; wait "${SRV[$name]}" 2>/dev/null || true; }
  [ -n "${PORT[$name]:-}" ] || PORT[$name]=$(free_port)
  openssl s_server -accept "127.0.0.1:${PORT[$name]}" -www -cert "$cert" \
    -key "$key" -cipher 'DEFAULT@SECLEVEL=0' "$@" </dev/null \
    >"$TMP/$name.log" 2>&1 &
  SRV[$name]=$!
  for _ in $(seq 100); do
    grep -q '^ACCEPT' "$TMP/$name.log" && return 0
    sleep 0.05
  done
  cat "$TMP/$name.log"; fail "s_server $name did not start"
}

C=$TMP/certs; mkdir -p "$C"
gen() { "$CERTHUB_GEN" "$@"; }
signed() { gen --issuer-cert "$C/root.pem" --issuer-key "$C/root.key" "$@"; }
gen --key ec:P-256 --ca --cn "findings root" --not-after +300d -o "$C/root.pem" --key-out "$C/root.key"
signed --key ec:P-256 --cn good.test --san DNS:good.test --not-after +200d -o "$C/good.pem" --key-out "$C/good.key"
signed --key ec:P-256 --cn good.test --san DNS:good.test --not-before -40d --not-after -2d -o "$C/expired.pem" --key-out "$C/expired.key"
signed --key ec:P-256 --cn other.test --san DNS:other.test --not-after +200d -o "$C/hostname.pem" --key-out "$C/hostname.key"
signed --key rsa:1024 --cn good.test --san DNS:good.test --not-after +200d -o "$C/weak.pem" --key-out "$C/weak.key"
signed --key ec:P-256 --sig sha1 --cn good.test --san DNS:good.test --not-after +200d -o "$C/sha1.pem" --key-out "$C/sha1.key"
gen --key ec:P-256 --cn good.test --san DNS:good.test --not-after +200d -o "$C/selfsigned.pem" --key-out "$C/selfsigned.key"
# A leaf under an intermediate that its server does not send; certhub
# knows the intermediate (imported), so it can tell what is missing.
gen --key ec:P-256 --ca --issuer-cert "$C/root.pem" --issuer-key "$C/root.key" --cn "findings inter" --not-after +300d -o "$C/inter.pem" --key-out "$C/inter.key"
gen --key ec:P-256 --issuer-cert "$C/inter.pem" --issuer-key "$C/inter.key" --cn good.test --san DNS:good.test --not-after +200d -o "$C/nointer.pem" --key-out "$C/nointer.key"
run_expect 0 "$CERTHUB" import -q "$C/inter.pem"
id_of() { openssl x509 -in "$1" -outform DER | sha256sum | cut -c1-16; }

KINDS="expired hostname weak sha1 selfsigned nointer legacy"
for k in $KINDS; do
  if [ "$k" = legacy ]; then start legacy "$C/good.pem" "$C/good.key" -min_protocol TLSv1
  else start "$k" "$C/$k.pem" "$C/$k.key" -min_protocol TLSv1.2; fi
done
BASE=http://certhub.test:9000
probe_all() {
  local targets=()
  for k in $KINDS; do targets+=("127.0.0.1:${PORT[$k]}"); done
  run_expect 0 "$CERTHUB" probe --legacy --ca-file "$C/root.pem" --sni good.test \
    --base-url "$BASE/" -o json "${targets[@]}"
}
ports_json() {
  local s="{" sep=""
  for k in $KINDS; do s+="$sep\"$k\": ${PORT[$k]}"; sep=", "; done
  echo "$s}"
}

note "1. bad servers: one finding per problem on each endpoint"
probe_all
grep -q 'findings written' <<<"$ERR" || fail "probe did not report findings: $ERR"
"$CERTHUB" findings list -o json >"$TMP/f1.json"
for k in $KINDS; do
  [ "$k" = legacy ] && continue
  printf '%s %s\n' "$k" "$(id_of "$C/$k.pem")"
done >"$TMP/ids.txt"
python3 - "$TMP/f1.json" "$(ports_json)" "$BASE" "$TMP/ids.txt" <<'PY' || fail "findings after the bad probe"
import json, sys
finds = json.load(open(sys.argv[1]))
ports = json.loads(sys.argv[2]); base = sys.argv[3]
ids = dict(l.split() for l in open(sys.argv[4]))
want = {
    "expired": {"expiry": "CRITICAL"},
    "hostname": {"hostname-mismatch": "HIGH"},
    "weak": {"weak-key": "HIGH"},
    "sha1": {"sha1-signature": "HIGH"},
    "selfsigned": {"untrusted-chain": "HIGH"},
    "nointer": {"missing-intermediate": "MEDIUM"},
    "legacy": {"legacy-tls": "MEDIUM"},
}
def fail(m):
    print("FAIL: " + m, file=sys.stderr); sys.exit(1)
by_id = {f["Id"]: f for f in finds}
if len(by_id) != len(finds):
    fail("duplicate finding Ids")
for kind, checks in want.items():
    ep = "tls://127.0.0.1:%d;sni=good.test" % ports[kind]
    got = {f["Id"][len(ep) + 1:]: f for f in finds if f["Id"].startswith(ep + "/")}
    # The SHA-1 leaf is also refused by OpenSSL's verification (too weak a
    # digest): that is an untrusted chain as well.
    extra = {"untrusted-chain"} if kind == "sha1" else set()
    if set(got) - extra != set(checks):
        fail("%s: checks %s, want %s" % (kind, sorted(got), sorted(checks)))
    for check, sev in checks.items():
        f = got[check]
        if f["Severity"]["Label"] != sev:
            fail("%s/%s: severity %s, want %s" % (kind, check, f["Severity"]["Label"], sev))
        if (f["Compliance"]["Status"], f["RecordState"], f["Workflow"]["Status"]) != ("FAILED", "ACTIVE", "NEW"):
            fail("%s/%s: state %s" % (kind, check, f))
        if f["GeneratorId"] != "certhub-probe" or f["Types"][0].split("/")[0] != "Software and Configuration Checks":
            fail("%s/%s: generator/types %s %s" % (kind, check, f["GeneratorId"], f["Types"]))
        res = f["Resources"]
        if len(res) != 2 or not res[0]["Id"].startswith("arn:certhub:acm:") or res[1]["Id"] != ep:
            fail("%s/%s: resources %s" % (kind, check, res))
        url = f["Remediation"]["Recommendation"]["Url"]
        if kind in ids and url != base + "/certificates/" + ids[kind]:
            fail("%s/%s: remediation url %s, want %s" % (kind, check, url, ids[kind]))
        if not f["Remediation"]["Recommendation"]["Text"]:
            fail("%s/%s: no remediation text" % (kind, check))
PY

note "2. a second probe updates the same findings (no new ones)"
n1=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$TMP/f1.json")
probe_all
n2=$("$CERTHUB" findings list -o json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$n1" = "$n2" ] || fail "second probe: $n2 findings, had $n1"

note "3. every kind of finding exported as OCSF validates against OCSF 1.6.0"
# An expiry finding from the event bus (certhub serve's seed rules).
gen --key ec:P-256 --cn soon.test --not-after +10d -o "$C/soon.pem" --key-out "$C/soon.key"
run_expect 0 "$CERTHUB" import -q "$C/soon.pem"
run_expect 0 timeout 60 "$CERTHUB" serve --once
# Another producer's vulnerability and detection findings.
cat >"$TMP/other.json" <<'EOF'
[{"SchemaVersion":"2018-10-08","Id":"vuln-1","ProductArn":"arn:aws:securityhub:eu-west-1:123456789012:product/123456789012/default","GeneratorId":"scanner","AwsAccountId":"123456789012","Types":["Software and Configuration Checks/Vulnerabilities/CVE"],"CreatedAt":"2026-11-01T00:00:00Z","UpdatedAt":"2026-11-02T00:00:00Z","Severity":{"Label":"CRITICAL"},"Title":"Heartbleed","Description":"OpenSSL heartbeat overread","Resources":[{"Type":"Other","Id":"host-1"}],"Vulnerabilities":[{"Id":"CVE-2014-0160","ReferenceUrls":["https://nvd.nist.gov/vuln/detail/CVE-2014-0160"]}]},
 {"SchemaVersion":"2018-10-08","Id":"det-1","ProductArn":"arn:aws:securityhub:eu-west-1:123456789012:product/123456789012/default","GeneratorId":"ids","AwsAccountId":"123456789012","Types":["TTPs/Initial Access"],"CreatedAt":"2026-11-01T00:00:00Z","UpdatedAt":"2026-11-01T00:00:00Z","Severity":{"Normalized":60},"Title":"Scan","Description":"A TLS scan from 192.0.2.7","Resources":[{"Type":"Other","Id":"host-1"}],"Note":{"Text":"seen before","UpdatedBy":"ops","UpdatedAt":"2026-11-01T00:00:00Z"}}]
EOF
run_expect 0 "$CERTHUB" findings import "$TMP/other.json"
run_expect 0 "$CERTHUB" findings export --format ocsf --out "$TMP/ocsf.json"
grep -q 'exported to' <<<"$ERR" || fail "export did not report: $ERR"
mkdir -p "$TMP/ocsf"
python3 - "$TMP/ocsf.json" "$TMP/ocsf" <<'PY' || fail "splitting the export"
import json, sys
names = {2002: "vulnerability_finding", 2003: "compliance_finding", 2004: "detection_finding"}
seen = {}
for i, f in enumerate(json.load(open(sys.argv[1]))):
    cls = names[f["class_uid"]]
    kind = f["finding_info"]["uid"].rsplit("/", 1)[-1]
    seen.setdefault(cls, set()).add(kind)
    json.dump(f, open("%s/%s.%03d.json" % (sys.argv[2], cls, i), "w"))
want = {"vulnerability_finding": {"vuln-1"}, "detection_finding": {"det-1"},
        "compliance_finding": {"expiry", "hostname-mismatch", "weak-key",
                               "sha1-signature", "untrusted-chain", "legacy-tls",
                               "missing-intermediate"}}
for cls, kinds in want.items():
    if not kinds <= seen.get(cls, set()):
        print("FAIL: %s exported: %s, want %s" % (cls, seen.get(cls), kinds), file=sys.stderr)
        sys.exit(1)
PY
for cls in compliance_finding vulnerability_finding detection_finding; do
  python3 "$OCSF/validate.py" "$OCSF/jsonschema-1.6.0/$cls.cloud-datetime.schema.json" \
    "$TMP/ocsf/$cls".*.json >"$TMP/validate.out" ||
    { cat "$TMP/validate.out"; fail "$cls: exported findings do not validate"; }
done
# The validator does reject: the shared negative example, and one of ours
# without its compliance object.
python3 -c 'import json,sys; f=json.load(open(sys.argv[1])); del f["compliance"]; json.dump(f, open(sys.argv[2], "w"))' \
  "$(ls "$TMP/ocsf"/compliance_finding.*.json | head -1)" "$TMP/broken.json"
for bad in "$OCSF/examples/negative.json" "$TMP/broken.json"; do
  if python3 "$OCSF/validate.py" "$OCSF/jsonschema-1.6.0/compliance_finding.cloud-datetime.schema.json" \
       "$bad" >/dev/null; then fail "validator accepted $bad"; fi
done

note "4. OCSF round trip: export, import into an empty store, same key fields"
run_expect 0 "$CERTHUB" findings export --format asff --jsonl --out "$TMP/asff.jsonl"
run_expect 0 "$CERTHUB" findings export --format ocsf --jsonl --out "$TMP/ocsf.jsonl"
DB1=$CERTHUB_DB
export CERTHUB_DB=$TMP/db2/certhub.db
run_expect 0 "$CERTHUB" findings import --format ocsf "$TMP/ocsf.jsonl"
"$CERTHUB" findings export --format asff --jsonl >"$TMP/asff2.jsonl"
python3 - "$TMP/asff.jsonl" "$TMP/asff2.jsonl" <<'PY' || fail "round trip"
import json, sys
from datetime import datetime
def load(p): return {f["Id"]: f for f in map(json.loads, open(p))}
a, b = load(sys.argv[1]), load(sys.argv[2])
if set(a) != set(b):
    print("FAIL: ids differ", set(a) ^ set(b), file=sys.stderr); sys.exit(1)
def t(s): return datetime.fromisoformat(s.replace("Z", "+00:00"))
for i in a:
    x, y = a[i], b[i]
    for k in ("ProductArn", "GeneratorId", "AwsAccountId", "Title", "Description",
              "Types", "Severity", "RecordState", "Workflow", "Compliance",
              "Remediation", "Resources", "Note", "ProductFields", "Vulnerabilities"):
        if k in x and x.get(k) != y.get(k):
            if k == "Vulnerabilities" and [v["Id"] for v in x[k]] == [v["Id"] for v in y[k]]:
                continue
            print("FAIL: %s: %s: %s != %s" % (i, k, x.get(k), y.get(k)), file=sys.stderr); sys.exit(1)
    for k in ("CreatedAt", "UpdatedAt", "FirstObservedAt", "LastObservedAt"):
        if k in x and t(x[k]) != t(y[k]):
            print("FAIL: %s: %s" % (i, k), file=sys.stderr); sys.exit(1)
PY
# Bad input: a finding of another class, and not JSON.
echo '{"class_uid":4001,"finding_info":{"uid":"n-1"},"time":1}' >"$TMP/net.json"
run_expect 2 "$CERTHUB" findings import --format ocsf "$TMP/net.json"
grep -q 'class_uid 4001' <<<"$ERR" || fail "class refusal not explained: $ERR"
echo '{"class_uid":2003,' >"$TMP/cut.json"
before=$(db_digest)
run_expect 2 "$CERTHUB" findings import --format ocsf "$TMP/cut.json"
grep -q 'invalid JSON' <<<"$ERR" || fail "truncated input not explained: $ERR"
[ "$(db_digest)" = "$before" ] || fail "a refused import changed the store"
export CERTHUB_DB=$DB1

note "5. fixed servers: every probe finding resolved"
for k in $KINDS; do start "$k" "$C/good.pem" "$C/good.key" -min_protocol TLSv1.2; done
probe_all
"$CERTHUB" findings list -o json >"$TMP/f2.json"
python3 - "$TMP/f2.json" <<'PY' || fail "findings after the fix"
import json, sys
probe = [f for f in json.load(open(sys.argv[1])) if f["GeneratorId"] == "certhub-probe"]
if len(probe) < 7:
    print("FAIL: %d probe findings" % len(probe), file=sys.stderr); sys.exit(1)
for f in probe:
    st = (f["Compliance"]["Status"], f["RecordState"], f["Workflow"]["Status"])
    if st != ("PASSED", "ARCHIVED", "RESOLVED"):
        print("FAIL: %s not resolved: %s" % (f["Id"], st), file=sys.stderr); sys.exit(1)
PY
run_expect 0 "$CERTHUB" findings list --record-state ACTIVE -o csv
grep -q 'tls://' <<<"$OUT" && fail "active probe findings left: $OUT"

note "6. broken again: the finding reopens"
start selfsigned "$C/selfsigned.pem" "$C/selfsigned.key" -min_protocol TLSv1.2
probe_all
"$CERTHUB" findings list -o json --record-state ACTIVE >"$TMP/f3.json"
python3 - "$TMP/f3.json" "${PORT[selfsigned]}" <<'PY' || fail "reopened finding"
import json, sys
act = [f for f in json.load(open(sys.argv[1])) if f["GeneratorId"] == "certhub-probe"]
want = "tls://127.0.0.1:%s;sni=good.test/untrusted-chain" % sys.argv[2]
if [f["Id"] for f in act] != [want]:
    print("FAIL: active %s, want %s" % ([f["Id"] for f in act], want), file=sys.stderr); sys.exit(1)
f = act[0]
if (f["Compliance"]["Status"], f["Workflow"]["Status"]) != ("FAILED", "NEW"):
    print("FAIL: reopened as %s" % f, file=sys.stderr); sys.exit(1)
PY

note "7. --no-findings stores the probe and leaves findings alone"
before=$("$CERTHUB" findings export --format asff | sha256sum)
start selfsigned "$C/good.pem" "$C/good.key"
run_expect 0 "$CERTHUB" probe --no-findings --ca-file "$C/root.pem" --sni good.test "127.0.0.1:${PORT[selfsigned]}"
[ "$("$CERTHUB" findings export --format asff | sha256sum)" = "$before" ] ||
  fail "--no-findings changed findings"
run_expect 2 "$CERTHUB" probe --base-url ftp://x "127.0.0.1:${PORT[selfsigned]}"
echo "ok"
