"""Security property: hostile or malformed requests get a clean 4xx and the server keeps serving.

Requests are hand-made with httpx and signed with botocore (``S3SigV4Auth`` + ``AWSRequest``), so nothing is
"fixed" by a client library on the way. After every bad request a normal signed GET must still work.
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import botocore.auth
import httpx
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

if TYPE_CHECKING:
    from conftest import Server

pytestmark = pytest.mark.e2e


import tests.conftest as _ct  # noqa: E402

BUCKET = "sec-bad-input"
CONTROL = b"control object body"


class Client:
    """Hand-made, botocore-signed requests over httpx."""

    def __init__(self, srv: Server) -> None:
        self.srv = srv
        self.http = httpx.Client(verify=ssl.create_default_context(cafile=srv.ca), timeout=30)

    def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        *,
        access: str = _ct.ROOT_ACCESS,
        secret: str = _ct.ROOT_SECRET,
        sign: bool = True,
        after_sign: dict[str, str] | None = None,
        send_body: bytes | None = None,
    ) -> httpx.Response:
        url = self.srv.endpoint + path
        req = AWSRequest(method=method, url=url, data=body, headers=headers or {})
        if sign:
            S3SigV4Auth(Credentials(access, secret), "s3", "local").add_auth(req)
        sent = dict(req.headers.items())
        sent.update(after_sign or {})
        return self.http.request(method, url, headers=sent, content=body if send_body is None else send_body)

    def assert_alive(self) -> None:
        r = self.request("GET", f"/{BUCKET}/control")
        assert r.status_code == 200 and r.content == CONTROL, f"server stopped serving: {r.status_code} {r.text}"
        assert self.srv.proc.poll() is None


def code_of(r: httpx.Response) -> str:
    text = r.text
    if "<Code>" not in text:
        return ""
    return text.split("<Code>", 1)[1].split("</Code>", 1)[0]


@pytest.fixture(scope="module")
def bad_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = _ct.start_server(tmp_path_factory.mktemp("sec-bad-input") / "data")
    try:
        s3 = srv.client()
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="control", Body=CONTROL)
        yield srv
    finally:
        srv.stop()


@pytest.fixture()
def c(bad_server: Server) -> Iterator[Client]:
    client = Client(bad_server)
    yield client
    client.assert_alive()
    client.http.close()


# --- XML ----------------------------------------------------------------------------------------

BOMB_ENTITIES = (
    '<!DOCTYPE r [<!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">'
    + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'  # b = 10 a, c = 10 b, ...
        for i in range(9)
    )
    + "]>"
)
BOMB_REF = "&j;"  # 10^9 x 64 bytes if expanded


def bomb(template: str) -> bytes:
    return ('<?xml version="1.0"?>' + BOMB_ENTITIES + template.format(BOMB_REF)).encode()


XXE = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b"<Delete><Object><Key>&x;</Key></Object></Delete>"
)


def _upload(c: Client) -> str:
    s3 = c.srv.client()
    return s3.create_multipart_upload(Bucket=BUCKET, Key="mpu")["UploadId"]


@pytest.mark.parametrize(
    "body",
    [
        b"<CreateBucketConfiguration><LocationConstraint>",
        b"not xml at all \x00\xff",
        b"<CreateBucketConfiguration><LocationConstraint>local</Wrong></CreateBucketConfiguration>",
    ],
    ids=["unclosed", "garbage", "mismatched"],
)
def test_malformed_create_bucket(c: Client, body: bytes) -> None:
    r = c.request("PUT", "/sec-bad-new-bucket", body)
    assert (r.status_code, code_of(r)) == (400, "MalformedXML"), r.text
    assert c.request("HEAD", "/sec-bad-new-bucket").status_code == 404


@pytest.mark.parametrize(
    "body",
    [b"<Delete><Object><Key>control</Key></Object>", b"\x89PNG\r\n", b"<Delete><Object><Key>control</Key></Oops>"],
    ids=["unclosed", "garbage", "mismatched"],
)
def test_malformed_delete_objects(c: Client, body: bytes) -> None:
    r = c.request("POST", f"/{BUCKET}?delete", body)
    assert (r.status_code, code_of(r)) == (400, "MalformedXML"), r.text


@pytest.mark.parametrize(
    "body",
    [b"<CompleteMultipartUpload><Part><PartNumber>1", b"{json: true}", b"<CompleteMultipartUpload><Part></Nope>"],
    ids=["unclosed", "garbage", "mismatched"],
)
def test_malformed_complete_multipart(c: Client, body: bytes) -> None:
    up = _upload(c)
    r = c.request("POST", f"/{BUCKET}/mpu?uploadId={up}", body)
    assert (r.status_code, code_of(r)) == (400, "MalformedXML"), r.text


@pytest.mark.parametrize(
    ("method", "path", "template"),
    [
        (
            "PUT",
            "/sec-bad-bomb-bucket",
            "<CreateBucketConfiguration><LocationConstraint>{}</LocationConstraint></CreateBucketConfiguration>",
        ),
        ("POST", f"/{BUCKET}?delete", "<Delete><Object><Key>{}</Key></Object></Delete>"),
        (
            "POST",
            f"/{BUCKET}/mpu?uploadId=UPLOAD",
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{}</ETag></Part></CompleteMultipartUpload>",
        ),
        (
            "PUT",
            f"/{BUCKET}?encryption",
            "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>"
            "<SSEAlgorithm>{}</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule>"
            "</ServerSideEncryptionConfiguration>",
        ),
    ],
    ids=["create-bucket", "delete-objects", "complete-multipart", "bucket-encryption"],
)
def test_entity_bomb_is_rejected_quickly(c: Client, method: str, path: str, template: str) -> None:
    if "UPLOAD" in path:
        path = path.replace("UPLOAD", _upload(c))
    t0 = time.monotonic()
    r = c.request(method, path, bomb(template))
    elapsed = time.monotonic() - t0
    assert (r.status_code, code_of(r)) == (400, "MalformedXML"), r.text[:500]
    assert elapsed < 5, f"entity bomb took {elapsed:.1f}s"


def test_external_entity_is_not_resolved(c: Client) -> None:
    r = c.request("POST", f"/{BUCKET}?delete", XXE)
    assert (r.status_code, code_of(r)) == (400, "MalformedXML"), r.text
    assert "root:" not in r.text


# --- signatures -----------------------------------------------------------------------------------


def test_wrong_secret(c: Client) -> None:
    r = c.request("GET", f"/{BUCKET}/control", secret="not-the-secret")
    assert (r.status_code, code_of(r)) == (403, "SignatureDoesNotMatch")
    assert CONTROL not in r.content


def test_unknown_access_key(c: Client) -> None:
    r = c.request("GET", f"/{BUCKET}/control", access="SRNOSUCHACCESSKEY000")
    assert (r.status_code, code_of(r)) == (403, "InvalidAccessKeyId")


def test_tampered_signature(c: Client) -> None:
    url = c.srv.endpoint + f"/{BUCKET}/control"
    req = AWSRequest(method="GET", url=url)
    S3SigV4Auth(Credentials(_ct.ROOT_ACCESS, _ct.ROOT_SECRET), "s3", "local").add_auth(req)
    headers = dict(req.headers.items())
    auth = headers["Authorization"]
    last = auth[-1]
    headers["Authorization"] = auth[:-1] + ("0" if last != "0" else "1")
    r = c.http.get(url, headers=headers)
    assert (r.status_code, code_of(r)) == (403, "SignatureDoesNotMatch")


def test_signature_for_another_request(c: Client) -> None:
    # signed for GET /control, sent as DELETE /control: must not delete
    url = c.srv.endpoint + f"/{BUCKET}/control"
    req = AWSRequest(method="GET", url=url)
    S3SigV4Auth(Credentials(_ct.ROOT_ACCESS, _ct.ROOT_SECRET), "s3", "local").add_auth(req)
    r = c.http.delete(url, headers=dict(req.headers.items()))
    assert (r.status_code, code_of(r)) == (403, "SignatureDoesNotMatch")
    # and a signed header changed after signing
    r = c.request("GET", f"/{BUCKET}/control", headers={"range": "bytes=0-1"}, after_sign={"range": "bytes=0-100"})
    assert (r.status_code, code_of(r)) == (403, "SignatureDoesNotMatch")


def test_body_swapped_after_signing(c: Client) -> None:
    """x-amz-content-sha256 binds the body: the same length, other bytes must not be stored."""
    good = b"A" * 1000
    evil = b"B" * 1000
    r = c.request("PUT", f"/{BUCKET}/swapped", good, send_body=evil)
    assert r.status_code == 400, r.text
    assert code_of(r) in ("XAmzContentSHA256Mismatch", "BadDigest"), r.text
    assert c.request("HEAD", f"/{BUCKET}/swapped").status_code == 404


@pytest.mark.parametrize(
    "auth",
    [
        "garbage",
        "AWS4-HMAC-SHA256 Credential=x",
        "AWS4-HMAC-SHA256 Credential=/,SignedHeaders=,Signature=",
        "AWS AKIDEXAMPLE:c2lnbmF0dXJl",
        "AWS4-HMAC-SHA256 " + "Credential=" + "A" * 5000,
    ],
    ids=["garbage", "truncated", "empty-fields", "sigv2", "huge"],
)
def test_malformed_authorization(c: Client, auth: str) -> None:
    r = c.request("GET", f"/{BUCKET}/control", sign=False, headers={"authorization": auth})
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert CONTROL not in r.content


def test_anonymous_request(c: Client) -> None:
    r = c.request("GET", f"/{BUCKET}/control", sign=False)
    assert (r.status_code, code_of(r)) == (403, "AccessDenied")


def test_skewed_clock(c: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        botocore.auth,
        "get_current_datetime",
        lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=2),
    )
    r = c.request("GET", f"/{BUCKET}/control")
    assert (r.status_code, code_of(r)) == (403, "RequestTimeTooSkewed")


def test_expired_presigned_url(c: Client) -> None:
    url = c.srv.client().generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "control"}, ExpiresIn=1)
    time.sleep(2.1)
    r = c.http.get(url)
    assert r.status_code == 403, r.text
    assert CONTROL not in r.content


# --- headers, names, ranges, paths ----------------------------------------------------------------


def test_oversized_header(c: Client) -> None:
    r = c.request("PUT", f"/{BUCKET}/big-header", b"x", headers={"x-amz-meta-big": "a" * 20_000})
    assert r.status_code == 400, r.text
    assert code_of(r) in ("MetadataTooLarge", "MaxMessageLengthExceeded", "RequestHeaderSectionTooLarge"), r.text
    assert c.request("HEAD", f"/{BUCKET}/big-header").status_code == 404


def test_metadata_over_2k(c: Client) -> None:
    r = c.request("PUT", f"/{BUCKET}/big-meta", b"x", headers={"x-amz-meta-big": "a" * 3000})
    assert (r.status_code, code_of(r)) == (400, "MetadataTooLarge"), r.text
    assert c.request("HEAD", f"/{BUCKET}/big-meta").status_code == 404


def test_huge_header_block(c: Client) -> None:
    """Past the HTTP parser's limit (64 KiB): an error or a closed connection, never a crash."""
    try:
        r = c.request("GET", f"/{BUCKET}/control", headers={f"x-pad-{i}": "p" * 4000 for i in range(30)})
    except httpx.HTTPError:
        return
    assert 400 <= r.status_code < 500, r.status_code


