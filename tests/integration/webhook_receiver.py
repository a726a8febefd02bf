#!/usr/bin/env python3
"""HTTP receiver for the webhook target's integration test.

    webhook_receiver.py PORT RECORD.jsonl [CERT.pem KEY.pem]

Listens on 127.0.0.1:PORT (HTTPS when a certificate and key are given). The request path picks the behaviour:
  /ok        200, and the request (path, headers, body) is appended to
             RECORD.jsonl as one JSON line
  /503 /404 /429 /500   that status, body "status NNN from receiver"
  /hang      reads the request, never answers (until the client leaves)
  /slow      answers 200 after 1.5 s (recorded like /ok)
  /redirect  302 to /ok
  /big       200 with a 20 MB body
  /flaky/N/KEY  503 for the first N requests to this path, then like /ok
  /gate/KEY  never answers while RECORD.jsonl.open does not exist; once it
             does, like /ok
"""
import json
import os
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
RECORD = sys.argv[2]
lock = threading.Lock()
seen = {}  # /flaky/ path -> requests so far


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def record(self, body):
        with lock, open(RECORD, "a") as f:
            f.write(json.dumps({"path": self.path,
                                "method": self.command,
                                "headers": dict(self.headers.items()),
                                "body": body.decode("utf-8", "replace")}) + "\n")

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        p = self.path
        if p == "/ok":
            self.record(body)
            self.reply(200, b"thanks")
        elif p in ("/503", "/404", "/429", "/500"):
            self.reply(int(p[1:]), ("status %s from receiver" % p[1:]).encode())
        elif p == "/hang":
            time.sleep(30)
        elif p == "/slow":
            time.sleep(1.5)
            self.record(body)
            self.reply(200)
        elif p.startswith("/flaky/") and p.count("/") == 3:
            with lock:
                seen[p] = seen.get(p, 0) + 1
                n = seen[p]
            if n <= int(p.split("/")[2]):
                self.reply(503, b"status 503 from receiver (flaky)")
            else:
                self.record(body)
                self.reply(200, b"thanks")
        elif p.startswith("/gate/"):
            if os.path.exists(RECORD + ".open"):
                self.record(body)
                self.reply(200, b"thanks")
            else:
                time.sleep(30)
        elif p == "/redirect":
            self.reply(302, b"", [("Location", "/ok")])
        elif p == "/big":
            self.reply(200, b"x" * (20 << 20))
        else:
            self.reply(400, b"unknown path")


ThreadingHTTPServer.daemon_threads = True
server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
if len(sys.argv) > 4:
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(sys.argv[3], sys.argv[4])
    server.socket = tls.wrap_socket(server.socket, server_side=True)
server.serve_forever()
