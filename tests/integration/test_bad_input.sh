#!/usr/bin/env bash
# Bad input: each bad file gets one clear line naming the path (and the
# position of the bad certificate) with the reason; the import goes on; the
# exit code is 2; nothing already stored changes.
. "$(dirname "$0")/lib.sh"

G=$TMP/good; B=$TMP/bad
mkdir -p "$G" "$B"
"$CERTHUB_GEN" --key ec:P-256 --cn good-%d.example --count 3 -o "$G/good.pem"
"$CERTHUB_GEN" --key ec:P-256 --cn other.example -o "$TMP/other.pem" \
  --key-out "$TMP/other.key"
run_expect 0 "$CERTHUB" import "$G"
before=$(db_digest)

# expect_bad NAME REGEX PATH...: import fails with a line matching REGEX
# that names the first PATH, and the store is unchanged.
expect_bad() {
  local name=$1 re=$2; shift 2
  run_expect 2 "$CERTHUB" -q import "$@"
  printf '%s\n' "$ERR" | grep -F -- "$1" | grep -Eq -- "$re" ||
    { printf '%s\n' "$ERR"; fail "$name: no line naming $1 matching /$re/"; }
  [ "$(db_digest)" = "$before" ] || fail "$name: the store changed"
  note "$name: $(printf '%s\n' "$ERR" | head -n 1)"
}

# Truncated PEM: the END line and half the base64 are gone.
head -c 400 "$TMP/other.pem" >"$B/truncated.pem"
expect_bad "truncated PEM" 'certificate #1' "$B/truncated.pem"

# A bundle whose second block has bad base64: the file is refused whole
# (its good first certificate is not stored either).
{ cat "$TMP/other.pem"; echo '-----BEGIN CERTIFICATE-----';
  echo 'MIIB!!!!not*base64'; echo '-----END CERTIFICATE-----'; } >"$B/badb64.pem"
expect_bad "bad base64" '#2.*base64' "$B/badb64.pem"

# Valid base64 that is not DER.
{ echo '-----BEGIN CERTIFICATE-----'; head -c 600 /dev/urandom | base64;
  echo '-----END CERTIFICATE-----'; } >"$B/garbage.pem"
expect_bad "garbage PEM" 'certificate #1' "$B/garbage.pem"

# Truncated DER.
openssl x509 -in "$TMP/other.pem" -outform DER -out "$TMP/other.der"
head -c 200 "$TMP/other.der" >"$B/truncated.der"
expect_bad "truncated DER" 'truncat' "$B/truncated.der"

# Garbage binary named explicitly.
head -c 4096 /dev/urandom >"$B/random.bin"
expect_bad "garbage DER" 'no certificate|not a|malformed' "$B/random.bin"

# PKCS#12 with the wrong password.
echo right >"$TMP/pass"; echo wrong >"$TMP/wrong"
openssl pkcs12 -export -in "$TMP/other.pem" -inkey "$TMP/other.key" \
  -passout file:"$TMP/pass" -out "$B/bundle.p12"
expect_bad "wrong PKCS#12 password" 'password' "$B/bundle.p12" \
  --password-file "$TMP/wrong"
run_expect 0 "$CERTHUB" -q import --password-file "$TMP/pass" "$B/bundle.p12" \
  --db "$TMP/scratch.db"

# A 50 MB file of garbage text: refused quickly with one line.
head -c 50000000 /dev/zero | tr '\0' 'A' >"$B/huge.pem"
start=$(date +%s)
expect_bad "50 MB garbage" 'no certificate' "$B/huge.pem"
[ $(( $(date +%s) - start )) -lt 30 ] || fail "50 MB file took too long"
rm -f "$B/huge.pem"

# Good and bad files together: the good one is imported, the bad reported.
cp "$TMP/other.pem" "$TMP/mixed-good.pem"
run_expect 2 "$CERTHUB" -q import "$B/truncated.pem" "$TMP/mixed-good.pem"
printf '%s\n' "$ERR" | grep -q 'truncated.pem' || fail "mixed: bad file not named"
run_expect 0 "$CERTHUB" describe "$TMP/mixed-good.pem"
before=$(db_digest)

# Symlink loop inside a directory: reported, the rest still imported.
mkdir -p "$TMP/loop/sub"
cp "$G/good.pem" "$TMP/loop/sub/"
ln -s .. "$TMP/loop/sub/up"
run_expect 2 "$CERTHUB" -q import "$TMP/loop"
printf '%s\n' "$ERR" | grep -qi 'loop' || fail "symlink loop not reported"

# A directory of 100,000 files (not certificates) and one certificate.
mkdir -p "$TMP/many"
(cd "$TMP/many" && seq -f 'f%06g.txt' 1 100000 | xargs touch)
cp "$TMP/other.pem" "$TMP/many/zz-cert.pem"
start=$(date +%s)
run_expect 0 "$CERTHUB" -q import "$TMP/many"
note "100,000-file directory imported in $(( $(date +%s) - start )) s"
rm -rf "$TMP/many"

# A certificate with 10,000 SANs is stored with all of them.
"$CERTHUB_GEN" --key ec:P-256 --cn many-sans.example --san-count 10000 \
  -o "$TMP/sans.pem"
run_expect 0 "$CERTHUB" import "$TMP/sans.pem"
run_expect 0 "$CERTHUB" describe -o json "$TMP/sans.pem"
n=$(printf '%s\n' "$OUT" | python3 -c \
  'import json,sys; d=json.load(sys.stdin); d=d[0] if isinstance(d,list) else d; print(len(d["SubjectAlternativeNames"]))')
[ "$n" = 10000 ] || fail "10,000 SANs: stored $n"

# Unreadable file: only meaningful for a non-root user; run as nobody.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
  mkdir -p "$TMP/nb"; chmod 755 "$TMP"; chown nobody "$TMP/nb"
  cp "$TMP/other.pem" "$TMP/nb/locked.pem"; chmod 000 "$TMP/nb/locked.pem"
  set +e
  err=$(setpriv --reuid=nobody --regid=nogroup --clear-groups \
    env CERTHUB_DB="$TMP/nb/db" "$CERTHUB" -q import "$TMP/nb/locked.pem" 2>&1)
  rc=$?
  set -e
  [ $rc = 2 ] || fail "unreadable file: exit $rc"
  printf '%s\n' "$err" | grep -q 'locked.pem.*[Pp]ermission denied' ||
    fail "unreadable file: got '$err'"
  note "unreadable: $err"
fi
echo "ok: every bad input reported clearly, store unchanged"
