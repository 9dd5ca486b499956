# ruff: noqa: F811 - pytest fixtures imported from tests/http/vaultapp.py are parameters here
"""sys/audit over HTTP (in process): sudo and root-namespace only, Vault's error shapes, every request and response
written in Vault's JSON format with HMAC'd values, internal calls too, and fail closed."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient
from tests.http.vaultapp import INTERNAL, ROOT, call, client, core  # noqa: F401 - fixtures

from strongroom.http.vault.app import VaultApp
from strongroom.keys.seal import SealManager
from strongroom.keys.storage import MemoryStorage
from strongroom.service.vault import VaultCore


def enable(client: TestClient, log: Path, path: str = "file", **options: Any) -> Any:
    return call(
        client, "PUT", f"sys/audit/{path}", body={"type": "file", "options": {"file_path": str(log), **options}}
    )


def entries(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def token_with(client: TestClient, name: str, rules: str) -> str:
    assert call(client, "PUT", f"sys/policy/{name}", body={"policy": rules}).status_code == 204
    return str(call(client, "POST", "auth/token/create", body={"policies": [name]}).json()["auth"]["client_token"])


def test_enable_list_hash_disable(client: TestClient, tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    r = call(
        client,
        "PUT",
        "sys/audit/file",
        body={"type": "file", "description": "d", "options": {"file_path": str(log), "log_raw": False}},
    )
    assert r.status_code == 204, r.text
    listed = call(client, "GET", "sys/audit").json()
    device = {
        "type": "file",
        "description": "d",
        "options": {"file_path": str(log), "log_raw": "false"},
        "local": False,
        "path": "file/",
    }
    assert listed["file/"] == device and listed["data"] == {"file/": device}
    hashed = call(client, "POST", "sys/audit-hash/file", body={"input": "x"}).json()
    assert hashed["hash"].startswith("hmac-sha256:") and hashed["data"]["hash"] == hashed["hash"]
    assert call(client, "DELETE", "sys/audit/file").status_code == 204
    assert call(client, "DELETE", "sys/audit/file").status_code == 204  # not an error, as in Vault
    assert call(client, "GET", "sys/audit").json()["data"] == {}
    assert call(client, "GET", "sys/audit/file").status_code == 405


def test_vault_error_shapes(client: TestClient, tmp_path: Path) -> None:
    r = call(client, "PUT", "sys/audit/x", body={"type": "syslog"})
    assert r.status_code == 400 and r.json() == {"errors": ['unknown backend type: "syslog"']}
    assert r.headers["content-type"] == "application/json"
    assert enable(client, tmp_path / "a.log").status_code == 204
    r = enable(client, tmp_path / "b.log")
    assert r.status_code == 400 and r.json() == {"errors": ['path "file/" already in use: invalid configuration']}
    r = enable(client, tmp_path / "b.log", path="other", format="jsonx")
    assert r.status_code == 400 and "jsonx" in r.json()["errors"][0]
    r = call(client, "PUT", "sys/audit/other", body={"type": "file", "options": {"file_path": "discard", "x": [1]}})
    assert r.status_code == 400 and r.json() == {"errors": ["options must be string valued"]}
    r = call(client, "POST", "sys/audit-hash/nope", body={"input": "x"})
    assert r.status_code == 400 and r.json() == {"errors": ['unknown audit backend "nope/"']}
    r = call(client, "POST", "sys/audit-hash/file", body={})
    assert r.status_code == 400 and r.json() == {"errors": ['the "input" parameter is empty']}


def test_sudo_and_the_root_namespace_are_required(client: TestClient, tmp_path: Path) -> None:
    no_sudo = token_with(
        client, "auditors", 'path "sys/audit*" { capabilities = ["create", "read", "update", "delete"] }'
    )
    for method, path, body in (
        ("GET", "sys/audit", None),
        ("PUT", "sys/audit/file", {"type": "file", "options": {"file_path": "discard"}}),
        ("DELETE", "sys/audit/file", None),
        ("POST", "sys/audit-hash/file", {"input": "x"}),
    ):
        r = call(client, method, path, no_sudo, body)
        assert r.status_code == 403 and r.json() == {"errors": ["permission denied"]}
    sudo = token_with(
        client, "auditors2", 'path "sys/audit*" { capabilities = ["create", "read", "update", "delete", "sudo"] }'
    )
    assert enable(client, tmp_path / "a.log").status_code == 204
    assert call(client, "GET", "sys/audit", sudo).status_code == 200
    # a tenant namespace's admin and a root token sent into a tenant namespace are refused
    call(client, "POST", "strongroom/internal/namespaces/acme", INTERNAL)
    tenant = call(client, "POST", "strongroom/internal/namespaces/acme/token", INTERNAL, {"ttl": 60}).json()["data"][
        "client_token"
    ]
    for token in (tenant, ROOT):
        assert call(client, "GET", "sys/audit", token, ns="acme").status_code == 403
        assert call(client, "POST", "sys/audit-hash/file", token, {"input": "x"}, ns="acme").status_code == 403


def test_requests_and_responses_in_vaults_format(client: TestClient, tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    assert enable(client, log).status_code == 204
    plaintext = base64.b64encode(b"attack at dawn").decode()
    assert call(client, "POST", "transit/keys/k1").status_code == 204
    r = call(client, "POST", "transit/encrypt/k1", body={"plaintext": plaintext})
    ciphertext = r.json()["data"]["ciphertext"]
    r = call(client, "POST", "transit/decrypt/k1", body={"ciphertext": ciphertext})
    assert r.json()["data"]["plaintext"] == plaintext
    assert (
        call(client, "POST", "secret/data/app", body={"data": {"password": "hunter2-secret", "port": 5432}}).status_code
        == 200
    )
    assert call(client, "GET", "secret/data/app").json()["data"]["data"]["password"] == "hunter2-secret"
    got = entries(log)
    by_path = {(e["type"], e["request"]["path"], e["request"]["operation"]): e for e in got}
    salt_hash = lambda v: call(client, "POST", "sys/audit-hash/file", body={"input": v}).json()["hash"]  # noqa: E731

    enc_req, enc_resp = (
        by_path[("request", "transit/encrypt/k1", "update")],
        by_path[("response", "transit/encrypt/k1", "update")],
    )
    assert enc_req["request"]["id"] == enc_resp["request"]["id"]
    assert enc_req["request"]["operation"] == "update" and enc_req["request"]["mount_type"] == "transit"
    assert enc_req["request"]["mount_point"] == "transit/" and enc_req["request"]["namespace"] == {"id": "root"}
    assert enc_req["request"]["data"] == {"plaintext": salt_hash(plaintext)}
    assert enc_resp["response"]["data"]["ciphertext"] == salt_hash(ciphertext)
    assert enc_req["auth"]["client_token"] == salt_hash(ROOT) == enc_req["request"]["client_token"]
    assert enc_req["auth"]["policies"] == ["root"] and enc_req["auth"]["display_name"].endswith("root")
    assert enc_req["auth"]["token_type"] == "service" and enc_req["auth"]["policy_results"] == {"allowed": True}
    assert enc_req["request"]["remote_address"] and "time" in enc_req
    kv = by_path[("request", "secret/data/app", "update")]
    assert kv["request"]["mount_type"] == "kv"
    assert kv["request"]["data"] == {"data": {"password": salt_hash("hunter2-secret"), "port": 5432}}
    read = by_path[("response", "secret/data/app", "read")]
    assert read["request"]["operation"] == "read"
    assert read["response"]["data"]["data"]["password"] == salt_hash("hunter2-secret")
    assert read["response"]["data"]["metadata"]["version"] == 1  # numbers stay
    text = log.read_text()
    for secret in (plaintext, ciphertext, "hunter2-secret", ROOT, "attack at dawn"):
        assert secret not in text
    assert all(e["type"] in ("request", "response") for e in got)


def test_tokens_handed_out_are_hashed_and_refusals_logged(client: TestClient, tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    enable(client, log, hmac_accessor="false")
    r = call(client, "POST", "auth/token/create", body={"policies": ["default"]})
    new_token, accessor = r.json()["auth"]["client_token"], r.json()["auth"]["accessor"]
    assert call(client, "GET", "secret/data/x", "hvs.not-a-token").status_code == 403
    assert call(client, "GET", "secret/data/x", new_token).status_code == 403
    got = entries(log)
    created = [e for e in got if e["type"] == "response" and e["request"]["path"] == "auth/token/create"][0]
    assert created["response"]["auth"]["client_token"].startswith("hmac-sha256:")
    assert created["response"]["auth"]["accessor"] == accessor  # hmac_accessor=false
    refused = [e for e in got if e["request"]["path"] == "secret/data/x"]
    assert [e["type"] for e in refused] == ["request", "request"]  # Vault logs the request, with the error
    assert all(e["error"] == "permission denied" for e in refused)
    assert refused[1]["auth"]["policy_results"] == {"allowed": False}
    assert new_token not in log.read_text() and "hvs.not-a-token" not in log.read_text()


def test_errors_are_recorded_in_the_response(client: TestClient, tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    enable(client, log)
    assert call(client, "POST", "transit/decrypt/nokey", body={"ciphertext": "vault:v1:AAAA"}).status_code == 400
    (resp,) = [e for e in entries(log) if e["type"] == "response" and e["request"]["path"] == "transit/decrypt/nokey"]
    assert resp["error"] == "invalid request" and resp["response"]["data"]["error"].startswith("hmac-sha256:")


def test_internal_calls_are_audited_as_the_gateway(client: TestClient, tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    enable(client, log)
    call(client, "POST", "strongroom/internal/namespaces/acme", INTERNAL)
    secret = "audit-device-test-secret-0123456789abcdef"
    body = {"secret": secret, "tenant": "acme", "user": "admin"}
    call(client, "POST", "strongroom/internal/credentials/SRACME", INTERNAL, body, ns="acme")
    got = call(client, "GET", "strongroom/internal/credentials/SRACME", INTERNAL, ns="acme").json()["data"]
    assert got["secret"] == secret
    read = [e for e in entries(log) if e["request"]["path"] == "strongroom/internal/credentials/SRACME"]
    assert [e["type"] for e in read] == ["request", "response", "request", "response"]
    assert read[2]["auth"]["display_name"] == "strongroom-gateway" and read[2]["request"]["mount_type"] == "strongroom"
    assert read[2]["request"]["namespace"]["path"] == "acme/" and read[2]["request"]["namespace"]["id"]
    assert read[0]["request"]["data"]["secret"].startswith("hmac-sha256:")
    assert read[3]["response"]["data"]["secret"].startswith("hmac-sha256:")
    assert secret not in log.read_text() and INTERNAL not in log.read_text()


def test_unauthenticated_endpoints_are_not_audited(client: TestClient, tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    enable(client, log)
    before = len(entries(log))
    client.get("/v1/sys/seal-status")
    client.get("/v1/sys/health")
    assert len(entries(log)) == before


def test_fail_closed_nothing_changes(client: TestClient, tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    enable(client, log)
    assert call(client, "POST", "secret/data/cfg", body={"data": {"v": "one"}}).status_code == 200
    assert call(client, "POST", "transit/keys/k2").status_code == 204
    log.rename(tmp_path / "audit.log.saved")
    log.mkdir()  # appending to the log now fails (for root too)
    r = call(client, "POST", "secret/data/cfg", body={"data": {"v": "two"}})
    assert r.status_code == 500 and r.json() == {"errors": ["internal error"]}
    r = call(client, "POST", "transit/encrypt/k2", body={"plaintext": "aGk="})
    assert r.status_code == 500 and r.json() == {"errors": ["internal error"]}
    assert call(client, "POST", "transit/keys/k3").status_code == 500
    r = call(client, "POST", "strongroom/internal/namespaces/globex", INTERNAL)
    assert r.status_code == 500 and r.json()["errors"] == ["internal error"]
    log.rmdir()
    (tmp_path / "audit.log.saved").rename(log)
    assert call(client, "GET", "secret/data/cfg").json()["data"]["data"] == {"v": "one"}  # unchanged
    assert call(client, "GET", "secret/metadata/cfg").json()["data"]["current_version"] == 1
    assert call(client, "GET", "transit/keys/k3").status_code == 404  # never created
    assert call(client, "GET", "sys/namespaces/globex").status_code == 404


def test_devices_come_back_after_seal_and_unseal(tmp_path: Path) -> None:
    physical = MemoryStorage()
    core = VaultCore(physical, SealManager(physical))
    key = core.initialize(1, 1, root_token=ROOT).keys[0]
    core.submit_unseal_key(key, reset=False)
    client = TestClient(VaultApp(core, internal_token=INTERNAL))  # no lifespan (no auto-rotation task)
    log = tmp_path / "audit.log"
    enable(client, log)
    before = call(client, "POST", "sys/audit-hash/file", body={"input": "x"}).json()["hash"]
    assert call(client, "PUT", "sys/seal").status_code == 204
    assert call(client, "GET", "sys/audit").status_code == 503
    count = len(entries(log))
    r = client.put("/v1/sys/unseal", json={"key": base64.b64encode(key).decode()})
    assert r.status_code == 200 and r.json()["sealed"] is False
    assert len(entries(log)) == count  # unseal itself is not audited (as in Vault)
    assert list(call(client, "GET", "sys/audit").json()["data"]) == ["file/"]
    assert call(client, "POST", "sys/audit-hash/file", body={"input": "x"}).json()["hash"] == before
    assert len(entries(log)) == count + 4
    client.close()
    again = TestClient(VaultApp(core, internal_token=INTERNAL))  # a restart: the device is in the barrier
    assert call(again, "POST", "sys/audit-hash/file", body={"input": "x"}).json()["hash"] == before
    again.close()


def test_a_login_on_an_enabled_mount_is_audited_with_its_mount_and_hmacd_secrets(
    client: TestClient, tmp_path: Path
) -> None:
    log = tmp_path / "audit.log"
    assert enable(client, log).status_code == 204
    assert call(client, "POST", "sys/auth/people", body={"type": "userpass"}).status_code == 204
    password = "a-password-nobody-logs"
    assert call(client, "POST", "auth/people/users/ann", body={"password": password}).status_code == 204
    r = client.post("/v1/auth/people/login/ann", json={"password": password})
    assert r.status_code == 200
    token = r.json()["auth"]["client_token"]
    text = log.read_text()
    assert password not in text and token not in text  # HMAC'd, as Vault's devices write them
    login = [e for e in entries(log) if e["request"]["path"] == "auth/people/login/ann"]
    assert [e["type"] for e in login] == ["request", "response"]
    assert all(
        e["request"]["mount_point"] == "auth/people/" and e["request"]["mount_type"] == "userpass" for e in login
    )
    assert login[1]["response"]["auth"]["client_token"].startswith("hmac-sha256:")
    assert login[1]["response"]["auth"]["metadata"] == {"username": "ann"}
