# ruff: noqa: F811 - pytest fixtures imported from tests/http/vaultapp.py are parameters here
"""The vault app in process (starlette TestClient): namespaces over HTTP, the internal API, body allow-lists."""

from __future__ import annotations

import base64
from typing import Any

from starlette.testclient import TestClient
from tests.http.vaultapp import INTERNAL, ROOT, client, core  # noqa: F401 - fixtures

from strongroom.service.vault import VaultCore

MSG = base64.b64encode(b"hello").decode()


def call(client: TestClient, method: str, path: str, token: str = ROOT, ns: str | None = None, body: Any = None) -> Any:
    headers = {"x-vault-token": token}
    if ns is not None:
        headers["x-vault-namespace"] = ns
    return client.request(method, f"/v1/{path}", headers=headers, json=body)


def internal(client: TestClient, method: str, path: str, ns: str | None = None, body: Any = None) -> Any:
    return call(client, method, f"strongroom/internal/{path}", INTERNAL, ns, body)


def tenant_token(client: TestClient, name: str) -> str:
    assert internal(client, "POST", f"namespaces/{name}").status_code == 200
    r = internal(client, "POST", f"namespaces/{name}/token", body={"ttl": 600, "display_name": "gw"})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert set(data) == {"client_token", "accessor", "policies", "lease_duration", "namespace"}
    assert data["namespace"] == name and "tenant-admin" in data["policies"] and data["lease_duration"] == 600
    return str(data["client_token"])


# --- internal API -------------------------------------------------------------------------------------------


def test_internal_namespace_routes_need_the_internal_token(client: TestClient) -> None:
    assert call(client, "POST", "strongroom/internal/namespaces/acme").status_code == 403  # the root token
    assert internal(client, "POST", "namespaces/acme").json()["data"]["path"] == "acme/"
    assert internal(client, "POST", "namespaces/acme").status_code == 200  # idempotent
    assert internal(client, "POST", "namespaces/Bad_Name").status_code == 400
    assert internal(client, "POST", "namespaces/nope/token", body={"ttl": 60}).status_code == 404


def test_internal_keys_are_per_namespace_and_carry_the_namespace_as_tenant(client: TestClient) -> None:
    internal(client, "POST", "namespaces/acme")
    internal(client, "POST", "namespaces/globex")
    a = internal(client, "POST", "keys/bucket-1", ns="acme", body={"region": "eu-1", "tenant": "globex"})
    assert a.status_code == 200 and a.json()["data"]["tenant"] == "acme" and a.json()["data"]["region"] == "eu-1"
    assert internal(client, "POST", "keys/bucket-1", ns="globex/").json()["data"]["tenant"] == "globex"
    assert internal(client, "GET", "keyinfo/bucket-1", ns="acme").json()["data"]["tenant"] == "acme"
    assert internal(client, "GET", "kek/bucket-1", ns="acme").status_code == 404  # no route hands out key material
    missing = internal(client, "GET", "keyinfo/bucket-1")  # no header: the root namespace
    assert missing.status_code == 404 and missing.json()["error_class"] == "TransitKeyNotFound"
    assert internal(client, "GET", "keyinfo/bucket-1", ns="initech").status_code == 404
    assert internal(client, "POST", "keys/x", ns="initech").status_code == 400  # no such namespace


def test_internal_namespace_delete_refused_while_not_empty(client: TestClient) -> None:
    internal(client, "POST", "namespaces/acme")
    internal(client, "POST", "keys/k", ns="acme")
    refused = internal(client, "DELETE", "namespaces/acme")
    assert refused.status_code == 400 and refused.json()["error_class"] == "DeleteConflict"
    assert "transit keys or KV secrets" in refused.json()["errors"][0]
    internal(client, "POST", "namespaces/empty")
    assert internal(client, "DELETE", "namespaces/empty").status_code == 204


def test_public_credential_route_is_gone(client: TestClient) -> None:
    r = call(client, "POST", "strongroom/credentials/AKNEW", body={"secret": "x" * 20, "tenant": "acme"})
    assert r.status_code == 404
    assert internal(client, "POST", "credentials/AKNEW", body={"secret": "x" * 20, "tenant": "acme"}).status_code == 204
    assert internal(client, "GET", "credentials/AKNEW").json()["data"]["tenant"] == "acme"


# --- token namespaces ---------------------------------------------------------------------------------------


