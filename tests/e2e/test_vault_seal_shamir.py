"""The Shamir seal end to end: init and unseal through hvac and the operator CLI, sealed behaviour of both listeners,
and no secret in plaintext under the data directory (sealed or not).

conftest's start_server waits for /_strongroom/health == 200, which needs an unsealed vault, so these servers are
started here and waited on through the vault's /v1/sys/health instead.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import hvac
import hvac.exceptions
import pytest
import requests
from botocore.exceptions import ClientError
from tests.conftest import OPERATOR_ACCESS, OPERATOR_SECRET, ROOT_ACCESS, ROOT_SECRET, ROOT_TOKEN, Server, free_port

pytestmark = pytest.mark.e2e

T = TypeVar("T")
SEALED_WITHIN = 3.0  # seconds: seal must reach every S3 worker within this (docs/VAULT-DESIGN.md says 2 s)


# --- helpers (self-contained: only tests/e2e/test_vault*.py may be added) ---------------------------------------


def tls(ca: str | Path) -> ssl.SSLContext:
    """httpx wants an SSLContext (verify=<path> is deprecated)."""
    return ssl.create_default_context(cafile=str(ca))


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "STRONGROOM_ROOT_ACCESS_KEY": ROOT_ACCESS,
            "STRONGROOM_ROOT_SECRET_KEY": ROOT_SECRET,
            "STRONGROOM_OPERATOR_ACCESS_KEY": OPERATOR_ACCESS,
            "STRONGROOM_OPERATOR_SECRET_KEY": OPERATOR_SECRET,
            "STRONGROOM_ROOT_TOKEN": ROOT_TOKEN,
            "STRONGROOM_LOG_LEVEL": "warning",
        }
    )
    env.pop("STRONGROOM__RESOLVED_SETTINGS", None)
    env.pop("STRONGROOM__INTERNAL_TOKEN", None)
    env.update(extra or {})
    return env


def start_sealed_server(
    data_dir: Path, extra_args: list[str], timeout: float = 60.0, env: dict[str, str] | None = None
) -> Server:
    """Start `strongroom serve` and wait until both listeners answer (whatever the seal state)."""
    port, vault_port = free_port(), free_port()
    args = [
        sys.executable,
        "-m",
        "strongroom",
        "serve",
        "--data-dir",
        str(data_dir),
        "--port",
        str(port),
        "--vault-port",
        str(vault_port),
        *extra_args,
    ]
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir.parent / f"server-{port}-{time.monotonic_ns()}.log"
    proc = subprocess.Popen(
        args, stdout=log_path.open("wb"), stderr=subprocess.STDOUT, env={**_env(), **(env or {})}, cwd=data_dir.parent
    )
    srv = Server(data_dir, port, proc, log_path, list(extra_args), {})
    deadline = time.monotonic() + timeout
    ca = data_dir / "tls" / "ca.pem"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{srv.log()}")
        try:
            if ca.exists():
                httpx.get(f"https://localhost:{vault_port}/v1/sys/health", verify=tls(ca), timeout=2)
                httpx.get(f"https://localhost:{port}/_strongroom/health", verify=tls(ca), timeout=2)
                return srv
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    srv.stop()
    raise RuntimeError(f"server did not start:\n{srv.log()}")


def vault_url(srv: Server) -> str:
    return json.loads((srv.data_dir / "run" / "vault.json").read_text())["url"]


def hvac_client(srv: Server, token: str | None = None) -> hvac.Client:
    info = json.loads((srv.data_dir / "run" / "vault.json").read_text())
    return hvac.Client(url=info["url"], token=token, verify=srv.ca, timeout=30)


def cli(srv: Server, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    extra = {"VAULT_TOKEN": token} if token else {}
    out = subprocess.run(
        [sys.executable, "-m", "strongroom", *args, "--data-dir", str(srv.data_dir)],
        env=_env(extra),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=srv.data_dir.parent,
    )
    return out


def poll(check: Callable[[], T], timeout: float = SEALED_WITHIN, interval: float = 0.1) -> T:
    """Run check until it stops raising AssertionError (or the timeout passes, then re-raise)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(interval)


def s3_status(call: Callable[[], Any]) -> tuple[int, str]:
    """(HTTP status, S3 error code) of a boto3 call; (200, "") on success."""
    try:
        call()
    except ClientError as exc:
        return exc.response["ResponseMetadata"]["HTTPStatusCode"], exc.response["Error"]["Code"]
    return 200, ""


