"""Vault tokens and ACL policies."""

from __future__ import annotations

import datetime as dt

import pytest

from strongroom.core import errors
from strongroom.keys.storage import MemoryStorage
from strongroom.keys.tokens import TokenStore, parse_policy


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture()
def store():
    clock = Clock()
    st = TokenStore(MemoryStorage(), clock)
    st.clock_obj = clock  # type: ignore[attr-defined]
    return st


def test_root_token_may_do_anything_and_only_its_hash_is_stored(store):
    token, entry = store.create(policies=["root"], parent=None, token_id="s.my-root-token")
    assert store.lookup("s.my-root-token").policies == ["root"]
    assert store.allowed(entry, "transit/keys/x", "update")
    raw = b"".join(store.storage.get(p) or b"" for p in ["auth/token/id/" + entry.id_hash])
    assert b"s.my-root-token" not in raw
    assert store.lookup("wrong") is None


def test_policy_paths_globs_plus_and_deny(store):
    store.put_policy(
        "app",
        """
        path "secret/data/app/*" { capabilities = ["read", "create", "update"] }
        path "secret/data/app/private" { capabilities = ["deny"] }
        path "transit/encrypt/+" { capabilities = ["update"] }
        path "transit/keys/exact" { capabilities = ["read"] }
        """,
    )
    _t, e = store.create(policies=["app"], parent=None)
    assert e.policies == ["app", "default"]
    assert store.allowed(e, "secret/data/app/x", "read")
    assert store.allowed(e, "secret/data/app/deep/x", "update")
    assert not store.allowed(e, "secret/data/app/x", "delete")
    assert not store.allowed(e, "secret/data/app/private", "read")
    assert store.allowed(e, "transit/encrypt/k1", "update")
    assert not store.allowed(e, "transit/encrypt/k1/extra", "update")
    assert store.allowed(e, "transit/keys/exact", "read")
    assert not store.allowed(e, "transit/keys/exactly", "read")
    assert not store.allowed(e, "sys/seal", "update")  # deny by default
    assert store.allowed(e, "auth/token/lookup-self", "read")  # the default policy


def test_json_policy_and_bad_policies():
    assert parse_policy('{"path": {"a/*": {"capabilities": ["read"]}}}')[0].pattern == "a/*"
    with pytest.raises(errors.InvalidRequest):
        parse_policy('path "a" { capabilities = ["fly"] }')
    with pytest.raises(errors.InvalidRequest):
        parse_policy("path {{{")


def test_child_policies_must_be_subset_and_revocation_cascades(store):
    store.put_policy("a", 'path "x" { capabilities = ["read"] }')
    store.put_policy("b", 'path "y" { capabilities = ["read"] }')
    parent_tok, parent = store.create(policies=["a"], parent=None)
    with pytest.raises(errors.AccessDenied):
        store.create(policies=["b"], parent=parent)
    child_tok, _child = store.create(policies=["a"], parent=parent)
    orphan_tok, _ = store.create(policies=["a"], parent=parent, no_parent=True)
    store.revoke(parent_tok)
    assert store.lookup(parent_tok) is None
    assert store.lookup(child_tok) is None
    assert store.lookup(orphan_tok) is not None


def test_ttl_expiry_and_renew(store):
    tok, e = store.create(policies=["default"], parent=None, ttl=60, explicit_max_ttl=100)
    store.clock_obj.now += dt.timedelta(seconds=50)
    e = store.renew(store.lookup(tok), 60)
    assert e.ttl == 100  # capped by explicit_max_ttl
    store.clock_obj.now += dt.timedelta(seconds=51)
    assert store.lookup(tok) is None


def test_policy_crud(store):
    store.put_policy("p1", 'path "a" { capabilities = ["read"] }')
    assert store.list_policies() == ["default", "p1", "root"]
    assert 'path "a"' in store.get_policy("p1")
    store.delete_policy("p1")
    assert store.get_policy("p1") is None
    with pytest.raises(errors.InvalidRequest):
        store.delete_policy("root")


def test_revoke_where_revokes_one_users_tokens_of_one_namespace(store):
    alice1, _ = store.create(
        policies=["tenant-admin"], parent=None, namespace="acme", meta={"strongroom_user": "alice"}
    )
    alice2, _ = store.create(
        policies=["tenant-admin"], parent=None, namespace="acme", meta={"strongroom_user": "alice"}
    )
    bob, _ = store.create(policies=["tenant-admin"], parent=None, namespace="acme", meta={"strongroom_user": "bob"})
    other, _ = store.create(
        policies=["tenant-admin"], parent=None, namespace="globex", meta={"strongroom_user": "alice"}
    )
    plain, _ = store.create(policies=["tenant-admin"], parent=None, namespace="acme")
    assert store.revoke_where("acme", "strongroom_user", "alice") == 2
    assert store.lookup(alice1) is None and store.lookup(alice2) is None
    assert all(store.lookup(t) is not None for t in (bob, other, plain))
    assert store.revoke_where("acme", "strongroom_user", "alice") == 0
