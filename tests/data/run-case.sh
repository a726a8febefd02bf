#!/usr/bin/env bash
# run-case.sh CERTHUB_BINARY CASEFILE
#
# Runs one declarative case (tests/data/cases/*.case), in the spirit of
# jq's tests. A case file starts with "#" comment lines, then steps:
#
#   $ certhub ARGS...     a command line, run by bash in a temp dir shared by
#                         the case's steps; `certhub` is the binary under test,
#                         $DATA the test data dir, $TMP the temp dir
#   ? N                   expected exit code (default 0)
#   ! TEXT                stderr must contain TEXT
#   ~ REGEX               some stdout line must match the extended REGEX; any
#                         "~" turns off the exact stdout comparison
#   anything else         the exact expected stdout, line by line
#
# Blank lines at the end of a step are ignored, so steps can be separated
# by one. Steps run under `set -o pipefail`, so `certhub ... | sed ...`
# still reports certhub's exit code. Each step runs with CERTHUB_DB=$TMP/db, NO_COLOR=1, CERTHUB_NOW
# and CERTHUB_CONFIG unset, and HOME and the XDG dirs inside $TMP.
set -u

if [ $# -ne 2 ]; then
  echo "usage: $0 CERTHUB_BINARY CASEFILE" >&2
  exit 2
fi
BIN=$1
CASE=$2
[ -x "$BIN" ] || { echo "run-case: $BIN is not executable" >&2; exit 2; }
# steps run in the temp dir: make the binary's path absolute
case $BIN in
  /*) ;;
  *) BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN") ;;
esac
[ -r "$CASE" ] || { echo "run-case: cannot read $CASE" >&2; exit 2; }
: "${CERTHUB_TEST_DATA:=$(cd "$(dirname "$0")" && pwd)}"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/certhub-case.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/home" "$TMP/.run"
RUN="$TMP/.run"

failures=0
nstep=0
reported=
cmd=
code=0
exp_out=()
exp_err=()
exp_re=()

fail() {
  if [ "$reported" != "$nstep" ]; then
    echo "FAIL: $CASE step $nstep: \$ $cmd" >&2
    failures=$((failures + 1))
    reported=$nstep
  fi
  echo "  $1" >&2
}

run_step() {
  [ -n "$cmd" ] || return 0
  nstep=$((nstep + 1))
  # drop trailing blank lines of the expected stdout
  local n=${#exp_out[@]}
  while [ "$n" -gt 0 ] && [ -z "${exp_out[$((n - 1))]}" ]; do
    unset "exp_out[$((n - 1))]"
    n=$((n - 1))
  done
  (
    cd "$TMP" || exit 99
    unset CERTHUB_NOW CERTHUB_CONFIG
    export CERTHUB_DB="$TMP/db" NO_COLOR=1 DATA="$CERTHUB_TEST_DATA" \
      TMP="$TMP" HOME="$TMP/home" XDG_CONFIG_HOME="$TMP/home/.config" \
      XDG_STATE_HOME="$TMP/home/.local/state" CERTHUB_BIN="$BIN"
    exec timeout 120 bash -o pipefail -c 'certhub() { "$CERTHUB_BIN" "$@"; }
'"$cmd" </dev/null
  ) >"$RUN/stdout" 2>"$RUN/stderr"
  local rc=$?
  local ok=1
  if [ "$rc" != "$code" ]; then
    fail "exit code $rc, expected $code"
    ok=0
  fi
  local t
  for t in "${exp_err[@]+"${exp_err[@]}"}"; do
    if ! grep -qF -- "$t" "$RUN/stderr"; then
      fail "stderr does not contain: $t"
      ok=0
    fi
  done
  if [ ${#exp_re[@]} -gt 0 ]; then
    for t in "${exp_re[@]}"; do
      if ! grep -qE -- "$t" "$RUN/stdout"; then
        fail "no stdout line matches: $t"
        ok=0
      fi
    done
  else
    if [ ${#exp_out[@]} -gt 0 ]; then
      printf '%s\n' "${exp_out[@]}" >"$RUN/expected"
    else
      : >"$RUN/expected"
    fi
    if ! cmp -s "$RUN/expected" "$RUN/stdout"; then
      fail "stdout differs:"
      diff -u --label expected --label actual "$RUN/expected" \
        "$RUN/stdout" >&2
      ok=0
    fi
  fi
  if [ $ok = 0 ]; then
    echo "  --- stderr:" >&2
    sed 's/^/  | /' "$RUN/stderr" >&2
  fi
}

in_header=1
lineno=0
while IFS= read -r line || [ -n "$line" ]; do
  lineno=$((lineno + 1))
  if [ $in_header = 1 ]; then
    case $line in
      '#'* | '') continue ;;
    esac
    in_header=0
  fi
  case $line in
    '$ '*)
      run_step
      cmd=${line#'$ '}
      code=0
      exp_out=()
      exp_err=()
      exp_re=()
      ;;
    '? '*)
      code=${line#'? '}
      ;;
    '! '*) exp_err+=("${line#'! '}") ;;
    '~ '*) exp_re+=("${line#'~ '}") ;;
    *)
      if [ -z "$cmd" ]; then
        echo "run-case: $CASE:$lineno: expected output before any step" >&2
        exit 2
      fi
      exp_out+=("$line")
      ;;
  esac
done <"$CASE"
run_step

if [ $nstep = 0 ]; then
  echo "run-case: $CASE: no steps" >&2
  exit 2
fi
if [ $failures -gt 0 ]; then
  echo "$CASE: $failures failure(s) in $nstep steps" >&2
  exit 1
fi
echo "$CASE: $nstep steps ok"
