"""Customer key lifecycle seen through S3: disable, enable, schedule deletion, cancel, destroy (crypto-shred, with a
signed deletion certificate), purge protection, and the bucket's own SSE-S3 key. Keys are driven with the
`strongroom key ...` CLI and hvac (over TLS); objects with boto3.

One server per xdist worker for this module (a keyfile vault; lifecycle changes stay on this module's own keys).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import hvac
import hvac.exceptions
import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric import ed25519
from tests.conftest import ROOT_TOKEN, Server, start_server

pytestmark = pytest.mark.e2e

T = TypeVar("T")
EFFECTIVE_WITHIN = 3.0  # docs/VAULT-DESIGN.md: gateways cache key state for at most 2 s
DISABLED = (400, "KMS.DisabledException")
INVALID_STATE = (400, "KMS.KMSInvalidStateException")
OK = (200, "")


@pytest.fixture(scope="module")
def kserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("keylife") / "data")
    yield srv
    srv.stop()


@pytest.fixture()
def vault(kserver: Server) -> hvac.Client:
    """The default tenant's vault namespace, with a token its admin got through the admin API."""
    return kserver.tenant_vault()


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def key_cli(srv: Server, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)  # conftest sets STRONGROOM_ROOT_TOKEN: the CLI authenticates to the vault with it
    env.pop("STRONGROOM__RESOLVED_SETTINGS", None)
    env["STRONGROOM_ROOT_TOKEN"] = ROOT_TOKEN
    return subprocess.run(
        [sys.executable, "-m", "strongroom", "key", *args, "--data-dir", str(srv.data_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=srv.data_dir.parent,
    )


def ok_cli(srv: Server, *args: str) -> str:
    out = key_cli(srv, *args)
    assert out.returncode == 0, (args, out.stdout, out.stderr)
    return out.stdout


def refused_cli(srv: Server, *args: str) -> str:
    out = key_cli(srv, *args)
    assert out.returncode != 0, (args, out.stdout)
    return out.stderr


def s3_status(call: Callable[[], Any]) -> tuple[int, str]:
    try:
        call()
    except ClientError as exc:
        return exc.response["ResponseMetadata"]["HTTPStatusCode"], exc.response["Error"]["Code"]
    return 200, ""


def poll(check: Callable[[], T], timeout: float = EFFECTIVE_WITHIN, interval: float = 0.1) -> T:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(interval)


def expect(
    srv: Server,
    bucket: str,
    key: str,
    body: bytes,
    get: tuple[int, str],
    put: tuple[int, str] | None = None,
    kms_key: str | None = None,
) -> None:
    """Poll until GET (and PUT under kms_key) answer as expected; a readable object must read back exactly."""
    s3 = srv.client()

    def check() -> None:
        seen: list[bytes] = []
        assert s3_status(lambda: seen.append(s3.get_object(Bucket=bucket, Key=key)["Body"].read())) == get
        if get == OK:
            assert seen == [body]
        if put is not None:
            extra: dict[str, str] = {}
            if kms_key is not None:
                extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key}
            assert s3_status(lambda: s3.put_object(Bucket=bucket, Key=uid("probe"), Body=b"probe", **extra)) == put

    poll(check)


def state(vault: hvac.Client, name: str) -> str:
    return str(vault.secrets.transit.read_key(name=name)["data"]["state"])


def canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def test_kms_key_disable_enable_schedule_cancel_destroy_through_s3(kserver: Server, vault: hvac.Client) -> None:
    srv, s3 = kserver, kserver.client()
    k = uid("cmk")
    created = json.loads(ok_cli(srv, "create", k, "--json"))
    assert created["name"] == k and created["type"] == "aes256-gcm96" and created["state"] == "enabled"
    bucket = uid("lifecycle")
    s3.create_bucket(Bucket=bucket)
    body = os.urandom(200_000)
    put = s3.put_object(Bucket=bucket, Key="doc", Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=k)
    assert put["ServerSideEncryption"] == "aws:kms" and put["SSEKMSKeyId"].endswith(k)
    s3.put_object(Bucket=bucket, Key="plain-sse-s3", Body=b"other key")
    got = s3.get_object(Bucket=bucket, Key="doc")
    assert got["Body"].read() == body and got["SSEKMSKeyId"].endswith(k)

    # disable: reads and writes under the key fail within seconds; other keys are unaffected
    ok_cli(srv, "disable", k)
    assert state(vault, k) == "disabled"
    expect(srv, bucket, "doc", body, get=DISABLED, put=DISABLED, kms_key=k)
    assert s3.get_object(Bucket=bucket, Key="plain-sse-s3")["Body"].read() == b"other key"
    with pytest.raises(hvac.exceptions.InvalidRequest):
        vault.secrets.transit.encrypt_data(name=k, plaintext=base64.b64encode(b"x").decode())

    ok_cli(srv, "enable", k)
    assert state(vault, k) == "enabled"
    expect(srv, bucket, "doc", body, get=OK, put=OK, kms_key=k)

    # schedule deletion (7 days): refused as KMSInvalidState; it cannot be destroyed before the date, nor enabled
    ok_cli(srv, "schedule-deletion", k, "--days", "7")
    info = vault.secrets.transit.read_key(name=k)["data"]
    assert info["state"] == "pending_deletion" and info["deletion_date"]
    expect(srv, bucket, "doc", body, get=INVALID_STATE, put=INVALID_STATE, kms_key=k)
    refused_cli(srv, "destroy", k)
    refused_cli(srv, "enable", k)
    refused_cli(srv, "schedule-deletion", k, "--days", "3")
    assert state(vault, k) == "pending_deletion"

    # cancel leaves the key disabled (as AWS KMS); enable makes it usable again
    ok_cli(srv, "cancel-deletion", k)
    assert state(vault, k) == "disabled"
    expect(srv, bucket, "doc", body, get=DISABLED)
    ok_cli(srv, "enable", k)
    expect(srv, bucket, "doc", body, get=OK, put=OK, kms_key=k)

    # destroy --force: crypto-shred with a signed deletion certificate
    out = ok_cli(srv, "destroy", k, "--force")
    first, _, rest = out.partition("\n")
    assert k in first
    cert = json.loads(rest)
    assert cert["key_name"] == k and cert["forced"] is True and cert["versions"] == [1]
    assert cert["signature"] and cert["signing_public_key"]
    signed = {name: value for name, value in cert.items() if name != "signature"}
    public = ed25519.Ed25519PublicKey.from_public_bytes(base64.b64decode(cert["signing_public_key"]))
    public.verify(base64.b64decode(cert["signature"]), canonical(signed))
    assert state(vault, k) == "destroyed"
    expect(srv, bucket, "doc", body, get=INVALID_STATE, put=INVALID_STATE, kms_key=k)
    assert s3.get_object(Bucket=bucket, Key="plain-sse-s3")["Body"].read() == b"other key"
    refused_cli(srv, "enable", k)
    refused_cli(srv, "create", k)  # the name of a destroyed key is never reused
    with pytest.raises(hvac.exceptions.InvalidRequest):
        vault.secrets.transit.encrypt_data(name=k, plaintext=base64.b64encode(b"x").decode())

    # ... forever: also after a restart
    srv.restart()
    assert srv.client().get_object(Bucket=bucket, Key="plain-sse-s3")["Body"].read() == b"other key"
    assert s3_status(lambda: srv.client().get_object(Bucket=bucket, Key="doc")) == INVALID_STATE
    info = json.loads((srv.data_dir / "run" / "vault.json").read_text())
    # the operator's root token may read key metadata in the tenant's namespace (never use the key)
    restarted = hvac.Client(url=info["url"], token=ROOT_TOKEN, verify=srv.ca, namespace="default")
    assert state(restarted, k) == "destroyed"


def test_purge_protection_refuses_forced_destroy(kserver: Server, vault: hvac.Client) -> None:
    srv, s3 = kserver, kserver.client()
    k2 = uid("protected")
    vault.secrets.transit.create_key(name=k2)
    bucket = uid("purge")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="doc", Body=b"protected", ServerSideEncryption="aws:kms", SSEKMSKeyId=k2)

    resp = vault.adapter.post(f"/v1/strongroom/keys/{k2}/purge-protection")
    if isinstance(resp, dict):
        assert resp["data"]["purge_protection"] is True
    assert vault.secrets.transit.read_key(name=k2)["data"]["purge_protection"] is True

    err = refused_cli(srv, "destroy", k2, "--force")
    assert "purge" in err.lower()
    with pytest.raises(hvac.exceptions.InvalidRequest):
        vault.secrets.transit.update_key_configuration(name=k2, deletion_allowed=True)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        vault.secrets.transit.delete_key(name=k2)
    assert state(vault, k2) == "enabled"
    assert s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"protected"

    # scheduling is allowed; the forced destroy is still refused; cancel + enable restore it
    ok_cli(srv, "schedule-deletion", k2, "--days", "7")
    refused_cli(srv, "destroy", k2, "--force")
    refused_cli(srv, "destroy", k2)
    ok_cli(srv, "cancel-deletion", k2)
    ok_cli(srv, "enable", k2)
    expect(srv, bucket, "doc", b"protected", get=OK)


