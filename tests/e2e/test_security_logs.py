"""Security property: logs hold no secrets, and ``log_format = "json"`` writes one JSON object per line.

A server started with STRONGROOM_LOG_FORMAT=json (log level info: an access line per request, gateway and vault)
serves presigned GETs and PUTs (good and tampered), SigV4 header requests (good and with a wrong secret), SSE-C
writes and reads (right, wrong and missing key), a new access key, and hvac calls with the root token, a tenant
token, a token it creates and a bad one. Then every line of its log must parse as JSON with the fields, the
presigned requests' access lines must show their query with the credential and signature redacted, and none of
the secrets may appear: signatures (query and header), X-Amz-Credential values, S3 secret keys, the SSE-C key
(raw, hex, base64), vault tokens, the gateways' internal vault token.

Every other test's server logs are scanned at the session's end too (tests/conftest.py: register_secret, scan_logs).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import ssl
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx
import hvac
import hvac.exceptions
import pytest
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from conftest import Server

pytestmark = pytest.mark.e2e


import tests.conftest as _ct  # noqa: E402

SSEC_KEY = hashlib.sha256(b"strongroom log test SSE-C key").digest()
WRONG_KEY = hashlib.sha256(b"strongroom log test wrong SSE-C key").digest()
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _internal_token(pid: int) -> str:
    env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    (token,) = [e.split(b"=", 1)[1] for e in env if e.startswith(b"STRONGROOM__INTERNAL_TOKEN=")]
    return token.decode()


def _gone(pid: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z":
                return
        except FileNotFoundError:
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} still runs")


@pytest.fixture()
def json_server(tmp_path: Path) -> Iterator[Server]:
    srv = _ct.start_server(tmp_path / "data", env={"STRONGROOM_LOG_FORMAT": "json"})
    try:
        yield srv
    finally:
        srv.stop()


class Workload:
    """What the workload sent: the secrets that must not be logged, the access lines that must be."""

    def __init__(self) -> None:
        self.secrets: dict[str, str | bytes] = {}
        self.presigned: dict[str, str] = {}  # request id -> the URL's redacted target
        self.header_signatures: list[str] = []

    def secret(self, what: str, value: str | bytes) -> None:
        self.secrets[what] = value
        _ct.register_secret(value, what)  # the session scan looks for it in every server log too


def _redacted_target(url: str) -> str:
    """The URL's path and query as sent, the credential's and the signature's values replaced."""
    parts = urlsplit(url)
    query = []
    for part in parts.query.split("&"):
        name, _, value = part.partition("=")
        query.append(f"{name}={'[redacted]' if name in ('X-Amz-Credential', 'X-Amz-Signature') else value}")
    return parts.path + "?" + "&".join(query)


def _drive(srv: Server, bucket: str) -> Workload:
    w = Workload()
    s3 = srv.client()
    tls = ssl.create_default_context(cafile=srv.ca)

    def capture(request: Any, **_: Any) -> None:
        auth = request.headers.get("Authorization", b"")
        found = re.search(r"Signature=([0-9a-f]{64})", auth.decode() if isinstance(auth, bytes) else auth)
        if found:
            w.header_signatures.append(found.group(1))

    s3.meta.events.register("before-send.s3", capture)

    # SigV4 header requests
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="plain.txt", Body=b"plain")
    assert s3.get_object(Bucket=bucket, Key="plain.txt")["Body"].read() == b"plain"
    s3.list_objects_v2(Bucket=bucket, Prefix="pl", MaxKeys=5)
    bad = srv.client(secret="not-the-secret-" + "x" * 26)
    with pytest.raises(ClientError) as info:
        bad.head_object(Bucket=bucket, Key="plain.txt")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403

    # presigned PUT and GET, good and tampered
    for key in ("presigned.bin", "dir/with space.bin"):
        put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
        r = httpx.put(put_url, content=b"presigned body", verify=tls)
        assert r.status_code == 200, r.text
        w.presigned[r.headers["x-amz-request-id"]] = _redacted_target(put_url)
        get_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
        r = httpx.get(get_url, verify=tls)
        assert r.status_code == 200 and r.content == b"presigned body"
        w.presigned[r.headers["x-amz-request-id"]] = _redacted_target(get_url)
        for url in (put_url, get_url):
            query = dict(parse_qsl(urlsplit(url).query))
            w.secret(f"presigned signature of {key}", query["X-Amz-Signature"])
            w.secret("an X-Amz-Credential", query["X-Amz-Credential"])
    tampered = get_url.replace(query["X-Amz-Signature"], "0" * 64)
    r = httpx.get(tampered, verify=tls)
    assert r.status_code == 403 and b"SignatureDoesNotMatch" in r.content
    w.presigned[r.headers["x-amz-request-id"]] = _redacted_target(tampered)

    # SSE-C: right, wrong and missing key
    ssec = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": SSEC_KEY}
    w.secret("the SSE-C key", SSEC_KEY)
    w.secret("the wrong SSE-C key", WRONG_KEY)
    s3.put_object(Bucket=bucket, Key="ssec.bin", Body=b"sealed", **ssec)
    assert s3.get_object(Bucket=bucket, Key="ssec.bin", **ssec)["Body"].read() == b"sealed"
    for extra in ({"SSECustomerAlgorithm": "AES256", "SSECustomerKey": WRONG_KEY}, {}):
        with pytest.raises(ClientError):
            s3.get_object(Bucket=bucket, Key="ssec.bin", **extra)

    # a new user's access key (its secret is in the admin API's answer only)
    admin = srv.admin()
    user = "log-user-" + uuid.uuid4().hex[:6]
    admin.request("POST", "/tenants/default/users", {"name": user})
    key = admin.request("POST", f"/tenants/default/users/{user}/access-keys")
    w.secret("a new access key's secret", key["secret_access_key"])
    with pytest.raises(ClientError) as info:  # signed right (a member without a policy may do nothing yet)
        srv.client(access=key["access_key_id"], secret=key["secret_access_key"]).list_buckets()
    assert info.value.response["Error"]["Code"] == "AccessDenied"

    # hvac: the root token, a tenant token, a token it makes, a bad token
    info_json = json.loads((srv.data_dir / "run" / "vault.json").read_text())
    root = hvac.Client(url=info_json["url"], token=_ct.ROOT_TOKEN, verify=srv.ca, timeout=30)
    assert root.auth.token.lookup_self()["data"]["policies"] == ["root"]
    made = root.auth.token.create(policies=["default"], ttl="1h")["auth"]["client_token"]
    w.secret("a token the root token made", made)
    assert hvac.Client(url=info_json["url"], token=made, verify=srv.ca).auth.token.lookup_self()["data"]["id"]
    tenant = srv.tenant_vault()
    w.secret("a tenant vault token", tenant.token)
    tenant.secrets.transit.create_key(name="log-test-key")
    plaintext = base64.b64encode(b"log test plaintext").decode()
    ct = tenant.secrets.transit.encrypt_data(name="log-test-key", plaintext=plaintext)["data"]["ciphertext"]
    assert tenant.secrets.transit.decrypt_data(name="log-test-key", ciphertext=ct)["data"]["plaintext"] == plaintext
    with pytest.raises(hvac.exceptions.Forbidden):
        hvac.Client(url=info_json["url"], token="hvs.not-a-token-of-this-vault", verify=srv.ca).auth.token.lookup_self()
    w.secret("a bad vault token", "hvs.not-a-token-of-this-vault")
    return w


