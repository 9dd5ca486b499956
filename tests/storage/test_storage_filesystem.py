from __future__ import annotations

import errno
import os
import selectors
import signal
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import anonymous_file_sizes

import strongroom
from strongroom.core.errors import BlobNotFound, StorageError
from strongroom.storage import BlobStore, FilesystemBlobStore, open_blob_store
from strongroom.storage.conformance import BlobStoreConformance, new_blob_id, payload, put_blob, read_all

SRC_DIR = str(Path(strongroom.__file__).resolve().parents[1])


class TestFilesystemBlobStore(BlobStoreConformance):
    """Named temp files under .tmp (filesystems without O_TMPFILE)."""

    @pytest.fixture
    def store(self, tmp_path: Path) -> BlobStore:
        return FilesystemBlobStore(tmp_path / "blobs", anonymous_temp=False)


class TestFilesystemBlobStoreAnonymousTemp(BlobStoreConformance):
    """Anonymous O_TMPFILE writers (the default where the filesystem has it): nothing in flight to sweep."""

    sweeps_inflight_temp = False

    @pytest.fixture
    def store(self, tmp_path: Path) -> BlobStore:
        return FilesystemBlobStore(tmp_path / "blobs", anonymous_temp=True)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "blobs"


@pytest.fixture
def store(root: Path) -> FilesystemBlobStore:
    """The named-temp-file mode: these tests look at the temp files."""
    return FilesystemBlobStore(root, anonymous_temp=False)


@pytest.fixture
def anon_store(root: Path) -> FilesystemBlobStore:
    return FilesystemBlobStore(root, anonymous_temp=True)


def test_anonymous_temp_is_detected_here(root: Path) -> None:
    # these machines run ext4 or tmpfs, which have O_TMPFILE: the default must use it
    assert FilesystemBlobStore(root).anonymous_temp is True


