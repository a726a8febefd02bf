#!/usr/bin/env python3
"""SMTP server for the email protocol's integration test (aiosmtpd).

    smtp_server.py PORT OUTDIR [--tls CERT KEY] [--implicit] [--auth USER:PASS]

Listens on 127.0.0.1:PORT. With --tls it offers STARTTLS and requires it
before MAIL (and before AUTH); with --implicit the whole connection is TLS
(smtps). With --auth, AUTH PLAIN/LOGIN with USER:PASS is required. Every
accepted message is written to OUTDIR/N.eml (the bytes received) with
OUTDIR/N.json ({"mail_from", "rcpt_tos", "tls", "login"}). Recipients
starting with "reject" get 550, with "tempfail" 451. Writes OUTDIR/ready
once listening; stops on SIGTERM.
"""
import argparse
import json
import os
import signal
import ssl
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

ap = argparse.ArgumentParser()
ap.add_argument("port", type=int)
ap.add_argument("outdir")
ap.add_argument("--tls", nargs=2)
ap.add_argument("--implicit", action="store_true")
ap.add_argument("--auth")
a = ap.parse_args()
lock = threading.Lock()
count = [0]


class Handler:
    async def handle_RCPT(self, server, session, envelope, address, options):
        if address.startswith("reject"):
            return "550 5.1.1 no such user here"
        if address.startswith("tempfail"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with lock:
            count[0] += 1
            n = count[0]
        base = os.path.join(a.outdir, str(n))
        with open(base + ".eml", "wb") as f:
            f.write(envelope.original_content)
        login = session.auth_data if session.authenticated else None
        meta = {"mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                # STARTTLS sets session.ssl; smtps shows on the transport.
                "tls": session.ssl is not None or
                server.transport.get_extra_info("sslcontext") is not None,
                "login": login.decode() if isinstance(login, bytes) else login}
        with open(base + ".json", "w") as f:
            json.dump(meta, f)
        return "250 2.0.0 queued as %d" % n


def authenticator(server, session, envelope, mechanism, auth_data):
    if not isinstance(auth_data, LoginPassword):
        return AuthResult(success=False, handled=False)
    user, password = a.auth.encode().split(b":", 1)
    if auth_data.login == user and auth_data.password == password:
        return AuthResult(success=True, auth_data=auth_data.login)
    return AuthResult(success=False, handled=False)


ctx = None
if a.tls:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(a.tls[0], a.tls[1])

kw = {"hostname": "127.0.0.1", "port": a.port}
if ctx and a.implicit:
    kw["ssl_context"] = ctx
elif ctx:
    kw["tls_context"] = ctx
    kw["require_starttls"] = True
if a.auth:
    kw["authenticator"] = authenticator
    kw["auth_required"] = True
    # Only the STARTTLS server may refuse AUTH before TLS.
    kw["auth_require_tls"] = bool(ctx and not a.implicit)
ctl = Controller(Handler(), **kw)
ctl.start()
open(os.path.join(a.outdir, "ready"), "w").close()
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
signal.signal(signal.SIGINT, lambda *_: stop.set())
stop.wait()
ctl.stop()
