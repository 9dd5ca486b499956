"""Shared fixtures. End-to-end fixtures start the real server process over real TLS."""

from __future__ import annotations

import base64
import os
import re
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest

ROOT_ACCESS = "SRTESTROOTACCESSKEY1"
ROOT_SECRET = "test-root-secret-key-0123456789abcdefghij"
ROOT_TOKEN = "hvs.strongroom-test-root-token"
# the first start's operator (tenant "system", user "admin")
OPERATOR_ACCESS = "SRTESTOPERATORACCESS"
OPERATOR_SECRET = "test-operator-secret-0123456789abcdefghij"
# CLI subprocesses (strongroom key ..., operator ...) authenticate to the vault with this token
os.environ.setdefault("STRONGROOM_ROOT_TOKEN", ROOT_TOKEN)


def anonymous_file_sizes(pid: int, under: Path) -> list[int]:
    """Sizes of the files process ``pid`` has open under ``under`` that have no name: in-flight anonymous
    (O_TMPFILE) blob writes, seen through /proc."""
    sizes = []
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(f"{fd_dir}/{fd}")
            if target.startswith(str(Path(under).resolve())) and target.endswith("(deleted)"):
                sizes.append(os.stat(f"{fd_dir}/{fd}").st_size)
        except OSError:
            continue
    return sizes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A running strongroom server process."""

    data_dir: Path
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    extra_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return f"https://localhost:{self.port}"

    @property
    def ca(self) -> str:
        return str(self.data_dir / "tls" / "ca.pem")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def client(self, service: str = "s3", access: str = ROOT_ACCESS, secret: str = ROOT_SECRET, **cfg: object):
        import boto3
        from botocore.config import Config

        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": cfg.pop("addressing_style", "path")},
            retries={"max_attempts": 1, "mode": "standard"},
            **cfg,
        )
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            aws_access_key_id=access,
            aws_secret_access_key=secret,
            region_name="local",
            verify=self.ca,
            config=config,
        )

    def admin(self, access: str = ROOT_ACCESS, secret: str = ROOT_SECRET):
        """A signed client of the admin API (as the given access key; default: tenant default's admin)."""
        from strongroom.http.admin.client import AdminClient

        return AdminClient(self.endpoint, access, secret, ssl.create_default_context(cafile=self.ca))

    def tenant_vault(self, access: str = ROOT_ACCESS, secret: str = ROOT_SECRET):
        """hvac with a vault token of the access key's tenant namespace (minted through the admin API)."""
        import json as _json

        import hvac

        got = self.admin(access, secret).request("POST", "/vault/token", {"ttl_seconds": 3600})
        info = _json.loads((self.data_dir / "run" / "vault.json").read_text())
        return hvac.Client(url=info["url"], token=got["token"], namespace=got["namespace"], verify=self.ca, timeout=30)

    def stop(self, sig: int | None = None) -> int:
        if self.proc.poll() is None:
            if sig is None:
                self.proc.terminate()
            else:
                self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def restart(self) -> None:
        self.stop()
        fresh = start_server(self.data_dir, self.extra_args, self.env, port=self.port)
        self.proc = fresh.proc
        self.log_path = fresh.log_path


def start_server(
    data_dir: Path, extra_args: list[str] | None = None, env: dict[str, str] | None = None, port: int | None = None
) -> Server:
    port = port or free_port()
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
        str(free_port()),
        *(extra_args or []),
    ]
    full_env = dict(os.environ)
    full_env.update(
        {
            "STRONGROOM_ROOT_ACCESS_KEY": ROOT_ACCESS,
            "STRONGROOM_ROOT_SECRET_KEY": ROOT_SECRET,
            "STRONGROOM_ROOT_TOKEN": ROOT_TOKEN,
            "STRONGROOM_OPERATOR_ACCESS_KEY": OPERATOR_ACCESS,
            "STRONGROOM_OPERATOR_SECRET_KEY": OPERATOR_SECRET,
            "STRONGROOM_LOG_LEVEL": "info",  # access lines too: the session's log scan reads them
        }
    )
    full_env.pop("STRONGROOM__RESOLVED_SETTINGS", None)
    full_env.pop("STRONGROOM__INTERNAL_TOKEN", None)
    full_env.update(env or {})
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir.parent / f"server-{port}-{time.monotonic_ns()}.log"
    logf = log_path.open("wb")
    proc = subprocess.Popen(args, stdout=logf, stderr=subprocess.STDOUT, env=full_env, cwd=data_dir.parent)
    server = Server(data_dir, port, proc, log_path, list(extra_args or []), dict(env or {}))
    wait_healthy(server)
    return server


