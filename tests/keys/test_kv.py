"""KV v2 engine: versions, check-and-set, soft delete/undelete/destroy, metadata, list, max_versions."""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.core import errors
from strongroom.keys.kv import KVv2Engine, format_duration, parse_duration, rfc3339
from strongroom.keys.storage import MemoryStorage


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 3, 1, 12, 0, 0, 250000, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def storage() -> MemoryStorage:
    return MemoryStorage()


@pytest.fixture()
def kv(storage: MemoryStorage, clock: Clock) -> KVv2Engine:
    return KVv2Engine(storage, "secret", clock)


def test_write_and_read_versions(kv: KVv2Engine, clock: Clock) -> None:
    first = kv.create_or_update("app/db", {"password": "one"})
    assert first == {
        "version": 1,
        "created_time": "2026-03-01T12:00:00.25Z",
        "deletion_time": "",
        "destroyed": False,
        "custom_metadata": None,
    }
    clock.advance(seconds=1)
    assert kv.create_or_update("app/db", {"password": "two"})["version"] == 2
    latest = kv.read("app/db")
    assert latest["data"] == {"password": "two"}
    assert latest["metadata"] == {
        "version": 2,
        "created_time": "2026-03-01T12:00:01.25Z",
        "deletion_time": "",
        "destroyed": False,
        "custom_metadata": None,
    }
    assert kv.read("app/db", version=1)["data"] == {"password": "one"}
    assert kv.read("app/db", version=0)["metadata"]["version"] == 2  # 0 means latest, as Vault
    with pytest.raises(errors.VaultNotFound) as info:
        kv.read("app/db", version=3)
    assert info.value.status == 404
    with pytest.raises(errors.VaultNotFound):
        kv.read("nope")


def test_write_rejections(kv: KVv2Engine) -> None:
    with pytest.raises(errors.VaultInvalidRequest, match="no data provided"):
        kv.create_or_update("a", None)
    with pytest.raises(errors.VaultInvalidRequest, match="missing path"):
        kv.create_or_update("", {"a": 1})
    with pytest.raises(errors.VaultInvalidRequest, match="cannot end with"):
        kv.create_or_update("dir/", {"a": 1})


def test_check_and_set(kv: KVv2Engine) -> None:
    assert kv.create_or_update("s", {"v": 1}, cas=0)["version"] == 1
    with pytest.raises(errors.VaultInvalidRequest) as info:
        kv.create_or_update("s", {"v": 2}, cas=0)
    assert info.value.message == "check-and-set parameter did not match the current version"
    assert info.value.status == 400
    with pytest.raises(errors.VaultInvalidRequest, match="did not match the current version"):
        kv.create_or_update("s", {"v": 2}, cas=5)
    assert kv.create_or_update("s", {"v": 2}, cas=1)["version"] == 2
    assert kv.create_or_update("s", {"v": 3}, cas="2")["version"] == 3  # weakly decoded, as Vault
    with pytest.raises(errors.VaultInvalidRequest, match="error parsing check-and-set parameter"):
        kv.create_or_update("s", {"v": 4}, cas="x")


def test_cas_required_by_config_or_by_secret(kv: KVv2Engine) -> None:
    kv.configure(cas_required=True)
    with pytest.raises(errors.VaultInvalidRequest, match="check-and-set parameter required for this call"):
        kv.create_or_update("s", {"v": 1})
    kv.create_or_update("s", {"v": 1}, cas=0)
    kv.configure(cas_required=False)
    kv.update_metadata("s", cas_required=True)
    with pytest.raises(errors.VaultInvalidRequest, match="check-and-set parameter required"):
        kv.create_or_update("s", {"v": 2})
    kv.create_or_update("other", {"v": 1})  # other secrets are unaffected


