#!/usr/bin/env bash
# certhub demo: builds a sample estate of a few hundred certificates spread
# over four teams' folders in every supported format, imports it into
# demo-out/demo.db and prints the expiry report.
#
#   scripts/demo.sh          (run by `make demo`, after the build)
#
# Environment: BUILD (default build/), KEEP=1 keeps the generated estate
# (its path is printed), DEMO_NOW=RFC3339 pins the clock.
#
# Each stage is a function; main() at the bottom lists them in order, so a
# later stage (events, notifications, findings) is one more function.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
CERTHUB=$BUILD/certhub
GEN=$BUILD/tools/certhub-gen
OUT=$ROOT/demo-out
DB=$OUT/demo.db
TEAMS=(web mail db legacy)
# One instant for generation and report, so day counts are exact.
NOW=${DEMO_NOW:-$(date -u +%Y-%m-%dT%H:%M:%SZ)}
export CERTHUB_NOW=$NOW NO_COLOR=${NO_COLOR:-}
unset CERTHUB_CONFIG
ESTATE=

say() { printf '\n== %s\n\n' "$*"; }
ch() { "$CERTHUB" --db "$DB" "$@"; }
gen() { "$GEN" --now "$NOW" "$@"; }
# issue KEYSPEC OUT [gen options]: a leaf signed by the issuing CA.
issue() {
  local out=$1; shift
  gen --issuer-cert "$ESTATE/ca/issuing.pem" --issuer-key "$ESTATE/ca/issuing.key" \
    -o "$out" "$@"
}

setup() {
  for b in "$CERTHUB" "$GEN"; do
    [ -x "$b" ] || { echo "demo: $b is missing; run 'make build'" >&2; exit 2; }
  done
  ESTATE=$(mktemp -d "${TMPDIR:-/tmp}/certhub-demo.XXXXXX")
  if [ "${KEEP:-0}" = 1 ]; then
    trap 'stop_nginx; echo "demo: estate kept in $ESTATE"' EXIT
  else
    trap 'stop_nginx; rm -rf "$ESTATE"' EXIT
  fi
  rm -rf "$OUT"
  mkdir -p "$OUT" "$ESTATE/ca" "${TEAMS[@]/#/$ESTATE/}"
}

# A root and an issuing CA; a second, short-lived intermediate for the
# legacy chain whose intermediate expires before its leaf.
make_cas() {
  local ca=$ESTATE/ca
  gen --ca --pathlen 1 --key ec:P-384 --sig sha384 --cn "Demo Root CA" \
    --org "Example Corp" --not-before -400d --not-after +3650d \
    -o "$ca/root.pem" --key-out "$ca/root.key"
  gen --ca --pathlen 0 --cn "Demo Issuing CA 1" --org "Example Corp" \
    --not-before -400d --not-after +1825d \
    --issuer-cert "$ca/root.pem" --issuer-key "$ca/root.key" \
    -o "$ca/issuing.pem" --key-out "$ca/issuing.key"
  gen --ca --pathlen 0 --cn "Legacy Issuing CA" --org "Example Corp" \
    --not-before -700d --not-after +20d \
    --issuer-cert "$ca/root.pem" --issuer-key "$ca/root.key" \
    -o "$ca/legacy.pem" --key-out "$ca/legacy.key"
  cat "$ca/issuing.pem" "$ca/root.pem" >"$ca/chain.pem"
}

