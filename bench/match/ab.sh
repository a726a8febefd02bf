#!/usr/bin/env bash
# A/B of two certhub binaries on the matching benchmark: the binaries
# alternate run by run (so both see the same neighbours on a shared
# machine), N times each, one core (taskset -c 0); prints per rule set
# the median and the best events per CPU-second of each, and the ratio
# of the medians.
#
#   bench/match/ab.sh OLD_CERTHUB NEW_CERTHUB [RULES.json ...]
#
# Default rule sets: complex-arrays, anything-but-suffix, exact, all 70
# and 10,000 rules (bench/data/citylots/{all,many}.json, written by
# run.sh). N (default 7); CITYLOTS=DIR as in run.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
OLD=$1 NEW=$2
shift 2
N=${N:-7}
DATA=bench/data/citylots
EVENTS=${CITYLOTS:-$DATA}/citylots2.jsonl
[ -f "$EVENTS" ] || { echo "ab: $EVENTS missing (run run.sh first, or set CITYLOTS)" >&2; exit 2; }
RULES=("$@")
[ ${#RULES[@]} -gt 0 ] || RULES=(bench/match/rules/complex-arrays.json
  bench/match/rules/anything-but-suffix.json bench/match/rules/exact.json
  "$DATA/all.json" "$DATA/many.json")
PIN=()
command -v taskset >/dev/null && PIN=(taskset -c 0)
field() { tr ' ' '\n' | awk -v k="$1" 'p {print; exit} $0 == k {p=1}'; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
echo "ab: $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg), N=$N" >&2
echo "| rules | old median | new median | old best | new best | median ratio |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
for rf in "${RULES[@]}"; do
  o=(); n=()
  for i in $(seq "$N"); do
    for b in old new; do
      bin=$OLD; [ $b = new ] && bin=$NEW
      v=$("${PIN[@]}" "$bin" events match --rules "$rf" --events "$EVENTS" \
        --stats 2>&1 >/dev/null | field events_per_cpu_s)
      if [ $b = old ]; then o+=("$v"); else n+=("$v"); fi
    done
  done
  om=$(printf '%s\n' "${o[@]}" | median); nm=$(printf '%s\n' "${n[@]}" | median)
  ob=$(printf '%s\n' "${o[@]}" | sort -n | tail -1)
  nb=$(printf '%s\n' "${n[@]}" | sort -n | tail -1)
  echo "| $(basename "$rf" .json) | $om | $nm | $ob | $nb | $(awk -v a="$nm" -v b="$om" 'BEGIN{printf "%.2fx", a/b}') |"
done
echo "ab: done $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
