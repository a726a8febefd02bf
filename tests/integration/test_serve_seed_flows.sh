#!/usr/bin/env bash
# The two seed rules with the real daemon (no rules: in the config):
# (a) each certificate approaching expiry or expired becomes one message on
#     the certificate-expiry topic and one finding;
# (b) the weekly digest (Sunday 00:05 UTC) becomes ONE message listing every
#     expiring certificate, and updates (does not double) the findings.
# Then SIGTERM (exit 0), and a --once restart the same day adds nothing.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/serve_lib.sh"
t0=$SECONDS

# Sunday 2026-12-06, two seconds before the digest's 00:05.
NOW=2026-12-06T00:04:58Z
G() { "$CERTHUB_GEN" --now "$NOW" "$@"; }
mkdir -p "$TMP/web" "$TMP/ops"
G --cn web-%d.example.test --count 3 --not-after +10d -o "$TMP/web/soon.pem"
G --cn far.example.test --not-after +200d -o "$TMP/web/far.pem"
G --cn edge46.example.test --not-after +46d -o "$TMP/web/edge46.pem"
G --cn ops-%d.example.test --count 2 --not-after +30d -o "$TMP/ops/month.pem"
G --cn edge45.example.test --not-after +45d -o "$TMP/ops/edge45.pem"
G --cn old.example.test --not-before -100d --not-after -5d -o "$TMP/ops/old.pem"
run_expect 0 "$CERTHUB" --now "$NOW" import --tag owner=web "$TMP/web"
run_expect 0 "$CERTHUB" --now "$NOW" import --tag owner=ops "$TMP/ops"

# The expectation, from the inventory: name -> [arn, owner, days].
"$CERTHUB" --now "$NOW" list -o json >"$TMP/certs.json"
python3 - "$TMP/certs.json" >"$TMP/expect.json" <<'PY'
import json, sys
want = {"web-1.example.test": ("web", 10), "web-2.example.test": ("web", 10),
        "web-3.example.test": ("web", 10), "ops-1.example.test": ("ops", 30),
        "ops-2.example.test": ("ops", 30), "edge45.example.test": ("ops", 45)}
certs = {c["CommonName"]: c for c in json.load(open(sys.argv[1]))}
assert len(certs) == 9, sorted(certs)
out = {"approaching": {}, "expired": {}, "quiet": []}
for cn, (owner, days) in want.items():
    c = certs[cn]
    tags = {t["Key"]: t["Value"] for t in c["Tags"]}
    assert tags.get("owner") == owner, (cn, tags)
    assert c["DaysToExpiry"] == days, (cn, c["DaysToExpiry"])
    out["approaching"][cn] = [c["CertificateArn"], owner, days]
out["expired"]["old.example.test"] = [certs["old.example.test"]["CertificateArn"], "ops", None]
out["quiet"] = [certs[n]["CertificateArn"] for n in ("far.example.test", "edge46.example.test")]
print(json.dumps(out))
PY

note "serve from $NOW (real time from there), --interval 1s"
serve_start --now "$NOW" serve --interval 1s
digest_count() {
  "$CERTHUB" topics messages certificate-expiry -o json |
    pyjson 'sum(1 for m in d if json.loads(m["Message"])["detail-type"] == "Scheduled Event")'
}
digest_in() { [ "$(digest_count)" -ge 1 ]; }
wait_until 60 "the weekly digest on topic certificate-expiry" digest_in
# The schedule fired; everything it enqueued is delivered.
no_pending() { [ "$(outbox_count pending)" = 0 ]; }
wait_until 30 "every delivery done" no_pending
sleep 1.5 # a second pass must not fire the schedule again
serve_stop TERM 20
[ "$SRC" = 0 ] || fail "serve exited $SRC after SIGTERM"
log_has 'SIGTERM: draining and stopping' || fail "no SIGTERM line in the log"
log_has 'certhub serve: stopped: ' || fail "the log does not say stopped"
grep -q 'schedules fired' "$SLOG" || fail "no pass logged"

