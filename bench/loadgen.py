"""A light S3 load generator: presigned URLs signed up front with botocore, sent by a minimal asyncio HTTP/1.1 client.

Why not boto3 or httpx: on these 2-core machines boto3 tops out near 250 small requests per second and httpx spends
hundreds of microseconds per request, so both would measure themselves. Here all signing (botocore's
``S3SigV4QueryAuth``, the same code boto3's ``generate_presigned_url`` runs) happens before the clock starts, in a
process pool, and the timed loop only writes prebuilt request heads over keep-alive TLS connections
(``asyncio`` streams on uvloop, Python's ``ssl``), reads responses and compares every GET body with the bytes that
were written. A wrong byte is counted and voids the figure.

The client is one process, one event loop, so it can use at most one core: figures where it is near 100% of a core
are client-bound (``PhaseResult.client_cpu``).
"""

from __future__ import annotations

import asyncio
import html
import re
import ssl
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bench.procstat import machine_busy_seconds, tree_cpu_seconds

KIB = 1024
MIB = 1024 * 1024
IO_CHUNK = 1 * MIB  # client write size and read size for large bodies
SMALL_WRITE = 64 * KIB  # bodies up to this go out in the same write as the head
KEEPALIVE_SAFE_S = 4.0  # a connection idle longer than this is reopened before its next request (uvicorn: 5 s)
QUIRKS: set[str] = set()  # protocol deviations seen (tolerated when the bytes are right); the runner collects them


class VerifyError(Exception):
    """A response body differs from what was written (a wrong byte)."""


class HttpStatusError(Exception):
    """The server answered with an unexpected status."""

    def __init__(self, status: int, body: bytes) -> None:
        code = re.search(rb"<Code>([^<]+)</Code>", body)
        super().__init__(f"HTTP {status} {code.group(1).decode()}" if code else f"HTTP {status}: {body[:200]!r}")
        self.status = status
        self.body = body


# --------------------------------------------------------------------------- data


def pseudo_random(size: int, seed: int) -> bytes:
    """``size`` reproducible pseudo-random bytes (an AES-256-CTR keystream: 1 GiB takes about a second)."""
    key = (f"strongroom-bench-{seed}".encode() * 4)[:32]
    enc = Cipher(algorithms.AES(key), modes.CTR(bytes(16))).encryptor()
    out = bytearray(size)
    zeros = bytes(min(size, 8 * MIB) or 1)
    view = memoryview(out)
    for off in range(0, size, len(zeros)):
        n = min(len(zeros), size - off)
        view[off : off + n] = enc.update(zeros[:n])
    return bytes(out)


# --------------------------------------------------------------------------- endpoints and signing


