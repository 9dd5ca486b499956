"""Blob storage: untrusted backends that hold only sealed, opaque bytes."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from strongroom.core.errors import StorageError
from strongroom.storage.base import BlobStore, BlobWriter, new_blob_id, sweep_orphans, validate_blob_id
from strongroom.storage.filesystem import FilesystemBlobStore

__all__ = [
    "BlobStore",
    "BlobWriter",
    "FilesystemBlobStore",
    "new_blob_id",
    "open_blob_store",
    "sweep_orphans",
    "validate_blob_id",
]


def open_blob_store(url: str) -> BlobStore:
    """Open the blob store a backend URL names.

    ``file:///abs/path`` (percent-encoded, as :meth:`BlobStore.describe` writes
    it) opens a :class:`FilesystemBlobStore`. Other schemes are not supported yet.
    """
    parts = urlsplit(url)
    if parts.scheme != "file":
        raise StorageError(f"unsupported backend {parts.scheme or url!r}")
    if parts.netloc not in ("", "localhost") or parts.query or parts.fragment:
        raise StorageError("a file backend URL must look like file:///absolute/path")
    path = unquote(parts.path)
    if not path.startswith("/") or "\x00" in path:
        raise StorageError("a file backend URL must look like file:///absolute/path")
    return FilesystemBlobStore(Path(path))