# web: PEM singles at each expiry step, a bundle with its chain, a PEM with
# its private key beside it and one with the key inside, and a fleet.
make_web() {
  local d=$ESTATE/web days
  mkdir -p "$d/sites" "$d/shop" "$d/fleet"
  for days in 1 15 45 365; do
    issue "$d/sites/site-${days}d.pem" --cn "www-${days}d.example.com" \
      --san "DNS:www-${days}d.example.com" --not-before -300d \
      --not-after "+${days}d"
  done
  issue "$d/shop/cert.pem" --cn shop.example.com --san DNS:shop.example.com \
    --san DNS:www.shop.example.com --key rsa:2048 --not-before -60d \
    --not-after +90d --key-out "$d/shop/cert.key"
  cat "$d/shop/cert.pem" "$ESTATE/ca/chain.pem" >"$d/shop/fullchain.pem"
  issue "$ESTATE/api.pem" --cn api.example.com --san DNS:api.example.com \
    --not-before -10d --not-after +30d --key-out "$ESTATE/api.key"
  cat "$ESTATE/api.key" "$ESTATE/api.pem" "$ESTATE/ca/chain.pem" \
    >"$d/shop/api-with-key.pem"
  gen --issuer-cert "$ESTATE/ca/issuing.pem" \
    --issuer-key "$ESTATE/ca/issuing.key" --count 120 --split 1:12 --seed 7 \
    --outdir "$d/fleet" --cn "node-%d.web.example.com" \
    --san "DNS:node-%d.web.example.com" --key mix --key-pool 4 \
    --not-before -100d --not-after +200d
}

# mail: DER (.der, .cer) and PKCS#12 with a password file.
make_mail() {
  local d=$ESTATE/mail
  issue "$d/smtp.der" --der --cn smtp.example.com --san DNS:smtp.example.com \
    --not-before -200d --not-after +3d
  issue "$d/imap.cer" --der --cn imap.example.com --san DNS:imap.example.com \
    --not-before -200d --not-after +30d
  issue "$ESTATE/mx.pem" --cn mx.example.com --san DNS:mx1.example.com \
    --san DNS:mx2.example.com --key rsa:2048 --not-before -30d \
    --not-after +60d --key-out "$ESTATE/mx.key"
  echo "demo-p12-password" >"$ESTATE/p12.pass"
  openssl pkcs12 -export -in "$ESTATE/mx.pem" -inkey "$ESTATE/mx.key" \
    -certfile "$ESTATE/ca/chain.pem" -name mx.example.com \
    -passout "file:$ESTATE/p12.pass" -out "$d/mx.p12"
  gen --issuer-cert "$ESTATE/ca/issuing.pem" \
    --issuer-key "$ESTATE/ca/issuing.key" --count 40 --split 4:8 --seed 11 \
    --outdir "$d/relays" --cn "relay-%d.mail.example.com" \
    --not-before -300d --not-after +120d
}

# db: PKCS#7 bundles (PEM and DER) and a cluster that has expired.
make_db() {
  local d=$ESTATE/db
  issue "$ESTATE/pg.pem" --cn pg.db.example.com --san DNS:pg.db.example.com \
    --san IP:10.0.0.5 --not-before -100d --not-after +90d
  cat "$ESTATE/pg.pem" "$ESTATE/ca/chain.pem" >"$ESTATE/pg-chain.pem"
  openssl crl2pkcs7 -nocrl -certfile "$ESTATE/pg-chain.pem" -out "$d/pg.p7b"
  issue "$ESTATE/redis.pem" --cn redis.db.example.com --not-before -100d \
    --not-after +365d
  openssl crl2pkcs7 -nocrl -certfile "$ESTATE/redis.pem" -outform DER \
    -out "$d/redis.p7b"
  gen --issuer-cert "$ESTATE/ca/issuing.pem" \
    --issuer-key "$ESTATE/ca/issuing.key" --count 60 --split 5:15 --seed 13 \
    --outdir "$d/cluster" --cn "shard-%d.db.example.com" \
    --not-before -400d --not-after -12d
  gen --issuer-cert "$ESTATE/ca/issuing.pem" \
    --issuer-key "$ESTATE/ca/issuing.key" --count 60 --split 5:15 --seed 14 \
    --outdir "$d/replicas" --cn "replica-%d.db.example.com" \
    --not-before -20d --not-after +300d
}

