#!/usr/bin/env bash
# One hub for many instances, with real daemons on loopback: a hub (certhub
# serve with its HTTP API) and two instances in different accounts and
# regions that forward their findings to it (hub: forward_to, token_file).
# The hub is stopped in the middle and started again: the instance queues
# meanwhile and catches up; every finding arrives once, with the account
# and region of origin; an update is forwarded, a stale resend is ignored,
# and the hub's own workflow changes survive the provider's updates.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/serve_lib.sh"
command -v curl >/dev/null || fail "curl is needed"

HUB_DB=$TMP/hub/hub.db
A_DB=$TMP/a/a.db
B_DB=$TMP/b/b.db
mkdir -p "$TMP/hub" "$TMP/a" "$TMP/b"
HPID=
HLOG=$TMP/hub.log
hub_cleanup() {
  [ -z "$HPID" ] || kill -9 "$HPID" 2>/dev/null || true
  serve_cleanup
}
trap hub_cleanup EXIT

PORT=$(free_port)
HUB=http://127.0.0.1:$PORT
hub_start() {
  local before
  before=$(grep -c 'certhub serve: started' "$HLOG" 2>/dev/null || true)
  "$CERTHUB" --db "$HUB_DB" --config "$TMP/hub.yaml" serve \
    --listen "127.0.0.1:$PORT" --interval 1s 2>>"$HLOG" >/dev/null &
  HPID=$!
  hub_up() {
    local n
    n=$(grep -c 'certhub serve: started' "$HLOG" 2>/dev/null || true)
    [ "${n:-0}" -gt "${before:-0}" ] && curl -fsS "$HUB/healthz" >/dev/null 2>&1
  }
  wait_until 30 "the hub to start" hub_up
}
hub_stop() {
  kill -TERM "$HPID"
  set +e; wait "$HPID"; set -e
  HPID=
}
# Findings on the hub: the count of those whose Id starts with $1.
hub_count() {
  sqlite3 "$HUB_DB" "SELECT count(*) FROM findings WHERE id LIKE '$1%'"
}
hub_has() { [ "$(hub_count "$1")" = "$2" ]; }

# finding ID ACCOUNT REGION UPDATED: one ASFF finding as a provider sends it.
finding() {
  printf '{"SchemaVersion":"2018-10-08","Id":"%s","ProductArn":"arn:certhub:securityhub:%s:%s:product/certhub/certhub","GeneratorId":"it","AwsAccountId":"%s","Region":"%s","CreatedAt":"2026-11-01T00:00:00Z","UpdatedAt":"%s","Title":"Certificate %s expires soon","Description":"d","Types":["Software and Configuration Checks/Certificate Expiry"],"Severity":{"Label":"HIGH"},"Resources":[{"Type":"Other","Id":"%s"}]}' \
    "$1" "$3" "$2" "$2" "$3" "$4" "$1" "$1"
}
# import_batch DB PREFIX FROM TO ACCOUNT REGION UPDATED
import_batch() {
  local db=$1 p=$2 from=$3 to=$4 acct=$5 reg=$6 upd=$7 i
  local f=$TMP/batch.json
  for ((i = from; i <= to; i += 100)); do
    local j end=$((i + 99 < to ? i + 99 : to)) sep=
    { printf '['
      for ((j = i; j <= end; j++)); do printf '%s' "$sep"; finding "$p-$j" "$acct" "$reg" "$upd"; sep=,; done
      printf ']'; } >"$f"
    run_expect 0 "$CERTHUB" --db "$db" -q findings import "$f"
  done
}

note "the hub: a token for each instance ($SECONDS s)"
printf 'rules: []\n' >"$TMP/hub.yaml"
run_expect 0 "$CERTHUB" --db "$HUB_DB" tokens create region-a --scope findings:write
printf '%s\n' "$OUT" >"$TMP/a.token"
run_expect 0 "$CERTHUB" --db "$HUB_DB" tokens create region-b --scope findings:write
printf '%s\n' "$OUT" >"$TMP/b.token"
run_expect 0 "$CERTHUB" --db "$HUB_DB" tokens create reader --scope read
printf '%s\n' "$OUT" >"$TMP/r.token"
hub_start

cat >"$TMP/a.yaml" <<YAML
account: "111111111111"
region: eu-west-1
rules: []
hub:
  forward_to: $HUB/
  token_file: $TMP/a.token
  timeout: 5s
YAML
cat >"$TMP/b.yaml" <<YAML
account: "222222222222"
region: us-east-1
rules: []
hub:
  forward_to: $HUB
  token_file: $TMP/b.token
YAML

note "instance A (daemon) and B (hub forward) send what they had before ($SECONDS s)"
import_batch "$A_DB" a 1 250 111111111111 eu-west-1 2026-11-02T00:00:00Z
import_batch "$B_DB" b 1 30 222222222222 us-east-1 2026-11-02T00:00:00Z
export CERTHUB_DB=$A_DB
serve_start --config "$TMP/a.yaml" serve --no-http --interval 1s
run_expect 0 "$CERTHUB" --db "$B_DB" --config "$TMP/b.yaml" hub forward
printf '%s' "$ERR" | grep -q '30 findings forwarded' || fail "B: $ERR"
wait_until 30 "A's 250 findings on the hub" hub_has a- 250
[ "$(hub_count b-)" = 30 ] || fail "B's findings: $(hub_count b-)"
[ "$(sqlite3 "$HUB_DB" "SELECT DISTINCT aws_account_id || ' ' || region FROM findings WHERE id LIKE 'a-%'")" = "111111111111 eu-west-1" ] ||
  fail "A's origin not kept"