def test_bucket_sse_s3_key_disable_and_enable(kserver: Server, vault: hvac.Client) -> None:
    srv, s3 = kserver, kserver.client()

    def bucket_keys() -> set[str]:
        try:
            keys = vault.secrets.transit.list_keys()["data"]["keys"]
        except hvac.exceptions.InvalidPath:
            return set()
        return {name for name in keys if name.startswith("bucket-")}

    before = bucket_keys()
    bucket, neighbour = uid("ownkey"), uid("neighbour")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"in the bucket")
    s3.put_object(Bucket=bucket, Key="b.bin", Body=os.urandom(100_000))
    new = bucket_keys() - before
    assert len(new) == 1, new
    bucket_key = new.pop()
    s3.create_bucket(Bucket=neighbour)
    s3.put_object(Bucket=neighbour, Key="n.txt", Body=b"neighbour")
    info = vault.secrets.transit.read_key(name=bucket_key)["data"]
    assert info["type"] == "aes256-gcm96" and info["state"] == "enabled"
    assert s3.get_object(Bucket=bucket, Key="a.txt")["ServerSideEncryption"] == "AES256"

    ok_cli(srv, "disable", bucket_key)
    expect(srv, bucket, "a.txt", b"in the bucket", get=DISABLED, put=DISABLED)
    assert s3_status(lambda: s3.get_object(Bucket=bucket, Key="b.bin")) == DISABLED
    assert s3.get_object(Bucket=neighbour, Key="n.txt")["Body"].read() == b"neighbour"

    ok_cli(srv, "enable", bucket_key)
    expect(srv, bucket, "a.txt", b"in the bucket", get=OK, put=OK)