# legacy: weak key, SHA-1, self-signed, expired, and a chain whose
# intermediate expires before its leaf.
make_legacy() {
  local d=$ESTATE/legacy
  issue "$d/old-vpn.pem" --cn vpn.example.com --key rsa:1024 \
    --not-before -700d --not-after +100d
  gen --cn intranet.example.com --key rsa:2048 --sig sha1 \
    --not-before -900d --not-after +200d -o "$d/intranet-sha1.pem"
  gen --cn printer.local --not-before -30d --not-after +3650d \
    -o "$d/printer-selfsigned.pem"
  issue "$d/expired-a.pem" --cn old-a.example.com --not-before -400d \
    --not-after -35d
  issue "$d/expired-b.cer" --der --cn old-b.example.com --not-before -800d \
    --not-after -400d
  gen --issuer-cert "$ESTATE/ca/legacy.pem" --issuer-key "$ESTATE/ca/legacy.key" \
    --cn app.legacy.example.com --san DNS:app.legacy.example.com \
    --not-before -10d --not-after +200d -o "$ESTATE/app.pem" \
    --key-out "$ESTATE/app.key"
  cat "$ESTATE/app.pem" "$ESTATE/ca/legacy.pem" "$ESTATE/ca/root.pem" \
    >"$d/app-chain.pem"
}

import_teams() {
  local team extra
  say "Importing the estate into ${DB#"$ROOT"/}"
  for team in "${TEAMS[@]}"; do
    extra=()
    [ "$team" = mail ] && extra=(--password-file "$ESTATE/p12.pass")
    printf '%-7s ' "$team:"
    ch import --tag "owner=$team" "${extra[@]}" "$ESTATE/$team" 2>&1
  done
}

report_expiring() {
  say "certhub expiry report, $NOW"
  echo "Expiring within 45 days:"
  echo
  ch -q list --expiring-within 45
  echo
  local n
  n=$(ch -q list --expired -o csv | tail -n +2 | wc -l)
  echo "Expired ($n in all; the first 10 by expiry date):"
  echo
  ch -q list --expired --limit 10
}

report_summary() {
  say "Summary"
  ch -q list -o json | python3 -c '
import json, sys
certs = json.load(sys.stdin)
live = [c for c in certs if c["Status"] != "EXPIRED"]
def within(n):
    return sum(1 for c in live if c["DaysToExpiry"] <= n)
weak = [c for c in certs
        if c["KeyAlgorithm"].startswith("RSA") and (c.get("KeyBits") or 0) < 2048]
sha1 = [c for c in certs if "SHA1" in c["SignatureAlgorithm"].upper()]
selfs = [c for c in certs if c["SelfSigned"]]
roots = [c for c in selfs if c["IsCa"]]
rows = [
    ("certificates", len(certs)),
    ("expired", sum(1 for c in certs if c["Status"] == "EXPIRED")),
    ("expiring within 7 days", within(7)),
    ("expiring within 30 days", within(30)),
    ("expiring within 45 days", within(45)),
    ("weak keys (RSA < 2048)", len(weak)),
    ("SHA-1 signatures", len(sha1)),
    ("self-signed", "%d (%d of them CA roots)" % (len(selfs), len(roots))),
]
by_id = {c["Id"]: c for c in certs}
early = [(c, by_id[i]) for c in certs for i in c["IssuerIds"]
         if i in by_id and by_id[i]["NotAfter"] < c["NotAfter"]]
rows.append(("issuer expires before leaf", len(early)))
for name, value in rows:
    print("  %-28s %s" % (name, value))
for leaf, ca in early:
    print("    %s (%s) is issued by %s, which expires first (%s)"
          % (leaf["DomainName"], leaf["NotAfter"][:10], ca["DomainName"],
             ca["NotAfter"][:10]))
'
}