def assert_vault_sealed_error(srv: Server, path: str, token: str, method: str = "GET") -> None:
    r = httpx.request(method, f"{vault_url(srv)}/v1/{path}", headers={"X-Vault-Token": token}, verify=tls(srv.ca))
    assert r.status_code == 503, (path, r.status_code, r.text)
    assert r.headers["content-type"] == "application/json", r.headers
    assert r.json() == {"errors": ["Vault is sealed"]}


def assert_everything_sealed(srv: Server, bucket: str, key: str, token: str) -> None:
    """Requests that need key material (and the health check and the vault itself) answer 503."""
    s3 = srv.client()
    calls: dict[str, Callable[[], Any]] = {
        "GetObject": lambda: s3.get_object(Bucket=bucket, Key=key),
        "PutObject": lambda: s3.put_object(Bucket=bucket, Key="while-sealed", Body=b"nope"),
    }
    got = {name: s3_status(call) for name, call in calls.items()}
    assert got == dict.fromkeys(calls, (503, "ServiceUnavailable"))
    # the raw answer is an S3 XML error body
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
    raw = httpx.get(url, verify=tls(srv.ca))
    assert raw.status_code == 503
    assert "xml" in raw.headers["content-type"]
    assert "<Code>ServiceUnavailable</Code>" in raw.text
    health = httpx.get(f"{srv.endpoint}/_strongroom/health", verify=tls(srv.ca))
    assert health.status_code == 503
    for path in ("transit/keys?list=true", "secret/data/anything", "auth/token/lookup-self"):
        assert_vault_sealed_error(srv, path, token)
    assert_vault_sealed_error(srv, "transit/encrypt/k", token, method="POST")


def metadata_requests_while_sealed(srv: Server, bucket: str, key: str, victim: str) -> dict[str, tuple[int, str]]:
    """Requests that touch no key material (listings, delete) must fail closed too: poll them for SEALED_WITHIN
    seconds and return what they answered last (all 503 ServiceUnavailable when correct)."""
    s3 = srv.client()
    calls: dict[str, Callable[[], Any]] = {
        "ListBuckets": lambda: s3.list_buckets(),
        "ListObjectsV2": lambda: s3.list_objects_v2(Bucket=bucket),
        "DeleteObject": lambda: s3.delete_object(Bucket=bucket, Key=victim),
        "HeadObject": lambda: s3.head_object(Bucket=bucket, Key=key),
    }
    wanted = dict.fromkeys(calls, (503, "ServiceUnavailable"))
    wanted["HeadObject"] = (503, "503")  # HEAD has no body: botocore names the error by its status
    got: dict[str, tuple[int, str]] = {}

    def check() -> None:
        got.update({name: s3_status(call) for name, call in calls.items() if got.get(name) != wanted[name]})
        assert got == wanted

    try:
        poll(check)
    except AssertionError:
        pass
    return got


def assert_everything_works(srv: Server, bucket: str, key: str, body: bytes) -> None:
    s3 = srv.client()
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body
    s3.put_object(Bucket=bucket, Key="after-unseal", Body=b"fresh")
    assert s3.get_object(Bucket=bucket, Key="after-unseal")["Body"].read() == b"fresh"
    assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert httpx.get(f"{srv.endpoint}/_strongroom/health", verify=tls(srv.ca)).status_code == 200


@pytest.fixture()
def shamir_server(tmp_path: Path) -> Iterator[Server]:
    # production layout: the infrastructure root lives outside the data directory
    srv = start_sealed_server(
        tmp_path / "data", ["--seal", "shamir"], env={"STRONGROOM_INFRA_ROOT_FILE": str(tmp_path / "infra-root.key")}
    )
    yield srv
    srv.stop()


# --- tests ------------------------------------------------------------------------------------------------------