def wait_healthy(server: Server, timeout: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    scheme = "http" if "--insecure-http" in server.extra_args else "https"
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"server exited with {server.proc.returncode}:\n{server.log()}")
        ca = server.data_dir / "tls" / "ca.pem"
        try:
            if scheme == "https" and not ca.exists():
                raise FileNotFoundError
            verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=str(ca)) if scheme == "https" else False
            r = httpx.get(f"{scheme}://localhost:{server.port}/_strongroom/health", verify=verify, timeout=2)
            if r.status_code == 200:
                return
        except (httpx.HTTPError, FileNotFoundError, OSError):
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"server did not become healthy:\n{server.log()}")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One shared server for the session (per xdist worker)."""
    base = tmp_path_factory.mktemp("srv")
    srv = start_server(base / "data")
    yield srv
    srv.stop()


@pytest.fixture()
def s3(server: Server):
    return server.client()


@pytest.fixture()
def bucket(s3, request: pytest.FixtureRequest) -> Iterator[str]:
    import re
    import uuid

    name = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:40].strip("-") + "-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=name)
    yield name
    try:
        paginator = s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=name):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=name, Delete={"Objects": keys})
        for up in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
            s3.abort_multipart_upload(Bucket=name, Key=up["Key"], UploadId=up["UploadId"])
        s3.delete_bucket(Bucket=name)
    except Exception:
        pass


# --- no log line holds a secret -------------------------------------------------------------------------------------
# Every server log the session writes (server-*.log beside each data directory, whoever started the server), and
# every audit entry its servers recorded, is scanned when the session ends, for the fixed test secrets, every secret a test registers, and any SigV4 signature
# or presigned credential in the clear. A hit fails the session's last test, naming the file and line.

_LOG_SECRETS: dict[bytes, str] = {}  # needle -> what it is (never the value: the failure message names it)
_LOG_PATTERNS = {
    "a SigV4 signature": re.compile(rb"(?i)signature=[0-9a-f]{64}"),
    "an X-Amz-Credential": re.compile(rb"(?i)x-amz-credential=[a-z0-9]+(?:/|%2f)"),
}


def _log_secrets() -> dict[bytes, str]:
    """The one registry, whichever name (conftest or tests.conftest) the caller imported this module by."""
    import tests.conftest as canonical

    return canonical._LOG_SECRETS


def register_secret(value: str | bytes, what: str = "a registered secret") -> None:
    """The session's log scan fails if ``value`` shows up in a server log: a string as it is and URL-quoted, bytes
    (an SSE-C key) raw, hex and base64."""
    if isinstance(value, bytes):
        forms = {value, value.hex().encode(), base64.b64encode(value), base64.urlsafe_b64encode(value)}
    else:
        forms = {value.encode(), quote(value, safe="").encode()}
    for form in forms:
        _log_secrets()[form] = what


for _value, _what in ((ROOT_SECRET, "ROOT_SECRET"), (OPERATOR_SECRET, "OPERATOR_SECRET"), (ROOT_TOKEN, "ROOT_TOKEN")):
    register_secret(_value, _what)


def audit_dumps(base: Path) -> list[Path]:
    """Every audit entry the session's servers wrote (each SQLite database's ``audit_entries``), one file per database
    beside it, so the same scan covers the audit log."""
    import sqlite3

    out = []
    for db in sorted({p.resolve() for p in base.glob("**/strongroom.db")}):
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
                rows = conn.execute("SELECT body FROM audit_entries").fetchall()
        except sqlite3.Error:
            continue  # no audit table (an older schema a test made on purpose)
        dump = db.with_name("audit-entries.jsonl")
        dump.write_text("".join(r[0] + "\n" for r in rows))
        out.append(dump)
    return out


def scan_logs(paths: list[Path]) -> list[str]:
    """``file:line: what`` for every registered secret and every signature or credential pattern in the files."""
    needles = dict(_log_secrets())
    problems = []
    for path in paths:
        data = path.read_bytes()
        hits = [what for needle, what in needles.items() if needle in data]
        hits += [what for what, pattern in _LOG_PATTERNS.items() if pattern.search(data)]
        if not hits:
            continue
        for number, line in enumerate(data.splitlines(), 1):
            found = [what for needle, what in needles.items() if needle in line]
            found += [what for what, pattern in _LOG_PATTERNS.items() if pattern.search(line)]
            problems += [f"{path}:{number}: {what}" for what in sorted(set(found))]
    return problems


def server_logs(base: Path) -> list[Path]:
    """The server logs under the session's temp base (start_server writes them beside the data directory), each
    once (pytest links ``<test>current`` to a test's latest temp directory)."""
    return sorted({p.resolve() for p in (*base.glob("*/server-*.log"), *base.glob("*/*/server-*.log"))})


@pytest.fixture(scope="session", autouse=True)
def _logs_hold_no_secrets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    yield
    base = tmp_path_factory.getbasetemp()
    problems = scan_logs(server_logs(base) + audit_dumps(base))
    assert not problems, "a server log or audit entry holds a secret:\n" + "\n".join(problems)
