"""Vault namespaces (one per tenant) judged by the unmodified hvac client against the real server over TLS.

The root token administers tenant namespaces (namespaces, policies, key management) but never uses or sees
their key material or secrets. Uses the session ``server``; namespace and key names are unique per test.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import hvac
import hvac.exceptions
import pytest
from tests.conftest import ROOT_TOKEN, Server

pytestmark = pytest.mark.e2e


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def hvac_client(data_dir: Path, namespace: str | None = None, token: str = ROOT_TOKEN) -> hvac.Client:
    info = json.loads((data_dir / "run" / "vault.json").read_text())
    return hvac.Client(
        url=info["url"], token=token, verify=str(data_dir / "tls" / "ca.pem"), timeout=30, namespace=namespace
    )


@pytest.fixture()
def root(server: Server) -> Iterator[hvac.Client]:
    client = hvac_client(server.data_dir)
    yield client
    client.adapter.close()


@pytest.fixture()
def default_ns(server: Server) -> Iterator[hvac.Client]:
    client = hvac_client(server.data_dir, namespace="default")
    yield client
    client.adapter.close()


MSG = base64.b64encode(b"tenant data").decode()


def test_root_token_creates_lists_and_deletes_namespaces(root: hvac.Client) -> None:
    name = uid("acme")
    created = root.sys.create_namespace(path=name)["data"]
    assert created["path"] == f"{name}/" and created["id"]
    listed = root.sys.list_namespaces()["data"]
    assert f"{name}/" in listed["keys"] and "default/" in listed["keys"]  # default: made at first unseal
    assert listed["key_info"][f"{name}/"]["id"] == created["id"]
    root.sys.delete_namespace(path=name)
    assert f"{name}/" not in root.sys.list_namespaces()["data"]["keys"]


def test_operator_manages_keys_of_default_but_never_uses_them(default_ns: hvac.Client) -> None:
    t = default_ns.secrets.transit
    key = uid("opkey")
    t.create_key(name=key)
    t.rotate_key(name=key)
    info = t.read_key(name=key)["data"]
    assert info["latest_version"] == 2 and info["tenant"] == "default"
    assert key in t.list_keys()["data"]["keys"]
    t.update_key_configuration(name=key, min_decryption_version=1)
    forbidden = [
        lambda: t.encrypt_data(name=key, plaintext=MSG),
        lambda: t.decrypt_data(name=key, ciphertext="vault:v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        lambda: t.generate_data_key(name=key, key_type="plaintext"),
        lambda: t.export_key(name=key, key_type="encryption-key"),
        lambda: default_ns.secrets.kv.v2.create_or_update_secret(path=uid("s"), secret={"a": "b"}),
        lambda: default_ns.secrets.kv.v2.read_secret_version(path="anything", raise_on_deleted_version=True),
        lambda: default_ns.auth.token.create(policies=["tenant-admin"]),
    ]
    for attempt in forbidden:
        with pytest.raises(hvac.exceptions.Forbidden):
            attempt()


def test_a_key_of_one_namespace_is_invisible_from_another(root: hvac.Client, server: Server) -> None:
    acme = uid("acme")
    root.sys.create_namespace(path=acme)
    in_acme = hvac_client(server.data_dir, namespace=acme)
    in_default = hvac_client(server.data_dir, namespace="default")
    key = uid("secretkey")
    in_acme.secrets.transit.create_key(name=key)
    with pytest.raises((hvac.exceptions.InvalidPath, hvac.exceptions.Forbidden)):
        in_default.secrets.transit.read_key(name=key)
    with pytest.raises((hvac.exceptions.InvalidPath, hvac.exceptions.Forbidden)):
        root.secrets.transit.read_key(name=key)  # the root namespace
    # the namespace is not empty: deleting it is refused with a clear message
    with pytest.raises(hvac.exceptions.InvalidRequest, match="transit keys or KV secrets"):
        root.sys.delete_namespace(path=acme)
    in_acme.secrets.transit.update_key_configuration(name=key, deletion_allowed=True)
    in_acme.secrets.transit.delete_key(name=key)
    root.sys.delete_namespace(path=acme)
    with pytest.raises(hvac.exceptions.Forbidden):  # the namespace is gone
        in_acme.secrets.transit.list_keys()


def test_namespace_policies_are_separate(root: hvac.Client, default_ns: hvac.Client) -> None:
    name = uid("pol")
    default_ns.sys.create_or_update_policy(name=name, policy='path "transit/keys/*" { capabilities = ["read"] }')
    assert name in default_ns.sys.list_policies()["data"]["policies"]
    assert name not in root.sys.list_policies()["data"]["policies"]
    assert "tenant-admin" in default_ns.sys.list_policies()["data"]["policies"]
    with pytest.raises(hvac.exceptions.InvalidRequest):
        default_ns.sys.delete_policy(name="tenant-admin")
    default_ns.sys.delete_policy(name=name)


def test_a_tenant_token_works_only_in_its_own_namespace(server: Server) -> None:
    """Two tenants, each with a token of its own namespace (from the admin API): each encrypts, decrypts and keeps
    secrets in its namespace, and every call into the other's namespace (or the root) is permission denied."""
    from tests.conftest import OPERATOR_ACCESS, OPERATOR_SECRET

    other = uid("vt")
    made = server.admin(OPERATOR_ACCESS, OPERATOR_SECRET).request("POST", "/tenants", {"name": other})
    key = made["access_key"]
    mine = server.tenant_vault()  # default's admin
    theirs = server.tenant_vault(key["access_key_id"], key["secret_access_key"])
    assert (mine.adapter.namespace, theirs.adapter.namespace) == ("default", other)
    name, secret_path = uid("k"), uid("app") + "/db"
    theirs.secrets.transit.create_key(name=name)
    ct = theirs.secrets.transit.encrypt_data(name=name, plaintext=MSG)["data"]["ciphertext"]
    assert theirs.secrets.transit.decrypt_data(name=name, ciphertext=ct)["data"]["plaintext"] == MSG
    theirs.secrets.kv.v2.create_or_update_secret(path=secret_path, secret={"password": "theirs"})

    info = json.loads((server.data_dir / "run" / "vault.json").read_text())
    ca = str(server.data_dir / "tls" / "ca.pem")
    for target in (other, None):  # default's token pointed at the other namespace, and at the root
        crossing = hvac.Client(url=info["url"], token=mine.token, namespace=target, verify=ca, timeout=30)
        with pytest.raises(hvac.exceptions.Forbidden):
            crossing.secrets.transit.decrypt_data(name=name, ciphertext=ct)
        with pytest.raises(hvac.exceptions.Forbidden):
            crossing.secrets.kv.v2.read_secret_version(path=secret_path, raise_on_deleted_version=True)
        with pytest.raises(hvac.exceptions.Forbidden):
            crossing.secrets.transit.list_keys()
    # in its own namespace, default finds nothing of the other tenant's: the same answer as for a missing key
    with pytest.raises(hvac.exceptions.InvalidPath):
        mine.secrets.transit.read_key(name=name)
    with pytest.raises(hvac.exceptions.InvalidPath):
        mine.secrets.kv.v2.read_secret_version(path=secret_path, raise_on_deleted_version=True)


def test_a_tenant_token_cannot_seal_or_rotate_the_shared_vault(server: Server) -> None:
    """tenant-admin grants sudo on every path of its namespace; seal, rotate and key-status act on the whole
    deployment, so a tenant namespace never reaches them."""
    tenant = server.tenant_vault()
    with pytest.raises(hvac.exceptions.Forbidden):
        tenant.sys.seal()
    with pytest.raises(hvac.exceptions.Forbidden):
        tenant.sys.rotate_encryption_key()
    with pytest.raises(hvac.exceptions.Forbidden):
        tenant.sys.get_encryption_key_status()
    assert hvac_client(server.data_dir).sys.is_sealed() is False
    tenant.sys.create_or_update_policy(name=uid("p"), policy='path "secret/*" { capabilities = ["read"] }')