def test_namespace_token_works_only_in_its_namespace(client: TestClient) -> None:
    token = tenant_token(client, "acme")
    tenant_token(client, "globex")
    assert call(client, "POST", "transit/keys/k", token, "acme").status_code == 204
    assert call(client, "POST", "transit/encrypt/k", token, "acme", {"plaintext": MSG}).status_code == 200
    assert call(client, "POST", "secret/data/app", token, "acme/", {"data": {"a": "b"}}).status_code == 200
    for other in (None, "globex", "root"):
        r = call(client, "GET", "transit/keys/k", token, other)
        assert r.status_code == 403 and r.json() == {"errors": ["permission denied"]}
    assert call(client, "LIST", "sys/namespaces", token, "acme").status_code == 403  # not a root-namespace token
    assert call(client, "LIST", "sys/namespaces", token).status_code == 403
    # tokens it creates belong to acme
    child = call(client, "POST", "auth/token/create", token, "acme", {"policies": ["tenant-admin"]})
    child_token = child.json()["auth"]["client_token"]
    assert call(client, "GET", "transit/keys/k", child_token, "acme").status_code == 200
    assert call(client, "GET", "transit/keys/k", child_token).status_code == 403
    # it cannot look up or revoke the root token
    assert call(client, "POST", "auth/token/lookup", token, "acme", {"token": ROOT}).status_code == 403
    call(client, "POST", "auth/token/revoke", token, "acme", {"token": ROOT})
    assert call(client, "GET", "auth/token/lookup-self").status_code == 200


def test_policies_are_looked_up_in_the_token_namespace(client: TestClient) -> None:
    admin = tenant_token(client, "acme")
    rules = 'path "transit/keys/*" { capabilities = ["read"] }'
    assert call(client, "PUT", "sys/policy/reader", admin, "acme", {"policy": rules}).status_code == 204
    reader = call(client, "POST", "auth/token/create", ROOT, None, {"policies": ["reader"]}).json()["auth"]
    # a root-namespace token named "reader" has no such policy in the root namespace
    assert call(client, "GET", "transit/keys/x", reader["client_token"]).status_code == 403
    assert "reader" in call(client, "LIST", "sys/policy", admin, "acme").json()["data"]["keys"]
    assert "reader" not in call(client, "LIST", "sys/policy").json()["data"]["keys"]
    assert call(client, "DELETE", "sys/policy/tenant-admin", admin, "acme").status_code == 400


# --- the operator in a tenant namespace --------------------------------------------------------------------


def test_root_token_manages_but_never_uses_tenant_keys(client: TestClient) -> None:
    tenant = tenant_token(client, "acme")
    assert call(client, "POST", "transit/keys/k", ROOT, "acme").status_code == 204
    assert call(client, "POST", "transit/keys/k/rotate", ROOT, "acme").status_code in (200, 204)
    assert call(client, "GET", "transit/keys/k", ROOT, "acme").json()["data"]["latest_version"] == 2
    assert call(client, "LIST", "transit/keys", ROOT, "acme").json()["data"]["keys"] == ["k"]
    assert call(client, "POST", "strongroom/keys/k/disable", ROOT, "acme").status_code == 200
    assert call(client, "POST", "strongroom/keys/k/enable", ROOT, "acme").status_code == 200
    assert (
        call(client, "PUT", "sys/policy/p", ROOT, "acme", {"policy": 'path "x" {capabilities=["read"]}'}).status_code
        == 204
    )
    ct = call(client, "POST", "transit/encrypt/k", tenant, "acme", {"plaintext": MSG}).json()["data"]["ciphertext"]
    denied = [
        ("POST", "transit/encrypt/k", {"plaintext": MSG}),
        ("POST", "transit/decrypt/k", {"ciphertext": ct}),
        ("POST", "transit/rewrap/k", {"ciphertext": ct}),
        ("POST", "transit/datakey/plaintext/k", {}),
        ("POST", "transit/hmac/k", {"input": MSG}),
        ("GET", "transit/export/encryption-key/k", None),
        ("GET", "secret/data/app", None),
        ("POST", "secret/data/app", {"data": {"a": "b"}}),
        ("LIST", "secret/metadata", None),
        ("POST", "auth/token/create", {"policies": ["tenant-admin"]}),
        ("POST", "auth/token/create-orphan", {}),
    ]
    for method, path, body in denied:
        r = call(client, method, path, ROOT, "acme", body)
        assert r.status_code == 403 and r.json() == {"errors": ["permission denied"]}, (path, r.text)