"$CERTHUB" topics messages certificate-expiry -o json >"$TMP/messages.json"
"$CERTHUB" findings list -o json >"$TMP/findings.json"
"$CERTHUB" events list -o json >"$TMP/events.json"
check() {
  python3 - "$TMP/expect.json" "$TMP/messages.json" "$TMP/findings.json" \
    "$TMP/events.json" <<'PY'
import datetime, json, sys
exp, msgs, finds, events = (json.load(open(p)) for p in sys.argv[1:5])
appr, expired, quiet = exp["approaching"], exp["expired"], set(exp["quiet"])
def fail(m):
    print("FAIL: " + m, file=sys.stderr)
    sys.exit(1)

# (a) one message per approaching certificate, one for the expired one
by_dt = {}
for m in msgs:
    ev = json.loads(m["Message"])
    if m["Topic"] != "certificate-expiry":
        fail("message on topic %s" % m["Topic"])
    by_dt.setdefault(ev["detail-type"], []).append((m, ev))
a = by_dt.get("ACM Certificate Approaching Expiration", [])
if sorted(ev["detail"]["CommonName"] for _, ev in a) != sorted(appr):
    fail("approaching messages for %s, want one each for %s" %
         (sorted(ev["detail"]["CommonName"] for _, ev in a), sorted(appr)))
for m, ev in a:
    arn, owner, days = appr[ev["detail"]["CommonName"]]
    if ev["resources"] != [arn]:
        fail("message for %s carries %s, want %s" % (ev["detail"]["CommonName"], ev["resources"], arn))
    if ev["detail"]["DaysToExpiry"] != days or ev["source"] != "certhub.acm":
        fail("message detail %s" % ev)
    # the renderer's subject, with the expiry date (certhub/notify_render.h)
    when = datetime.date(2026, 12, 6) + datetime.timedelta(days=days)
    want_subj = "Certificate %s expires in %d days (%s)" % (ev["detail"]["CommonName"], days, when.isoformat())
    if m["Subject"] != want_subj:
        fail("subject %r, want %r" % (m["Subject"], want_subj))
    # MessageAttributes of certhub's own messages (certhub/notify_render.h)
    got = {k: (v["Type"], v["Value"]) for k, v in m.get("MessageAttributes", {}).items()}
    want = {"detail-type": ("String", "ACM Certificate Approaching Expiration"),
            "source": ("String", "certhub.acm"),
            "certificate_arn": ("String", arn),
            "certificate_id": ("String", arn.split("/")[-1].replace("-", "")[:16]),
            "common_name": ("String", ev["detail"]["CommonName"]),
            "days_to_expiry": ("Number", str(days)),
            "owner": ("String", owner),
            "tags": ("String.Array", '["owner=%s"]' % owner)}
    if got != want:
        fail("message attributes %s, want %s" % (got, want))
e = by_dt.get("ACM Certificate Expired", [])
if len(e) != 1 or e[0][1]["resources"] != [expired["old.example.test"][0]]:
    fail("expired messages: %s" % [ev["resources"] for _, ev in e])
if e[0][0]["Subject"] != "Certificate old.example.test expired on 2026-12-01":
    fail("expired subject %r" % e[0][0]["Subject"])
for _, ev in a + e:
    if quiet & set(ev["resources"]):
        fail("message for a certificate outside its threshold: %s" % ev["resources"])

# (b) exactly one digest, listing every expiring certificate once
d = by_dt.get("Scheduled Event", [])
if len(d) != 1:
    fail("%d digest messages, want 1" % len(d))
m, ev = d[0]
if ev["source"] != "aws.events" or ev["time"] != "2026-12-06T00:05:00Z":
    fail("digest envelope %s %s" % (ev["source"], ev["time"]))
if not ev["resources"][0].endswith(":rule/weekly-expiry-digest"):
    fail("digest resources %s" % ev["resources"])
det = ev["detail"]
ma = m.get("MessageAttributes", {})
if (ma.get("detail-type", {}).get("Value") != "Scheduled Event" or
        ma.get("certificate_count") != {"Type": "Number", "Value": str(len(appr))} or
        ma.get("days_to_expiry") != {"Type": "Number", "Value": "10"} or
        sorted(json.loads(ma.get("owners", {}).get("Value", "[]"))) != ["ops", "web"]):
    fail("digest message attributes %s" % ma)
if det["count"] != len(appr) or len(det["certificates"]) != len(appr):
    fail("digest count %s / %d certificates, want %d" % (det["count"], len(det["certificates"]), len(appr)))
names = sorted(c["CommonName"] for c in det["certificates"])
if names != sorted(appr):
    fail("digest lists %s, want %s" % (names, sorted(appr)))
for c in det["certificates"]:
    arn, owner, days = appr[c["CommonName"]]
    if (c["Arn"], c["Owner"], c["DaysToExpiry"]) != (arn, owner, days):
        fail("digest entry %s, want %s" % (c, (arn, owner, days)))
if m["Subject"] != ("certhub digest: %d certificates expiring, the soonest in "
                    "10 days (web-1.example.test)" % len(appr)):
    fail("digest subject %r" % m["Subject"])
if len(msgs) != len(appr) + 2:
    fail("%d messages in all, want %d" % (len(msgs), len(appr) + 2))

# findings: one per certificate (approaching or expired), none doubled
ids = [f["Id"] for f in finds]
if len(ids) != len(set(ids)):
    fail("duplicate findings: %s" % ids)
by_res = {}
for f in finds:
    by_res.setdefault(f["Resources"][0]["Id"], []).append(f)
want = {v[0] for v in appr.values()} | {v[0] for v in expired.values()}
if set(by_res) != want or any(len(v) != 1 for v in by_res.values()):
    fail("findings for %s, want one each for %s" % (sorted(by_res), sorted(want)))
for cn, (arn, owner, days) in appr.items():
    f = by_res[arn][0]
    if f["Id"] != arn + "/expiry" or cn not in f["Title"]:
        fail("finding %s / %s for %s" % (f["Id"], f["Title"], cn))
    # the digest updated it (00:05:00), the event created it (00:04:58)
    if not f["UpdatedAt"].startswith("2026-12-06T00:05:0"):
        fail("finding of %s not updated by the digest: %s" % (cn, f["UpdatedAt"]))
    sev = "HIGH" if days <= 7 else "MEDIUM" if days <= 30 else "LOW"
    if f["Severity"]["Label"] != sev:
        fail("%s severity %s" % (cn, f["Severity"]["Label"]))
if by_res[expired["old.example.test"][0]][0]["Severity"]["Label"] != "CRITICAL":
    fail("expired finding not CRITICAL")

# events: one per certificate and kind, one Scheduled Event
kinds = {}
for ev in events:
    k = (ev["DetailType"], tuple(ev["Event"]["resources"]))
    kinds[k] = kinds.get(k, 0) + 1
    if not ev["Routed"]:
        fail("event %s not routed" % ev["EventId"])
if any(v != 1 for v in kinds.values()):
    fail("duplicate events: %s" % {k: v for k, v in kinds.items() if v != 1})
print(len(msgs), len(finds), len(events))
PY
}
counts=$(check) || fail "seed flow check"
note "messages, findings, events: $counts"

