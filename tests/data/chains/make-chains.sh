#!/usr/bin/env bash
# Regenerate the chain and OCSP fixtures of tests/unit/test_probe_verify.c.
#
#   CERTHUB_GEN=build/tools/certhub-gen tests/data/chains/make-chains.sh
#
# Certificates have pinned dates around the test's fixed "now",
# 2030-01-01T00:00:00Z, so the committed files never go stale. OCSP
# responses come from `openssl ocsp`, which stamps thisUpdate with the
# time the script runs; the test checks them at the same fixed now, so the
# script must run before that date (it refuses otherwise).
set -euo pipefail

NOW=2030-01-01T00:00:00Z
GEN=${CERTHUB_GEN:?set CERTHUB_GEN to the certhub-gen binary}
DIR=$(cd "$(dirname "$0")" && pwd)
cd "$DIR"

if [ "$(date -u +%s)" -ge "$(date -u -d "$NOW" +%s)" ]; then
  echo "make-chains.sh: OCSP thisUpdate would be after the test's now" \
       "($NOW); move NOW here and in test_probe_verify.c" >&2
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# gen NAME ISSUER|- NOT_BEFORE NOT_AFTER [certhub-gen options...]
gen() {
  local name=$1 issuer=$2 nb=$3 na=$4
  shift 4
  local iss=()
  if [ "$issuer" != - ]; then
    iss=(--issuer-cert "$tmp/$issuer.pem" --issuer-key "$tmp/$issuer.key")
  fi
  "$GEN" --not-before "$nb" --not-after "$na" --key-out "$tmp/$name.key" \
    "${iss[@]}" "$@" -o "$tmp/$name.pem"
}

# Trusted hierarchy: root -> inter -> leaf, and root -> inter -> inter2.
gen root - 2025-01-01 2045-01-01 --cn "Test Root CA" --ca
gen inter root 2025-01-01 2040-01-01 --cn "Test Intermediate CA" --ca
gen inter2 inter 2025-01-01 2040-01-01 --cn "Test Intermediate CA 2" --ca
gen leaf inter 2029-06-01 2030-06-01 --cn www.example.test \
  --san DNS:www.example.test --san IP:192.0.2.10
gen leaf2 inter2 2029-06-01 2030-06-01 --cn deep.example.test \
  --san DNS:deep.example.test
gen leaf-expired inter 2028-01-01 2029-01-01 --cn old.example.test \
  --san DNS:old.example.test
gen leaf-future inter 2031-01-01 2032-01-01 --cn soon.example.test \
  --san DNS:soon.example.test
gen leaf-other inter 2029-06-01 2030-06-01 --cn other.example.test \
  --san DNS:other.example.test
# An intermediate that expired before now, and a leaf under it.
gen inter-old root 2025-01-01 2029-01-01 --cn "Old Intermediate CA" --ca
gen leaf-old-inter inter-old 2029-06-01 2030-06-01 --cn lapsed.example.test \
  --san DNS:lapsed.example.test
# A hierarchy nobody trusts.
gen xroot - 2025-01-01 2045-01-01 --cn "Stranger Root CA" --ca
gen xinter xroot 2025-01-01 2040-01-01 --cn "Stranger Intermediate CA" --ca
gen xleaf xinter 2029-06-01 2030-06-01 --cn stranger.example.test \
  --san DNS:stranger.example.test
gen selfsigned - 2029-06-01 2030-06-01 --cn self.example.test \
  --san DNS:self.example.test
# Hostname matching: many SAN forms on one leaf, a CN-only leaf and a leaf
# whose CN must be ignored because it has an IP SAN.
gen names inter 2029-06-01 2030-06-01 --cn cn.names.example.test \
  --san DNS:www.example.test --san DNS:*.wild.example.test \
  --san DNS:f*.partial.example.test --san DNS:*.test \
  --san DNS:xn--bcher-kva.example.test --san DNS:*.xn--caf-dma.example.test \
  --san DNS:MiXeD.Example.TEST --san DNS:dotted.example.test. \
  --san IP:192.0.2.10 --san IP:2001:db8::10 --san email:ops@example.test
gen cnonly inter 2029-06-01 2030-06-01 --cn cnonly.example.test
gen iponly inter 2029-06-01 2030-06-01 --cn ipcn.example.test \
  --san IP:198.51.100.7

