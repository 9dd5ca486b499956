"""A blob store on a local (POSIX) filesystem.

Layout under ``root`` (0700)::

    root/<id[0:2]>/<id[2:4]>/<id>   committed blobs (0600) in 0700 fan-out directories
    root/.tmp/<id>.<random>.tmp     writers in progress (0600, O_EXCL), only where O_TMPFILE is missing

A writer fills an anonymous file (O_TMPFILE) in the blob's fan-out directory, or
a named temp file under ``.tmp`` where the filesystem has no O_TMPFILE. A commit
fsyncs it, links it to its final name (``link`` fails if the name exists, so a
committed blob is never overwritten, even by a racing writer in another
process), removes the temp name if there is one and fsyncs every directory
whose entries changed. A crash at any point leaves either no blob or the whole
blob (plus, without O_TMPFILE, a temp file for
:meth:`FilesystemBlobStore.sweep_temp`). Fan-out directories are never removed,
so a commit never races a cleanup.
"""

from __future__ import annotations

import os
import secrets
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import NoReturn

from strongroom.core.errors import BlobNotFound, StorageError
from strongroom.storage.base import validate_blob_id

__all__ = ["FilesystemBlobStore"]

_TMP_DIR = ".tmp"
_TMP_SUFFIX = ".tmp"
# Small writes are coalesced up to this size; writes at least this big go straight to the kernel.
_WRITE_BUFFER = 256 * 1024
_MAX_PIECES = 256  # well under IOV_MAX (1024 on Linux) per writev
_FANOUT_CHARS = frozenset("0123456789abcdef-")


def _fail(exc: OSError) -> NoReturn:
    raise StorageError(f"filesystem blob store: {exc.strerror or type(exc).__name__}") from exc


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, pieces: list[bytes]) -> None:
    """Write every piece, in order (writev may write less than asked)."""
    while pieces:
        done = os.writev(fd, pieces)
        while pieces and done >= len(pieces[0]):
            done -= len(pieces[0])
            pieces = pieces[1:]
        if pieces and done:
            pieces = [pieces[0][done:], *pieces[1:]]