def test_json_log_lines_hold_no_secret(json_server: Server) -> None:
    srv = json_server
    vault_pid = _children(srv.proc.pid)[0]
    w = _drive(srv, "log-test-" + uuid.uuid4().hex[:8])
    w.secret("the gateways' internal vault token", _internal_token(srv.proc.pid))
    w.secret("ROOT_SECRET", _ct.ROOT_SECRET)
    assert len(w.header_signatures) >= 6
    srv.stop()
    _gone(vault_pid)  # its last lines are written

    raw = srv.log_path.read_text()
    records = []
    for number, line in enumerate(raw.splitlines(), 1):
        try:
            record = json.loads(line)
        except ValueError:
            pytest.fail(f"{srv.log_path}:{number} is not JSON: {line[:300]!r}")
        assert {"time", "level", "logger", "message"} <= set(record), f"line {number}: {record}"
        assert RFC3339.fullmatch(record["time"]), record["time"]
        assert record["level"] in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
        records.append(record)

    access = [r for r in records if r["logger"] in ("strongroom.access", "strongroom.vault.access")]
    for r in access:
        assert {"method", "path", "status", "client"} <= set(r), r
        assert r["message"].endswith(f'"{r["method"]} {r["path"]} HTTP/1.1" {r["status"]}'), r
    by_id = {r["request_id"]: r for r in access if r.get("request_id")}
    for request_id, target in w.presigned.items():
        assert by_id[request_id]["path"] == target
        assert "X-Amz-Signature=[redacted]" in target and "X-Amz-Credential=[redacted]" in target
    assert {by_id[i]["status"] for i in w.presigned} == {200, 403}
    vault_paths = {(r["method"], r["path"], r["status"]) for r in access if r["logger"] == "strongroom.vault.access"}
    assert ("POST", "/v1/transit/encrypt/log-test-key", 200) in vault_paths
    assert ("GET", "/v1/auth/token/lookup-self", 403) in vault_paths
    assert [r for r in records if r["level"] in ("ERROR", "CRITICAL")] == []

    data = raw.encode()
    needles: dict[str, bytes] = {}
    for what, value in w.secrets.items():
        if isinstance(value, bytes):
            needles.update({f"{what} (raw)": value, f"{what} (hex)": value.hex().encode()})
            needles[f"{what} (base64)"] = base64.b64encode(value)
        else:
            needles[what] = value.encode()
            needles[f"{what} (decoded)"] = unquote(value).encode()
    needles.update({f"a header signature {s[:8]}": s.encode() for s in w.header_signatures})
    found = sorted(what for what, needle in needles.items() if needle in data)
    assert found == [], f"the log holds {found}"
    assert not re.search(rb"(?i)signature=[0-9a-f]{64}", data)
    assert _ct.scan_logs([srv.log_path]) == []


def test_the_log_scan_reports_a_planted_secret(tmp_path: Path) -> None:
    """The session's scan would see a leak: file and line, by name, never the value."""
    (tmp_path / "base" / "srv0").mkdir(parents=True)
    log = tmp_path / "base" / "srv0" / "server-1-2.log"
    signature = "c0ffee" * 10 + "abcd"
    log.write_bytes(
        b"clean line\n"
        + f"GET /b/k?X-Amz-Signature={signature} 200\n".encode()
        + b"secret: "
        + _ct.ROOT_SECRET.encode()
        + b"\n"
        + b"key "
        + base64.b64encode(SSEC_KEY)
        + b"\nX-Amz-Credential=SRKEY%2F20250102\n"
    )
    _ct.register_secret(SSEC_KEY, "the SSE-C key")
    assert _ct.scan_logs([log]) == [
        f"{log}:2: a SigV4 signature",
        f"{log}:3: ROOT_SECRET",
        f"{log}:4: the SSE-C key",
        f"{log}:5: an X-Amz-Credential",
    ]
    assert _ct.server_logs(tmp_path / "base") == [log.resolve()]
    log.unlink()  # planted: not a leak of the session
