# ruff: noqa: F811 - pytest fixtures imported from tests/http/vaultapp.py are parameters here
"""The vault app in process: sys/mounts (enable, tune, list, disable kv v1/v2 and transit at any path), KV v1,
routing by longest mount prefix, ACLs on mounted paths, and mounts per namespace."""

from __future__ import annotations

import base64

from starlette.testclient import TestClient
from tests.http.vaultapp import INTERNAL, ROOT, call, client, core  # noqa: F401 - fixtures

from strongroom.keys.storage import walk
from strongroom.service.vault import VaultCore

MSG = base64.b64encode(b"attack at dawn").decode()


def enable(client: TestClient, path: str, body: dict[str, object], ns: str | None = None, token: str = ROOT) -> None:
    r = call(client, "POST", f"sys/mounts/{path}", token=token, body=body, ns=ns)
    assert r.status_code == 204, r.text


def errors_of(r: object) -> list[str]:
    return list(r.json()["errors"])  # type: ignore[attr-defined]


def test_the_builtin_mounts_are_listed_and_cannot_be_disabled_or_tuned(client: TestClient) -> None:
    r = call(client, "GET", "sys/mounts")
    assert r.status_code == 200
    data = r.json()["data"]
    assert set(data) == {"secret/", "transit/"}
    assert data["secret/"]["type"] == "kv" and data["secret/"]["options"] == {"version": "2"}
    assert data["transit/"]["type"] == "transit" and data["transit/"]["options"] is None
    assert r.json()["secret/"] == data["secret/"]  # hvac reads the top-level copy too
    for path in ("secret", "transit"):
        d = call(client, "DELETE", f"sys/mounts/{path}")
        assert d.status_code == 400 and errors_of(d) == [
            f"cannot unmount '{path}/': strongroom's built-in secrets engine"
        ]
    t = call(client, "POST", "sys/mounts/transit/tune", body={"default_lease_ttl": "1h"})
    assert t.status_code == 400


def test_a_second_kv_v2_mount_is_separate_from_secret(client: TestClient) -> None:
    enable(client, "apps", {"type": "kv", "options": {"version": "2"}, "description": "the apps"})
    listed = call(client, "GET", "sys/mounts").json()["data"]["apps/"]
    assert listed["type"] == "kv" and listed["options"] == {"version": "2"} and listed["description"] == "the apps"
    assert listed["accessor"].startswith("kv_") and listed["uuid"]
    w = call(client, "POST", "apps/data/db", body={"data": {"password": "s3cr3t"}})
    assert w.status_code == 200 and w.json()["data"]["version"] == 1
    r = call(client, "GET", "apps/data/db")
    assert r.status_code == 200 and r.json()["data"]["data"] == {"password": "s3cr3t"}
    assert call(client, "GET", "secret/data/db").status_code == 404
    assert call(client, "LIST", "apps/metadata").json()["data"]["keys"] == ["db"]
    assert call(client, "LIST", "secret/metadata").status_code == 404
    ui = call(client, "GET", "sys/internal/ui/mounts/apps/data/db").json()["data"]
    assert ui["path"] == "apps/" and ui["type"] == "kv" and ui["options"] == {"version": "2"}


def test_kv_v1_mount(client: TestClient) -> None:
    enable(client, "legacy", {"type": "kv"})  # kv without a version is version 1, as in Vault
    assert call(client, "GET", "sys/mounts").json()["data"]["legacy/"]["options"] == {"version": "1"}
    assert call(client, "POST", "legacy/team/db", body={"user": "app", "pass": "pw"}).status_code == 204
    assert call(client, "POST", "legacy/team/cache", body={"url": "redis://"}).status_code == 204
    assert call(client, "POST", "legacy/top", body={"a": "1"}).status_code == 204
    r = call(client, "GET", "legacy/team/db")
    assert r.status_code == 200 and r.json()["data"] == {"user": "app", "pass": "pw"}
    assert r.json()["lease_duration"] == 768 * 3600
    assert call(client, "LIST", "legacy").json()["data"]["keys"] == ["team/", "top"]
    assert call(client, "LIST", "legacy/team").json()["data"]["keys"] == ["cache", "db"]
    assert call(client, "POST", "legacy/team/db", body={"user": "other"}).status_code == 204  # replaces the value
    assert call(client, "GET", "legacy/team/db").json()["data"] == {"user": "other"}
    empty = call(client, "POST", "legacy/x", body={})
    assert empty.status_code == 400 and errors_of(empty) == ["no data provided"]
    assert call(client, "DELETE", "legacy/team/db").status_code == 204
    assert call(client, "GET", "legacy/team/db").status_code == 404
    assert call(client, "LIST", "legacy/nothing").status_code == 404