def test_shamir_init_unseal_progress_nonce_reset_then_seal_and_unseal(shamir_server: Server) -> None:
    srv = shamir_server
    anon = hvac_client(srv)
    assert anon.sys.is_initialized() is False
    assert anon.sys.read_init_status() == {"initialized": False}
    status = anon.sys.read_seal_status()
    assert (status["type"], status["initialized"], status["sealed"]) == ("shamir", False, True)
    health = anon.sys.read_health_status(method="GET")
    assert isinstance(health, requests.Response) and health.status_code == 501
    assert httpx.get(f"{srv.endpoint}/_strongroom/health", verify=tls(srv.ca)).status_code == 503
    assert s3_status(lambda: srv.client().list_buckets()) == (503, "ServiceUnavailable")

    init = anon.sys.initialize(secret_shares=5, secret_threshold=3)
    keys, keys_b64, root = init["keys"], init["keys_base64"], init["root_token"]
    assert len(keys) == len(keys_b64) == 5 and len(set(keys)) == 5
    assert all(bytes.fromhex(k) == base64.b64decode(b) for k, b in zip(keys, keys_b64, strict=True))
    assert root.startswith("hvs.")
    assert anon.sys.is_initialized() is True
    with pytest.raises(hvac.exceptions.InvalidRequest):
        anon.sys.initialize(secret_shares=5, secret_threshold=3)
    status = anon.sys.read_seal_status()
    assert (status["sealed"], status["t"], status["n"], status["progress"], status["nonce"]) == (True, 3, 5, 0, "")
    assert anon.sys.is_sealed() is True
    sealed_health = anon.sys.read_health_status(method="GET")
    assert isinstance(sealed_health, requests.Response) and sealed_health.status_code == 503

    # progress and nonce, a duplicate share does not count, reset discards the attempt
    one = anon.sys.submit_unseal_key(key=keys[0])
    assert (one["sealed"], one["progress"], one["t"]) == (True, 1, 3)
    nonce = one["nonce"]
    assert nonce
    again = anon.sys.submit_unseal_key(key=keys[0])
    assert (again["progress"], again["nonce"]) == (1, nonce)
    two = anon.sys.submit_unseal_key(key=keys_b64[1])
    assert (two["sealed"], two["progress"], two["nonce"]) == (True, 2, nonce)
    assert anon.sys.read_seal_status()["progress"] == 2
    reset = anon.sys.submit_unseal_key(reset=True)
    assert (reset["sealed"], reset["progress"], reset["nonce"]) == (True, 0, "")
    restarted = anon.sys.submit_unseal_key(key=keys[3])
    assert restarted["progress"] == 1 and restarted["nonce"] and restarted["nonce"] != nonce

    # a wrong share of the right length makes the combination fail; the attempt is discarded, still sealed
    anon.sys.submit_unseal_key(key=keys[4])
    bogus = bytes([7]) * 32 + bytes([200])
    with pytest.raises(hvac.exceptions.InvalidRequest):
        anon.sys.submit_unseal_key(key=bogus.hex())
    status = anon.sys.read_seal_status()
    assert (status["sealed"], status["progress"], status["nonce"]) == (True, 0, "")
    with pytest.raises(hvac.exceptions.InvalidRequest):
        anon.sys.submit_unseal_key(key="00ff")  # too short

    final = anon.sys.submit_unseal_keys(keys=[keys_b64[4], keys[2], keys[0]])
    assert final["sealed"] is False and final["progress"] == 0
    assert anon.sys.is_sealed() is False
    healthy = anon.sys.read_health_status(method="GET")
    assert isinstance(healthy, dict) and healthy["sealed"] is False

    vault = hvac_client(srv, token=root)
    assert vault.is_authenticated() is True
    assert "root" in vault.lookup_token()["data"]["policies"]
    # the conftest root token is not the root of a Shamir vault (its root token is random)
    assert hvac_client(srv, token=ROOT_TOKEN).is_authenticated() is False
    vault.secrets.transit.create_key(name="pre-seal")
    ct = vault.secrets.transit.encrypt_data(name="pre-seal", plaintext=base64.b64encode(b"kept").decode())
    vault.secrets.kv.v2.create_or_update_secret(path="app/db", secret={"password": "before-seal"})
    child = vault.auth.token.create(policies=["default"], ttl="1h")["auth"]["client_token"]

    s3 = poll(lambda: _s3_ready(srv), timeout=10)
    bucket = "shamir-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=bucket)
    body = os.urandom(300_000)
    s3.put_object(Bucket=bucket, Key="before-seal.bin", Body=body)
    s3.put_object(Bucket=bucket, Key="small.txt", Body=b"hello")
    s3.put_object(Bucket=bucket, Key="victim.txt", Body=b"must survive a sealed vault")

    # seal through hvac: everything fails closed within a few seconds
    vault.sys.seal()
    assert anon.sys.is_sealed() is True
    status = anon.sys.read_seal_status()
    assert (status["sealed"], status["t"], status["n"], status["progress"]) == (True, 3, 5, 0)
    with pytest.raises(hvac.exceptions.VaultDown):
        vault.secrets.transit.list_keys()
    with pytest.raises(hvac.exceptions.VaultDown):
        vault.secrets.kv.v2.read_secret_version(path="app/db", raise_on_deleted_version=True)
    poll(lambda: assert_everything_sealed(srv, bucket, "before-seal.bin", root))
    # checked now, asserted at the end (so the unseal half of the test still runs)
    metadata_while_sealed = metadata_requests_while_sealed(srv, bucket, "small.txt", "victim.txt")

    # unseal with three shares through the operator CLI (hex and base64 shares both accepted)
    for share in (keys[1], keys_b64[3]):
        out = cli(srv, "operator", "unseal", share, "--json")
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["sealed"] is True
    out = cli(srv, "operator", "unseal", keys[2], "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["sealed"] is False
    assert anon.sys.is_sealed() is False

    poll(lambda: assert_everything_works(srv, bucket, "before-seal.bin", body), timeout=5)
    assert s3.get_object(Bucket=bucket, Key="small.txt")["Body"].read() == b"hello"
    got = vault.secrets.transit.decrypt_data(name="pre-seal", ciphertext=ct["data"]["ciphertext"])
    assert base64.b64decode(got["data"]["plaintext"]) == b"kept"
    kv = vault.secrets.kv.v2.read_secret_version(path="app/db", raise_on_deleted_version=True)
    assert kv["data"]["data"] == {"password": "before-seal"}
    assert hvac_client(srv, token=child).is_authenticated() is True
    victim = s3_status(lambda: s3.get_object(Bucket=bucket, Key="victim.txt"))

    # Known bug this guards: S3App.lookup_secret (http/s3/app.py) caches credentials for 30 s and S3App.handle checks
    # only self.ready, so requests needing no key material (listings, HEAD, DELETE) keep working for ~30 s after the
    # vault is sealed, instead of failing closed within 2 s (docs/VAULT-DESIGN.md).
    assert metadata_while_sealed == {
        "ListBuckets": (503, "ServiceUnavailable"),
        "ListObjectsV2": (503, "ServiceUnavailable"),
        "DeleteObject": (503, "ServiceUnavailable"),
        "HeadObject": (503, "503"),
    }
    assert victim == (200, ""), "an object was deleted while the vault was sealed"


def _s3_ready(srv: Server) -> Any:
    s3 = srv.client()
    assert s3_status(lambda: s3.list_buckets())[0] == 200
    return s3


def test_shamir_operator_cli_init_status_seal(shamir_server: Server) -> None:
    srv = shamir_server
    out = cli(srv, "operator", "status", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["initialized"] is False
    out = cli(srv, "operator", "init", "--key-shares", "3", "--key-threshold", "2", "--json")
    assert out.returncode == 0, out.stderr
    init = json.loads(out.stdout)
    assert len(init["keys"]) == 3 and init["root_token"].startswith("hvs.")
    for share in init["keys_base64"][:2]:
        assert cli(srv, "operator", "unseal", share).returncode == 0
    status = json.loads(cli(srv, "operator", "status", "--json").stdout)
    assert (status["initialized"], status["sealed"], status["t"], status["n"]) == (True, False, 2, 3)
    # seal needs a token: none (the conftest root token is not this vault's) is refused
    refused = cli(srv, "operator", "seal", token="hvs.wrong")
    assert refused.returncode != 0
    assert json.loads(cli(srv, "operator", "status", "--json").stdout)["sealed"] is False
    assert cli(srv, "operator", "seal", token=init["root_token"]).returncode == 0
    assert json.loads(cli(srv, "operator", "status", "--json").stdout)["sealed"] is True


# --- no secret in plaintext at rest -----------------------------------------------------------------------------


def _needles(name: str, value: str | bytes) -> dict[str, bytes]:
    raw = value.encode() if isinstance(value, str) else value
    return {f"{name} (raw)": raw, f"{name} (base64)": base64.b64encode(raw)}


def scan_data_dir(data_dir: Path, needles: dict[str, bytes]) -> tuple[list[str], list[str]]:
    excluded: set[Path] = set()  # nothing: with seal=shamir and the infra root elsewhere, no key file is here
    hits: list[str] = []
    scanned: list[str] = []
    for path in sorted(data_dir.rglob("*")):
        if not path.is_file() or path.is_symlink() or path.resolve() in excluded:
            continue
        content = path.read_bytes()
        scanned.append(str(path.relative_to(data_dir)))
        for label, needle in needles.items():
            if needle in content:
                hits.append(f"{label} in {path.relative_to(data_dir)}")
    return hits, scanned


def test_no_secret_in_plaintext_under_the_data_dir_sealed_or_not(shamir_server: Server) -> None:
    srv = shamir_server
    out = cli(srv, "operator", "init", "--key-shares", "5", "--key-threshold", "3", "--json")
    assert out.returncode == 0, out.stderr
    init = json.loads(out.stdout)
    for share in init["keys"][:3]:
        assert cli(srv, "operator", "unseal", share).returncode == 0, "unseal failed"
    root = init["root_token"]
    vault = hvac_client(srv, token=root)
    assert vault.sys.is_sealed() is False
    infra_root = (srv.data_dir.parent / "infra-root.key").read_bytes()
    assert len(infra_root) == 32 and not (srv.data_dir / "keys" / "infra-root.key").exists()

    tag = uuid.uuid4().hex
    needles: dict[str, bytes] = {**_needles("infrastructure root", infra_root)}
    # KV secrets with distinctive values (a long one too: a 16-byte window would survive any framing)
    kv_values = {
        "app/db": {"password": f"kv-db-password-{tag}"},
        "app/api": {"token": f"kv-api-token-{tag}", "note": f"kv-note-{tag}" * 20},
    }
    for path, secret in kv_values.items():
        vault.secrets.kv.v2.create_or_update_secret(path=path, secret=secret)
        for field, value in secret.items():
            needles.update(_needles(f"kv {path}.{field}", value))
    vault.secrets.kv.v2.create_or_update_secret(path="app/db", secret={"password": f"kv-db-password-v2-{tag}"})
    needles.update(_needles("kv app/db v2", f"kv-db-password-v2-{tag}"))

    # transit: a key (export is off) and a marker plaintext pushed through encrypt
    vault.secrets.transit.create_key(name="scan-key")
    marker = f"transit-plaintext-marker-{tag}".encode()
    ct = vault.secrets.transit.encrypt_data(name="scan-key", plaintext=base64.b64encode(marker).decode())
    vault.secrets.kv.v2.create_or_update_secret(path="app/ciphertext", secret={"ct": ct["data"]["ciphertext"]})
    needles.update(_needles("transit plaintext", marker))
    dk = vault.secrets.transit.generate_data_key(name="scan-key", key_type="plaintext")["data"]["plaintext"]
    needles.update({"transit data key (base64)": dk.encode(), "transit data key (raw)": base64.b64decode(dk)})

    # tokens: the root token and a child token
    child = vault.auth.token.create(policies=["default"], ttl="1h")["auth"]["client_token"]
    needles.update({"root token": root.encode(), "child token": child.encode()})

    # S3 credentials: the root and operator secrets (sealed in the vault on first unseal), a new tenant's first key
    # (made through the admin API) and that tenant's vault token
    needles.update(_needles("S3 root secret", ROOT_SECRET))
    needles.update(_needles("S3 operator secret", OPERATOR_SECRET))
    s3 = poll(lambda: _s3_ready(srv), timeout=10)
    made = srv.admin(OPERATOR_ACCESS, OPERATOR_SECRET).request("POST", "/tenants", {"name": "scan-tenant"})
    cred = made["access_key"]
    needles.update(_needles("S3 created secret", cred["secret_access_key"]))
    tenant_token = srv.admin(cred["access_key_id"], cred["secret_access_key"]).request("POST", "/vault/token", {})
    needles.update({"tenant vault token": tenant_token["token"].encode()})
    s3.create_bucket(Bucket="scan-bucket")
    s3.put_object(Bucket="scan-bucket", Key="k", Body=b"object body")
    tenant_s3 = srv.client(access=cred["access_key_id"], secret=cred["secret_access_key"])
    tenant_s3.create_bucket(Bucket="scan-tenant-bucket")
    tenant_s3.put_object(Bucket="scan-tenant-bucket", Key="k", Body=b"tenant object")

    # the unseal key shares, hex, base64 and raw
    for i, (hexed, b64) in enumerate(zip(init["keys"], init["keys_base64"], strict=True)):
        needles[f"unseal share {i} (hex)"] = hexed.encode()
        needles[f"unseal share {i} (base64)"] = b64.encode()
        needles[f"unseal share {i} (raw)"] = bytes.fromhex(hexed)

    assert not (srv.data_dir / "keys" / "unseal.key").exists()
    # positive control: the scanner sees what is stored in plaintext on purpose (bucket names in the database)
    control, scanned = scan_data_dir(srv.data_dir, {"bucket name": b"scan-tenant-bucket"})
    assert control, f"the scan found no bucket name in {scanned}"
    assert any(name.endswith((".db", ".sqlite", ".sqlite3", "-wal")) for name in scanned), scanned
    hits, _ = scan_data_dir(srv.data_dir, needles)
    assert hits == [], "secrets in plaintext while unsealed"

    vault.sys.seal()
    assert hvac_client(srv).sys.is_sealed() is True
    hits, _ = scan_data_dir(srv.data_dir, needles)
    assert hits == [], "secrets in plaintext after sealing"

    srv.stop()
    hits, _ = scan_data_dir(srv.data_dir, needles)
    assert hits == [], "secrets in plaintext after the server stopped"
