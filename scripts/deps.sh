#!/usr/bin/env bash
# Install the Debian packages certhub needs for one purpose, if missing.
#
#   scripts/deps.sh [build|test|demo|fuzz|bench|format|all]   (default: build)
#
# Quiet and exit 0 when everything is present. As root it installs what is
# missing (apt-get update only when the first install attempt fails); as any
# other user it prints the command to run and exits 1.
set -euo pipefail

# Configuring needs cmocka too: tests/CMakeLists.txt requires it.
build=(build-essential cmake pkg-config libssl-dev libsqlite3-dev
       libyaml-dev libjansson-dev libcmocka-dev libc-ares-dev
       libcurl4-openssl-dev zlib1g-dev libmicrohttpd-dev)
# Integration tests and the demo drive the openssl and sqlite3 CLIs and
# summarize JSON with python3; python3-jsonschema runs the shared OCSF
# validator (test_findings_probe.sh); the topic delivery tests' receiver
# verifies SNS signatures with python3-cryptography; the HTTP API tests and
# the demo call the API with curl.
# systemd-analyze verifies the units in packaging/systemd.
tools=(openssl sqlite3 python3 python3-jsonschema python3-cryptography curl
       systemd)
# Probing is tested against real servers started on loopback by the tests:
# nginx, postfix (SMTP), dovecot (IMAP, POP3), PostgreSQL, slapd (LDAP),
# prosody (XMPP), vsftpd (FTP).
servers=(nginx-light postfix dovecot-imapd dovecot-pop3d postgresql slapd
         ldap-utils prosody vsftpd)
# The email notification protocol is tested against aiosmtpd.
servers+=(python3-aiosmtpd)

group=${1:-build}
case "$group" in
  build) want=("${build[@]}") ;;
  test) want=("${build[@]}" "${tools[@]}" "${servers[@]}") ;;
  demo) want=("${build[@]}" "${tools[@]}" nginx-light) ;;
  fuzz) want=("${build[@]}" clang) ;;
  bench) want=("${build[@]}" "${tools[@]}" hyperfine nginx-light
                prometheus-blackbox-exporter) ;;
  format) want=(clang-format) ;;
  all) want=("${build[@]}" "${tools[@]}" "${servers[@]}" clang hyperfine
              clang-format prometheus-blackbox-exporter) ;;
  -h | --help)
    sed -n '2,8s/^# \{0,1\}//p' "$0"
    exit 0
    ;;
  *)
    echo "deps.sh: unknown group '$group' (build, test, demo, fuzz, bench, format, all)" >&2
    exit 2
    ;;
esac

missing=()
for p in "${want[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = installed ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "certhub: missing Debian packages: ${missing[*]}" >&2
  echo "Run:" >&2
  echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

echo "certhub: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
install() {
  apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
}
# A fresh image often has no package lists yet: update once and retry.
if ! install; then
  apt-get update -q </dev/null
  install
fi
