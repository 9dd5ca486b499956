"""Vault's sys/audit through the real server, judged by hvac: enable a file device, list, hash, disable; every
request and response is in the log in Vault's JSON format with secrets only as HMACs; sudo is required; the device
survives a restart; and the vault fails closed when the log cannot be written.

One server of its own (module scope): a broken audit device refuses every vault request, so no other test may share
it.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hvac
import hvac.exceptions
import pytest
from tests.conftest import ROOT_TOKEN, Server, start_server

pytestmark = pytest.mark.e2e

AUDITED = ("time", "auth", "request", "type")


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("vault-audit") / "data")
    yield server
    server.stop()


def client(srv: Server, token: str = ROOT_TOKEN) -> hvac.Client:
    info = json.loads((srv.data_dir / "run" / "vault.json").read_text())
    return hvac.Client(url=info["url"], token=token, verify=srv.ca, timeout=30)


@pytest.fixture()
def vault(srv: Server) -> Iterator[hvac.Client]:
    c = client(srv)
    yield c
    c.adapter.close()


@pytest.fixture()
def log(vault: hvac.Client, tmp_path: Path) -> Iterator[Path]:
    """A file device at ``file/`` for one test."""
    path = tmp_path / "vault-audit.log"
    vault.sys.enable_audit_device("file", options={"file_path": str(path)})
    yield path
    vault.sys.disable_audit_device("file")


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def audit_hash(vault: hvac.Client, value: str, device: str = "file") -> str:
    got = vault.sys.calculate_hash(device, value)
    assert got["data"]["hash"] == got["hash"]
    return str(got["hash"])


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_enable_list_hash_disable_with_hvac(vault: hvac.Client, tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    vault.sys.enable_audit_device("file", description="test log", options={"file_path": str(path)})
    listed = vault.sys.list_enabled_audit_devices()
    want = {"type": "file", "description": "test log", "options": {"file_path": str(path)}, "local": False}
    assert {k: listed["data"]["file/"][k] for k in want} == want and listed["file/"]["path"] == "file/"
    assert audit_hash(vault, "x").startswith("hmac-sha256:") and len(audit_hash(vault, "x")) == len("hmac-sha256:") + 64
    with pytest.raises(hvac.exceptions.InvalidRequest, match="already in use"):
        vault.sys.enable_audit_device("file", options={"file_path": str(tmp_path / "b.log")})
    with pytest.raises(hvac.exceptions.InvalidRequest, match="unknown backend type"):
        vault.sys.enable_audit_device("socket", options={"address": "127.0.0.1:9"})
    vault.sys.disable_audit_device("file")
    assert "file/" not in vault.sys.list_enabled_audit_devices()["data"]
    with pytest.raises(hvac.exceptions.InvalidRequest, match="unknown audit backend"):
        vault.sys.calculate_hash("file", "x")


def test_transit_and_kv_are_logged_with_secrets_only_as_hmacs(vault: hvac.Client, log: Path) -> None:
    key, secret_path = uid("k"), uid("app")
    plaintext = base64.b64encode(b"the launch codes " + uuid.uuid4().bytes).decode()
    password = "pw-" + uuid.uuid4().hex
    vault.secrets.transit.create_key(key)
    ciphertext = vault.secrets.transit.encrypt_data(key, plaintext)["data"]["ciphertext"]
    assert vault.secrets.transit.decrypt_data(key, ciphertext)["data"]["plaintext"] == plaintext
    vault.secrets.kv.v2.create_or_update_secret(secret_path, secret={"password": password, "n": 7})
    assert vault.secrets.kv.v2.read_secret_version(secret_path, raise_on_deleted_version=True)["data"]["data"] == {
        "password": password,
        "n": 7,
    }
    entries = lines(log)
    assert all(set(AUDITED) <= set(e) and e["type"] in ("request", "response") for e in entries)
    text = log.read_text()
    for raw in (plaintext, ciphertext, password, ROOT_TOKEN, ciphertext.split(":")[-1]):
        assert raw not in text

    def pair(path: str, operation: str) -> tuple[dict[str, Any], dict[str, Any]]:
        got = [e for e in entries if e["request"]["path"] == path and e["request"]["operation"] == operation]
        assert [e["type"] for e in got] == ["request", "response"], got
        assert got[0]["request"]["id"] == got[1]["request"]["id"]
        return got[0], got[1]

    enc_req, enc_resp = pair(f"transit/encrypt/{key}", "update")
    assert enc_req["request"]["data"]["plaintext"] == audit_hash(vault, plaintext)  # sys/audit-hash = the log
    assert enc_resp["response"]["data"]["ciphertext"] == audit_hash(vault, ciphertext)
    for e in (enc_req, enc_resp):
        assert e["auth"]["client_token"] == audit_hash(vault, ROOT_TOKEN) == e["request"]["client_token"]
        assert e["auth"]["accessor"].startswith("hmac-sha256:") and e["auth"]["policies"] == ["root"]
        assert e["auth"]["token_type"] == "service" and "display_name" in e["auth"]
        assert e["request"]["client_token_accessor"] == e["auth"]["accessor"]
        assert e["request"]["mount_type"] == "transit" and e["request"]["namespace"] == {"id": "root"}
        assert e["request"]["remote_address"] and e["request"]["remote_port"] > 0
    assert enc_resp["response"]["mount_type"] == "transit"
    dec_req, dec_resp = pair(f"transit/decrypt/{key}", "update")
    assert dec_req["request"]["data"]["ciphertext"] == audit_hash(vault, ciphertext)
    assert dec_resp["response"]["data"]["plaintext"] == audit_hash(vault, plaintext)
    kv_req, kv_resp = pair(f"secret/data/{secret_path}", "update")
    assert kv_req["request"]["mount_type"] == "kv"
    assert kv_req["request"]["data"]["data"] == {"password": audit_hash(vault, password), "n": 7}
    assert kv_resp["response"]["data"]["version"] == 1
    _, read = pair(f"secret/data/{secret_path}", "read")
    assert read["response"]["data"]["data"]["password"] == audit_hash(vault, password)


def test_a_token_without_sudo_is_refused(vault: hvac.Client, srv: Server, log: Path) -> None:
    name = uid("auditor")
    vault.sys.create_or_update_policy(
        name, 'path "sys/audit*" { capabilities = ["create", "read", "update", "delete"] }'
    )
    token = vault.auth.token.create(policies=[name], ttl="10m")["auth"]["client_token"]
    other = client(srv, token)
    with pytest.raises(hvac.exceptions.Forbidden, match="permission denied"):
        other.sys.list_enabled_audit_devices()
    with pytest.raises(hvac.exceptions.Forbidden):
        other.sys.enable_audit_device("file", path=uid("x"), options={"file_path": "discard"})
    with pytest.raises(hvac.exceptions.Forbidden):
        other.sys.calculate_hash("file", "x")
    with pytest.raises(hvac.exceptions.Forbidden):
        other.sys.disable_audit_device("file")
    assert "file/" in vault.sys.list_enabled_audit_devices()["data"]
    refused = [e for e in lines(log) if e["request"]["path"] == "sys/audit" and e.get("error") == "permission denied"]
    assert refused and refused[0]["auth"]["client_token"] == audit_hash(vault, token)
    # a tenant namespace's token (through the admin API) cannot reach sys/audit either
    tenant = srv.tenant_vault()
    with pytest.raises(hvac.exceptions.Forbidden):
        tenant.sys.list_enabled_audit_devices()


def test_the_gateways_internal_calls_are_logged(srv: Server, log: Path) -> None:
    s3 = srv.client()
    bucket = uid("audited")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="o", Body=b"object body")
    internal = [e for e in lines(log) if e["request"]["path"].startswith("strongroom/internal/")]
    assert internal and all(e["auth"]["display_name"] == "strongroom-gateway" for e in internal)
    released = [e for e in internal if e["request"]["path"].startswith("strongroom/internal/bucket-key/")]
    assert [e["type"] for e in released] == ["request", "response"]
    for e in internal:
        assert e["auth"]["client_token"].startswith("hmac-sha256:")
    # the bucket key and whom it was released for are HMACs, as every string value is
    assert released[0]["request"]["data"]["principal"]["access_key"].startswith("hmac-sha256:")
    assert released[1]["response"]["data"]["key"].startswith("hmac-sha256:")
    assert released[1]["response"]["data"]["justification"].startswith("hmac-sha256:")


def test_audit_survives_a_restart(srv: Server, tmp_path: Path) -> None:
    path = tmp_path / "restart.log"
    vault = client(srv)
    vault.sys.enable_audit_device("file", path="kept", options={"file_path": str(path)})
    before = audit_hash(vault, "same value", "kept")
    vault.adapter.close()
    srv.restart()
    vault = client(srv)
    try:
        assert "kept/" in vault.sys.list_enabled_audit_devices()["data"]
        assert audit_hash(vault, "same value", "kept") == before  # the salt came back from the barrier
        vault.secrets.transit.create_key(uid("after-restart"))
        assert any(e["request"]["path"].startswith("transit/keys/after-restart") for e in lines(path))
    finally:
        vault.sys.disable_audit_device("kept")
        vault.adapter.close()


def test_fail_closed_when_no_device_can_write(vault: hvac.Client, log: Path) -> None:
    key, secret_path = uid("fc"), uid("fc")
    vault.secrets.transit.create_key(key)
    vault.secrets.kv.v2.create_or_update_secret(secret_path, secret={"v": "before"})
    saved = log.with_suffix(".saved")
    log.rename(saved)
    log.mkdir()  # the log path is now a directory: no process, root included, can append to it
    try:
        with pytest.raises(hvac.exceptions.InternalServerError, match="internal error"):
            vault.secrets.transit.encrypt_data(key, base64.b64encode(b"x").decode())
        with pytest.raises(hvac.exceptions.InternalServerError, match="internal error"):
            vault.secrets.kv.v2.create_or_update_secret(secret_path, secret={"v": "after"})
        with pytest.raises(hvac.exceptions.InternalServerError):
            vault.secrets.transit.create_key(key + "-new")
    finally:
        log.rmdir()
        saved.rename(log)
    got = vault.secrets.kv.v2.read_secret_version(secret_path, raise_on_deleted_version=True)["data"]
    assert got["data"] == {"v": "before"} and got["metadata"]["version"] == 1  # nothing was changed
    with pytest.raises(hvac.exceptions.InvalidPath):
        vault.secrets.transit.read_key(key + "-new")
    assert all(e["request"].get("data", {}).get("data") != {"v": "after"} for e in lines(log))
