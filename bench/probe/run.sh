#!/usr/bin/env bash
# Probe benchmark: `certhub probe` against prometheus-blackbox-exporter.
#
#   bench/probe/run.sh [BUILD_DIR]     (default build/, a RelWithDebInfo tree)
#   BENCH=probe bench/run.sh           (the same, through `make bench`)
#
# One nginx (2 worker processes, 127.0.0.1, a free port) serves N=1,000 SNI
# names, name0001.bench.test ..., each with its own leaf certificate and key
# (LEAF_KEY, default ec:P-256; rsa:2048 also works), issued by a P-256 bench
# intermediate under a P-256 bench root: every handshake presents 2
# certificates (leaf + intermediate). Generated once into
# bench/out/probe-data-LEAF_KEY/ (reused until it is 300 days old).
#
# Measured in one run, each figure the median of RUNS runs (default 5):
#   - `certhub probe --from targets.txt --ca-file root.pem` over the N names,
#     at each concurrency in CONCS (default "64 256"; --per-host is set to
#     the same, since every target is 127.0.0.1): cold (a new database),
#     warm (the same database again) and --no-store. probes/s is N over the
#     wall time of the process; client CPU is its utime+stime (wait4) over N,
#     start-up, DNS-free parsing, verification, output and storage included.
#   - prometheus-blackbox-exporter with one module per name (prober tcp,
#     tls: true, server_name and ca_file), driven over keep-alive HTTP by
#     bbdrive.py at PEER_CONC (default 64) requests in flight; its CPU is
#     the utime+stime delta of its process (/proc/PID/stat) over N, after a
#     warm-up pass. Every probe must return probe_success 1.
#   - nginx worker CPU per probe, for both, to show the server side is equal.
# The machine's cores are shared by nginx, the prober and the driver; nothing
# is pinned. Output: a Markdown table on stdout, progress on stderr.
# SIDES="certhub peer" selects what runs (e.g. SIDES=peer). WRAP="perf
# record -g -o /tmp/p.data" runs certhub under a profiler (figures then
# include the profiler's CPU; for profiles only).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
RUNS=${RUNS:-5}
N=${N:-1000}
CONCS=${CONCS:-"64 256"}
PEER_CONC=${PEER_CONC:-64}
SIDES=${SIDES:-"certhub peer"}
LEAF_KEY=${LEAF_KEY:-ec:P-256}
HERE=bench/probe
DATA=bench/out/probe-data-${LEAF_KEY//:/-}
CERTHUB=$BUILD/certhub
GEN=$BUILD/tools/certhub-gen
BB=${BLACKBOX:-/usr/bin/prometheus-blackbox-exporter}
NGINX=${NGINX:-/usr/sbin/nginx}
has() { case " $SIDES " in *" $1 "*) return 0 ;; esac; return 1; }

die() { echo "bench/probe: $*" >&2; exit 1; }
[ "$N" -ge 1 ] && [ "$N" -le 9999 ] || die "N must be 1..9999"
[ -x "$GEN" ] || die "$GEN missing; run 'make build' first"
[ -x "$NGINX" ] || die "$NGINX missing (Debian nginx-light)"
if has certhub; then
  [ -x "$CERTHUB" ] || die "$CERTHUB missing; run 'make build' first"
  "$CERTHUB" probe --help >/dev/null 2>&1 ||
    die "$CERTHUB has no working 'probe' command"
fi
if has peer; then
  [ -x "$BB" ] || die "$BB missing (Debian prometheus-blackbox-exporter)"
fi

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "?"; else print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # PORT PID: until something accepts on PORT, or PID dies
  local i
  for i in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