def test_soft_delete_undelete_and_vaults_404_body(kv: KVv2Engine, clock: Clock) -> None:
    kv.create_or_update("s", {"v": 1})
    kv.create_or_update("s", {"v": 2})
    clock.advance(seconds=5)
    kv.delete_latest("s")
    with pytest.raises(errors.KVVersionDeleted) as info:
        kv.read("s")
    assert info.value.status == 404
    assert info.value.data is not None
    body: Any = info.value.data
    assert body["data"] is None
    assert body["metadata"]["version"] == 2
    assert body["metadata"]["deletion_time"] == "2026-03-01T12:00:05.25Z"  # hvac keys on this
    assert kv.read("s", version=1)["data"] == {"v": 1}
    assert kv.read_metadata("s")["versions"]["2"]["deletion_time"] == "2026-03-01T12:00:05.25Z"
    kv.undelete_versions("s", [2])
    assert kv.read("s")["data"] == {"v": 2}
    kv.delete_versions("s", [1, 2, 99])
    for version in (1, 2):
        with pytest.raises(errors.KVVersionDeleted):
            kv.read("s", version=version)
    kv.undelete_versions("s", "1,2")  # Vault's comma-separated form
    assert kv.read("s", version=1)["data"] == {"v": 1}
    with pytest.raises(errors.VaultInvalidRequest, match="No version number provided"):
        kv.delete_versions("s", [])
    with pytest.raises(errors.VaultInvalidRequest, match="No version number provided"):
        kv.undelete_versions("s", [])
    kv.delete_latest("missing")  # a missing secret is a no-op (204)


def test_destroy_removes_data_for_good(kv: KVv2Engine, storage: MemoryStorage) -> None:
    kv.create_or_update("s", {"secret": "burn-after-reading"})
    kv.create_or_update("s", {"secret": "keep"})
    kv.destroy_versions("s", [1])
    assert all(b"burn-after-reading" not in value for value in storage.items().values())
    with pytest.raises(errors.KVVersionDeleted) as info:
        kv.read("s", version=1)
    destroyed: Any = info.value.data
    assert destroyed["metadata"]["destroyed"] is True
    assert destroyed["metadata"]["deletion_time"] == ""
    kv.undelete_versions("s", [1])
    assert kv.read_metadata("s")["versions"]["1"]["destroyed"] is True
    with pytest.raises(errors.KVVersionDeleted):
        kv.read("s", version=1)
    assert kv.read("s")["data"] == {"secret": "keep"}
    with pytest.raises(errors.VaultInvalidRequest, match="no version number provided"):
        kv.destroy_versions("s", [])


def test_read_metadata_shape(kv: KVv2Engine, clock: Clock) -> None:
    kv.create_or_update("s", {"v": 1})
    clock.advance(minutes=1)
    kv.create_or_update("s", {"v": 2})
    meta = kv.read_metadata("s")
    assert meta == {
        "versions": {
            "1": {"created_time": "2026-03-01T12:00:00.25Z", "deletion_time": "", "destroyed": False},
            "2": {"created_time": "2026-03-01T12:01:00.25Z", "deletion_time": "", "destroyed": False},
        },
        "current_version": 2,
        "oldest_version": 0,
        "created_time": "2026-03-01T12:00:00.25Z",
        "updated_time": "2026-03-01T12:01:00.25Z",
        "max_versions": 0,
        "cas_required": False,
        "delete_version_after": "0s",
        "custom_metadata": None,
    }
    with pytest.raises(errors.VaultNotFound):
        kv.read_metadata("nope")


def test_update_metadata_and_custom_metadata(kv: KVv2Engine) -> None:
    kv.update_metadata("fresh", max_versions=5, custom_metadata={"owner": "ops", "tier": 1})
    meta = kv.read_metadata("fresh")
    assert meta["current_version"] == 0 and meta["versions"] == {} and meta["max_versions"] == 5
    assert meta["custom_metadata"] == {"owner": "ops", "tier": "1"}
    assert kv.create_or_update("fresh", {"a": 1})["custom_metadata"] == {"owner": "ops", "tier": "1"}
    assert kv.read("fresh")["metadata"]["custom_metadata"] == {"owner": "ops", "tier": "1"}
    kv.patch_metadata("fresh", custom_metadata={"owner": None, "team": "blue"})
    assert kv.read_metadata("fresh")["custom_metadata"] == {"tier": "1", "team": "blue"}
    with pytest.raises(errors.VaultInvalidRequest, match="custom_metadata validation failed"):
        kv.update_metadata("fresh", custom_metadata={"k" * 129: "v"})
    with pytest.raises(errors.VaultInvalidRequest, match="at most 64 keys"):
        kv.update_metadata("fresh", custom_metadata={str(i): "v" for i in range(65)})
    with pytest.raises(errors.VaultNotFound):
        kv.patch_metadata("ghost", max_versions=1)