@pytest.fixture
def fs_events(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every fsync (of what the descriptor names) and link (its destination), in order."""
    events: list[tuple[str, str]] = []
    real_fsync, real_link = os.fsync, os.link

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def link(src: str, dst: str, **kwargs: object) -> None:
        events.append(("link", str(dst)))
        real_link(src, dst, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "link", link)
    return events


def all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_anonymous_layout_nothing_visible_until_commit(anon_store: FilesystemBlobStore, root: Path) -> None:
    old = os.umask(0)  # the modes must not depend on it
    try:
        blob_id = "abcdef0123456789"
        writer = anon_store.writer(blob_id)
        writer.write(b"data" * 1000)
        assert all_files(root) == []  # in flight: no name anywhere, not even under .tmp
        writer.commit()
    finally:
        os.umask(old)
    final = root / "ab" / "cd" / blob_id
    assert all_files(root) == [final]
    assert final.read_bytes() == b"data" * 1000
    assert mode(final) == 0o600
    assert mode(root / "ab") == mode(root / "ab" / "cd") == 0o700


def test_anonymous_abort_leaves_nothing(anon_store: FilesystemBlobStore, root: Path) -> None:
    writer = anon_store.writer(new_blob_id())
    writer.write(b"discarded" * 10_000)
    writer.abort()
    assert all_files(root) == []


def test_anonymous_commit_fsyncs_file_then_links_then_directories(
    anon_store: FilesystemBlobStore, root: Path, fs_events: list[tuple[str, str]]
) -> None:
    events = fs_events
    blob_id = "1234" + "c" * 28
    writer = anon_store.writer(blob_id)
    writer.write(b"x" * 10)
    writer.commit()
    leaf = root / "12" / "34"
    assert [e[0] for e in events] == ["fsync", "link", "fsync", "fsync", "fsync"]
    # the data is durable while it has no name yet: an O_TMPFILE inode in the leaf directory
    assert events[0][1].startswith(str(leaf) + "/#") and events[0][1].endswith("(deleted)")
    assert events[1:] == [("link", blob_id), ("fsync", str(leaf)), ("fsync", str(root / "12")), ("fsync", str(root))]


def test_anonymous_commit_refuses_blob_published_behind_its_back(
    anon_store: FilesystemBlobStore, root: Path
) -> None:
    blob_id = "abcd" + "f" * 28
    writer = anon_store.writer(blob_id)
    writer.write(b"late")
    final = root / "ab" / "cd" / blob_id
    final.write_bytes(b"early")  # the writer made the fan-out directories; another process won the race
    with pytest.raises(StorageError, match="already exists"):
        writer.commit()
    assert final.read_bytes() == b"early"
    assert all_files(root) == [final]


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def temp_files(root: Path) -> list[Path]:
    return sorted((root / ".tmp").iterdir())


# --- layout and permissions ---------------------------------------------------


def test_layout(store: FilesystemBlobStore, root: Path) -> None:
    blob_id = "abcdef0123456789"
    writer = store.writer(blob_id)
    writer.write(b"data")
    [tmp] = temp_files(root)
    assert tmp.name.startswith(blob_id + ".") and tmp.name.endswith(".tmp")
    writer.commit()
    assert (root / "ab" / "cd" / blob_id).read_bytes() == b"data"
    assert temp_files(root) == []


def test_modes_do_not_depend_on_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        root = tmp_path / "deep" / "blobs"
        store = FilesystemBlobStore(root, anonymous_temp=False)
        blob_id = new_blob_id()
        writer = store.writer(blob_id)
        writer.write(b"secret-ish ciphertext")
        [tmp] = temp_files(root)
        assert mode(tmp) == 0o600
        writer.commit()
    finally:
        os.umask(old)
    assert mode(root) == 0o700
    assert mode(root / ".tmp") == 0o700
    assert mode(root / blob_id[:2]) == 0o700
    assert mode(root / blob_id[:2] / blob_id[2:4]) == 0o700
    assert mode(root / blob_id[:2] / blob_id[2:4] / blob_id) == 0o600


def test_existing_root_is_reused(root: Path) -> None:
    first = FilesystemBlobStore(root)
    blob_id = new_blob_id()
    put_blob(first, blob_id, b"persisted")
    again = FilesystemBlobStore(root)
    assert read_all(again, blob_id) == b"persisted"


def test_root_that_is_a_file_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(StorageError):
        FilesystemBlobStore(tmp_path / "file")


def test_list_ignores_foreign_entries(store: FilesystemBlobStore, root: Path) -> None:
    blob_id = "abcd" + "0" * 28
    put_blob(store, blob_id, b"real")
    leaf = root / "ab" / "cd"
    (leaf / "not-a-blob!").write_bytes(b"")
    (leaf / ("ffff" + "0" * 28)).write_bytes(b"")  # valid id, wrong fan-out directory
    (leaf / ("abcd" + "1" * 28)).mkdir()  # a directory, not a blob
    (root / "README").write_bytes(b"")
    (root / "zz").mkdir()
    writer = store.writer(new_blob_id())
    writer.write(b"in flight")
    assert [listed for listed, _ in store.list_blobs()] == [blob_id]
    assert not store.exists("abcd" + "1" * 28)
    writer.abort()


def test_sweep_temp_leaves_foreign_files(store: FilesystemBlobStore, root: Path) -> None:
    (root / ".tmp" / "keep.me").write_bytes(b"")
    assert store.sweep_temp(0) == 0
    assert (root / ".tmp" / "keep.me").exists()


def test_sweep_temp_age_uses_mtime(store: FilesystemBlobStore, root: Path) -> None:
    writer = store.writer(new_blob_id())
    writer.write(b"stalled")
    [tmp] = temp_files(root)
    hour_ago = time.time() - 3600
    os.utime(tmp, (hour_ago, hour_ago))
    assert store.sweep_temp(7200) == 0
    assert store.sweep_temp(1800) == 1
    assert temp_files(root) == []
    writer.abort()


# --- durability -----------------------------------------------------------------


def test_commit_fsyncs_file_then_directories(
    store: FilesystemBlobStore, root: Path, fs_events: list[tuple[str, str]]
) -> None:
    events = fs_events
    blob_id = "1234" + "a" * 28
    writer = store.writer(blob_id)
    writer.write(b"x" * 10)
    [tmp] = temp_files(root)
    writer.commit()
    final = root / "12" / "34" / blob_id
    assert events == [
        ("fsync", str(tmp)),  # data durable before it is published
        ("link", str(final)),
        ("fsync", str(root / "12" / "34")),  # the new entry
        ("fsync", str(root / "12")),  # the new fan-out directories
        ("fsync", str(root)),
    ]

    events.clear()
    put_blob(store, "1234" + "b" * 28, b"y")  # fan-out exists: only the leaf directory
    assert [e for e in events if e[0] == "fsync"][1:] == [("fsync", str(root / "12" / "34"))]


def test_failed_publish_leaves_nothing(
    store: FilesystemBlobStore, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def link(src: str, dst: str, **kwargs: object) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(os, "link", link)
    blob_id = new_blob_id()
    writer = store.writer(blob_id)
    writer.write(b"data")
    with pytest.raises(StorageError) as info:
        writer.commit()
    assert isinstance(info.value.__cause__, OSError)
    monkeypatch.undo()
    assert not store.exists(blob_id)
    assert temp_files(root) == []


def test_write_errors_are_storage_errors(store: FilesystemBlobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    blob_id = new_blob_id()
    writer = store.writer(blob_id)

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    writer.write(b"data")
    with pytest.raises(StorageError, match="No space left"):
        writer.commit()
    monkeypatch.undo()
    assert not store.exists(blob_id)


def test_writer_fails_fast_for_a_committed_id(store: FilesystemBlobStore, root: Path) -> None:
    blob_id = new_blob_id()
    put_blob(store, blob_id, b"first")
    with pytest.raises(StorageError, match="already exists"):
        store.writer(blob_id)  # before the caller seals and streams a whole object
    assert temp_files(root) == []


def test_commit_refuses_blob_published_behind_its_back(store: FilesystemBlobStore, root: Path) -> None:
    blob_id = "abcd" + "e" * 28
    writer = store.writer(blob_id)  # the id is free now
    writer.write(b"late")
    final = root / "ab" / "cd" / blob_id
    final.parent.mkdir(parents=True)
    final.write_bytes(b"early")  # e.g. another process won the race
    with pytest.raises(StorageError, match="already exists"):
        writer.commit()
    assert final.read_bytes() == b"early"
    assert temp_files(root) == []


# --- crashes and other processes -------------------------------------------------------

CRASHING_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from strongroom.storage import FilesystemBlobStore

    store = FilesystemBlobStore(Path(sys.argv[1]), anonymous_temp=sys.argv[4] == "anonymous")
    with store.writer(sys.argv[2]) as done:
        done.write(b"committed by the child")
        done.commit()
    writer = store.writer(sys.argv[3])
    piece = b"\\xab" * (1024 * 1024)  # the service writes ~1 MiB pieces; they bypass the write buffer
    writer.write(piece)
    print("writing", flush=True)
    for _ in range(256):  # at most 256 MiB more; SIGKILL lands somewhere in here
        writer.write(piece)
    time.sleep(60)
    """
)