@pytest.mark.parametrize(
    "name", ["UPPER", "a", "ab", "a..b", "192.168.1.1", "-abc", "abc-", "xn--abc", "ab_c", "a" * 64, "sthree-x"]
)
def test_invalid_bucket_name(c: Client, name: str) -> None:
    r = c.request("PUT", f"/{name}")
    assert (r.status_code, code_of(r)) == (400, "InvalidBucketName"), r.text


@pytest.mark.parametrize("rng", ["bytes=100-200", "bytes=19-", "bytes=-0", "bytes=1000000-"])
def test_invalid_range(c: Client, rng: str) -> None:
    r = c.request("GET", f"/{BUCKET}/control", headers={"range": rng})
    assert (r.status_code, code_of(r)) == (416, "InvalidRange"), r.text
    assert r.headers.get("content-range") == f"bytes */{len(CONTROL)}"
    assert CONTROL not in r.content


def test_long_path(c: Client) -> None:
    key = "k" * 10_240
    r = c.request("GET", f"/{BUCKET}/{key}")
    assert 400 <= r.status_code < 500, r.status_code
    r = c.request("PUT", f"/{BUCKET}/{key}", b"x")
    assert r.status_code == 400, r.text
    r = c.request("GET", "/" + "b" * 10_240)
    assert 400 <= r.status_code < 500, r.status_code


