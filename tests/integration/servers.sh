# Real TLS servers for integration tests (sourced, not run).
#
# Each start_* function starts one server on 127.0.0.1 on a free port,
# with a certificate chain file (leaf first, then intermediates, PEM) and
# its key, in its own directory under $SRV_DIR, waits (bounded) until the
# port accepts connections and sets the port variables named below. The
# servers start as root where they need to (CI runs as root) and drop
# privileges as they normally do; files they read after dropping are
# copied and chowned into their directory. Every server is stopped and
# $SRV_DIR removed on exit (the EXIT trap is chained, so source this after
# tests/integration/lib.sh).
#
#   start_nginx CHAIN KEY [CLIENT_CA]  NGINX_PORT (https; with CLIENT_CA,
#                                      ssl_verify_client on)
#   start_postfix CHAIN KEY [LEVEL]    SMTP_PORT (smtpd_tls_security_level
#                                      LEVEL, default may; none: no STARTTLS)
#   start_dovecot CHAIN KEY            IMAP_PORT, IMAPS_PORT, POP3_PORT,
#                                      POP3S_PORT
#   start_postgres CHAIN KEY           PG_PORT
#   start_slapd CHAIN KEY              LDAP_PORT (StartTLS), LDAPS_PORT
#   start_prosody CHAIN KEY DOMAIN     XMPP_PORT (c2s STARTTLS for DOMAIN)
#   start_vsftpd CHAIN KEY             FTP_PORT (explicit FTPS, AUTH TLS)
#
# A server that cannot start makes the function print its log and return 1.
# SRV_WAIT (seconds, default 30) bounds each wait.

SRV_DIR=$(mktemp -d "${TMPDIR:-/tmp}/certhub-srv.XXXXXX")
chmod 755 "$SRV_DIR" # servers running as their own users traverse it
SRV_PIDS=()
SRV_NAMES=()
SRV_STOP_SIG=()
: "${SRV_WAIT:=30}"
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}

srv_note() { echo "# servers: $*" >&2; }

