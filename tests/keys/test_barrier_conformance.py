"""The VaultStorage contract, run by every implementation here (MemoryStorage, an unsealed Barrier).

The SQL physical storage runs the same cases in tests/metadata/test_metadata_vaultstore.py; add a new
implementation by extending ``IMPLEMENTATIONS``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from strongroom.keys.barrier import Barrier
from strongroom.keys.storage import MemoryStorage, VaultStorage


def _memory() -> VaultStorage:
    return MemoryStorage()


def _barrier() -> VaultStorage:
    barrier = Barrier(MemoryStorage())
    barrier.initialize(b"\x07" * 32)
    barrier.unseal(b"\x07" * 32)
    return barrier


IMPLEMENTATIONS: dict[str, Callable[[], VaultStorage]] = {"memory": _memory, "barrier": _barrier}


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def storage(request: pytest.FixtureRequest) -> VaultStorage:
    return IMPLEMENTATIONS[request.param]()


def test_put_get_overwrite_delete(storage: VaultStorage) -> None:
    assert storage.get("a/b") is None
    storage.put("a/b", b"\x00\xff value")
    assert storage.get("a/b") == b"\x00\xff value"
    storage.put("a/b", b"second")
    assert storage.get("a/b") == b"second"
    storage.put("a/b", b"")
    assert storage.get("a/b") == b""
    storage.delete("a/b")
    storage.delete("a/b")  # idempotent
    assert storage.get("a/b") is None


def test_values_are_copied(storage: VaultStorage) -> None:
    buf = bytearray(b"original")
    storage.put("k", buf)  # type: ignore[arg-type]
    buf[:] = b"mutated!"
    assert storage.get("k") == b"original"


def test_list_immediate_children_vault_semantics(storage: VaultStorage) -> None:
    for path in ["transit/keys/k1", "transit/keys/k2", "transit/keys/sub/x", "transit/other", "kv/a", "transitz"]:
        storage.put(path, b"v")
    assert storage.list("transit/keys/") == ["k1", "k2", "sub/"]
    assert storage.list("transit/") == ["keys/", "other"]
    assert storage.list("") == ["kv/", "transit/", "transitz"]
    assert storage.list("nothing/") == []
    storage.delete("transit/keys/sub/x")
    assert storage.list("transit/keys/") == ["k1", "k2"]


def test_list_is_sorted_and_deduplicated(storage: VaultStorage) -> None:
    for path in ["p/z", "p/a", "p/m/1", "p/m/2", "p/b"]:
        storage.put(path, b"v")
    assert storage.list("p/") == ["a", "b", "m/", "z"]


def test_concurrent_writers_last_write_wins_without_errors(storage: VaultStorage) -> None:
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(20):
                storage.put(f"p/{i % 3}", f"{n}-{i}".encode())
                storage.get(f"p/{i % 3}")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert storage.list("p/") == ["0", "1", "2"]