def test_a_second_transit_mount_has_its_own_keys(client: TestClient) -> None:
    enable(client, "payments/transit", {"type": "transit"})
    assert call(client, "POST", "payments/transit/keys/card").status_code == 204
    enc = call(client, "POST", "payments/transit/encrypt/card", body={"plaintext": MSG})
    assert enc.status_code == 200, enc.text
    ct = enc.json()["data"]["ciphertext"]
    dec = call(client, "POST", "payments/transit/decrypt/card", body={"ciphertext": ct})
    assert dec.json()["data"]["plaintext"] == MSG
    assert call(client, "GET", "transit/keys/card").status_code == 404  # not in the built-in transit/
    assert call(client, "LIST", "payments/transit/keys").json()["data"]["keys"] == ["card"]
    assert call(client, "POST", "transit/decrypt/card", body={"ciphertext": ct}).status_code in (400, 404)


def test_enable_errors(client: TestClient) -> None:
    enable(client, "apps", {"type": "kv-v2"})
    cases = [
        ("apps", {"type": "kv"}, "path is already in use at apps/"),
        ("apps/nested", {"type": "kv"}, "path is already in use at apps/"),
        ("secret/more", {"type": "kv"}, "path is already in use at secret/"),
        ("transit", {"type": "transit"}, "path is already in use at transit/"),
        ("foo", {"type": "foo"}, "plugin not found in the catalog: foo"),
        ("sys/x", {"type": "kv"}, 'cannot mount under "sys/"'),
        ("strongroom", {"type": "kv"}, 'cannot mount under "strongroom/"'),
        ("bar", {}, "backend type must be specified"),
        ("bar", {"type": "kv", "options": {"version": "3"}}, "invalid kv version '3': version 1 or 2"),
        ("bar", {"type": "kv", "seal_wrap": True}, None),
        ("bar", {"type": "kv", "config": {"default_lease_ttl": "2h", "max_lease_ttl": "1h"}}, None),
    ]
    for path, body, message in cases:
        r = call(client, "POST", f"sys/mounts/{path}", body=body)
        assert r.status_code == 400, (path, body, r.text)
        if message is not None:
            assert errors_of(r) == [message], (path, body)
    # a mount may not take a path that would hold an existing one either
    enable(client, "team/a", {"type": "kv"})
    r = call(client, "POST", "sys/mounts/team", body={"type": "kv"})
    assert r.status_code == 400 and errors_of(r) == ["path is already in use at team/a/"]


def test_tune_and_read(client: TestClient) -> None:
    enable(client, "apps", {"type": "kv-v2", "config": {"default_lease_ttl": "1h"}})
    r = call(client, "GET", "sys/mounts/apps/tune")
    assert r.status_code == 200
    assert r.json()["data"] == {
        "default_lease_ttl": 3600,
        "max_lease_ttl": 768 * 3600,
        "force_no_cache": False,
        "description": "",
        "options": {"version": "2"},
    }
    assert (
        call(client, "POST", "sys/mounts/apps/tune", body={"max_lease_ttl": "2h", "description": "x"}).status_code
        == 204
    )
    assert call(client, "GET", "sys/mounts/apps/tune").json()["data"]["max_lease_ttl"] == 7200
    one = call(client, "GET", "sys/mounts/apps").json()["data"]
    assert one["description"] == "x" and one["config"]["default_lease_ttl"] == 3600
    down = call(client, "POST", "sys/mounts/apps/tune", body={"options": {"version": "1"}})
    assert down.status_code == 400 and errors_of(down) == ["cannot downgrade mount from KV version 2 to KV version 1"]
    assert call(client, "GET", "sys/mounts/nope/tune").status_code == 400
    assert call(client, "POST", "sys/mounts/nope/tune", body={"description": "y"}).status_code == 400