[ "$(sqlite3 "$HUB_DB" "SELECT DISTINCT aws_account_id || ' ' || region FROM findings WHERE id LIKE 'b-%'")" = "222222222222 us-east-1" ] ||
  fail "B's origin not kept"
run_expect 0 "$CERTHUB" --db "$A_DB" --config "$TMP/a.yaml" hub status -o json
[ "$(printf '%s' "$OUT" | pyjson 'd["Queued"]')" = 0 ] || fail "A's queue: $OUT"

note "the hub's workflow change survives a provider update ($SECONDS s)"
run_expect 0 "$CERTHUB" --db "$HUB_DB" findings update a-7 --workflow NOTIFIED
note "the hub stops; A goes on producing findings and queues them ($SECONDS s)"
hub_stop
import_batch "$A_DB" a 251 400 111111111111 eu-west-1 2026-11-02T00:00:00Z
import_batch "$A_DB" a 1 10 111111111111 eu-west-1 2026-11-03T00:00:00Z
wait_until 30 "A to notice the hub is down" log_has "hub: hub $HUB.*next try in"
run_expect 0 "$CERTHUB" --db "$A_DB" --config "$TMP/a.yaml" hub status -o json
[ "$(printf '%s' "$OUT" | pyjson 'd["Queued"]')" = 160 ] || fail "A's queue while the hub is down: $OUT"

note "the hub returns on the same port: A catches up ($SECONDS s)"
hub_start
wait_until 60 "A's 400 findings on the hub" hub_has a- 400
wait_until 30 "A's queue to empty" sh -c "'$CERTHUB' --db '$A_DB' --config '$TMP/a.yaml' hub status | grep -q '^queued: 0$'"
log_has "hub: reachable again" || fail "A did not log the recovery"
[ "$(sqlite3 "$HUB_DB" "SELECT count(*) FROM findings WHERE id LIKE 'a-%' AND updated_at = strftime('%s','2026-11-03T00:00:00Z') * 1000")" = 10 ] ||
  fail "the updates of a-1..a-10 did not arrive"
[ "$(sqlite3 "$HUB_DB" "SELECT workflow_status FROM findings WHERE id = 'a-7'")" = NOTIFIED ] ||
  fail "the hub's workflow of a-7 was overwritten by the provider"

note "a stale resend is ignored by the hub ($SECONDS s)"
before=$(sqlite3 "$HUB_DB" "SELECT updated_at FROM findings WHERE id = 'a-3'")
sqlite3 "$A_DB" "INSERT INTO hub_outbox(product_arn, id) SELECT product_arn, id FROM findings WHERE id = 'a-3'"
sqlite3 "$HUB_DB" "UPDATE findings SET updated_at = updated_at + 1000 WHERE id = 'a-3'"
wait_until 30 "the resend" sh -c "'$CERTHUB' --db '$A_DB' --config '$TMP/a.yaml' hub status | grep -q '^queued: 0$'"
[ "$(sqlite3 "$HUB_DB" "SELECT updated_at FROM findings WHERE id = 'a-3'")" = $((before + 1000)) ] ||
  fail "a stale resend replaced a newer finding on the hub"

note "a wrong token is a configuration error, and nothing is lost ($SECONDS s)"
printf 'chk_wrong\n' >"$TMP/bad.token"
sed "s|$TMP/b.token|$TMP/bad.token|" "$TMP/b.yaml" >"$TMP/bbad.yaml"
import_batch "$B_DB" b 31 35 222222222222 us-east-1 2026-11-02T00:00:00Z
run_expect 1 "$CERTHUB" --db "$B_DB" --config "$TMP/bbad.yaml" hub forward
printf '%s' "$ERR" | grep -q "HTTP 401" || fail "wrong token: $ERR"
case "$ERR" in *chk_wrong*) fail "the token is in the message" ;; esac
run_expect 0 "$CERTHUB" --db "$B_DB" --config "$TMP/b.yaml" hub forward
[ "$(hub_count b-)" = 35 ] || fail "B's findings after the bad token: $(hub_count b-)"

note "the hub's API shows both regions ($SECONDS s)"
CODE=$(curl -sS -o "$TMP/ins" -w '%{http_code}' -X POST \
  -H "Authorization: Bearer $(cat "$TMP/r.token")" -H 'Content-Type: application/json' \
  --data-binary '{"GroupByAttribute":"Region"}' "$HUB/v1/insights/results")
[ "$CODE" = 200 ] || fail "insight: $CODE $(cat "$TMP/ins")"
python3 - "$TMP/ins" <<'PY' || fail "insight by region: $(cat "$TMP/ins")"
import json, sys
r = json.load(open(sys.argv[1]))["InsightResults"]["ResultValues"]
got = {x["GroupByAttributeValue"]: x["Count"] for x in r}
assert got == {"eu-west-1": 400, "us-east-1": 35}, got
PY

serve_stop TERM
[ "$SRC" = 0 ] || fail "A exited $SRC"
hub_stop
echo "ok"
