"""The CLI from any working directory (issue 13): every read-only command run from a directory that is not the
server's, with --data-dir or STRONGROOM_DATA_DIR; one-line errors for a server out of reach, a missing token, an
existing key, a port in use and a bad configuration; --version; config check; readable key tables."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import tests.conftest as ct

if TYPE_CHECKING:
    from tests.conftest import Server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = ct.start_server(tmp_path_factory.mktemp("cli-anywhere") / "data")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def elsewhere(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("elsewhere")  # no strongroom-data, no strongroom.toml here


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRONGROOM_", "AWS_", "VAULT_"))}
    env.update(extra)
    return env


def run(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "strongroom", *args],
        env=_env(COLUMNS="200", **env),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


def _creds(srv: Server, token: str = ct.ROOT_TOKEN) -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": ct.ROOT_ACCESS, "AWS_SECRET_ACCESS_KEY": ct.ROOT_SECRET, "VAULT_TOKEN": token}


def _tenant_token(srv: Server) -> str:
    """A vault token of tenant default's namespace, as its admin gets one (`strongroom vault token`)."""
    token = str(srv.admin().request("POST", "/vault/token", {"ttl_seconds": 600})["token"])
    ct.register_secret(token, "a tenant vault token")
    return token


def _vault_url(srv: Server) -> str:
    return str(json.loads((srv.data_dir / "run" / "vault.json").read_text())["url"]).rstrip("/")


def _vault_get(srv: Server, path: str) -> dict[str, Any]:
    headers = {"x-vault-token": ct.ROOT_TOKEN, "x-vault-namespace": "default"}
    r = httpx.get(f"{_vault_url(srv)}/v1/{path}", headers=headers, verify=ssl.create_default_context(cafile=srv.ca))
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_every_read_only_command_works_from_another_directory(srv: Server, elsewhere: Path) -> None:
    bucket = f"anywhere-{uuid.uuid4().hex[:8]}"
    s3 = srv.client()
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    commands = [
        ["operator", "status"],
        ["key", "list"],
        ["tenant", "list"],  # (tenants are the operators')
        ["tenant", "show", "default"],
        ["user", "list", "default"],
        ["group", "list", "default"],
        ["accesskey", "list"],
        ["lockbox", "list"],
        ["transparency-report"],
        ["audit", "public-key"],
    ]
    for how in ("flag", "env"):
        for command in commands:
            creds = _creds(srv)
            if command[0] == "tenant":
                creds.update(AWS_ACCESS_KEY_ID=ct.OPERATOR_ACCESS, AWS_SECRET_ACCESS_KEY=ct.OPERATOR_SECRET)
            if how == "flag":
                out = run(elsewhere, *command, "--data-dir", str(srv.data_dir), **creds)
            else:
                out = run(elsewhere, *command, STRONGROOM_DATA_DIR=str(srv.data_dir), **creds)
            assert out.returncode == 0, (how, command, out.stdout, out.stderr)
            assert "Traceback" not in out.stderr, (command, out.stderr)
    listed = run(elsewhere, "key", "list", "--data-dir", str(srv.data_dir), **_creds(srv, _tenant_token(srv)))
    assert bucket in listed.stdout  # the bucket's own key shows the bucket's name, to the tenant
    as_operator = run(elsewhere, "key", "list", "--data-dir", str(srv.data_dir), **_creds(srv))
    assert as_operator.returncode == 0 and bucket not in as_operator.stdout  # never to the operator


def test_key_tables_name_the_bucket_and_json_is_unchanged(srv: Server, elsewhere: Path) -> None:
    bucket = f"tables-{uuid.uuid4().hex[:8]}"
    s3 = srv.client()
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")  # the bucket key exists once an object is sealed
    key = _vault_get(srv, f"strongroom/buckets/{bucket}")["data"]["key"]
    token = _tenant_token(srv)
    shown = run(elsewhere, "key", "show", key, "--data-dir", str(srv.data_dir), **_creds(srv, token))
    assert shown.returncode == 0, shown.stderr
    assert "│ bucket " in shown.stdout and bucket in shown.stdout
    assert "│ name " in shown.stdout and key in shown.stdout
    as_json = run(elsewhere, "key", "show", key, "--json", "--data-dir", str(srv.data_dir), **_creds(srv))
    assert json.loads(as_json.stdout) == _vault_get(srv, f"transit/keys/{key}")["data"]
    rows = json.loads(run(elsewhere, "key", "list", "--json", "--data-dir", str(srv.data_dir), **_creds(srv)).stdout)
    assert key in {r["name"] for r in rows}
    table = run(elsewhere, "key", "list", "--data-dir", str(srv.data_dir), **_creds(srv, token)).stdout
    line = next(row for row in table.splitlines() if key in row)
    assert bucket in line and "enabled" in line


