#!/usr/bin/env bash
# The import series docs/PERFORMANCE.md quotes: bench/http_findings.sh
# RUNS times into a fresh store, then RUNS_1M times into a copy of a big
# store (copied and synced before each run, so the copy's dirty pages do
# not land in the first checkpoint's fdatasync).
#
#   bench/http_findings_series.sh BUILD_DIR [BIG_DB] [RUNS] [RUNS_1M]
#   (BIG_DB e.g. a store of 1,000,000 findings made by
#    CH_BENCH_IMPORT_ONLY=1 build/bench/bench_findings_query 1000000 DIR 1)
set -euo pipefail
build=${1:?usage: http_findings_series.sh BUILD_DIR [BIG_DB] [RUNS] [RUNS_1M]}
big=${2:-}
runs=${3:-5}
runs_big=${4:-3}
here=$(dirname "$0")
load() { cut -d' ' -f1 /proc/loadavg; }
for i in $(seq "$runs"); do
  echo "== fresh $i $(date -u +%T) load $(load)"
  "$here/http_findings.sh" "$build" 20000 8 4 2>&1 |
    grep -E '^total|writer lock|after start-up'
done
[ -n "$big" ] || exit 0
[ -f "$big" ] || { echo "http_findings_series.sh: $big: no such database" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/certhub-series.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
for i in $(seq "$runs_big"); do
  rm -f "$tmp"/c.db*
  cp "$big" "$tmp/c.db"
  sync
  echo "== big $i $(date -u +%T) load $(load)"
  "$here/http_findings.sh" "$build" 20000 8 4 "$tmp/c.db" 2>&1 |
    grep -E '^total|writer lock|after start-up'
done
