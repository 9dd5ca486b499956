"""The conformance suite every :class:`~strongroom.storage.base.BlobStore` runs.

Subclass :class:`BlobStoreConformance` in a test module and provide a
``store`` fixture that yields a fresh, empty store::

    class TestFilesystemBlobStore(BlobStoreConformance):
        @pytest.fixture
        def store(self, tmp_path: Path) -> BlobStore:
            return FilesystemBlobStore(tmp_path / "blobs")

Only imported by tests (it needs pytest).
"""

from __future__ import annotations

import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from strongroom.core.errors import BlobNotFound, StorageError
from strongroom.storage.base import BlobStore, BlobWriter, sweep_orphans

__all__ = ["BlobStoreConformance", "new_blob_id", "put_blob"]

MiB = 1024 * 1024

INVALID_BLOB_IDS = [
    "../x",
    "",
    "ABC/..",
    "a" * 65,
    "abcdef1",  # too short
    "ABCDEF0123",  # upper case
    "abcd/ef0123",
    "abcdef01\x00",
    "..abcdef01",
    "abcdef01 ",
]


def new_blob_id() -> str:
    return uuid.uuid4().hex


def payload(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def put_blob(store: BlobStore, blob_id: str, data: bytes, piece: int = MiB) -> None:
    """Write ``data`` in ``piece``-sized memoryview slices and commit."""
    view = memoryview(data)
    with store.writer(blob_id) as writer:
        for start in range(0, len(view), piece):
            writer.write(view[start : start + piece])
        writer.commit()


def read_all(store: BlobStore, blob_id: str) -> bytes:
    return store.read(blob_id, 0, store.size(blob_id) + 1)


def assert_absent(store: BlobStore, blob_id: str) -> None:
    assert not store.exists(blob_id)
    assert blob_id not in {listed for listed, _ in store.list_blobs()}
    with pytest.raises(BlobNotFound):
        store.read(blob_id, 0, 1)
    with pytest.raises(BlobNotFound):
        store.size(blob_id)


class BlobStoreConformance:
    """Behaviour every BlobStore must show. Needs a ``store`` fixture yielding an empty store."""

    # --- round trips -------------------------------------------------------

    @pytest.mark.parametrize("size", [0, 1])
    def test_round_trip_tiny(self, store: BlobStore, size: int) -> None:
        blob_id = new_blob_id()
        data = payload(size)
        put_blob(store, blob_id, data)
        assert store.exists(blob_id)
        assert store.size(blob_id) == size
        assert store.read(blob_id, 0, 10) == data
        assert store.read(blob_id, 0, 0) == b""

    def test_round_trip_several_mib_in_pieces(self, store: BlobStore) -> None:
        blob_id = new_blob_id()
        data = payload(5 * MiB + 12345, seed=1)
        put_blob(store, blob_id, data, piece=MiB)
        assert store.size(blob_id) == len(data)
        assert read_all(store, blob_id) == data

    def test_small_and_mixed_writes(self, store: BlobStore) -> None:
        blob_id = new_blob_id()
        pieces: list[bytes | memoryview] = [b"a", b"", payload(100_000, seed=2), memoryview(b"tail")]
        with store.writer(blob_id) as writer:
            for piece in pieces:
                writer.write(piece)
            writer.commit()
        assert read_all(store, blob_id) == b"".join(bytes(p) for p in pieces)

    def test_read_at_offsets_and_past_end(self, store: BlobStore) -> None:
        blob_id = new_blob_id()
        data = payload(3 * MiB + 7, seed=3)
        put_blob(store, blob_id, data)
        end = len(data)
        for offset, length in [(0, 1), (1, 100), (MiB - 3, 10), (2 * MiB, MiB), (end - 5, 5), (12345, 0)]:
            assert store.read(blob_id, offset, length) == data[offset : offset + length]
        assert store.read(blob_id, end - 5, 100) == data[-5:]  # fewer only at the end
        assert store.read(blob_id, end, 10) == b""
        assert store.read(blob_id, end + 1000, 10) == b""
        assert store.read(blob_id, 0, 1 << 40) == data  # a huge length is bounded by the blob

    def test_read_rejects_negative_offset_or_length(self, store: BlobStore) -> None:
        blob_id = new_blob_id()
        put_blob(store, blob_id, b"0123456789")
        with pytest.raises(StorageError):
            store.read(blob_id, -1, 5)
        with pytest.raises(StorageError):
            store.read(blob_id, 0, -1)

    # --- presence ----------------------------------------------------------

    def test_missing_blob(self, store: BlobStore) -> None:
        assert_absent(store, new_blob_id())

    def test_size_and_exists(self, store: BlobStore) -> None:
        a, b = new_blob_id(), new_blob_id()
        put_blob(store, a, payload(1000))
        assert store.exists(a) and store.size(a) == 1000
        assert not store.exists(b)

    def test_delete_is_idempotent(self, store: BlobStore) -> None:
        keep, gone = new_blob_id(), new_blob_id()
        put_blob(store, keep, b"keep me")
        put_blob(store, gone, b"delete me")
        store.delete(gone)
        assert_absent(store, gone)
        store.delete(gone)
        store.delete(new_blob_id())  # never existed
        assert read_all(store, keep) == b"keep me"

    def test_list_blobs(self, store: BlobStore) -> None:
        assert list(store.list_blobs()) == []
        before = time.time()
        ids = {new_blob_id() for _ in range(5)} | {str(uuid.uuid4()), "0" * 8, "f" * 64}
        for blob_id in ids:
            put_blob(store, blob_id, blob_id.encode())
        listed = dict(store.list_blobs())
        assert set(listed) == ids
        for mtime in listed.values():
            assert before - 5 <= mtime <= time.time() + 5
        removed = sorted(ids)[0]
        store.delete(removed)
        assert {blob_id for blob_id, _ in store.list_blobs()} == ids - {removed}

    def test_describe(self, store: BlobStore) -> None:
        description = store.describe()
        assert isinstance(description, str) and "://" in description

    def test_healthy(self, store: BlobStore) -> None:
        assert store.healthy() is True

    # --- writer lifecycle --------------------------------------------------

    def test_uncommitted_writer_is_invisible(self, store: BlobStore) -> None:
        blob_id = new_blob_id()
        writer = store.writer(blob_id)
        try:
            writer.write(payload(2 * MiB))
            assert_absent(store, blob_id)
            assert list(store.list_blobs()) == []
        finally:
            writer.abort()

    def test_commit_publishes_in_full(self, store: BlobStore) -> None:
        blob_id = new_blob_id()
        data = payload(MiB + 1, seed=4)
        writer = store.writer(blob_id)
        assert isinstance(writer, BlobWriter)
        writer.write(data)
        writer.commit()
        assert read_all(store, blob_id) == data

    def test_abort_leaves_nothing_and_is_idempotent(self, store: BlobStore) -> None:
        blob_id = new_blob_id()
        writer = store.writer(blob_id)
        writer.write(payload(MiB))
        writer.abort()
        writer.abort()
        assert_absent(store, blob_id)
        with pytest.raises(StorageError):
            writer.write(b"more")
        with pytest.raises(StorageError):
            writer.commit()
        assert_absent(store, blob_id)
        assert store.sweep_temp(0) == 0  # abort cleaned up after itself
        put_blob(store, blob_id, b"the id is still free")
        assert read_all(store, blob_id) == b"the id is still free"

    def test_exception_in_with_aborts(self, store: BlobStore) -> None:
        blob_id = new_blob_id()
        with pytest.raises(RuntimeError, match="boom"):
            with store.writer(blob_id) as writer:
                writer.write(payload(MiB))
                raise RuntimeError("boom")
        assert_absent(store, blob_id)
        assert store.sweep_temp(0) == 0

    def test_leaving_with_without_commit_aborts(self, store: BlobStore) -> None:
        blob_id = new_blob_id()
        with store.writer(blob_id) as writer:
            writer.write(b"never committed")
        assert_absent(store, blob_id)
        assert store.sweep_temp(0) == 0

    def test_committed_writer_refuses_reuse(self, store: BlobStore) -> None:
        blob_id = new_blob_id()
        with pytest.raises(RuntimeError):
            with store.writer(blob_id) as writer:
                writer.write(b"done")
                writer.commit()
                with pytest.raises(StorageError):
                    writer.write(b"more")
                with pytest.raises(StorageError):
                    writer.commit()
                writer.abort()  # no-op after commit
                raise RuntimeError("after commit")  # __exit__ must not remove a committed blob
        assert read_all(store, blob_id) == b"done"

    def test_same_id_twice_fails_and_keeps_first(self, store: BlobStore) -> None:
        blob_id = new_blob_id()
        put_blob(store, blob_id, b"first")
        with pytest.raises(StorageError):
            put_blob(store, blob_id, b"second, longer than the first")
        assert read_all(store, blob_id) == b"first"
        assert [listed for listed, _ in store.list_blobs()] == [blob_id]

    def test_racing_writers_same_id_first_commit_wins(self, store: BlobStore) -> None:
        blob_id = new_blob_id()
        first, second = store.writer(blob_id), store.writer(blob_id)
        with first, second:
            second.write(b"second")
            first.write(b"first")
            first.commit()
            with pytest.raises(StorageError):
                second.commit()
        assert read_all(store, blob_id) == b"first"
        assert store.sweep_temp(0) == 0  # the loser cleaned up

    @pytest.mark.parametrize("bad_id", INVALID_BLOB_IDS)
    def test_invalid_ids_rejected(self, store: BlobStore, bad_id: str) -> None:
        with pytest.raises(StorageError):
            store.writer(bad_id)
        with pytest.raises(StorageError):
            store.read(bad_id, 0, 1)
        with pytest.raises(StorageError):
            store.size(bad_id)
        with pytest.raises(StorageError):
            store.exists(bad_id)
        with pytest.raises(StorageError):
            store.delete(bad_id)
        assert list(store.list_blobs()) == []

    def test_id_length_bounds_accepted(self, store: BlobStore) -> None:
        for blob_id in ["0123abcd", "-" * 8, "f" * 64, str(uuid.uuid4())]:
            put_blob(store, blob_id, blob_id.encode())
            assert read_all(store, blob_id) == blob_id.encode()

    def test_concurrent_writers_from_8_threads(self, store: BlobStore) -> None:
        blobs = {new_blob_id(): payload(MiB // 2 + n, seed=n) for n in range(8)}

        def work(item: tuple[str, bytes]) -> None:
            put_blob(store, item[0], item[1], piece=64 * 1024)

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(work, blobs.items()))
        assert {blob_id for blob_id, _ in store.list_blobs()} == set(blobs)
        for blob_id, data in blobs.items():
            assert read_all(store, blob_id) == data

    # --- housekeeping ------------------------------------------------------

    #: whether an in-flight writer leaves a temp object that sweep_temp can see (False: in-flight data is
    #: invisible, e.g. anonymous O_TMPFILE files, and a sweep can neither see nor break a live writer)
    sweeps_inflight_temp = True

    def test_sweep_temp_removes_stale_not_fresh(self, store: BlobStore) -> None:
        committed = new_blob_id()
        put_blob(store, committed, b"committed")
        blob_id = new_blob_id()
        writer = store.writer(blob_id)
        if not self.sweeps_inflight_temp:
            data = payload(MiB)
            writer.write(data)
            assert store.sweep_temp(0) == 0
            writer.commit()
            assert read_all(store, blob_id) == data
            assert read_all(store, committed) == b"committed"
            return
        try:
            writer.write(payload(MiB))
            assert store.sweep_temp(3600) == 0  # too young: may belong to a live writer
            assert store.sweep_temp(0) == 1
            assert store.sweep_temp(0) == 0
            with pytest.raises(StorageError):
                writer.commit()  # its temp data is gone; it must not publish anything
        finally:
            writer.abort()
        assert_absent(store, blob_id)
        assert read_all(store, committed) == b"committed"

    def test_sweep_orphans(self, store: BlobStore) -> None:
        ids = [new_blob_id() for _ in range(4)]
        for blob_id in ids:
            put_blob(store, blob_id, b"x")
        referenced = {ids[0], ids[2]}
        asked: list[str] = []

        def is_referenced(blob_id: str) -> bool:
            asked.append(blob_id)
            return blob_id in referenced

        # Young blobs stay even when unreferenced (their metadata may not be committed yet).
        assert sweep_orphans(store, is_referenced, older_than_seconds=3600, now=time.time()) == 0
        assert {blob_id for blob_id, _ in store.list_blobs()} == set(ids)

        later = time.time() + 7200
        assert sweep_orphans(store, is_referenced, older_than_seconds=3600, now=later) == 2
        assert {blob_id for blob_id, _ in store.list_blobs()} == referenced
        assert set(asked) == set(ids)
        assert sweep_orphans(store, is_referenced, older_than_seconds=3600, now=later) == 0