@dataclass
class Endpoint:
    """Where a server listens and how to sign for it."""

    scheme: str  # "https" or "http"
    host: str
    port: int
    ca: str | None
    access: str
    secret: str
    region: str

    @property
    def base(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def hostport(self) -> str:
        return f"{self.host}:{self.port}"

    def ssl_context(self) -> ssl.SSLContext | None:
        if self.scheme != "https":
            return None
        return ssl.create_default_context(cafile=self.ca)


@dataclass(frozen=True)
class Signed:
    """A presigned request: method, request target (path?query) and the headers that were signed besides Host."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...] = ()


SignSpec = tuple[str, str, dict[str, str] | None, dict[str, str] | None]  # method, path, query, headers


def _sign_batch(ep: tuple[str, str, str, str], specs: list[SignSpec], expires: int) -> list[Signed]:
    from botocore.auth import S3SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    base, access, secret, region = ep
    creds = Credentials(access, secret)
    out: list[Signed] = []
    for method, path, query, headers in specs:
        url = base + urllib.parse.quote(path, safe="/-_.~")
        if query:
            url += "?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
        req = AWSRequest(method=method, url=url, headers=dict(headers or {}))
        S3SigV4QueryAuth(creds, "s3", region, expires=expires).add_auth(req)
        parts = urllib.parse.urlsplit(req.url)
        target = parts.path + ("?" + parts.query if parts.query else "")
        out.append(Signed(method, target, tuple((headers or {}).items())))
    return out


class Presigner:
    """botocore SigV4 query signing (what ``generate_presigned_url`` does), batched over a process pool."""

    def __init__(self, ep: Endpoint, pool: Executor | None = None, expires: int = 3600) -> None:
        self.ep = ep
        self.pool = pool
        self.expires = expires
        self._key = (ep.base, ep.access, ep.secret, ep.region)

    def one(self, method: str, path: str, query: dict[str, str] | None = None, headers: dict[str, str] | None = None):
        return _sign_batch(self._key, [(method, path, query, headers)], self.expires)[0]

    def many(self, specs: Sequence[SignSpec]) -> list[Signed]:
        specs = list(specs)
        if self.pool is None or len(specs) < 400:
            return _sign_batch(self._key, specs, self.expires)
        step = max(200, len(specs) // 8)
        chunks = [specs[i : i + step] for i in range(0, len(specs), step)]
        futures = [self.pool.submit(_sign_batch, self._key, c, self.expires) for c in chunks]
        out: list[Signed] = []
        for f in futures:
            out.extend(f.result())
        return out


# --------------------------------------------------------------------------- HTTP/1.1 client


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes = b""
    length: int = 0  # body bytes received (also when streamed into a sink)


class Checker:
    """Compares a streamed body with ``expected[start:start+length]`` as it arrives."""

    def __init__(self, expected: bytes, start: int, length: int) -> None:
        self.expected, self.pos, self.end = expected, start, start + length
        self.bad_at: int | None = None

    def feed(self, chunk: bytes) -> None:
        n = len(chunk)
        if self.bad_at is None and (self.pos + n > self.end or chunk != self.expected[self.pos : self.pos + n]):
            self.bad_at = self.pos
        self.pos += n

    def verify(self) -> None:
        if self.bad_at is not None:
            raise VerifyError(f"wrong byte(s) in the chunk starting at offset {self.bad_at}")
        if self.pos != self.end:
            raise VerifyError(f"body ended at offset {self.pos}, expected {self.end}")


class Conn:
    """One keep-alive HTTP/1.1 connection (TLS or plain); reconnects after errors or ``Connection: close``."""

    def __init__(self, ep: Endpoint, ctx: ssl.SSLContext | None) -> None:
        self.ep, self.ctx = ep, ctx
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.cipher: str | None = None
        self.connects = 0

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(
            self.ep.host,
            self.ep.port,
            ssl=self.ctx,
            server_hostname=self.ep.host if self.ctx else None,
            limit=2 * MIB,
        )
        self.writer.transport.set_write_buffer_limits(high=4 * MIB)
        sslobj = self.writer.get_extra_info("ssl_object")
        if sslobj is not None:
            c = sslobj.cipher()
            self.cipher = f"{sslobj.version()} {c[0]}" if c else sslobj.version()
        self.connects += 1

    def close(self) -> None:
        if self.writer is not None:
            self.writer.transport.abort()
        self.reader = self.writer = None

    async def request(
        self,
        method: str,
        target: str,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes | memoryview | None = None,
        sink: Callable[[bytes], None] | None = None,
    ) -> Response:
        if self.writer is None:
            await self.connect()
        try:
            return await self._request(method, target, headers, body, sink)
        except BaseException:
            self.close()
            raise

    async def _request(
        self,
        method: str,
        target: str,
        headers: Sequence[tuple[str, str]],
        body: bytes | memoryview | None,
        sink: Callable[[bytes], None] | None,
    ) -> Response:
        reader, writer = self.reader, self.writer
        assert reader is not None and writer is not None
        n = len(body) if body is not None else 0
        head = f"{method} {target} HTTP/1.1\r\nHost: {self.ep.hostport}\r\n"
        for k, v in headers:
            head += f"{k}: {v}\r\n"
        if body is not None or method in ("PUT", "POST"):
            head += f"Content-Length: {n}\r\n"
        head_b = (head + "\r\n").encode("latin-1")
        if n <= SMALL_WRITE:
            writer.write(head_b + bytes(body) if n else head_b)
        else:
            assert body is not None
            writer.write(head_b)
            view = memoryview(body)
            for off in range(0, n, IO_CHUNK):
                writer.write(view[off : off + IO_CHUNK])
                await writer.drain()
        await writer.drain()

        raw = await reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        hdrs: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                k, _, v = line.partition(":")
                hdrs[k.strip().lower()] = v.strip()
        resp = Response(status, hdrs)
        keep = True
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            pass
        elif "content-length" in hdrs:
            length = int(hdrs["content-length"])
            if sink is None or status >= 300:
                resp.body = await reader.readexactly(length)
            else:
                left = length
                while left:
                    chunk = await reader.read(min(left, IO_CHUNK))
                    if not chunk:
                        raise ConnectionError("connection closed mid-body")
                    sink(chunk)
                    left -= len(chunk)
            resp.length = length
        elif "chunked" in hdrs.get("transfer-encoding", "").lower():
            parts: list[bytes] = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
                if size == 0:
                    while (await reader.readuntil(b"\r\n")) != b"\r\n":
                        pass
                    break
                data = (await reader.readexactly(size + 2))[:-2]
                resp.length += size
                if sink is not None and status < 300:
                    sink(data)
                else:
                    parts.append(data)
            resp.body = b"".join(parts)
        else:
            resp.body = await reader.read()
            resp.length = len(resp.body)
            if sink is not None and status < 300:
                sink(resp.body)
            keep = False
        if not keep or hdrs.get("connection", "").lower() == "close":
            self.close()
        return resp


# --------------------------------------------------------------------------- phases


@dataclass
class PhaseResult:
    """One timed phase: N operations over C connections."""

    name: str
    concurrency: int
    ops: int = 0
    nbytes: int = 0  # payload bytes moved (request bodies for PUT, verified response bodies for GET)
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    wrong: int = 0  # responses with wrong bytes
    samples: list[str] = field(default_factory=list)
    client_cpu: float = 0.0  # client process CPU seconds / wall seconds (1.0 = one core busy)
    server_cpu: float = 0.0  # server tree CPU seconds / wall seconds (2.0 = both cores busy)
    other_cpu: float = 0.0  # everything else on the machine (other users of a shared box), same unit
    reconnects: int = 0

    @property
    def ok(self) -> bool:
        return self.errors == 0 and self.wrong == 0 and self.ops > 0

    @property
    def ops_per_s(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0

    @property
    def mb_per_s(self) -> float:
        return self.nbytes / self.seconds / 1e6 if self.seconds else 0.0

    def pct(self, p: float) -> float:
        if not self.latencies:
            return 0.0
        xs = sorted(self.latencies)
        k = min(len(xs) - 1, max(0, round(p / 100 * len(xs) + 0.5) - 1))
        return xs[k]

    def void_reason(self) -> str | None:
        if self.wrong:
            return f"{self.wrong} response(s) with wrong bytes"
        if self.errors:
            return f"{self.errors} failed request(s): {'; '.join(self.samples[:2])}"
        if not self.ops:
            return "no operation completed"
        return None

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "concurrency": self.concurrency,
            "ops": self.ops,
            "bytes": self.nbytes,
            "seconds": round(self.seconds, 4),
            "ops_per_s": round(self.ops_per_s, 1),
            "mb_per_s": round(self.mb_per_s, 1),
            "p50_ms": round(self.pct(50) * 1e3, 3),
            "p99_ms": round(self.pct(99) * 1e3, 3),
            "errors": self.errors,
            "wrong": self.wrong,
            "error_samples": self.samples[:5],
            "client_cpu": round(self.client_cpu, 3),
            "server_cpu": round(self.server_cpu, 3),
            "other_cpu": round(self.other_cpu, 3),
            "reconnects": self.reconnects,
        }


class CpuMeter:
    """Client, server-tree and rest-of-machine CPU over a wall-clock interval, as shares of one core."""

    def __init__(self, server_pid: int | None) -> None:
        self.pid = server_pid
        self.t0 = time.perf_counter()
        self.client0 = time.process_time()
        self.server0 = tree_cpu_seconds(server_pid) if server_pid else 0.0
        self.busy0 = machine_busy_seconds()

    def stop(self, res: PhaseResult) -> None:
        res.seconds = time.perf_counter() - self.t0
        wall = res.seconds or 1e-9
        client = time.process_time() - self.client0
        server = tree_cpu_seconds(self.pid) - self.server0 if self.pid else 0.0
        busy = machine_busy_seconds() - self.busy0
        res.client_cpu, res.server_cpu = client / wall, server / wall
        res.other_cpu = max(0.0, busy - client - server) / wall


Op = Callable[[Conn, int], Awaitable[int]]  # returns payload bytes moved; raises VerifyError / HttpStatusError


async def run_phase(
    name: str,
    ep: Endpoint,
    concurrency: int,
    op: Op,
    count: int | None = None,
    duration: float | None = None,
    server_pid: int | None = None,
) -> PhaseResult:
    """Run ``op(conn, i)`` for i = 0, 1, ... over ``concurrency`` connections until ``count`` ops or ``duration`` s."""
    assert count is not None or duration is not None
    ctx = ep.ssl_context()
    conns = [Conn(ep, ctx) for _ in range(concurrency)]
    await asyncio.gather(*(c.connect() for c in conns))
    res = PhaseResult(name, concurrency)
    next_i = 0
    limit = count if count is not None else 1 << 62
    meter = CpuMeter(server_pid)
    deadline = meter.t0 + duration if duration is not None else float("inf")

    async def worker(conn: Conn) -> None:
        nonlocal next_i
        while next_i < limit and time.perf_counter() < deadline:
            i = next_i
            next_i += 1
            s = time.perf_counter()
            try:
                moved = await op(conn, i)  # not `res.nbytes += await ...`: that reads nbytes before awaiting
                res.nbytes += moved
                res.ops += 1
                res.latencies.append(time.perf_counter() - s)
            except VerifyError as exc:
                res.wrong += 1
                res.samples.append(f"op {i}: {exc}")
            except (HttpStatusError, OSError, asyncio.IncompleteReadError, ConnectionError, ValueError) as exc:
                res.errors += 1
                res.samples.append(f"op {i}: {type(exc).__name__}: {exc}"[:400])
                if res.errors > 50:
                    return

    await asyncio.gather(*(worker(c) for c in conns))
    meter.stop(res)
    res.reconnects = sum(c.connects for c in conns) - len(conns)
    for c in conns:
        c.close()
    return res


def expect(resp: Response, *statuses: int) -> Response:
    if resp.status not in (statuses or (200,)):
        raise HttpStatusError(resp.status, resp.body)
    return resp


# --------------------------------------------------------------------------- S3 operations


def put_op(urls: Sequence[Signed], bodies: Sequence[bytes]) -> Op:
    """PUT key i % len(urls) with bodies[i % len(urls)]."""

    async def op(conn: Conn, i: int) -> int:
        k = i % len(urls)
        s = urls[k]
        expect(await conn.request("PUT", s.target, s.headers, bodies[k]))
        return len(bodies[k])

    return op


def get_op(urls: Sequence[Signed], bodies: Sequence[bytes], written: int) -> Op:
    """GET key i % written and compare it with what was PUT."""

    async def op(conn: Conn, i: int) -> int:
        k = i % written
        s = urls[k]
        r = expect(await conn.request("GET", s.target, s.headers))
        if r.body != bodies[k]:
            raise VerifyError(f"key #{k}: got {len(r.body)} bytes, expected {len(bodies[k])}, content differs")
        return len(r.body)

    return op


async def put_large(conn: Conn, s: Signed, data: bytes | memoryview) -> Response:
    return expect(await conn.request("PUT", s.target, s.headers, data))


async def get_verified(
    conn: Conn, s: Signed, expected: bytes, start: int = 0, length: int | None = None, ranged: bool = False
) -> int:
    """GET (optionally a Range) and compare every byte with ``expected[start:start+length]``."""
    length = len(expected) - start if length is None else length
    headers = list(s.headers)
    if ranged:
        headers.append(("Range", f"bytes={start}-{start + length - 1}"))
    chk = Checker(expected, start, length)
    r = await conn.request("GET", s.target, headers, sink=chk.feed)
    if ranged and r.status == 200 and r.headers.get("content-range", "").startswith(f"bytes {start}-"):
        QUIRKS.add("answers a ranged GET with 200 (not 206) and a correct Content-Range")
    else:
        expect(r, 206 if ranged else 200)
    chk.verify()
    return length


_UPLOAD_ID = re.compile(rb"<UploadId>([^<]+)</UploadId>")


async def multipart_upload(
    ep: Endpoint,
    signer: Presigner,
    bucket: str,
    key: str,
    data: bytes,
    part_size: int,
    streams: int,
    headers: dict[str, str] | None = None,
    server_pid: int | None = None,
) -> PhaseResult:
    """CreateMultipartUpload, ``streams`` concurrent UploadPart of ``part_size`` parts, CompleteMultipartUpload.

    Timed from the create to the complete's response; all three are presigned requests.
    """
    ctx = ep.ssl_context()
    path = f"/{bucket}/{key}"
    create = signer.one("POST", path, {"uploads": ""}, headers)
    control = Conn(ep, ctx)
    await control.connect()
    nparts = (len(data) + part_size - 1) // part_size
    res = PhaseResult(f"mpu {key}", streams)
    meter = CpuMeter(server_pid)
    try:
        r = expect(await control.request("POST", create.target, create.headers, b""))
        idle_since = time.perf_counter()
        m = _UPLOAD_ID.search(r.body)
        if not m:
            raise HttpStatusError(r.status, r.body)
        upload_id = html.unescape(m.group(1).decode())
        part_urls = signer.many(
            [("PUT", path, {"partNumber": str(n), "uploadId": upload_id}, headers) for n in range(1, nparts + 1)]
        )
        etags: dict[int, str] = {}
        view = memoryview(data)

        async def part(conn: Conn, i: int) -> int:
            s = part_urls[i]
            chunk = view[i * part_size : (i + 1) * part_size]
            resp = expect(await conn.request("PUT", s.target, s.headers, chunk))
            etags[i + 1] = resp.headers.get("etag", "")
            return len(chunk)

        parts = await run_phase("parts", ep, streams, part, count=nparts)
        res.errors, res.wrong, res.samples = parts.errors, parts.wrong, parts.samples
        res.nbytes, res.ops = parts.nbytes, parts.ops
        if parts.ok:
            xml_parts = "".join(
                f"<Part><PartNumber>{n}</PartNumber><ETag>{html.escape(etags[n])}</ETag></Part>" for n in sorted(etags)
            )
            body = f"<CompleteMultipartUpload>{xml_parts}</CompleteMultipartUpload>".encode()
            complete = signer.one("POST", path, {"uploadId": upload_id}, headers)
            if time.perf_counter() - idle_since > KEEPALIVE_SAFE_S:
                # the control connection sat idle while the parts went; servers close idle keep-alive connections
                # (uvicorn after 5 s), and a request written into one that closes is "Connection lost"
                control.close()
            r = expect(await control.request("POST", complete.target, complete.headers, body))
            if b"<Error>" in r.body:
                raise HttpStatusError(r.status, r.body)
    except (HttpStatusError, OSError, asyncio.IncompleteReadError) as exc:
        res.errors += 1
        res.samples.append(f"{type(exc).__name__}: {exc}"[:400])
    meter.stop(res)
    control.close()
    return res


_KEY = re.compile(rb"<Key>([^<]*)</Key>")
_TOKEN = re.compile(rb"<NextContinuationToken>([^<]*)</NextContinuationToken>")


async def list_all(
    ep: Endpoint, signer: Presigner, bucket: str, prefix: str, page: int = 1000
) -> tuple[list[str], int]:
    """ListObjectsV2 every page under prefix (each page presigned as its token arrives); returns keys, pages."""
    conn = Conn(ep, ep.ssl_context())
    await conn.connect()
    keys: list[str] = []
    token: str | None = None
    pages = 0
    try:
        while True:
            q = {"list-type": "2", "prefix": prefix, "max-keys": str(page)}
            if token:
                q["continuation-token"] = token
            s = signer.one("GET", f"/{bucket}", q)
            r = expect(await conn.request("GET", s.target, s.headers))
            pages += 1
            keys.extend(html.unescape(k.decode()) for k in _KEY.findall(r.body))
            m = _TOKEN.search(r.body)
            if b"<IsTruncated>true</IsTruncated>" not in r.body or not m:
                break
            token = html.unescape(m.group(1).decode())
    finally:
        conn.close()
    return keys, pages
