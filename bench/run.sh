#!/usr/bin/env bash
# Inventory benchmark (issue: import 100,000 distinct certificates).
#
#   bench/run.sh [BUILD_DIR]     (default build/, a RelWithDebInfo tree)
#
# Generates 100,000 certificates (leaf keys mixed RSA-2048 and P-256, over
# files of 1 to 1,000 certificates) into bench/data/ once, then measures in
# one run, on one core:
#   1. parse: certhub's parser vs d2i_X509 (+key bits, digest) vs d2i_X509
#   2. end-to-end `certhub import` into a fresh SQLite database
#   3. the `openssl x509 -noout -enddate` CLI loop, one process per file
# Each figure is the median of RUNS runs (default 5). Output is a Markdown
# table for docs/PERFORMANCE.md.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
# BENCH=probe: the probe benchmark instead (bench/probe/run.sh).
if [ "${BENCH:-import}" = probe ]; then exec bench/probe/run.sh "$BUILD"; fi
# BENCH=match: the event-matching benchmark (bench/match/run.sh).
if [ "${BENCH:-import}" = match ]; then exec bench/match/run.sh "$BUILD"; fi
# BENCH=digest: digest, filter policy and sealing costs (bench/bench_digest.c).
if [ "${BENCH:-import}" = digest ]; then exec "$BUILD/bench/bench_digest"; fi
RUNS=${RUNS:-5}
N=${N:-100000}
DATA=bench/data
CERTHUB=$BUILD/certhub
GEN=$BUILD/tools/certhub-gen
PARSE=$BUILD/bench/bench_parse
for b in "$CERTHUB" "$GEN" "$PARSE"; do
  [ -x "$b" ] || { echo "bench: $b missing; run 'make build' first" >&2; exit 2; }
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

if [ ! -f "$DATA/estate.done" ] || [ "$(cat "$DATA/estate.done")" != "$N" ]; then
  rm -rf "$DATA"; mkdir -p "$DATA"
  echo "bench: generating $N certificates..." >&2
  "$GEN" --key ec:P-256 --ca --cn "certhub bench CA" --not-after +3650d \
    -o "$DATA/ca.pem" --key-out "$DATA/ca.key"
  "$GEN" --key mix --key-pool 8 --count "$N" --split 1:1000 --seed 1 \
    --cn "leaf-%d.bench.example" --issuer-cert "$DATA/ca.pem" \
    --issuer-key "$DATA/ca.key" --outdir "$DATA/estate" --not-after +400d \
    >/dev/null
  find "$DATA/estate" -type f -name '*.pem' | sort | xargs cat >"$DATA/all.pem"
  "$GEN" --key ec:P-256 --count 1000 --split 1:1 --seed 2 --cn "one-%d.example" \
    --outdir "$DATA/singles" --not-after +90d >/dev/null
  echo "$N" >"$DATA/estate.done"
fi
files=$(find "$DATA/estate" -type f | wc -l)
echo "bench: $N certificates in $files files; $(nproc) cores; $(date -u +%FT%TZ)" >&2

# 1. Parse, in memory, one thread.
declare -A parse
for r in $(seq "$RUNS"); do
  taskset -c 0 "$PARSE" "$DATA/all.pem" >"$DATA/parse.$r"
done
for name in $(awk '{print $1}' "$DATA/parse.1"); do
  parse[$name]=$(cat "$DATA"/parse.* | awk -v n="$name" '$1==n {for(i=2;i<=NF;i++) if($i ~ /^certs_per_s=/){sub("certs_per_s=","",$i); print $i}}' | median)
done

# 2. End-to-end import into a fresh database, pinned to one core.
imp=(); cpu=(); rss=()
for r in $(seq "$RUNS"); do
  rm -f "$DATA/bench.db" "$DATA/bench.db-wal" "$DATA/bench.db-shm"
  /usr/bin/time -f '%e %U %S %M' -o "$DATA/time.$r" \
    taskset -c 0 "$CERTHUB" -q --db "$DATA/bench.db" import "$DATA/estate"
  read -r wall user sys maxrss <"$DATA/time.$r"
  imp+=("$(awk -v n="$N" -v w="$wall" 'BEGIN{printf "%d", n/w}')")
  cpu+=("$(awk -v u="$user" -v s="$sys" -v n="$N" 'BEGIN{printf "%.1f", (u+s)*1e6/n}')")
  rss+=("$maxrss")
done
imp_med=$(printf '%s\n' "${imp[@]}" | median)
cpu_med=$(printf '%s\n' "${cpu[@]}" | median)
rss_med=$(printf '%s\n' "${rss[@]}" | median)
stored=$(sqlite3 "$DATA/bench.db" 'SELECT count(*) FROM certs')
[ "$stored" = "$N" ] || { echo "bench: stored $stored of $N" >&2; exit 1; }

# Re-import of the same estate (idempotent path: every certificate known).
rm -f "$DATA/time.re"
/usr/bin/time -f '%e' -o "$DATA/time.re" taskset -c 0 \
  "$CERTHUB" -q --db "$DATA/bench.db" import "$DATA/estate"
reimp=$(awk -v n="$N" '{printf "%d", n/$1}' "$DATA/time.re")

# 3. openssl x509 -enddate, one process per certificate file.
ossl=()
for r in $(seq "$RUNS"); do
  start=$(date +%s.%N)
  find "$DATA/singles" -type f -name '*.pem' | while read -r f; do
    taskset -c 0 openssl x509 -noout -enddate -in "$f" >/dev/null
  done
  end=$(date +%s.%N)
  ossl+=("$(awk -v s="$start" -v e="$end" 'BEGIN{printf "%d", 1000/(e-s)}')")
done
ossl_med=$(printf '%s\n' "${ossl[@]}" | median)

cat <<TXT
| what (one core, median of $RUNS) | certificates/s |
|---|---:|
| certhub parser (DER walk + SHA-256 + SHA-1) | ${parse[certhub_parse_der]:-?} |
| d2i_X509 + key bits + SHA-256 digest | ${parse[openssl_d2i_bits_digest]:-?} |
| d2i_X509 alone | ${parse[openssl_d2i_only]:-?} |
| certhub import, end to end into SQLite ($files files) | $imp_med |
| certhub re-import of the same estate (all known) | $reimp |
| openssl x509 -noout -enddate, one process per file | $ossl_med |

import: ${cpu_med} us CPU per certificate, max RSS ${rss_med} KB.
TXT