def _supports_anonymous_temp(directory: Path) -> bool:
    """Whether ``directory`` takes O_TMPFILE files that can be linked in through /proc/self/fd."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None or not os.path.isdir("/proc/self/fd"):
        return False
    try:
        fd = os.open(directory, flag | os.O_WRONLY | os.O_CLOEXEC, 0o600)
    except OSError:
        return False
    os.close(fd)
    return True


def _is_fanout_name(name: str) -> bool:
    return len(name) == 2 and all(c in _FANOUT_CHARS for c in name)


class _FilesystemBlobWriter:
    """Writes one blob to a private temp file and publishes it on :meth:`commit`.

    Where the filesystem supports ``O_TMPFILE`` (Linux: ext4, xfs, btrfs, tmpfs) the temp file is anonymous, in
    the blob's own fan-out directory: nothing is visible until the commit links it in, and a crash leaves nothing
    behind. Elsewhere it is a named file under ``.tmp`` (swept by :meth:`FilesystemBlobStore.sweep_temp`).
    """

    def __init__(self, store: FilesystemBlobStore, blob_id: str) -> None:
        self._store = store
        self._final = store._path(blob_id)
        self._state = "open"
        self._fd = -1
        self._created: list[Path] = []
        self._tmp: Path | None = None
        try:
            if store.anonymous_temp:
                self._created = store._make_fanout(self._final.parent)
                self._fd = os.open(self._final.parent, os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, 0o600)
            else:
                self._tmp = store._tmp_dir / f"{blob_id}.{secrets.token_hex(8)}{_TMP_SUFFIX}"
                self._fd = os.open(
                    self._tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600
                )
        except OSError as exc:
            _fail(exc)
        self._pending: list[bytes] = []  # small writes, coalesced into one writev
        self._pending_len = 0

    def __repr__(self) -> str:
        return f"<FilesystemBlobWriter {self._final.name} {self._state}>"

    def _require_open(self) -> None:
        if self._state != "open":
            raise StorageError(f"blob writer is already {self._state}")

    def write(self, data: bytes | memoryview) -> None:
        self._require_open()
        self._pending.append(bytes(data))  # a copy: the caller may reuse its buffer
        self._pending_len += len(data)
        if self._pending_len >= _WRITE_BUFFER or len(self._pending) >= _MAX_PIECES:
            self._flush()

    def _flush(self) -> None:
        pieces, self._pending, self._pending_len = self._pending, [], 0
        try:
            _write_all(self._fd, pieces)
        except OSError as exc:
            _fail(exc)

    def _close_fd(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    def commit(self) -> None:
        self._require_open()
        directory = self._final.parent
        try:
            self._flush()
            os.fsync(self._fd)
            if self._tmp is None:
                # name the anonymous file (linkat through /proc: fails if the name exists)
                dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                try:
                    os.link(f"/proc/self/fd/{self._fd}", self._final.name, dst_dir_fd=dfd)
                except FileExistsError:
                    raise StorageError("blob already exists") from None
                finally:
                    os.close(dfd)
                self._close_fd()
            else:
                self._close_fd()
                self._created = self._store._make_fanout(directory)
                try:
                    os.link(self._tmp, self._final, follow_symlinks=False)
                except FileExistsError:
                    raise StorageError("blob already exists") from None
        except BaseException as exc:
            try:
                self.abort()
            except StorageError:
                pass  # report the original failure, not the cleanup's
            if isinstance(exc, OSError):
                _fail(exc)
            raise
        # Published: from here on the blob is visible and must never be removed by abort().
        self._state = "committed"
        try:
            if self._tmp is not None:
                os.unlink(self._tmp)
            _fsync_dir(directory)
            for created in reversed(self._created):
                _fsync_dir(created.parent)
        except OSError as exc:
            _fail(exc)

    def abort(self) -> None:
        if self._state != "open":
            return
        self._state = "aborted"
        self._pending = []
        try:
            self._close_fd()  # an anonymous temp file is gone with its descriptor
        except OSError:
            pass  # the data is being discarded anyway
        if self._tmp is None:
            return
        try:
            os.unlink(self._tmp)
        except FileNotFoundError:
            pass
        except OSError as exc:
            _fail(exc)

    def __enter__(self) -> _FilesystemBlobWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.abort()


class FilesystemBlobStore:
    """A :class:`~strongroom.storage.base.BlobStore` in a local directory.

    Holds no mutable state beyond the directory itself, so any number of
    threads and processes may share one root.
    """

    def __init__(self, root: Path, anonymous_temp: bool | None = None) -> None:
        """``anonymous_temp``: write through O_TMPFILE (None: wherever the filesystem supports it)."""
        self._root = Path(os.path.abspath(root))
        self._root_str = str(self._root)
        self._tmp_dir = self._root / _TMP_DIR
        try:
            # umask can only narrow these modes, never widen them.
            self._root.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._tmp_dir.mkdir(mode=0o700, exist_ok=True)
        except OSError as exc:
            _fail(exc)
        self.anonymous_temp = _supports_anonymous_temp(self._root) if anonymous_temp is None else anonymous_temp
        self._fanout_seen: set[Path] = set()  # leaf directories known to exist (at most 65,536)

    def __repr__(self) -> str:
        return f"FilesystemBlobStore({str(self._root)!r})"

    @property
    def root(self) -> Path:
        return self._root

    def _path(self, blob_id: str) -> Path:
        return Path(self._file(blob_id))

    def _file(self, blob_id: str) -> str:
        """The blob's path as a string (the per-request paths skip pathlib's parsing)."""
        validate_blob_id(blob_id)
        return os.path.join(self._root_str, blob_id[0:2], blob_id[2:4], blob_id)

    def _make_fanout(self, directory: Path) -> list[Path]:
        """Create the fan-out directories down to ``directory``; return those this call created.

        Fan-out directories are never removed, so one seen to exist is remembered (no mkdir per write)."""
        if directory in self._fanout_seen:
            return []
        created = []
        for path in (directory.parent, directory):
            try:
                path.mkdir(mode=0o700)
            except FileExistsError:
                continue
            created.append(path)
        self._fanout_seen.add(directory)
        return created

    def writer(self, blob_id: str) -> _FilesystemBlobWriter:
        if os.path.lexists(self._path(blob_id)):
            raise StorageError("blob already exists")
        return _FilesystemBlobWriter(self, blob_id)

    def read(self, blob_id: str, offset: int, length: int) -> bytes:
        path = self._file(blob_id)
        if offset < 0 or length < 0:
            raise StorageError("offset and length must not be negative")
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except FileNotFoundError:
            raise BlobNotFound() from None
        except OSError as exc:
            _fail(exc)
        try:
            remaining = max(0, min(length, os.fstat(fd).st_size - offset))
            pieces = []
            while remaining:
                piece = os.pread(fd, remaining, offset)
                if not piece:
                    break
                pieces.append(piece)
                offset += len(piece)
                remaining -= len(piece)
            return pieces[0] if len(pieces) == 1 else b"".join(pieces)
        except OSError as exc:
            _fail(exc)
        finally:
            os.close(fd)

    def _stat(self, blob_id: str) -> os.stat_result | None:
        try:
            st = os.stat(self._path(blob_id), follow_symlinks=False)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            _fail(exc)
        return st if stat.S_ISREG(st.st_mode) else None

    def size(self, blob_id: str) -> int:
        st = self._stat(blob_id)
        if st is None:
            raise BlobNotFound()
        return st.st_size

    def exists(self, blob_id: str) -> bool:
        return self._stat(blob_id) is not None

    def delete(self, blob_id: str) -> None:
        path = self._path(blob_id)
        try:
            os.unlink(path)
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as exc:
            _fail(exc)
        try:
            _fsync_dir(path.parent)
        except OSError as exc:
            _fail(exc)

    def list_blobs(self) -> Iterator[tuple[str, float]]:
        try:
            yield from self._walk()
        except OSError as exc:
            _fail(exc)

    def _walk(self) -> Iterator[tuple[str, float]]:
        with os.scandir(self._root) as level1:
            for d1 in level1:
                if not (_is_fanout_name(d1.name) and d1.is_dir(follow_symlinks=False)):
                    continue
                with os.scandir(d1.path) as level2:
                    for d2 in level2:
                        if not (_is_fanout_name(d2.name) and d2.is_dir(follow_symlinks=False)):
                            continue
                        yield from self._walk_leaf(d1.name + d2.name, d2.path)

    @staticmethod
    def _walk_leaf(prefix: str, directory: str) -> Iterator[tuple[str, float]]:
        with os.scandir(directory) as entries:
            for entry in entries:
                name = entry.name
                if not name.startswith(prefix):
                    continue
                try:
                    validate_blob_id(name)
                    st = entry.stat(follow_symlinks=False)
                except StorageError:
                    continue
                except FileNotFoundError:
                    continue  # deleted while listing
                if stat.S_ISREG(st.st_mode):
                    yield name, st.st_mtime

    def sweep_temp(self, older_than_seconds: float) -> int:
        removed = 0
        now = time.time()
        try:
            with os.scandir(self._tmp_dir) as entries:
                for entry in entries:
                    if not entry.name.endswith(_TMP_SUFFIX):
                        continue
                    try:
                        st = entry.stat(follow_symlinks=False)
                        if now - st.st_mtime < older_than_seconds:
                            continue
                        os.unlink(entry.path)
                    except FileNotFoundError:
                        continue  # committed, aborted or swept concurrently
                    removed += 1
        except OSError as exc:
            _fail(exc)
        return removed

    def describe(self) -> str:
        return self._root.as_uri()

    def healthy(self) -> bool:
        return os.path.isdir(self._root) and os.access(self._root, os.W_OK | os.X_OK)
