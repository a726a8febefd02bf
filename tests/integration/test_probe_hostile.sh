#!/usr/bin/env bash
# Hostile and odd endpoints, all probed in ONE `certhub probe` run: each gets
# the right status and a clear reason, the run ends within 2x the timeout
# plus a margin (a server that trickles a byte a second does not extend a
# probe's deadline), peak RSS stays bounded (10 MB of garbage, a 100-
# certificate chain and a certificate with 10,000 SANs), and a malformed line
# in a --from file is exit 2 naming FILE:LINE, before anything is probed or
# stored.
. "$(dirname "$0")/lib.sh"

TIMEOUT=3                  # seconds, --timeout of the probe run
RUN_MAX=$((TIMEOUT * 2 + 4)) # seconds the whole run may take
CHAIN_LEN=100              # certificates the long-chain server presents
SANS=10000                 # SANs of the big certificate
# Peak RSS bound: ASan's shadow memory and quarantine are not certhub's.
if ldd "$CERTHUB" 2>/dev/null | grep -q libasan; then RSS_MAX_MB=400; else RSS_MAX_MB=100; fi

PIDS=()
stop_all() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  cleanup
}
trap stop_all EXIT

# --- servers ---------------------------------------------------------------
# The interpreter itself (not a wrapper script), so that $! is the server.
PY=$(python3 -c 'import sys; print(sys.executable)')
"$PY" "$(dirname "$0")/hostile.py" >"$TMP/hostile.json" 2>"$TMP/hostile.err" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$TMP/hostile.json" ] && break; sleep 0.05; done
[ -s "$TMP/hostile.json" ] || { cat "$TMP/hostile.err"; fail "hostile.py did not start"; }
hport() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
  "$TMP/hostile.json" "$1"; }