cat "$tmp/root.pem" > ca.pem
cat "$tmp/inter.pem" "$tmp/inter2.pem" > pool.pem
cat "$tmp/leaf.pem" "$tmp/inter.pem" > good.pem
cat "$tmp/leaf.pem" > leaf-only.pem
cat "$tmp/xleaf.pem" "$tmp/xinter.pem" > unknown.pem
cat "$tmp/leaf2.pem" "$tmp/inter.pem" "$tmp/inter2.pem" > wrong-order.pem
cat "$tmp/leaf2.pem" "$tmp/inter2.pem" "$tmp/inter.pem" > deep.pem
cat "$tmp/leaf-old-inter.pem" "$tmp/inter-old.pem" > expired-inter.pem
cat "$tmp/leaf-expired.pem" "$tmp/inter.pem" > expired.pem
cat "$tmp/leaf-future.pem" "$tmp/inter.pem" > future.pem
cat "$tmp/selfsigned.pem" > self-signed.pem
cat "$tmp/names.pem" "$tmp/inter.pem" > names.pem
cat "$tmp/cnonly.pem" "$tmp/inter.pem" > cnonly.pem
cat "$tmp/iponly.pem" "$tmp/inter.pem" > iponly.pem

# Bad signature: flip the low bit of the last byte of the leaf's DER (the
# end of the ECDSA signature value; the encoding stays well-formed).
openssl x509 -in "$tmp/leaf.pem" -outform DER -out "$tmp/leaf.der"
python3 - "$tmp/leaf.der" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
b[-1] ^= 1
open(p, 'wb').write(bytes(b))
PY
openssl x509 -inform DER -in "$tmp/leaf.der" -out "$tmp/leaf-badsig.pem"
cat "$tmp/leaf-badsig.pem" "$tmp/inter.pem" > bad-signature.pem

# OCSP responses for leaf, signed by its issuer (inter).
serial() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }
subj() { openssl x509 -in "$1" -noout -subject -nameopt compat | sed 's/^subject=//'; }
exp=391231235959Z
printf 'V\t%s\t\t%s\tunknown\t%s\n' "$exp" "$(serial "$tmp/leaf.pem")" \
  "$(subj "$tmp/leaf.pem")" > "$tmp/index-good.txt"
printf 'R\t%s\t291101000000Z\t%s\tunknown\t%s\n' "$exp" \
  "$(serial "$tmp/leaf.pem")" "$(subj "$tmp/leaf.pem")" \
  > "$tmp/index-revoked.txt"
: > "$tmp/index-empty.txt"

ocsp_req() { # CERT OUT
  openssl ocsp -issuer "$tmp/inter.pem" -cert "$1" -no_nonce -reqout "$2" \
    >/dev/null 2>&1
}
ocsp_resp() { # INDEX REQ OUT SIGNER [extra args]
  local index=$1 req=$2 out=$3 signer=$4
  shift 4
  openssl ocsp -index "$index" -CA "$tmp/inter.pem" \
    -rsigner "$tmp/$signer.pem" -rkey "$tmp/$signer.key" \
    -reqin "$req" -respout "$out" "$@" >/dev/null 2>&1
}
ocsp_req "$tmp/leaf.pem" "$tmp/req.der"
ocsp_req "$tmp/leaf-other.pem" "$tmp/req-other.der"
ocsp_resp "$tmp/index-good.txt" "$tmp/req.der" ocsp-good.der inter -ndays 7300
ocsp_resp "$tmp/index-revoked.txt" "$tmp/req.der" ocsp-revoked.der inter \
  -ndays 7300
ocsp_resp "$tmp/index-empty.txt" "$tmp/req.der" ocsp-unknown.der inter \
  -ndays 7300
ocsp_resp "$tmp/index-good.txt" "$tmp/req.der" ocsp-stale.der inter -nmin 1
# A response about another certificate of the same issuer.
printf 'V\t%s\t\t%s\tunknown\t%s\n' "$exp" "$(serial "$tmp/leaf-other.pem")" \
  "$(subj "$tmp/leaf-other.pem")" > "$tmp/index-other.txt"
ocsp_resp "$tmp/index-other.txt" "$tmp/req-other.der" ocsp-wrong-cert.der \
  inter -ndays 7300
# Right certificate, but signed by a stranger's key.
ocsp_resp "$tmp/index-good.txt" "$tmp/req.der" ocsp-forged.der xinter \
  -ndays 7300
# Not a response at all, and a well-formed "tryLater" (no basic response).
printf 'this is not an OCSP response\n' > ocsp-garbage.der
printf '\x30\x03\x0a\x01\x03' > ocsp-trylater.der

for f in ocsp-good ocsp-revoked ocsp-unknown ocsp-stale ocsp-wrong-cert \
         ocsp-forged; do
  openssl ocsp -respin "$f.der" -resp_text -noverify >/dev/null
done
echo "make-chains.sh: wrote fixtures to $DIR"
