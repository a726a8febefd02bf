#!/usr/bin/env bash
# The systemd units in packaging/systemd: systemd-analyze verify accepts
# them (with ExecStart= pointing at the built binary), and every service
# that shares the state directory (the database) runs as the same user:
# with DynamicUser=yes each unit otherwise gets its own UID, and systemd
# chowns StateDirectory= recursively to it at every start, so a timer's
# import would take the database away from the running daemon.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
t0=$SECONDS

SRC=${CERTHUB_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
UNITS=$SRC/packaging/systemd
command -v systemd-analyze >/dev/null ||
  fail "systemd-analyze is missing (apt-get install systemd; scripts/deps.sh test)"

mkdir -p "$TMP/units"
for f in "$UNITS"/*.service "$UNITS"/*.timer; do
  # Documentation=man:... would need the man pages installed.
  sed -e "s#/usr/local/bin/certhub#$CERTHUB#g" -e '/^Documentation=/d' \
    "$f" >"$TMP/units/$(basename "$f")"
done
run_expect 0 systemd-analyze verify "$TMP"/units/*.service "$TMP"/units/*.timer
[ -z "$ERR" ] || fail "systemd-analyze verify warns: $ERR"

# key UNIT KEY: the value of KEY= in UNIT (empty when absent).
key() { sed -n "s/^$2=//p" "$1" | tail -n 1; }
users=
for f in "$UNITS"/*.service; do
  [ -n "$(key "$f" StateDirectory)" ] || continue
  [ "$(key "$f" StateDirectory)" = certhub ] ||
    fail "$(basename "$f"): StateDirectory=$(key "$f" StateDirectory), want certhub"
  u=$(key "$f" User)
  g=$(key "$f" Group)
  [ -n "$u" ] || fail "$(basename "$f"): shares StateDirectory=certhub without User="
  [ "$u" = "$g" ] || fail "$(basename "$f"): User=$u but Group=$g"
  users="$users $u"
  note "$(basename "$f"): User=$u"
done
[ "$(printf '%s\n' $users | sort -u | wc -l)" = 1 ] ||
  fail "services sharing the database run as different users:$users"
# Every timer starts a service that exists.
for t in "$UNITS"/*.timer; do
  s=$(key "$t" Unit)
  [ -n "$s" ] || s=$(basename "$t" .timer).service
  [ -f "$UNITS/$s" ] || fail "$(basename "$t") starts $s, which is not in packaging/systemd"
done
echo "PASS test_packaging_systemd ($((SECONDS - t0))s)"
