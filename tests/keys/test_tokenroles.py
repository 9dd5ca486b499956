"""Token roles' policy rule (keys/tokenroles.py) and periodic tokens in the token store (keys/tokens.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from strongroom.core.errors import VaultInvalidRequest
from strongroom.keys.storage import MemoryStorage
from strongroom.keys.tokenroles import TokenRole, TokenRoles, role_policies
from strongroom.keys.tokens import TokenStore


def test_allowed_policies_decide_whatever_the_parent_holds() -> None:
    role = TokenRole("r", allowed_policies=["a", "b"])
    assert role_policies(role, [], ["default"], parent_is_root=False) == ["a", "b", "default"]
    assert role_policies(role, ["b"], ["default"], parent_is_root=False) == ["b", "default"]
    with pytest.raises(VaultInvalidRequest, match=r"must be subset of the role's allowed policies"):
        role_policies(role, ["c"], ["c", "default"], parent_is_root=False)


def test_without_allowed_policies_the_parent_s_rule_holds_minus_the_disallowed() -> None:
    role = TokenRole("r", disallowed_policies=["admin"])
    assert role_policies(role, [], ["admin", "app", "default"], parent_is_root=False) == ["app", "default"]
    with pytest.raises(VaultInvalidRequest, match="disallowed by this role"):
        role_policies(role, ["admin"], ["admin"], parent_is_root=False)
    with pytest.raises(VaultInvalidRequest, match="child policies must be subset of parent"):
        role_policies(role, ["x"], ["app"], parent_is_root=False)
    assert role_policies(role, ["x"], ["root"], parent_is_root=True) == ["default", "x"]
    no_default = TokenRole("r", token_no_default_policy=True)
    assert role_policies(no_default, ["x"], ["root"], parent_is_root=True) == ["x"]
    with pytest.raises(VaultInvalidRequest, match="cannot make root tokens"):
        role_policies(TokenRole("r"), ["root"], ["root"], parent_is_root=True)


def test_roles_store_typed_fields_and_refuse_unknown_ones() -> None:
    roles = TokenRoles(MemoryStorage())
    roles.write("r", {"allowed_policies": ["B", " a "], "token_period": 60})
    got = roles.get("r")
    assert got.allowed_policies == ["a", "b"] and got.token_period == 60 and got.renewable is True
    with pytest.raises(ValueError, match="unknown token role fields"):
        roles.write("r", {"policies": ["x"]})
    with pytest.raises(VaultInvalidRequest, match="invalid role name"):
        roles.write("bad/name", {})
    with pytest.raises(VaultInvalidRequest, match="unknown role nope"):
        roles.get("nope")


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 12, 4, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


def test_a_periodic_token_lives_as_long_as_it_is_renewed_within_its_period() -> None:
    clock = Clock()
    store = TokenStore(MemoryStorage(), clock=clock)
    token, entry = store.create(policies=["default"], parent=None, period=60, ttl=5)
    assert entry.ttl == 60 and entry.renewable and entry.period == 60
    for _ in range(5):  # 5 periods and more, renewed every 50 s
        clock.now += dt.timedelta(seconds=50)
        found = store.lookup(token)
        assert found is not None
        store.renew(found, increment=3600)  # the increment is ignored: back to the period
    found = store.lookup(token)
    assert found is not None and found.ttl == 250 + 60
    clock.now += dt.timedelta(seconds=61)
    assert store.lookup(token) is None  # not renewed within the period: gone


def test_explicit_max_ttl_caps_a_periodic_token_and_max_ttl_caps_renewals() -> None:
    clock = Clock()
    store = TokenStore(MemoryStorage(), clock=clock)
    token, entry = store.create(policies=["default"], parent=None, period=60, explicit_max_ttl=100)
    clock.now += dt.timedelta(seconds=50)
    assert store.renew(entry, None).ttl == 100
    _, capped = store.create(policies=["default"], parent=None, ttl=30, max_ttl=40)
    clock.now += dt.timedelta(seconds=20)
    assert store.renew(capped, 3600).ttl == 40
    _, explicit = store.create(policies=["default"], parent=None, explicit_max_ttl=90)
    assert explicit.ttl == 90  # no TTL asked: the explicit maximum
