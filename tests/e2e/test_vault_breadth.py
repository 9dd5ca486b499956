"""The Vault API beyond transit/ and secret/, judged by unmodified hvac over TLS: more secrets mounts (a second KV v2
mount at apps/, KV v1, a second transit), auth methods (AppRole, userpass) enabled through sys/auth, token roles
and periodic tokens, and all of it inside a tenant's namespace.

One shared server (conftest's ``server``); every test uses its own mount paths and names.
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
from tests.conftest import ROOT_TOKEN, Server, register_secret

pytestmark = pytest.mark.e2e

MSG = base64.b64encode(b"card 4111 1111 1111 1111").decode()


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def client(data_dir: Path, token: str | None = ROOT_TOKEN, namespace: str | None = None) -> hvac.Client:
    info = json.loads((data_dir / "run" / "vault.json").read_text())
    return hvac.Client(
        url=info["url"], token=token, verify=str(data_dir / "tls" / "ca.pem"), timeout=30, namespace=namespace
    )


@pytest.fixture()
def vault(server: Server) -> Iterator[hvac.Client]:
    c = client(server.data_dir)
    yield c
    c.adapter.close()


def test_a_second_kv_mount_at_apps(vault: hvac.Client) -> None:
    path = uid("apps")
    vault.sys.enable_secrets_engine(backend_type="kv", path=path, options={"version": "2"}, description="apps")
    mounts = vault.sys.list_mounted_secrets_engines()["data"]
    assert mounts[f"{path}/"]["type"] == "kv" and mounts[f"{path}/"]["options"] == {"version": "2"}
    kv = vault.secrets.kv.v2
    kv.create_or_update_secret(path="db", secret={"password": "apps-pw"}, mount_point=path)
    kv.create_or_update_secret(path="db", secret={"password": "apps-pw-2"}, mount_point=path)
    got = kv.read_secret_version(path="db", mount_point=path, raise_on_deleted_version=True)["data"]
    assert got["data"] == {"password": "apps-pw-2"} and got["metadata"]["version"] == 2
    assert kv.list_secrets(path="", mount_point=path)["data"]["keys"] == ["db"]
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv.read_secret_version(path="db", mount_point="secret", raise_on_deleted_version=True)
    vault.sys.tune_mount_configuration(path=path, default_lease_ttl="1h", max_lease_ttl="2h")
    tuned = vault.sys.read_mount_configuration(path=path)["data"]
    assert (tuned["default_lease_ttl"], tuned["max_lease_ttl"]) == (3600, 7200)
    with pytest.raises(hvac.exceptions.InvalidRequest, match=f"path is already in use at {path}/"):
        vault.sys.enable_secrets_engine(backend_type="kv", path=path)
    vault.sys.disable_secrets_engine(path=path)
    assert f"{path}/" not in vault.sys.list_mounted_secrets_engines()["data"]
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv.read_secret_version(path="db", mount_point=path, raise_on_deleted_version=True)


def test_kv_v1_and_a_second_transit_mount(vault: hvac.Client) -> None:
    v1, tr = uid("legacy"), uid("transit2")
    vault.sys.enable_secrets_engine(backend_type="kv", path=v1, options={"version": "1"})
    vault.secrets.kv.v1.create_or_update_secret(path="team/db", secret={"user": "u", "pass": "p"}, mount_point=v1)
    assert vault.secrets.kv.v1.read_secret(path="team/db", mount_point=v1)["data"] == {"user": "u", "pass": "p"}
    assert vault.secrets.kv.v1.list_secrets(path="team", mount_point=v1)["data"]["keys"] == ["db"]
    vault.secrets.kv.v1.delete_secret(path="team/db", mount_point=v1)
    with pytest.raises(hvac.exceptions.InvalidPath):
        vault.secrets.kv.v1.read_secret(path="team/db", mount_point=v1)
    vault.sys.enable_secrets_engine(backend_type="transit", path=tr)
    vault.secrets.transit.create_key(name="card", mount_point=tr)
    ct = vault.secrets.transit.encrypt_data(name="card", plaintext=MSG, mount_point=tr)["data"]["ciphertext"]
    assert vault.secrets.transit.decrypt_data(name="card", ciphertext=ct, mount_point=tr)["data"]["plaintext"] == MSG
    with pytest.raises(hvac.exceptions.InvalidPath):
        vault.secrets.transit.read_key(name="card")  # the built-in transit/ does not hold it
    for p in (v1, tr):
        vault.sys.disable_secrets_engine(path=p)


def test_approle_login_gives_a_token_that_may_encrypt_under_its_policy(vault: hvac.Client, server: Server) -> None:
    mount, key, pol = uid("approle"), uid("orders"), uid("encrypt-only")
    vault.secrets.transit.create_key(name=key)
    vault.sys.create_or_update_acl_policy(
        name=pol, policy=f'path "transit/encrypt/{key}" {{ capabilities = ["update"] }}'
    )
    vault.sys.enable_auth_method(method_type="approle", path=mount)
    assert vault.sys.list_auth_methods()["data"][f"{mount}/"]["type"] == "approle"
    vault.auth.approle.create_or_update_approle(
        role_name="orders-app", token_policies=[pol], token_ttl="10m", mount_point=mount
    )
    role_id = vault.auth.approle.read_role_id(role_name="orders-app", mount_point=mount)["data"]["role_id"]
    made = vault.auth.approle.generate_secret_id(role_name="orders-app", mount_point=mount)["data"]
    secret_id = made["secret_id"]
    register_secret(secret_id, "an AppRole secret id")

    app = client(server.data_dir, token=None)
    auth = app.auth.approle.login(role_id=role_id, secret_id=secret_id, mount_point=mount)["auth"]
    register_secret(auth["client_token"], "an AppRole login token")
    assert app.token == auth["client_token"] and sorted(auth["policies"]) == sorted(["default", pol])
    assert auth["metadata"] == {"role_name": "orders-app"} and auth["lease_duration"] == 600
    me = app.auth.token.lookup_self()["data"]
    assert me["path"] == f"auth/{mount}/login" and me["orphan"] is True
    ct = app.secrets.transit.encrypt_data(name=key, plaintext=MSG)["data"]["ciphertext"]
    assert vault.secrets.transit.decrypt_data(name=key, ciphertext=ct)["data"]["plaintext"] == MSG
    with pytest.raises(hvac.exceptions.Forbidden):
        app.secrets.transit.decrypt_data(name=key, ciphertext=ct)  # the policy grants encrypt only
    with pytest.raises(hvac.exceptions.InvalidRequest):
        client(server.data_dir, token=None).auth.approle.login(role_id=role_id, secret_id="wrong", mount_point=mount)

    # disabling the auth method revokes what it issued
    vault.sys.disable_auth_method(path=mount)
    with pytest.raises(hvac.exceptions.Forbidden):
        app.auth.token.lookup_self()


def test_userpass_login(vault: hvac.Client, server: Server) -> None:
    mount, pol, path = uid("userpass"), uid("read-team"), uid("team")
    password = uid("correct-horse")
    register_secret(password, "a userpass password")
    vault.secrets.kv.v2.create_or_update_secret(path=f"{path}/db", secret={"k": "v"})
    vault.sys.create_or_update_acl_policy(name=pol, policy=f'path "secret/data/{path}/*" {{ capabilities = ["read"] }}')
    vault.sys.enable_auth_method(method_type="userpass", path=mount)
    vault.auth.userpass.create_or_update_user(username="alice", password=password, policies=[pol], mount_point=mount)
    assert vault.auth.userpass.list_user(mount_point=mount)["data"]["keys"] == ["alice"]
    user = vault.auth.userpass.read_user(username="alice", mount_point=mount)["data"]
    assert user["token_policies"] == [pol] and "password" not in user

    alice = client(server.data_dir, token=None)
    auth = alice.auth.userpass.login(username="alice", password=password, mount_point=mount)["auth"]
    register_secret(auth["client_token"], "a userpass login token")
    assert auth["metadata"] == {"username": "alice"}
    got = alice.secrets.kv.v2.read_secret_version(path=f"{path}/db", raise_on_deleted_version=True)["data"]["data"]
    assert got == {"k": "v"}
    with pytest.raises(hvac.exceptions.Forbidden):
        alice.secrets.kv.v2.create_or_update_secret(path=f"{path}/db", secret={"k": "w"})
    for name, pw in (("alice", "wrong"), ("mallory", password)):
        with pytest.raises(hvac.exceptions.InvalidRequest, match="invalid username or password"):
            client(server.data_dir, token=None).auth.userpass.login(username=name, password=pw, mount_point=mount)
    vault.sys.disable_auth_method(path=mount)


def test_token_roles_and_periodic_tokens_through_hvac(vault: hvac.Client, server: Server) -> None:
    role, pol = uid("ci"), uid("ci-pol")
    vault.sys.create_or_update_acl_policy(name=pol, policy='path "secret/data/ci/*" { capabilities = ["read"] }')
    vault.auth.token.create_or_update_role(role_name=role, allowed_policies=[pol], orphan=True, token_period="30m")
    assert vault.auth.token.read_role(role_name=role)["data"]["token_period"] == 1800
    assert role in vault.auth.token.list_roles()["data"]["keys"]
    auth = vault.auth.token.create(role_name=role)["auth"]
    register_secret(auth["client_token"], "a token made through a role")
    assert (
        auth["lease_duration"] == 1800
        and auth["orphan"] is True
        and sorted(auth["policies"]) == sorted(["default", pol])
    )
    info = vault.auth.token.lookup(token=auth["client_token"])["data"]
    assert info["period"] == 1800 and info["role"] == role and info["path"] == f"auth/token/create/{role}"
    periodic = client(server.data_dir, token=auth["client_token"])
    renewed = periodic.auth.token.renew_self(increment="24h")["auth"]
    assert 1790 <= renewed["lease_duration"] <= 1800
    vault.auth.token.delete_role(role_name=role)


def test_everything_inside_a_tenant_namespace(server: Server) -> None:
    tenant = server.tenant_vault()  # tenant default's admin token, in namespace default
    register_secret(tenant.token, "a tenant vault token")
    mount, kvpath, key = uid("approle"), uid("apps"), uid("tkey")
    tenant.sys.enable_secrets_engine(backend_type="kv", path=kvpath, options={"version": "2"})
    tenant.secrets.kv.v2.create_or_update_secret(path="x", secret={"a": "b"}, mount_point=kvpath)
    tenant.secrets.transit.create_key(name=key)
    pol = uid("tenant-enc")
    tenant.sys.create_or_update_acl_policy(
        name=pol, policy=f'path "transit/encrypt/{key}" {{ capabilities = ["update"] }}'
    )
    tenant.sys.enable_auth_method(method_type="approle", path=mount)
    tenant.auth.approle.create_or_update_approle(role_name="svc", token_policies=[pol], mount_point=mount)
    role_id = tenant.auth.approle.read_role_id(role_name="svc", mount_point=mount)["data"]["role_id"]
    secret_id = tenant.auth.approle.generate_secret_id(role_name="svc", mount_point=mount)["data"]["secret_id"]
    register_secret(secret_id, "a tenant AppRole secret id")
    svc = client(server.data_dir, token=None, namespace="default")
    token = svc.auth.approle.login(role_id=role_id, secret_id=secret_id, mount_point=mount)["auth"]["client_token"]
    register_secret(token, "a tenant AppRole token")
    assert svc.secrets.transit.encrypt_data(name=key, plaintext=MSG)["data"]["ciphertext"].startswith("vault:v1:")

    # the root namespace sees none of it; the same login there fails
    root = client(server.data_dir)
    assert f"{mount}/" not in root.sys.list_auth_methods()["data"]
    assert f"{kvpath}/" not in root.sys.list_mounted_secrets_engines()["data"]
    with pytest.raises(hvac.exceptions.Forbidden):  # no such mount there: not a login path, and no token (as Vault)
        client(server.data_dir, token=None).auth.approle.login(role_id=role_id, secret_id=secret_id, mount_point=mount)
    # the operator's root token, in the tenant's namespace: may list the tables, may not change them or read secrets
    operator = client(server.data_dir, namespace="default")
    assert f"{mount}/" in operator.sys.list_auth_methods()["data"]
    with pytest.raises(hvac.exceptions.Forbidden):
        operator.sys.enable_auth_method(method_type="userpass", path=uid("op"))
    with pytest.raises(hvac.exceptions.Forbidden):
        operator.auth.approle.read_role_id(role_name="svc", mount_point=mount)
    with pytest.raises(hvac.exceptions.Forbidden):
        operator.auth.approle.generate_secret_id(role_name="svc", mount_point=mount)
    with pytest.raises(hvac.exceptions.Forbidden):
        operator.secrets.kv.v2.read_secret_version(path="x", mount_point=kvpath, raise_on_deleted_version=True)
    tenant.sys.disable_auth_method(path=mount)
    tenant.sys.disable_secrets_engine(path=kvpath)


def test_login_tokens_bound_to_cidrs_work_only_from_there(vault: hvac.Client, server: Server) -> None:
    mount = uid("approle")
    vault.sys.enable_auth_method(method_type="approle", path=mount)
    for role, cidrs in (("here", ["127.0.0.0/8"]), ("elsewhere", ["10.9.0.0/16"])):
        vault.auth.approle.create_or_update_approle(role_name=role, token_bound_cidrs=cidrs, mount_point=mount)
    tokens = {}
    for role in ("here", "elsewhere"):
        role_id = vault.auth.approle.read_role_id(role_name=role, mount_point=mount)["data"]["role_id"]
        secret_id = vault.auth.approle.generate_secret_id(role_name=role, mount_point=mount)["data"]["secret_id"]
        register_secret(secret_id, "an AppRole secret id")
        c = client(server.data_dir, token=None)
        tokens[role] = c.auth.approle.login(role_id=role_id, secret_id=secret_id, mount_point=mount)["auth"]
        register_secret(tokens[role]["client_token"], "an AppRole login token")
    assert client(server.data_dir, tokens["here"]["client_token"]).auth.token.lookup_self()["data"]["path"]
    with pytest.raises(hvac.exceptions.Forbidden):
        client(server.data_dir, tokens["elsewhere"]["client_token"]).auth.token.lookup_self()
    vault.sys.disable_auth_method(path=mount)
