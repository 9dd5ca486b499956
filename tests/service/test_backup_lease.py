"""service/objects.collect_garbage honours backup leases (metadata.BackupLease), on a real SQLite database and a
real filesystem store: garbage queued since an unexpired lease began stays, older garbage goes, and all of it goes
once the lease is released or has expired."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

from strongroom.metadata.models import BlobGarbage
from strongroom.metadata.repository import Repository
from strongroom.service.objects import collect_garbage
from strongroom.storage import FilesystemBlobStore
from strongroom.storage.conformance import new_blob_id, put_blob


def setup(tmp_path: Path) -> tuple[SimpleNamespace, FilesystemBlobStore, Repository]:
    repo = Repository.open(f"sqlite:///{tmp_path / 'db.sqlite3'}", run_migrations=True)
    store = FilesystemBlobStore(tmp_path / "blobs")
    rt = SimpleNamespace(repo=repo, store=lambda region: store)
    return rt, store, repo


def queue(repo: Repository, store: FilesystemBlobStore, at: dt.datetime) -> str:
    blob_id = new_blob_id()
    put_blob(store, blob_id, b"sealed bytes")
    with repo.session() as s:
        s.add(BlobGarbage(blob_id=blob_id, region="local", enqueued_at=at))
    return blob_id


def test_a_lease_keeps_what_was_queued_since_it_began(tmp_path: Path) -> None:
    rt, store, repo = setup(tmp_path)
    now = dt.datetime.now(dt.UTC)
    old = queue(repo, store, now - dt.timedelta(hours=1))
    recent = queue(repo, store, now - dt.timedelta(seconds=30))
    repo.hold_backup("b1", now - dt.timedelta(minutes=5), now + dt.timedelta(minutes=15))
    assert repo.garbage_held_since(now) == now - dt.timedelta(minutes=5)
    assert collect_garbage(rt, 0.0) == 1  # type: ignore[arg-type]
    assert not store.exists(old)
    assert store.exists(recent)
    assert repo.count_garbage() == 1
    repo.release_backup("b1")
    assert repo.garbage_held_since(now) is None
    assert collect_garbage(rt, 0.0) == 1  # type: ignore[arg-type]
    assert not store.exists(recent)
    assert repo.count_garbage() == 0


def test_an_expired_lease_holds_nothing(tmp_path: Path) -> None:
    rt, store, repo = setup(tmp_path)
    now = dt.datetime.now(dt.UTC)
    recent = queue(repo, store, now - dt.timedelta(seconds=30))
    repo.hold_backup("dead", now - dt.timedelta(hours=2), now - dt.timedelta(seconds=1))  # its backup died
    assert repo.garbage_held_since(now) is None
    assert collect_garbage(rt, 0.0) == 1  # type: ignore[arg-type]
    assert not store.exists(recent)


def test_extending_a_lease_keeps_when_it_began(tmp_path: Path) -> None:
    _rt, _store, repo = setup(tmp_path)
    now = dt.datetime.now(dt.UTC)
    began = now - dt.timedelta(minutes=5)
    repo.hold_backup("b2", began, now + dt.timedelta(minutes=1))
    repo.hold_backup("b2", now, now + dt.timedelta(minutes=30))
    assert repo.garbage_held_since(now + dt.timedelta(minutes=10)) == began


def test_the_grace_period_and_a_lease_combine(tmp_path: Path) -> None:
    rt, store, repo = setup(tmp_path)
    now = dt.datetime.now(dt.UTC)
    before_lease = queue(repo, store, now - dt.timedelta(minutes=20))
    within_grace = queue(repo, store, now - dt.timedelta(seconds=10))
    repo.hold_backup("b3", now - dt.timedelta(minutes=15), now + dt.timedelta(minutes=15))
    assert collect_garbage(rt, 120.0) == 1  # type: ignore[arg-type]
    assert not store.exists(before_lease) and store.exists(within_grace)