def test_max_versions_trims_oldest(kv: KVv2Engine, storage: MemoryStorage) -> None:
    kv.configure(max_versions=3)
    for number in range(1, 6):
        kv.create_or_update("s", {"n": f"value-{number}"})
    meta = kv.read_metadata("s")
    assert sorted(meta["versions"], key=int) == ["3", "4", "5"]
    assert meta["oldest_version"] == 3 and meta["current_version"] == 5
    with pytest.raises(errors.VaultNotFound):
        kv.read("s", version=1)
    stored = b"".join(storage.items().values())
    assert b"value-1" not in stored and b"value-2" not in stored and b"value-3" in stored
    # a key-level max_versions above the mount's wins (Vault takes the larger)
    kv.update_metadata("s", max_versions=4)
    kv.create_or_update("s", {"n": "value-6"})
    assert sorted(kv.read_metadata("s")["versions"], key=int) == ["3", "4", "5", "6"]


def test_default_window_is_ten_versions(kv: KVv2Engine) -> None:
    for number in range(12):
        kv.create_or_update("s", {"n": number})
    meta = kv.read_metadata("s")
    assert len(meta["versions"]) == 10 and meta["oldest_version"] == 3


def test_delete_version_after(kv: KVv2Engine, clock: Clock) -> None:
    kv.configure(delete_version_after="1h")
    assert kv.read_config() == {"max_versions": 0, "cas_required": False, "delete_version_after": "1h0m0s"}
    written = kv.create_or_update("s", {"v": 1})
    assert written["deletion_time"] == "2026-03-01T13:00:00.25Z"
    assert kv.read("s")["data"] == {"v": 1}  # deletion in the future: still readable
    clock.advance(hours=1, seconds=1)
    with pytest.raises(errors.KVVersionDeleted):
        kv.read("s")
    kv.update_metadata("t", delete_version_after="10m")
    assert kv.create_or_update("t", {"v": 1})["deletion_time"] == rfc3339(clock.now + dt.timedelta(minutes=10))
    kv.configure(delete_version_after=-1)  # negative disables it everywhere
    assert kv.read_config()["delete_version_after"] == "-1s"
    assert kv.create_or_update("t", {"v": 2})["deletion_time"] == ""


def test_patch_merges_into_a_new_version(kv: KVv2Engine) -> None:
    with pytest.raises(errors.VaultNotFound):
        kv.patch("s", {"a": 1})
    kv.create_or_update("s", {"a": 1, "b": {"x": 1, "y": 2}, "c": 3})
    out = kv.patch("s", {"b": {"y": None, "z": 3}, "c": None, "d": 4}, cas=1)
    assert out["version"] == 2
    assert kv.read("s")["data"] == {"a": 1, "b": {"x": 1, "z": 3}, "d": 4}
    with pytest.raises(errors.VaultInvalidRequest, match="did not match the current version"):
        kv.patch("s", {"a": 2}, cas=1)
    kv.delete_latest("s")
    with pytest.raises(errors.KVVersionDeleted) as info:
        kv.patch("s", {"a": 2})
    assert info.value.data is not None and info.value.data["version"] == 2


def test_list_folders_and_leaves(kv: KVv2Engine) -> None:
    with pytest.raises(errors.VaultNotFound):
        kv.list()
    for path in ("app/db", "app/api/key", "app", "top"):
        kv.create_or_update(path, {"x": 1})
    assert kv.list() == {"keys": ["app", "app/", "top"]}
    assert kv.list("app") == {"keys": ["api/", "db"]}
    assert kv.list("app/") == {"keys": ["api/", "db"]}
    assert kv.list("app/api/") == {"keys": ["key"]}
    with pytest.raises(errors.VaultNotFound):
        kv.list("nothing/")