def test_path_beyond_parser_limit(c: Client) -> None:
    """A 100 KB request line, sent raw (httpx refuses such URLs): an error or a closed connection."""
    ctx = ssl.create_default_context(cafile=c.srv.ca)
    with socket.create_connection(("127.0.0.1", c.srv.port), timeout=30) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(b"GET /" + b"p" * 100_000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n")
            try:
                head = tls.recv(64)
            except OSError:
                head = b""
    assert head == b"" or head.startswith((b"HTTP/1.1 4", b"HTTP/1.0 4")), head


def _raw_answer(srv: Server, data: bytes, timeout: float = 10.0) -> tuple[int, bytes]:
    """Send ``data`` on a TLS connection of its own; the (status, body) of the one answer, parsed by h11."""
    import h11

    ctx = ssl.create_default_context(cafile=srv.ca)
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="GET", target="/", headers=[("host", "x")]))
    conn.send(h11.EndOfMessage())
    status, body = 0, b""
    with socket.create_connection(("127.0.0.1", srv.port), timeout=timeout) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(data)
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(tls.recv(65536))  # a timeout here is the failure it is
                elif isinstance(event, h11.Response):
                    status = event.status_code
                elif isinstance(event, h11.Data):
                    body += event.data
                elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                    return status, body


def _signed_head(srv: Server, method: str, path: str, body: bytes, extra: dict[str, str]) -> bytes:
    req = AWSRequest(method=method, url=srv.endpoint + path, data=body, headers=extra)
    S3SigV4Auth(Credentials(_ct.ROOT_ACCESS, _ct.ROOT_SECRET), "s3", "local").add_auth(req)
    lines = [f"{method} {path} HTTP/1.1", f"host: localhost:{srv.port}"]
    return ("\r\n".join(lines + [f"{k}: {v}" for k, v in req.headers.items()]) + "\r\n\r\n").encode()


