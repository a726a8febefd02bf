#!/usr/bin/env bash
# Notification delivery benchmark: http deliveries per second from the
# delivery engine (libcurl multi, keep-alive) to a local C receiver
# (bench_notify_recv, epoll, keep-alive), fan-out included.
#
#   bench/notify/run.sh [BUILD_DIR]    RUNS (5), MESSAGES (2000), SUBS (10),
#                                      IN_FLIGHT (128), RAW (0), ATTRS (0;
#                                      1: MessageAttributes, 2: and a
#                                      filter policy per subscription)
#
# Prints each run and the median rate.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
RUNS=${RUNS:-5}
B=$BUILD/bench/bench_notify
R=$BUILD/bench/bench_notify_recv
for b in "$B" "$R"; do
  [ -x "$b" ] || { echo "bench: $b missing; build first" >&2; exit 2; }
done
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
TMP=$(mktemp -d)
"$R" "$PORT" >"$TMP/recv.out" &
RP=$!
trap 'kill $RP 2>/dev/null; rm -rf "$TMP"' EXIT
sleep 0.3
rates=()
cpurates=()
for i in $(seq "$RUNS"); do
  rm -rf "$TMP/run" && mkdir "$TMP/run"
  line=$("$B" "$TMP/run" "$PORT" "${MESSAGES:-2000}" "${SUBS:-10}" \
    "${IN_FLIGHT:-128}" "${RAW:-0}" "${ATTRS:-0}")
  echo "run $i: $line"
  rates+=("$(echo "$line" | sed -E 's/.* rate ([0-9]+).*/\1/')")
  cpurates+=("$(echo "$line" | sed -E 's/.*cpu-rate ([0-9]+).*/\1/')")
done
med() { printf '%s\n' "$@" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p"; }
echo "median: $(med "${rates[@]}") deliveries/s wall clock, $(med "${cpurates[@]}") per CPU second of the engine"