note "restart with --once, later the same day: nothing new"
serve_start --now 2026-12-06T09:30:00Z serve --once
set +e; wait "$SPID"; SRC=$?; set -e; SPID=
[ "$SRC" = 0 ] || fail "serve --once exited $SRC"
"$CERTHUB" topics messages certificate-expiry -o json >"$TMP/messages.json"
"$CERTHUB" findings list -o json >"$TMP/findings.json"
"$CERTHUB" events list -o json >"$TMP/events.json"
again=$(check) || fail "after the --once restart"
[ "$again" = "$counts" ] || fail "the --once restart changed the counts: $counts -> $again"

note "across midnight (--interval 60s): the new day's events, edge46 enters its threshold"
serve_start --now 2026-12-06T23:59:58Z serve
day2() {
  "$CERTHUB" events list --detail-type "ACM Certificate Approaching Expiration" \
    --since 2026-12-07T00:00:00Z -o json | pyjson 'len(d)'
}
seven() { [ "$(day2)" -ge 7 ]; }
wait_until 30 "the 2026-12-07 evaluation" seven
wait_until 30 "every delivery done" no_pending
serve_stop TERM 20
[ "$SRC" = 0 ] || fail "serve exited $SRC"
"$CERTHUB" events list -o json >"$TMP/events.json"
"$CERTHUB" topics messages certificate-expiry -o json >"$TMP/messages.json"
"$CERTHUB" findings list -o json >"$TMP/findings.json"
python3 - "$TMP/expect.json" "$TMP/events.json" "$TMP/messages.json" "$TMP/findings.json" <<'PY' ||
import collections, json, sys
exp, events, msgs, finds = (json.load(open(p)) for p in sys.argv[1:5])
want = {cn: v[2] - 1 for cn, v in exp["approaching"].items()}
want["edge46.example.test"] = 45
got = collections.Counter()
for e in events:
    if e["DetailType"] == "ACM Certificate Approaching Expiration" and e["Time"] >= "2026-12-07":
        det = e["Event"]["detail"]
        got[det["CommonName"]] += 1
        if det["DaysToExpiry"] != want.get(det["CommonName"]):
            sys.exit("FAIL: %s on 2026-12-07: %s days" % (det["CommonName"], det["DaysToExpiry"]))
