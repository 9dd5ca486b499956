# ruff: noqa: F811 - pytest fixtures imported from tests/http/vaultapp.py are parameters here
"""The vault app in process: token roles (auth/token/roles, auth/token/create/:role) and periodic tokens."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient
from tests.http.vaultapp import ROOT, call, client, core  # noqa: F401 - fixtures


def policy(client: TestClient, name: str, text: str) -> None:
    assert call(client, "POST", f"sys/policies/acl/{name}", body={"policy": text}).status_code == 204


def token(client: TestClient, body: dict[str, Any], using: str = ROOT, path: str = "auth/token/create") -> Any:
    r = call(client, "POST", path, token=using, body=body)
    assert r.status_code == 200, r.text
    return r.json()["auth"]


def lookup(client: TestClient, t: str) -> Any:
    return call(client, "GET", "auth/token/lookup-self", token=t).json()["data"]


def test_role_crud(client: TestClient) -> None:
    assert call(client, "LIST", "auth/token/roles").status_code == 404
    assert call(client, "GET", "auth/token/roles/app").status_code == 404
    body = {"allowed_policies": "b,a", "orphan": True, "token_period": "1h", "path_suffix": "v1"}
    assert call(client, "POST", "auth/token/roles/app", body=body).status_code == 204
    data = call(client, "GET", "auth/token/roles/app").json()["data"]
    assert data["allowed_policies"] == ["a", "b"] and data["orphan"] is True and data["renewable"] is True
    assert data["token_period"] == 3600 and data["period"] == 3600 and data["path_suffix"] == "v1"
    assert data["name"] == "app" and data["token_type"] == "default-service"
    assert call(client, "POST", "auth/token/roles/app", body={"renewable": False}).status_code == 204  # update
    again = call(client, "GET", "auth/token/roles/app").json()["data"]
    assert again["renewable"] is False and again["allowed_policies"] == ["a", "b"]
    assert call(client, "LIST", "auth/token/roles").json()["data"]["keys"] == ["app"]
    assert call(client, "DELETE", "auth/token/roles/app").status_code == 204
    assert call(client, "GET", "auth/token/roles/app").status_code == 404


def test_unsupported_role_fields_are_refused(client: TestClient) -> None:
    for body, message in (
        ({"token_bound_cidrs": ["10.0.0.0/8"]}, "token_bound_cidrs is not supported by strongroom's token roles"),
        ({"allowed_policies_glob": "app-*"}, "allowed_policies_glob is not supported by strongroom's token roles"),
        ({"token_type": "batch"}, "batch tokens are not supported"),
        ({"path_suffix": "a/b"}, "path_suffix contains invalid characters"),
    ):
        r = call(client, "POST", "auth/token/roles/x", body=body)
        assert r.status_code == 400 and r.json()["errors"] == [message], body
    assert call(client, "GET", "auth/token/roles/x").status_code == 404


def test_a_role_lets_a_token_give_the_role_s_policies_and_no_others(client: TestClient) -> None:
    policy(client, "app", 'path "secret/data/app/*" { capabilities = ["read"] }')
    policy(client, "other", 'path "secret/data/other/*" { capabilities = ["read"] }')
    policy(client, "minter", 'path "auth/token/create/app" { capabilities = ["update"] }')
    call(client, "POST", "auth/token/roles/app", body={"allowed_policies": ["app"]})
    minter = token(client, {"policies": ["minter"]})["client_token"]
    made = token(client, {}, using=minter, path="auth/token/create/app")
    assert made["policies"] == ["app", "default"]  # the role's policies, though the minter holds neither
    info = lookup(client, made["client_token"])
    assert info["path"] == "auth/token/create/app" and info["role"] == "app"
    r = call(client, "POST", "auth/token/create/app", token=minter, body={"policies": ["other"]})
    assert r.status_code == 400
    assert r.json()["errors"] == ['token policies (["other"]) must be subset of the role\'s allowed policies (["app"])']
    # without the role the minter may not create tokens at all
    assert call(client, "POST", "auth/token/create", token=minter, body={"policies": ["app"]}).status_code == 403
    unknown = call(client, "POST", "auth/token/create/nope", body={})
    assert unknown.status_code == 400 and unknown.json()["errors"] == ["unknown role nope"]


def test_disallowed_policies_and_orphan_roles(client: TestClient) -> None:
    policy(client, "app", 'path "secret/data/app/*" { capabilities = ["read"] }')
    policy(client, "admin", 'path "*" { capabilities = ["read"] }\npath "auth/token/*" { capabilities = ["update"] }')
    call(client, "POST", "auth/token/roles/plain", body={"disallowed_policies": "admin", "orphan": True})
    parent = token(client, {"policies": ["app", "admin"]})["client_token"]
    r = call(client, "POST", "auth/token/create/plain", token=parent, body={"policies": ["admin"]})
    assert r.status_code == 400 and r.json()["errors"] == ['token policy "admin" is disallowed by this role']
    child = token(client, {}, using=parent, path="auth/token/create/plain")
    assert child["policies"] == ["app", "default"] and child["orphan"] is True
    assert call(client, "POST", "auth/token/revoke-self", token=parent).status_code == 204
    assert call(client, "GET", "auth/token/lookup-self", token=child["client_token"]).status_code == 200  # orphan


def test_periodic_tokens(client: TestClient) -> None:
    policy(client, "creator", 'path "auth/token/create" { capabilities = ["update"] }')
    plain = token(client, {"policies": ["creator"]})["client_token"]
    refused = call(client, "POST", "auth/token/create", token=plain, body={"period": "1h", "policies": ["creator"]})
    assert refused.status_code == 400
    assert refused.json()["errors"] == ["root or sudo privileges required to create periodic token"]
    periodic = token(client, {"period": "1h", "policies": ["default"]})
    assert periodic["lease_duration"] == 3600 and periodic["renewable"] is True
    info = lookup(client, periodic["client_token"])
    assert info["period"] == 3600 and 3590 <= info["ttl"] <= 3600
    renewed = call(client, "POST", "auth/token/renew-self", token=periodic["client_token"], body={"increment": "10h"})
    assert renewed.status_code == 200 and renewed.json()["auth"]["lease_duration"] <= 3601  # back to the period
    call(client, "POST", "auth/token/roles/p", body={"token_period": 120})
    via_role = token(client, {}, path="auth/token/create/p")
    assert via_role["lease_duration"] == 120 and lookup(client, via_role["client_token"])["period"] == 120
    call(client, "POST", "auth/token/roles/p", body={"path_suffix": "v2"})
    suffixed = token(client, {}, path="auth/token/create/p")
    assert lookup(client, suffixed["client_token"])["path"] == "auth/token/create/p/v2"  # Vault's path_suffix
