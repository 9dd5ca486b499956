"""`strongroom serve` as a user runs it: settings, first start, TLS, workers, shutdown, PostgreSQL."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from tests.conftest import ROOT_ACCESS, ROOT_SECRET, Server, free_port, start_server

pytestmark = pytest.mark.e2e


def _ctx(ca: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca)


def test_first_start_generates_credentials_printed_once_and_never_stored_plain(tmp_path: Path):
    data = tmp_path / "data"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "strongroom", "serve", "--data-dir", str(data), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=tmp_path,
    )
    srv = Server(data, port, proc, tmp_path / "unused.log")
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(line.decode() for line in proc.stdout), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        _wait(port, data)
        out = "".join(lines)
        access = next(x.split(":", 1)[1].strip() for x in out.splitlines() if "access key:" in x)
        secret = next(x.split(":", 1)[1].strip() for x in out.splitlines() if "secret key:" in x)
        s3 = srv.client(access=access, secret=secret)
        s3.create_bucket(Bucket="firststart")
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["firststart"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    reader.join(timeout=5)
    for f in data.rglob("*"):
        if f.is_file():
            assert secret.encode() not in f.read_bytes(), f
    # a restart does not print credentials again
    p = subprocess.Popen(
        [sys.executable, "-m", "strongroom", "serve", "--data-dir", str(data), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=tmp_path,
    )
    try:
        _wait(port, data)
    finally:
        p.terminate()
        out2 = p.communicate(timeout=30)[0].decode()
    assert "secret key:" not in out2
    assert secret not in out2


def _wait(port: int, data: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ca = data / "tls" / "ca.pem"
        if ca.exists():
            try:
                if httpx.get(f"https://localhost:{port}/_strongroom/health", verify=_ctx(str(ca))).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
        time.sleep(0.1)
    raise AssertionError("server did not start")


def test_settings_from_toml_env_and_flags(tmp_path: Path):
    data = tmp_path / "from-toml"
    port_toml, port_flag = free_port(), free_port()
    (tmp_path / "strongroom.toml").write_text(
        f'data_dir = "{data}"\nport = {port_toml}\ndefault_region = "eu-1"\n'
        f'[regions.eu-1]\ngeography = "EU"\n[regions.us-2]\ngeography = "US"\n'
    )
    srv = start_server(data, env={}, port=port_toml)  # flags name the same port; the toml names the regions
    try:
        s3 = srv.client()
        s3.create_bucket(Bucket="toml-bucket")
        assert s3.get_bucket_location(Bucket="toml-bucket")["LocationConstraint"] == "eu-1"
        s3.create_bucket(Bucket="us-bucket", CreateBucketConfiguration={"LocationConstraint": "us-2"})
        assert s3.get_bucket_location(Bucket="us-bucket")["LocationConstraint"] == "us-2"
        with pytest.raises(s3.exceptions.ClientError) as exc:
            s3.create_bucket(Bucket="nowhere-bucket", CreateBucketConfiguration={"LocationConstraint": "local"})
        assert exc.value.response["Error"]["Code"] == "InvalidLocationConstraint"
        # region blobs land in their own backend directories
        s3.put_object(Bucket="us-bucket", Key="k", Body=b"x" * 100)
        assert any((data / "blobs" / "us-2").rglob("*"))
    finally:
        srv.stop()
    # env overrides the file; a flag overrides env
    srv = start_server(data, env={"STRONGROOM_DEFAULT_REGION": "us-2"}, port=port_flag)
    try:
        s3 = srv.client()
        s3.create_bucket(Bucket="env-bucket")
        assert s3.get_bucket_location(Bucket="env-bucket")["LocationConstraint"] == "us-2"
    finally:
        srv.stop()


def test_health_and_hsts(server: Server):
    r = httpx.get(f"{server.endpoint}/_strongroom/health", verify=_ctx(server.ca))
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert r.headers["strict-transport-security"].startswith("max-age=")
    r = httpx.get(f"{server.endpoint}/_strongroom/other", verify=_ctx(server.ca))
    assert r.status_code == 403


def test_gateway_runs_with_the_malloc_tuning(server: Server):
    """serve execs the gateway with a small malloc trim threshold and few arenas (bench/soak.py: with a 64 MiB
    threshold the gateway's RSS kept climbing), unless the operator set them."""
    from strongroom.server import GATEWAY_MALLOC_ENV

    raw = Path(f"/proc/{server.proc.pid}/environ").read_bytes().split(b"\0")
    env = dict(item.decode().split("=", 1) for item in raw if b"=" in item)
    for name, value in GATEWAY_MALLOC_ENV.items():
        assert env.get(name) == os.environ.get(name, value), name
    assert int(GATEWAY_MALLOC_ENV["MALLOC_TRIM_THRESHOLD_"]) <= 8 * 1024 * 1024
    assert int(GATEWAY_MALLOC_ENV["MALLOC_ARENA_MAX"]) <= 4


def test_two_workers_share_the_data(tmp_path: Path):
    srv = start_server(tmp_path / "data", ["--workers", "2"])
    try:
        s3 = srv.client(max_pool_connections=16)
        s3.create_bucket(Bucket="two-workers")
        from concurrent.futures import ThreadPoolExecutor

        def put(i: int) -> None:
            s3.put_object(Bucket="two-workers", Key=f"k{i:03d}", Body=f"v{i}".encode() * 1000)

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(put, range(64)))
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="two-workers")["Contents"]]
        assert keys == [f"k{i:03d}" for i in range(64)]
        for i in range(0, 64, 7):
            assert s3.get_object(Bucket="two-workers", Key=f"k{i:03d}")["Body"].read() == f"v{i}".encode() * 1000
        pids = subprocess.run(["pgrep", "-P", str(srv.proc.pid)], capture_output=True, text=True).stdout.split()
        assert len(pids) >= 2
    finally:
        assert srv.stop() in (0, -signal.SIGTERM)


