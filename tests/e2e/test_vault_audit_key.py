"""The audit checkpoint key through the real server: the gateway's VaultClient signs and reads public keys over the
internal API (with the per-start internal token, read from the gateway's environment), the vault refuses those
routes without it, and an operator's rotation keeps old signatures verifying."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from tests.conftest import ROOT_TOKEN, Server

from strongroom.core import errors
from strongroom.keys.vaultclient import VaultClient

pytestmark = pytest.mark.e2e

NOTE = b"strongroom.audit/tenant:default\n7\n3q2+7w==\ntime 1700000000000000\n"


def internal_token(server: Server) -> str:
    """The per-start internal token, from the gateway process's environment (the test runs as its user)."""
    environ = Path(f"/proc/{server.proc.pid}/environ").read_bytes().split(b"\0")
    for item in environ:
        if item.startswith(b"STRONGROOM__INTERNAL_TOKEN="):
            return item.split(b"=", 1)[1].decode()
    raise AssertionError("the gateway has no internal token in its environment")


def vault_url(server: Server) -> str:
    return str(json.loads((server.data_dir / "run" / "vault.json").read_text())["url"])


@pytest.fixture()
def vault(server: Server) -> Iterator[VaultClient]:
    client = VaultClient(vault_url(server), internal_token(server), Path(server.ca))
    yield client
    client.close()


def test_vault_client_signs_and_the_public_keys_verify(vault: VaultClient) -> None:
    version, signature = vault.audit_sign(NOTE)
    keys = vault.audit_public_keys()
    assert version == max(keys) and len(signature) == 64 and all(len(k) == 32 for k in keys.values())
    Ed25519PublicKey.from_public_bytes(keys[version]).verify(signature, NOTE)
    assert vault.audit_public_keys() == keys  # stable between calls


def test_internal_routes_refuse_other_tokens(server: Server) -> None:
    url = vault_url(server) + "/v1/strongroom/internal/audit/"
    with httpx.Client(verify=ssl.create_default_context(cafile=server.ca), timeout=30) as http:
        for headers in ({}, {"x-vault-token": ROOT_TOKEN}, {"x-vault-token": "not-the-internal-token"}):
            r = http.post(url + "sign", headers=headers, json={"input": "aGVsbG8="})
            assert r.status_code == 403 and r.json() == {"errors": ["permission denied"]}
            r = http.get(url + "public-keys", headers=headers)
            assert r.status_code == 403 and r.json() == {"errors": ["permission denied"]}
    bad = VaultClient(vault_url(server), "not-the-internal-token", Path(server.ca))
    with pytest.raises(errors.Unavailable):
        bad.audit_sign(NOTE)
    with pytest.raises(errors.Unavailable):
        bad.audit_public_keys()
    bad.close()


def test_operator_rotation_keeps_old_signatures_verifying(server: Server, vault: VaultClient) -> None:
    old_version, old_signature = vault.audit_sign(NOTE)
    with httpx.Client(
        verify=ssl.create_default_context(cafile=server.ca), timeout=30, headers={"x-vault-token": ROOT_TOKEN}
    ) as http:
        r = http.post(vault_url(server) + "/v1/sys/strongroom/audit-key/rotate")
        assert r.status_code == 200, r.text
        assert r.json()["data"]["latest_version"] == old_version + 1
        read = http.get(vault_url(server) + "/v1/sys/strongroom/audit-key").json()["data"]
    assert "private_key" not in json.dumps(read)
    new_version, new_signature = vault.audit_sign(NOTE)
    assert new_version == old_version + 1
    keys = vault.audit_public_keys()
    Ed25519PublicKey.from_public_bytes(keys[old_version]).verify(old_signature, NOTE)
    Ed25519PublicKey.from_public_bytes(keys[new_version]).verify(new_signature, NOTE)