def read_line(proc: subprocess.Popen[bytes], timeout: float) -> bytes:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            proc.kill()
            raise AssertionError("child did not start writing in time")
    return proc.stdout.readline()


@pytest.fixture
def child_env() -> Iterator[dict[str, str]]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in [SRC_DIR, env.get("PYTHONPATH", "")] if p)
    yield env


@pytest.mark.parametrize("temp", ["named", "anonymous"])
def test_sigkill_mid_write_publishes_nothing(root: Path, child_env: dict[str, str], temp: str) -> None:
    store = FilesystemBlobStore(root, anonymous_temp=temp == "anonymous")
    before, childs, crashed = new_blob_id(), new_blob_id(), new_blob_id()
    before_data = payload(2 * 1024 * 1024 + 3, seed=9)
    put_blob(store, before, before_data)

    proc = subprocess.Popen(
        [sys.executable, "-c", CRASHING_WRITER, str(root), childs, crashed, temp],
        stdout=subprocess.PIPE,
        env=child_env,
    )
    try:
        assert read_line(proc, timeout=15) == b"writing\n"
        if temp == "anonymous":
            # the killed write must be a real one: its anonymous file holds at least the first MiB
            sizes = anonymous_file_sizes(proc.pid, root)
            assert sizes and max(sizes) >= 1024 * 1024, sizes
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()

    if temp == "named":
        [leftover] = temp_files(root)
        assert leftover.name.startswith(crashed + ".")
        assert 1024 * 1024 <= leftover.stat().st_size < 257 * 1024 * 1024  # killed mid-write
    else:
        assert temp_files(root) == []  # an anonymous file dies with its process
    assert not store.exists(crashed)
    with pytest.raises(BlobNotFound):
        store.read(crashed, 0, 1)
    assert {blob_id for blob_id, _ in store.list_blobs()} == {before, childs}
    assert {p.name for p in all_files(root)} == {before, childs} | {p.name for p in temp_files(root)}
    assert read_all(store, before) == before_data
    assert read_all(store, childs) == b"committed by the child"

    assert store.sweep_temp(3600) == 0  # could still be a live writer
    assert store.sweep_temp(0) == (1 if temp == "named" else 0)
    assert temp_files(root) == []
    put_blob(store, crashed, b"the id was never published")
    assert read_all(store, crashed) == b"the id was never published"


