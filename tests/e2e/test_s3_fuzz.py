"""Fuzzing the S3 front door (issue 12, item 8): thousands of malformed or hostile requests, one real server.

A seeded generator (``random.Random(SEED)``: every run sends the same requests) makes them in these families: the
request line (methods, versions), paths, query strings, headers (the body's own framing among them), XML and policy
JSON bodies, aws-chunked bodies, and browser POST forms. Most are SigV4-signed correctly (botocore's ``S3SigV4Auth``
over the canonical form of what goes on the wire; chunk, trailer and POST-policy signatures as AWS documents them), so
they get past authentication to the parsers behind it; some are anonymous, signed with the wrong secret or an
unknown key, or carry a tampered signature.

They go over real TLS on raw sockets, exactly as generated, on a connection kept alive while the framing allows; h11
(a maintained HTTP parser) reads every answer. For every request: a whole HTTP response arrives (no dropped
connection, no timeout), its status is not 5xx (503 is a refusal to serve; 501 with S3's ``NotImplemented`` is the
documented answer for what strongroom does not build), and an XML body parses (an error document with a ``<Code>``).
The server's own log must hold no internal error either: an answer to a client already gone is still audited and
counted. Failures are collected and reported together. Afterwards a signed GET of a control object (in a bucket no
generated request names) returns it byte for byte, and the server process is alive.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import re
import socket
import ssl
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote, unquote_to_bytes

import h11
import pytest
import tests.conftest as _ct
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from strongroom.devserver import ROOT_ACCESS, ROOT_SECRET

pytestmark = pytest.mark.e2e

SEED = 0x5E1F_F022
MIN_REQUESTS = 2000
BUCKET = "fuzz"
CONTROL_BUCKET = "fuzz-control"  # never named by a generated request
CONTROL = bytes(range(256)) * 40 + b"control object: the last thing the fuzzer checks"
OBJ = b"fuzz object body " * 60
PART_DATA = b"part one of an upload left in progress"
REGION = "local"
READ_TIMEOUT = 15.0
MAX_BODY = 8 << 20  # of an answer, kept for the checks
HEAD_TIMEOUT = 5.0  # the server's request-head deadline (default 20 s): a head this test leaves open ends sooner

STREAMING = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

# what strongroom's error documents carry for characters XML 1.0 cannot (http/s3/xml.py: "the way S3 does")
_S3_CHAR_REFS = re.compile(rb"&#x(?:[0-8BCEF]|1[0-9A-F]|D[89A-F][0-9A-F]{2}|FFF[EF]);")


# --- what is sent ---------------------------------------------------------------------------------------------------


@dataclass
class Ctx:
    """What the generator aims at: the endpoint and an upload in progress."""

    host: bytes
    upload_id: str


ChunkBody = Callable[[str, str, str], bytes]  # (seed signature, x-amz-date, credential scope) -> aws-chunked body


@dataclass
class Probe:
    family: str
    method: bytes
    target: bytes  # the request-target, as sent
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    auth: str = "sign"  # sign | anon | wrong-secret | unknown-key | tamper
    payload: str | None = None  # the x-amz-content-sha256 to sign and send; None: the body's SHA-256
    after: list[tuple[bytes, bytes | None]] = field(default_factory=list)  # set (None: removed) after signing
    framing: bool = False  # the headers carry the body's framing: no Content-Length is added
    fresh: bool = False  # may leave the connection out of step: a connection of its own, closed after
    version: bytes = b"HTTP/1.1"
    eol: bytes = b"\r\n"
    no_host: bool = False
    chunks: ChunkBody | None = None  # an aws-chunked body made from the request's own seed signature
    mutate_auth: Callable[[bytes], bytes] | None = None  # applied to the signed Authorization header

    def summary(self) -> str:
        head = [f"{n.decode('latin-1')}: {v.decode('latin-1')[:80]}" for n, v in self.headers[:8]]
        head += [f"(after) {n.decode('latin-1')}: {(v or b'<removed>').decode('latin-1')[:80]}" for n, v in self.after]
        return (
            f"[{self.family}/{self.auth}] {self.method[:40]!r} {self.target[:160]!r} {self.version!r} "
            f"headers={head} body={self.body[:120]!r}{'...' if len(self.body) > 120 else ''} ({len(self.body)} B)"
        )


class _Signer(S3SigV4Auth):
    """botocore's S3 signer with the payload hash the probe names (streaming modes, odd values)."""

    def __init__(self, credentials: Credentials, payload: str) -> None:
        super().__init__(credentials, "s3", REGION)
        self._payload = payload

    def payload(self, request: AWSRequest) -> str:
        return self._payload


def _canonical_segment(raw: bytes) -> str:
    return quote(unquote_to_bytes(raw), safe="-_.~")


def _sign_path(path: bytes) -> str:
    """The path as SigV4 canonicalises it (each segment decoded once, re-encoded); botocore signs it verbatim."""
    return "/".join(_canonical_segment(seg) for seg in path.split(b"/"))


def _sign_query(query: bytes) -> str:
    pairs = []
    for piece in query.split(b"&"):
        if piece:
            name, _, value = piece.partition(b"=")
            pairs.append(
                _canonical_segment(name.replace(b"+", b" ")) + "=" + _canonical_segment(value.replace(b"+", b" "))
            )
    return "&".join(pairs)


def _text(value: bytes) -> str:
    """A header value as botocore will hash it (UTF-8): right for UTF-8 bytes, a mismatch for others (on purpose)."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def _replace(headers: list[tuple[bytes, bytes]], name: bytes, value: bytes | None) -> list[tuple[bytes, bytes]]:
    kept = [(n, v) for n, v in headers if n.lower() != name.lower()]
    return kept if value is None else [*kept, (name, value)]


def signing_key(secret: str, day: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (day, REGION, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def wire(probe: Probe, ctx: Ctx) -> bytes:
    """The request's bytes: the probe as generated, signed unless it is anonymous."""
    target = probe.target
    path, _, query = target.partition(b"?")
    if path.startswith((b"https://", b"http://")):
        path = b"/" + path.split(b"/", 3)[3] if path.count(b"/") >= 3 else b"/"
    names = {n.lower() for n, _ in probe.headers}
    host = next((v for n, v in probe.headers if n.lower() == b"host"), ctx.host)
    headers = list(probe.headers)
    if b"host" not in names and not probe.no_host:
        headers.insert(0, (b"host", ctx.host))
    payload = probe.payload if probe.payload is not None else hashlib.sha256(probe.body).hexdigest()
    body = probe.body
    if probe.auth != "anon" and path.startswith(b"/"):
        url = "https://" + host.decode("latin-1") + _sign_path(path) + ("?" + _sign_query(query) if query else "")
        try:
            req = AWSRequest(method=probe.method.decode("latin-1"), url=url)
            for n, v in probe.headers:
                if n.lower() != b"host" or not probe.no_host:
                    req.headers[n.decode("latin-1")] = _text(v)
            if b"host" not in names:
                req.headers["host"] = host.decode("latin-1")
            access, secret = ROOT_ACCESS, ROOT_SECRET
            if probe.auth == "wrong-secret":
                secret = "not-the-secret-key-0000000000000000000000"
            elif probe.auth == "unknown-key":
                access = "SRNOSUCHACCESSKEY000"
            _Signer(Credentials(access, secret), payload).add_auth(req)
        except (ValueError, UnicodeError):
            req = None  # botocore cannot sign this target: it goes unsigned
        if req is not None:
            signed = {k.lower(): v for k, v in req.headers.items()}
            authz = signed["authorization"]
            if probe.auth == "tamper":
                authz = authz[:-1] + ("0" if authz[-1] != "0" else "1")
            if probe.mutate_auth is not None:
                authz = probe.mutate_auth(authz.encode()).decode("latin-1")
            amz_date = signed["x-amz-date"]
            for name in ("authorization", "x-amz-date", "x-amz-content-sha256"):
                value = authz if name == "authorization" else signed[name]
                headers = _replace(headers, name.encode(), value.encode("latin-1"))
            if probe.chunks is not None:
                seed = authz.rsplit("Signature=", 1)[1]
                body = probe.chunks(seed, amz_date, f"{amz_date[:8]}/{REGION}/s3/aws4_request")
    elif probe.payload is not None:
        headers = _replace(headers, b"x-amz-content-sha256", probe.payload.encode("latin-1"))
    if probe.chunks is not None and body == probe.body:
        body = probe.chunks("0" * 64, "20000101T000000Z", f"20000101/{REGION}/s3/aws4_request")
    for after_name, after_value in probe.after:
        headers = _replace(headers, after_name, after_value)
    if not probe.framing and (body or probe.method in (b"PUT", b"POST")):
        headers = _replace(headers, b"content-length", str(len(body)).encode())
    eol = probe.eol
    line = probe.method + b" " + target + (b" " + probe.version if probe.version else b"")
    return eol.join([line, *(n + b": " + v for n, v in headers)]) + eol + eol + body


# --- what comes back ------------------------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int = 0
    headers: dict[bytes, bytes] = field(default_factory=dict)
    body: bytes = b""
    http_version: bytes = b"1.1"
    problem: str | None = None  # no (complete) answer: why
    keep: bool = False  # the connection may carry another request


def read_answer(sock: ssl.SSLSocket, head: bool) -> Answer:
    """One whole response, parsed by h11 (told whether the request was a HEAD, which has no body)."""
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="HEAD" if head else "GET", target="/", headers=[("host", "fuzz")]))
    conn.send(h11.EndOfMessage())
    ans = Answer()
    body = bytearray()
    received = 0
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as exc:
            ans.problem = f"unparseable response: {exc}"
            return ans
        if event is h11.NEED_DATA:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                ans.problem = f"no complete answer within {READ_TIMEOUT:.0f}s ({received} bytes came)"
                return ans
            except (OSError, ssl.SSLError) as exc:
                data = b""
                ans.problem = f"connection error: {exc!r}"
            if not data:
                ans.problem = ans.problem or (
                    "the connection closed without an answer" if not ans.status else "the answer was cut off"
                )
                ans.problem += f" ({received} bytes came)"
                return ans
            received += len(data)
            conn.receive_data(data)
            continue
        if isinstance(event, h11.Response):
            ans.status, ans.http_version = event.status_code, event.http_version
            ans.headers = {k.lower(): v for k, v in event.headers}
        elif isinstance(event, h11.Data):
            if len(body) < MAX_BODY:
                body += event.data
        elif isinstance(event, h11.EndOfMessage):
            ans.body = bytes(body)
            ans.keep = ans.http_version == b"1.1" and b"close" not in ans.headers.get(b"connection", b"").lower()
            extra, _closed = conn.trailing_data
            if extra and ans.keep:
                # on a connection that stays open these bytes would be read as the next request's answer. (Before a
                # close they do no harm: the answer to a HEAD the HTTP parser refused carries its error document.)
                ans.problem = f"{len(extra)} bytes beyond the answer: {extra[:80]!r}"
            return ans
        elif isinstance(event, h11.ConnectionClosed):
            ans.problem = "the connection closed without an answer"
            return ans
        # InformationalResponse (100 Continue): the real answer follows


def error_code(ans: Answer) -> str | None:
    """The error document's <Code>, or None when there is none to read."""
    if not ans.body or not ans.headers.get(b"content-type", b"").startswith((b"application/xml", b"text/xml")):
        return None
    try:
        root = ET.fromstring(_S3_CHAR_REFS.sub(b"?", ans.body))
    except ET.ParseError:
        return None
    return root.findtext("Code") if root.tag == "Error" else None


def judge(probe: Probe, ans: Answer) -> str | None:
    """What is wrong with the answer, or None."""
    if ans.problem is not None:
        return ans.problem
    head = probe.method == b"HEAD"
    code = error_code(ans)
    if ans.status >= 500 and ans.status != 503 and not (ans.status == 501 and (head or code == "NotImplemented")):
        return f"status {ans.status}"
    xml_type = ans.headers.get(b"content-type", b"").startswith((b"application/xml", b"text/xml"))
    if xml_type and ans.body and not head:
        try:
            root = ET.fromstring(_S3_CHAR_REFS.sub(b"?", ans.body))
        except ET.ParseError as exc:
            return f"{'error document' if ans.status >= 400 else 'XML answer'} does not parse ({exc})"
        if ans.status >= 400 and (root.tag != "Error" or not (root.findtext("Code") or "").strip()):
            return "error document has no <Code>"
    return None


_INTERNAL = re.compile(r'internal error \(request (\w+)\)|"[^"]*" 5(?!0[13])\d\d$', re.M)


