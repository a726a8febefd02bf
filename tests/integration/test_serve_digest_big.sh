#!/usr/bin/env bash
# The weekly digest of a big inventory, end to end with the seed rules:
# 2,000 certificates within their threshold make a Scheduled Event far
# larger than PutEvents' 256 KiB. The bus archives it whole (certhub's own
# batch cap), the findings target makes one finding per certificate, and
# the topic gets ONE digest message within 256 KiB: the most urgent
# certificates, detail.count the total, detail.truncated true. No dead
# letters. A user's PutEvents keeps the 256 KiB limit.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/serve_lib.sh"
t0=$SECONDS

SAT=2026-12-05T12:00:00Z
SUN=2026-12-06T00:06:00Z # a minute after the digest's 00:05
N=2000

note "serve --once on Saturday, empty inventory: the seed rules are applied"
serve_start --now "$SAT" serve --once
set +e; wait "$SPID"; SRC=$?; set -e; SPID=
[ "$SRC" = 0 ] || fail "serve --once at $SAT exited $SRC"

note "$N certificates expiring within 45 days (one key, signed many times), 3 beyond"
G() { "$CERTHUB_GEN" --now "$SUN" "$@"; }
mkdir -p "$TMP/inv"
# long names and SANs: bigger digest entries, like real inventories
G --cn 'd40-%d.a-rather-long-service-name.internal.example.test' --count 500 --not-after +40d -o "$TMP/inv/d40.pem"
G --cn 'd20-%d.a-rather-long-service-name.internal.example.test' --count 500 --not-after +20d -o "$TMP/inv/d20.pem"
G --cn 'd9-%d.a-rather-long-service-name.internal.example.test' --count 500 --not-after +9d -o "$TMP/inv/d9.pem"
G --cn 'd2-%d.a-rather-long-service-name.internal.example.test' --count 500 --not-after +2d -o "$TMP/inv/d2.pem"
G --cn 'far-%d.example.test' --count 3 --not-after +200d -o "$TMP/inv/far.pem"
run_expect 0 "$CERTHUB" --now "$SUN" import --tag owner=platform "$TMP/inv"

note "serve --once on Sunday 00:06: the digest fires"
t1=$SECONDS
serve_start --now "$SUN" serve --once
set +e; wait "$SPID"; SRC=$?; set -e; SPID=
[ "$SRC" = 0 ] || fail "serve --once at $SUN exited $SRC"
note "serve --once took $((SECONDS - t1))s"

[ "$(outbox_count pending)" = 0 ] || fail "deliveries still pending"
[ "$(outbox_count dead)" = 0 ] || fail "dead letters: $(outbox_count dead)"
[ "$(outbox_count failed)" = 0 ] || fail "failed deliveries: $(outbox_count failed)"
run_expect 0 "$CERTHUB" dlq list -o json
[ "$(echo "$OUT" | pyjson 'len(d)')" = 0 ] || fail "dlq list: $OUT"

# The archive: list and show still work on the big event.
"$CERTHUB" events list --detail-type "Scheduled Event" -o json >"$TMP/sched.json"
id=$(pyjson 'd[0]["EventId"] if len(d) == 1 else "count %d" % len(d)' <"$TMP/sched.json")
case $id in count*) fail "scheduled events in the archive: $id" ;; esac
"$CERTHUB" events show "$id" -o json >"$TMP/show.json"
"$CERTHUB" topics messages certificate-expiry -o json >"$TMP/messages.json"
"$CERTHUB" list -o json >"$TMP/certs.json"
"$CERTHUB" findings list --limit 10000 -o json >"$TMP/findings.json"

python3 - "$N" "$TMP/show.json" "$TMP/messages.json" "$TMP/certs.json" "$TMP/findings.json" <<'PY' || fail "the big digest"
import json, sys
n = int(sys.argv[1])
show, msgs, certs, finds = (json.load(open(p)) for p in sys.argv[2:6])
def bad(m):
    sys.exit("FAIL: " + m)