# Live endpoints: nginx on loopback serving three sites, probed by certhub.
# shop sends its full chain; api forgets the intermediate; the default
# server (app.legacy) sends a chain whose intermediate expires first.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start_nginx() {
  local d=$ESTATE/nginx port
  NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)
  [ -x "$NGINX_BIN" ] || { echo "demo: nginx is missing (scripts/deps.sh demo)" >&2; return 1; }
  port=$(free_port)
  mkdir -p "$d/logs"
  cat "$ESTATE/api.pem" >"$d/api-leaf-only.pem"
  cat >"$d/nginx.conf" <<CONF
worker_processes 1;
pid $d/nginx.pid;
error_log $d/logs/error.log;
events { worker_connections 256; }
http {
  access_log off;
  ssl_protocols TLSv1.2 TLSv1.3;
  client_body_temp_path $d/tmp; proxy_temp_path $d/tmp;
  fastcgi_temp_path $d/tmp; uwsgi_temp_path $d/tmp; scgi_temp_path $d/tmp;
  server {
    listen 127.0.0.1:$port ssl default_server;
    ssl_certificate $ESTATE/legacy/app-chain.pem;
    ssl_certificate_key $ESTATE/app.key;
    return 200 "app\n";
  }
  server {
    listen 127.0.0.1:$port ssl;
    server_name shop.example.com;
    ssl_certificate $ESTATE/web/shop/fullchain.pem;
    ssl_certificate_key $ESTATE/web/shop/cert.key;
    return 200 "shop\n";
  }
  server {
    listen 127.0.0.1:$port ssl;
    server_name api.example.com;
    ssl_certificate $d/api-leaf-only.pem;
    ssl_certificate_key $ESTATE/api.key;
    return 200 "api\n";
  }
}
CONF
  mkdir -p "$d/tmp"
  "$NGINX_BIN" -p "$d" -c "$d/nginx.conf" -e "$d/logs/error.log" 2>"$d/logs/start.log" ||
    { cat "$d/logs/start.log" >&2; return 1; }
  NGINX_PID_FILE=$d/nginx.pid
  NGINX_PORT=$port
  for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "demo: nginx did not start on port $port" >&2
  return 1
}

stop_nginx() {
  [ -n "${NGINX_PID_FILE:-}" ] && [ -s "$NGINX_PID_FILE" ] &&
    kill "$(cat "$NGINX_PID_FILE")" 2>/dev/null || true
}

probe_endpoints() {
  local targets=$ESTATE/endpoints.txt
  say "Probing live endpoints (nginx on 127.0.0.1, started for the demo)"
  start_nginx
  cat >"$targets" <<TXT
# The demo's sites; tags give each endpoint an owner.
127.0.0.1:$NGINX_PORT sni=shop.example.com tag.owner=web
127.0.0.1:$NGINX_PORT sni=api.example.com tag.owner=web
127.0.0.1:$NGINX_PORT sni=app.legacy.example.com tag.owner=legacy
TXT
  ch probe --ca-file "$ESTATE/ca/root.pem" --from "$targets" || true
  stop_nginx
  echo
  ch endpoints list
  echo
  echo "The certificates they present are in the inventory with the endpoint as source:"
  echo
  ch -q list --search example.com -o json | python3 -c '
import json, sys
for c in json.load(sys.stdin):
    eps = [s["Locator"] for s in c.get("Sources", []) if s.get("Kind") == "endpoint"]
    if eps:
        print("  %-26s %4s days  %s" % (c["DomainName"], c["DaysToExpiry"], ", ".join(eps)))
'
}

