"""Consistent online copies of the metadata database, for backups (service/backup.py).

The database holds everything but the blobs and the two root files: buckets, objects and the sealed parts' headers
and wrapped keys, the audit chains, and the vault's storage (every value sealed by its barrier). A copy is taken while
gateways keep writing:

- SQLite: the online backup API (``sqlite3.Connection.backup``) in one step, which copies a single consistent state
  (in WAL mode writers go on meanwhile);
- PostgreSQL: ``pg_dump --format=custom --snapshot`` of a snapshot exported by a REPEATABLE READ transaction, which
  also lists the blobs that snapshot references, so the dump and the blob list are one state.

Restores go into a database that holds no table yet.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import cast

from sqlalchemy import Connection, Table, create_engine, inspect, select, text, union
from sqlalchemy.engine import make_url

from strongroom.core import errors
from strongroom.metadata.models import Bucket, MultipartUpload, ObjectPart, ObjectRecord, UploadPart

SQLITE_FILE = "metadata.sqlite3"
POSTGRES_FILE = "metadata.pgdump"


def kind(url: str) -> str:
    backend = make_url(url).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise errors.InvalidArgument(f"backups support SQLite and PostgreSQL, not {backend}")
    return backend


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise errors.InvalidArgument("the SQLite database must be a file")
    return Path(database)


def _referenced(c: Connection) -> list[tuple[str, str]]:
    """(region, blob id) of every blob a committed object part or an uploaded part references."""
    buckets, objects = cast(Table, Bucket.__table__), cast(Table, ObjectRecord.__table__)
    parts, uploads, uparts = (
        cast(Table, ObjectPart.__table__),
        cast(Table, MultipartUpload.__table__),
        cast(Table, UploadPart.__table__),
    )
    q = union(
        select(buckets.c.region, parts.c.blob_id)
        .select_from(parts.join(objects, parts.c.object_id == objects.c.id))
        .join(buckets, objects.c.bucket_id == buckets.c.id),
        select(buckets.c.region, uparts.c.blob_id)
        .select_from(uparts.join(uploads, uparts.c.upload_id == uploads.c.upload_id))
        .join(buckets, uploads.c.bucket_id == buckets.c.id),
    )
    return sorted((str(r), str(b)) for r, b in c.execute(q))


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URL for pg_dump/pg_restore (the password goes in PGPASSWORD, never on a command line)."""
    u = make_url(url)
    env = dict(os.environ)
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    plain = u.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise errors.InvalidArgument(f"{name} is needed for PostgreSQL backups (Debian: postgresql-client)")
    return found


@contextmanager
def snapshot(url: str, dest: Path) -> Iterator[list[tuple[str, str]]]:
    """Write a consistent copy of the database at ``url`` into directory ``dest`` (SQLITE_FILE or POSTGRES_FILE);
    yields the (region, blob id) pairs that copy references. Blocking."""
    if kind(url) == "sqlite":
        target = dest / SQLITE_FILE
        src = sqlite3.connect(str(sqlite_path(url)), timeout=60)
        try:
            dst = sqlite3.connect(str(target))
            try:
                src.backup(dst)  # one step: a single consistent state
            finally:
                dst.close()
        finally:
            src.close()
        copy = create_engine(f"sqlite:///{target}")
        try:
            with copy.connect() as c:
                blobs = _referenced(c)
        finally:
            copy.dispose()
        yield blobs
        return
    engine = create_engine(url, isolation_level="REPEATABLE READ")
    try:
        with engine.connect() as c, c.begin():
            snap = str(c.execute(text("SELECT pg_export_snapshot()")).scalar_one())
            blobs = _referenced(c)
            libpq, env = _libpq(url)
            cmd = [_tool("pg_dump"), "--format=custom", f"--snapshot={snap}", f"--file={dest / POSTGRES_FILE}", libpq]
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise errors.Unavailable(f"pg_dump failed: {done.stderr.strip()[:500]}")
            yield blobs
    finally:
        engine.dispose()


def restore(backup_dir: Path, db_kind: str, url: str) -> None:
    """Load a backup's database copy into the (empty) database at ``url``. Blocking."""
    if kind(url) != db_kind:
        raise errors.InvalidArgument(f"the backup holds a {db_kind} database; the target is {kind(url)}")
    if db_kind == "sqlite":
        target = sqlite_path(url)
        if target.exists():
            raise errors.InvalidArgument(f"{target} already exists: restore into an empty data directory")
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        src = sqlite3.connect(str(backup_dir / SQLITE_FILE))
        try:
            dst = sqlite3.connect(str(target))
            try:
                src.backup(dst)
                dst.execute("PRAGMA journal_mode=WAL")
            finally:
                dst.close()
        finally:
            src.close()
        os.chmod(target, 0o600)
        return
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            tables = inspect(c).get_table_names()
    finally:
        engine.dispose()
    if tables:
        raise errors.InvalidArgument(f"the target database already has tables ({', '.join(sorted(tables)[:3])}...)")
    libpq, env = _libpq(url)
    cmd = [_tool("pg_restore"), "--no-owner", "--exit-on-error", f"--dbname={libpq}", str(backup_dir / POSTGRES_FILE)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise errors.Unavailable(f"pg_restore failed: {done.stderr.strip()[:500]}")