# stop_servers: stop everything started so far (TERM, then KILL after 10 s).
stop_servers() {
  local i pid
  for i in "${!SRV_PIDS[@]}"; do
    pid=${SRV_PIDS[$i]}
    kill "-${SRV_STOP_SIG[$i]}" "$pid" 2>/dev/null || true
  done
  for i in "${!SRV_PIDS[@]}"; do
    pid=${SRV_PIDS[$i]}
    local n=0
    while kill -0 "$pid" 2>/dev/null && [ $n -lt 100 ]; do
      sleep 0.1
      n=$((n + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
      srv_note "${SRV_NAMES[$i]} (pid $pid) did not stop, killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
  SRV_PIDS=()
  SRV_NAMES=()
  SRV_STOP_SIG=()
  rm -rf "$SRV_DIR"
}

# Chain our cleanup in front of whatever EXIT trap is already set.
srv_prev_trap=$(trap -p EXIT | sed -e "s/^trap -- '//" -e "s/' EXIT\$//")
# shellcheck disable=SC2064
trap "stop_servers; ${srv_prev_trap:-:}" EXIT

# srv_track NAME PID [SIGNAL]: remember a server for stop_servers.
srv_track() {
  SRV_NAMES+=("$1")
  SRV_PIDS+=("$2")
  SRV_STOP_SIG+=("${3:-TERM}")
}

# srv_wait NAME PID LOG PORT...: wait until every PORT accepts connections
# while PID lives; on failure print LOG and return 1.
srv_wait() {
  local name=$1 pid=$2 log=$3
  shift 3
  local port deadline=$((SECONDS + SRV_WAIT))
  for port in "$@"; do
    until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
      if ! kill -0 "$pid" 2>/dev/null; then
        srv_note "$name exited before listening on port $port; its log:"
        cat "$log" >&2 2>/dev/null || true
        return 1
      fi
      if [ $SECONDS -ge $deadline ]; then
        srv_note "$name not listening on port $port after ${SRV_WAIT}s; its log:"
        cat "$log" >&2 2>/dev/null || true
        return 1
      fi
      sleep 0.1
    done
  done
  srv_note "$name (pid $pid) listening on $*"
}

# srv_files DIR CHAIN KEY [OWNER]: copy the chain and key into DIR as
# cert.pem and key.pem, readable only by OWNER (default root).
srv_files() {
  local d=$1 chain=$2 key=$3 owner=${4:-root}
  [ -r "$chain" ] || { srv_note "cannot read certificate chain $chain"; return 1; }
  [ -r "$key" ] || { srv_note "cannot read key $key"; return 1; }
  mkdir -p "$d"
  cp "$chain" "$d/cert.pem"
  cp "$key" "$d/key.pem"
  chown "$owner:" "$d/cert.pem" "$d/key.pem"
  chmod 644 "$d/cert.pem"
  chmod 600 "$d/key.pem"
}

start_nginx() {
  local chain=$1 key=$2 client_ca=${3:-}
  local d=$SRV_DIR/nginx$((${#SRV_PIDS[@]}))
  srv_files "$d" "$chain" "$key" || return 1
  mkdir -p "$d/tmp"
  chown www-data: "$d/tmp"
  NGINX_PORT=$(free_port)
  local verify=""
  if [ -n "$client_ca" ]; then
    cp "$client_ca" "$d/client-ca.pem"
    verify="ssl_client_certificate $d/client-ca.pem; ssl_verify_client on;"
  fi
  cat >"$d/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
user www-data;
pid $d/nginx.pid;
error_log $d/error.log info;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $d/tmp/body;
  proxy_temp_path $d/tmp/proxy;
  fastcgi_temp_path $d/tmp/fastcgi;
  uwsgi_temp_path $d/tmp/uwsgi;
  scgi_temp_path $d/tmp/scgi;
  server {
    listen 127.0.0.1:$NGINX_PORT ssl;
    server_name localhost;
    ssl_certificate $d/cert.pem;
    ssl_certificate_key $d/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    $verify
    location / { return 200 "certhub test\n"; }
  }
}
EOF
  nginx -c "$d/nginx.conf" -p "$d" -e "$d/error.log" </dev/null \
    >"$d/stderr.log" 2>&1 &
  srv_track nginx $!
  srv_wait nginx $! "$d/error.log" "$NGINX_PORT" ||
    { cat "$d/stderr.log" >&2; return 1; }
}

# srv_banner NAME PORT PREFIX: the server's first line starts with PREFIX.
srv_banner() {
  local line=""
  line=$(timeout 10 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"; head -n1 <&3' \
    _ "$2" 2>/dev/null) || true
  case "$line" in
  "$3"*) return 0 ;;
  esac
  srv_note "$1 on port $2 greeted with '${line%$'\r'}', not '$3...'"
  return 1
}

# Postfix: the master daemon in the foreground (master -d) with its own
# main.cf and master.cf; queue and data directories under $d. Postfix logs
# only to syslog or its own postlogd, neither of which runs here, so a
# failure shows the configuration instead.
start_postfix() {
  local chain=$1 key=$2 level=${3:-may}
  local d=$SRV_DIR/postfix$((${#SRV_PIDS[@]}))
  srv_files "$d" "$chain" "$key" || return 1
  local q
  for q in active bounce corrupt defer deferred flush hold incoming private \
    saved trace; do
    mkdir -p "$d/spool/$q"
    chown postfix: "$d/spool/$q"
    chmod 700 "$d/spool/$q"
  done
  mkdir -p "$d/spool/pid" "$d/spool/maildrop" "$d/spool/public" "$d/data"
  chown postfix:postdrop "$d/spool/maildrop" "$d/spool/public"
  chmod 730 "$d/spool/maildrop"
  chmod 710 "$d/spool/public"
  chown postfix: "$d/data"
  SMTP_PORT=$(free_port)
  cat >"$d/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $d/spool
data_directory = $d/data
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = localhost
mydestination =
alias_maps =
alias_database =
smtpd_tls_cert_file = $d/cert.pem
smtpd_tls_key_file = $d/key.pem
smtpd_tls_security_level = $level
EOF
  cat >"$d/master.cf" <<EOF
127.0.0.1:$SMTP_PORT inet n - n - - smtpd
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
anvil     unix  -       -       n       -       1       anvil
proxymap  unix  -       -       n       -       -       proxymap
rewrite   unix  -       -       n       -       -       trivial-rewrite
cleanup   unix  n       -       n       -       0       cleanup
EOF
  /usr/lib/postfix/sbin/master -c "$d" -d </dev/null >"$d/master.log" 2>&1 &
  srv_track postfix $!
  # smtpd starts on the first connection: wait for its greeting too.
  if ! srv_wait postfix $! "$d/master.log" "$SMTP_PORT" ||
    ! srv_banner postfix "$SMTP_PORT" "220 "; then
    srv_note "postfix main.cf:"
    cat "$d/main.cf" >&2
    return 1
  fi
}

# Dovecot: IMAP (STARTTLS) and IMAPS, POP3 (STLS) and POP3S, one master
# in the foreground; no login ever succeeds.
start_dovecot() {
  local chain=$1 key=$2
  local d=$SRV_DIR/dovecot$((${#SRV_PIDS[@]}))
  srv_files "$d" "$chain" "$key" || return 1
  mkdir -p "$d/run" "$d/state"
  IMAP_PORT=$(free_port)
  IMAPS_PORT=$(free_port)
  POP3_PORT=$(free_port)
  POP3S_PORT=$(free_port)
  cat >"$d/dovecot.conf" <<EOF
base_dir = $d/run
state_dir = $d/state
log_path = $d/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <$d/cert.pem
ssl_key = <$d/key.pem
default_internal_user = dovecot
default_login_user = dovenull
passdb {
  driver = static
  args = password=certhub-test-no-login allow_nets=192.0.2.1/32
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$d/home
}
service imap-login {
  inet_listener imap {
    port = $IMAP_PORT
  }
  inet_listener imaps {
    port = $IMAPS_PORT
    ssl = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    port = $POP3_PORT
  }
  inet_listener pop3s {
    port = $POP3S_PORT
    ssl = yes
  }
}
EOF
  dovecot -c "$d/dovecot.conf" -F </dev/null >"$d/stderr.log" 2>&1 &
  srv_track dovecot $!
  srv_wait dovecot $! "$d/dovecot.log" "$IMAP_PORT" "$IMAPS_PORT" \
    "$POP3_PORT" "$POP3S_PORT" || { cat "$d/stderr.log" >&2; return 1; }
}

# PostgreSQL: initdb and postgres as the postgres user, ssl = on.
start_postgres() {
  local chain=$1 key=$2
  local d=$SRV_DIR/postgres$((${#SRV_PIDS[@]}))
  [ -x "$PG_BIN/postgres" ] || { srv_note "no postgres in '$PG_BIN'"; return 1; }
  srv_files "$d" "$chain" "$key" postgres || return 1
  chmod 755 "$d"
  mkdir -p "$d/data" "$d/sock"
  chown postgres: "$d/data" "$d/sock"
  PG_PORT=$(free_port)
  if ! setpriv --reuid=postgres --regid=postgres --init-groups \
    "$PG_BIN/initdb" -D "$d/data" -A trust -U postgres --no-sync \
    </dev/null >"$d/initdb.log" 2>&1; then
    srv_note "initdb failed:"
    cat "$d/initdb.log" >&2
    return 1
  fi
  setpriv --reuid=postgres --regid=postgres --init-groups \
    "$PG_BIN/postgres" -D "$d/data" -p "$PG_PORT" -k "$d/sock" \
    -c listen_addresses=127.0.0.1 -c ssl=on -c fsync=off \
    -c "ssl_cert_file=$d/cert.pem" -c "ssl_key_file=$d/key.pem" \
    </dev/null >"$d/postgres.log" 2>&1 &
  srv_track postgres $! INT # fast shutdown
  srv_wait postgres $! "$d/postgres.log" "$PG_PORT"
}

# OpenLDAP slapd: StartTLS on ldap:// and ldaps://; an empty mdb database.
start_slapd() {
  local chain=$1 key=$2
  local d=$SRV_DIR/slapd$((${#SRV_PIDS[@]}))
  srv_files "$d" "$chain" "$key" openldap || return 1
  chmod 755 "$d"
  mkdir -p "$d/db" "$d/run"
  chown openldap: "$d/db" "$d/run"
  LDAP_PORT=$(free_port)
  LDAPS_PORT=$(free_port)
  cat >"$d/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
pidfile $d/run/slapd.pid
argsfile $d/run/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCertificateFile $d/cert.pem
TLSCertificateKeyFile $d/key.pem
database mdb
suffix "dc=example,dc=test"
directory $d/db
maxsize 10485760
EOF
  # -d 0: stay in the foreground without debug output
  slapd -f "$d/slapd.conf" -u openldap -g openldap -d 0 \
    -h "ldap://127.0.0.1:$LDAP_PORT/ ldaps://127.0.0.1:$LDAPS_PORT/" \
    </dev/null >"$d/slapd.log" 2>&1 &
  srv_track slapd $!
  srv_wait slapd $! "$d/slapd.log" "$LDAP_PORT" "$LDAPS_PORT"
}

# Prosody: client-to-server STARTTLS (required) for DOMAIN, as the prosody
# user; no s2s, no HTTP.
start_prosody() {
  local chain=$1 key=$2 domain=${3:-localhost}
  local d=$SRV_DIR/prosody$((${#SRV_PIDS[@]}))
  srv_files "$d" "$chain" "$key" prosody || return 1
  chmod 755 "$d"
  mkdir -p "$d/data"
  chown prosody: "$d/data"
  XMPP_PORT=$(free_port)
  cat >"$d/prosody.cfg.lua" <<EOF
pidfile = "$d/data/prosody.pid"
daemonize = false
data_path = "$d/data"
log = { { levels = { min = "info" }, to = "file",
          filename = "$d/data/prosody.log" } }
interfaces = { "127.0.0.1" }
c2s_ports = { $XMPP_PORT }
c2s_direct_tls_ports = {}
s2s_ports = {}
http_ports = {}
https_ports = {}
modules_enabled = { "tls", "saslauth", "disco" }
modules_disabled = { "s2s", "offline" }
c2s_require_encryption = true
authentication = "internal_hashed"
ssl = { certificate = "$d/cert.pem", key = "$d/key.pem" }
VirtualHost "$domain"
  ssl = { certificate = "$d/cert.pem", key = "$d/key.pem" }
EOF
  setpriv --reuid=prosody --regid=prosody --init-groups \
    prosody --config "$d/prosody.cfg.lua" </dev/null >"$d/stderr.log" 2>&1 &
  srv_track prosody $!
  srv_wait prosody $! "$d/data/prosody.log" "$XMPP_PORT" ||
    { cat "$d/stderr.log" >&2; return 1; }
}

# vsftpd: explicit FTPS (AUTH TLS), anonymous only, nothing to download.
start_vsftpd() {
  local chain=$1 key=$2
  local d=$SRV_DIR/vsftpd$((${#SRV_PIDS[@]}))
  srv_files "$d" "$chain" "$key" || return 1
  mkdir -p "$d/empty"
  chmod 755 "$d/empty"
  FTP_PORT=$(free_port)
  cat >"$d/vsftpd.conf" <<EOF
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=$FTP_PORT
background=NO
anonymous_enable=YES
anon_root=$d/empty
no_anon_password=YES
allow_anon_ssl=YES
local_enable=NO
write_enable=NO
ssl_enable=YES
rsa_cert_file=$d/cert.pem
rsa_private_key_file=$d/key.pem
ssl_tlsv1=NO
ssl_sslv2=NO
ssl_sslv3=NO
require_ssl_reuse=NO
secure_chroot_dir=$d/empty
nopriv_user=nobody
vsftpd_log_file=$d/vsftpd.log
xferlog_enable=NO
seccomp_sandbox=NO
EOF
  vsftpd "$d/vsftpd.conf" </dev/null >"$d/stderr.log" 2>&1 &
  srv_track vsftpd $!
  srv_wait vsftpd $! "$d/stderr.log" "$FTP_PORT"
}