def test_delete_metadata_removes_everything(kv: KVv2Engine, storage: MemoryStorage) -> None:
    kv.create_or_update("gone/s", {"secret": "v1-data"})
    kv.create_or_update("gone/s", {"secret": "v2-data"})
    kv.destroy_versions("gone/s", [1])
    kv.delete_metadata("gone/s")
    assert all(b"v2-data" not in value and b"v1-data" not in value for value in storage.items().values())
    assert not any(path.startswith("kv/secret/") and "gone" in path for path in storage.items())
    with pytest.raises(errors.VaultNotFound):
        kv.read("gone/s")
    with pytest.raises(errors.VaultNotFound):
        kv.list("gone/")
    kv.delete_metadata("gone/s")  # idempotent


def test_mounts_are_isolated(storage: MemoryStorage, clock: Clock) -> None:
    one, two = KVv2Engine(storage, "one", clock), KVv2Engine(storage, "two", clock)
    one.create_or_update("s", {"v": 1})
    with pytest.raises(errors.VaultNotFound):
        two.read("s")
    one.configure(max_versions=2)
    assert two.read_config()["max_versions"] == 0
    assert json.loads(storage.items()["kv/one/config"])["max_versions"] == 2


def test_config_round_trip(kv: KVv2Engine) -> None:
    assert kv.read_config() == {"max_versions": 0, "cas_required": False, "delete_version_after": "0s"}
    kv.configure(max_versions=10, cas_required=True, delete_version_after="0s")  # what hvac sends by default
    assert kv.read_config() == {"max_versions": 10, "cas_required": True, "delete_version_after": "0s"}
    with pytest.raises(errors.VaultInvalidRequest):
        kv.configure(max_versions=-1)


# --- durations --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (1, "1s"), (59, "59s"), (60, "1m0s"), (90, "1m30s"), (3600, "1h0m0s"), (86400, "24h0m0s"),
     (-1, "-1s"), (1.5, "1.5s"), (0.002, "2ms")],
)  # fmt: skip
def test_format_duration_matches_go(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(30, 30), ("30", 30), ("30s", 30), ("1h30m", 5400), ("2d", 172800), ("", 0), ("0", 0), ("1.5h", 5400)],
)
def test_parse_duration(value: object, seconds: int) -> None:
    assert parse_duration(value) == seconds


def test_parse_duration_rejects_garbage() -> None:
    for bad in ("soon", "1x", "h", True, [1]):
        with pytest.raises(errors.VaultInvalidRequest):
            parse_duration(bad)


@given(st.integers(min_value=-(10**7), max_value=10**7))
def test_duration_round_trip(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


@settings(max_examples=30, deadline=None)
@given(
    writes=st.lists(
        st.dictionaries(st.text(min_size=1, max_size=5), st.integers(), max_size=3), min_size=1, max_size=8
    ),
    limit=st.integers(min_value=1, max_value=5),
)
def test_versions_follow_a_sliding_window(writes: list[dict[str, int]], limit: int) -> None:
    kv = KVv2Engine(MemoryStorage())
    kv.configure(max_versions=limit)
    for data in writes:
        kv.create_or_update("p", data)
    meta = kv.read_metadata("p")
    expected = list(range(max(1, len(writes) - limit + 1), len(writes) + 1))
    assert sorted(map(int, meta["versions"])) == expected
    assert meta["current_version"] == len(writes)
    for number in expected:
        assert kv.read("p", version=number)["data"] == writes[number - 1]


def test_concurrent_writers_get_distinct_versions(kv: KVv2Engine) -> None:
    versions: list[int] = []

    def work(index: int) -> None:
        versions.append(kv.create_or_update("s", {"writer": index})["version"])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(versions) == list(range(1, 9))
    assert kv.read_metadata("s")["current_version"] == 8