def internal_errors(log: str) -> list[str]:
    """Server-side errors in a stretch of the server's log: an answer the client may never have seen (its
    connection already gone) is still a 500 in the audit log and the metrics."""
    out = []
    for match in _INTERNAL.finditer(log):
        tail = log[match.end() : match.end() + 4000]
        exc = re.search(r"^(?!\s)(?!Traceback)[\w.]+(?:Error|Exception|Disconnect|Exit)\b.*$", tail, re.M)
        line = log[log.rfind("\n", 0, match.start()) + 1 : match.end()]
        out.append(line[-300:] + (f" [{exc.group(0)[:200]}]" if exc and match.group(1) else ""))
    return out


class Wire:
    """One client: a TLS connection kept alive while the framing allows."""

    def __init__(self, srv: _ct.Server) -> None:
        self.ctx = ssl.create_default_context(cafile=srv.ca)
        self.port = srv.port
        self.sock: ssl.SSLSocket | None = None
        self.connections = 0

    def _connect(self) -> ssl.SSLSocket:
        raw = socket.create_connection(("localhost", self.port), timeout=READ_TIMEOUT)
        self.connections += 1
        return self.ctx.wrap_socket(raw, server_hostname="localhost")

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    def exchange(self, data: bytes, head: bool, fresh: bool) -> Answer:
        if fresh:
            self.close()
        reused = self.sock is not None
        ans = self._once(data, head)
        if reused and ans.problem is not None and "without an answer (0 bytes" in ans.problem:
            # a kept-alive connection the server had already closed: what any client does, retry on a new one
            self.close()
            ans = self._once(data, head)
        if fresh or not ans.keep or ans.problem is not None:
            self.close()
        return ans

    def _once(self, data: bytes, head: bool) -> Answer:
        if self.sock is None:
            self.sock = self._connect()
        try:
            self.sock.sendall(data)
        except (OSError, ssl.SSLError):
            pass  # the server stopped reading (an early answer, then a close): the answer is what counts
        return read_answer(self.sock, head)


# --- the generator --------------------------------------------------------------------------------------------------

T = TypeVar("T")


def pick(rng: random.Random, values: Sequence[T]) -> T:
    return values[rng.randrange(len(values))]


def b64(data: bytes) -> bytes:
    return base64.b64encode(data)


def md5_b64(data: bytes) -> bytes:
    return b64(hashlib.md5(data, usedforsecurity=False).digest())


def signing_mix(rng: random.Random) -> str:
    """Mostly correct signatures; some anonymous, badly signed or tampered."""
    r = rng.random()
    if r < 0.84:
        return "sign"
    if r < 0.90:
        return "anon"
    if r < 0.94:
        return "wrong-secret"
    if r < 0.97:
        return "unknown-key"
    return "tamper"


OBJECT_PATHS = [b"/fuzz/obj", b"/fuzz/small", b"/fuzz/dir/a", b"/fuzz/mp-obj", b"/fuzz/missing", b"/fuzz/new-key"]
BUCKET_PATHS = [b"/fuzz", b"/fuzz/", b"/nosuchbucket", b"/fuzz-new-1", b"/"]


def gen_request_line(rng: random.Random, ctx: Ctx) -> Iterator[Probe]:
    methods = [
        *(b"FOO", b"PURGE", b"BREW", b"PROPFIND", b"PROPPATCH", b"MKCOL", b"LINK", b"UNLINK", b"SEARCH", b"QUERY"),
        *(b"PATCH", b"TRACE", b"OPTIONS", b"M-SEARCH", b"SOURCE", b"REPORT", b"LOCK", b"COPY", b"MOVE", b"ACL"),
        *(b"get", b"put", b"Get", b"hEAD", b"delete", b"post", b"pOsT", b"G", b"GE", b"GETT", b"HEADD"),
        *(b"G" * 100, b"GET" * 400, b"X" * 5000, b"P" * 60000, b"GET\x00", b"G\xc9T", b"\xff\xfe", b"", b"GET GET"),
        *(b"PUT\t", b"DELETE" + b"E" * 50, b"GET;", b"GET/", b"-", b"PUT\x7f", b"\x16\x03\x01"),
    ]
    targets = [*OBJECT_PATHS[:3], *BUCKET_PATHS[:2], b"/fuzz?acl", b"/fuzz/obj?acl", b"/fuzz?uploads"]
    targets.append(f"/fuzz/mpu?uploadId={ctx.upload_id}".encode())
    for method in methods:
        for _ in range(3):
            yield Probe("method", method, pick(rng, targets), body=rng.choice([b"", b"x" * 10]), auth=signing_mix(rng))
    versions = [b"HTTP/1.0", b"HTTP/2.0", b"HTTP/0.9", b"HTTP/1.2", b"HTTP/1.1x", b"http/1.1", b"HTTP/1", b"HTTP/3"]
    versions += [b"HTTP/1.1 extra", b"HTTP/11", b"HTTP/1.10", b"HTTPS/1.1", b"HTTP/\xff"]
    for version in versions:
        for method in (b"GET", b"PUT", b"HEAD"):
            yield Probe("method", method, pick(rng, targets), version=version, body=b"v" if method == b"PUT" else b"")
    for line_target in [b" /fuzz/obj", b"/fuzz/obj ", b"\t/fuzz/obj", b"", b" ", b"/fuzz /obj"]:
        yield Probe("method", b"GET", line_target, auth="anon", fresh=True)
    for _ in range(12):  # bare LF line endings, which llhttp may take or refuse
        yield Probe("method", rng.choice([b"GET", b"HEAD", b"PUT"]), pick(rng, targets), eol=b"\n", fresh=True)


def gen_paths(rng: random.Random, ctx: Ctx) -> Iterator[Probe]:
    fixed = [
        *(b"/fuzz/%", b"/fuzz/%g0", b"/fuzz/%%", b"/fuzz/a%2", b"/%zz/obj", b"/fuzz%2Fobj", b"/fuzz/%C0%AF"),
        *(b"/fuzz/%ED%A0%80", b"/fuzz/%FF%FE", b"/fuzz/%00", b"/%00", b"/fuzz/a%00b", b"/fuzz/%0D%0Ax:y", b"/fuzz/%01"),
        *(b"/fuzz/%E2%80%AE", b"/fuzz/%EF%BF%BF", b"/fuzz/%F4%90%80%80", b"/fuzz/%c3%28", b"/fuzz/%2e%2e/obj"),
        *(b"/fuzz/\x00", b"/fuzz/a\x00b", b"/\x00", b"/fuzz/\x01", b"/fuzz/\x7f", b"/fuzz/\xff\xfe", b"/fuzz/\x80"),
        *(b"/fuzz/\xc3\xa9t\xc3\xa9", b"/fuzz/\xe2\x98\x83", b"/\xff/obj", b"/fuzz/\xed\xa0\x80", b"/fuzz/a\tb"),
        *(b"/fuzz/../fuzz-control/control", b"/../", b"/..", b"/fuzz/./obj", b"/fuzz/..", b"/.%2e/", b"/fuzz/../"),
        *(b"/fuzz/a/../../..", b"/%2e%2e/%2e%2e/etc/passwd", b"/fuzz/..%2F..%2Fstrongroom.db", b"/fuzz/..\\..\\x"),
        *(b"//", b"//fuzz", b"//fuzz/obj", b"/fuzz//", b"/fuzz//obj", b"///", b"/fuzz///a", b"/fuzz/obj//"),
        *(b"*", b"fuzz/obj", b"obj", b"http://localhost/fuzz/obj", b"https://localhost/fuzz/obj", b"/fuzz/obj#frag"),
        *(b"/fuzz/obj?", b"/fuzz/obj??", b"/fuzz/obj?#", b"/fuzz/%3F", b"/fuzz/%23", b"/fuzz/;a=b", b"/fuzz/obj;x"),
        *(
            b"/_strongroom/",
            b"/_strongroom/../fuzz",
            b"/_strongroom/health/../x",
            b"/_strongroom/admin",
            b"/_strongroom",
        ),
        *(
            b"/_strongroom/admin/../../fuzz",
            b"/_strongroom/%2e%2e/fuzz",
            b"/_STRONGROOM/health",
            b"/_strongroom/metrics",
        ),
        *(b"/FUZZ/obj", b"/Fuzz", b"/fu_zz/obj", b"/-fuzz/obj", b"/fuzz./obj", b"/192.168.0.1/x", b"/xn--fuzz/obj"),
        *(b"/fuzz/" + b"k" * 1024, b"/fuzz/" + b"k" * 1025, b"/fuzz/" + "é".encode() * 513, b"/fuzz/" + b"%41" * 1025),
        *(b"/" + b"b" * 64, b"/" + b"b" * 1000, b"/fuzz/" + b"d/" * 600, b"/fuzz/" + b"x" * 30000),
        *(b"/fuzz/" + b"y" * 70000, b"/fuzz/" + b"%FF" * 5000, b"/fuzz/" + b"/" * 2000),
    ]
    methods = [b"GET", b"HEAD", b"PUT", b"DELETE", b"POST"]
    for path in fixed:
        for method in rng.sample(methods, 3):
            body = b"path fuzz" if method in (b"PUT", b"POST") else b""
            target = path + (b"?uploads" if method == b"POST" and rng.random() < 0.5 else b"")
            yield Probe("path", method, target, body=body, auth=signing_mix(rng))
    pieces = [b"%", b"%0", b"%zz", b"%00", b"%FF", b"..", b".", b"/", b"//", b"\xff", b"\xc3", b"\xe9", b"%2F", b"~"]
    pieces += [b"a", b"key", b"%20", b"+", b"%2B", b"&", b"=", b"%3D", b"!", b"'", b"(", b"*", b"%C3%A9", b"@", b":"]
    for _ in range(120):
        path = b"/fuzz/" + b"".join(pick(rng, pieces) for _ in range(rng.randint(1, 12)))
        method = pick(rng, methods)
        body = b"random path" if method in (b"PUT", b"POST") else b""
        yield Probe("path", method, path, body=body, auth=signing_mix(rng))
    # virtual-host style: the bucket in the Host header
    hosts = [b"fuzz.localhost", b"FUZZ.localhost", b"..localhost", b"x" * 300 + b".localhost", b"localhost:abc"]
    hosts += [b"", b"fuzz.s3.localhost", b"nosuch.localhost", b"fuzz..localhost", b"-.localhost", b"[::1]", b"\xff"]
    hosts += [b"fuzz.localhost:" + ctx.host.split(b":")[1], b"localhost, evil.com", b"a b", b"fuzz.localhost."]
    for host in hosts:
        for target in (b"/", b"/obj", b"/?list-type=2", b"/fuzz/obj"):
            yield Probe("path", rng.choice([b"GET", b"HEAD"]), target, headers=[(b"host", host)], auth=signing_mix(rng))
    for _ in range(6):
        yield Probe("path", b"GET", b"/fuzz/obj", no_host=True, auth=rng.choice(["sign", "anon"]))
    yield Probe("path", b"GET", b"/fuzz/obj", headers=[(b"host", ctx.host), (b"host", b"evil.example")])


