#!/usr/bin/env python3
"""Load driver for prometheus-blackbox-exporter.

    bbdrive.py EXPORTER_PORT TARGET_PORT N CONCURRENCY [MODULE_FMT]

Sends N requests GET /probe?module=MODULE&target=127.0.0.1:TARGET_PORT, where
MODULE is MODULE_FMT % i for i in 1..N (default "n%04d"), over CONCURRENCY
keep-alive HTTP/1.1 connections, each one request at a time. Prints
"ok=K failed=F wall=SECONDS" on stdout; a probe counts as ok only when the
response is 200 and carries "probe_success 1". The first failing module's
response goes to stderr.
"""
import asyncio
import sys
import time


async def read_response(reader):
    """One HTTP/1.1 response: (status, body). Content-Length or chunked."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # no trailers expected
                break
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        body = b"".join(parts)
    else:
        raise ValueError("response without length")
    return status, body


async def worker(port, tport, fmt, queue, stats):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while True:
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            module = fmt % i
            req = ("GET /probe?module=%s&target=127.0.0.1:%d HTTP/1.1\r\n"
                   "Host: 127.0.0.1:%d\r\n\r\n" % (module, tport, port))
            writer.write(req.encode())
            status, body = await read_response(reader)
            if status == 200 and b"\nprobe_success 1\n" in b"\n" + body:
                stats["ok"] += 1
            else:
                stats["failed"] += 1
                if stats["failed"] == 1:
                    sys.stderr.write("bbdrive: %s: HTTP %d\n%s\n" % (
                        module, status, body.decode("utf-8", "replace")))
    finally:
        writer.close()


async def main():
    if len(sys.argv) < 5:
        sys.stderr.write(__doc__)
        return 2
    port, tport, n, conc = (int(a) for a in sys.argv[1:5])
    fmt = sys.argv[5] if len(sys.argv) > 5 else "n%04d"
    queue = asyncio.Queue()
    for i in range(1, n + 1):
        queue.put_nowait(i)
    stats = {"ok": 0, "failed": 0}
    start = time.monotonic()
    await asyncio.gather(*(worker(port, tport, fmt, queue, stats)
                           for _ in range(min(conc, n))))
    wall = time.monotonic() - start
    print("ok=%d failed=%d wall=%.6f" % (stats["ok"], stats["failed"], wall))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
