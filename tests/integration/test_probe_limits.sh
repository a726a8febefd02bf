#!/usr/bin/env bash
# The probe loop's limits, seen from a real server process on loopback that
# accepts connections, never answers, and records how many it held at
# once: --per-host caps the connections to one address, --concurrency caps
# them all, and every probe ends as a timeout within its own deadline.
. "$(dirname "$0")/lib.sh"

SRV=
trap '[ -n "$SRV" ] && kill "$SRV" 2>/dev/null; cleanup' EXIT

cat >"$TMP/holder.py" <<'PY'
import selectors, socket, sys
sel = selectors.DefaultSelector()
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 0))
ls.listen(512)
ls.setblocking(False)
sel.register(ls, selectors.EVENT_READ)
print(ls.getsockname()[1], flush=True)
live = 0
peak = 0
out = sys.argv[1]
while True:
    for key, _ in sel.select():
        if key.fileobj is ls:
            c, _ = ls.accept()
            c.setblocking(False)
            sel.register(c, selectors.EVENT_READ)
            live += 1
            if live > peak:
                peak = live
                open(out, "w").write(str(peak))
        else:
            try:
                data = key.fileobj.recv(65536)
            except OSError:
                data = b""
            if not data:  # the prober gave up: forget the connection
                sel.unregister(key.fileobj)
                key.fileobj.close()
                live -= 1
PY

start_holder() {
  # Remove the last holder's port file first: the redirect below truncates
  # it only when the child runs, so the loop could read the old port.
  rm -f "$TMP/peak" "$TMP/port"
  python3 "$TMP/holder.py" "$TMP/peak" >"$TMP/port" &
  SRV=$!
  for _ in $(seq 400); do [ -s "$TMP/port" ] && break; sleep 0.05; done
  PORT=$(cat "$TMP/port")
  [ -n "$PORT" ] || fail "holder did not start"
}
stop_holder() { kill "$SRV" 2>/dev/null; wait "$SRV" 2>/dev/null || true; SRV=; }

# run_limits N OPTIONS...: probe N SNI names on the holder; prints seconds.
run_limits() {
  local n=$1; shift
  : >"$TMP/targets"
  for i in $(seq "$n"); do echo "127.0.0.1:$PORT sni=n$i.limits.test" >>"$TMP/targets"; done
  local t0 t1
  t0=$(date +%s.%N)
  "$CERTHUB" -q probe --no-store -o json --from "$TMP/targets" "$@" >"$TMP/out.json" && fail "probe should fail (timeouts)"
  t1=$(date +%s.%N)
  python3 - "$TMP/out.json" "$n" <<'PY' || fail "results"
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r) == int(sys.argv[2]), len(r)
for x in r:
    assert x["Status"] == "timeout", x
    assert "no answer within 1000 ms during the TLS handshake" in x["Reason"], x
PY
  python3 -c "print('%.2f' % ($t1 - $t0))"
}

start_holder
secs=$(run_limits 12 --per-host 3 --concurrency 50 --timeout 1s)
peak=$(cat "$TMP/peak")
[ "$peak" = 3 ] || fail "--per-host 3: server saw $peak connections at once"
# 12 probes, 3 at a time, 1 s each: four rounds.
python3 -c "import sys; t=float(sys.argv[1]); sys.exit(0 if 3.8 <= t <= 7 else 1)" "$secs" ||
  fail "--per-host 3 over 12 probes took ${secs}s, expected about 4"
note "per-host limit: peak $peak, ${secs}s"
stop_holder

start_holder
secs=$(run_limits 6 --per-host 100 --concurrency 2 --timeout 1s)
peak=$(cat "$TMP/peak")
[ "$peak" = 2 ] || fail "--concurrency 2: server saw $peak connections at once"
note "concurrency limit: peak $peak, ${secs}s"
stop_holder

start_holder
secs=$(run_limits 40 --timeout 1s)
peak=$(cat "$TMP/peak")
[ "$peak" = 16 ] || fail "default per-host limit: server saw $peak, expected 16"
note "default per-host 16: peak $peak, ${secs}s"