def test_websocket_upgrade_is_answered_as_the_s3_request_it_is(c: Client) -> None:
    """S3 has no WebSocket endpoint. The gateway handed upgrade requests to uvicorn's WebSocket protocol, outside the
    head deadline and the connection cap: a handshake was answered 500, and a POST asking for one was held open."""
    upgrade = b"connection: Upgrade\r\nupgrade: websocket\r\n"
    handshake = (
        f"GET /{BUCKET}/control HTTP/1.1\r\nhost: localhost:{c.srv.port}\r\n".encode()
        + upgrade
        + b"sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
    status, body = _raw_answer(c.srv, handshake)
    assert (status, b"<Code>AccessDenied</Code>" in body) == (403, True), (status, body)
    signed = _signed_head(c.srv, "GET", f"/{BUCKET}/control", b"", {"connection": "Upgrade", "upgrade": "websocket"})
    assert _raw_answer(c.srv, signed) == (200, CONTROL)
    post = f"POST /{BUCKET}?delete HTTP/1.1\r\nhost: localhost:{c.srv.port}\r\ncontent-length: 5\r\n".encode()
    started = time.monotonic()
    status, body = _raw_answer(c.srv, post + upgrade + b"\r\n--x--")
    assert 400 <= status < 500 and b"<Code>" in body, (status, body)
    assert time.monotonic() - started < 5


def test_a_body_cut_short_by_bad_framing_is_the_clients_error(c: Client) -> None:
    """A chunked body the HTTP parser refuses halfway: the client gets the parser's 400, and the request's own
    record (access log, audit, metrics) is IncompleteBody, not an internal error (Starlette's ClientDisconnect)."""
    path = f"/{BUCKET}/cut-short"
    head = _signed_head(c.srv, "PUT", path, b"abcdef", {"transfer-encoding": "chunked"})
    before = len(c.srv.log())
    status, body = _raw_answer(c.srv, head + b"3\r\nabc\r\nzz\r\n")
    assert (status, b"<Code>InvalidRequest</Code>" in body) == (400, True), (status, body)
    line = f'"PUT {path} HTTP/1.1" '
    deadline = time.monotonic() + 10
    while line not in c.srv.log()[before:] and time.monotonic() < deadline:
        time.sleep(0.1)  # the app sees the disconnect when the connection closes, after the parser's answer
    log = c.srv.log()[before:]
    assert line + "400" in log, log[-2000:]
    assert "internal error" not in log and "ClientDisconnect" not in log, log[-2000:]
    assert c.request("HEAD", path).status_code == 404


@pytest.mark.parametrize(
    "key",
    ["../../keys/service-root.key", "..%2F..%2Fstrongroom.db", "a/../../../../etc/passwd", "%00nul", ".tmp/x"],
)
def test_path_like_keys_stay_keys(c: Client, key: str) -> None:
    """Object keys are names in the metadata, never file paths: traversal-looking keys round-trip as opaque keys."""
    s3 = c.srv.client()
    data = c.srv.data_dir

    def outside_blobs() -> dict[str, bytes]:
        return {
            str(p.relative_to(data)): p.read_bytes()
            for p in data.rglob("*")
            if p.is_file() and "blobs" not in p.parts and not p.name.startswith("strongroom.db")
        }

    before = outside_blobs()
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"payload")
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"payload"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=key)["Contents"]] == [key]
    assert outside_blobs() == before, "a key wrote outside the blob store"
    s3.delete_object(Bucket=BUCKET, Key=key)


def test_unknown_method(c: Client) -> None:
    r = c.request("PATCH", f"/{BUCKET}/control", b"x")
    assert 400 <= r.status_code < 500, r.status_code


def test_strongroom_admin_paths_need_auth(c: Client) -> None:
    r = c.request("GET", "/_strongroom/anything", sign=False)
    assert r.status_code in (403, 404), r.status_code


def test_many_bad_requests_in_a_row(c: Client) -> None:
    """A burst of garbage (bad XML, bad auth, bad ranges) does not wear the server down."""
    for i in range(40):
        c.request("POST", f"/{BUCKET}?delete", b"<Delete>" * (i + 1))
        c.request("GET", f"/{BUCKET}/control", secret="wrong")
        c.request("GET", f"/{BUCKET}/control", headers={"range": "bytes=999-"})
    c.assert_alive()
