#!/usr/bin/env python3
"""An SNS HTTP endpoint for the delivery integration tests.

    sns_receiver.py PORT RECORD.jsonl CERT.pem MODEFILE [TLS-CERT TLS-KEY]

Listens on 127.0.0.1:PORT with HTTP/1.1 keep-alive (HTTPS when a TLS
certificate and key are given). Every POST is checked
the way an SNS subscriber checks one, independently of certhub's code:
the body is SNS's JSON (unless x-amz-sns-rawdelivery is true), the
x-amz-sns-* headers agree with it, and the Signature verifies against
CERT.pem over the string to sign rebuilt here (SignatureVersion 1:
RSA-SHA1, 2: RSA-SHA256), using python3-cryptography.

With CERT.pem given as "url" the receiver behaves as a real subscriber:
it downloads the certificate from each message's SigningCertURL (cached
by URL) instead of reading a file, and after answering a
SubscriptionConfirmation it fetches the SubscribeURL itself, recording
the answer as a {"type": "Confirmed", ...} line.

MODEFILE holds the answer for the next requests: "ok" (200), a status code
("500", "404", ...), or "hang" (answer 200 after 8 s). Each request is
appended to RECORD.jsonl: type, message id, verified, status answered,
time, token (confirmations), message, headers of interest, the Signature
and the string to sign rebuilt here.
"""
import base64
import json
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

PORT = int(sys.argv[1])
RECORD = sys.argv[2]
FETCH = sys.argv[3] == "url"
CERT = None if FETCH else x509.load_pem_x509_certificate(
    open(sys.argv[3], "rb").read())
certs = {}
NOPROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
MODEFILE = sys.argv[4]
lock = threading.Lock()

NOTE_KEYS = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
CONF_KEYS = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token",
             "TopicArn", "Type"]


def string_to_sign(m):
    keys = NOTE_KEYS if m["Type"] == "Notification" else CONF_KEYS
    out = ""
    for k in keys:
        if k in m:
            out += k + "\n" + m[k] + "\n"
    return out.encode("utf-8")


def fetch(url):
    try:
        with NOPROXY.open(url, timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read()


def cert_for(m):
    if not FETCH:
        return CERT
    url = m["SigningCertURL"]
    with lock:
        if url not in certs:
            status, ctype, body = fetch(url)
            if status != 200 or ctype != "application/x-pem-file":
                raise ValueError("SigningCertURL answered %s %s" % (status, ctype))
            certs[url] = x509.load_pem_x509_certificate(body)
        return certs[url]


def verify(m):
    try:
        sig = base64.b64decode(m["Signature"], validate=True)
        alg = {"1": hashes.SHA1(), "2": hashes.SHA256()}[m["SignatureVersion"]]
        cert_for(m).public_key().verify(sig, string_to_sign(m),
                                        padding.PKCS1v15(), alg)
        return True
    except (InvalidSignature, KeyError, ValueError, OSError):
        return False


def record(rec):
    with lock:
        with open(RECORD, "a") as f:
            f.write(json.dumps(rec) + "\n")


def confirm(url):
    """Fetch SubscribeURL as a subscriber does, after the answer."""
    time.sleep(0.2)
    status, ctype, body = fetch(url)
    record({"type": "Confirmed", "id": None, "status": status, "ctype": ctype,
            "body": body.decode("utf-8", "replace"), "t": time.time()})


def mode():
    try:
        with open(MODEFILE) as f:
            return f.read().strip() or "ok"
    except OSError:
        return "ok"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        h = {k.lower(): v for k, v in self.headers.items()}
        raw = h.get("x-amz-sns-rawdelivery") == "true"
        rec = {"path": self.path, "raw": raw, "t": time.time(),
               # the client's port: one per TCP connection (keep-alive)
               "peer": self.client_address[1],
               "ctype": h.get("content-type"),
               "h_type": h.get("x-amz-sns-message-type"),
               "h_id": h.get("x-amz-sns-message-id"),
               "h_topic": h.get("x-amz-sns-topic-arn"),
               "h_sub": h.get("x-amz-sns-subscription-arn"),
               # every x-amz-* header name: a raw delivery has no
               # attribute headers
               "h_amz": sorted(k for k in h if k.startswith("x-amz-"))}
        m = {}
        if raw:
            rec.update(type="Notification", id=rec["h_id"], verified=None,
                       message=body.decode("utf-8"))
        else:
            try:
                m = json.loads(body)
                # MessageAttributes, which SNS (and this receiver's string
                # to sign) leaves out of the signature
                rec["attrs"] = m.get("MessageAttributes")
                rec.update(type=m.get("Type"), id=m.get("MessageId"),
                           verified=verify(m), message=m.get("Message"),
                           token=m.get("Token"), version=m.get("SignatureVersion"),
                           headers_match=(rec["h_type"] == m.get("Type") and
                                          rec["h_id"] == m.get("MessageId") and
                                          rec["h_topic"] == m.get("TopicArn")),
                           unsubscribe=m.get("UnsubscribeURL"),
                           subscribe=m.get("SubscribeURL"),
                           signature=m.get("Signature"))
                # The string to sign as rebuilt here, so a test can check
                # the signature again with the openssl command.
                try:
                    rec["sts"] = string_to_sign(m).decode("utf-8")
                except (KeyError, TypeError):
                    rec["sts"] = None
            except ValueError:
                rec.update(type=None, id=None, verified=False)
        md = mode()
        status = 200 if md in ("ok", "hang") else int(md)
        rec["status"] = status
        rec["cert_url"] = m.get("SigningCertURL") if isinstance(m, dict) else None
        # Recorded on arrival: a "hang" request is seen before it is answered.
        record(rec)
        if md == "hang":
            time.sleep(8)
        reply = b"ok" if status == 200 else b"receiver says no"
        self.send_response(status)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)
        if (FETCH and status == 200 and rec.get("verified")
                and rec.get("type") == "SubscriptionConfirmation"):
            threading.Thread(target=confirm, args=(rec["subscribe"],),
                             daemon=True).start()


ThreadingHTTPServer.daemon_threads = True
srv = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
if len(sys.argv) > 6:
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[5], sys.argv[6])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print("ready", flush=True)
srv.serve_forever()
