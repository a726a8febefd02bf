#!/usr/bin/env bash
# A kill -9 in the middle of an import leaves a consistent store: committed
# batches are whole, no file is half-imported, and a rerun completes.
. "$(dirname "$0")/lib.sh"

N=60000
"$CERTHUB_GEN" --key ec:P-256 --count $N --split 1:300 --seed 42 \
  --outdir "$TMP/estate" --not-after +200d >/dev/null
files=$(find "$TMP/estate" -type f | wc -l)
note "generated $N certificates in $files files"

interrupted=0
for attempt in 1 2 3; do
  rm -rf "$TMP/db"
  "$CERTHUB" -q import --batch-size 200 "$TMP/estate" &
  pid=$!
  # Wait for the first committed batch, then kill without warning.
  for _ in $(seq 1 400); do
    n=$(sqlite3 "$CERTHUB_DB" 'SELECT count(*) FROM certs' 2>/dev/null || echo 0)
    [ "${n:-0}" -gt 0 ] && break
    sleep 0.01
  done
  kill -9 $pid 2>/dev/null || true
  set +e; wait $pid; rc=$?; set -e
  if [ $rc -eq 137 ]; then interrupted=1; break; fi
  note "attempt $attempt: import finished (rc=$rc) before the kill; retrying"
done
[ $interrupted = 1 ] || fail "could not interrupt the import"

[ "$(sqlite3 "$CERTHUB_DB" 'PRAGMA integrity_check')" = ok ] ||
  fail "integrity_check failed after kill -9"
stored=$(sqlite3 "$CERTHUB_DB" 'SELECT count(*) FROM certs')
note "after kill -9: $stored of $N certificates committed"
[ "$stored" -lt $N ] || fail "kill came too late to prove anything"

# No file is half-imported: each file source has exactly as many sightings
# as the file holds certificates.
sqlite3 -separator ' ' "$CERTHUB_DB" \
  "SELECT s.locator, count(*) FROM sources s JOIN sightings g ON g.source_id = s.id GROUP BY s.id" |
  while read -r path count; do
    want=$(grep -c 'BEGIN CERTIFICATE' "$path")
    [ "$count" = "$want" ] || fail "$path: $count of $want certificates stored"
  done
# Every certificate has a sighting.
orphans=$(sqlite3 "$CERTHUB_DB" \
  'SELECT count(*) FROM certs WHERE id NOT IN (SELECT cert_id FROM sightings)')
[ "$orphans" = 0 ] || fail "$orphans certificates without a source"

# The CLI reads the interrupted store, and a rerun completes it.
run_expect 0 "$CERTHUB" list -o csv
[ "$(printf '%s\n' "$OUT" | tail -n +2 | wc -l)" = "$stored" ] ||
  fail "list shows a different count than the store"
run_expect 0 "$CERTHUB" import "$TMP/estate"
[ "$(sqlite3 "$CERTHUB_DB" 'SELECT count(*) FROM certs')" = $N ] ||
  fail "rerun did not complete the import"
[ "$(sqlite3 "$CERTHUB_DB" 'PRAGMA integrity_check')" = ok ] || fail "integrity"
echo "ok: kill -9 left $stored committed certificates; rerun imported all $N"