def gen_query(rng: random.Random, ctx: Ctx) -> Iterator[Probe]:
    up = ctx.upload_id.encode()
    unknown = [
        *(b"tagging", b"lifecycle", b"website", b"logging", b"notification", b"replication", b"accelerate"),
        *(b"requestPayment", b"inventory", b"analytics", b"metrics", b"intelligent-tiering", b"object-lock"),
        *(b"retention", b"legal-hold", b"torrent", b"restore", b"select&select-type=2", b"renameObject", b"session"),
        *(b"x-id=GetObject", b"", b"=", b"&&&", b"a=b=c", b"%", b"%zz=1", b"acl=xyz", b"ACL", b"Acl", b"POLICY"),
        *(b"%00", b"\xff=1", b"%FF=%FF", b"uploads=1", b"delete=", b"versions=x", b"location=", b"policy=abc"),
        *(b"a" * 5000, b"x-amz-foo=1", b"X-Amz-Algorithm", b"response-bogus=1", b"list-type", b"+", b"%2B=%2B"),
    ]
    repeated = [
        b"acl&acl",
        b"uploads&uploads",
        b"max-keys=1&max-keys=2",
        b"uploadId=a&uploadId=b",
        b"delete&delete",
        b"list-type=2&list-type=1",
        b"prefix=a&prefix=b",
        b"partNumber=1&partNumber=2",
        b"policy&acl",
        b"versioning&encryption",
        b"uploads&delete",
        b"location&location=x",
        b"acl&uploadId=" + up,
        b"uploadId=" + up + b"&uploadId=" + up,
        b"partNumber=1&uploadId=" + up + b"&partNumber=99999",
        b"versions&uploads&policy&acl&delete&location",
        b"continuation-token=a&continuation-token=b",
    ]
    ints = [b"-1", b"abc", b"1e3", b"99999999999999999999", b"%205", b"", b"0x10", b"%2B5", b"%D9%A3", b"5.0"]
    ints += [b"NaN", b"2147483648", b"%00", b"0", b"1", b"1000", b"1001", b"-0", b"00000000000001", b"1_000", b"\xff"]
    ints += [b"%E2%80%8B1", b"9" * 400, b"+", b"-", b"Infinity", b"%EF%BC%95"]
    upload_ids = [b"", b"x", b"..%2F..%2Fetc", b"u" * 2000, b"%00", up + b"x", up[:-1], b"%FF%FE", b"%C3%A9", b"null"]
    upload_ids += [up.upper(), b"' OR 1=1 --", b"%25", up + b"%00", b"*", b"-1"]
    tokens = [b"", b"!!!", b"====", b"_w", b"AAAA", b"%FF", base64.urlsafe_b64encode(b"k" * 3000), b"a", b"%00"]
    tokens += [base64.urlsafe_b64encode("\udcff".encode("utf-8", "surrogatepass")), b"%2F%2F%2F", b"dGVzdA=="]
    tokens += [base64.urlsafe_b64encode(b"\x00\x01\x02"), b"Zm9v+YmFy", b"Zg"]
    odd_text = [b"", b"%00", b"%FF", b"%0D%0A", b"a" * 3000, b"%C3%A9", b"\xff", b"%F0%9F%92%A9", b"/", b"%2F", b"*"]
    odd_text += [b"%01%02%1F", b"..", b"%ED%A0%80", b"%25", b"'", b"%3C%3E%26", b"%EF%BF%BE"]
    header_values = [b"text/plain", b"%0D%0AX-Injected:%201", b"%00", b"%E2%98%83", b"a" * 8000, b"%0A", b"%09tab"]
    header_values += [b"", b"%22quoted%22", b"attachment;%20filename=%22..%2F..%2Fx%22", b"%7F", b"%C3%BF", b"%FF"]
    overrides = [b"content-type", b"content-language", b"expires", b"cache-control", b"content-disposition"]
    overrides += [b"content-encoding", b"bogus", b"CONTENT-TYPE", b""]

    def listing_params() -> bytes:
        names = [b"max-keys", b"prefix", b"delimiter", b"marker", b"encoding-type", b"list-type", b"start-after"]
        names += [b"continuation-token", b"fetch-owner", b"key-marker", b"version-id-marker", b"max-uploads"]
        names += [b"upload-id-marker", b"max-buckets", b"bucket-region"]
        out = []
        for _ in range(rng.randint(1, 4)):
            name = pick(rng, names)
            if name.startswith(b"max-"):
                value = pick(rng, ints)
            elif name == b"list-type":
                value = pick(rng, [b"1", b"2", b"3", b"", b"two", b"02", b"2%00", b"-2"])
            elif name == b"continuation-token":
                value = pick(rng, tokens)
            elif name == b"encoding-type":
                value = pick(rng, [b"url", b"URL", b"", b"base64", b"url%00", b"Url", b"xml", b"none"])
            elif name == b"fetch-owner":
                value = pick(rng, [b"true", b"TRUE", b"1", b"", b"yes"])
            else:
                value = pick(rng, odd_text)
            out.append(name + b"=" + value)
        return b"&".join(out)

    for q in unknown + repeated:
        for method in rng.sample([b"GET", b"PUT", b"DELETE", b"POST", b"HEAD"], 2):
            path = pick(rng, [b"/fuzz", b"/fuzz/obj", b"/", b"/fuzz/mpu"])
            body = b"<x/>" if method in (b"PUT", b"POST") else b""
            yield Probe("query", method, path + b"?" + q, body=body, auth=signing_mix(rng))
    for _ in range(170):
        target = pick(rng, [b"/fuzz?", b"/fuzz?versions&", b"/fuzz?uploads&", b"/?", b"/nosuchbucket?"])
        yield Probe("query", rng.choice([b"GET", b"GET", b"HEAD"]), target + listing_params(), auth=signing_mix(rng))
    for _ in range(80):  # part numbers and upload ids
        part, uid = pick(rng, ints), pick(rng, upload_ids + [up] * 4)
        method, query = rng.choice(
            [
                (b"PUT", b"partNumber=" + part + b"&uploadId=" + uid),
                (b"GET", b"uploadId=" + uid + b"&max-parts=" + pick(rng, ints)),
                (b"GET", b"uploadId=" + uid + b"&part-number-marker=" + pick(rng, ints)),
                (b"GET", b"partNumber=" + part),
                (b"HEAD", b"partNumber=" + part),
                (b"POST", b"uploadId=" + uid),
                (b"DELETE", b"uploadId=" + (uid if uid != up else b"nope")),
                (b"PUT", b"partNumber=" + part),
                (b"PUT", b"uploadId=" + uid),
            ]
        )
        path = pick(rng, [b"/fuzz/mpu", b"/fuzz/mpu", b"/fuzz/mp-obj", b"/fuzz/obj", b"/fuzz/other"])
        body = b"part body" if method == b"PUT" else (b"<CompleteMultipartUpload/>" if method == b"POST" else b"")
        yield Probe("query", method, path + b"?" + query, body=body, auth=signing_mix(rng))
    for _ in range(90):  # GetObject's response-* overrides, versionId
        params = [
            b"response-" + pick(rng, overrides) + b"=" + pick(rng, header_values) for _ in range(rng.randint(1, 3))
        ]
        if rng.random() < 0.3:
            params.append(b"versionId=" + pick(rng, [b"null", b"", b"x", b"%00", b"3/L4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"]))
        if rng.random() < 0.2:
            params.append(b"partNumber=" + pick(rng, ints))
        yield Probe(
            "query",
            rng.choice([b"GET", b"HEAD"]),
            pick(rng, OBJECT_PATHS[:4]) + b"?" + b"&".join(params),
            auth=signing_mix(rng),
        )
    for _ in range(30):  # presigned-URL parameters, hostile
        parts = {
            b"X-Amz-Algorithm": pick(rng, [b"AWS4-HMAC-SHA256", b"AWS4-HMAC-SHA512", b"", b"%00", b"HMAC"]),
            b"X-Amz-Credential": pick(
                rng,
                [
                    ROOT_ACCESS.encode() + b"%2F20240101%2Flocal%2Fs3%2Faws4_request",
                    b"x",
                    b"%2F%2F%2F%2F",
                    b"",
                    ROOT_ACCESS.encode() + b"%2F" + b"9" * 8 + b"%2Flocal%2Fs3%2Faws4_request%2Fextra",
                ],
            ),
            b"X-Amz-Date": pick(rng, [b"20240101T000000Z", b"garbage", b"", b"99999999T999999Z"]),
            b"X-Amz-Expires": pick(rng, [b"-1", b"0", b"604801", b"abc", b"99999999999999999999", b"3600"]),
            b"X-Amz-SignedHeaders": pick(rng, [b"host", b"", b"host%3Bx-amz-date", b"%3B%3B", b"HOST"]),
            b"X-Amz-Signature": pick(rng, [b"zz", b"", b"0" * 63, b"G" * 64]),
        }
        keep = rng.sample(sorted(parts), rng.randint(1, len(parts)))
        query = b"&".join(k + b"=" + parts[k] for k in keep)
        headers = [(b"authorization", b"AWS4-HMAC-SHA256 Credential=x")] if rng.random() < 0.2 else []
        yield Probe("query", b"GET", b"/fuzz/obj?" + query, headers=headers, auth="anon")
    for _ in range(6):  # SigV2-style presigned parameters
        yield Probe("query", b"GET", b"/fuzz/obj?AWSAccessKeyId=" + ROOT_ACCESS.encode() + b"&Expires=1&Signature=x%3D")