# The two seed flows. `serve --once` applies the seed rules, evaluates the
# ACM lifecycle events, routes them and delivers them: (1) each certificate
# approaching expiry (or expired) becomes one finding and one message on
# the certificate-expiry topic; (2) with the clock at the next Sunday
# 00:05 UTC the weekly schedule fires: one finding per certificate within
# its threshold and ONE digest message listing them all.
lifecycle_events() {
  say "Lifecycle events through the seed rules: certhub serve --once"
  # The seed topic gets one subscriber: a JSON-lines file, as a script or
  # a log shipper would read it (email, Slack, Teams, Google Chat, signed
  # HTTPS and commands subscribe the same way; see certhub-topics(1)).
  NOTIFY_FILE=$OUT/notifications.jsonl
  ch -q topics create certificate-expiry
  ch -q topics subscribe certificate-expiry --protocol file \
    --endpoint "$NOTIFY_FILE" >/dev/null
  ch -q serve --once
  ch rules list
  echo
  ch -q events list --limit 100000 -o json | python3 -c '
import collections, json, sys
n = collections.Counter(e["DetailType"] if "DetailType" in e else e.get("detail-type", "?")
                        for e in json.load(sys.stdin))
for k, v in sorted(n.items()):
    print("  %5d  %s" % (v, k))
'
  echo
  echo "Findings (one per certificate approaching expiry or expired), most severe:"
  ch -q findings list -o json | python3 -c '
import collections, json, sys
f = json.load(sys.stdin)
sev = collections.Counter(x["Severity"]["Label"] for x in f)
print("  " + ", ".join("%d %s" % (sev[k], k) for k in ("CRITICAL", "HIGH", "MEDIUM", "LOW") if sev[k]))
for x in [x for x in f if x["Severity"]["Label"] == "HIGH"][:4]:
    print("  %-8s %s" % (x["Severity"]["Label"], x["Title"]))
'
  echo
  echo "Messages on topic certificate-expiry (one per certificate), newest:"
  ch -q topics messages certificate-expiry -o json | python3 -c '
import json, sys
m = json.load(sys.stdin)
print("  %d messages" % len(m))
for x in m[:4]:
    print("  " + x.get("Subject", ""))
'
  echo
  echo "Delivered to the file subscriber ($NOTIFY_FILE), one SNS message per line:"
  show_notifications
  local sunday
  sunday=$(python3 -c '
import datetime, sys
now = datetime.datetime.strptime(sys.argv[1][:19], "%Y-%m-%dT%H:%M:%S")
d = now.date() + datetime.timedelta(days=(6 - now.weekday()) % 7 or 7)
print(d.isoformat() + "T00:06:00Z")' "$NOW")
  say "The weekly digest: the clock at $sunday (cron(5 0 ? * 1 *) is due)"
  ch -q --now "$sunday" serve --once
  ch -q topics messages certificate-expiry -o json | python3 -c '
import collections, json, sys
m = [x for x in json.load(sys.stdin)
     if json.loads(x["Message"]).get("detail-type") == "Scheduled Event"][0]
ev = json.loads(m["Message"])
certs = ev["detail"]["certificates"]
print("  Subject: %s" % m.get("Subject", ""))
by = collections.defaultdict(list)
for c in certs:
    by[c.get("Owner") or "(no owner)"].append(c)
for owner, cs in sorted(by.items()):
    print("  %s: %d" % (owner, len(cs)))
    for c in cs[:3]:
        print("    %3d days  %s" % (c["DaysToExpiry"], c["CommonName"]))
'
  echo
  echo "The digest as its subscribers read it (certhub topics render, text, first lines):"
  ch -q topics messages certificate-expiry -o json | python3 -c '
import json, sys
m = [x for x in json.load(sys.stdin)
     if json.loads(x["Message"]).get("detail-type") == "Scheduled Event"][0]
sys.stdout.write(m["Message"])' >"$OUT/digest-event.json"
  ch -q topics render --event "@$OUT/digest-event.json" --part text | sed -n '1,14p' | sed 's/^/  /'
  echo
  echo "Delivered to the file subscriber now:"
  show_notifications
}

# The file subscriber's lines: how many, and the newest subjects.
show_notifications() {
  python3 - "$NOTIFY_FILE" <<'PY'
import json, sys
try:
    lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
except FileNotFoundError:
    lines = []
digests = [m for m in lines if m.get("Subject", "").startswith("certhub digest")]
print("  %d messages (%d per-certificate, %d digest)" % (len(lines), len(lines) - len(digests), len(digests)))
for m in ([m for m in lines if m not in digests][-3:] + digests[-1:]):
    print("  %-13s %s" % (m.get("Type", "?"), m.get("Subject", "")))
PY
}

# The findings hub: certhub serve with its HTTP API on a free loopback
# port, a read token, and the summary a dashboard would show, fetched
# through the API (Security Hub's GetInsightResults).
findings_summary() {
  say "Findings hub: the HTTP API of certhub serve"
  local port token pid url
  port=$(free_port)
  url=http://127.0.0.1:$port
  token=$(ch -q tokens create "demo-$port" --scope read --expires 1d)
  ch -q serve --listen "127.0.0.1:$port" --interval 60s 2>"$OUT/serve.log" &
  pid=$!
  for _ in $(seq 100); do
    curl -fsS "$url/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  for group in SeverityLabel GeneratorId Title; do
    echo "Findings by $group (POST $url/v1/insights/results):"
    curl -fsS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
      --data "{\"GroupByAttribute\":\"$group\",\"Filters\":{\"RecordState\":[{\"Value\":\"ACTIVE\",\"Comparison\":\"EQUALS\"}]}}" \
      "$url/v1/insights/results" | python3 -c '
import json, sys
r = json.load(sys.stdin)["InsightResults"]["ResultValues"]
for x in r[:5]:
    print("  %5d  %s" % (x["Count"], x["GroupByAttributeValue"]))
if len(r) > 5:
    print("  ... %d more" % (len(r) - 5))
'
    echo
  done
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  echo "The API (stopped again): $url  (certhub serve --listen 127.0.0.1:$port;"
  echo "  token: certhub --db ${DB#"$ROOT"/} tokens create NAME --scope read)"
  echo "  curl -H \"Authorization: Bearer \$TOKEN\" -H 'Content-Type: application/json' \\"
  echo "       $url/v1/findings/get -d '{\"MaxResults\":5}'"
}

# certhub check, as a CI pipeline would run it on one team's folder.
report_check() {
  local rc=0
  say "CI gate: certhub check --fail-within 7 web/"
  ch check --fail-within 7 "$ESTATE/web" || rc=$?
  echo "(exit status $rc: 1 means something expires within 7 days)"
}

next_steps() {
  local soon chain rel=${DB#"$ROOT"/} bin=${CERTHUB#"$ROOT"/}
  soon=$(ch -q list --expiring-within 45 -o csv | sed -n '2s/,.*//p')
  chain=$(ch -q list --search app.legacy.example.com -o csv | sed -n '2s/,.*//p')
  say "Next"
  cat <<TXT
  $bin --db $rel describe $soon
  $bin --db $rel export $chain --chain
  $bin --db $rel list --tag owner=mail -o json
  $bin --db $rel endpoints describe "127.0.0.1:${NGINX_PORT:-443} sni=api.example.com"
  $bin --db $rel metrics --compat
  $bin --db $rel findings list --severity HIGH
  $bin --db $rel findings export --format ocsf --jsonl
  $bin --db $rel topics deliveries --limit 5
  $bin --db $rel topics messages certificate-expiry --limit 3 -o json
  $bin --db $rel --config packaging/config.example.yaml config check
  $bin probe --no-store www.example.com smtp://mx.example.com
  $bin check --fail-within 30 /path/to/certs
TXT
  [ "${KEEP:-0}" = 1 ] ||
    echo "  (KEEP=1 make demo keeps the generated estate for import and check)"
}

main() {
  setup
  make_cas
  make_web
  make_mail
  make_db
  make_legacy
  import_teams
  report_expiring
  report_summary
  probe_endpoints
  lifecycle_events
  report_check
  next_steps
  findings_summary
}

main "$@"
