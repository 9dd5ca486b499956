# ruff: noqa: F811 - pytest fixtures imported from tests/http/vaultapp.py are parameters here
"""The vault app in process: sys/auth (enable, list, tune, disable), userpass and approle over HTTP, the tokens
their logins make, and what disabling a mount revokes."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient
from tests.http.vaultapp import INTERNAL, ROOT, call, client, core  # noqa: F401 - fixtures

from strongroom.keys.storage import walk
from strongroom.service.vault import VaultCore


def ok(r: Any, status: int = 204) -> Any:
    assert r.status_code == status, r.text
    return r.json() if status != 204 else None


def anonymous(client: TestClient, method: str, path: str, body: Any = None, ns: str | None = None) -> Any:
    headers = {"x-vault-namespace": ns} if ns else {}
    return client.request(method, f"/v1/{path}", headers=headers, json=body)


def test_sys_auth_lists_enables_tunes_and_disables(client: TestClient) -> None:
    listed = ok(call(client, "GET", "sys/auth"), 200)["data"]
    assert set(listed) == {"token/"} and listed["token/"]["type"] == "token"
    ok(call(client, "POST", "sys/auth/people", body={"type": "userpass", "description": "humans"}))
    ok(call(client, "POST", "sys/auth/approle", body={"type": "approle"}))
    listed = ok(call(client, "GET", "sys/auth"), 200)["data"]
    assert listed["people/"]["type"] == "userpass" and listed["people/"]["description"] == "humans"
    assert listed["people/"]["accessor"].startswith("auth_userpass_")
    assert listed["approle/"]["accessor"].startswith("auth_approle_")
    for path, body, message in (
        ("people", {"type": "userpass"}, "path is already in use at people/"),
        ("token", {"type": "token"}, "token credential backend cannot be instantiated"),
        ("x", {"type": "ldap"}, "plugin not found in the catalog: ldap"),
        ("x", {}, "auth type must be specified"),
    ):
        r = call(client, "POST", f"sys/auth/{path}", body=body)
        assert r.status_code == 400 and r.json()["errors"] == [message], path
    ok(call(client, "POST", "sys/auth/people/tune", body={"default_lease_ttl": "30m"}))
    assert ok(call(client, "GET", "sys/auth/people/tune"), 200)["data"]["default_lease_ttl"] == 1800
    d = call(client, "DELETE", "sys/auth/token")
    assert d.status_code == 400 and d.json()["errors"] == ["cannot unmount 'token/': strongroom's built-in auth method"]
    ok(call(client, "DELETE", "sys/auth/approle"))
    assert "approle/" not in ok(call(client, "GET", "sys/auth"), 200)["data"]


def test_changing_sys_auth_needs_sudo_but_listing_does_not(client: TestClient) -> None:
    policy = 'path "sys/auth" { capabilities = ["read"] }\npath "sys/auth/*" { capabilities = ["update", "delete"] }'
    ok(call(client, "POST", "sys/policies/acl/auth-nosudo", body={"policy": policy}))
    t = ok(call(client, "POST", "auth/token/create", body={"policies": ["auth-nosudo"]}), 200)["auth"]["client_token"]
    assert call(client, "GET", "sys/auth", token=t).status_code == 200
    assert call(client, "POST", "sys/auth/u", token=t, body={"type": "userpass"}).status_code == 403


def test_userpass_users_and_login(client: TestClient, core: VaultCore) -> None:
    ok(call(client, "POST", "sys/auth/userpass", body={"type": "userpass"}))
    body = {"password": "hunter2-long", "token_policies": "app,ops", "token_ttl": "1h", "token_max_ttl": "2h"}
    ok(call(client, "POST", "auth/userpass/users/Alice", body=body))
    user = ok(call(client, "GET", "auth/userpass/users/alice"), 200)["data"]
    assert user["token_policies"] == ["app", "ops"] and user["token_ttl"] == 3600 and user["token_max_ttl"] == 7200
    assert "password" not in user and "password_hash" not in user
    assert ok(call(client, "LIST", "auth/userpass/users"), 200)["data"]["keys"] == ["alice"]
    stored = b"".join(core.seal_manager.barrier.get(p) or b"" for p in walk(core.seal_manager.barrier))
    assert b"hunter2-long" not in stored

    login = ok(anonymous(client, "POST", "auth/userpass/login/alice", {"password": "hunter2-long"}), 200)["auth"]
    assert login["policies"] == ["app", "default", "ops"] and login["lease_duration"] == 3600
    assert login["metadata"] == {"username": "alice"} and login["orphan"] is True
    me = ok(call(client, "GET", "auth/token/lookup-self", token=login["client_token"]), 200)["data"]
    assert me["path"] == "auth/userpass/login/alice" and me["display_name"] == "token-userpass-alice"
    for name, password in (("alice", "wrong"), ("bob", "hunter2-long")):
        r = anonymous(client, "POST", f"auth/userpass/login/{name}", {"password": password})
        assert r.status_code == 400 and r.json()["errors"] == ["invalid username or password"]

    ok(call(client, "POST", "auth/userpass/users/alice/password", body={"password": "new-password-1"}))
    assert anonymous(client, "POST", "auth/userpass/login/alice", {"password": "hunter2-long"}).status_code == 400
    ok(anonymous(client, "POST", "auth/userpass/login/alice", {"password": "new-password-1"}), 200)
    ok(call(client, "POST", "auth/userpass/users/alice/policies", body={"token_policies": ["ops"]}))
    assert ok(call(client, "GET", "auth/userpass/users/alice"), 200)["data"]["token_policies"] == ["ops"]
    root_pol = call(client, "POST", "auth/userpass/users/eve", body={"password": "pw-123456", "policies": "root"})
    assert root_pol.status_code == 400
    assert root_pol.json()["errors"] == ["the root policy cannot be given through an auth method"]
    ok(call(client, "DELETE", "auth/userpass/users/alice"))
    assert call(client, "GET", "auth/userpass/users/alice").status_code == 404


def test_approle_role_secret_id_and_login(client: TestClient, core: VaultCore) -> None:
    ok(call(client, "POST", "sys/auth/machines", body={"type": "approle"}))
    base = "auth/machines/role/web"
    ok(call(client, "POST", base, body={"token_policies": "web", "token_ttl": 600, "secret_id_num_uses": 2}))
    role = ok(call(client, "GET", base), 200)["data"]
    assert role["token_policies"] == ["web"] and role["secret_id_num_uses"] == 2 and role["bind_secret_id"] is True
    assert ok(call(client, "LIST", "auth/machines/role"), 200)["data"]["keys"] == ["web"]
    role_id = ok(call(client, "GET", f"{base}/role-id"), 200)["data"]["role_id"]
    made = ok(call(client, "POST", f"{base}/secret-id", body={"metadata": '{"host": "web-1"}'}), 200)["data"]
    secret_id, accessor = made["secret_id"], made["secret_id_accessor"]
    assert made["secret_id_num_uses"] == 2
    stored = b"".join(core.seal_manager.barrier.get(p) or b"" for p in walk(core.seal_manager.barrier))
    assert secret_id.encode() not in stored
    assert ok(call(client, "LIST", f"{base}/secret-id"), 200)["data"]["keys"] == [accessor]
    info = ok(call(client, "POST", f"{base}/secret-id/lookup", body={"secret_id": secret_id}), 200)["data"]
    assert info["metadata"] == {"host": "web-1"} and info["secret_id_accessor"] == accessor

    body = {"role_id": role_id, "secret_id": secret_id}
    first = ok(anonymous(client, "POST", "auth/machines/login", body), 200)["auth"]
    assert first["policies"] == ["default", "web"] and first["lease_duration"] == 600
    assert first["metadata"] == {"host": "web-1", "role_name": "web"}  # the secret id's metadata, as Vault
    ok(anonymous(client, "POST", "auth/machines/login", body), 200)
    spent = anonymous(client, "POST", "auth/machines/login", body)  # 2 uses, then gone
    assert spent.status_code == 400 and spent.json()["errors"] == ["invalid role or secret ID"]
    wrong = anonymous(client, "POST", "auth/machines/login", {"role_id": "nope", "secret_id": secret_id})
    assert wrong.status_code == 400

    other = ok(call(client, "POST", f"{base}/secret-id"), 200)["data"]
    ok(
        call(
            client,
            "POST",
            f"{base}/secret-id-accessor/destroy",
            body={"secret_id_accessor": other["secret_id_accessor"]},
        )
    )
    gone = anonymous(client, "POST", "auth/machines/login", {"role_id": role_id, "secret_id": other["secret_id"]})
    assert gone.status_code == 400

    # disabling the method revokes its tokens and deletes its roles
    assert call(client, "GET", "auth/token/lookup-self", token=first["client_token"]).status_code == 200
    ok(call(client, "DELETE", "sys/auth/machines"))
    assert call(client, "GET", "auth/token/lookup-self", token=first["client_token"]).status_code == 403
    ok(call(client, "POST", "sys/auth/machines", body={"type": "approle"}))
    assert call(client, "GET", base).status_code == 404


def test_login_tokens_respect_the_mount_ttls_and_bound_cidrs(client: TestClient) -> None:
    ok(call(client, "POST", "sys/auth/short", body={"type": "approle", "config": {"max_lease_ttl": "10m"}}))
    ok(call(client, "POST", "auth/short/role/r", body={"token_ttl": "1h"}))
    role_id = ok(call(client, "GET", "auth/short/role/r/role-id"), 200)["data"]["role_id"]
    sid = ok(call(client, "POST", "auth/short/role/r/secret-id"), 200)["data"]["secret_id"]
    login = ok(anonymous(client, "POST", "auth/short/login", {"role_id": role_id, "secret_id": sid}), 200)["auth"]
    assert login["lease_duration"] == 600  # the role asks 1h; the mount allows 10m
    ok(call(client, "POST", "auth/short/role/b", body={"token_bound_cidrs": "10.1.0.0/16"}))
    rid = ok(call(client, "GET", "auth/short/role/b/role-id"), 200)["data"]["role_id"]
    sid = ok(call(client, "POST", "auth/short/role/b/secret-id"), 200)["data"]["secret_id"]
    bound = ok(anonymous(client, "POST", "auth/short/login", {"role_id": rid, "secret_id": sid}), 200)["auth"]
    # the test client is not in 10.1.0.0/16: the token exists but may not be used from here
    assert call(client, "GET", "auth/token/lookup-self", token=bound["client_token"]).status_code == 403


def test_auth_methods_are_per_namespace(client: TestClient) -> None:
    ok(call(client, "POST", "strongroom/internal/namespaces/acme", token=INTERNAL), 200)
    r = call(client, "POST", "strongroom/internal/namespaces/acme/token", token=INTERNAL, body={"ttl": 600})
    tenant = r.json()["data"]["client_token"]
    ok(call(client, "POST", "sys/auth/userpass", token=tenant, ns="acme", body={"type": "userpass"}))
    ok(call(client, "POST", "auth/userpass/users/ann", token=tenant, ns="acme", body={"password": "pw-ann-1234"}))
    login = ok(anonymous(client, "POST", "auth/userpass/login/ann", {"password": "pw-ann-1234"}, ns="acme"), 200)
    t = login["auth"]["client_token"]
    assert ok(call(client, "GET", "auth/token/lookup-self", token=t, ns="acme"), 200)["data"]["path"].startswith(
        "auth/"
    )
    assert call(client, "GET", "auth/token/lookup-self", token=t).status_code == 403  # not a root-namespace token
    nothing = anonymous(client, "POST", "auth/userpass/login/ann", {"password": "pw-ann-1234"})
    assert nothing.status_code == 403  # no such mount in the root namespace: an unknown path needs a token
    assert "userpass/" not in ok(call(client, "GET", "sys/auth"), 200)["data"]
    assert "userpass/" in ok(call(client, "GET", "sys/auth", ns="acme"), 200)["data"]  # the operator may look
    assert call(client, "POST", "sys/auth/more", ns="acme", body={"type": "approle"}).status_code == 403
    assert call(client, "GET", "auth/userpass/users/ann", ns="acme").status_code == 403