# the archived event: every certificate, over 256 KiB
ev = show["Event"]
size = len(json.dumps(ev, separators=(",", ":")).encode())
if size <= 262144:
    bad("the archived event is %d bytes; the test needs one over 256 KiB" % size)
det = ev["detail"]
if det["count"] != n or len(det["certificates"]) != n or det.get("truncated"):
    bad("archived detail: count %s, %d listed" % (det["count"], len(det["certificates"])))
ds = {d["TargetId"]: d["State"] for d in show["Deliveries"]}
if ds != {"findings": "DELIVERED", "notify": "DELIVERED"} and \
   {k: v.lower() for k, v in ds.items()} != {"findings": "delivered", "notify": "delivered"}:
    bad("deliveries of the digest event: %s" % show["Deliveries"])

# the topic: exactly one digest message, within 256 KiB, the most urgent
dig = [m for m in msgs if json.loads(m["Message"])["detail-type"] == "Scheduled Event"]
if len(dig) != 1:
    bad("%d digest messages, want 1" % len(dig))
m = dig[0]
if len(m["Message"].encode()) > 262144:
    bad("digest message is %d bytes" % len(m["Message"].encode()))
# its MessageAttributes count toward 256 KiB too, and say the whole count
ma = m.get("MessageAttributes", {})
asize = sum(len(k) + len(v["Type"]) + len(v["Value"].encode()) for k, v in ma.items())
if len(m["Message"].encode()) + asize > 262144:
    bad("digest message and attributes are %d bytes" % (len(m["Message"].encode()) + asize))
if ma.get("certificate_count") != {"Type": "Number", "Value": str(n)} or \
        ma.get("owners") != {"Type": "String.Array", "Value": '["platform"]'}:
    bad("digest attributes %s" % ma)
md = json.loads(m["Message"])["detail"]
kept = md["certificates"]
if md["count"] != n or md.get("truncated") is not True or not 0 < len(kept) < n:
    bad("digest detail: count %s truncated %s, %d listed" % (md["count"], md.get("truncated"), len(kept)))
days = [c["DaysToExpiry"] for c in kept]
if days != sorted(days):
    bad("the listed certificates are not in days order")
# the most urgent: everything sooner than the last listed day is listed
last = days[-1]
sooner = sum(1 for c in det["certificates"] if c["DaysToExpiry"] < last)
if sum(1 for d in days if d < last) != sooner or days[0] != 2:
    bad("not the most urgent: last listed day %d, %d sooner in the inventory" % (last, sooner))
if not m["Subject"].startswith(
        "certhub digest: %d certificates expiring, the soonest in 2 days (d2-" % n):
    bad("digest subject %r" % m["Subject"])

# findings: one per certificate within the threshold, none for the far ones
arns = {c["CertificateArn"]: c for c in certs}
due = {a for a, c in arns.items() if c["DaysToExpiry"] <= 45}
if len(due) != n:
    bad("%d certificates within the threshold, want %d" % (len(due), n))
got = {}
for f in finds:
    for r in f["Resources"]:
        got.setdefault(r["Id"], 0)
        got[r["Id"]] += 1
if set(got) & due != due or any(got[a] != 1 for a in due):
    bad("findings cover %d of %d certificates (dupes: %d)" %
        (len(set(got) & due), n, sum(1 for a in due if got.get(a, 0) > 1)))
if set(got) - due:
    bad("findings for certificates outside the threshold: %d" % len(set(got) - due))
print("event %d bytes, message %d bytes, %d of %d listed, %d findings" %
      (size, len(m["Message"].encode()), len(kept), n, len(finds)))
PY

note "a user's PutEvents keeps the 256 KiB entry limit"
python3 -c 'import json; print(json.dumps({"x": "a" * 262144}))' >"$TMP/big.json"
run_expect 2 "$CERTHUB" events put --source my.app --detail-type Big --detail "@$TMP/big.json"
echo "$ERR" | grep -q "262144 bytes" || fail "events put error: $ERR"

echo "PASS test_serve_digest_big ($((SECONDS - t0))s)"