if sorted(got) != sorted(want) or set(got.values()) != {1}:
    sys.exit("FAIL: 2026-12-07 approaching events: %s" % dict(got))
if sum(1 for e in events if e["DetailType"] == "ACM Certificate Expired") != 1:
    sys.exit("FAIL: the Expired event was sent again")
new = [m for m in msgs if m["Timestamp"] >= "2026-12-07"]
if sorted(json.loads(m["Message"])["detail"]["CommonName"] for m in new) != sorted(want):
    sys.exit("FAIL: 2026-12-07 messages: %s" % [m["Subject"] for m in new])
ids = [f["Id"] for f in finds]
if len(ids) != 8 or len(set(ids)) != 8:
    sys.exit("FAIL: %d findings (%d distinct), want 8" % (len(ids), len(set(ids))))
titles = {f["Title"] for f in finds}
for cn, d in want.items():
    if "Certificate %s expires in %d days" % (cn, d) not in titles:
        sys.exit("FAIL: no updated finding for %s (%d days): %s" % (cn, d, sorted(titles)))
PY
  fail "midnight rollover"

note "a digest missed while serve was down is caught up once, not twice"
for at in 2026-12-13T01:00:00Z 2026-12-13T02:00:00Z; do
  serve_start --now "$at" serve --once
  set +e; wait "$SPID"; SRC=$?; set -e; SPID=
  [ "$SRC" = 0 ] || fail "serve --once at $at exited $SRC"
done
"$CERTHUB" topics messages certificate-expiry -o json >"$TMP/messages.json"
python3 - "$TMP/messages.json" <<'PY' || fail "catch-up digest"
import json, sys
d = [json.loads(m["Message"]) for m in json.load(open(sys.argv[1]))]
d = [e for e in d if e["detail-type"] == "Scheduled Event"]
if len(d) != 2:
    sys.exit("FAIL: %d digests after the catch-up, want 2" % len(d))
late = max(d, key=lambda e: e["time"])
names = sorted(c["CommonName"] for c in late["detail"]["certificates"])
want = sorted(["web-1.example.test", "web-2.example.test", "web-3.example.test",
               "ops-1.example.test", "ops-2.example.test", "edge45.example.test",
               "edge46.example.test"])
if names != want or late["detail"]["count"] != 7:
    sys.exit("FAIL: the catch-up digest lists %s" % names)
PY

echo "PASS test_serve_seed_flows ($((SECONDS - t0))s)"
