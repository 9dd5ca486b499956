"""The vault's physical storage on SQLite and PostgreSQL: the VaultStorage contract."""

from __future__ import annotations

import threading

from strongroom.metadata.repository import Repository
from strongroom.metadata.vaultstore import SqlPhysicalStorage


def test_put_get_overwrite_delete(repo: Repository) -> None:
    st = SqlPhysicalStorage(repo)
    assert st.get("a/b") is None
    st.put("a/b", b"\x00\xff value")
    assert st.get("a/b") == b"\x00\xff value"
    st.put("a/b", b"second")
    assert st.get("a/b") == b"second"
    st.delete("a/b")
    st.delete("a/b")  # idempotent
    assert st.get("a/b") is None


def test_list_immediate_children_vault_semantics(repo: Repository) -> None:
    st = SqlPhysicalStorage(repo)
    for path in ["transit/keys/k1", "transit/keys/k2", "transit/keys/sub/x", "transit/other", "kv/a", "transitz"]:
        st.put(path, b"v")
    assert st.list("transit/keys/") == ["k1", "k2", "sub/"]
    assert st.list("transit/") == ["keys/", "other"]
    assert st.list("") == ["kv/", "transit/", "transitz"]
    assert st.list("nothing/") == []


def test_concurrent_writers_last_write_wins_without_errors(repo: Repository) -> None:
    st = SqlPhysicalStorage(repo)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(20):
                st.put(f"p/{i % 3}", f"{n}-{i}".encode())
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert st.list("p/") == ["0", "1", "2"]
