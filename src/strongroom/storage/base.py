"""The blob store contract: opaque ciphertext in, opaque ciphertext out.

A blob store is the untrusted bottom of strongroom. It only ever holds bytes
that both sealing layers have already encrypted and authenticated, so nothing
it returns is trusted: integrity is checked above it, by the crypto layer.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Protocol, runtime_checkable

from strongroom.core.errors import StorageError

__all__ = ["BlobStore", "BlobWriter", "new_blob_id", "sweep_orphans", "validate_blob_id"]

_BLOB_ID = re.compile(r"[0-9a-f-]{8,64}")


def new_blob_id(now: float | None = None) -> str:
    """A fresh blob id: 4 hex digits that change once a minute, then 112 random bits (28 hex digits).

    The leading digits choose the filesystem store's fan-out directory (``<id[0:2]>/<id[2:4]>``): blobs written
    in the same minute share one, so a write creates (and fsyncs) new directories about once a minute, not on
    nearly every write until all 65,536 exist; the minutes walk through every directory in 45 days.
    """
    minute = int((time.time() if now is None else now) // 60)
    return f"{minute % 0x10000:04x}{secrets.token_hex(14)}"


def validate_blob_id(blob_id: str) -> str:
    """Return ``blob_id`` if it is 8..64 characters of ``[0-9a-f-]``; raise :class:`StorageError` otherwise.

    The alphabet has no ``/``, ``.`` or NUL, so an id can never name anything
    outside its backend's namespace.
    """
    if not isinstance(blob_id, str) or _BLOB_ID.fullmatch(blob_id) is None:
        raise StorageError("invalid blob id")
    return blob_id


@runtime_checkable
class BlobWriter(Protocol):
    """A single-use stream that publishes one blob atomically.

    Nothing written is visible until :meth:`commit` returns. Leaving the
    ``with`` block without committing (normally or by an exception) aborts.
    A writer is used by one thread at a time.
    """

    def write(self, data: bytes | memoryview) -> None:
        """Append ``data`` to the blob being written."""
        ...

    def commit(self) -> None:
        """Durably and atomically publish the blob; afterwards it is visible in full.

        Raises :class:`StorageError` if a blob with this id was already
        committed (the existing blob is left untouched) or if the writer was
        already committed or aborted.
        """
        ...

    def abort(self) -> None:
        """Discard everything written. Idempotent; a no-op after :meth:`commit`."""
        ...

    def __enter__(self) -> BlobWriter: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


@runtime_checkable
class BlobStore(Protocol):
    """Untrusted: sees only ciphertext, never keys.

    Safe for concurrent use from many threads and processes. A blob is
    immutable once committed; a blob id is written at most once. Blob ids are
    chosen by the caller (see :func:`validate_blob_id`); every method raises
    :class:`StorageError` for an invalid id and translates backend failures to
    :class:`StorageError`.
    """

    def writer(self, blob_id: str) -> BlobWriter:
        """Start writing a new blob. May fail early if ``blob_id`` is already committed."""
        ...

    def read(self, blob_id: str, offset: int, length: int) -> bytes:
        """Return up to ``length`` bytes from ``offset`` (fewer only at the end of the blob).

        Raises :class:`~strongroom.core.errors.BlobNotFound` if the blob is absent.
        """
        ...

    def size(self, blob_id: str) -> int:
        """Return the size of a committed blob; :class:`~strongroom.core.errors.BlobNotFound` if absent."""
        ...

    def exists(self, blob_id: str) -> bool:
        """Whether a committed blob with this id exists."""
        ...

    def delete(self, blob_id: str) -> None:
        """Delete a committed blob. Idempotent."""
        ...

    def list_blobs(self) -> Iterator[tuple[str, float]]:
        """Yield ``(blob_id, mtime)`` of committed blobs, mtime in unix seconds, in no particular order."""
        ...

    def sweep_temp(self, older_than_seconds: float) -> int:
        """Remove leftovers of crashed writers at least this old; return how many were removed."""
        ...

    def describe(self) -> str:
        """A URL naming this store for reports, e.g. ``file:///abs/path``. Never contains secrets."""
        ...

    def healthy(self) -> bool:
        """Whether the backend answers and can take writes now (a cheap probe; never raises)."""
        ...


def sweep_orphans(
    store: BlobStore,
    referenced: Callable[[str], bool],
    older_than_seconds: float,
    now: float,
) -> int:
    """Delete committed blobs at least ``older_than_seconds`` old (at ``now``) that nothing references.

    ``referenced`` is asked about each old blob (the service passes a metadata
    lookup). The age threshold covers the window between a blob's commit and
    the metadata transaction that references it, so it must exceed the longest
    such window. Returns the number of blobs deleted.
    """
    deleted = 0
    for blob_id, mtime in store.list_blobs():
        if now - mtime >= older_than_seconds and not referenced(blob_id):
            store.delete(blob_id)
            deleted += 1
    return deleted
