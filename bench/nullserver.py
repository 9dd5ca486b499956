"""The harness ceiling: a trivial in-memory HTTP/1.1 object server over TLS (asyncio streams on uvloop, Python ssl).

No auth, no crypto at rest, no metadata, no disk: PUT stores the body in a dict under the path (query ignored), GET
returns it (with a single ``Range``), anything else is 501. ``PUT /_sink/SEED/SIZE`` reads the body and compares it,
as it arrives, with ``bench.loadgen.pseudo_random(SIZE, SEED)`` (made beforehand by ``GET /_prepare/SEED/SIZE``) without
storing it, answering ``X-Verified: ok``: the loopback TLS upload limit. Whatever the load generator reaches against
this server is as fast as the harness (client + TLS + loopback) can go on this machine, so a server figure close to
this one is client-bound.

Usage: python -m bench.nullserver --port 9000 --cert server.pem --key server-key.pem
"""

from __future__ import annotations

import argparse
import asyncio
import ssl

from bench.loadgen import pseudo_random

MIB = 1024 * 1024


class Store:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.expected: dict[str, bytes] = {}


async def sink(reader: asyncio.StreamReader, n: int, expected: bytes) -> str:
    """Read n body bytes, comparing them with ``expected``; 'ok' or where the first difference is."""
    pos, bad = 0, None
    while pos < n:
        chunk = await reader.read(min(n - pos, MIB))
        if not chunk:
            raise asyncio.IncompleteReadError(b"", n - pos)
        if bad is None and chunk != expected[pos : pos + len(chunk)]:
            bad = pos
        pos += len(chunk)
    if bad is None and n != len(expected):
        return f"bad-length-{n}"
    return "ok" if bad is None else f"bad-at-{bad}"


async def read_body(reader: asyncio.StreamReader, n: int, keep: bool) -> bytes:
    if n <= 256 * 1024:
        return await reader.readexactly(n)
    parts: list[bytes] = []
    left = n
    while left:
        chunk = await reader.read(min(left, MIB))
        if not chunk:
            raise asyncio.IncompleteReadError(b"", left)
        if keep:
            parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


async def write_body(writer: asyncio.StreamWriter, data: memoryview) -> None:
    for off in range(0, len(data), MIB):
        writer.write(data[off : off + MIB])
        await writer.drain()


def head(status: str, length: int, extra: str = "") -> bytes:
    return f"HTTP/1.1 {status}\r\nContent-Length: {length}\r\n{extra}\r\n".encode("latin-1")


async def handle(store: Store, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.transport.set_write_buffer_limits(high=4 * MIB)
    try:
        while True:
            try:
                raw = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            lines = raw.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if line:
                    k, _, v = line.partition(":")
                    headers[k.strip().lower()] = v.strip()
            path = target.split("?", 1)[0]
            n = int(headers.get("content-length", "0"))
            if method == "PUT" and path.startswith("/_sink/"):
                verdict = await sink(reader, n, store.expected.get(path[len("/_sink/") :], b""))
                writer.write(head("200 OK", 0, f"X-Verified: {verdict}\r\n"))
            elif method == "PUT":
                store.objects[path] = await read_body(reader, n, keep=True)
                writer.write(head("200 OK", 0, 'ETag: "0"\r\n'))
            elif method == "GET" and path.startswith("/_prepare/"):
                name = path[len("/_prepare/") :]
                seed, size = (int(x) for x in name.split("/"))
                store.expected[name] = pseudo_random(size, seed)
                writer.write(head("200 OK", 0))
            elif method == "GET" and path in store.objects:
                data = memoryview(store.objects[path])
                rng = headers.get("range")
                if rng and rng.startswith("bytes="):
                    first, _, last = rng[6:].partition("-")
                    start, end = int(first), min(int(last) if last else len(data) - 1, len(data) - 1)
                    extra = f"Content-Range: bytes {start}-{end}/{len(data)}\r\n"
                    writer.write(head("206 Partial Content", end - start + 1, extra))
                    await write_body(writer, data[start : end + 1])
                else:
                    writer.write(head("200 OK", len(data)))
                    await write_body(writer, data)
            elif method == "GET":
                await read_body(reader, n, keep=False)
                writer.write(head("404 Not Found", 0))
            else:
                await read_body(reader, n, keep=False)
                writer.write(head("501 Not Implemented", 0))
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
        return
    finally:
        writer.transport.abort()


async def main_async(args: argparse.Namespace) -> None:
    ctx: ssl.SSLContext | None = None
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(args.cert, args.key)
    store = Store()
    server = await asyncio.start_server(
        lambda r, w: handle(store, r, w), args.host, args.port, ssl=ctx, limit=2 * MIB, backlog=256
    )
    print(f"nullserver listening on {args.host}:{args.port} tls={bool(ctx)}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    args = ap.parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(main_async(args))
    else:
        uvloop.run(main_async(args))


if __name__ == "__main__":
    main()