RACING_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from strongroom.core.errors import StorageError
    from strongroom.storage import FilesystemBlobStore

    root, blob_id, name, go = sys.argv[1:]
    store = FilesystemBlobStore(Path(root))
    writer = store.writer(blob_id)
    writer.write(name.encode() * 100_000)
    print("ready", flush=True)
    while not Path(go).exists():
        time.sleep(0.001)
    try:
        writer.commit()
    except StorageError as exc:
        print("lost", exc, flush=True)
    else:
        print("won", flush=True)
    """
)


def test_processes_racing_for_one_id_exactly_one_wins(
    store: FilesystemBlobStore, root: Path, tmp_path: Path, child_env: dict[str, str]
) -> None:
    blob_id = new_blob_id()
    go = tmp_path / "go"
    names = ["p0", "p1", "p2", "p3"]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACING_WRITER, str(root), blob_id, name, str(go)],
            stdout=subprocess.PIPE,
            env=child_env,
        )
        for name in names
    ]
    try:
        for proc in procs:
            assert read_line(proc, timeout=15) == b"ready\n"
        go.touch()
        outcomes = [proc.communicate(timeout=15)[0].decode().split()[0] for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert sorted(outcomes) == ["lost", "lost", "lost", "won"]
    winner = names[outcomes.index("won")]
    assert read_all(store, blob_id) == winner.encode() * 100_000
    assert temp_files(root) == []


# --- factory ----------------------------------------------------------------------


def test_open_blob_store_file_url(tmp_path: Path) -> None:
    root = tmp_path / "with space" / "blobs"
    store = open_blob_store(root.as_uri())
    assert isinstance(store, FilesystemBlobStore)
    assert store.describe() == root.as_uri()
    assert "%20" in store.describe()
    assert open_blob_store(store.describe()).describe() == store.describe()
    assert open_blob_store(f"file://localhost{root}").describe() == root.as_uri()
    assert (root / ".tmp").is_dir()


@pytest.mark.parametrize("url", ["s3://bucket?endpoint=https://minio:9000", "gs://bucket", "ftp://x/y"])
def test_open_blob_store_unsupported_scheme(url: str) -> None:
    with pytest.raises(StorageError, match="unsupported backend"):
        open_blob_store(url)


@pytest.mark.parametrize("url", ["", "/abs/path", "relative/path"])
def test_open_blob_store_needs_a_scheme(url: str) -> None:
    with pytest.raises(StorageError, match="unsupported backend"):
        open_blob_store(url)


@pytest.mark.parametrize(
    "url",
    ["file://otherhost/srv/blobs", "file:relative/blobs", "file:///srv/blobs?x=1", "file:///srv/blobs#frag"],
)
def test_open_blob_store_rejects_malformed_file_urls(url: str) -> None:
    with pytest.raises(StorageError, match="file:///absolute/path"):
        open_blob_store(url)


# --- blob ids -------------------------------------------------------------------


def test_new_blob_ids_share_a_fanout_directory_within_a_minute() -> None:
    from strongroom.storage import new_blob_id, validate_blob_id

    t = 1_790_000_000.0  # a minute boundary is not needed: same minute -> same 4-digit prefix
    minute_start = t - t % 60
    a, b = new_blob_id(minute_start), new_blob_id(minute_start + 59.9)
    c = new_blob_id(minute_start + 60)
    assert validate_blob_id(a) == a and len(a) == 32 and all(ch in "0123456789abcdef" for ch in a)
    assert a[:4] == b[:4] == f"{int(minute_start // 60) % 0x10000:04x}"
    assert c[:4] == f"{(int(minute_start // 60) + 1) % 0x10000:04x}" != a[:4]
    assert len({new_blob_id(minute_start)[4:] for _ in range(1000)}) == 1000  # 112 random bits each


def test_many_tiny_writes_are_coalesced_in_order(store: FilesystemBlobStore) -> None:
    blob_id = new_blob_id()
    data = payload(300_001, seed=5)
    writer = store.writer(blob_id)
    for i in range(0, len(data), 7):  # far more pieces than one writev takes
        writer.write(memoryview(data)[i : i + 7])
    writer.commit()
    assert read_all(store, blob_id) == data


def test_healthy_is_false_once_the_root_is_gone(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path / "blobs")
    assert store.healthy() is True
    (tmp_path / "blobs").rename(tmp_path / "moved")
    assert store.healthy() is False