def gen_headers(rng: random.Random, ctx: Ctx) -> Iterator[Probe]:
    up = ctx.upload_id.encode()
    # --- Content-Length and the body's framing (raw: every one on a connection of its own)
    lengths = [b"abc", b"-1", b"1 2", b"", b"+1", b"0x10", b"1e1", b"99999999999999999999999", b"3.0", b"\xff"]
    for value in lengths:
        for method in (b"PUT", b"POST", b"GET"):
            target = b"/fuzz/cl" if method != b"POST" else b"/fuzz?delete"
            yield Probe("header", method, target, [(b"content-length", value)], b"abc", framing=True, fresh=True)
    framings = [
        [(b"content-length", b"3"), (b"content-length", b"3")],
        [(b"content-length", b"3"), (b"content-length", b"4")],
        [(b"content-length", b"3, 3")],
        [(b"content-length", b" 3 ")],
        [(b"content-length", b"003")],
        [(b"content-length", b"3"), (b"transfer-encoding", b"chunked")],
        [(b"transfer-encoding", b"chunked"), (b"content-length", b"3")],
        [(b"transfer-encoding", b"gzip")],
        [(b"transfer-encoding", b"identity")],
        [(b"transfer-encoding", b"chunked, chunked")],
        [(b"transfer-encoding", b"gzip, chunked")],
        [(b"transfer-encoding", b"CHUNKED")],
        [(b"transfer-encoding", b" chunked")],
        [(b"transfer-encoding", b"chunked"), (b"transfer-encoding", b"chunked")],
        [(b"content-length", b"1")],  # shorter than the body: the rest is read as the next request
    ]
    for headers in framings:
        for method, target in ((b"PUT", b"/fuzz/framing"), (b"POST", b"/fuzz?delete"), (b"GET", b"/fuzz/obj")):
            te = any(n == b"transfer-encoding" for n, _ in headers)
            body = b"3\r\nabc\r\n0\r\n\r\n" if te else b"abc"
            yield Probe("header", method, target, list(headers), body, framing=True, fresh=True)
    http_chunked = [
        b"3\r\nabc\r\n0\r\n\r\n",
        b"zz\r\nabc\r\n0\r\n\r\n",
        b"3;ext=1\r\nabc\r\n0\r\n\r\n",
        b"3\r\nabcdef\r\n0\r\n\r\n",
        b"-3\r\nabc\r\n0\r\n\r\n",
        b"ffffffffffffffffff\r\nabc\r\n0\r\n\r\n",
        b"3\nabc\n0\n\n",
        b"0\r\nx-trailer: 1\r\n\r\n",
        b"0\r\n\r\n",
        b"3\r\nabc0\r\n\r\n",
    ]
    for body in http_chunked:
        for target in (b"/fuzz/te", b"/fuzz/mpu?partNumber=2&uploadId=" + up):
            yield Probe("header", b"PUT", target, [(b"transfer-encoding", b"chunked")], body, framing=True, fresh=True)
    # --- Range
    ranges = [b"bytes=", b"bytes=a-b", b"bytes=5-1", b"bytes=-", b"bytes=0-0,1-1", b"bytes=--1", b"bytes=1-2-3"]
    ranges += [b"bytes=99999999999999999999-", b"bytes=0-99999999999999999999999", b"items=0-1", b"bytes = 0-1"]
    ranges += [b"bytes=-99999999999999999999", b"bytes=\xff", b"bytes=" + b"0-1," * 1000, b"bytes=0x1-0x2", b"="]
    ranges += [b"bytes=-0", b"bytes=0-", b"bytes=1000-", b"bytes=%30-1", b"bytes=+1-2", b"bytes=1 -2", b"BYTES=0-1"]
    ranges += [b"bytes=0-1;x", b"bytes=\xd9\xa3-4", b"bytes=0-1, 3-4", b"bytes=1e2-", b"bytes= 1-2", b""]
    for value in ranges:
        for method in (b"GET", b"HEAD"):
            path = pick(rng, [b"/fuzz/obj", b"/fuzz/mp-obj", b"/fuzz/small", b"/fuzz/missing"])
            yield Probe("header", method, path, [(b"range", value)], auth=signing_mix(rng))
        yield Probe(
            "header",
            b"PUT",
            b"/fuzz/mpu?partNumber=3&uploadId=" + up,
            [(b"x-amz-copy-source", b"/fuzz/obj"), (b"x-amz-copy-source-range", value)],
            auth=signing_mix(rng),
        )
    # --- Content-MD5
    md5s = [b"", b"abc", b"====", b64(b"x" * 15), b64(b"x" * 17), md5_b64(b"other"), b"Zm9v\n", b"\xff" * 24]
    md5s += [hashlib.md5(b"b").hexdigest().encode(), b"A" * 1000, b"%00", b"1B2M2Y8AsgTpgAmY7PhCfg=="]
    for value in md5s:
        for method, target, body in (
            (b"PUT", b"/fuzz/md5", b"b"),
            (b"POST", b"/fuzz?delete", b"<Delete><Object><Key>md5</Key></Object></Delete>"),
            (b"PUT", b"/fuzz/mpu?partNumber=4&uploadId=" + up, b"b"),
            (b"PUT", b"/fuzz?acl", b"<AccessControlPolicy/>"),
        ):
            yield Probe("header", method, target, [(b"content-md5", value)], body, auth=signing_mix(rng))
    # --- x-amz-content-sha256
    body = b"sha body"
    shas = ["", "UNSIGNED-PAYLOAD", "unsigned-payload", STREAMING, UNSIGNED_TRAILER, STREAMING_TRAILER]
    shas += ["STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER"]
    shas += ["0" * 64, "Z" * 64, "a" * 63, hashlib.sha256(body).hexdigest().upper(), "x" * 5000, "STREAMING-"]
    shas += [hashlib.sha256(body).hexdigest() + " ", EMPTY_SHA256, "UNSIGNED-PAYLOAD-TRAILER"]
    for sha in shas:
        for method, target in ((b"PUT", b"/fuzz/sha"), (b"GET", b"/fuzz/obj"), (b"POST", b"/fuzz?delete")):
            yield Probe("header", method, target, body=body if method != b"GET" else b"", payload=sha)
    # --- x-amz-date and Date (replaced after signing)
    dates = [b"", b"garbage", b"20991231T000000Z", b"19700101T000000Z", b"20240230T250000Z", b"2024-01-01T00:00:00Z"]
    dates += [b"\xff", b"99999999T999999Z", b"20240101T000000", b"20240101T000000Z" * 10, b"Mon, 01 Jan 2024 00:00:00"]
    for value in dates:
        yield Probe("header", b"GET", b"/fuzz/obj", after=[(b"x-amz-date", value)])
        yield Probe("header", b"GET", b"/fuzz/obj", after=[(b"x-amz-date", None), (b"date", value)])
        yield Probe("header", b"GET", b"/fuzz/obj", headers=[(b"date", value)], auth="anon")
    # --- Authorization: fragments, raw and mutated from a real signature
    scope = ROOT_ACCESS + "/20240101/local/s3/aws4_request"
    fragments = [
        "garbage",
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA256 ",
        f"AWS4-HMAC-SHA256 Credential={scope}",
        f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host",
        f"AWS4-HMAC-SHA256 Credential={scope},SignedHeaders=host,Signature=zz",
        f"AWS4-HMAC-SHA256 Credential={scope},SignedHeaders=host;;x,Signature=" + "0" * 64,
        f"AWS4-HMAC-SHA256 Credential={ROOT_ACCESS}/a/b/c/d/e/f,SignedHeaders=host,Signature=" + "0" * 64,
        f"AWS4-HMAC-SHA256 Credential={ROOT_ACCESS}/20240101/local/iam/aws4_request,SignedHeaders=host,Signature=0",
        f"AWS4-HMAC-SHA256 Credential={ROOT_ACCESS}/20240101/local/s3/aws4_request2,SignedHeaders=host,Signature=0",
        "AWS4-HMAC-SHA256 Credential=é/20240101/local/s3/aws4_request,SignedHeaders=host,Signature=0",
        f"AWS4-HMAC-SHA256 Credential={scope},Credential={scope},SignedHeaders=host,Signature=" + "0" * 64,
        ",,,,",
        "AWS4-HMAC-SHA256 ,,,,",
        "AWS4-HMAC-SHA256 Credential=,SignedHeaders=,Signature=",
        "AWS4-HMAC-SHA256 Credential=a/b/c/d/e,SignedHeaders=host,Signature=" + "0" * 64,
        f"AWS4-HMAC-SHA256 Credential={scope},SignedHeaders=host,Signature=" + "0" * 63,
        f"AWS4-HMAC-SHA256 Credential={scope},SignedHeaders=host,Signature=" + "A" * 64,
        f"AWS4-HMAC-SHA256 Credential={scope},SignedHeaders=x-amz-date;host,Signature=" + "0" * 64,
        f"AWS4-HMAC-SHA256 Credential={scope},SignedHeaders=absent,Signature=" + "0" * 64,
        f"AWS4-HMAC-SHA256 Credential={scope},SignedHeaders=HOST,Signature=" + "0" * 64,
        f"AWS {ROOT_ACCESS}:c2lnbmF0dXJl",
        "AWS :",
        "AWS",
        "Bearer xyz",
        "Basic Zm9vOmJhcg==",
        "AWS4-HMAC-SHA256 Credential=" + "A" * 8000,
        "AWS4-HMAC-SHA256 Credential=\x00",
        "AWS4-HMAC-SHA512 Credential=x,SignedHeaders=host,Signature=0",
        "aws4-hmac-sha256 Credential=x,SignedHeaders=host,Signature=0",
    ]
    for frag in fragments:
        value = frag.encode("utf-8")
        date = rng.choice([b"20240101T000000Z", time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()).encode(), b"x"])
        headers = [(b"authorization", value), (b"x-amz-date", date)]
        yield Probe("header", rng.choice([b"GET", b"PUT", b"HEAD"]), b"/fuzz/obj", headers, b"", auth="anon")
    mutations: list[Callable[[bytes], bytes]] = [
        lambda a: a[: rng.randrange(len(a))],
        lambda a: a.replace(b"Credential=", b"credential="),
        lambda a: a.replace(b",", b", ", 1),
        lambda a: a.replace(b",", b" ,"),
        lambda a: a.replace(b"SignedHeaders=", b"SignedHeaders=x-amz-date;"),
        lambda a: a.replace(b"host;", b""),
        lambda a: a.replace(b"AWS4-HMAC-SHA256 ", b"AWS4-HMAC-SHA256  "),
        lambda a: a + b",Signature=" + b"0" * 64,
        lambda a: a + b",Extra=1",
        lambda a: a.replace(b"/local/", b"/us-east-1/"),
        lambda a: a.replace(b"/s3/", b"/S3/"),
        lambda a: a.replace(b"aws4_request", b"aws4_request\x00"),
        lambda a: a.upper(),
        lambda a: b",".join(reversed(a.split(b","))),
        lambda a: a.replace(ROOT_ACCESS.encode(), ROOT_ACCESS.lower().encode()),
    ]
    for mutate in mutations:
        for _ in range(3):
            method = rng.choice([b"GET", b"HEAD", b"PUT"])
            target = pick(rng, [b"/fuzz/obj", b"/fuzz", b"/fuzz/auth-put"])
            yield Probe("header", method, target, body=b"a" if method == b"PUT" else b"", mutate_auth=mutate)
    # --- x-amz-checksum-*
    checksum_sets = [
        [(b"x-amz-checksum-crc32", b"")],
        [(b"x-amz-checksum-crc32", b"abc")],
        [(b"x-amz-checksum-crc32", b"AAAAAA==")],
        [(b"x-amz-checksum-crc32", b"AAAAAA")],
        [(b"x-amz-checksum-crc32", b"\xff\xff")],
        [(b"x-amz-checksum-crc32c", b"AAAAAA==")],
        [(b"x-amz-checksum-sha256", b64(b"x" * 31))],
        [(b"x-amz-checksum-sha256", b64(b"x" * 32))],
        [(b"x-amz-checksum-sha1", b64(b"x" * 20))],
        [(b"x-amz-checksum-crc64nvme", b"AAAAAAAAAAA=")],
        [(b"x-amz-checksum-crc64nvme", b"%%%%")],
        [(b"x-amz-checksum-md5", md5_b64(b"ck"))],
        [(b"x-amz-checksum-foo", b"1")],
        [(b"x-amz-checksum-crc32", b"AAAAAA=="), (b"x-amz-checksum-sha1", b64(b"x" * 20))],
        [(b"x-amz-sdk-checksum-algorithm", b"CRC32"), (b"x-amz-checksum-crc32c", b"AAAAAA==")],
        [(b"x-amz-sdk-checksum-algorithm", b"bogus")],
        [(b"x-amz-sdk-checksum-algorithm", b"")],
        [(b"x-amz-sdk-checksum-algorithm", b"crc32")],
        [(b"x-amz-checksum-algorithm", b"bogus")],
        [(b"x-amz-checksum-algorithm", b"SHA256"), (b"x-amz-checksum-type", b"FULL_OBJECT")],
        [(b"x-amz-checksum-algorithm", b"SHA1"), (b"x-amz-checksum-type", b"weird")],
        [(b"x-amz-checksum-algorithm", b"CRC64NVME"), (b"x-amz-checksum-type", b"COMPOSITE")],
        [(b"x-amz-checksum-type", b"FULL_OBJECT")],
        [(b"x-amz-checksum-mode", b"ENABLED")],
        [(b"x-amz-checksum-mode", b"\xff")],
        [(b"x-amz-checksum-crc32", b"A" * 5000)],
    ]
    for headers in checksum_sets:
        for method, target, body in (
            (b"PUT", b"/fuzz/ck", b"ck"),
            (b"POST", b"/fuzz/ck-mpu?uploads", b""),
            (b"PUT", b"/fuzz/mpu?partNumber=5&uploadId=" + up, b"ck"),
            (b"POST", b"/fuzz?delete", b"<Delete><Object><Key>ck</Key></Object></Delete>"),
            (b"POST", b"/fuzz/mpu?uploadId=" + up, b"<CompleteMultipartUpload/>"),
            (b"GET", b"/fuzz/obj", b""),
        ):
            if rng.random() < 0.6:
                yield Probe("header", method, target, list(headers), body, auth=signing_mix(rng))
    # --- x-amz-meta-* with odd bytes
    metas = [
        [(b"x-amz-meta-a", "é☃".encode())],
        [(b"x-amz-meta-a", b"\xff\xfe")],
        [(b"x-amz-meta-a", b"a\tb")],
        [(b"x-amz-meta-a", b"  spaced  ")],
        [(b"x-amz-meta-", b"empty name")],
        [(b"x-amz-meta-a b", b"1")],
        [("x-amz-meta-é".encode(), b"1")],
        [(b"x-amz-meta-a", b"x" * 2047)],
        [(b"x-amz-meta-a", b"x" * 2049)],
        [(b"x-amz-meta-k%d" % i, b"v") for i in range(100)],
        [(b"X-Amz-Meta-Upper", b"1")],
        [(b"x-amz-meta-dup", b"1"), (b"x-amz-meta-dup", b"2")],
        [(b"x-amz-meta-a", b"\x7f")],
        [(b"x-amz-meta-a", b"a\r\n b")],
        [(b"x-amz-meta-a", b"\x00")],
        [(b"x-amz-meta-a", b"\x01\x1f")],
        [(b"x-amz-meta-a", "\U0001f4a9".encode())],
        [(b"x-amz-meta-a", b"=?UTF-8?B?w6k=?=")],
        [(b"x-amz-meta-a:b", b"1")],
        [(b"x-amz-meta-" + b"n" * 3000, b"1")],
        [(b"x-amz-meta-a", "é".encode() * 700)],
        [(b"x-amz-meta-\x80", b"1")],
    ]
    for headers in metas:
        for method, target in ((b"PUT", b"/fuzz/meta"), (b"POST", b"/fuzz/meta-mpu?uploads")):
            yield Probe("header", method, target, list(headers), b"meta" if method == b"PUT" else b"")
        yield Probe(
            "header",
            b"PUT",
            b"/fuzz/meta-copy",
            [(b"x-amz-copy-source", b"/fuzz/obj")] + list(headers) + [(b"x-amz-metadata-directive", b"REPLACE")],
        )
    for _ in range(6):
        yield Probe("header", b"GET", b"/fuzz/meta")
        yield Probe("header", b"HEAD", b"/fuzz/meta")
    # --- x-amz-copy-source
    sources = [b"", b"/", b"fuzz", b"/fuzz", b"/fuzz/", b"fuzz/nonexist", b"/nosuchbucket/x", b"%", b"%zz"]
    sources += [b"/fuzz/obj?versionId=", b"?versionId=1", b"/fuzz/obj?versionId=null", b"/fuzz/%00", b"/FUZZ/obj"]
    sources += [b"/fuzz/" + b"k" * 2000, b"//fuzz/obj", b"/fuzz-control/control", b"arn:aws:s3:::fuzz/obj"]
    sources += [b"/fuzz/obj?versionId=%FF", b"\xff/\xff", b"/fuzz/%ED%A0%80", b"fuzz/obj?partNumber=1", b"/fuzz/mp-obj"]
    sources += [b"/fuzz/obj%3FversionId%3Dx", b"/fuzz/../fuzz/obj", b"/fuzz/obj?versionId=null&x=1"]
    extras = [
        [],
        [(b"x-amz-metadata-directive", b"WEIRD")],
        [(b"x-amz-metadata-directive", b"replace")],
        [(b"x-amz-copy-source-if-match", b'"nope"')],
        [(b"x-amz-copy-source-if-none-match", b"*")],
        [(b"x-amz-copy-source-if-modified-since", b"garbage")],
        [(b"x-amz-copy-source-if-unmodified-since", b"Tue, 01 Jan 1980 00:00:00 GMT")],
        [(b"x-amz-copy-source-server-side-encryption-customer-algorithm", b"AES256")],
        [(b"x-amz-tagging-directive", b"REPLACE")],
        [(b"x-amz-storage-class", b"NOPE")],
    ]
    for source in sources:
        for target in (b"/fuzz/copied", b"/fuzz/mpu?partNumber=6&uploadId=" + up):
            headers = [(b"x-amz-copy-source", source), *pick(rng, extras)]
            yield Probe("header", b"PUT", target, headers, auth=signing_mix(rng))
        if rng.random() < 0.3:
            yield Probe("header", b"GET", b"/fuzz/obj", [(b"x-amz-copy-source", source)])
    # --- conditional headers
    conds = [b"", b"*", b'"abc"', b'W/"x"', b"a" * 5000, b'"' + hashlib.md5(OBJ).hexdigest().encode() + b'"', b",,,"]
    cond_dates = [b"garbage", b"Mon, 32 Jan 2024 00:00:00 GMT", b"Tue, 01 Jan 99999 00:00:00 GMT", b"0", b"-1"]
    cond_dates += [b"1e100", b"9999-12-31T23:59:59Z", b"0001-01-01", b"0001-01-01T00:00:00+01:00"]
    cond_dates += [b"9999-12-31T23:59:59-01:00", b"2024-01-01T00:00:00+99:00", b"Mon, 01 Jan 2024 00:00:00 +9999"]
    cond_dates += [b"Sun, 06 Nov 1994 08:49:37 GMT", b"Sunday, 06-Nov-94 08:49:37 GMT", b"Sun Nov  6 08:49:37 1994"]
    cond_dates += [b"\xff", b"Mon, 01 Jan 0000 00:00:00 GMT", b"2024-13-45", b"9" * 50]
    for _ in range(110):
        name = pick(rng, [b"if-match", b"if-none-match", b"if-modified-since", b"if-unmodified-since"])
        value = pick(rng, conds if name in (b"if-match", b"if-none-match") else cond_dates)
        method, target, body = rng.choice(
            [
                (b"GET", b"/fuzz/obj", b""),
                (b"HEAD", b"/fuzz/obj", b""),
                (b"GET", b"/fuzz/mp-obj", b""),
                (b"PUT", b"/fuzz/cond", b"cond"),
                (b"POST", b"/fuzz/mpu?uploadId=" + up, b"<CompleteMultipartUpload/>"),
                (b"PUT", b"/fuzz/cond-copy", b""),
            ]
        )
        headers = [(name, value)]
        if target == b"/fuzz/cond-copy":
            headers = [(b"x-amz-copy-source", b"/fuzz/obj"), (b"x-amz-copy-source-" + name, value)]
        yield Probe("header", method, target, headers, body, auth=signing_mix(rng))
    # --- SSE, ACL and grant headers, the rest
    sse = [
        [(b"x-amz-server-side-encryption", b"AES512")],
        [(b"x-amz-server-side-encryption", b"aws:kms"), (b"x-amz-server-side-encryption-aws-kms-key-id", b"nope")],
        [(b"x-amz-server-side-encryption", b"aws:kms"), (b"x-amz-server-side-encryption-aws-kms-key-id", b"")],
        [(b"x-amz-server-side-encryption", b"aws:kms"), (b"x-amz-server-side-encryption-context", b"!!")],
        [(b"x-amz-server-side-encryption", b"aws:kms"), (b"x-amz-server-side-encryption-context", b64(b"[1]"))],
        [(b"x-amz-server-side-encryption", b"aws:kms"), (b"x-amz-server-side-encryption-context", b64(b"\xff"))],
        [(b"x-amz-server-side-encryption", b"aws:kms"), (b"x-amz-server-side-encryption-context", b64(b"[" * 3000))],
        [
            (b"x-amz-server-side-encryption", b"aws:kms"),
            (b"x-amz-server-side-encryption-context", b64(b"[" * 3000 + b"]" * 3000)),
        ],
        [
            (b"x-amz-server-side-encryption", b"aws:kms"),
            (b"x-amz-server-side-encryption-context", b64(b'{"a":' * 1500 + b'"b"' + b"}" * 1500)),
        ],
        [(b"x-amz-server-side-encryption-aws-kms-key-id", b"arn:aws:kms:local:1:key/x" + b"y" * 3000)],
        [(b"x-amz-server-side-encryption-bucket-key-enabled", b"maybe")],
        [(b"x-amz-server-side-encryption-customer-algorithm", b"AES256")],
        [
            (b"x-amz-server-side-encryption-customer-algorithm", b"AES256"),
            (b"x-amz-server-side-encryption-customer-key", b"!!!"),
        ],
        [
            (b"x-amz-server-side-encryption-customer-algorithm", b"AES256"),
            (b"x-amz-server-side-encryption-customer-key", b64(b"k" * 31)),
        ],
        [
            (b"x-amz-server-side-encryption-customer-algorithm", b"AES256"),
            (b"x-amz-server-side-encryption-customer-key", b64(b"k" * 32)),
            (b"x-amz-server-side-encryption-customer-key-md5", b"wrong"),
        ],
        [(b"x-amz-server-side-encryption-customer-key", b64(b"k" * 32))],
        [(b"x-amz-acl", b"bogus")],
        [(b"x-amz-acl", b"public-read"), (b"x-amz-grant-read", b"uri=x")],
        [(b"x-amz-grant-read", b"id=")],
        [(b"x-amz-grant-read", b"garbage")],
        [(b"x-amz-grant-read", b'id="abc", id="def"')],
        [(b"x-amz-grant-full-control", b'emailAddress="a@b.c"')],
        [(b"x-amz-grant-write", b'uri="http://acs.amazonaws.com/groups/global/Nope"')],
        [(b"x-amz-grant-read-acp", b"id=\xff")],
        [(b"x-amz-tagging", b"a=b")],
        [(b"x-amz-object-lock-mode", b"GOVERNANCE")],
        [(b"x-amz-object-lock-retain-until-date", b"garbage")],
        [(b"x-amz-bucket-object-lock-enabled", b"true")],
        [(b"x-amz-storage-class", b"\xff")],
        [(b"x-amz-object-attributes", b"ETag,Bogus")],
        [(b"x-amz-object-attributes", b"")],
        [(b"x-amz-object-attributes", b"ObjectParts"), (b"x-amz-max-parts", b"-5")],
        [(b"x-amz-object-attributes", b"ObjectParts"), (b"x-amz-part-number-marker", b"zz")],
        [(b"x-amz-object-attributes", b"ObjectParts"), (b"x-amz-max-parts", b"99999999999999999999")],
        [(b"x-amz-decoded-content-length", b"-1")],
        [(b"x-amz-decoded-content-length", b"abc")],
        [(b"x-amz-decoded-content-length", b"99999999999999999999")],
        [(b"x-amz-trailer", b"x-amz-checksum-crc32")],
        [(b"x-amz-security-token", b"nope")],
        [(b"x-amz-expected-bucket-owner", b"123")],
        [(b"x-amz-request-payer", b"requester")],
        [(b"expect", b"100-continue")],
        [(b"expect", b"bogus")],
        [(b"content-type", b"multipart/form-data; boundary=")],
        [(b"content-type", b"multipart/form-data; boundary=x")],
        [(b"content-type", b"\xff/\xff")],
        [(b"content-encoding", b"aws-chunked")],
        [(b"content-encoding", b"gzip, aws-chunked, br")],
        [(b"connection", b"close")],
        [(b"connection", b"upgrade"), (b"upgrade", b"websocket")],
        [
            (b"connection", b"Upgrade"),
            (b"upgrade", b"websocket"),
            (b"sec-websocket-version", b"13"),
            (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="),
        ],
        [(b"connection", b"upgrade"), (b"upgrade", b"websocket"), (b"sec-websocket-version", b"99")],
        [
            (b"upgrade", b"h2c"),
            (b"connection", b"Upgrade, HTTP2-Settings"),
            (b"http2-settings", b"AAMAAABkAARAAAAAAAIAAAAA"),
        ],
        [(b"x-forwarded-for", b"1.2.3.4"), (b"x-real-ip", b"\xff")],
        [(b"x-pad-%d" % i, b"p" * 1000) for i in range(70)],  # past the 64 KiB head bound
        [(b"x-pad-%d" % i, b"p" * 100) for i in range(150)],  # under it, past the 16 KiB header-bytes bound
        [(b"x-" + b"n" * 9000, b"1")],
    ]
    for headers in sse:
        for method, target, body in (
            (b"PUT", b"/fuzz/sse", b"sse"),
            (b"GET", b"/fuzz/obj", b""),
            (b"GET", b"/fuzz/obj?attributes", b""),
            (b"GET", b"/fuzz/mp-obj?attributes", b""),
            (b"PUT", b"/fuzz-new-2", b""),
            (b"POST", b"/fuzz/sse-mpu?uploads", b""),
            (b"PUT", b"/fuzz?acl", b""),
            (b"POST", b"/fuzz", b"--x--"),
        ):
            if rng.random() < 0.45 or any(n == b"upgrade" for n, _ in headers):
                fresh = any(n.startswith(b"x-pad") for n, _ in headers)
                yield Probe("header", method, target, list(headers), body, auth=signing_mix(rng), fresh=fresh)


# --- XML (and policy JSON) bodies -----------------------------------------------------------------------------------

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
BOMB = (
    '<!DOCTYPE r [<!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">'
    + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9))
    + "]>"
)