def test_disable_removes_the_data_and_the_route(client: TestClient, core: VaultCore) -> None:
    enable(client, "apps", {"type": "kv-v2"})
    call(client, "POST", "apps/data/db", body={"data": {"password": "s3cr3t"}})
    entry = core.root.mounts.get("apps")
    assert entry is not None
    prefix = entry.storage_prefix
    assert walk(core.root.storage, prefix)
    assert call(client, "DELETE", "sys/mounts/apps").status_code == 204
    assert walk(core.root.storage, prefix) == []
    gone = call(client, "GET", "apps/data/db")
    assert gone.status_code == 404 and errors_of(gone) == [
        'no handler for route "apps/data/db". route entry not found.'
    ]
    assert call(client, "DELETE", "sys/mounts/apps").status_code == 204  # nothing mounted: no error, as Vault
    enable(client, "apps", {"type": "kv-v2"})
    assert call(client, "GET", "apps/data/db").status_code == 404  # a new mount starts empty


def test_policies_apply_to_mounted_paths(client: TestClient) -> None:
    enable(client, "apps", {"type": "kv-v2"})
    call(client, "POST", "apps/data/db", body={"data": {"k": "v"}})
    call(client, "POST", "secret/data/db", body={"data": {"k": "root"}})
    policy = 'path "apps/data/*" { capabilities = ["read"] }'
    assert call(client, "POST", "sys/policies/acl/apps-read", body={"policy": policy}).status_code == 204
    token = call(client, "POST", "auth/token/create", body={"policies": ["apps-read"]}).json()["auth"]["client_token"]
    assert call(client, "GET", "apps/data/db", token=token).json()["data"]["data"] == {"k": "v"}
    assert call(client, "GET", "secret/data/db", token=token).status_code == 403
    assert call(client, "POST", "apps/data/db", token=token, body={"data": {"k": "w"}}).status_code == 403
    assert call(client, "POST", "sys/mounts/other", token=token, body={"type": "kv"}).status_code == 403


def test_mounts_are_per_namespace(client: TestClient) -> None:
    assert call(client, "POST", "strongroom/internal/namespaces/acme", token=INTERNAL).status_code == 200
    r = call(client, "POST", "strongroom/internal/namespaces/acme/token", token=INTERNAL, body={"ttl": 600})
    tenant = r.json()["data"]["client_token"]
    enable(client, "apps", {"type": "kv-v2"}, ns="acme", token=tenant)
    assert call(client, "POST", "sys/mounts/apps", token=tenant, ns="acme", body={"type": "kv"}).status_code == 400
    assert call(client, "POST", "apps/data/x", token=tenant, ns="acme", body={"data": {"a": "b"}}).status_code == 200
    assert "apps/" not in call(client, "GET", "sys/mounts").json()["data"]  # the root namespace's table
    assert call(client, "GET", "apps/data/x").status_code == 404  # no such mount in the root namespace
    assert "apps/" in call(client, "GET", "sys/mounts", token=tenant, ns="acme").json()["data"]
    # the operator's root token may read the tenant's mount table, not its secrets, and may not change the table
    assert "apps/" in call(client, "GET", "sys/mounts", ns="acme").json()["data"]
    assert call(client, "GET", "apps/data/x", ns="acme").status_code == 403
    assert call(client, "POST", "sys/mounts/more", ns="acme", body={"type": "kv"}).status_code == 403
    assert call(client, "DELETE", "sys/mounts/apps", ns="acme").status_code == 403
    # a namespace holding a mount with data is not empty; force-deleting it removes the mount's data too
    d = call(client, "DELETE", "strongroom/internal/namespaces/acme", token=INTERNAL)
    assert d.status_code == 400 and "still holds transit keys or KV secrets" in errors_of(d)[0], d.text
