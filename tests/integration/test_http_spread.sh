#!/usr/bin/env bash
# The API's connections are spread over its workers: 8 keep-alive
# connections opened at once on a server with 4 workers are 2 on each, and
# each worker serves their requests (libmicrohttpd's own thread pool often
# put them all on one worker). Seen through the per-worker series of
# /metrics; on 127.0.0.1 with port 0 (the port the kernel chose is the one
# reported) and, where the host has it, on [::1]. And the limit of 1024
# open connections holds over all workers.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/serve_lib.sh"

printf 'http:\n  threads: 4\n' >"$TMP/c.yaml"

# spread HOST PORT N: open N connections, then one request on each, then
# /metrics on the first, still open; prints the per-worker lines.
spread() {
  python3 - "$@" <<'PY'
import socket, sys
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
socks = [socket.create_connection((host, port), timeout=10) for _ in range(n)]
def get(s, path):
    s.sendall(("GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % path).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            sys.exit("connection closed in the headers")
        buf += d
    head, body = buf.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    if " 200 " not in lines[0] + " ":
        sys.exit("GET %s: %s" % (path, lines[0]))
    ln = [int(l.split(":", 1)[1]) for l in lines
          if l.lower().startswith("content-length:")][0]
    while len(body) < ln:
        d = s.recv(65536)
        if not d:
            sys.exit("connection closed in the body")
        body += d
    return body.decode()
for s in socks:
    get(s, "/healthz")
for l in get(socks[0], "/metrics").splitlines():
    if l.startswith(("certhub_http_worker_", "certhub_http_connections_")):
        print(l)
PY
}

# check_spread FILE: 4 workers, 2 connections open and handed to each, each
# served at least 2 requests (3 on the one with the /metrics connection).
check_spread() {
  local f=$1 i
  [ "$(grep -c '^certhub_http_worker_connections{' "$f")" = 4 ] ||
    fail "not 4 workers: $(cat "$f")"
  for i in 0 1 2 3; do
    grep -qx "certhub_http_worker_connections{worker=\"$i\"} 2" "$f" ||
      fail "worker $i has not 2 open connections: $(cat "$f")"
    grep -qx "certhub_http_worker_connections_total{worker=\"$i\"} 2" "$f" ||
      fail "worker $i was not handed 2 connections: $(cat "$f")"
    grep -qE "^certhub_http_worker_requests_total\{worker=\"$i\"\} [23]$" "$f" ||
      fail "worker $i did not serve 2-3 requests: $(cat "$f")"
  done
  [ "$(awk '/^certhub_http_worker_requests_total/ { n += $2 } END { print n }' "$f")" = 9 ] ||
    fail "not 9 requests in all: $(cat "$f")"
  grep -qx 'certhub_http_connections_refused_total 0' "$f" ||
    fail "connections refused: $(cat "$f")"
}

note "127.0.0.1, port 0 ($SECONDS s)"
serve_start --config "$TMP/c.yaml" serve --listen 127.0.0.1:0 --interval 60s
api_up() { grep -q 'API at http://127.0.0.1:[1-9]' "$SLOG"; }
wait_until 30 "the API URL in the log" api_up
PORT=$(sed -n 's|.*API at http://127.0.0.1:\([0-9]*\).*|\1|p' "$SLOG" | head -n1)
spread 127.0.0.1 "$PORT" 8 >"$TMP/m4" || fail "spread over 127.0.0.1:$PORT"
check_spread "$TMP/m4"
note "the closed connections are counted off ($SECONDS s)"
closed() {
  curl -sS "http://127.0.0.1:$PORT/metrics" >"$TMP/after" || return 1
  [ "$(awk '/^certhub_http_worker_connections\{/ { n += $2 } END { print n }' "$TMP/after")" = 1 ]
}
wait_until 10 "the open connections to drop to curl's one" closed

note "at most 1024 connections over all workers ($SECONDS s)"
python3 - "$PORT" >"$TMP/lim" <<'PY' || fail "limit: $(cat "$TMP/lim")"
import resource, socket, sys, time
port = int(sys.argv[1])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if hard != resource.RLIM_INFINITY and hard < 1100:
    print("skip: RLIMIT_NOFILE", hard)
    sys.exit(0)
resource.setrlimit(resource.RLIMIT_NOFILE, (1100, hard))
socks = [socket.create_connection(("127.0.0.1", port), timeout=10)
         for _ in range(1030)]
time.sleep(1)
closed = 0  # by the server at once: end of file
for s in socks:
    s.setblocking(False)
    try:
        closed += s.recv(1) == b""
    except BlockingIOError:
        pass
    except ConnectionResetError:
        closed += 1
for s in socks[:20]:
    s.close()
time.sleep(0.5)
m = socket.create_connection(("127.0.0.1", port), timeout=10)
m.sendall(b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
buf = b""
while True:
    d = m.recv(65536)
    if not d:
        break
    buf += d
refused = [l.split()[1] for l in buf.decode().splitlines()
           if l.startswith("certhub_http_connections_refused_total ")]
print("closed", closed, "refused", refused)
# 1024 open, the rest closed (one more while curl's last is counted off)
if not 6 <= closed <= 7 or refused != [str(closed)]:
    sys.exit(1)
PY
cat "$TMP/lim"
serve_stop TERM
[ "$SRC" = 0 ] || fail "serve exited $SRC"

if [ -e /proc/net/if_inet6 ] &&
   python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1",0))' 2>/dev/null; then
  note "[::1] ($SECONDS s)"
  : >"$SLOG"
  P6=$(free_port 6)
  serve_start --config "$TMP/c.yaml" serve --listen "[::1]:$P6" --interval 60s
  api6_up() { log_has "API at http://\[::1\]:$P6"; }
  wait_until 30 "the v6 API URL in the log" api6_up
  spread ::1 "$P6" 8 >"$TMP/m6" || fail "spread over [::1]:$P6"
  check_spread "$TMP/m6"
  serve_stop TERM
  [ "$SRC" = 0 ] || fail "serve exited $SRC"
fi
note "ok ($SECONDS s)"
