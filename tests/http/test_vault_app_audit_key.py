# ruff: noqa: F811 - pytest fixtures imported from tests/http/vaultapp.py are parameters here
"""The audit checkpoint key over HTTP (in process): the internal sign/public-keys routes for the gateways, the
operators' read and sudo-only rotation, and that no answer carries the private key."""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from starlette.testclient import TestClient
from tests.http.vaultapp import INTERNAL, ROOT, call, client, core  # noqa: F401 - fixtures

from strongroom.keys.auditkey import AUDIT_KEY_PATH
from strongroom.service.vault import VaultCore

NOTE = b"strongroom.audit/system\n1\nAAAA\ntime 1\n"


def sign(client: TestClient, data: bytes, token: str = INTERNAL) -> Any:
    return call(client, "POST", "strongroom/internal/audit/sign", token, {"input": base64.b64encode(data).decode()})


def public_keys(client: TestClient) -> dict[int, bytes]:
    r = call(client, "GET", "strongroom/internal/audit/public-keys", INTERNAL)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    keys = {int(v): base64.b64decode(k) for v, k in data["keys"].items()}
    assert data["latest_version"] == max(keys)
    return keys


def test_internal_routes_need_the_internal_token(client: TestClient) -> None:
    for token in (ROOT, "wrong", ""):
        assert sign(client, NOTE, token).status_code == 403
        r = call(client, "GET", "strongroom/internal/audit/public-keys", token)
        assert r.status_code == 403 and r.json() == {"errors": ["permission denied"]}


def test_sign_verifies_with_the_published_key(client: TestClient) -> None:
    r = sign(client, NOTE)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert set(data) == {"signature", "key_version"} and data["key_version"] == 1
    signature = base64.b64decode(data["signature"])
    assert len(signature) == 64
    Ed25519PublicKey.from_public_bytes(public_keys(client)[1]).verify(signature, NOTE)


def test_sign_refuses_bad_input(client: TestClient) -> None:
    assert call(client, "POST", "strongroom/internal/audit/sign", INTERNAL, {}).status_code == 400
    assert call(client, "POST", "strongroom/internal/audit/sign", INTERNAL, {"input": "%%%"}).status_code == 400
    assert sign(client, b"x" * (64 * 1024 + 1)).status_code == 400


def test_operator_reads_and_rotates_old_versions_still_verify(client: TestClient) -> None:
    before = base64.b64decode(sign(client, NOTE).json()["data"]["signature"])
    r = call(client, "GET", "sys/strongroom/audit-key")
    assert r.status_code == 200 and r.json()["data"]["latest_version"] == 1
    assert r.json()["data"]["type"] == "ed25519" and r.json()["data"]["exportable"] is False
    r = call(client, "POST", "sys/strongroom/audit-key/rotate")
    assert r.status_code == 200 and r.json()["data"]["latest_version"] == 2
    after = sign(client, NOTE).json()["data"]
    assert after["key_version"] == 2
    keys = public_keys(client)
    assert set(keys) == {1, 2}
    Ed25519PublicKey.from_public_bytes(keys[1]).verify(before, NOTE)
    Ed25519PublicKey.from_public_bytes(keys[2]).verify(base64.b64decode(after["signature"]), NOTE)
    read_keys = call(client, "GET", "sys/strongroom/audit-key").json()["data"]["keys"]
    assert {v: base64.b64decode(k["public_key"]) for v, k in read_keys.items()} == {"1": keys[1], "2": keys[2]}


def test_rotation_needs_sudo_and_the_key_is_not_a_tenants(client: TestClient, core: VaultCore) -> None:
    rules = 'path "sys/strongroom/*" { capabilities = ["read", "update"] }\npath "sys/strongroom/audit-key" { capabilities = ["read"] }'
    assert call(client, "PUT", "sys/policy/keyop", body={"policy": rules}).status_code == 204
    token = call(client, "POST", "auth/token/create", body={"policies": ["keyop"]}).json()["auth"]["client_token"]
    assert call(client, "GET", "sys/strongroom/audit-key", token).status_code == 200
    assert call(client, "POST", "sys/strongroom/audit-key/rotate", token).status_code == 403
    sudo = rules.replace('["read", "update"]', '["read", "update", "sudo"]')
    call(client, "PUT", "sys/policy/keyop", body={"policy": sudo})
    assert call(client, "POST", "sys/strongroom/audit-key/rotate", token).status_code == 200
    # a tenant namespace's admin (every capability in its namespace) reaches neither route
    call(client, "POST", "strongroom/internal/namespaces/acme", INTERNAL)
    r = call(client, "POST", "strongroom/internal/namespaces/acme/token", INTERNAL, {"ttl": 60})
    tenant = r.json()["data"]["client_token"]
    assert call(client, "GET", "sys/strongroom/audit-key", tenant, ns="acme").status_code == 403
    assert call(client, "POST", "sys/strongroom/audit-key/rotate", tenant, ns="acme").status_code == 403
    assert call(client, "GET", "sys/strongroom/audit-key", ROOT, ns="acme").status_code == 403


def test_private_key_is_in_no_answer(client: TestClient, core: VaultCore) -> None:
    answers = [
        sign(client, NOTE).text,
        call(client, "POST", "sys/strongroom/audit-key/rotate").text,
        call(client, "GET", "sys/strongroom/audit-key").text,
        call(client, "GET", "strongroom/internal/audit/public-keys", INTERNAL).text,
        # no transit or KV path reaches the entry
        call(client, "GET", "transit/keys/audit-checkpoints").text,
        call(client, "GET", "transit/export/signing-key/audit-checkpoints").text,
        call(client, "GET", f"secret/data/{AUDIT_KEY_PATH}").text,
        call(client, "LIST", "transit/keys").text,
    ]
    raw = core.seal_manager.barrier.get(AUDIT_KEY_PATH)
    assert raw is not None
    versions = json.loads(raw)["versions"]
    assert len(versions) == 2
    for v in versions.values():
        private = base64.b64decode(v["private_key"])
        for form in (v["private_key"], base64.b64encode(private[:32]).decode(), private[:32].hex()):
            assert all(form not in text for text in answers)


def test_sealed_vault_answers_503(client: TestClient, core: VaultCore) -> None:
    core.seal()
    assert sign(client, NOTE).status_code == 503
    assert call(client, "GET", "strongroom/internal/audit/public-keys", INTERNAL).status_code == 503