def test_graceful_shutdown_finishes_in_flight_upload(tmp_path: Path):
    srv = start_server(tmp_path / "data")
    s3 = srv.client()
    s3.create_bucket(Bucket="graceful")
    url = s3.generate_presigned_url("put_object", Params={"Bucket": "graceful", "Key": "slow"}, ExpiresIn=300)
    chunk = os.urandom(256 * 1024)
    sent = threading.Event()

    def body():
        for i in range(16):
            yield chunk
            if i == 3:
                sent.set()
                time.sleep(1.0)

    result: dict[str, object] = {}

    def upload() -> None:
        r = httpx.put(
            url, content=body(), verify=_ctx(srv.ca), headers={"content-length": str(16 * len(chunk))}, timeout=60
        )
        result["status"] = r.status_code

    t = threading.Thread(target=upload)
    t.start()
    assert sent.wait(30)
    srv.proc.send_signal(signal.SIGTERM)
    t.join(60)
    assert result.get("status") == 200
    assert srv.proc.wait(timeout=30) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it handled
    srv2 = start_server(srv.data_dir, port=srv.port)
    try:
        got = srv2.client().get_object(Bucket="graceful", Key="slow")["Body"].read()
        assert got == chunk * 16
    finally:
        srv2.stop()


def test_insecure_http_warns_loudly(tmp_path: Path):
    srv = start_server(tmp_path / "data", ["--insecure-http"])
    try:
        r = httpx.get(f"http://localhost:{srv.port}/_strongroom/health")
        assert r.status_code == 200
        assert "WARNING: --insecure-http: TLS is OFF" in srv.log()
    finally:
        srv.stop()


def test_operator_certificate_and_mutual_tls(tmp_path: Path):
    from strongroom.crypto.x509ca import create_ca_and_server_cert

    own = tmp_path / "own"
    create_ca_and_server_cert(own, ["localhost", "127.0.0.1"])
    clients = tmp_path / "clients"
    create_ca_and_server_cert(clients, ["client"], client=True)
    # the health check in start_server has no client cert, so drive the wait by hand
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "strongroom",
        "serve",
        "--data-dir",
        str(tmp_path / "data"),
        "--port",
        str(port),
        "--cert",
        str(own / "server.pem"),
        "--key",
        str(own / "server-key.pem"),
        "--client-ca",
        str(clients / "ca.pem"),
        "--vault-port",
        str(free_port()),
    ]
    env = dict(os.environ, STRONGROOM_ROOT_ACCESS_KEY=ROOT_ACCESS, STRONGROOM_ROOT_SECRET_KEY=ROOT_SECRET)
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        with_cert = _ctx(str(own / "ca.pem"))
        with_cert.load_cert_chain(str(clients / "server.pem"), str(clients / "server-key.pem"))
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline and status != 200:
            try:
                status = httpx.get(f"https://localhost:{port}/_strongroom/health", verify=with_cert).status_code
            except httpx.HTTPError:
                pass
            if status != 200:
                time.sleep(0.2)  # not up yet, or up but not ready (503 until the first credentials exist)
        assert status == 200
        assert not (tmp_path / "data" / "tls" / "ca.pem").exists()  # no CA generated when one is supplied
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"https://localhost:{port}/_strongroom/health", verify=_ctx(str(own / "ca.pem")))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture()
def pg_url():
    import sqlalchemy as sa

    schema = "sr_e2e_" + uuid.uuid4().hex[:10]
    base = os.environ.get("STRONGROOM_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    engine = sa.create_engine(base)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    yield f"{base}?options=-csearch_path%3D{schema}"
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    engine.dispose()


def test_server_on_postgresql_metadata(tmp_path: Path, pg_url: str):
    srv = start_server(tmp_path / "data", ["--workers", "2"], env={"STRONGROOM_DATABASE_URL": pg_url})
    try:
        s3 = srv.client()
        s3.create_bucket(Bucket="pg-bucket")
        body = os.urandom(300_000)
        s3.put_object(Bucket="pg-bucket", Key="a/b c", Body=body)
        assert s3.get_object(Bucket="pg-bucket", Key="a/b c")["Body"].read() == body
        assert [o["Key"] for o in s3.list_objects_v2(Bucket="pg-bucket")["Contents"]] == ["a/b c"]
        assert not (tmp_path / "data" / "strongroom.db").exists()
    finally:
        srv.stop()
