#!/usr/bin/env bash
# Event-matching benchmark: `certhub events match` on the CityLots2-shaped
# data, with the rule sets of aws/event-ruler's Benchmarks.java (14 kinds,
# bench/match/rules/KIND.json, 5 rules each) and all of them together.
#
#   bench/match/run.sh [BUILD_DIR]      (default build/, RelWithDebInfo)
#
# CITYLOTS=DIR takes the data from DIR (synthetic-citylots2.json.gz, or
# citylots2.jsonl already decompressed) instead of generating it into
# bench/data/citylots/, so that several worktrees share one copy; the
# working files (rule sets, outputs) stay in bench/data/citylots/.
#
# 1. Generates the data once (../shared/data/gen_citylots_synth.py, about
#    45 s, into bench/data/citylots/, git-ignored) and decompresses it once,
#    so that reading and gunzip are out of the measurement.
# 2. Checks the compiled ruleset against the reference matcher on the first
#    CHECK events (default 20000) for all the rules.
# 3. Per kind, RUNS times (default 5), on one core (taskset -c 0): the
#    command's own --stats figure, i.e. the matching loop only (the file is
#    read in 1 MiB chunks; the time in read() is subtracted). Reported as
#    events per CPU-second (the process's CPU time: on a shared machine
#    wall-clock also counts other processes) and per wall-clock second.
# 4. In the same run the baseline: parsing each event with jansson
#    (json_loadb per line, in memory; build/bench/bench_match_json).
# Prints a Markdown table (medians) for docs/PERFORMANCE.md, with the
# matches per rule next to event-ruler's counts on the real CityLots2 (the
# synthetic data has the same shape, so the counts differ: not a check).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(git rev-parse --show-toplevel)
BUILD=${1:-build}
RUNS=${RUNS:-5}
CHECK=${CHECK:-20000}
DATA=bench/data/citylots
SRC=${CITYLOTS:-$DATA}
RULES=bench/match/rules
CERTHUB=$BUILD/certhub
JSONB=$BUILD/bench/bench_match_json
GEN="$ROOT/../shared/data/gen_citylots_synth.py"
KINDS="exact wildcard prefix prefix-equals-ignore-case suffix
  suffix-equals-ignore-case equals-ignore-case numeric anything-but
  anything-but-ignore-case anything-but-prefix anything-but-suffix
  anything-but-wildcard complex-arrays"
for b in "$CERTHUB" "$JSONB"; do
  [ -x "$b" ] || { echo "bench: $b missing; build first" >&2; exit 2; }
done
PIN=()
command -v taskset >/dev/null && PIN=(taskset -c 0)

mkdir -p "$DATA"
if [ ! -f "$SRC/citylots2.jsonl" ]; then
  mkdir -p "$SRC"
  if [ ! -f "$SRC/synthetic-citylots2.json.gz" ]; then
    echo "bench: generating the data (about 45 s)..." >&2
    python3 "$GEN" "$SRC" >&2
  fi
  gzip -dc "$SRC/synthetic-citylots2.json.gz" >"$SRC/citylots2.jsonl.tmp"
  mv "$SRC/citylots2.jsonl.tmp" "$SRC/citylots2.jsonl"
fi
EVENTS=$SRC/citylots2.jsonl

# All kinds in one rules file.
python3 - "$RULES" $KINDS >"$DATA/all.json" <<'PY'
import json, sys
d, out = sys.argv[1], {}
for k in sys.argv[2:]:
    out.update(json.load(open(f"{d}/{k}.json")))
json.dump(out, sys.stdout, indent=1)
PY

# Scaling: 10,000 rules at once (exact MAPBLKLOT values, STREET prefixes,
# suffixes and equals-ignore-case, numeric x ranges), deterministic.
python3 - >"$DATA/many.json" <<'PY'
import json, random
r, out = random.Random(7), {}
for i in range(4000):
    out["x%d" % i] = {"properties": {"MAPBLKLOT": ["%07d" % r.randrange(10**7)]}}
