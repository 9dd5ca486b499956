"""The key vault's Vault-compatible API, judged by the unmodified hvac client over TLS.

One shared keyfile-sealed server (conftest's session ``server``); every test uses its own key, policy and secret
names, so tests are independent of each other and of the other e2e files using the same server. Seal/unseal,
Shamir and restart behaviour live in test_vault_seal*.py (they need their own servers).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hvac
import hvac.exceptions
import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from tests.conftest import ROOT_TOKEN, Server, register_secret

pytestmark = pytest.mark.e2e


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def vault_info(data_dir: Path) -> dict[str, str]:
    return json.loads((data_dir / "run" / "vault.json").read_text())


def make_client(data_dir: Path, token: str | None = ROOT_TOKEN) -> hvac.Client:
    info = vault_info(data_dir)
    ca = str(data_dir / "tls" / "ca.pem")
    assert info["url"].startswith("https://")
    return hvac.Client(url=info["url"], token=token, verify=ca, timeout=30)


@pytest.fixture()
def vault(server: Server) -> Iterator[hvac.Client]:
    client = make_client(server.data_dir)
    yield client
    client.adapter.close()


# --- sys --------------------------------------------------------------------------------------------------------


def test_sys_init_seal_and_health_status_of_an_unsealed_keyfile_vault(vault: hvac.Client) -> None:
    assert vault.sys.is_initialized() is True
    assert vault.sys.read_init_status() == {"initialized": True}
    status = vault.sys.read_seal_status()
    assert status["sealed"] is False
    assert status["initialized"] is True
    assert status["type"] == "keyfile"
    assert (status["t"], status["n"], status["progress"]) == (1, 1, 0)
    assert isinstance(status["version"], str) and status["version"]
    assert vault.sys.is_sealed() is False

    health = vault.sys.read_health_status(method="GET")
    assert isinstance(health, dict), health  # hvac's JSONAdapter returns the body as a dict only on 200
    assert health["initialized"] is True and health["sealed"] is False and health["standby"] is False
    head = vault.sys.read_health_status(method="HEAD")
    assert isinstance(head, requests.Response) and head.status_code == 200


def test_token_auth_is_authenticated_and_lookup_self(vault: hvac.Client, server: Server) -> None:
    assert vault.is_authenticated() is True
    looked = vault.lookup_token()
    assert "root" in looked["data"]["policies"]
    assert looked["data"]["id"] == ROOT_TOKEN
    assert vault.auth.token.lookup_self()["data"]["policies"] == looked["data"]["policies"]

    bad = make_client(server.data_dir, token="hvs.not-a-real-token-at-all")
    assert bad.is_authenticated() is False
    with pytest.raises(hvac.exceptions.Forbidden):
        bad.lookup_token()
    with pytest.raises(hvac.exceptions.Forbidden):
        bad.secrets.transit.list_keys()
    with pytest.raises(hvac.exceptions.Forbidden):
        bad.secrets.kv.v2.read_secret_version(path="anything", raise_on_deleted_version=True)
    anonymous = make_client(server.data_dir, token=None)
    with pytest.raises(hvac.exceptions.Forbidden):
        anonymous.secrets.transit.list_keys()


def test_policy_crud(vault: hvac.Client) -> None:
    name = uid("pol")
    rules = 'path "secret/data/team/*" {\n  capabilities = ["read", "list"]\n}\n'
    vault.sys.create_or_update_policy(name=name, policy=rules)
    got = vault.sys.read_policy(name=name)
    assert got["data"]["name"] == name
    assert got["data"]["rules"] == rules
    listed = vault.sys.list_policies()["data"]["policies"]
    assert name in listed and "default" in listed and "root" in listed

    updated = 'path "secret/data/team/*" {\n  capabilities = ["read"]\n}\n'
    vault.sys.create_or_update_policy(name=name, policy=updated)
    assert vault.sys.read_policy(name=name)["data"]["rules"] == updated

    vault.sys.delete_policy(name=name)
    assert name not in vault.sys.list_policies()["data"]["policies"]
    with pytest.raises(hvac.exceptions.InvalidPath):
        vault.sys.read_policy(name=name)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        vault.sys.create_or_update_policy(name=uid("broken"), policy='path "x" { capabilities = ["fly"] }')


def test_token_create_with_policy_allows_only_its_paths_and_revoke(vault: hvac.Client, server: Server) -> None:
    k1, other = uid("k1"), uid("other")
    vault.secrets.transit.create_key(name=k1)
    vault.secrets.transit.create_key(name=other)
    secret_path = uid("kvsecret")
    vault.secrets.kv.v2.create_or_update_secret(path=secret_path, secret={"v": "1"})
    pol = uid("enc-only")
    vault.sys.create_or_update_policy(name=pol, policy=f'path "transit/encrypt/{k1}" {{ capabilities = ["update"] }}')

    created = vault.auth.token.create(policies=[pol], ttl="1h")
    auth = created["auth"]
    token = auth["client_token"]
    register_secret(token, "a token the root token made")  # the session's log scan fails if a server logs it
    assert token.startswith("hvs.")
    assert pol in auth["policies"] and "default" in auth["policies"] and "root" not in auth["policies"]
    assert auth["lease_duration"] == 3600

    limited = make_client(server.data_dir, token=token)
    assert limited.is_authenticated() is True
    me = limited.lookup_token()["data"]
    assert sorted(me["policies"]) == sorted([pol, "default"])
    assert 3500 <= me["ttl"] <= 3600 and me["creation_ttl"] == 3600
    assert vault.lookup_token(token)["data"]["accessor"] == auth["accessor"]

    ct = limited.secrets.transit.encrypt_data(name=k1, plaintext=b64(b"only encrypt"))["data"]["ciphertext"]
    assert ct.startswith("vault:v1:")
    # the root token can decrypt what the limited token encrypted
    assert unb64(vault.secrets.transit.decrypt_data(name=k1, ciphertext=ct)["data"]["plaintext"]) == b"only encrypt"
    with pytest.raises(hvac.exceptions.Forbidden):
        limited.secrets.transit.decrypt_data(name=k1, ciphertext=ct)
    with pytest.raises(hvac.exceptions.Forbidden):
        limited.secrets.transit.encrypt_data(name=other, plaintext=b64(b"x"))
    with pytest.raises(hvac.exceptions.Forbidden):
        limited.secrets.transit.read_key(name=k1)
    with pytest.raises(hvac.exceptions.Forbidden):
        limited.secrets.transit.list_keys()
    with pytest.raises(hvac.exceptions.Forbidden):
        limited.secrets.kv.v2.read_secret_version(path=secret_path, raise_on_deleted_version=True)
    with pytest.raises(hvac.exceptions.Forbidden):
        limited.secrets.kv.v2.create_or_update_secret(path=secret_path, secret={"v": "2"})
    with pytest.raises(hvac.exceptions.Forbidden):
        limited.sys.create_or_update_policy(name=uid("escalate"), policy='path "*" { capabilities = ["sudo"] }')
    with pytest.raises(hvac.exceptions.Forbidden):
        limited.sys.seal()
    # a child token cannot gain policies its parent lacks
    with pytest.raises((hvac.exceptions.Forbidden, hvac.exceptions.InvalidRequest)):
        limited.auth.token.create(policies=["root"])
    assert vault.sys.is_sealed() is False

    vault.auth.token.revoke(token)
    assert limited.is_authenticated() is False
    with pytest.raises(hvac.exceptions.Forbidden):
        limited.secrets.transit.encrypt_data(name=k1, plaintext=b64(b"after revoke"))


def test_token_ttl_and_revoke_self(vault: hvac.Client, server: Server) -> None:
    created = vault.auth.token.create(policies=["default"], ttl="90s")["auth"]
    assert created["lease_duration"] == 90
    child = make_client(server.data_dir, token=created["client_token"])
    assert 80 <= child.lookup_token()["data"]["ttl"] <= 90
    child.auth.token.revoke_self()
    assert child.is_authenticated() is False

    short = vault.auth.token.create(policies=["default"], ttl="1s")["auth"]["client_token"]
    expiring = make_client(server.data_dir, token=short)
    assert expiring.is_authenticated() is True
    time.sleep(1.5)
    assert expiring.is_authenticated() is False


def test_vault_listener_speaks_only_tls_with_the_private_ca(server: Server) -> None:
    url = vault_info(server.data_dir)["url"]
    with pytest.raises(requests.exceptions.SSLError):
        hvac.Client(url=url, token=ROOT_TOKEN, verify=True).sys.read_seal_status()
    with pytest.raises((requests.exceptions.ConnectionError, hvac.exceptions.VaultError)):
        hvac.Client(url=url.replace("https://", "http://"), token=ROOT_TOKEN).sys.read_seal_status()


def test_a_websocket_upgrade_to_the_vault_is_answered_as_http(server: Server) -> None:
    """The vault has no WebSocket endpoint: an Upgrade request is served as the HTTP request it is (uvicorn's
    WebSocket protocol, the default, answered a handshake with a 500 and held the connection outside HTTP)."""
    url = vault_info(server.data_dir)["url"]
    upgrade = {
        "connection": "Upgrade",
        "upgrade": "websocket",
        "sec-websocket-version": "13",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
    }
    r = requests.get(f"{url}/v1/sys/health", headers=upgrade, verify=str(server.data_dir / "tls" / "ca.pem"))
    assert r.status_code == 200 and r.json()["sealed"] is False
    r = requests.get(
        f"{url}/v1/sys/policies/acl?list=true",
        headers={**upgrade, "x-vault-token": ROOT_TOKEN},
        verify=str(server.data_dir / "tls" / "ca.pem"),
    )
    assert r.status_code == 200 and "root" in r.json()["data"]["keys"]


# --- transit: keys ------------------------------------------------------------------------------------------------


def create_hmac_key(vault: hvac.Client, name: str) -> None:
    # hvac's create_key validates key_type against a list that lacks "hmac"; the unmodified client's adapter
    # posts the same request Vault's CLI would.
    vault.adapter.post(f"/v1/transit/keys/{name}", json={"type": "hmac"})


def test_transit_create_read_list_every_key_type(vault: hvac.Client) -> None:
    expected = {
        "aes256-gcm96": (True, False),
        "chacha20-poly1305": (True, False),
        "ed25519": (False, True),
        "ecdsa-p256": (False, True),
        "rsa-3072": (True, True),
        "hmac": (False, False),
    }
    names = {}
    for key_type in expected:
        name = uid(key_type.replace("-", ""))
        names[key_type] = name
        if key_type == "hmac":
            create_hmac_key(vault, name)
        else:
            vault.secrets.transit.create_key(name=name, key_type=key_type)
    listed = vault.secrets.transit.list_keys()["data"]["keys"]
    for key_type, name in names.items():
        assert name in listed
        data = vault.secrets.transit.read_key(name=name)["data"]
        assert data["name"] == name and data["type"] == key_type
        assert data["latest_version"] == 1 and data["min_decryption_version"] == 1
        assert data["min_encryption_version"] == 0
        assert data["deletion_allowed"] is False and data["exportable"] is False
        assert set(data["keys"]) == {"1"}
        assert (data["supports_encryption"], data["supports_signing"]) == expected[key_type], key_type
        assert data["supports_decryption"] == data["supports_encryption"]
        if expected[key_type][1]:
            assert data["keys"]["1"]["public_key"]
        else:
            assert isinstance(data["keys"]["1"], int)
    # creating an existing key is idempotent (Vault keeps the key unchanged)
    vault.secrets.transit.create_key(name=names["aes256-gcm96"])
    assert vault.secrets.transit.read_key(name=names["aes256-gcm96"])["data"]["latest_version"] == 1
    with pytest.raises(hvac.exceptions.InvalidPath):
        vault.secrets.transit.read_key(name=uid("missing"))
    with pytest.raises(hvac.exceptions.InvalidRequest):
        vault.adapter.post(f"/v1/transit/keys/{uid('bad')}", json={"type": "des-56"})


def test_transit_export_is_refused_for_non_exportable_keys(vault: hvac.Client) -> None:
    name = uid("noexport")
    vault.secrets.transit.create_key(name=name)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        vault.secrets.transit.export_key(name=name, key_type="encryption-key")


@pytest.mark.parametrize("key_type", ["aes256-gcm96", "chacha20-poly1305", "rsa-3072"])
def test_transit_encrypt_decrypt_rotate_rewrap_single_and_batch(vault: hvac.Client, key_type: str) -> None:
    t = vault.secrets.transit
    name = uid("crypt")
    t.create_key(name=name, key_type=key_type)
    plain = b"attack at dawn \x00\xff" + uuid.uuid4().bytes
    resp = t.encrypt_data(name=name, plaintext=b64(plain))
    ct1 = resp["data"]["ciphertext"]
    assert ct1.startswith("vault:v1:")
    assert resp["data"]["key_version"] == 1
    assert unb64(t.decrypt_data(name=name, ciphertext=ct1)["data"]["plaintext"]) == plain
    # randomized encryption
    assert t.encrypt_data(name=name, plaintext=b64(plain))["data"]["ciphertext"] != ct1
    # tampering is detected
    raw = bytearray(unb64(ct1.split(":", 2)[2]))
    raw[-1] ^= 1
    with pytest.raises(hvac.exceptions.InvalidRequest):
        t.decrypt_data(name=name, ciphertext="vault:v1:" + b64(bytes(raw)))

    rotated = t.rotate_key(name=name)
    if isinstance(rotated, dict):
        assert rotated["data"]["latest_version"] == 2
    assert t.read_key(name=name)["data"]["latest_version"] == 2
    ct2 = t.encrypt_data(name=name, plaintext=b64(plain))["data"]["ciphertext"]
    assert ct2.startswith("vault:v2:")
    assert unb64(t.decrypt_data(name=name, ciphertext=ct1)["data"]["plaintext"]) == plain
    rewrapped = t.rewrap_data(name=name, ciphertext=ct1)["data"]["ciphertext"]
    assert rewrapped.startswith("vault:v2:")
    assert unb64(t.decrypt_data(name=name, ciphertext=rewrapped)["data"]["plaintext"]) == plain
    # an explicit older key version still encrypts (min_encryption_version is 0)
    assert t.encrypt_data(name=name, plaintext=b64(plain), key_version=1)["data"]["ciphertext"].startswith("vault:v1:")

    items = [b"one", b"two", b"", b"four" * 50]  # RSA-OAEP-3072 takes at most 318 bytes
    batch = t.encrypt_data(name=name, batch_input=[{"plaintext": b64(p)} for p in items])["data"]["batch_results"]
    assert len(batch) == len(items)
    assert all(r["ciphertext"].startswith("vault:v2:") and not r.get("error") for r in batch)
    decrypted = t.decrypt_data(name=name, batch_input=[{"ciphertext": r["ciphertext"]} for r in batch])
    assert [unb64(r["plaintext"]) for r in decrypted["data"]["batch_results"]] == items

    t.rotate_key(name=name)
    rewrap_batch = t.rewrap_data(
        name=name, ciphertext=None, batch_input=[{"ciphertext": r["ciphertext"]} for r in batch]
    )
    rewrapped_cts = [r["ciphertext"] for r in rewrap_batch["data"]["batch_results"]]
    assert all(c.startswith("vault:v3:") for c in rewrapped_cts)
    decrypted = t.decrypt_data(name=name, batch_input=[{"ciphertext": c} for c in rewrapped_cts])
    assert [unb64(r["plaintext"]) for r in decrypted["data"]["batch_results"]] == items


def test_transit_associated_data_binds_the_ciphertext(vault: hvac.Client) -> None:
    t = vault.secrets.transit
    name = uid("aad")
    t.create_key(name=name)
    ct = t.encrypt_data(name=name, plaintext=b64(b"bound"), associated_data=b64(b"ctx-1"))["data"]["ciphertext"]
    got = t.decrypt_data(name=name, ciphertext=ct, associated_data=b64(b"ctx-1"))["data"]["plaintext"]
    assert unb64(got) == b"bound"
    with pytest.raises(hvac.exceptions.InvalidRequest):
        t.decrypt_data(name=name, ciphertext=ct, associated_data=b64(b"ctx-2"))


def test_transit_min_decryption_version_and_trim(vault: hvac.Client) -> None:
    t = vault.secrets.transit
    name = uid("trim")
    t.create_key(name=name)
    cts = {1: t.encrypt_data(name=name, plaintext=b64(b"v1"))["data"]["ciphertext"]}
    for version in (2, 3, 4):
        t.rotate_key(name=name)
        cts[version] = t.encrypt_data(name=name, plaintext=b64(f"v{version}".encode()))["data"]["ciphertext"]
        assert cts[version].startswith(f"vault:v{version}:")

    t.update_key_configuration(name=name, min_decryption_version=2)
    data = t.read_key(name=name)["data"]
    assert data["min_decryption_version"] == 2
    assert set(data["keys"]) == {"2", "3", "4"}
    with pytest.raises(hvac.exceptions.InvalidRequest):
        t.decrypt_data(name=name, ciphertext=cts[1])
    assert unb64(t.decrypt_data(name=name, ciphertext=cts[2])["data"]["plaintext"]) == b"v2"
    # lowering it again re-admits version 1 (nothing was erased yet)
    t.update_key_configuration(name=name, min_decryption_version=1)
    assert unb64(t.decrypt_data(name=name, ciphertext=cts[1])["data"]["plaintext"]) == b"v1"

    # trim needs min_encryption_version and min_decryption_version at or above the trim point
    with pytest.raises(hvac.exceptions.InvalidRequest):
        t.trim_key(name=name, min_version=3)
    # (two calls: hvac refuses min_encryption_version <= min_decryption_version in one call, Vault allows equal)
    t.update_key_configuration(name=name, min_encryption_version=3)
    t.update_key_configuration(name=name, min_decryption_version=3)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        t.encrypt_data(name=name, plaintext=b64(b"x"), key_version=2)
    t.trim_key(name=name, min_version=3)
    data = t.read_key(name=name)["data"]
    assert data["min_available_version"] == 3
    assert set(data["keys"]) == {"3", "4"}
    # trimmed versions are gone for good: lowering min_decryption_version is refused now
    with pytest.raises(hvac.exceptions.InvalidRequest):
        t.update_key_configuration(name=name, min_decryption_version=1)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        t.decrypt_data(name=name, ciphertext=cts[2])
    assert unb64(t.decrypt_data(name=name, ciphertext=cts[3])["data"]["plaintext"]) == b"v3"
    assert unb64(t.decrypt_data(name=name, ciphertext=cts[4])["data"]["plaintext"]) == b"v4"


def test_transit_delete_key_refused_until_deletion_allowed(vault: hvac.Client) -> None:
    t = vault.secrets.transit
    name = uid("del")
    t.create_key(name=name)
    before = t.encrypt_data(name=name, plaintext=b64(b"old"))["data"]["ciphertext"]
    with pytest.raises(hvac.exceptions.InvalidRequest):
        t.delete_key(name=name)
    assert t.read_key(name=name)["data"]["name"] == name
    t.update_key_configuration(name=name, deletion_allowed=True)
    assert t.read_key(name=name)["data"]["deletion_allowed"] is True
    t.delete_key(name=name)
    with pytest.raises(hvac.exceptions.InvalidPath):
        t.read_key(name=name)
    assert name not in t.list_keys()["data"]["keys"]
    # the root token may create the key, so encrypt makes a new one (Vault's upsert): the old key stays gone
    t.encrypt_data(name=name, plaintext=b64(b"new"))
    assert t.read_key(name=name)["data"]["latest_version"] == 1
    with pytest.raises(hvac.exceptions.InvalidRequest):
        t.decrypt_data(name=name, ciphertext=before)


def test_transit_generate_data_key_plaintext_and_wrapped(vault: hvac.Client) -> None:
    t = vault.secrets.transit
    name = uid("dk")
    t.create_key(name=name)
    got = t.generate_data_key(name=name, key_type="plaintext")["data"]
    key = unb64(got["plaintext"])
    assert len(key) == 32
    assert got["ciphertext"].startswith("vault:v1:")
    assert unb64(t.decrypt_data(name=name, ciphertext=got["ciphertext"])["data"]["plaintext"]) == key

    wrapped = t.generate_data_key(name=name, key_type="wrapped", bits=512)["data"]
    assert not wrapped.get("plaintext")
    assert wrapped["ciphertext"].startswith("vault:v1:")
    assert len(unb64(t.decrypt_data(name=name, ciphertext=wrapped["ciphertext"])["data"]["plaintext"])) == 64
    small = t.generate_data_key(name=name, key_type="plaintext", bits=128)["data"]
    assert len(unb64(small["plaintext"])) == 16


@pytest.mark.parametrize("key_kind", ["aes256-gcm96", "hmac"])
def test_transit_hmac_generate_and_verify(vault: hvac.Client, key_kind: str) -> None:
    t = vault.secrets.transit
    name = uid("mac")
    if key_kind == "hmac":
        create_hmac_key(vault, name)
    else:
        t.create_key(name=name)
    message = b64(b"message to authenticate")
    mac = t.generate_hmac(name=name, hash_input=message, algorithm="sha2-256")["data"]["hmac"]
    assert mac.startswith("vault:v1:")
    assert len(unb64(mac.split(":", 2)[2])) == 32
    assert t.generate_hmac(name=name, hash_input=message, algorithm="sha2-256")["data"]["hmac"] == mac
    mac512 = t.generate_hmac(name=name, hash_input=message, algorithm="sha2-512")["data"]["hmac"]
    assert len(unb64(mac512.split(":", 2)[2])) == 64

    ok = t.verify_signed_data(name=name, hash_input=message, hmac=mac, hash_algorithm="sha2-256")
    assert ok["data"]["valid"] is True
    bad = t.verify_signed_data(
        name=name, hash_input=b64(b"message to authenticatE"), hmac=mac, hash_algorithm="sha2-256"
    )
    assert bad["data"]["valid"] is False
    # the algorithm in the URL path (Vault's /hmac/:name/:algorithm and /verify/:name/:algorithm)
    by_path = vault.adapter.post(f"/v1/transit/hmac/{name}/sha2-512", json={"input": message})
    assert by_path["data"]["hmac"] == mac512
    verified = vault.adapter.post(f"/v1/transit/verify/{name}/sha2-512", json={"input": message, "hmac": mac512})
    assert verified["data"]["valid"] is True


def test_transit_sign_verify_ed25519(vault: hvac.Client) -> None:
    t = vault.secrets.transit
    name = uid("ed")
    t.create_key(name=name, key_type="ed25519")
    message = b"signed by the vault"
    sig = t.sign_data(name=name, hash_input=b64(message))["data"]["signature"]
    assert sig.startswith("vault:v1:")
    assert t.verify_signed_data(name=name, hash_input=b64(message), signature=sig)["data"]["valid"] is True
    assert t.verify_signed_data(name=name, hash_input=b64(message + b"!"), signature=sig)["data"]["valid"] is False
    # the signature is a real Ed25519 signature under the published public key
    public = unb64(t.read_key(name=name)["data"]["keys"]["1"]["public_key"])
    ed25519.Ed25519PublicKey.from_public_bytes(public).verify(unb64(sig.split(":", 2)[2]), message)
    # a rotated key signs with v2; v1 signatures still verify
    t.rotate_key(name=name)
    sig2 = t.sign_data(name=name, hash_input=b64(message))["data"]["signature"]
    assert sig2.startswith("vault:v2:")
    assert t.verify_signed_data(name=name, hash_input=b64(message), signature=sig)["data"]["valid"] is True


def test_transit_sign_verify_ecdsa_p256_and_rsa(vault: hvac.Client) -> None:
    t = vault.secrets.transit
    name = uid("ec")
    t.create_key(name=name, key_type="ecdsa-p256")
    message = b"ecdsa message"
    sig = t.sign_data(name=name, hash_input=b64(message), hash_algorithm="sha2-256")["data"]["signature"]
    assert sig.startswith("vault:v1:")
    good = t.verify_signed_data(name=name, hash_input=b64(message), signature=sig, hash_algorithm="sha2-256")
    assert good["data"]["valid"] is True
    bad = t.verify_signed_data(name=name, hash_input=b64(b"ecdsa messagE"), signature=sig, hash_algorithm="sha2-256")
    assert bad["data"]["valid"] is False
    pem = t.read_key(name=name)["data"]["keys"]["1"]["public_key"]
    public = serialization.load_pem_public_key(pem.encode())
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(unb64(sig.split(":", 2)[2]), message, ec.ECDSA(hashes.SHA256()))
    # a corrupted signature does not verify
    raw = bytearray(unb64(sig.split(":", 2)[2]))
    raw[-2] ^= 0x40
    tampered = t.verify_signed_data(
        name=name, hash_input=b64(message), signature="vault:v1:" + b64(bytes(raw)), hash_algorithm="sha2-256"
    )
    assert tampered["data"]["valid"] is False

    rsa_name = uid("rsa")
    t.create_key(name=rsa_name, key_type="rsa-3072")
    for algorithm in ("pss", "pkcs1v15"):
        rsig = t.sign_data(
            name=rsa_name, hash_input=b64(message), hash_algorithm="sha2-256", signature_algorithm=algorithm
        )["data"]["signature"]
        assert len(unb64(rsig.split(":", 2)[2])) == 384
        ok = t.verify_signed_data(
            name=rsa_name,
            hash_input=b64(message),
            signature=rsig,
            hash_algorithm="sha2-256",
            signature_algorithm=algorithm,
        )
        assert ok["data"]["valid"] is True
        nok = t.verify_signed_data(
            name=rsa_name,
            hash_input=b64(message[::-1]),
            signature=rsig,
            hash_algorithm="sha2-256",
            signature_algorithm=algorithm,
        )
        assert nok["data"]["valid"] is False


def test_transit_prehashed_ecdsa(vault: hvac.Client) -> None:
    t = vault.secrets.transit
    name = uid("ecpre")
    t.create_key(name=name, key_type="ecdsa-p256")
    digest = hashlib.sha256(b"prehashed").digest()
    sig = t.sign_data(name=name, hash_input=b64(digest), hash_algorithm="sha2-256", prehashed=True)["data"]["signature"]
    plain = t.verify_signed_data(name=name, hash_input=b64(b"prehashed"), signature=sig, hash_algorithm="sha2-256")
    assert plain["data"]["valid"] is True


def test_transit_generate_random_bytes(vault: hvac.Client) -> None:
    t = vault.secrets.transit
    one = unb64(t.generate_random_bytes(n_bytes=32)["data"]["random_bytes"])
    two = unb64(t.generate_random_bytes(n_bytes=32)["data"]["random_bytes"])
    assert len(one) == len(two) == 32 and one != two
    hexed = t.generate_random_bytes(n_bytes=16, output_format="hex")["data"]["random_bytes"]
    assert len(bytes.fromhex(hexed)) == 16
    assert len(unb64(t.generate_random_bytes()["data"]["random_bytes"])) == 32
    with pytest.raises(hvac.exceptions.InvalidRequest):
        t.generate_random_bytes(n_bytes=0)


def test_transit_wrong_key_type_operations_are_invalid_requests(vault: hvac.Client) -> None:
    t = vault.secrets.transit
    aes, ed = uid("aes"), uid("edonly")
    t.create_key(name=aes)
    t.create_key(name=ed, key_type="ed25519")
    with pytest.raises(hvac.exceptions.InvalidRequest):
        t.sign_data(name=aes, hash_input=b64(b"x"))
    with pytest.raises(hvac.exceptions.InvalidRequest):
        t.encrypt_data(name=ed, plaintext=b64(b"x"))
    with pytest.raises(hvac.exceptions.InvalidRequest):
        t.decrypt_data(name=aes, ciphertext="not-a-vault-ciphertext")


# --- KV v2 --------------------------------------------------------------------------------------------------------


def kv_read(vault: hvac.Client, path: str, version: int | None = None) -> dict[str, Any]:
    return vault.secrets.kv.v2.read_secret_version(path=path, version=version, raise_on_deleted_version=True)


def test_kv_versions_and_cas(vault: hvac.Client) -> None:
    kv = vault.secrets.kv.v2
    path = uid("kv/versions")
    first = kv.create_or_update_secret(path=path, secret={"password": "one"})
    assert first["data"]["version"] == 1
    second = kv.create_or_update_secret(path=path, secret={"password": "two", "user": "u"})
    assert second["data"]["version"] == 2
    latest = kv_read(vault, path)["data"]
    assert latest["data"] == {"password": "two", "user": "u"}
    assert latest["metadata"]["version"] == 2
    assert latest["metadata"]["deletion_time"] == "" and latest["metadata"]["destroyed"] is False
    assert kv_read(vault, path, version=1)["data"]["data"] == {"password": "one"}
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv_read(vault, path, version=7)

    # check-and-set
    with pytest.raises(hvac.exceptions.InvalidRequest):
        kv.create_or_update_secret(path=path, secret={"password": "stale"}, cas=1)
    assert kv_read(vault, path)["data"]["metadata"]["version"] == 2
    assert kv.create_or_update_secret(path=path, secret={"password": "three"}, cas=2)["data"]["version"] == 3
    with pytest.raises(hvac.exceptions.InvalidRequest):
        kv.create_or_update_secret(path=path, secret={"password": "x"}, cas=0)
    fresh = uid("kv/cas0")
    assert kv.create_or_update_secret(path=fresh, secret={"a": "b"}, cas=0)["data"]["version"] == 1
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv_read(vault, uid("kv/never-written"))


def test_kv_soft_delete_undelete_destroy(vault: hvac.Client) -> None:
    kv = vault.secrets.kv.v2
    path = uid("kv/lifecycle")
    for value in ("v1", "v2", "v3"):
        kv.create_or_update_secret(path=path, secret={"value": value})

    kv.delete_latest_version_of_secret(path=path)
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv_read(vault, path)
    soft = kv.read_secret_version(path=path, raise_on_deleted_version=False)
    assert soft["data"]["data"] is None
    assert soft["data"]["metadata"]["deletion_time"] != ""
    assert soft["data"]["metadata"]["version"] == 3
    assert soft["data"]["metadata"]["destroyed"] is False
    assert kv_read(vault, path, version=2)["data"]["data"] == {"value": "v2"}

    kv.undelete_secret_versions(path=path, versions=[3])
    assert kv_read(vault, path)["data"]["data"] == {"value": "v3"}

    kv.delete_secret_versions(path=path, versions=[1, 2])
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv_read(vault, path, version=1)
    kv.undelete_secret_versions(path=path, versions=[2])
    assert kv_read(vault, path, version=2)["data"]["data"] == {"value": "v2"}

    kv.destroy_secret_versions(path=path, versions=[1])
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv_read(vault, path, version=1)
    meta = kv.read_secret_metadata(path=path)["data"]
    assert meta["versions"]["1"]["destroyed"] is True
    assert meta["versions"]["2"]["destroyed"] is False and meta["versions"]["2"]["deletion_time"] == ""
    # a destroyed version cannot be undeleted
    kv.undelete_secret_versions(path=path, versions=[1])
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv_read(vault, path, version=1)
    destroyed = kv.read_secret_version(path=path, version=1, raise_on_deleted_version=False)
    assert destroyed["data"]["data"] is None and destroyed["data"]["metadata"]["destroyed"] is True


def test_kv_list_secrets_folders_end_with_slash(vault: hvac.Client) -> None:
    kv = vault.secrets.kv.v2
    root = uid("kvlist")
    for leaf in ("api", "db/creds", "db/admin", "web/tls/key"):
        kv.create_or_update_secret(path=f"{root}/{leaf}", secret={"k": leaf})
    assert sorted(kv.list_secrets(path=root)["data"]["keys"]) == ["api", "db/", "web/"]
    assert sorted(kv.list_secrets(path=f"{root}/db")["data"]["keys"]) == ["admin", "creds"]
    assert kv.list_secrets(path=f"{root}/web")["data"]["keys"] == ["tls/"]
    assert f"{root}/" in kv.list_secrets(path="")["data"]["keys"]
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv.list_secrets(path=uid("kvlist-empty"))


def test_kv_metadata_max_versions_and_delete_all(vault: hvac.Client) -> None:
    kv = vault.secrets.kv.v2
    path = uid("kv/meta")
    for i in range(1, 4):
        kv.create_or_update_secret(path=path, secret={"i": str(i)})
    meta = kv.read_secret_metadata(path=path)["data"]
    assert meta["current_version"] == 3
    assert meta["oldest_version"] in (0, 1)
    assert set(meta["versions"]) == {"1", "2", "3"}
    assert meta["created_time"] and meta["updated_time"]

    kv.update_metadata(path=path, max_versions=2, custom_metadata={"owner": "team-a"})
    meta = kv.read_secret_metadata(path=path)["data"]
    assert meta["max_versions"] == 2
    assert meta["custom_metadata"] == {"owner": "team-a"}
    kv.create_or_update_secret(path=path, secret={"i": "4"})
    meta = kv.read_secret_metadata(path=path)["data"]
    assert meta["current_version"] == 4
    assert set(meta["versions"]) == {"3", "4"}
    assert meta["oldest_version"] == 3
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv_read(vault, path, version=1)
    assert kv_read(vault, path, version=3)["data"]["data"] == {"i": "3"}

    kv.delete_metadata_and_all_versions(path=path)
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv_read(vault, path)
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv.read_secret_metadata(path=path)
    # the path starts afresh
    assert kv.create_or_update_secret(path=path, secret={"i": "new"})["data"]["version"] == 1


def test_kv_configure_mount_cas_required_and_max_versions(vault: hvac.Client) -> None:
    kv = vault.secrets.kv.v2
    before = kv.read_configuration()["data"]
    path = uid("kv/conf")
    try:
        kv.configure(max_versions=3, cas_required=True)
        conf = kv.read_configuration()["data"]
        assert conf["max_versions"] == 3 and conf["cas_required"] is True
        with pytest.raises(hvac.exceptions.InvalidRequest):
            kv.create_or_update_secret(path=path, secret={"a": "1"})
        assert kv.create_or_update_secret(path=path, secret={"a": "1"}, cas=0)["data"]["version"] == 1
    finally:
        kv.configure(
            max_versions=before.get("max_versions", 0),
            cas_required=before.get("cas_required", False),
            delete_version_after=before.get("delete_version_after", "0s"),
        )
    assert kv.read_configuration()["data"]["cas_required"] is False
    for i in range(2, 7):
        kv.create_or_update_secret(path=path, secret={"a": str(i)})
    assert kv_read(vault, path)["data"]["data"] == {"a": "6"}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"num_uses": "abc"}, "error parsing num_uses: expected an integer"),
        ({"meta": "notadict"}, "error parsing meta: expected a map"),
        ({"meta": {"a": [1]}}, "meta must be string valued"),
        ({"policies": 5}, "error parsing policies: expected a list of strings"),
        ({"renewable": "maybe"}, "error parsing renewable: expected a boolean"),
        ({"display_name": {"x": 1}}, "error parsing display_name: expected a string"),
    ],
)
def test_token_create_refuses_malformed_fields_with_400(server: Server, body: dict[str, Any], error: str) -> None:
    info = vault_info(server.data_dir)
    r = requests.post(
        f"{info['url']}/v1/auth/token/create",
        json=body,
        headers={"x-vault-token": ROOT_TOKEN},
        verify=str(server.data_dir / "tls" / "ca.pem"),
        timeout=30,
    )
    assert (r.status_code, r.json()) == (400, {"errors": [error]})


def test_token_create_takes_policies_as_a_comma_separated_string(vault: hvac.Client) -> None:
    made = vault.auth.token.create(policies="alpha, beta", ttl="1h")  # sent as the string
    assert sorted(p for p in made["auth"]["policies"] if p != "default") == ["alpha", "beta"]
    r = vault.adapter.post("/v1/auth/token/create", json={"policies": "gamma,delta", "ttl": "1h"})
    assert sorted(p for p in r["auth"]["policies"] if p != "default") == ["delta", "gamma"]


def test_key_status_answers_with_an_rfc3339_install_time(vault: hvac.Client) -> None:
    got = vault.adapter.get("/v1/sys/key-status")
    assert got["data"]["term"] >= 1
    assert dt.datetime.strptime(got["data"]["install_time"], "%Y-%m-%dT%H:%M:%S.%fZ").year >= 2026
