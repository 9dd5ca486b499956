"""metadata/snapshot.py on SQLite and on PostgreSQL (each test gets its own fresh databases): the copy lists exactly
the blobs its state references (object parts and uploaded parts, with their bucket's region, not garbage), and a
restore into an empty database gives back the same rows; a target that has tables is refused."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from tests.metadata.conftest import PG_URL, _driver_url
from tests.metadata.test_metadata_repository import (
    garbage,
    make_bucket,
    make_tenant,
    new_upload,
    put,
    upload_part,
)

from strongroom.core import errors
from strongroom.metadata import snapshot
from strongroom.metadata.repository import Repository


class Databases:
    """Fresh databases of one kind: SQLite files, or PostgreSQL databases (CREATE DATABASE; dropped at the end)."""

    def __init__(self, kind: str, directory: Path) -> None:
        self.kind, self.directory, self.made = kind, directory, []
        self.admin = create_engine(_driver_url(PG_URL), isolation_level="AUTOCOMMIT") if kind == "postgresql" else None

    def new(self) -> str:
        name = f"sr_snap_{uuid.uuid4().hex[:12]}"
        if self.admin is None:
            return f"sqlite:///{self.directory / (name + '.db')}"
        with self.admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        self.made.append(name)
        return _driver_url(PG_URL.rsplit("/", 1)[0] + "/" + name)

    def close(self) -> None:
        if self.admin is None:
            return
        with self.admin.connect() as c:
            for name in self.made:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def dbs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Databases]:
    d = Databases(request.param, tmp_path)
    try:
        yield d
    finally:
        d.close()


def test_the_copy_lists_what_it_references_and_restores_whole(dbs: Databases, tmp_path: Path) -> None:
    source = Repository.open(dbs.new())
    try:
        tenant = make_tenant(source)
        eu = make_bucket(source, tenant, "eu-bucket", region="eu")
        us = make_bucket(source, tenant, "us-bucket", region="us")
        kept = put(source, eu, "a", n_parts=2) + put(source, us, "b")
        replaced = put(source, eu, "c")
        kept += put(source, eu, "c")  # the first version's blob is garbage now
        up = new_upload(source, us, "big")
        part = upload_part(up.upload_id, 1)
        source.put_upload_part(part, us.region)
        assert set(garbage(source)) == set(replaced)
        dest = tmp_path / "backup"
        dest.mkdir()
        with snapshot.snapshot(source.engine.url.render_as_string(hide_password=False), dest) as refs:
            pass
        expected = sorted([("eu", b) for b in kept[:2]] + [("us", kept[2]), ("eu", kept[3]), ("us", part.blob_id)])
        assert refs == expected
        file = dest / (snapshot.SQLITE_FILE if dbs.kind == "sqlite" else snapshot.POSTGRES_FILE)
        assert file.is_file() and file.stat().st_size > 0

        target_url = dbs.new()
        if dbs.kind == "postgresql":
            snapshot.restore(dest, "postgresql", target_url)
        else:
            Path(target_url.removeprefix("sqlite:///")).unlink(missing_ok=True)
            snapshot.restore(dest, "sqlite", target_url)
        target = Repository.open(target_url, run_migrations=False)
        try:
            assert [b.name for b in target.list_buckets(tenant)] == ["eu-bucket", "us-bucket"]
            assert set(garbage(target)) == set(replaced)
            assert target.get_object(eu.id, "c") is not None
        finally:
            target.close()

        occupied = dbs.new()
        Repository.open(occupied).close()  # migrated: it has tables
        if dbs.kind == "postgresql":
            with pytest.raises(errors.InvalidArgument, match="already has tables"):
                snapshot.restore(dest, "postgresql", occupied)
        else:
            with pytest.raises(errors.InvalidArgument, match="already exists"):
                snapshot.restore(dest, "sqlite", occupied)
        other = "sqlite" if dbs.kind == "postgresql" else "postgresql"
        with pytest.raises(errors.InvalidArgument, match=f"holds a {other} database; the target is {dbs.kind}"):
            snapshot.restore(dest, other, occupied)
    finally:
        source.close()