@dataclass(frozen=True)
class XmlTarget:
    method: bytes
    target: bytes
    root: str
    inner: str  # the root's content in a well-formed request
    leaf: str  # a leaf element (inside ``inner``) whose text the hostile variants replace
    limit: int  # the parser's size bound


def xml_targets(ctx: Ctx) -> list[XmlTarget]:
    acl = (
        "<Owner><ID>LEAF</ID></Owner><AccessControlList><Grant>"
        f'<Grantee {XSI} xsi:type="CanonicalUser"><ID>abc</ID></Grantee><Permission>READ</Permission>'
        "</Grant></AccessControlList>"
    )
    return [
        XmlTarget(
            b"POST", b"/fuzz?delete", "Delete", "<Object><Key>LEAF</Key></Object><Quiet>true</Quiet>", "Key", 4 << 20
        ),
        XmlTarget(
            b"POST",
            f"/fuzz/mpu?uploadId={ctx.upload_id}".encode(),
            "CompleteMultipartUpload",
            '<Part><PartNumber>1</PartNumber><ETag>"LEAF"</ETag></Part>',
            "ETag",
            4 << 20,
        ),
        XmlTarget(b"PUT", b"/fuzz?acl", "AccessControlPolicy", acl, "ID", 1 << 20),
        XmlTarget(b"PUT", b"/fuzz/obj?acl", "AccessControlPolicy", acl, "ID", 1 << 20),
        XmlTarget(
            b"PUT",
            b"/fuzz?publicAccessBlock",
            "PublicAccessBlockConfiguration",
            "<BlockPublicAcls>LEAF</BlockPublicAcls><IgnorePublicAcls>false</IgnorePublicAcls>",
            "BlockPublicAcls",
            1 << 20,
        ),
        XmlTarget(
            b"PUT",
            b"/fuzz?ownershipControls",
            "OwnershipControls",
            "<Rule><ObjectOwnership>LEAF</ObjectOwnership></Rule>",
            "ObjectOwnership",
            1 << 20,
        ),
        XmlTarget(
            b"PUT",
            b"/fuzz?encryption",
            "ServerSideEncryptionConfiguration",
            "<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>LEAF</SSEAlgorithm>"
            "</ApplyServerSideEncryptionByDefault></Rule>",
            "SSEAlgorithm",
            1 << 20,
        ),
        XmlTarget(
            b"PUT",
            b"/fuzz-new-3",
            "CreateBucketConfiguration",
            "<LocationConstraint>LEAF</LocationConstraint>",
            "LocationConstraint",
            1 << 20,
        ),
        XmlTarget(b"PUT", b"/fuzz?versioning", "VersioningConfiguration", "<Status>LEAF</Status>", "Status", 1 << 20),
        XmlTarget(b"PUT", b"/fuzz?tagging", "Tagging", "<TagSet><Tag><Key>LEAF</Key></Tag></TagSet>", "Key", 1 << 20),
    ]