# s_server NAME ARGS...: start openssl s_server on a free port; sets PORT_NAME.
s_server() {
  local name=$1 port=; shift
  : >"$TMP/s_server.$name" # exists before the background job opens it
  openssl s_server -accept 127.0.0.1:0 -www "$@" </dev/null \
    >"$TMP/s_server.$name" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do
    port=$(sed -n 's/^ACCEPT 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$TMP/s_server.$name")
    [ -n "$port" ] && break
    sleep 0.05
  done
  [ -n "$port" ] || { cat "$TMP/s_server.$name"; fail "s_server $name did not start"; }
  printf -v "PORT_$name" %s "$port"
}

C=$TMP/certs; mkdir -p "$C"
gen() { "$CERTHUB_GEN" --key ec:P-256 --not-after +30d "$@"; }
gen --ca --cn "hostile test root" -o "$C/root.pem" --key-out "$C/root.key"
gen --cn good.hostile.test --san DNS:good.hostile.test \
  --issuer-cert "$C/root.pem" --issuer-key "$C/root.key" \
  -o "$C/good.pem" --key-out "$C/good.key"
gen --cn big.hostile.test --san DNS:big.hostile.test --san-count "$SANS" \
  --issuer-cert "$C/root.pem" --issuer-key "$C/root.key" \
  -o "$C/big.pem" --key-out "$C/big.key"
[ "$(openssl x509 -in "$C/big.pem" -noout -ext subjectAltName | grep -o 'DNS:' | wc -l)" \
  -gt "$SANS" ] || fail "certhub-gen did not write $SANS SANs"
# Long chain: root2 -> i1 -> ... -> i99 -> leaf; the server sends leaf, i99..i1.
gen --ca --cn "hostile chain root" -o "$C/root2.pem" --key-out "$C/root2.key"
prev=root2
for i in $(seq $((CHAIN_LEN - 1))); do
  gen --ca --cn "hostile chain CA $i" --issuer-cert "$C/$prev.pem" \
    --issuer-key "$C/$prev.key" -o "$C/i$i.pem" --key-out "$C/i$i.key"
  prev=i$i
done
gen --cn long.hostile.test --san DNS:long.hostile.test \
  --issuer-cert "$C/$prev.pem" --issuer-key "$C/$prev.key" \
  -o "$C/long.pem" --key-out "$C/long.key"
for i in $(seq $((CHAIN_LEN - 1)) -1 1); do cat "$C/i$i.pem"; done >"$C/long-chain.pem"
cat "$C/root.pem" "$C/root2.pem" >"$C/roots.pem"

s_server good -cert "$C/good.pem" -key "$C/good.key"
s_server long -cert "$C/long.pem" -key "$C/long.key" -cert_chain "$C/long-chain.pem"
s_server big -cert "$C/big.pem" -key "$C/big.key"
# Check the fixtures themselves with openssl, so a failure below is certhub's.
n=$(openssl s_client -connect "127.0.0.1:$PORT_long" -showcerts </dev/null 2>/dev/null |
  grep -c 'BEGIN CERTIFICATE' || true)
[ "$n" = "$CHAIN_LEN" ] || fail "long-chain server presents $n certificates, not $CHAIN_LEN"

REFUSED=$(free_port)

# --- one run over everything -----------------------------------------------
# Each row: TARGET STATUS REASON_REGEX (Python, case-insensitive) [CHAIN_LEN].
cat >"$TMP/expect" <<EOF
127.0.0.1:$(hport silent) timeout .
127.0.0.1:$(hport slowloris) timeout .
127.0.0.1:$(hport garbage) protocol .
127.0.0.1:$(hport http) protocol http
127.0.0.1:$(hport close) protocol clos|eof|end
127.0.0.1:$(hport reset) protocol|refused reset
smtp://127.0.0.1:$(hport smtp-refuse) protocol 454|starttls
smtp://127.0.0.1:$(hport smtp-nostarttls) protocol starttls
name.invalid dns .
127.0.0.1:$REFUSED refused .
127.0.0.1:$PORT_good ok ^$ 1
127.0.0.1:$PORT_long ok ^$ $CHAIN_LEN
127.0.0.1:$PORT_big ok ^$ 1
EOF
mapfile -t targets < <(awk '{print $1}' "$TMP/expect")

start=$(date +%s.%N)
run_expect 1 /usr/bin/time -f '%e %M' -o "$TMP/time" \
  "$CERTHUB" probe --timeout "${TIMEOUT}s" --ca-file "$C/roots.pem" -o json "${targets[@]}"
end=$(date +%s.%N)
read -r _ rss_kb < <(tail -n 1 "$TMP/time")
# Exit 1 is also what ASan reports with: the sanitizers must have been quiet.
! grep -Eq 'Sanitizer|runtime error:' <<<"$ERR" || { printf '%s\n' "$ERR"; fail "sanitizer report"; }
printf '%s\n' "$OUT" >"$TMP/out.json"
elapsed=$(awk -v s="$start" -v e="$end" 'BEGIN{printf "%.1f", e-s}')
note "one run over ${#targets[@]} targets: ${elapsed}s, peak RSS $((rss_kb / 1024)) MB"

python3 - "$TMP/out.json" "$TMP/expect" <<'PY' || fail "probe results (above)"
import json, re, sys
results = json.load(open(sys.argv[1]))
by_target = {}
for r in results:
    by_target.setdefault(r.get("Target"), []).append(r)
bad = 0
for line in open(sys.argv[2]):
    f = line.split()
    target, status, reason_re = f[0], f[1], f[2]
    chain = int(f[3]) if len(f) > 3 else None
    got = by_target.get(target)
    if not got:
        print("FAIL %s: no result (targets seen: %s)" % (target, sorted(map(str, by_target))))
        bad += 1
        continue
    if len(got) != 1:
        print("FAIL %s: %d results, expected 1" % (target, len(got)))
        bad += 1
    r = got[0]
    reason = r.get("Reason") or ""
    problems = []
    if not re.fullmatch(status, r.get("Status", "")):
        problems.append("status %r, expected %s" % (r.get("Status"), status))
    if status != "ok" and not reason.strip():
        problems.append("no reason")
    elif not re.search(reason_re, reason, re.I):
        problems.append("reason %r does not match /%s/i" % (reason, reason_re))
    if chain is not None and len(r.get("Chain") or []) != chain:
        problems.append("chain of %d, expected %d" % (len(r.get("Chain") or []), chain))
    if chain is not None and r.get("ChainSent") != chain:
        problems.append("ChainSent %r, expected %d" % (r.get("ChainSent"), chain))
    if status == "dns" and r.get("Address"):
        problems.append("address %r for a name that did not resolve" % r.get("Address"))
    if problems:
        print("FAIL %s: %s" % (target, "; ".join(problems)))
        bad += 1
    else:
        print("# %s: %s %s" % (target, r.get("Status"), reason))
sys.exit(1 if bad else 0)
PY
awk -v e="$elapsed" -v m="$RUN_MAX" 'BEGIN{exit !(e <= m)}' ||
  fail "the run took ${elapsed}s, more than ${RUN_MAX}s (timeout ${TIMEOUT}s)"
[ "$rss_kb" -lt $((RSS_MAX_MB * 1024)) ] ||
  fail "peak RSS $((rss_kb / 1024)) MB, bound ${RSS_MAX_MB} MB"

# The two that never finish, alone: each ends at its deadline, so the run
# takes the timeout plus a margin, not more (the trickle does not reset it:
# slowloris trickles for hours, so a reset deadline would never end). The
# margin allows for process start under ASan on a loaded machine.
start=$(date +%s.%N)
run_expect 1 "$CERTHUB" probe --no-store --timeout "${TIMEOUT}s" -o json \
  "127.0.0.1:$(hport silent)" "127.0.0.1:$(hport slowloris)"
end=$(date +%s.%N)
elapsed=$(awk -v s="$start" -v e="$end" 'BEGIN{printf "%.1f", e-s}')
awk -v e="$elapsed" -v t="$TIMEOUT" 'BEGIN{exit !(e >= t - 0.5 && e <= t + 10)}' ||
  fail "silent+slowloris took ${elapsed}s, expected about ${TIMEOUT}s"
[ "$(grep -o '"Status": *"timeout"' <<<"$OUT" | wc -l)" = 2 ] ||
  { printf '%s\n' "$OUT"; fail "silent+slowloris: not two timeouts"; }
note "silent + slowloris alone: ${elapsed}s"

# --- a malformed line in --from: exit 2, FILE:LINE, nothing probed/stored --
before=$(db_digest)
{ echo "# hostile targets"; echo "127.0.0.1:$PORT_good"; echo "foo:99999"
  echo "127.0.0.1:$PORT_big"; } >"$TMP/targets.txt"
run_expect 2 "$CERTHUB" probe --from "$TMP/targets.txt" --timeout "${TIMEOUT}s"
grep -Fq "$TMP/targets.txt:3:" <<<"$ERR" || fail "no '$TMP/targets.txt:3:' in: $ERR"
grep -Fq "foo:99999" <<<"$ERR" || fail "the bad target is not named in: $ERR"
[ -z "$OUT" ] || fail "output for a refused targets file: $OUT"
[ "$(db_digest)" = "$before" ] || fail "a malformed targets file changed the store"
note "malformed line: $(head -n 1 <<<"$ERR")"
