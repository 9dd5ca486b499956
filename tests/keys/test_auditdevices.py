"""Audit devices: Vault's JSON entries with HMAC'd values, the device table and salts in the barrier, every refused
configuration, and fail closed when no device can write."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest

from strongroom.core import errors
from strongroom.keys.auditdevices import SALT_PREFIX, TABLE_PATH, AuditBroker, AuditInput, hash_structure
from strongroom.keys.barrier import Barrier
from strongroom.keys.storage import MemoryStorage

ROOT_KEY = b"\x07" * 32
TOKEN = "hvs.the-client-token"
ACCESSOR = "accessor-0123"
NOW = dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)


@pytest.fixture()
def physical() -> MemoryStorage:
    return MemoryStorage()


@pytest.fixture()
def barrier(physical: MemoryStorage) -> Barrier:
    b = Barrier(physical)
    b.initialize(ROOT_KEY)
    b.unseal(ROOT_KEY)
    return b


@pytest.fixture()
def broker(barrier: Barrier) -> AuditBroker:
    return AuditBroker(barrier, clock=lambda: NOW)


def salt_of(barrier: Barrier, path: str) -> bytes:
    import base64

    table = json.loads(barrier.get(TABLE_PATH) or b"[]")
    (uuid,) = [d["uuid"] for d in table if d["path"] == path]
    return base64.b64decode(json.loads(barrier.get(SALT_PREFIX + uuid) or b"")["salt"])


def vault_hmac(salt: bytes, value: str) -> str:
    return "hmac-sha256:" + hmac.new(salt, value.encode(), hashlib.sha256).hexdigest()


def sample(operation: str = "update", data: Any = None, response: Any = None, auth: Any = None) -> AuditInput:
    return AuditInput(
        auth={
            "client_token": TOKEN,
            "accessor": ACCESSOR,
            "display_name": "token-app",
            "policies": ["app"],
            "token_policies": ["app"],
            "token_type": "service",
            "token_ttl": 3600,
            "policy_results": {"allowed": True},
        },
        request={
            "id": "req-1",
            "operation": operation,
            "mount_point": "transit/",
            "mount_type": "transit",
            "client_token": TOKEN,
            "client_token_accessor": ACCESSOR,
            "namespace": {"id": "root"},
            "path": "transit/encrypt/k",
            "data": data,
            "remote_address": "127.0.0.1",
            "remote_port": 5555,
        },
        response={"mount_point": "transit/", "mount_type": "transit", "data": response, "auth": auth},
    )


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# --- hashing --------------------------------------------------------------------------------------------------


def test_hash_structure_hashes_every_string_value_and_keeps_the_rest() -> None:
    value = {"a": "x", "n": 3, "f": 1.5, "b": True, "z": None, "l": ["y", 2, {"k": "v"}], "m": {"deep": ["w"]}}
    out = hash_structure(value, lambda s: f"<{s}>")
    assert out == {
        "a": "<x>",
        "n": 3,
        "f": 1.5,
        "b": True,
        "z": None,
        "l": ["<y>", 2, {"k": "<v>"}],
        "m": {"deep": ["<w>"]},
    }
    assert value["a"] == "x"  # a copy


def test_entries_hash_tokens_accessors_and_data(broker: AuditBroker, barrier: Barrier, tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    broker.enable("file", "file", options={"file_path": str(log)})
    salt = salt_of(barrier, "file/")
    entry = sample(data={"plaintext": "aGVsbG8=", "key_version": 2}, response={"ciphertext": "vault:v1:abc", "n": 1})
    broker.log_request(entry)
    broker.log_response(entry)
    req, resp = lines(log)
    assert req["type"] == "request" and resp["type"] == "response"
    assert req["time"] == "2026-01-02T03:04:05.678Z"
    h = lambda s: vault_hmac(salt, s)  # noqa: E731
    assert req["auth"]["client_token"] == h(TOKEN) and req["auth"]["accessor"] == h(ACCESSOR)
    assert req["request"]["client_token"] == h(TOKEN) and req["request"]["client_token_accessor"] == h(ACCESSOR)
    assert req["request"]["data"] == {"plaintext": h("aGVsbG8="), "key_version": 2}
    assert req["request"]["namespace"] == {"id": "root"} and req["request"]["remote_port"] == 5555
    assert resp["response"]["data"] == {"ciphertext": h("vault:v1:abc"), "n": 1}
    assert resp["response"]["mount_type"] == "transit" and "auth" not in resp["response"]
    assert req["auth"]["display_name"] == "token-app" and req["auth"]["token_ttl"] == 3600
    text = log.read_text()
    for secret in (TOKEN, ACCESSOR, "aGVsbG8=", "vault:v1:abc"):
        assert secret not in text
    assert broker.hash("file", "aGVsbG8=") == h("aGVsbG8=")  # sys/audit-hash matches the log


def test_response_auth_is_hashed(broker: AuditBroker, barrier: Barrier, tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    broker.enable("file", "file", options={"file_path": str(log)})
    broker.log_response(sample(auth={"client_token": "hvs.new", "accessor": "acc-new", "policies": ["p"]}))
    (resp,) = lines(log)
    salt = salt_of(barrier, "file/")
    assert resp["response"]["auth"]["client_token"] == vault_hmac(salt, "hvs.new")
    assert resp["response"]["auth"]["accessor"] == vault_hmac(salt, "acc-new")
    assert "hvs.new" not in log.read_text()


def test_log_raw_hmac_accessor_prefix_and_elision(broker: AuditBroker, tmp_path: Path) -> None:
    raw, noacc, listing = tmp_path / "raw.log", tmp_path / "noacc.log", tmp_path / "list.log"
    broker.enable("raw", "file", options={"file_path": str(raw), "log_raw": "true"})
    broker.enable("noacc", "file", options={"file_path": str(noacc), "hmac_accessor": "false", "prefix": "AUDIT "})
    broker.enable("list", "file", options={"file_path": str(listing), "elide_list_responses": "true"})
    broker.log_response(sample("list", response={"keys": ["a", "b", "c"], "key_info": {"a": {}}}))
    (r,) = lines(raw)
    assert r["auth"]["client_token"] == TOKEN and r["response"]["data"]["keys"] == ["a", "b", "c"]
    text = noacc.read_text()
    assert text.startswith("AUDIT {")
    n = json.loads(text[len("AUDIT ") :])
    assert n["auth"]["accessor"] == ACCESSOR and n["request"]["client_token_accessor"] == ACCESSOR
    assert n["auth"]["client_token"].startswith("hmac-sha256:")
    (e,) = lines(listing)
    assert e["response"]["data"] == {"keys": 3, "key_info": 1}


def test_each_device_has_its_own_salt(broker: AuditBroker, tmp_path: Path) -> None:
    broker.enable("one", "file", options={"file_path": str(tmp_path / "1.log")})
    broker.enable("two", "file", options={"file_path": str(tmp_path / "2.log")})
    assert broker.hash("one", "x") != broker.hash("two/", "x")
    assert broker.hash("one/", "x") == broker.hash("/one", "x")


# --- the table ------------------------------------------------------------------------------------------------


def test_list_enable_disable_and_restart(broker: AuditBroker, barrier: Barrier, tmp_path: Path) -> None:
    assert broker.list() == {}
    broker.enable("file", "file", "my log", {"file_path": str(tmp_path / "a.log")}, local=False)
    listed = broker.list()
    assert listed == {
        "file/": {
            "type": "file",
            "description": "my log",
            "options": {"file_path": str(tmp_path / "a.log")},
            "local": False,
            "path": "file/",
        }
    }
    before = broker.hash("file", "x")
    again = AuditBroker(barrier)  # a restart: the table and the salt come back from the barrier
    assert again.list() == listed and again.hash("file", "x") == before
    assert again.disable("file") is True and again.disable("file") is False
    assert AuditBroker(barrier).list() == {}
    assert barrier.list(SALT_PREFIX) == []  # the salt is forgotten
    again.enable("file", "file", options={"file_path": str(tmp_path / "a.log")})
    assert again.hash("file", "x") != before  # a new salt


def test_table_survives_seal_and_unseal_and_is_encrypted(
    broker: AuditBroker, barrier: Barrier, physical: MemoryStorage, tmp_path: Path
) -> None:
    broker.enable("file", "file", options={"file_path": str(tmp_path / "secret-name.log")})
    salt = salt_of(barrier, "file/")
    barrier.seal()
    broker.reset()
    with pytest.raises(errors.KeyStoreSealed):
        broker.list()
    for value in physical.items().values():
        assert b"secret-name" not in value and salt not in value
    barrier.unseal(ROOT_KEY)
    assert list(broker.list()) == ["file/"]
    assert broker.hash("file", "x") == vault_hmac(salt, "x")


@pytest.mark.parametrize(
    ("path", "kind", "options", "message"),
    [
        ("x", "syslog", {}, 'unknown backend type: "syslog"'),
        ("x", "", {}, 'unknown backend type: ""'),
        ("x", "file", {}, '"file_path" is required: invalid configuration'),
        ("x", "file", {"file_path": "stdout", "format": "jsonx"}, "jsonx"),
        ("x", "file", {"file_path": "stdout", "format": "xml"}, 'unsupported "format": invalid configuration'),
        ("x", "file", {"file_path": "stdout", "log_raw": "yes"}, 'unable to parse "log_raw": invalid configuration'),
        ("x", "file", {"file_path": "stdout", "hmac_accessor": "2"}, 'unable to parse "hmac_accessor"'),
        ("x", "file", {"file_path": "stdout", "elide_list_responses": "x"}, 'unable to parse "elide_list_responses"'),
        ("x", "file", {"file_path": "stdout", "mode": "0755"}, "cannot be executable"),
        ("x", "file", {"file_path": "stdout", "mode": "rw"}, "unable to parse file mode"),
        ("x", "file", {"file_path": "stdout", "filter": "a"}, "enterprise-only options"),
        ("", "file", {"file_path": "stdout"}, "backend path must be specified"),
        ("a/../b", "file", {"file_path": "stdout"}, "invalid audit device path"),
    ],
)
def test_bad_configurations_are_refused(
    broker: AuditBroker, path: str, kind: str, options: dict[str, str], message: str
) -> None:
    with pytest.raises(errors.VaultInvalidRequest) as got:
        broker.enable(path, kind, options=options)
    assert message in got.value.message
    assert broker.list() == {}


def test_taken_paths_and_files_are_refused(broker: AuditBroker, tmp_path: Path) -> None:
    broker.enable("file", "file", options={"file_path": str(tmp_path / "a.log")})
    for taken in ("file", "file/", "file/sub"):
        with pytest.raises(errors.VaultInvalidRequest, match='path "file/" already in use'):
            broker.enable(taken, "file", options={"file_path": str(tmp_path / "other.log")})
    with pytest.raises(errors.VaultInvalidRequest, match='"file_path" .* already in use on device: "file/"'):
        broker.enable("second", "file", options={"file_path": str(tmp_path / "a.log")})
    broker.enable("nested/one", "file", options={"file_path": str(tmp_path / "b.log")})
    with pytest.raises(errors.VaultInvalidRequest, match="already in use"):
        broker.enable("nested", "file", options={"file_path": str(tmp_path / "c.log")})


def test_unwritable_file_is_refused_at_enable(broker: AuditBroker, tmp_path: Path) -> None:
    (tmp_path / "dir.log").mkdir()
    with pytest.raises(errors.VaultInvalidRequest, match="file sink creation failed"):
        broker.enable("file", "file", options={"file_path": str(tmp_path / "dir.log")})
    with pytest.raises(errors.VaultInvalidRequest, match="file sink creation failed"):
        broker.enable("file", "file", options={"file_path": str(tmp_path / "missing-dir" / "a.log")})
    assert broker.list() == {}


def test_mode_is_applied(broker: AuditBroker, tmp_path: Path) -> None:
    default, custom = tmp_path / "d.log", tmp_path / "c.log"
    broker.enable("d", "file", options={"file_path": str(default)})
    broker.enable("c", "file", options={"file_path": str(custom), "mode": "0640"})
    assert default.stat().st_mode & 0o777 == 0o600 and custom.stat().st_mode & 0o777 == 0o640
    custom.chmod(0o644)  # an operator's later change is kept while the process runs (Vault keeps its file open)
    broker.log_request(sample())
    assert custom.stat().st_mode & 0o777 == 0o644


def test_hash_refusals(broker: AuditBroker) -> None:
    with pytest.raises(errors.VaultInvalidRequest, match='unknown audit backend "file/"'):
        broker.hash("file", "x")
    broker.enable("file", "file", options={"file_path": "discard"})
    with pytest.raises(errors.VaultInvalidRequest, match='the "input" parameter is empty'):
        broker.hash("file", "")


# --- fail closed ----------------------------------------------------------------------------------------------


def test_no_device_no_error(broker: AuditBroker) -> None:
    broker.log_request(sample())
    assert broker.known_empty


def test_fail_closed_when_no_device_can_write(broker: AuditBroker, tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    broker.enable("file", "file", options={"file_path": str(log)})
    log.unlink()
    log.mkdir()  # the log is now something nobody (not even root) can append to
    with pytest.raises(errors.AuditUnavailable):
        broker.log_request(sample())
    with pytest.raises(errors.AuditUnavailable):
        broker.log_response(sample())
    broker.enable("spare", "file", options={"file_path": str(tmp_path / "b.log")})
    broker.log_request(sample())  # one device that writes is enough
    assert len(lines(tmp_path / "b.log")) == 1


def test_a_removed_log_file_is_created_again(broker: AuditBroker, tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    broker.enable("file", "file", options={"file_path": str(log)})
    broker.log_request(sample())
    log.rename(tmp_path / "a.log.1")  # rotated away without a signal
    broker.log_request(sample())
    assert len(lines(log)) == 1 and len(lines(tmp_path / "a.log.1")) == 1


def test_salt_is_never_shown(broker: AuditBroker, barrier: Barrier, tmp_path: Path) -> None:
    broker.enable("file", "file", options={"file_path": str(tmp_path / "a.log")})
    salt = salt_of(barrier, "file/")
    device = broker._loaded()["file/"]
    shown = json.dumps(broker.list()) + repr(device) + str(device.__dict__.get("config"))
    assert salt.hex() not in shown
    assert set(broker.list()["file/"]) == {"type", "description", "options", "local", "path"}
