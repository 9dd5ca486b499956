"""Start a real strongroom server subprocess (``python -m strongroom serve``) over real TLS, for the test suite and
the benchmarks (tests/conftest.py re-exports everything here; bench/ imports it from the package).

The well-known credentials below are for throwaway test and benchmark servers only."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT_ACCESS = "SRTESTROOTACCESSKEY1"
ROOT_SECRET = "test-root-secret-key-0123456789abcdefghij"
ROOT_TOKEN = "hvs.strongroom-test-root-token"
# the first start's operator (tenant "system", user "admin")
OPERATOR_ACCESS = "SRTESTOPERATORACCESS"
OPERATOR_SECRET = "test-operator-secret-0123456789abcdefghij"


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

    def client(self, service: str = "s3", access: str = ROOT_ACCESS, secret: str = ROOT_SECRET, **cfg: Any) -> Any:
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

    def admin(self, access: str = ROOT_ACCESS, secret: str = ROOT_SECRET) -> Any:
        """A signed client of the admin API (as the given access key; default: tenant default's admin)."""
        from strongroom.http.admin.client import AdminClient

        return AdminClient(self.endpoint, access, secret, ssl.create_default_context(cafile=self.ca))

    def tenant_vault(self, access: str = ROOT_ACCESS, secret: str = ROOT_SECRET) -> Any:
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


def wait_healthy(server: Server, timeout: float = 120.0) -> None:
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
