"""authmethods.py: the userpass and approle engines (Vault's messages, secrets never in clear, use counts, expiry,
CIDR bounds) and TokenSettings validation."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import pickle
import re
import threading
import time
from typing import Any

import pytest

from strongroom.core import errors
from strongroom.core.clock import FakeClock
from strongroom.keys import authmethods
from strongroom.keys.authmethods import AppRoleEngine, Login, TokenSettings, UserpassEngine
from strongroom.keys.storage import MemoryStorage, PrefixedStorage

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


def raises(cls: type[errors.StrongroomError], message: str, status: int | None = None) -> Any:
    """pytest.raises for exactly ``cls`` with exactly ``message`` (and ``status``)."""

    class Check:
        def __enter__(self) -> None:
            self._ctx = pytest.raises(cls)
            self._info = self._ctx.__enter__()

        def __exit__(self, *exc: Any) -> bool:
            suppressed = self._ctx.__exit__(*exc)
            err = self._info.value
            assert type(err) is cls, f"{type(err).__name__} raised, {cls.__name__} expected"
            assert err.message == message
            if status is not None:
                assert isinstance(err, errors.VaultError)
                assert err.status == status
            return bool(suppressed)

    return Check()


def scan(storage: MemoryStorage, needle: str) -> list[str]:
    """Every stored path whose name or value contains ``needle`` (as UTF-8 or JSON-escaped)."""
    raw = needle.encode()
    escaped = json.dumps(needle)[1:-1].encode()
    return [path for path, value in storage.items().items() if needle in path or raw in value or escaped in value]


# --- TokenSettings ------------------------------------------------------------------------


def test_token_settings_defaults_and_read_fields() -> None:
    assert TokenSettings().to_dict() == {
        "token_bound_cidrs": [],
        "token_explicit_max_ttl": 0,
        "token_max_ttl": 0,
        "token_no_default_policy": False,
        "token_num_uses": 0,
        "token_period": 0,
        "token_policies": [],
        "token_ttl": 0,
        "token_type": "default",
    }


def test_token_settings_legacy_fields_mirror_set_values() -> None:
    settings = TokenSettings(policies=["b", "a"], ttl=60, max_ttl=120, period=30, bound_cidrs=["10.0.0.0/8"])
    data = settings.to_dict()
    assert data["policies"] == data["token_policies"] == ["a", "b"]
    assert (data["ttl"], data["max_ttl"], data["period"]) == (60, 120, 30)
    assert data["bound_cidrs"] == ["10.0.0.0/8"]
    assert list(data) == sorted(data)
    assert set(settings.to_dict(legacy=("period", "policies"))) - set(TokenSettings().to_dict()) == {
        "period",
        "policies",
    }
    assert "policies" not in TokenSettings().to_dict()  # unset: not shown
    with pytest.raises(ValueError):
        settings.to_dict(legacy=("nope",))


def test_token_settings_normalises_policies_and_types() -> None:
    assert TokenSettings(policies=[" Dev ", "ops", "dev", ""]).policies == ["dev", "ops"]
    assert TokenSettings(policies=["dev", "root"]).policies == ["root"]
    assert TokenSettings(type="service").type == "service"
    assert TokenSettings(type="").type == "default"
    assert TokenSettings(type="default-service").type == "service"


@pytest.mark.parametrize("token_type", ["batch", "default-batch"])
def test_token_settings_refuse_batch(token_type: str) -> None:
    with raises(errors.VaultInvalidRequest, "batch tokens are not supported", 400):
        TokenSettings(type=token_type)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_ttl": -1}, "'token_max_ttl' cannot be negative"),
        ({"period": -1}, "'token_period' cannot be negative"),
        ({"num_uses": -1}, "'token_num_uses' cannot be negative"),
        ({"ttl": -1}, "'token_ttl' cannot be negative"),
        ({"explicit_max_ttl": -1}, "'token_explicit_max_ttl' cannot be negative"),
        ({"ttl": 61, "max_ttl": 60}, "'token_ttl' cannot be greater than 'token_max_ttl'"),
        ({"type": "weird"}, "invalid 'token_type' value \"weird\""),
        ({"bound_cidrs": ["10.0.0.0/33"]}, 'error parsing address "10.0.0.0/33": not an IP address or CIDR'),
    ],
)
def test_token_settings_rejections(kwargs: dict[str, Any], message: str) -> None:
    with raises(errors.VaultInvalidRequest, message, 400):
        TokenSettings(**kwargs)


def test_token_settings_types_and_immutability() -> None:
    with pytest.raises(TypeError):
        TokenSettings(ttl="60")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        TokenSettings(ttl=True)
    with pytest.raises(TypeError):
        TokenSettings(policies="dev")  # type: ignore[arg-type]
    settings = TokenSettings(ttl=5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.ttl = 10  # type: ignore[misc]
    assert TokenSettings(ttl=5, max_ttl=0).ttl == 5  # ttl with no max is fine


# --- userpass -----------------------------------------------------------------------------


@pytest.fixture()
def storage() -> MemoryStorage:
    return MemoryStorage()


@pytest.fixture()
def userpass(storage: MemoryStorage) -> UserpassEngine:
    return UserpassEngine(PrefixedStorage(storage, "auth/userpass/"))


def test_create_requires_password(userpass: UserpassEngine) -> None:
    with raises(errors.VaultInvalidRequest, "missing password", 400):
        userpass.write_user("alice", password=None, settings=TokenSettings())
    with raises(errors.VaultInvalidRequest, "missing password", 400):
        userpass.write_user("alice", password="")
    assert userpass.list_users() == []


def test_user_round_trip_lower_cased(userpass: UserpassEngine) -> None:
    userpass.write_user("Alice", password="pw-1", settings=TokenSettings(policies=["dev"], ttl=60))
    assert userpass.list_users() == ["alice"]
    data = userpass.read_user("ALICE")
    assert data == {
        "policies": ["dev"],
        "token_bound_cidrs": [],
        "token_explicit_max_ttl": 0,
        "token_max_ttl": 0,
        "token_no_default_policy": False,
        "token_num_uses": 0,
        "token_period": 0,
        "token_policies": ["dev"],
        "token_ttl": 60,
        "token_type": "default",
        "ttl": 60,
    }
    assert userpass.read_user("bob") is None
    assert userpass.user_settings("alice") == TokenSettings(policies=["dev"], ttl=60)
    assert userpass.user_settings("bob") is None


def test_userpass_login(userpass: UserpassEngine) -> None:
    settings = TokenSettings(policies=["dev"], ttl=60)
    userpass.write_user("alice", password="pw-1", settings=settings)
    login = userpass.login("Alice", "pw-1")
    assert login == Login(settings=settings, metadata={"username": "alice"}, display_name="alice")


def test_wrong_password_and_unknown_user_fail_alike_at_the_same_cost(
    userpass: UserpassEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    userpass.write_user("alice", password="pw-1")
    verified: list[str] = []
    real_verify, real_burn = authmethods.verify_password, authmethods.burn_verify

    def verify(password: str, stored: str) -> bool:
        verified.append("verify")
        return real_verify(password, stored)

    def burn(password: str) -> None:
        verified.append("burn")
        real_burn(password)

    monkeypatch.setattr(authmethods, "verify_password", verify)
    monkeypatch.setattr(authmethods, "burn_verify", burn)
    with raises(errors.VaultInvalidRequest, "invalid username or password", 400):
        userpass.login("alice", "pw-2")
    with raises(errors.VaultInvalidRequest, "invalid username or password", 400):
        userpass.login("mallory", "pw-1")
    with raises(errors.VaultInvalidRequest, "invalid username or password", 400):
        userpass.login("../alice", "pw-1")  # not a valid name: same answer, same work
    assert verified == ["verify", "burn", "burn"]


def test_userpass_login_rejections(userpass: UserpassEngine) -> None:
    userpass.write_user("alice", password="pw-1")
    with raises(errors.VaultInvalidRequest, "missing password", 400):
        userpass.login("alice", "")


def test_password_never_stored_in_clear(userpass: UserpassEngine, storage: MemoryStorage) -> None:
    userpass.write_user("alice", password="Tr0ub4dor&3-unique")
    userpass.set_password("alice", "second-secret-unique")
    assert scan(storage, "Tr0ub4dor&3-unique") == []
    assert scan(storage, "second-secret-unique") == []
    assert list(storage.items()) == ["auth/userpass/user/alice"]
    data = userpass.read_user("alice")
    assert data is not None
    assert not any("password" in key or "hash" in key for key in data)


def test_update_settings_keeps_password_and_set_password_changes_it(userpass: UserpassEngine) -> None:
    userpass.write_user("alice", password="pw-1", settings=TokenSettings(policies=["a"]))
    userpass.write_user("alice", settings=TokenSettings(policies=["b"]))
    assert userpass.login("alice", "pw-1").settings.policies == ["b"]
    userpass.write_user("alice")  # nothing given: nothing changes
    assert userpass.login("alice", "pw-1").settings.policies == ["b"]
    userpass.set_password("alice", "pw-2")
    with raises(errors.VaultInvalidRequest, "invalid username or password"):
        userpass.login("alice", "pw-1")
    assert userpass.login("alice", "pw-2").settings.policies == ["b"]
    with raises(errors.VaultInvalidRequest, "missing password", 400):
        userpass.set_password("alice", "")


def test_set_policies(userpass: UserpassEngine) -> None:
    userpass.write_user("alice", password="pw-1", settings=TokenSettings(ttl=30))
    userpass.set_policies("alice", ["Ops", "dev"])
    assert userpass.user_settings("alice") == TokenSettings(policies=["dev", "ops"], ttl=30)


def test_unknown_user_updates(userpass: UserpassEngine) -> None:
    with raises(errors.VaultNotFound, "username does not exist", 404):
        userpass.set_password("ghost", "pw")
    with raises(errors.VaultNotFound, "username does not exist", 404):
        userpass.set_policies("ghost", ["dev"])


def test_delete_user(userpass: UserpassEngine) -> None:
    userpass.write_user("alice", password="pw-1")
    userpass.delete_user("ALICE")
    userpass.delete_user("alice")  # idempotent
    assert userpass.list_users() == []
    with raises(errors.VaultInvalidRequest, "invalid username or password"):
        userpass.login("alice", "pw-1")


def test_user_names(userpass: UserpassEngine) -> None:
    with raises(errors.VaultInvalidRequest, "missing username", 400):
        userpass.read_user("")
    for bad in ("a/b", "..", "-x", "x-", "a b"):
        with raises(errors.VaultNotFound, "unsupported path", 404):
            userpass.write_user(bad, password="pw")
    userpass.write_user("first.last@example-1", password="pw")
    assert userpass.list_users() == ["first.last@example-1"]


def test_user_bound_cidrs(userpass: UserpassEngine) -> None:
    userpass.write_user("alice", password="pw-1", settings=TokenSettings(bound_cidrs=["10.0.0.0/8", "192.168.1.7"]))
    assert userpass.login("alice", "pw-1", source_ip="10.2.3.4").settings.bound_cidrs == ["10.0.0.0/8", "192.168.1.7"]
    assert userpass.login("alice", "pw-1", source_ip="192.168.1.7").metadata == {"username": "alice"}
    for source in (None, "192.168.1.8", "not-an-ip", "::1"):
        with pytest.raises(errors.AccessDenied) as info:
            userpass.login("alice", "pw-1", source_ip=source)
        assert info.value.message == "permission denied"


def test_userpass_refuses_pickling(userpass: UserpassEngine) -> None:
    with pytest.raises(TypeError):
        pickle.dumps(userpass)


# --- approle ------------------------------------------------------------------------------


@pytest.fixture()
def clock() -> FakeClock:
    return FakeClock(dt.datetime(2026, 9, 1, 12, 0, 0, 500000, tzinfo=dt.UTC))


@pytest.fixture()
def approle(storage: MemoryStorage, clock: FakeClock) -> AppRoleEngine:
    return AppRoleEngine(PrefixedStorage(storage, "auth/approle/"), clock=clock)


def test_role_defaults_and_read(approle: AppRoleEngine) -> None:
    approle.write_role("Web", settings=TokenSettings(policies=["web"], period=3600))
    assert approle.list_roles() == ["web"]
    assert approle.read_role("WEB") == {
        "bind_secret_id": True,
        "local_secret_ids": False,
        "period": 3600,
        "policies": ["web"],
        "secret_id_bound_cidrs": [],
        "secret_id_num_uses": 0,
        "secret_id_ttl": 0,
        "token_bound_cidrs": [],
        "token_explicit_max_ttl": 0,
        "token_max_ttl": 0,
        "token_no_default_policy": False,
        "token_num_uses": 0,
        "token_period": 3600,
        "token_policies": ["web"],
        "token_ttl": 0,
        "token_type": "default",
    }
    assert UUID.fullmatch(approle.role_id("web"))
    assert approle.read_role("nope") is None
    assert approle.role_settings("web") == TokenSettings(policies=["web"], period=3600)
    with raises(errors.VaultNotFound, 'role "nope" does not exist', 404):
        approle.role_id("nope")


def test_role_update_keeps_unspecified_fields(approle: AppRoleEngine) -> None:
    approle.write_role("web", secret_id_num_uses=3, secret_id_ttl=600, settings=TokenSettings(policies=["a"]))
    role_id = approle.role_id("web")
    approle.write_role("web", secret_id_ttl=300)
    data = approle.read_role("web")
    assert data is not None
    assert (data["secret_id_num_uses"], data["secret_id_ttl"], data["token_policies"]) == (3, 300, ["a"])
    assert approle.role_id("web") == role_id


def test_role_without_constraints_is_refused(approle: AppRoleEngine) -> None:
    message = "at least one constraint should be enabled on the role"
    with raises(errors.VaultInvalidRequest, message, 400):
        approle.write_role("open", bind_secret_id=False)
    assert approle.list_roles() == []
    approle.write_role("cidr", bind_secret_id=False, secret_id_bound_cidrs=["10.0.0.0/8"])
    approle.write_role("tok", bind_secret_id=False, settings=TokenSettings(bound_cidrs=["10.0.0.0/8"]))
    approle.write_role("web")
    with raises(errors.VaultInvalidRequest, message, 400):  # an update removing the last constraint
        approle.write_role("web", bind_secret_id=False)
    assert approle.read_role("web")["bind_secret_id"] is True  # type: ignore[index]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"secret_id_num_uses": -1}, "secret_id_num_uses cannot be negative"),
        ({"secret_id_ttl": -1}, "secret_id_ttl cannot be negative"),
        ({"secret_id_bound_cidrs": ["10.0.0.300/8"]}, "invalid CIDR blocks"),
        ({"role_id": ""}, "invalid role_id supplied, or failed to generate a role_id"),
        (
            {"settings": TokenSettings(period=800 * 3600)},
            'period of "800h0m0s" is greater than the backend\'s maximum lease TTL of "768h0m0s"',
        ),
    ],
)
def test_role_rejections(approle: AppRoleEngine, kwargs: dict[str, Any], message: str) -> None:
    with raises(errors.VaultInvalidRequest, message, 400):
        approle.write_role("web", **kwargs)
    assert approle.list_roles() == []


def test_role_names(approle: AppRoleEngine) -> None:
    with raises(errors.VaultInvalidRequest, "missing role_name", 400):
        approle.write_role("")
    with raises(errors.VaultNotFound, "unsupported path", 404):
        approle.write_role("a/b")
    with raises(errors.VaultInvalidRequest, "role_name is longer than maximum of 4096 bytes", 400):
        approle.write_role("a" * 4097)


def test_local_secret_ids_only_at_creation(approle: AppRoleEngine) -> None:
    approle.write_role("web", local_secret_ids=True)
    assert approle.read_role("web")["local_secret_ids"] is True  # type: ignore[index]
    with raises(errors.VaultInvalidRequest, "local_secret_ids can only be modified during role creation", 400):
        approle.write_role("web", local_secret_ids=False)


def test_role_id_unique_across_roles(approle: AppRoleEngine) -> None:
    approle.write_role("a", role_id="shared")
    with raises(errors.VaultInvalidRequest, "role_id already in use", 400):
        approle.write_role("b", role_id="shared")
    assert approle.list_roles() == ["a"]
    approle.write_role("b")
    with raises(errors.VaultInvalidRequest, "role_id already in use", 400):
        approle.set_role_id("b", "shared")
    with raises(errors.VaultInvalidRequest, "missing role_id", 400):
        approle.set_role_id("b", "")
    with raises(errors.VaultNotFound, 'role "c" does not exist', 404):
        approle.set_role_id("c", "x")


def test_set_role_id_moves_the_login(approle: AppRoleEngine) -> None:
    approle.write_role("web")
    old = approle.role_id("web")
    secret = approle.generate_secret_id("web")["secret_id"]
    approle.set_role_id("web", "my-new-role-id")
    assert approle.role_id("web") == "my-new-role-id"
    with raises(errors.VaultInvalidRequest, "invalid role or secret ID", 400):
        approle.login(old, secret)
    assert approle.login("my-new-role-id", secret).metadata == {"role_name": "web"}
    approle.write_role("other", role_id=old)  # the old role_id is free again


def test_non_ascii_role_id_and_secret_id(approle: AppRoleEngine) -> None:
    approle.write_role("web", role_id="rôle-\ud800")  # JSON bodies can carry lone surrogates
    approle.generate_secret_id("web", custom="sécret-\udfff")
    assert approle.login("rôle-\ud800", "sécret-\udfff").metadata == {"role_name": "web"}
    with raises(errors.VaultInvalidRequest, "invalid role or secret ID"):
        approle.login("rôle-\ud801", "sécret-\udfff")


def test_generate_secret_id_response(approle: AppRoleEngine) -> None:
    approle.write_role("web", secret_id_num_uses=5, secret_id_ttl=600)
    response = approle.generate_secret_id("web")
    assert set(response) == {"secret_id", "secret_id_accessor", "secret_id_ttl", "secret_id_num_uses"}
    assert UUID.fullmatch(response["secret_id"]) and UUID.fullmatch(response["secret_id_accessor"])
    assert (response["secret_id_num_uses"], response["secret_id_ttl"]) == (5, 600)
    tighter = approle.generate_secret_id("web", num_uses=2, ttl=60)
    assert (tighter["secret_id_num_uses"], tighter["secret_id_ttl"]) == (2, 60)
    assert approle.list_secret_id_accessors("web") == sorted(
        [response["secret_id_accessor"], tighter["secret_id_accessor"]]
    )


def test_secret_id_ttl_capped_by_mount_max(storage: MemoryStorage, clock: FakeClock) -> None:
    engine = AppRoleEngine(storage, clock=clock, max_lease_ttl=3600)
    engine.write_role("web", secret_id_ttl=7200)
    assert engine.generate_secret_id("web")["secret_id_ttl"] == 3600
    engine.write_role("web2")
    assert engine.generate_secret_id("web2")["secret_id_ttl"] == 0  # no TTL stays no TTL


@pytest.mark.parametrize(
    ("role", "kwargs", "message"),
    [
        ({"secret_id_num_uses": 3}, {"num_uses": 4}, "num_uses cannot be higher than the role's secret_id_num_uses"),
        ({"secret_id_num_uses": 3}, {"num_uses": 0}, "num_uses cannot be higher than the role's secret_id_num_uses"),
        ({}, {"num_uses": -1}, "num_uses cannot be negative"),
        ({"secret_id_ttl": 60}, {"ttl": 61}, "ttl cannot be longer than the role's secret_id_ttl"),
        ({"secret_id_ttl": 60}, {"ttl": 0}, "ttl cannot be longer than the role's secret_id_ttl"),
        ({}, {"ttl": -1}, "ttl cannot be negative"),
        ({}, {"cidr_list": ["nope"]}, "failed to validate CIDR blocks"),
        ({}, {"token_bound_cidrs": ["nope"]}, "failed to validate token CIDR blocks"),
        (
            {"secret_id_bound_cidrs": ["10.0.0.0/8"]},
            {"cidr_list": ["10.1.0.0/16", "192.168.0.0/24"]},
            "failed to verify subset relationship between CIDR blocks on the role "
            '["10.0.0.0/8"] and CIDR blocks on the secret ID ["10.1.0.0/16" "192.168.0.0/24"]',
        ),
        ({}, {"custom": ""}, "missing secret_id"),
    ],
)
def test_generate_secret_id_rejections(
    approle: AppRoleEngine, role: dict[str, Any], kwargs: dict[str, Any], message: str
) -> None:
    approle.write_role("web", **role)
    with raises(errors.VaultInvalidRequest, message, 400):
        approle.generate_secret_id("web", **kwargs)
    assert approle.list_secret_id_accessors("web") == []


def test_unlimited_role_accepts_any_num_uses_and_ttl(approle: AppRoleEngine) -> None:
    approle.write_role("web")
    response = approle.generate_secret_id("web", num_uses=100, ttl=86400)
    assert (response["secret_id_num_uses"], response["secret_id_ttl"]) == (100, 86400)


def test_secret_ids_need_bind_secret_id_and_a_role(approle: AppRoleEngine) -> None:
    approle.write_role("open", bind_secret_id=False, secret_id_bound_cidrs=["10.0.0.0/8"])
    with raises(errors.VaultInvalidRequest, "bind_secret_id is not set on the role", 400):
        approle.generate_secret_id("open")
    with raises(errors.VaultNotFound, 'role "ghost" does not exist', 404):
        approle.generate_secret_id("ghost")
    with raises(errors.VaultInvalidRequest, 'role "ghost" does not exist', 400):
        approle.list_secret_id_accessors("ghost")
    for call in (
        lambda: approle.lookup_secret_id("ghost", "x"),
        lambda: approle.destroy_secret_id("ghost", "x"),
        lambda: approle.lookup_secret_id_accessor("ghost", "x"),
        lambda: approle.destroy_secret_id_accessor("ghost", "x"),
    ):
        with raises(errors.VaultNotFound, 'role "ghost" does not exist', 404):
            call()


def test_approle_login(approle: AppRoleEngine) -> None:
    settings = TokenSettings(policies=["web"], ttl=300, max_ttl=600, num_uses=4)
    approle.write_role("web", settings=settings)
    secret = approle.generate_secret_id("web", metadata={"host": "h1", "role_name": "spoof"})["secret_id"]
    login = approle.login(approle.role_id("web"), secret)
    assert login == Login(settings=settings, metadata={"host": "h1", "role_name": "web"}, display_name="approle")
    assert approle.login(f"  {approle.role_id('web')} ", f" {secret} ").display_name == "approle"  # trimmed


def test_approle_login_rejections(approle: AppRoleEngine) -> None:
    approle.write_role("web")
    approle.write_role("other")
    role_id = approle.role_id("web")
    secret = approle.generate_secret_id("web")["secret_id"]
    other_secret = approle.generate_secret_id("other")["secret_id"]
    with raises(errors.VaultInvalidRequest, "missing role_id", 400):
        approle.login("", secret)
    with raises(errors.VaultInvalidRequest, "missing secret_id", 400):
        approle.login(role_id, None)
    for bad_role_id, bad_secret in (
        ("no-such-role-id", secret),
        (role_id, "no-such-secret"),
        (role_id, other_secret),  # another role's secret ID
        (approle.role_id("other"), secret),
    ):
        with raises(errors.VaultInvalidRequest, "invalid role or secret ID", 400):
            approle.login(bad_role_id, bad_secret)
    assert approle.login(role_id, secret).metadata["role_name"] == "web"  # failures consumed nothing


def test_num_uses_run_out_at_exactly_n(approle: AppRoleEngine, clock: FakeClock) -> None:
    approle.write_role("web", secret_id_num_uses=3)
    role_id = approle.role_id("web")
    response = approle.generate_secret_id("web")
    secret, accessor = response["secret_id"], response["secret_id_accessor"]
    created = approle.lookup_secret_id("web", secret)
    assert created is not None
    for left in (2, 1):
        clock.advance(seconds=1)
        approle.login(role_id, secret)
        looked = approle.lookup_secret_id("web", secret)
        assert looked is not None
        assert looked["secret_id_num_uses"] == left
        assert looked["last_updated_time"] > created["last_updated_time"]
    approle.login(role_id, secret)  # the third and last use deletes it
    assert approle.lookup_secret_id("web", secret) is None
    assert approle.list_secret_id_accessors("web") == []
    with raises(errors.VaultNotFound, f'failed to find accessor entry for secret_id_accessor: "{accessor}"', 404):
        approle.lookup_secret_id_accessor("web", accessor)
    with raises(errors.VaultInvalidRequest, "invalid role or secret ID", 400):
        approle.login(role_id, secret)


def test_unlimited_uses(approle: AppRoleEngine) -> None:
    approle.write_role("web")
    secret = approle.generate_secret_id("web")["secret_id"]
    for _ in range(5):
        approle.login(approle.role_id("web"), secret)
    assert approle.lookup_secret_id("web", secret)["secret_id_num_uses"] == 0  # type: ignore[index]


class SlowStorage(MemoryStorage):
    """A MemoryStorage whose reads yield the CPU, so unserialised read-modify-writes would interleave."""

    def get(self, path: str) -> bytes | None:
        value = super().get(path)
        time.sleep(0.002)
        return value


def test_concurrent_logins_consume_exactly_n(clock: FakeClock) -> None:
    approle = AppRoleEngine(SlowStorage(), clock=clock)
    approle.write_role("web")
    role_id = approle.role_id("web")
    secret = approle.generate_secret_id("web", num_uses=5)["secret_id"]
    results: list[str] = []
    start = threading.Barrier(16)

    def attempt() -> None:
        start.wait()
        try:
            approle.login(role_id, secret)
            results.append("ok")
        except errors.VaultInvalidRequest as exc:
            results.append(exc.message)

    threads = [threading.Thread(target=attempt) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count("ok") == 5
    assert results.count("invalid role or secret ID") == 11


def test_ttl_expiry(approle: AppRoleEngine, clock: FakeClock) -> None:
    approle.write_role("web", secret_id_ttl=60)
    role_id = approle.role_id("web")
    secret = approle.generate_secret_id("web")["secret_id"]
    looked = approle.lookup_secret_id("web", secret)
    assert looked is not None
    assert looked["creation_time"] == "2026-09-01T12:00:00.5Z"
    assert looked["expiration_time"] == "2026-09-01T12:01:00.5Z"
    clock.advance(seconds=59)
    approle.login(role_id, secret)
    clock.advance(seconds=1)
    with raises(errors.VaultInvalidRequest, "invalid role or secret ID", 400):
        approle.login(role_id, secret)
    assert approle.lookup_secret_id("web", secret) is None  # an expired secret ID is removed when tried


def test_tidy_drops_expired_only(approle: AppRoleEngine, storage: MemoryStorage, clock: FakeClock) -> None:
    approle.write_role("web")
    short = approle.generate_secret_id("web", ttl=60)["secret_id"]
    forever = approle.generate_secret_id("web")["secret_id"]
    long = approle.generate_secret_id("web", ttl=3600)["secret_id"]
    assert approle.tidy() == 0
    clock.advance(seconds=61)
    assert approle.tidy() == 1
    assert approle.lookup_secret_id("web", short) is None
    assert approle.lookup_secret_id("web", forever) is not None
    assert approle.lookup_secret_id("web", long) is not None
    assert len(approle.list_secret_id_accessors("web")) == 2
    assert len([p for p in storage.items() if "/accessor/" in p]) == 2
    assert approle.tidy() == 0


def test_tidy_drops_dangling_entries(approle: AppRoleEngine, storage: MemoryStorage) -> None:
    approle.write_role("web")
    kept = approle.generate_secret_id("web")["secret_id"]
    orphan = approle.generate_secret_id("web")
    accessor_paths = [p for p in storage.items() if "/accessor/" in p]
    # remove the orphan's accessor index by hand: its secret ID entry now dangles
    orphan_index = approle._accessor_path(orphan["secret_id_accessor"])
    storage.delete("auth/approle/" + orphan_index)
    assert approle.tidy() == 1
    assert approle.lookup_secret_id("web", kept) is not None
    assert approle.lookup_secret_id("web", orphan["secret_id"]) is None
    assert len([p for p in storage.items() if "/accessor/" in p]) == len(accessor_paths) - 1


def test_secret_id_cidr_binding(approle: AppRoleEngine) -> None:
    approle.write_role("web")
    role_id = approle.role_id("web")
    secret = approle.generate_secret_id("web", num_uses=1, cidr_list=["10.0.0.0/8", "2001:db8::/32"])["secret_id"]
    for source in ("192.168.1.1", "11.0.0.1", "garbage"):
        with raises(
            errors.VaultInvalidRequest,
            f'source address "{source}" unauthorized through CIDR restrictions on the secret ID',
        ):
            approle.login(role_id, secret, source)
    with raises(errors.VaultError, "failed to get connection information", 500):
        approle.login(role_id, secret, None)
    # refused attempts consumed nothing: the single use is still there
    assert approle.login(role_id, secret, "2001:db8::5").metadata == {"role_name": "web"}
    with raises(errors.VaultInvalidRequest, "invalid role or secret ID"):
        approle.login(role_id, secret, "10.1.2.3")


def test_role_cidr_binding(approle: AppRoleEngine) -> None:
    approle.write_role("web", secret_id_bound_cidrs=["10.0.0.0/8"])
    role_id = approle.role_id("web")
    secret = approle.generate_secret_id("web", cidr_list=["10.1.0.0/16"])["secret_id"]
    assert approle.login(role_id, secret, "10.1.2.3").metadata["role_name"] == "web"
    with raises(
        errors.VaultInvalidRequest, 'source address "10.2.0.1" unauthorized through CIDR restrictions on the secret ID'
    ):
        approle.login(role_id, secret, "10.2.0.1")
    plain = approle.generate_secret_id("web")["secret_id"]
    assert approle.login(role_id, plain, "10.2.0.1").metadata["role_name"] == "web"  # no secret ID bounds of its own
    with raises(
        errors.VaultInvalidRequest, 'source address "192.168.0.1" unauthorized by CIDR restrictions on the role'
    ):
        approle.login(role_id, plain, "192.168.0.1")
    with raises(errors.VaultError, "failed to get connection information", 500):
        approle.login(role_id, plain, None)


def test_role_without_secret_id(approle: AppRoleEngine) -> None:
    approle.write_role(
        "batchjob", bind_secret_id=False, secret_id_bound_cidrs=["127.0.0.1/32"], settings=TokenSettings(ttl=30)
    )
    role_id = approle.role_id("batchjob")
    login = approle.login(role_id, None, "127.0.0.1")
    assert login == Login(settings=TokenSettings(ttl=30), metadata={"role_name": "batchjob"}, display_name="approle")
    with raises(errors.VaultInvalidRequest, 'source address "127.0.0.2" unauthorized by CIDR restrictions on the role'):
        approle.login(role_id, None, "127.0.0.2")
    with raises(errors.VaultError, "failed to get connection information", 500):
        approle.login(role_id, None, None)


def test_token_bound_cidrs_from_secret_id_override_role(approle: AppRoleEngine) -> None:
    approle.write_role("web", settings=TokenSettings(bound_cidrs=["10.0.0.0/8"]))
    role_id = approle.role_id("web")
    narrow = approle.generate_secret_id("web", token_bound_cidrs=["10.9.0.0/16"])["secret_id"]
    plain = approle.generate_secret_id("web")["secret_id"]
    assert approle.login(role_id, narrow).settings.bound_cidrs == ["10.9.0.0/16"]
    assert approle.login(role_id, plain).settings.bound_cidrs == ["10.0.0.0/8"]
    with pytest.raises(errors.VaultInvalidRequest):
        approle.generate_secret_id("web", token_bound_cidrs=["11.0.0.0/16"])  # not within the role's


def test_secret_ids_never_stored_in_clear(approle: AppRoleEngine, storage: MemoryStorage) -> None:
    approle.write_role("web", secret_id_num_uses=2)
    generated = approle.generate_secret_id("web", metadata={"k": "v"})["secret_id"]
    custom = approle.generate_secret_id("web", custom="my-very-own-secret-id-value")["secret_id"]
    approle.login(approle.role_id("web"), generated)  # a decrement rewrites the entry
    assert custom == "my-very-own-secret-id-value"
    assert scan(storage, generated) == []
    assert scan(storage, custom) == []
    hmac_key = json.loads(storage.get("auth/approle/hmac_key") or b"{}")["key"]
    assert len(__import__("base64").b64decode(hmac_key)) == 32


def test_custom_secret_id(approle: AppRoleEngine) -> None:
    approle.write_role("web")
    approle.generate_secret_id("web", custom="chosen")
    with raises(errors.VaultInvalidRequest, "failed to store secret_id: SecretID is already registered", 400):
        approle.generate_secret_id("web", custom="chosen")
    assert approle.login(approle.role_id("web"), "chosen").metadata == {"role_name": "web"}
    with raises(
        errors.VaultInvalidRequest,
        "failed to store secret_id: failed to create HMAC of secret ID: value is longer than maximum of 4096 bytes",
    ):
        approle.generate_secret_id("web", custom="x" * 4097)


def test_lookup_and_destroy(approle: AppRoleEngine) -> None:
    approle.write_role("web")
    approle.write_role("other")
    response = approle.generate_secret_id("web", metadata={"env": "prod"}, cidr_list=["10.0.0.0/8"], num_uses=7)
    secret, accessor = response["secret_id"], response["secret_id_accessor"]
    data = approle.lookup_secret_id("web", secret)
    assert data is not None
    assert set(data) == {
        "cidr_list",
        "creation_time",
        "expiration_time",
        "last_updated_time",
        "metadata",
        "secret_id_accessor",
        "secret_id_num_uses",
        "secret_id_ttl",
        "token_bound_cidrs",
    }
    assert data["cidr_list"] == ["10.0.0.0/8"]
    assert data["metadata"] == {"env": "prod"}
    assert (data["secret_id_accessor"], data["secret_id_num_uses"], data["secret_id_ttl"]) == (accessor, 7, 0)
    assert RFC3339.fullmatch(data["creation_time"]) and data["creation_time"] == data["last_updated_time"]
    assert data["expiration_time"] == "0001-01-01T00:00:00Z"  # Go's zero time: no expiry
    assert data["token_bound_cidrs"] == []
    assert approle.lookup_secret_id_accessor("web", accessor) == data
    assert approle.lookup_secret_id("other", secret) is None  # another role's
    assert approle.lookup_secret_id_accessor("other", accessor) is None
    with raises(errors.VaultError, "invalid secret id accessor", 403):
        approle.destroy_secret_id_accessor("other", accessor)
    with raises(errors.VaultInvalidRequest, "missing secret_id", 400):
        approle.lookup_secret_id("web", "")
    with raises(errors.VaultInvalidRequest, "missing secret_id_accessor", 400):
        approle.lookup_secret_id_accessor("web", "")
    with raises(errors.VaultNotFound, 'failed to find accessor entry for secret_id_accessor: "nope"', 404):
        approle.destroy_secret_id_accessor("web", "nope")

    approle.destroy_secret_id("web", "not-a-secret")  # nothing to destroy: fine
    approle.destroy_secret_id("other", secret)  # not that role's: nothing happens
    assert approle.lookup_secret_id("web", secret) is not None
    approle.destroy_secret_id("web", secret)
    assert approle.lookup_secret_id("web", secret) is None
    assert approle.list_secret_id_accessors("web") == []

    second = approle.generate_secret_id("web")
    approle.destroy_secret_id_accessor("web", second["secret_id_accessor"])
    with raises(errors.VaultInvalidRequest, "invalid role or secret ID"):
        approle.login(approle.role_id("web"), second["secret_id"])


def test_delete_role_removes_its_secret_ids(approle: AppRoleEngine, storage: MemoryStorage) -> None:
    approle.write_role("web")
    approle.write_role("keep")
    role_id = approle.role_id("web")
    secrets = [approle.generate_secret_id("web")["secret_id"] for _ in range(3)]
    kept = approle.generate_secret_id("keep")["secret_id"]
    before = set(storage.items())
    approle.delete_role("web")
    approle.delete_role("web")  # idempotent
    removed = before - set(storage.items())
    assert len(removed) == 1 + 1 + 3 + 3  # role, role_id index, 3 secret ID entries, 3 accessors
    assert approle.list_roles() == ["keep"]
    assert sum("/secret_id/" in p for p in storage.items()) == 1
    assert sum("/accessor/" in p for p in storage.items()) == 1
    # recreating the role (even with the same role_id) does not revive the old secret IDs
    approle.write_role("web", role_id=role_id)
    for secret in secrets:
        with raises(errors.VaultInvalidRequest, "invalid role or secret ID"):
            approle.login(role_id, secret)
    assert approle.login(approle.role_id("keep"), kept).metadata == {"role_name": "keep"}


def test_mount_key_is_shared_by_engines_over_the_same_storage(storage: MemoryStorage, clock: FakeClock) -> None:
    first = AppRoleEngine(PrefixedStorage(storage, "auth/approle/"), clock=clock)
    first.write_role("web")
    secret = first.generate_secret_id("web")["secret_id"]
    second = AppRoleEngine(PrefixedStorage(storage, "auth/approle/"), clock=clock)
    assert second.login(first.role_id("web"), secret).metadata == {"role_name": "web"}
    elsewhere = AppRoleEngine(PrefixedStorage(storage, "auth/approle2/"), clock=clock)
    elsewhere.write_role("web", role_id=first.role_id("web"))
    with raises(errors.VaultInvalidRequest, "invalid role or secret ID"):  # another mount, another key
        elsewhere.login(first.role_id("web"), secret)


def test_approle_refuses_pickling_and_bad_construction(approle: AppRoleEngine, storage: MemoryStorage) -> None:
    with pytest.raises(TypeError):
        pickle.dumps(approle)
    with pytest.raises(ValueError):
        AppRoleEngine(storage, max_lease_ttl=0)