for i in range(2000):
    s = "".join(r.choice("ABCDEFGHIJKLMNOPRSTUVWY") for _ in range(r.randint(2, 5)))
    out["p%d" % i] = {"properties": {"STREET": [{"prefix": s}]}}
    out["s%d" % i] = {"properties": {"STREET": [{"suffix": {"equals-ignore-case": s.lower()}}]}}
for i in range(1000):
    out["e%d" % i] = {"properties": {"STREET": [{"equals-ignore-case": "%s%d" % ("mason", i)}]}}
for i in range(1000):
    lo = -122.52 + r.random() * 0.16
    out["n%d" % i] = {"geometry": {"firstCoordinates": {"x": [{"numeric": [">", lo, "<", lo + 0.001]}]}}}
print(json.dumps(out))
PY

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
field() { tr ' ' '\n' | awk -v k="$1" 'p {print; exit} $0 == k {p=1}'; }

echo "bench: checking the ruleset against the reference on $CHECK events..." >&2
"$JSONB" "$EVENTS" "$DATA/all.json" "$CHECK" >&2

nev=$(grep -c . "$EVENTS")
echo "bench: $nev events, $(nproc) cores, $(date -u +%FT%TZ)" >&2

js_cpu=(); js_wall=()
for r in $(seq "$RUNS"); do
  out=$("${PIN[@]}" "$JSONB" "$EVENTS")
  js_cpu+=("$(echo "$out" | field events_per_cpu_s)")
  js_wall+=("$(echo "$out" | field events_per_s)")
done
js_cpu_med=$(printf '%s\n' "${js_cpu[@]}" | median)
js_wall_med=$(printf '%s\n' "${js_wall[@]}" | median)

rows=""
for k in $KINDS all many; do
  rf=$RULES/$k.json
  [ "$k" = all ] && rf=$DATA/all.json
  [ "$k" = many ] && rf=$DATA/many.json
  cpu=(); wall=()
  for r in $(seq "$RUNS"); do
    "${PIN[@]}" "$CERTHUB" events match --rules "$rf" --events "$EVENTS" \
      --stats >"$DATA/out.$k.json" 2>"$DATA/stats.$k"
    cpu+=("$(field events_per_cpu_s <"$DATA/stats.$k")")
    wall+=("$(field events_per_s <"$DATA/stats.$k")")
  done
  c=$(printf '%s\n' "${cpu[@]}" | median)
  w=$(printf '%s\n' "${wall[@]}" | median)
  counts=$(python3 - "$DATA/out.$k.json" bench/match/event-ruler-counts.json <<'PY'
import json, sys
got, er = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
if len(got) > 5:  # all, many
    print("%d rules, %d matches" % (len(got), sum(got.values())))
else:
    print(" ".join("%d (%d)" % (v, er[k]) for k, v in got.items()))
PY
)
  ratio=$(awk -v a="$c" -v b="$js_cpu_med" 'BEGIN{printf "%.1f", a/b}')
  rows+="| $k | $c | $w | ${ratio}x | $counts |"$'\n'
done

# Peak memory with every rule, the whole file.
/usr/bin/time -f '%M' -o "$DATA/rss" "$CERTHUB" events match \
  --rules "$DATA/all.json" --events "$EVENTS" >/dev/null
rss=$(cat "$DATA/rss")
nrules=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))))' "$DATA/all.json")

cat <<TXT
Command: \`certhub events match --rules bench/match/rules/KIND.json --events citylots2.jsonl --stats\`
($nev events of ~1 KB, synthetic CityLots2 shape; one core, taskset -c 0; median of $RUNS runs;
matching loop only, reading excluded).

| rule kind (5 rules each) | events/s (CPU) | events/s (wall) | vs jansson parse | matches per rule (event-ruler's on the real CityLots2) |
|---|---:|---:|---:|---|
${rows}| jansson json_loadb per event (baseline) | $js_cpu_med | $js_wall_med | 1.0x | |

Peak RSS with all $nrules rules over the whole file: ${rss} KB.
TXT