def test_recreating_a_key_says_it_exists(srv: Server, elsewhere: Path) -> None:
    name = f"k-{uuid.uuid4().hex[:8]}"
    first = run(elsewhere, "key", "create", name, "--data-dir", str(srv.data_dir), **_creds(srv))
    assert first.returncode == 0 and first.stdout.startswith(f"created key {name} "), first.stderr
    again = run(elsewhere, "key", "create", name, "--data-dir", str(srv.data_dir), **_creds(srv))
    assert (again.returncode, again.stdout, again.stderr) == (
        1,
        "",
        f"Error: key {name} already exists in tenant default\n",
    )


def test_a_missing_token_says_so(srv: Server, elsewhere: Path) -> None:
    out = run(elsewhere, "key", "list", "--data-dir", str(srv.data_dir))
    assert (out.returncode, out.stderr) == (2, "Error: no vault token: set VAULT_TOKEN or pass --token\n")


def test_a_server_out_of_reach_is_one_line(srv: Server, elsewhere: Path) -> None:
    port = ct.free_port()
    out = run(elsewhere, "key", "list", "--vault-addr", f"https://127.0.0.1:{port}", **_creds(srv))
    assert (out.returncode, out.stderr) == (
        2,
        f"Error: cannot reach the vault at https://127.0.0.1:{port}: is `strongroom serve` running?\n",
    )
    out = run(elsewhere, "tenant", "list", "--endpoint", f"https://127.0.0.1:{port}", **_creds(srv))
    assert (out.returncode, out.stderr) == (
        2,
        f"Error: cannot reach the S3 endpoint at https://127.0.0.1:{port}: is `strongroom serve` running?\n",
    )
    # the default data directory does not exist here: no recorded CA, the server's certificate cannot be verified
    out = run(elsewhere, "key", "list", "--vault-addr", _vault_url(srv), **_creds(srv))
    origin = _vault_url(srv)
    assert out.returncode == 2 and out.stderr == (
        f"Error: cannot verify the certificate of the vault at {origin}: pass the CA with --ca-bundle (or "
        "VAULT_CACERT / STRONGROOM_CA_BUNDLE), or --data-dir of the server\n"
    )
    with_ca = run(elsewhere, "key", "list", "--vault-addr", _vault_url(srv), VAULT_CACERT=str(srv.ca), **_creds(srv))
    assert with_ca.returncode == 0, with_ca.stderr


def test_version_and_config_check(elsewhere: Path) -> None:
    from importlib.metadata import version

    out = run(elsewhere, "--version")
    assert (out.returncode, out.stdout) == (0, f"strongroom {version('strongroom')}\n")
    good = elsewhere / "good.toml"
    good.write_text("port = 9443\n")
    out = run(elsewhere, "config", "check", str(good))
    assert (out.returncode, out.stdout) == (0, f"ok: {good} (sets port)\n")
    bad = elsewhere / "bad.toml"
    bad.write_text("prot = 9443\n")
    out = run(elsewhere, "config", "check", str(bad))
    assert (out.returncode, out.stdout, out.stderr) == (
        2,
        "",
        f"Error: {bad}: unknown setting `prot`; did you mean `port`?\n",
    )
    out = run(elsewhere, "config", "check", str(elsewhere / "missing.toml"))
    assert (out.returncode, out.stderr) == (2, f"Error: config file {elsewhere / 'missing.toml'} does not exist\n")
    out = run(elsewhere, "config", "check", STRONGROOM_WORKRES="2")
    assert (out.returncode, out.stderr) == (
        2,
        "Error: unknown environment variable STRONGROOM_WORKRES; did you mean STRONGROOM_WORKERS?\n",
    )


def test_serve_refuses_a_bad_config_and_a_port_in_use_before_any_banner(elsewhere: Path) -> None:
    data = elsewhere / "never-made"
    out = run(elsewhere, "serve", "--data-dir", str(data), "--config", str(elsewhere / "nope.toml"))
    assert (out.returncode, out.stdout, out.stderr) == (
        2,
        "",
        f"Error: config file {elsewhere / 'nope.toml'} does not exist\n",
    )
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        out = run(elsewhere, "serve", "--data-dir", str(data), "--port", str(port), "--vault-port", str(ct.free_port()))
    finally:
        taken.close()
    assert (out.returncode, out.stdout) == (2, "")
    assert out.stderr == f"Error: cannot listen on 127.0.0.1:{port} for the S3 endpoint: address already in use\n"
    assert not data.exists()  # refused before anything was made


def test_serve_help_names_each_setting(elsewhere: Path) -> None:
    out = run(elsewhere, "serve", "--help")
    assert out.returncode == 0
    for flag, name in [
        ("--port", "port"),
        ("--vault-port", "vault_port"),
        ("--data-dir", "data_dir"),
        ("--seal", "seal"),
    ]:
        line = next(row for row in out.stdout.splitlines() if f" {flag} " in row)
        assert f"(toml: {name}; env: STRONGROOM_{name.upper()})" in line, line
