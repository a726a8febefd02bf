#!/usr/bin/env python3
"""Hostile servers for probe tests: one port per misbehaviour.

    hostile.py [--host 127.0.0.1] [MODE...]

Listens on a free port per mode (all modes when none are named), prints
{"MODE": PORT, ...} as one JSON line on stdout, then serves until killed.
Modes:
  silent           accepts and never speaks (holds the connection open)
  garbage          sends 10 MB of random bytes (first byte is no TLS record
                   type), whatever the client says
  slowloris        sends a TLS handshake record header announcing 16 KB,
                   then one byte a second, forever
  close            accepts and closes at once (FIN, not RST)
  smtp-refuse      SMTP greeting; EHLO lists STARTTLS; STARTTLS is answered
                   "454 4.7.0 TLS not available due to temporary reason"
  smtp-nostarttls  SMTP greeting; EHLO does not list STARTTLS (STARTTLS,
                   if sent anyway, gets 502)
  http             answers whatever arrives with an HTTP 400 page, closes
  reset            reads what arrives (up to 2 s), then resets the
                   connection (SO_LINGER 0: RST, not FIN)
Python 3 standard library only; a thread per connection.
"""
import json
import os
import socket
import struct
import sys
import threading
import time

GARBAGE_SIZE = 10 * 1000 * 1000


def make_garbage():
    data = bytearray(os.urandom(GARBAGE_SIZE))
    # Not 20..24 (TLS ChangeCipherSpec .. Heartbeat): no client may read
    # the start as a record header by chance.
    while 20 <= data[0] <= 24:
        data[0] = os.urandom(1)[0]
    return bytes(data)


GARBAGE = None  # made once, on first use


def recv_line(conn, limit=4096):
    """One CRLF/LF-terminated line, or None when the peer closed."""
    buf = bytearray()
    while len(buf) < limit:
        b = conn.recv(1)
        if not b:
            return None
        buf += b
        if b == b"\n":
            break
    return bytes(buf)


def silent(conn):
    # Hold the connection until the client gives up.
    while conn.recv(65536):
        pass


def garbage(conn):
    view = memoryview(GARBAGE)
    for off in range(0, len(view), 65536):
        conn.sendall(view[off:off + 65536])
    conn.shutdown(socket.SHUT_WR)
    while conn.recv(65536):
        pass


def slowloris(conn):
    # ContentType handshake, legacy version TLS 1.2, length 16384.
    conn.sendall(b"\x16\x03\x03\x40\x00")
    # Then a ServerHello that never finishes: msg type 2 and one byte a second.
    trickle = b"\x02" + os.urandom(16383)
    for i in range(len(trickle)):
        conn.sendall(trickle[i:i + 1])
        time.sleep(1)


def close(conn):
    # FIN at once; then drain, so that close() with unread bytes (a
    # ClientHello that raced in) does not turn it into an RST.
    conn.shutdown(socket.SHUT_WR)
    conn.settimeout(10)
    while conn.recv(65536):
        pass


def smtp(conn, starttls_offered):
    conn.sendall(b"220 hostile.test ESMTP ready\r\n")
    while True:
        line = recv_line(conn)
        if line is None:
            return
        verb = line.strip().split(b" ")[0].upper()
        if verb in (b"EHLO", b"HELO"):
            if starttls_offered:
                conn.sendall(b"250-hostile.test\r\n250-PIPELINING\r\n"
                             b"250-SIZE 10240000\r\n250 STARTTLS\r\n")
            else:
                conn.sendall(b"250-hostile.test\r\n250-PIPELINING\r\n"
                             b"250 SIZE 10240000\r\n")
        elif verb == b"STARTTLS":
            if starttls_offered:
                conn.sendall(b"454 4.7.0 TLS not available due to "
                             b"temporary reason\r\n")
            else:
                conn.sendall(b"502 5.5.1 Command not implemented\r\n")
        elif verb == b"QUIT":
            conn.sendall(b"221 2.0.0 Bye\r\n")
            return
        else:
            conn.sendall(b"500 5.5.2 Syntax error\r\n")


def smtp_refuse(conn):
    smtp(conn, True)


def smtp_nostarttls(conn):
    smtp(conn, False)


def http(conn):
    if not conn.recv(65536):
        return
    body = (b"<html><head><title>400 Bad Request</title></head><body>"
            b"<h1>400 Bad Request</h1>The plain HTTP request was sent to "
            b"an HTTP port.</body></html>\r\n")
    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nServer: hostile\r\n"
                 b"Content-Type: text/html\r\nContent-Length: %d\r\n"
                 b"Connection: close\r\n\r\n" % len(body) + body)


def reset(conn):
    conn.settimeout(2)
    try:
        conn.recv(65536)
    except socket.timeout:
        pass
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                    struct.pack("ii", 1, 0))


MODES = {
    "silent": silent,
    "garbage": garbage,
    "slowloris": slowloris,
    "close": close,
    "smtp-refuse": smtp_refuse,
    "smtp-nostarttls": smtp_nostarttls,
    "http": http,
    "reset": reset,
}


def serve_one(handler, conn):
    try:
        handler(conn)
    except OSError:
        pass  # the client went away: expected, it is the point
    finally:
        try:
            conn.close()
        except OSError:
            pass


def accept_loop(lsock, handler):
    while True:
        try:
            conn, _ = lsock.accept()
        except OSError:
            continue
        threading.Thread(target=serve_one, args=(handler, conn),
                         daemon=True).start()


def main(argv):
    global GARBAGE
    host = "127.0.0.1"
    modes = []
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == "--host" and args:
            host = args.pop(0)
        elif a in MODES:
            modes.append(a)
        else:
            sys.stderr.write("hostile.py: unknown argument %r; modes: %s\n"
                             % (a, " ".join(MODES)))
            return 2
    modes = modes or list(MODES)
    if "garbage" in modes:
        GARBAGE = make_garbage()
    ports = {}
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for m in modes:
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, 0))
        s.listen(128)
        ports[m] = s.getsockname()[1]
        threading.Thread(target=accept_loop, args=(s, MODES[m]),
                         daemon=True).start()
    sys.stdout.write(json.dumps(ports) + "\n")
    sys.stdout.flush()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