def test_sys_namespaces_shapes_and_delete_conflict(client: TestClient) -> None:
    assert call(client, "LIST", "sys/namespaces").status_code == 404  # empty list, as Vault
    created = call(client, "POST", "sys/namespaces/acme").json()["data"]
    assert created["path"] == "acme/" and created["custom_metadata"] == {} and created["id"]
    listed = call(client, "GET", "sys/namespaces?list=true").json()["data"]
    assert listed["keys"] == ["acme/"] and listed["key_info"]["acme/"]["id"] == created["id"]
    assert call(client, "GET", "sys/namespaces/acme").json()["data"] == created
    call(client, "POST", "transit/keys/k", ROOT, "acme")
    refused = call(client, "DELETE", "sys/namespaces/acme")
    assert refused.status_code == 400 and "transit keys or KV secrets" in refused.json()["errors"][0]
    sudo = 'path "sys/namespaces*" { capabilities = ["read", "list"] }'
    call(client, "PUT", "sys/policy/ns-read", ROOT, None, {"policy": sudo})
    weak = call(client, "POST", "auth/token/create", ROOT, None, {"policies": ["ns-read"]}).json()["auth"]
    assert call(client, "LIST", "sys/namespaces", weak["client_token"]).status_code == 403  # needs sudo
    assert call(client, "GET", "sys/mounts", ROOT, "acme").status_code == 200
    assert call(client, "GET", "sys/internal/ui/mounts/secret/x", ROOT, "acme").json()["data"]["path"] == "secret/"
    assert call(client, "GET", "transit/keys/k", ROOT, "initech").status_code == 403  # no such namespace


# --- fields the caller does not own -------------------------------------------------------------------------


def test_body_tenant_on_create_changes_nothing(client: TestClient) -> None:
    token = tenant_token(client, "acme")
    tenant_token(client, "globex")
    assert call(client, "POST", "transit/keys/k", token, "acme", {"tenant": "globex"}).status_code == 204
    assert call(client, "GET", "transit/keys/k", token, "acme").json()["data"]["tenant"] == "acme"
    call(client, "POST", "transit/keys/r", ROOT, None, {"tenant": "acme", "region": "eu-2"})
    data = call(client, "GET", "transit/keys/r").json()["data"]
    assert data["tenant"] == "system" and data["region"] == "eu-2"
    assert call(client, "GET", "transit/keys/k", ROOT, "globex").status_code == 404


def test_body_tenant_region_upsert_on_encrypt_change_nothing(client: TestClient, core: VaultCore) -> None:
    admin = tenant_token(client, "acme")
    rules = 'path "transit/encrypt/*" { capabilities = ["update"] }'
    call(client, "PUT", "sys/policy/enc", admin, "acme", {"policy": rules})
    enc = call(client, "POST", "auth/token/create", admin, "acme", {"policies": ["tenant-admin"]})
    assert enc.status_code == 200
    encrypter = core.tokens.create(policies=["enc"], parent=None, namespace="acme")[0]
    body = {"plaintext": MSG, "tenant": "globex", "region": "mars-1", "upsert": True}
    # no create capability on transit/keys/<name>: no upsert, whatever the body says
    r = call(client, "POST", "transit/encrypt/fresh", encrypter, "acme", body)
    assert r.status_code == 400
    assert call(client, "GET", "transit/keys/fresh", admin, "acme").status_code == 404
    # with create: Vault's upsert, the tenant is the namespace's and the region the default
    assert call(client, "POST", "transit/encrypt/fresh", admin, "acme", body).status_code == 200
    data = call(client, "GET", "transit/keys/fresh", admin, "acme").json()["data"]
    assert data["tenant"] == "acme" and data["region"] == "local"
    # an existing key: tenant and region in the body change nothing
    call(client, "POST", "transit/keys/k", admin, "acme", {"region": "eu-1"})
    assert call(client, "POST", "transit/encrypt/k", encrypter, "acme", body).status_code == 200
    data = call(client, "GET", "transit/keys/k", admin, "acme").json()["data"]
    assert data["tenant"] == "acme" and data["region"] == "eu-1"


def test_unknown_fields_are_ignored_and_bad_types_refused(client: TestClient) -> None:
    assert call(client, "POST", "transit/keys/k", ROOT, None, {"bogus": 1, "exportable": "true"}).status_code == 204
    assert call(client, "GET", "transit/keys/k").json()["data"]["exportable"] is True
    r = call(client, "POST", "transit/keys/k2", ROOT, None, {"exportable": {"x": 1}})
    assert r.status_code == 400 and "exportable" in r.json()["errors"][0]
    r = call(client, "POST", "transit/encrypt/k", ROOT, None, {"plaintext": MSG, "key_version": "one"})
    assert r.status_code == 400
