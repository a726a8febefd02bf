#!/bin/sh
# Regenerates the fixture certificates in this directory with the openssl
# CLI. Committed but never run by the tests: the cases pin --now against the
# fixed dates below and compare IDs, so regenerating means updating every
# tests/data/cases/*.case that prints an ID or fingerprint.
#
# Dates (all UTC):
#   root CA          2024-01-01 .. 2034-01-01  RSA-2048
#   intermediate CA  2024-01-01 .. 2030-01-01  EC P-384
#   leaf             2025-06-01 .. 2026-01-01  EC P-256  (chain.pem bundle)
#   multi-SAN leaf   2025-06-01 .. 2026-03-01  EC P-256  DNS, IP, email, URI
#   expired          2023-01-01 .. 2024-01-01  EC P-256
#   weak self-signed 2024-01-01 .. 2027-01-01  RSA-1024
#   SHA-1 signed     2024-01-01 .. 2026-06-01  RSA-2048, sha1WithRSA
#   renew old        2025-01-01 .. 2025-12-01  Ed25519 (same subject as new)
#   renew new        2025-11-01 .. 2026-11-01  Ed25519
# The cases use --now 2025-11-23T12:00:00Z.
set -eu
cd "$(dirname "$0")"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

cat >"$W/ca.cnf" <<CNF
[ ca ]
default_ca = CA_default
[ CA_default ]
dir = $W
database = $W/index.txt
new_certs_dir = $W/new
serial = $W/serial
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no
[ policy_any ]
commonName = supplied
organizationName = optional
countryName = optional
emailAddress = optional
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ v3_root ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ v3_inter ]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ v3_leaf ]
basicConstraints = CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:\${ENV::CH_SAN}
[ v3_multi ]
basicConstraints = CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:www.example.com, DNS:example.com, IP:192.0.2.10, IP:2001:db8::10, email:admin@example.com, URI:https://example.com/
[ v3_self ]
basicConstraints = CA:false
keyUsage = digitalSignature, keyEncipherment
subjectAltName = DNS:weak.example.net
CNF
mkdir "$W/new"
: >"$W/index.txt"
echo 1000 >"$W/serial"

key() { # key FILE TYPE
  case $2 in
    rsa*) openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:${2#rsa}" \
            -out "$1" 2>/dev/null ;;
    p256) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" ;;
    p384) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$1" ;;
    ed25519) openssl genpkey -algorithm ED25519 -out "$1" ;;
  esac
}
csr() { # csr KEY SUBJECT OUT
  openssl req -new -config "$W/ca.cnf" -key "$1" -subj "$2" -out "$3"
}
sign() { # sign CSR CACERT CAKEY EXT START END OUT [MD]
  openssl ca -batch -config "$W/ca.cnf" -notext -in "$1" -cert "$2" \
    -keyfile "$3" -extensions "$4" -startdate "$5" -enddate "$6" \
    -md "${8:-sha256}" -out "$7" 2>/dev/null
}
selfsign() { # selfsign CSR KEY EXT START END OUT [MD]
  openssl ca -batch -config "$W/ca.cnf" -notext -selfsign -in "$1" \
    -keyfile "$2" -extensions "$3" -startdate "$4" -enddate "$5" \
    -md "${7:-sha256}" -out "$6" 2>/dev/null
}
export CH_SAN=unused

key "$W/root.key" rsa2048
csr "$W/root.key" "/O=Certhub Test/CN=Certhub Test Root CA" "$W/root.csr"
selfsign "$W/root.csr" "$W/root.key" v3_root 20240101000000Z 20340101000000Z root.pem

key "$W/inter.key" p384
csr "$W/inter.key" "/O=Certhub Test/CN=Certhub Test Issuing CA" "$W/inter.csr"
sign "$W/inter.csr" root.pem "$W/root.key" v3_inter 20240101000000Z 20300101000000Z intermediate.pem

key "$W/leaf.key" p256
csr "$W/leaf.key" "/O=Certhub Test/CN=app.example.com" "$W/leaf.csr"
CH_SAN=app.example.com sign "$W/leaf.csr" intermediate.pem "$W/inter.key" \
  v3_leaf 20250601000000Z 20260101000000Z leaf.pem
cat leaf.pem intermediate.pem root.pem >chain.pem

key "$W/multi.key" p256
csr "$W/multi.key" "/O=Certhub Test/CN=www.example.com" "$W/multi.csr"
sign "$W/multi.csr" intermediate.pem "$W/inter.key" v3_multi \
  20250601000000Z 20260301000000Z multi-san.pem

key "$W/expired.key" p256
csr "$W/expired.key" "/CN=expired.example.org" "$W/expired.csr"
CH_SAN=expired.example.org sign "$W/expired.csr" intermediate.pem \
  "$W/inter.key" v3_leaf 20230101000000Z 20240101000000Z expired.pem

key "$W/weak.key" rsa1024
csr "$W/weak.key" "/CN=weak.example.net" "$W/weak.csr"
selfsign "$W/weak.csr" "$W/weak.key" v3_self 20240101000000Z 20270101000000Z \
  self-signed-rsa1024.pem

key "$W/sha1.key" rsa2048
csr "$W/sha1.key" "/CN=legacy.example.com" "$W/sha1.csr"
CH_SAN=legacy.example.com sign "$W/sha1.csr" root.pem "$W/root.key" v3_leaf \
  20240101000000Z 20260601000000Z sha1.pem sha1

key "$W/renew.key" ed25519
csr "$W/renew.key" "/O=Certhub Test/CN=renew.example.com" "$W/renew.csr"
CH_SAN=renew.example.com sign "$W/renew.csr" intermediate.pem "$W/inter.key" \
  v3_leaf 20250101000000Z 20251201000000Z renew-old.pem
CH_SAN=renew.example.com sign "$W/renew.csr" intermediate.pem "$W/inter.key" \
  v3_leaf 20251101000000Z 20261101000000Z renew-new.pem

# Other containers of the leaf.
openssl x509 -in leaf.pem -outform DER -out leaf.der
openssl crl2pkcs7 -nocrl -certfile chain.pem -outform DER -out chain.p7b
printf 'fixture-pass\n' >p12.pass
openssl pkcs12 -export -in leaf.pem -inkey "$W/leaf.key" -certfile intermediate.pem \
  -name leaf -passout pass:fixture-pass -out leaf.p12

# A bundle with a private key, which must never be stored or printed.
cat multi-san.pem "$W/multi.key" >with-key.pem

# Bad inputs.
printf 'this is not a certificate\nnor anything else\n' >garbage.pem
head -c 400 leaf.pem >truncated.pem
head -c 300 leaf.der >truncated.der