# ticks PID...: utime+stime of these processes, in clock ticks.
ticks() {
  local p t=0 s
  for p in "$@"; do
    s=$(cat "/proc/$p/stat") || continue
    s=${s##*) } # fields after "(comm) "; utime and stime are 12th and 13th
    t=$((t + $(echo "$s" | awk '{print $12 + $13}')))
  done
  echo "$t"
}
HZ=$(getconf CLK_TCK)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

# --- data: root, intermediate, N leaves (cert+intermediate, key) ---------
if [ ! -f "$DATA/done" ] || [ "$(cat "$DATA/done")" != "$N" ] ||
  [ -n "$(find "$DATA/done" -mtime +300)" ]; then
  rm -rf "$DATA"; mkdir -p "$DATA/certs"
  echo "bench/probe: generating $N server certificates..." >&2
  "$GEN" --key ec:P-256 --ca --cn "certhub probe bench root" \
    --not-after +3650d -o "$DATA/root.pem" --key-out "$DATA/root.key"
  "$GEN" --key ec:P-256 --ca --pathlen 0 --cn "certhub probe bench issuing CA" \
    --issuer-cert "$DATA/root.pem" --issuer-key "$DATA/root.key" \
    --not-after +3650d -o "$DATA/int.pem" --key-out "$DATA/int.key"
  for i in $(seq -f %04g 1 "$N"); do
    name=name$i.bench.test
    "$GEN" --key "$LEAF_KEY" --cn "$name" --san "DNS:$name" \
      --issuer-cert "$DATA/int.pem" --issuer-key "$DATA/int.key" \
      --not-after +400d -o "$DATA/certs/$i.leaf" --key-out "$DATA/certs/$i.key"
    cat "$DATA/certs/$i.leaf" "$DATA/int.pem" >"$DATA/certs/$i.pem"
    rm "$DATA/certs/$i.leaf"
  done
  echo "$N" >"$DATA/done"
fi
DATA=$(cd "$DATA" && pwd)

mkdir -p bench/out
T=$(mktemp -d "$PWD/bench/out/probe-run.XXXXXX")
NGINX_PID=; BB_PID=
cleanup() {
  [ -n "$BB_PID" ] && kill "$BB_PID" 2>/dev/null && wait "$BB_PID" 2>/dev/null
  [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT

# --- nginx ---------------------------------------------------------------
PORT=$(free_port)
mkdir -p "$T/nginx/logs" "$T/nginx/tmp"
{
  cat <<CONF
worker_processes 2;
daemon off;
pid $T/nginx/nginx.pid;
error_log $T/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $T/nginx/tmp/body;
  proxy_temp_path $T/nginx/tmp/proxy;
  fastcgi_temp_path $T/nginx/tmp/fastcgi;
  uwsgi_temp_path $T/nginx/tmp/uwsgi;
  scgi_temp_path $T/nginx/tmp/scgi;
  server_names_hash_max_size 16384;
  server_names_hash_bucket_size 128;
  ssl_protocols TLSv1.2 TLSv1.3;
CONF
  for i in $(seq -f %04g 1 "$N"); do
    printf '  server { listen 127.0.0.1:%s ssl; server_name name%s.bench.test;\n' "$PORT" "$i"
    printf '    ssl_certificate %s/certs/%s.pem; ssl_certificate_key %s/certs/%s.key;\n' "$DATA" "$i" "$DATA" "$i"
    printf '    return 204; }\n'
  done
  echo "}"
} >"$T/nginx/nginx.conf"
"$NGINX" -p "$T/nginx" -c "$T/nginx/nginx.conf" -e "$T/nginx/logs/error.log" &
NGINX_PID=$!
wait_port "$PORT" "$NGINX_PID" ||
  { cat "$T/nginx/logs/error.log" >&2; die "nginx did not start"; }
sleep 0.2
mapfile -t WORKERS < <(pgrep -P "$NGINX_PID")
[ "${#WORKERS[@]}" = 2 ] || die "expected 2 nginx workers, found ${#WORKERS[@]}"
# The setup itself: a name far from the default server, verified, 2 certs.
last=$(printf %04d "$N")
chk=$(openssl s_client -connect "127.0.0.1:$PORT" -servername "name$last.bench.test" \
  -CAfile "$DATA/root.pem" -verify_return_error -showcerts </dev/null 2>&1) ||
  { echo "$chk" >&2; die "nginx: name$last.bench.test does not verify"; }
[ "$(grep -c 'BEGIN CERTIFICATE' <<<"$chk")" = 2 ] || die "nginx: chain is not 2 certificates"
grep -q "subject=CN *= *name$last.bench.test" <<<"$chk" || die "nginx: wrong certificate for name$last"
echo "bench/probe: nginx on 127.0.0.1:$PORT, $N names; $(nproc) cores; RUNS=$RUNS; $(date -u +%FT%TZ)" >&2

for i in $(seq -f %04g 1 "$N"); do
  echo "127.0.0.1:$PORT sni=name$i.bench.test"
done >"$T/targets.txt"

# check_json FILE: every one of the N results ok, trusted, 2 certificates.
check_json() {
  python3 - "$1" "$N" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
good = [r for r in res if r.get("Status") == "ok" and r.get("Trusted") is True
        and len(r.get("Chain") or []) == 2]
if len(res) != n or len(good) != n:
    bad = [r for r in res if r not in good][:3]
    sys.stderr.write("bench/probe: %d results, %d ok+trusted+2 certs; e.g. %s\n"
                     % (len(res), len(good), json.dumps(bad)[:600]))
    sys.exit(1)
PY
}

# --- certhub -------------------------------------------------------------
declare -A RATE CPU RSS SRV
if has certhub; then
  for c in $CONCS; do
    declare -A rate=() cpu=() rss=() srv=()
    for r in $(seq "$RUNS"); do
      rm -f "$T"/db*
      for mode in cold warm nostore; do
        args=(--db "$T/db" probe); [ "$mode" = nostore ] && args=(--db "$T/scratch.db" probe --no-store)
        before=$(ticks "${WORKERS[@]}")
        set +e
        "$HERE/rusage.py" "$T/ru" ${WRAP:-} "$CERTHUB" "${args[@]}" --from "$T/targets.txt" \
          --ca-file "$DATA/root.pem" --concurrency "$c" --per-host "$c" \
          --timeout 30s -o json >"$T/out.json" 2>"$T/err"
        rc=$?
        set -e
        after=$(ticks "${WORKERS[@]}")
        [ "$rc" = 0 ] || { cat "$T/err" >&2; die "certhub probe ($mode, c=$c) exited $rc"; }
        check_json "$T/out.json" || die "certhub probe ($mode, c=$c): not all ok"
        read -r wall user sys maxrss <"$T/ru"
        rate[$mode]+="$(awk -v n="$N" -v w="$wall" 'BEGIN{printf "%.0f", n/w}') "
        cpu[$mode]+="$(awk -v u="$user" -v s="$sys" -v n="$N" 'BEGIN{printf "%.4f", (u+s)*1000/n}') "
        rss[$mode]+="$maxrss "
        srv[$mode]+="$(awk -v d="$((after - before))" -v hz="$HZ" -v n="$N" 'BEGIN{printf "%.4f", d*1000/hz/n}') "
        echo "bench/probe: certhub c=$c run $r $mode: $(cat "$T/ru")" >&2
      done
    done
    for mode in cold warm nostore; do
      RATE[$mode.$c]=$(tr ' ' '\n' <<<"${rate[$mode]}" | grep . | median)
      CPU[$mode.$c]=$(tr ' ' '\n' <<<"${cpu[$mode]}" | grep . | median)
      RSS[$mode.$c]=$(tr ' ' '\n' <<<"${rss[$mode]}" | grep . | median)
      SRV[$mode.$c]=$(tr ' ' '\n' <<<"${srv[$mode]}" | grep . | median)
    done
    unset rate cpu rss srv
  done
fi

# --- blackbox_exporter ---------------------------------------------------
if has peer; then
  {
    echo "modules:"
    for i in $(seq -f %04g 1 "$N"); do
      cat <<YML
  n$i:
    prober: tcp
    timeout: 30s
    tcp:
      tls: true
      tls_config:
        server_name: name$i.bench.test
        ca_file: $DATA/root.pem
YML
    done
  } >"$T/blackbox.yml"
  BBPORT=$(free_port)
  "$BB" --config.file="$T/blackbox.yml" --web.listen-address="127.0.0.1:$BBPORT" \
    --log.level=warn >"$T/bb.log" 2>&1 &
  BB_PID=$!
  wait_port "$BBPORT" "$BB_PID" || { cat "$T/bb.log" >&2; die "blackbox_exporter did not start"; }
  # Warm-up (not counted): the exporter is a long-running server.
  python3 "$HERE/bbdrive.py" "$BBPORT" "$PORT" "$N" "$PEER_CONC" >"$T/bb.out"
  prates=(); pcpus=(); psrv=(); failed=0
  for r in $(seq "$RUNS"); do
    b0=$(ticks "$BB_PID"); n0=$(ticks "${WORKERS[@]}")
    python3 "$HERE/bbdrive.py" "$BBPORT" "$PORT" "$N" "$PEER_CONC" >"$T/bb.out"
    b1=$(ticks "$BB_PID"); n1=$(ticks "${WORKERS[@]}")
    read -r ok fl wall <"$T/bb.out"
    ok=${ok#ok=}; fl=${fl#failed=}; wall=${wall#wall=}
    failed=$((failed + fl))
    prates+=("$(awk -v n="$N" -v w="$wall" 'BEGIN{printf "%.0f", n/w}')")
    pcpus+=("$(awk -v d="$((b1 - b0))" -v hz="$HZ" -v n="$N" 'BEGIN{printf "%.4f", d*1000/hz/n}')")
    psrv+=("$(awk -v d="$((n1 - n0))" -v hz="$HZ" -v n="$N" 'BEGIN{printf "%.4f", d*1000/hz/n}')")
    echo "bench/probe: blackbox c=$PEER_CONC run $r: ok=$ok failed=$fl wall=$wall cpu_ticks=$((b1 - b0))" >&2
  done
  PRATE=$(printf '%s\n' "${prates[@]}" | median)
  PCPU=$(printf '%s\n' "${pcpus[@]}" | median)
  PSRV=$(printf '%s\n' "${psrv[@]}" | median)
  PRSS=$(awk '/^VmHWM/ {print $2}' "/proc/$BB_PID/status")
fi

# --- report --------------------------------------------------------------
bbver=$("$BB" --version 2>&1 | awk 'NR==1 {print $3}')
echo
echo "Probe benchmark: $N SNI names on one nginx $("$NGINX" -v 2>&1 | sed 's,.*/,,') (2 workers) on 127.0.0.1,"
echo "$LEAF_KEY leaf (own key per name) + P-256 intermediate presented (2 certificates), verified against a bench root;"
echo "$(nproc) cores shared by nginx, the prober and the driver; median of $RUNS runs;"
echo "load average before: $LOAD0, after: $(cut -d' ' -f1-3 /proc/loadavg)."
echo
echo "| prober | concurrency | probes/s | client CPU ms/probe | nginx CPU ms/probe | max RSS MB |"
echo "|---|---:|---:|---:|---:|---:|"
mb() { awk -v k="$1" 'BEGIN{ if (k=="" || k=="?") print "?"; else printf "%.1f", k/1024}'; }
f0() { awk -v x="$1" 'BEGIN{ if (x=="" || x=="?") print "?"; else printf "%.0f", x}'; }
f3() { awk -v x="$1" 'BEGIN{ if (x=="" || x=="?") print "?"; else printf "%.3f", x}'; }
if has certhub; then
  for c in $CONCS; do
    for mode in cold warm nostore; do
      case $mode in
        cold) what="certhub probe, new database" ;;
        warm) what="certhub probe, same database again" ;;
        nostore) what="certhub probe --no-store" ;;
      esac
      echo "| $what | $c | $(f0 "${RATE[$mode.$c]}") | $(f3 "${CPU[$mode.$c]}") | $(f3 "${SRV[$mode.$c]}") | $(mb "${RSS[$mode.$c]}") |"
    done
  done
fi
if has peer; then
  echo "| blackbox_exporter $bbver (tcp+tls module per name), driver not counted | $PEER_CONC | $(f0 "$PRATE") | $(f3 "$PCPU") | $(f3 "$PSRV") | $(mb "$PRSS") |"
fi
echo
if has peer; then
  echo "blackbox_exporter: $failed failed probes over $RUNS runs (plus a warm-up pass)."
fi
if has certhub && has peer; then
  c=$PEER_CONC
  if [ -n "${RATE[cold.$c]:-}" ]; then
    awk -v cr="${RATE[cold.$c]}" -v wr="${RATE[warm.$c]}" -v pr="$PRATE" \
      -v cc="${CPU[cold.$c]}" -v wc="${CPU[warm.$c]}" -v nc="${CPU[nostore.$c]}" -v pc="$PCPU" -v c="$c" 'BEGIN {
      printf "At concurrency %d: certhub probes/s = %.1fx blackbox_exporter (cold), %.1fx (warm); ", c, cr/pr, wr/pr
      printf "blackbox_exporter uses %.1fx (cold) / %.1fx (warm) certhub'"'"'s CPU per probe.\n", pc/cc, pc/wc
      printf "Storage share of client CPU: %.0f%% cold, %.0f%% warm (vs --no-store).\n", (cc-nc)*100/cc, (wc-nc)*100/wc
      printf "Targets: client CPU <= 0.3 ms/probe: %s (cold %.3f, warm %.3f); probes/s >= 5x blackbox_exporter: %s (%.1fx).\n",
        (cc <= 0.3 && wc <= 0.3) ? "met" : "NOT met", cc, wc, (cr >= 5*pr) ? "met" : "NOT met", cr/pr
    }'
  fi
fi