LEAF_VALUES = ["true", "x", "AES256", "aws:kms", "BucketOwnerEnforced", "local", "Enabled", "1", "", " true "]


def xml_variants(rng: random.Random, t: XmlTarget) -> Iterator[tuple[str, bytes]]:
    def doc(inner: str | None = None, root: str | None = None, ns: str | None = S3_NS, prolog: str = "") -> str:
        root = root or t.root
        xmlns = f' xmlns="{ns}"' if ns is not None else ""
        leaf = pick(rng, LEAF_VALUES)
        return f"{prolog}<{root}{xmlns}>{(inner if inner is not None else t.inner).replace('LEAF', leaf)}</{root}>"

    good = doc()
    yield "well-formed", good.encode()
    yield "no-namespace", doc(ns=None).encode()
    for _ in range(3):
        yield "truncated", good.encode()[: rng.randrange(1, len(good))]
    depth = rng.choice([1000, 20000])
    yield "deep", doc(t.inner.replace("LEAF", "<a>" * depth + "x" + "</a>" * depth)).encode()
    yield "deep-root", doc("<a>" * 100_000 + "</a>" * 100_000).encode()
    yield "deep-unclosed", doc("<a>" * 50_000).encode()
    leaf_el = f"<{t.leaf}>"
    yield "deep-same", doc(leaf_el * 5000 + "v" + f"</{t.leaf}>" * 5000).encode()
    yield "billion-laughs", ('<?xml version="1.0"?>' + BOMB + doc(t.inner.replace("LEAF", "&j;"))).encode()
    yield (
        "external-entity",
        (
            '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            + doc(t.inner.replace("LEAF", "&x;"))
        ).encode(),
    )
    yield "parameter-entity", ('<!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:1/x.dtd"> %p;]>' + doc()).encode()
    yield "external-dtd", ('<!DOCTYPE r SYSTEM "http://127.0.0.1:1/x.dtd">' + doc()).encode()
    yield "undefined-entity", doc(t.inner.replace("LEAF", "&nope;")).encode()
    yield "wrong-namespace", doc(ns="http://evil.example/").encode()
    yield "empty-namespace-child", doc(t.inner.replace(f"<{t.leaf}>", f'<{t.leaf} xmlns="">')).encode()
    yield "prefixed", f'<s3:{t.root} xmlns:s3="{S3_NS}">{t.inner.replace("LEAF", "x")}</s3:{t.root}>'.encode()
    yield "unbound-prefix", f"<x:{t.root}>{t.inner}</x:{t.root}>".encode()
    yield (
        "xinclude",
        doc(
            t.inner.replace(
                "LEAF", '<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd"/>'
            )
        ).encode(),
    )
    yield "wrong-root", doc(root="Nope").encode()
    yield "doubled-root", (doc() + doc()).encode()
    yield "utf16", doc(prolog='<?xml version="1.0" encoding="UTF-16"?>').encode("utf-16")
    yield "bom", b"\xef\xbb\xbf" + good.encode()
    yield "bogus-encoding", doc(prolog='<?xml version="1.0" encoding="x-bogus"?>').encode()
    yield "ebcdic", doc(prolog='<?xml version="1.0" encoding="cp500"?>').encode("cp500")
    yield "version-2", doc(prolog='<?xml version="2.0"?>').encode()
    yield "pi-and-comments", doc(t.inner.replace("LEAF", "<!--c--><?pi x?>v<!--c-->")).encode()
    yield "cdata", doc(t.inner.replace("LEAF", "<![CDATA[<&>]]>")).encode()
    yield "bad-char-refs", doc(t.inner.replace("LEAF", "&#0;&#x1F;&#xD800;&#x110000;")).encode()
    yield "good-char-refs", doc(t.inner.replace("LEAF", "&#13;&#xE9;&amp;&lt;")).encode()
    yield "nul-byte", doc(t.inner.replace("LEAF", "a\x00b")).encode()
    yield "invalid-utf8", doc().encode().replace(b">", b">\xff\xfe", 2)
    yield "attributes", doc(t.inner.replace(f"<{t.leaf}>", f'<{t.leaf} a="1" b="&lt;">')).encode()
    yield "unknown-element", doc("<Bogus>1</Bogus>" + t.inner).encode()
    yield "duplicated", doc(t.inner + t.inner).encode()
    yield "stray-text", doc("stray" + t.inner + "tail").encode()
    yield "empty-root", f"<{t.root}/>".encode()
    yield "empty-leaf", doc(t.inner.replace("LEAF", "")).encode()
    yield "huge-leaf", doc(t.inner.replace("LEAF", "k" * 300_000)).encode()
    yield (
        "many-attributes",
        doc().replace(f"<{t.root}", f"<{t.root} " + " ".join(f"a{i}='1'" for i in range(20000)), 1).encode(),
    )
    yield "long-name", doc(f"<{'n' * 100_000}>1</{'n' * 100_000}>").encode()
    for garbage in (b"", b" ", b"\x00" * 16, b"<", b"<?xml?>", b"{}", b"[]", b"null", b"\x89PNG\r\n\x1a\n", b"</>"):
        yield "garbage", garbage
    yield "random-bytes", bytes(rng.randrange(256) for _ in range(rng.randint(1, 3000)))
    if rng.random() < 0.35:
        yield "over-limit", b"<" + t.root.encode() + b">" + b" " * t.limit + b"</" + t.root.encode() + b">"
    if t.root == "Delete":
        yield "1001-objects", doc("<Object><Key>k</Key></Object>" * 1001).encode()
        yield "1000-same-key", doc("<Object><Key>gone</Key></Object>" * 1000).encode()
        yield (
            "odd-keys",
            doc(
                "".join(f"<Object><Key>{k}</Key></Object>" for k in ("", " ", "&#10;", "k" * 2000, "..", "/", "\u2603"))
            ).encode(),
        )
        yield "version-ids", doc("<Object><Key>k</Key><VersionId>&#0;</VersionId></Object>").encode()
        yield "quiet-maybe", doc("<Object><Key>k</Key></Object><Quiet>maybe</Quiet>").encode()
        yield "no-objects", doc("<Quiet>true</Quiet>").encode()
    if t.root == "CompleteMultipartUpload":
        for number in ("abc", "-1", "0", "99999999999999999999", "1e3", " 1 ", "10001", "1.0", "&#x661;", "9" * 5000):
            yield "part-number", doc(f'<Part><PartNumber>{number}</PartNumber><ETag>"x"</ETag></Part>').encode()
        yield (
            "10001-parts",
            doc(
                "".join(f'<Part><PartNumber>{i}</PartNumber><ETag>"x"</ETag></Part>' for i in range(1, 10002))
            ).encode(),
        )
        yield (
            "unordered",
            doc(
                '<Part><PartNumber>2</PartNumber><ETag>"x"</ETag></Part><Part><PartNumber>1</PartNumber><ETag>"x"</ETag></Part>'
            ).encode(),
        )
        yield (
            "checksums",
            doc(
                '<Part><PartNumber>1</PartNumber><ETag>"x"</ETag><ChecksumCRC32>!!</ChecksumCRC32>'
                "<ChecksumBogus>1</ChecksumBogus></Part>"
            ).encode(),
        )
        yield "no-etag", doc("<Part><PartNumber>1</PartNumber></Part>").encode()
    if t.root == "AccessControlPolicy":
        for grantee in (
            f'<Grantee {XSI} xsi:type="Bogus"><ID>x</ID></Grantee>',
            "<Grantee><ID>x</ID></Grantee>",
            f'<Grantee {XSI} xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/Nope</URI></Grantee>',
            f'<Grantee {XSI} xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee>',
            f'<Grantee {XSI} xsi:type="AmazonCustomerByEmail"><EmailAddress>a@b.c</EmailAddress></Grantee>',
            f'<Grantee {XSI} xsi:type="CanonicalUser"></Grantee>',
            '<Grantee xmlns:xsi="urn:other" xsi:type="CanonicalUser"><ID>x</ID></Grantee>',
        ):
            permission = pick(rng, ["READ", "WRITE", "FULL_CONTROL", "BOGUS", "", "read"])
            yield (
                "grantee",
                doc(
                    "<Owner><ID>x</ID></Owner><AccessControlList><Grant>"
                    + grantee
                    + f"<Permission>{permission}</Permission></Grant></AccessControlList>"
                ).encode(),
            )
        yield (
            "many-grants",
            doc(
                "<Owner><ID>x</ID></Owner><AccessControlList>"
                + f'<Grant><Grantee {XSI} xsi:type="CanonicalUser"><ID>x</ID></Grantee><Permission>READ</Permission></Grant>'
                * 200
                + "</AccessControlList>"
            ).encode(),
        )


POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "fuzz",
            "Effect": "Allow",
            "Principal": {"AWS": ["arn:aws:iam::000000000000:root"]},
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::fuzz/*",
        }
    ],
}


def policy_variants(rng: random.Random) -> Iterator[bytes]:
    good = json.dumps(POLICY)
    yield good.encode()

    def with_statement(**changes: object) -> bytes:
        statement = {**POLICY["Statement"][0], **changes}
        return json.dumps({**POLICY, "Statement": [statement]}).encode()

    yield b"[" * 100_000 + b"]" * 100_000
    yield b'{"a":' * 50_000 + b"1" + b"}" * 50_000
    for depth in (900, 3000, 8000):  # under the 20 KiB bound: the parser's own depth limit is what is met
        yield b"[" * depth + b"]" * depth
        yield b'{"Version": "2012-10-17", "Statement": ' + b"[" * depth + b"]" * depth + b"}"
    yield b'{"a":' * 2000 + b"1" + b"}" * 2000
    yield with_statement(Condition=json.loads('{"StringLike": {"aws:Referer": ' + "[" * 500 + "]" * 500 + "}}"))
    yield good.replace('"Version"', '"Version": 1' + "0" * 5000 + ', "V"').encode()
    yield good.replace('"2012-10-17"', "1" + "0" * 5000).encode()
    yield good.replace('"2012-10-17"', "1e999999").encode()
    for constant in (b"NaN", b"Infinity", b"-Infinity"):
        yield good.replace('"2012-10-17"', constant.decode()).encode()
    yield good.replace('"Sid": "fuzz"', '"Sid": "a", "Sid": "b"').encode()
    yield good.encode().replace(b"fuzz", b"\xff\xfe")
    yield b"\xef\xbb\xbf" + good.encode()
    yield good.encode("utf-16")
    yield from (b"[]", b'"str"', b"1", b"null", b"true", b"", b" ", b"{", b"{}", b'{"Statement": []}')
    yield json.dumps({**POLICY, "Statement": "nope"}).encode()
    yield json.dumps({**POLICY, "Statement": {"Effect": "Allow"}}).encode()
    yield json.dumps({**POLICY, "Version": "2099-01-01"}).encode()
    yield with_statement(Effect="Maybe")
    yield with_statement(Action="s3:Bogus*")
    yield with_statement(Action=["s3:" + "A" * 5000])
    yield with_statement(Action=[])
    yield with_statement(Principal="*")
    yield with_statement(Principal={"Bogus": "x"})
    yield with_statement(Principal={"AWS": "not-an-arn"})
    yield with_statement(NotPrincipal={"AWS": "*"})
    yield with_statement(Resource="arn:aws:s3:::other/*")
    yield with_statement(Resource="arn:aws:s3:::fuzz/\u0000")
    yield with_statement(Resource=["arn:aws:s3:::fuzz/*"] * 2000)
    yield with_statement(Condition={"Bogus": {"aws:SourceIp": "1.2.3.4"}})
    yield with_statement(Condition={"IpAddress": {"aws:SourceIp": "999.1.1.1/99"}})
    yield with_statement(Condition={"DateGreaterThan": {"aws:CurrentTime": "garbage"}})
    yield with_statement(Condition={"NumericLessThan": {"s3:max-keys": "1e999"}})
    yield with_statement(Condition={"StringLike": {"aws:Referer": [["nested"]]}})
    yield with_statement(Condition={"ForAnyValue:StringEquals": {"s3:prefix": {"a": 1}}})
    yield with_statement(Sid="\ud800")
    yield good.replace('"fuzz"', '"\\ud800\\u0000"').encode()
    yield json.dumps({**POLICY, "Statement": POLICY["Statement"] * 400}).encode()  # past 20 KiB
    for _ in range(8):
        raw = good.encode()
        yield raw[: rng.randrange(1, len(raw))]


def gen_bodies(rng: random.Random, ctx: Ctx) -> Iterator[Probe]:
    for t in xml_targets(ctx):
        for name, body in xml_variants(rng, t):
            headers = [(b"content-type", b"application/xml")]
            if rng.random() < 0.3:
                headers.append((b"content-md5", md5_b64(body)))
            probe = Probe("xml:" + name, t.method, t.target, headers, body, auth=signing_mix(rng))
            if rng.random() < 0.15:
                probe.payload = "UNSIGNED-PAYLOAD"
            yield probe
    for body in policy_variants(rng):
        yield Probe("policy", b"PUT", b"/fuzz?policy", [(b"content-type", b"application/json")], body)
    for _ in range(4):
        yield Probe("policy", b"GET", b"/fuzz?policy")
        yield Probe("policy", b"GET", b"/fuzz?policyStatus")


# --- aws-chunked framing --------------------------------------------------------------------------------------------


def crc32_b64(data: bytes) -> str:
    import zlib

    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def _chunk_signature(key: bytes, amz_date: str, scope: str, previous: str, data: bytes) -> str:
    sts = "\n".join(
        ["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, previous, EMPTY_SHA256, hashlib.sha256(data).hexdigest()]
    )
    return hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()


def _trailer_signature(key: bytes, amz_date: str, scope: str, previous: str, trailers: list[tuple[str, str]]) -> str:
    canonical = "".join(f"{n}:{v}\n" for n, v in trailers).encode("latin-1")
    sts = "\n".join(["AWS4-HMAC-SHA256-TRAILER", amz_date, scope, previous, hashlib.sha256(canonical).hexdigest()])
    return hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()


CHUNK_VARIANTS = [
    *("ok", "bad-size-hex", "size-neg", "size-huge", "size-17", "size-bigger", "size-smaller", "size-space"),
    *("size-0x", "empty-line", "sig-wrong", "sig-upper", "sig-short", "sig-missing", "sig-extra-param"),
    *("sig-reordered", "sig-param-name", "no-final", "no-final-crlf", "data-after", "no-data-crlf", "small-chunks"),
    *("long-line", "lf-only", "two-finals", "final-nonzero-sig", "just-crlf", "empty-body"),
]
TRAILER_VARIANTS = [
    *("trailer-ok", "trailer-missing", "trailer-bad-sig", "trailer-undeclared", "trailer-bad-name", "trailer-dup"),
    *("trailer-many", "trailer-ctl", "trailer-nocolon", "trailer-bad-value", "trailer-wrong-value", "trailer-no-sig"),
    *("trailer-space", "trailer-empty-value", "trailer-sig-only"),
]
HEADER_VARIANTS = ["decoded-bigger", "decoded-smaller", "decoded-missing", "decoded-junk", "no-encoding"]
HEADER_VARIANTS += ["trailer-header-empty", "trailer-header-comma", "trailer-header-dup", "trailer-header-md5"]
HEADER_VARIANTS += ["trailer-header-many", "plain-body", "unsigned-with-sigs", "on-get", "http-chunked-too"]


def chunk_probe(rng: random.Random, ctx: Ctx, variant: str, mode: str) -> Probe:
    size = rng.choice([0, 1, 100, 100, 5000, 8192, 8192 + 100, 8192 + 100, 20000])
    data = bytes(rng.randrange(256) for _ in range(min(size, 64))) * (size // 64 + 1)
    data = data[:size]
    signed = mode in (STREAMING, STREAMING_TRAILER)
    with_trailer = mode in (STREAMING_TRAILER, UNSIGNED_TRAILER) or variant.startswith("trailer")
    if variant.startswith("trailer") and mode == STREAMING:
        mode = STREAMING_TRAILER
        signed = True
    trailer_name = "x-amz-checksum-crc32"
    declared = [trailer_name] if with_trailer else []
    target, method = rng.choice(
        [
            (f"/fuzz/chunked-{rng.randrange(4)}".encode(), b"PUT"),
            (f"/fuzz/mpu?partNumber=7&uploadId={ctx.upload_id}".encode(), b"PUT"),
        ]
    )
    if rng.random() < 0.12:  # an XML body, aws-chunked (DeleteObjects reads it through the same decoder)
        target, method = b"/fuzz?delete", b"POST"
        data = b"<Delete><Object><Key>chunked-gone</Key></Object></Delete>"
    if variant == "on-get":
        target, method = b"/fuzz/obj", b"GET"
    pieces = [data[:8192], data[8192:]] if len(data) > 8192 else ([data] if data else [])
    if variant == "small-chunks":
        pieces = [data[i : i + 100] for i in range(0, len(data), 100)] or [b"x"]
        data = b"".join(pieces)

    def build(seed: str, amz_date: str, scope: str) -> bytes:
        key = signing_key(ROOT_SECRET, amz_date[:8])
        eol = b"\n" if variant == "lf-only" else b"\r\n"
        out = bytearray()
        previous = seed
        frames = list(pieces)
        if variant == "sig-reordered" and len(frames) > 1:
            sigs_for = [frames[1], frames[0]]
        else:
            sigs_for = frames
        for i, piece in enumerate(frames):
            sig = _chunk_signature(key, amz_date, scope, previous, sigs_for[i])
            previous = sig
            n = len(piece)
            size_field = f"{n:x}".encode()
            if i == 0:
                size_field = {
                    "bad-size-hex": b"zz",
                    "size-neg": b"-1",
                    "size-huge": b"ffffffffffffffff",
                    "size-17": b"0" * 17 + b"a",
                    "size-bigger": f"{n + 5:x}".encode(),
                    "size-smaller": f"{max(n - 1, 0):x}".encode(),
                    "size-space": b" " + size_field,
                    "size-0x": b"0x" + size_field,
                    "empty-line": b"",
                    "long-line": size_field + b";" + b"x" * 2000,
                }.get(variant, size_field)
            if signed and variant != "sig-missing":
                sig_text = {
                    "sig-wrong": f"{rng.getrandbits(256):064x}",
                    "sig-upper": sig.upper(),
                    "sig-short": sig[:63],
                }.get(variant if i == 0 else "", sig)
                name = b"chunk-sig" if variant == "sig-param-name" else b"chunk-signature"
                line = size_field + b";" + name + b"=" + sig_text.encode()
                if variant == "sig-extra-param":
                    line += b";x=y"
            elif variant == "unsigned-with-sigs":
                line = size_field + b";chunk-signature=" + sig.encode()
            else:
                line = size_field
            out += line + eol + piece + (b"" if variant == "no-data-crlf" else eol)
        if variant == "no-final":
            return bytes(out)
        final_sig = _chunk_signature(key, amz_date, scope, previous, b"")
        if variant == "final-nonzero-sig":
            final_sig = "f" * 64
        final = b"0" + (b";chunk-signature=" + final_sig.encode() if signed else b"")
        out += final + eol
        if variant == "two-finals":
            out += final + eol
        previous = final_sig
        if variant == "no-final-crlf":
            return bytes(out)
        if with_trailer:
            trailers = [(trailer_name, crc32_b64(data))]
            trailers = {
                "trailer-missing": [],
                "trailer-undeclared": [("x-amz-checksum-sha1", base64.b64encode(b"x" * 20).decode())],
                "trailer-bad-name": [("x-amz-checksum-!", "1")],
                "trailer-dup": trailers * 2,
                "trailer-many": [(f"x-amz-checksum-k{i}", "1") for i in range(20)],
                "trailer-ctl": [(trailer_name, "AA\x01AA==")],
                "trailer-bad-value": [(trailer_name, "!!!!")],
                "trailer-wrong-value": [(trailer_name, crc32_b64(b"other"))],
                "trailer-empty-value": [(trailer_name, "")],
                "trailer-sig-only": [],
            }.get(variant, trailers)
            for trailer, trailer_value in trailers:
                sep = b": " if variant == "trailer-space" else b":"
                if variant == "trailer-nocolon":
                    sep = b" "
                out += trailer.encode() + sep + trailer_value.encode("latin-1") + eol
            if signed and variant != "trailer-no-sig":
                tsig = _trailer_signature(key, amz_date, scope, previous, trailers)
                if variant == "trailer-bad-sig":
                    tsig = "0" * 64
                out += b"x-amz-trailer-signature:" + tsig.encode() + eol
        if variant == "data-after":
            out += eol + b"GET / HTTP/1.1" + eol
        if variant != "just-crlf":
            out += eol
        if variant == "empty-body":
            return b""
        return bytes(out)

    headers = [(b"content-encoding", b"aws-chunked"), (b"x-amz-decoded-content-length", str(len(data)).encode())]
    headers = {
        "decoded-bigger": _replace(headers, b"x-amz-decoded-content-length", str(len(data) + 10).encode()),
        "decoded-smaller": _replace(headers, b"x-amz-decoded-content-length", str(max(len(data) - 1, 0)).encode()),
        "decoded-missing": _replace(headers, b"x-amz-decoded-content-length", None),
        "decoded-junk": _replace(headers, b"x-amz-decoded-content-length", b"abc"),
        "no-encoding": _replace(headers, b"content-encoding", None),
    }.get(variant, headers)
    trailer_header = ",".join(declared).encode()
    trailer_header = {
        "trailer-header-empty": b"",
        "trailer-header-comma": b",",
        "trailer-header-dup": b"x-amz-checksum-crc32,x-amz-checksum-crc32",
        "trailer-header-md5": b"content-md5",
        "trailer-header-many": b",".join(b"x-amz-checksum-k%d" % i for i in range(20)),
    }.get(variant, trailer_header)
    if with_trailer or variant.startswith("trailer-header"):
        headers.append((b"x-amz-trailer", trailer_header))
    if with_trailer and rng.random() < 0.5:
        headers.append((b"x-amz-sdk-checksum-algorithm", b"CRC32"))
    probe = Probe("chunked:" + variant, method, target, headers, payload=mode, auth=signing_mix(rng), fresh=True)
    if variant == "plain-body":
        probe.body = data
    elif variant == "http-chunked-too":

        def http_chunked(seed: str, amz_date: str, scope: str) -> bytes:
            inner = build(seed, amz_date, scope)
            return b"%x\r\n%s\r\n0\r\n\r\n" % (len(inner), inner) if inner else b"0\r\n\r\n"

        probe.chunks = http_chunked
        probe.headers.append((b"transfer-encoding", b"chunked"))
        probe.framing = True
    else:
        probe.chunks = build
    return probe


def gen_chunked(rng: random.Random, ctx: Ctx) -> Iterator[Probe]:
    for variant in CHUNK_VARIANTS + HEADER_VARIANTS:
        for mode in (STREAMING, STREAMING_TRAILER, UNSIGNED_TRAILER):
            yield chunk_probe(rng, ctx, variant, mode)
            if variant in ("ok", "sig-wrong", "size-bigger", "no-final", "small-chunks"):
                yield chunk_probe(rng, ctx, variant, mode)
    for variant in TRAILER_VARIANTS:
        for mode in (STREAMING_TRAILER, UNSIGNED_TRAILER, STREAMING_TRAILER):
            yield chunk_probe(rng, ctx, variant, mode)


# --- browser POST forms (PostObject): the form carries its own signed policy --------------------------------------

BOUNDARY = b"fuzzboundary7MA4YWxkTrZu0gW"


def form_body(
    fields: list[tuple[bytes, bytes]],
    file: tuple[bytes, bytes, bytes] | None = (b"f.txt", b"text/plain", b"form file data"),
    *,
    boundary: bytes = BOUNDARY,
    file_first: bool = False,
    close: bool = True,
) -> bytes:
    """multipart/form-data: the fields, then (filename, content type, data) as the file part."""
    parts = [b'Content-Disposition: form-data; name="' + n + b'"\r\n\r\n' + v for n, v in fields]
    if file is not None:
        name, ctype, data = file
        part = b'Content-Disposition: form-data; name="file"; filename="' + name + b'"\r\nContent-Type: ' + ctype
        parts.insert(0 if file_first else len(parts), part + b"\r\n\r\n" + data)
    out = b"".join(b"--" + boundary + b"\r\n" + p + b"\r\n" for p in parts)
    return out + (b"--" + boundary + b"--\r\n" if close else b"")


def signed_form_fields(
    key: bytes, extra: list[tuple[bytes, bytes]], policy: bytes | None = None, *, secret: str = ROOT_SECRET
) -> list[tuple[bytes, bytes]]:
    """A SigV4-signed POST form's fields: ``policy`` (raw JSON bytes) or one that allows exactly these fields."""
    now = time.gmtime()
    day, amz_date = time.strftime("%Y%m%d", now), time.strftime("%Y%m%dT%H%M%SZ", now)
    credential = f"{ROOT_ACCESS}/{day}/{REGION}/s3/aws4_request"
    if policy is None:
        conditions: list[object] = [
            {"bucket": BUCKET},
            {"x-amz-algorithm": "AWS4-HMAC-SHA256"},
            {"x-amz-credential": credential},
            {"x-amz-date": amz_date},
            ["starts-with", "$key", ""],
        ]
        conditions += [["starts-with", "$" + n.decode("latin-1"), ""] for n, _ in extra]
        policy = json.dumps({"expiration": "2099-01-01T00:00:00Z", "conditions": conditions}).encode()
    encoded = base64.b64encode(policy)
    signature = hmac.new(signing_key(secret, day), encoded, hashlib.sha256).hexdigest().encode()
    return [
        (b"key", key),
        (b"x-amz-algorithm", b"AWS4-HMAC-SHA256"),
        (b"x-amz-credential", credential.encode()),
        (b"x-amz-date", amz_date.encode()),
        (b"policy", encoded),
        (b"x-amz-signature", signature),
        *extra,
    ]


def post_probe(name: str, body: bytes, content_type: bytes = b"multipart/form-data; boundary=" + BOUNDARY) -> Probe:
    return Probe("post:" + name, b"POST", b"/fuzz", [(b"content-type", content_type)], body, auth="anon")


def gen_post_forms(rng: random.Random, ctx: Ctx) -> Iterator[list[Probe]]:
    """Blocks: a form, then (for one that may have stored something) a GET and a HEAD of its key."""
    n = iter(range(10_000))

    def stored(
        name: str, extra: list[tuple[bytes, bytes]], file: tuple[bytes, bytes, bytes] | None = None
    ) -> list[Probe]:
        key = f"post/{name}-{next(n)}".encode()
        body = form_body(signed_form_fields(key, extra), file or (b"f.txt", b"text/plain", b"form file data"))
        return [
            post_probe(name, body),
            Probe("post:" + name, b"GET", b"/fuzz/" + key),
            Probe("post:" + name, b"HEAD", b"/fuzz/" + key),
        ]

    yield stored("ok", [])
    for value in [
        "☃".encode(),
        "é".encode(),
        b"a\r\nx-injected: 1",
        b"\x00",
        b"\x7f",
        b"a\tb",
        "\x85".encode(),
        b"\xff\xfe",
    ]:
        yield stored("meta", [(b"x-amz-meta-u", value)])
        yield stored("content-type", [(b"content-type", value)])
        yield stored("cache-control", [(b"cache-control", value)])
    for ctype in (b"text/plain\x01", "☃".encode(), b"", b"a" * 3000):
        yield stored("file-content-type", [], (b"f.txt", ctype, b"x"))
    for filename in ("☃/../\r\n".encode(), b"../../etc/passwd", b"", b"%00", b"a" * 2000):
        yield stored("filename", [], (filename, b"text/plain", b"x"))
    key = b"post/${filename}"
    yield [post_probe("filename-key", form_body(signed_form_fields(key, []), (b"\xff\x00name", b"text/plain", b"x")))]
    policies: list[bytes] = [
        b"[" * 3000 + b"]" * 3000,
        b'{"expiration": "2099-01-01T00:00:00Z", "conditions": ' + b"[" * 3000 + b"]" * 3000 + b"}",
        b'{"a":' * 1500 + b"1" + b"}" * 1500,
        b"not json",
        b"[]",
        b"{}",
        b'{"expiration": "garbage", "conditions": []}',
        b'{"expiration": "1999-01-01T00:00:00Z", "conditions": []}',
        b'{"expiration": 1, "conditions": []}',
        b'{"expiration": "2099-01-01T00:00:00Z", "conditions": "no"}',
        b"\xff\xfe",
    ]
    odd_conditions: list[str] = [
        '["eq"]',
        '["eq", "$key"]',
        '["starts-with", 1, 2]',
        '["content-length-range", "a", "b"]',
        '["content-length-range", -1, 1e999]',
        '["content-length-range", 0, 1e999]',
        '["content-length-range", 0, 1e308]',
        '["content-length-range", NaN, NaN]',
        '["content-length-range", 0, "' + "9" * 5000 + '"]',
        '["content-length-range", 0, ' + "9" * 5000 + "]",
        '["content-length-range", 5, 1]',
        '{"bucket": 1}',
        '{"a": "b", "c": "d"}',
        "[]",
        '"str"',
        "null",
        '["Eq", "$KEY", ""]',
        '["starts-with", "$x-amz-meta-\u0000", ""]',
        '["content-length-range", 0, 1]',
    ]
    for condition in odd_conditions:
        policies.append(
            b'{"expiration": "2099-01-01T00:00:00Z", "conditions": [["starts-with", "$key", ""], '
            + condition.encode()
            + b"]}"
        )
    for policy in policies:
        body = form_body(signed_form_fields(b"post/policy", [], policy))
        yield [post_probe("policy", body)]
    good = signed_form_fields(b"post/framing", [])

    def with_field(name: bytes, value: bytes) -> list[tuple[bytes, bytes]]:
        return [(n, value if n == name else v) for n, v in good]

    forms: list[tuple[str, bytes]] = [
        ("bad-signature", form_body(with_field(b"x-amz-signature", b"0" * 64))),
        ("bad-credential", form_body(with_field(b"x-amz-credential", b"x/y"))),
        ("bad-date", form_body(with_field(b"x-amz-date", b"garbage"))),
        ("bad-algorithm", form_body(with_field(b"x-amz-algorithm", b"AWS4-HMAC-SHA512"))),
        ("bad-policy-b64", form_body(with_field(b"policy", b"!!!!"))),
        ("no-signature", form_body([f for f in good if f[0] != b"x-amz-signature"])),
        ("unclosed", form_body(good, close=False)),
        ("truncated", form_body(good)[: rng.randrange(40, 400)]),
        ("file-first", form_body(good, file_first=True)),
        ("no-file", form_body(good, None)),
        ("two-files", form_body([*good, (b'file"; filename="g', b"second")])),
        ("empty-file", form_body(good, (b"f", b"text/plain", b""))),
        ("huge-field", form_body([*good, (b"x-amz-meta-big", b"v" * 300_000)])),
        ("many-fields", form_body([*good] + [(b"f%d" % i, b"v") for i in range(150)])),
        ("nameless", form_body([*good, (b"", b"v")])),
        ("odd-name", form_body([*good, (b"\xff\xfe", b"v")])),
        ("key-too-long", form_body(signed_form_fields(b"k" * 1100, []))),
        ("key-empty", form_body(signed_form_fields(b"", []))),
        ("status", form_body([*good, (b"success_action_status", b"999")])),
        (
            "redirect",
            form_body(signed_form_fields(b"post/r", [(b"success_action_redirect", b"http://x/\r\nSet-Cookie: a")])),
        ),
        ("bad-acl", form_body(signed_form_fields(b"post/a", [(b"acl", b"bogus")]))),
        ("bad-sse", form_body(signed_form_fields(b"post/s", [(b"x-amz-server-side-encryption", b"AES512")]))),
        ("tagging", form_body(signed_form_fields(b"post/t", [(b"tagging", b"<Tagging/>")]))),
        ("garbage", bytes(rng.randrange(256) for _ in range(500))),
        ("empty", b""),
    ]
    for name, body in forms:
        yield [post_probe(name, body)]
    for ctype in (b"multipart/form-data", b"multipart/form-data; boundary=", b"multipart/form-data; boundary=other"):
        yield [post_probe("content-type", form_body(good), ctype)]
    yield [
        post_probe("content-type", form_body(good, boundary=b"x" * 100), b"multipart/form-data; boundary=" + b"x" * 100)
    ]


def generate(ctx: Ctx) -> list[Probe]:
    rng = random.Random(SEED)
    blocks: list[list[Probe]] = []
    for family in (gen_request_line, gen_paths, gen_query, gen_headers, gen_bodies, gen_chunked):
        blocks.extend([probe] for probe in family(rng, ctx))
    blocks.extend(gen_post_forms(rng, ctx))
    rng.shuffle(blocks)  # families interleave on the kept-alive connections; a block keeps its order
    return [probe for block in blocks for probe in block]


# --- the test -------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[_ct.Server, Ctx]]:
    srv = _ct.start_server(
        tmp_path_factory.mktemp("fuzz") / "data",
        env={
            "STRONGROOM_AUTH_FAILURE_DELAY_MAX_SECONDS": "0",  # badly signed requests answered at once, not held back
            "STRONGROOM_REQUEST_HEAD_TIMEOUT_SECONDS": str(HEAD_TIMEOUT),
        },
    )
    try:
        s3 = srv.client()
        s3.create_bucket(Bucket=CONTROL_BUCKET)
        s3.put_object(Bucket=CONTROL_BUCKET, Key="control", Body=CONTROL)
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="obj", Body=OBJ, ContentType="text/plain")
        s3.put_object(Bucket=BUCKET, Key="small", Body=b"x")
        s3.put_object(Bucket=BUCKET, Key="dir/a", Body=b"in a directory")
        s3.put_object(Bucket=BUCKET, Key="keep/anchor", Body=b"keeps the bucket from being empty")
        done = s3.create_multipart_upload(Bucket=BUCKET, Key="mp-obj")["UploadId"]
        etag = s3.upload_part(Bucket=BUCKET, Key="mp-obj", UploadId=done, PartNumber=1, Body=b"only part")["ETag"]
        s3.complete_multipart_upload(
            Bucket=BUCKET, Key="mp-obj", UploadId=done, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]}
        )
        upload = s3.create_multipart_upload(Bucket=BUCKET, Key="mpu")["UploadId"]
        s3.upload_part(Bucket=BUCKET, Key="mpu", UploadId=upload, PartNumber=1, Body=PART_DATA)
        yield srv, Ctx(f"localhost:{srv.port}".encode(), upload)
    finally:
        srv.stop()


def test_hostile_requests_get_whole_answers_and_no_server_errors(fuzz: tuple[_ct.Server, Ctx]) -> None:
    srv, ctx = fuzz
    probes = generate(ctx)
    client = Wire(srv)
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    slow: list[tuple[float, str]] = []
    log_start = len(srv.log())
    started = time.monotonic()
    sent = 0
    for probe in probes:
        data = wire(probe, ctx)
        t0 = time.monotonic()
        ans = client.exchange(data, probe.method == b"HEAD", probe.fresh)
        elapsed = time.monotonic() - t0
        sent += 1
        statuses[ans.status] += 1
        if elapsed > 1.0:
            slow.append((elapsed, probe.summary()))
        problem = judge(probe, ans)
        if problem is not None:
            failures.append(
                f"{problem}: {probe.summary()} -> {ans.status} {ans.headers.get(b'content-type', b'')!r} "
                f"{ans.body[:300]!r}"
            )
    client.close()
    took = time.monotonic() - started
    report = (
        f"{sent} requests in {took:.1f}s on {client.connections} connections; statuses {sorted(statuses.items())}; "
        f"slowest {sorted(slow, reverse=True)[:5]}"
    )
    print(report)
    failures += [f"server side: {line}" for line in internal_errors(srv.log()[log_start:])]
    assert sent >= MIN_REQUESTS, report
    assert not failures, f"{len(failures)} of {sent} requests failed ({report}):\n" + "\n".join(failures[:80])

    # the server still serves, byte for byte
    control = Probe("control", b"GET", b"/" + CONTROL_BUCKET.encode() + b"/control")
    ans = Wire(srv).exchange(wire(control, ctx), head=False, fresh=True)
    assert (ans.status, ans.problem) == (200, None), ans
    got = srv.client().get_object(Bucket=CONTROL_BUCKET, Key="control")["Body"].read()
    assert got == CONTROL
    assert srv.proc.poll() is None, "the server process died"