def test_key_cli_show_list_rotate(kserver: Server, vault: hvac.Client) -> None:
    srv, s3 = kserver, kserver.client()
    k = uid("rot")
    ok_cli(srv, "create", k)
    bucket = uid("rotate")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="v1", Body=b"one", ServerSideEncryption="aws:kms", SSEKMSKeyId=k)
    ok_cli(srv, "rotate", k)
    assert json.loads(ok_cli(srv, "show", k, "--json"))["latest_version"] == 2
    assert k in [row["name"] for row in json.loads(ok_cli(srv, "list", "--json"))]
    s3.put_object(Bucket=bucket, Key="v2", Body=b"two", ServerSideEncryption="aws:kms", SSEKMSKeyId=k)
    assert s3.get_object(Bucket=bucket, Key="v1")["Body"].read() == b"one"
    assert s3.get_object(Bucket=bucket, Key="v2")["Body"].read() == b"two"
    assert refused_cli(srv, "show", uid("nope"))


REFUSED = (403, "AccessDenied")


def test_the_key_owner_refuses_justifications_per_key(kserver: Server, vault: hvac.Client) -> None:
    """A tenant refuses a key access justification for one key (hvac with its namespace token, or the CLI): the
    vault then releases nothing for it under that key, however the request is authorised, and audits the refusal;
    other keys are untouched."""
    srv, s3 = kserver, kserver.client()
    k, bucket, plain = uid("cmk"), uid("justified"), uid("unjustified")
    ok_cli(srv, "create", k)
    s3.create_bucket(Bucket=bucket)
    s3.create_bucket(Bucket=plain)
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"under cmk", ServerSideEncryption="aws:kms", SSEKMSKeyId=k)
    s3.put_object(Bucket=plain, Key="a.txt", Body=b"bucket key")
    path = f"/v1/strongroom/keys/{k}/key-access"
    assert vault.adapter.get(path)["data"]["refused_justifications"] == []

    got = vault.adapter.post(path, json={"refused_justifications": ["customer-initiated", "third-party"]})
    assert got["data"]["refused_justifications"] == ["customer-initiated", "third-party"]
    expect(srv, bucket, "a.txt", b"under cmk", get=REFUSED, put=REFUSED, kms_key=k)
    assert s3.get_object(Bucket=plain, Key="a.txt")["Body"].read() == b"bucket key"  # its own key: not refused
    assert "refuses: customer-initiated, third-party" in ok_cli(srv, "access", k)

    # the refusal is the vault's and is in the tenant's chain: key, why, for whom
    admin = srv.admin()
    refused = [
        e
        for e in admin.request("GET", "/audit/entries?limit=1000&outcome=denied")["entries"]
        if e["api"] == "vault" and e.get("key", {}).get("name") == k
    ]
    assert refused and refused[0]["justification"] == "customer-initiated" and refused[0]["status"] == 403
    assert refused[0]["acting_principal"]["tenant"] == "default"

    # bad input is refused and changes nothing
    with pytest.raises(hvac.exceptions.InvalidRequest, match="unknown justification"):
        vault.adapter.post(path, json={"refused_justifications": ["because"]})
    with pytest.raises(hvac.exceptions.InvalidRequest, match="required"):
        vault.adapter.post(path, json={})
    tenant_token = ("--token", vault.token)
    assert "unknown justification" in refused_cli(srv, "access", k, "--refuse", "because", *tenant_token)
    # an operator (the root token) may read the setting, never change it: lifting a refusal is the tenant's call
    assert "permission denied" in refused_cli(srv, "access", k, "--refuse-none")
    assert vault.adapter.get(path)["data"]["refused_justifications"] == ["customer-initiated", "third-party"]

    assert "refuses: none" in ok_cli(srv, "access", k, "--refuse-none", *tenant_token)
    expect(srv, bucket, "a.txt", b"under cmk", get=OK, put=OK, kms_key=k)
