"""Conformance suite for the metadata repository: every test runs on every backend (see conftest)."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, func, inspect, select, text
from sqlalchemy.exc import StatementError

from strongroom.core import errors
from strongroom.metadata.models import (
    Base,
    BlobGarbage,
    Bucket,
    MultipartUpload,
    ObjectPart,
    ObjectRecord,
    UploadPart,
)
from strongroom.metadata.repository import MIGRATIONS, Repository, migrate

REGION = "local"
IST = dt.timezone(dt.timedelta(hours=5, minutes=30))
_blob_counter = itertools.count()


# --- builders -------------------------------------------------------------------


def new_blob() -> str:
    return f"blob-{next(_blob_counter):06d}-{uuid.uuid4().hex[:12]}"


def at(minute: int, tz: dt.tzinfo = dt.UTC) -> dt.datetime:
    return dt.datetime(2026, 3, 1, 12, minute, 7, 123456, tzinfo=dt.UTC).astimezone(tz)


def sealed(part_number: int, blob_id: str | None = None, size: int = 10) -> dict[str, object]:
    return dict(
        part_number=part_number,
        size=size,
        etag=f"{part_number:032x}",
        blob_id=blob_id or new_blob(),
        inner_header=b"inner" + bytes([part_number]),
        outer_header=b"outer",
        wrapped_dek1=b"dek1",
        kek_id="bk-1",
        kek_version=1,
        wrapped_dek2=b"dek2",
        infra_version=1,
        checksum_value=None,
        last_modified=at(1),
    )


def object_part(part_number: int, offset: int = 0, blob_id: str | None = None) -> ObjectPart:
    return ObjectPart(offset=offset, **sealed(part_number, blob_id))


def upload_part(upload_id: str, part_number: int, blob_id: str | None = None) -> UploadPart:
    return UploadPart(upload_id=upload_id, **sealed(part_number, blob_id))


def record(
    bucket: Bucket, key: str, etag: str = "e" * 32, last_modified: dt.datetime | None = None
) -> ObjectRecord:
    return ObjectRecord(
        bucket_id=bucket.id,
        key=key,
        version_id=uuid.uuid4().hex,
        size=10,
        etag=etag,
        last_modified=last_modified or at(2),
        parts_count=None,
        sse_mode="SSE-S3",
        user_metadata="{}",
        storage_class="STANDARD",
        bucket_key_enabled=False,
    )


def put(repo: Repository, bucket: Bucket, key: str, n_parts: int = 1) -> list[str]:
    """Publish an object with n parts; returns its blob ids."""
    parts = [object_part(i + 1, offset=10 * i) for i in range(n_parts)]
    repo.put_object(record(bucket, key), parts, bucket.region)
    return [p.blob_id for p in parts]


def new_upload(repo: Repository, bucket: Bucket, key: str, upload_id: str | None = None,
               initiated: dt.datetime | None = None) -> MultipartUpload:
    up = MultipartUpload(
        upload_id=upload_id or uuid.uuid4().hex,
        bucket_id=bucket.id,
        key=key,
        version_id=uuid.uuid4().hex,
        initiated=initiated or at(3),
        sse_mode="SSE-S3",
        user_metadata="{}",
        storage_class="STANDARD",
        bucket_key_enabled=False,
    )
    repo.create_upload(up)
    return up


def garbage(repo: Repository) -> dict[str, str]:
    """Every queued garbage blob id with its region."""
    return {g.blob_id: g.region for g in repo.take_garbage(100_000)}


def all_part_blobs(repo: Repository) -> list[str]:
    """The blob ids of every object part row, whatever object it belongs to."""
    with repo.session() as s:
        return sorted(s.scalars(select(ObjectPart.blob_id)))


def assert_utc(value: dt.datetime | None) -> None:
    assert value is not None
    assert value.tzinfo is not None and value.utcoffset() == dt.timedelta(0), value


def make_tenant(repo: Repository, name: str = "acme") -> str:
    tenant_id = name
    repo.ensure_tenant(tenant_id, "ab" * 32, None)
    return tenant_id


def make_bucket(repo: Repository, tenant_id: str, name: str, region: str = REGION) -> Bucket:
    key_id = f"bk-{uuid.uuid4().hex}"
    return repo.create_bucket(
        Bucket(
            id=str(uuid.uuid4()),
            name=name,
            tenant_id=tenant_id,
            region=region,
            created_at=at(0),
            bucket_key_id=key_id,
            sse_algorithm="AES256",
            kms_key_id=None,
            bucket_key_enabled=False,
            encryption_configured=False,
        )
    )


@pytest.fixture()
def tenant(repo: Repository) -> str:
    return make_tenant(repo)


@pytest.fixture()
def bucket(repo: Repository, tenant: str) -> Bucket:
    return make_bucket(repo, tenant, "photos")


# --- schema and migrations --------------------------------------------------------


def alembic_head() -> str:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


def test_open_migrates_fresh_database_and_migrate_is_idempotent(backend: Any) -> None:  # conftest.Backend
    url = backend.new_url()
    repo = Repository.open(url)
    try:
        repo.ensure_tenant("t-1", "cd" * 32, '{"block_public_acls": true}')
        migrate(repo.engine)
        migrate(repo.engine)
        again = Repository.open(url)  # a second process starting on a migrated database
        again.close()
        with repo.engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
            tables = set(inspect(conn).get_table_names())
        assert versions == [alembic_head()]
        assert tables == set(Base.metadata.tables) | {"alembic_version"}
        again_t = repo.ensure_tenant("t-1", "ef" * 32, None)  # exists: nothing changes
        assert (again_t.canonical_id, again_t.public_access_block) == ("cd" * 32, '{"block_public_acls": true}')
        catalog = backend.catalog(url)
        if catalog is not None:
            in_schema, collations = catalog
            assert in_schema == tables
            # Byte-order listing must not depend on the database's default collation.
            assert collations == {"objects": "C", "multipart_uploads": "C"}
    finally:
        repo.close()


def test_alembic_head_matches_models(repo: Repository) -> None:
    with repo.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        diff = compare_metadata(ctx, Base.metadata)
        assert compare_metadata(ctx, MetaData()) != []  # the comparison does see the migrated tables
    assert diff == []


# --- tenants and access keys ----------------------------------------------------------






# --- service keys ---------------------------------------------------------------------










# --- infrastructure keys ---------------------------------------------------------------


def test_infra_key_versions(repo: Repository) -> None:
    assert repo.latest_infra_version(REGION) is None
    repo.add_infra_version(REGION, 1, b"infra-1")
    repo.add_infra_version(REGION, 2, b"infra-2")
    repo.add_infra_version("eu-west", 7, b"eu-7")
    latest = repo.latest_infra_version(REGION)
    assert latest is not None and (latest.version, latest.material_sealed) == (2, b"infra-2")
    assert_utc(latest.created_at)
    assert repo.get_infra_version(REGION, 1).material_sealed == b"infra-1"  # type: ignore[union-attr]
    assert repo.get_infra_version(REGION, 7) is None
    assert repo.latest_infra_version("eu-west").version == 7  # type: ignore[union-attr]
    with pytest.raises(errors.Conflict):
        repo.add_infra_version(REGION, 2, b"replacement")
    assert repo.get_infra_version(REGION, 2).material_sealed == b"infra-2"  # type: ignore[union-attr]


# --- buckets ----------------------------------------------------------------------------


def test_buckets_create_get_list(repo: Repository) -> None:
    t1, t2 = make_tenant(repo, "one"), make_tenant(repo, "two")
    b = make_bucket(repo, t1, "zeta")
    make_bucket(repo, t1, "alpha")
    make_bucket(repo, t2, "middle")
    got = repo.get_bucket("zeta")
    assert got is not None
    assert (got.id, got.tenant_id, got.region, got.bucket_key_id) == (b.id, t1, REGION, b.bucket_key_id)
    assert (got.sse_algorithm, got.kms_key_id, got.bucket_key_enabled, got.encryption_configured) == (
        "AES256", None, False, False)
    assert got.created_at == at(0)
    assert_utc(got.created_at)
    assert repo.get_bucket("missing") is None
    assert [x.name for x in repo.list_buckets(t1)] == ["alpha", "zeta"]
    assert [x.name for x in repo.list_buckets(t2)] == ["middle"]
    assert repo.list_buckets("no-such-tenant") == []

    repo.set_bucket_encryption(b.id, "aws:kms", "kms-1", True, True)
    got = repo.get_bucket("zeta")
    assert got is not None
    assert (got.sse_algorithm, got.kms_key_id, got.bucket_key_enabled, got.encryption_configured) == (
        "aws:kms", "kms-1", True, True)


def test_duplicate_bucket_names(repo: Repository) -> None:
    t1, t2 = make_tenant(repo, "one"), make_tenant(repo, "two")
    original = make_bucket(repo, t1, "shared")
    with pytest.raises(errors.BucketAlreadyOwnedByYou):
        make_bucket(repo, t1, "shared")
    with pytest.raises(errors.BucketAlreadyExists) as exc_info:
        make_bucket(repo, t2, "shared")
    assert not isinstance(exc_info.value, errors.BucketAlreadyOwnedByYou)
    got = repo.get_bucket("shared")
    assert got is not None and (got.id, got.tenant_id) == (original.id, t1)
    assert repo.list_buckets(t2) == []


def test_delete_bucket_refuses_when_objects_exist(repo: Repository, bucket: Bucket) -> None:
    blobs = put(repo, bucket, "keep-me")
    with pytest.raises(errors.BucketNotEmpty):
        repo.delete_bucket(bucket)
    assert repo.get_bucket(bucket.name) is not None
    assert repo.get_object(bucket.id, "keep-me") is not None
    assert garbage(repo) == {}
    assert all(repo.blob_referenced(b) for b in blobs)


def test_delete_bucket_drops_uploads_and_queues_their_blobs(
    repo: Repository, tenant: str, bucket: Bucket
) -> None:
    other = make_bucket(repo, tenant, "other")
    u1 = new_upload(repo, bucket, "big-1")
    u2 = new_upload(repo, bucket, "big-2")
    u_other = new_upload(repo, other, "big-1")
    blobs = []
    for up in (u1, u2):
        for n in (1, 2):
            p = upload_part(up.upload_id, n)
            repo.put_upload_part(p, REGION)
            blobs.append(p.blob_id)
    kept = upload_part(u_other.upload_id, 1)
    repo.put_upload_part(kept, REGION)

    repo.delete_bucket(bucket)
    assert repo.get_bucket(bucket.name) is None
    assert [b.name for b in repo.list_buckets(tenant)] == ["other"]
    assert repo.get_upload(bucket.id, u1.upload_id) is None
    assert repo.list_upload_parts(u1.upload_id) == []
    assert garbage(repo) == dict.fromkeys(blobs, REGION)
    assert [p.blob_id for p in repo.list_upload_parts(u_other.upload_id)] == [kept.blob_id]

    # an empty bucket simply goes
    empty = make_bucket(repo, tenant, "empty")
    repo.delete_bucket(empty)
    assert repo.get_bucket("empty") is None


# --- objects ----------------------------------------------------------------------------


def test_put_and_get_object_parts_ordered(repo: Repository, bucket: Bucket) -> None:
    rec = record(bucket, "movie.mkv", etag="f" * 32 + "-3")
    rec.parts_count = 3
    rec.content_type = "video/x-matroska"
    rec.user_metadata = '{"a": "1"}'
    parts = [object_part(3, offset=20), object_part(1, offset=0), object_part(2, offset=10)]
    repo.put_object(rec, parts, REGION)

    got = repo.get_object(bucket.id, "movie.mkv")
    assert got is not None
    assert (got.record.etag, got.record.parts_count, got.record.content_type, got.record.user_metadata) == (
        "f" * 32 + "-3", 3, "video/x-matroska", '{"a": "1"}')
    assert [(p.part_number, p.offset) for p in got.parts] == [(1, 0), (2, 10), (3, 20)]
    assert [p.blob_id for p in got.parts] == [parts[1].blob_id, parts[2].blob_id, parts[0].blob_id]
    assert got.parts[0].inner_header == b"inner\x01"
    assert [p.part_number for p in repo.get_parts(got.record.id)] == [1, 2, 3]
    assert repo.get_object(bucket.id, "movie") is None
    assert garbage(repo) == {}


def test_put_object_replaces_previous_version_and_queues_its_blobs(repo: Repository, bucket: Bucket) -> None:
    old_blobs = put(repo, bucket, "k", n_parts=2)
    old = repo.get_object(bucket.id, "k")
    assert old is not None
    new_blobs = put(repo, bucket, "k", n_parts=1)

    got = repo.get_object(bucket.id, "k")
    assert got is not None
    assert got.record.version_id != old.record.version_id
    assert [p.blob_id for p in got.parts] == new_blobs
    assert all_part_blobs(repo) == new_blobs
    assert [o.key for o in repo.list_objects(bucket.id, "", None, 100)] == ["k"]
    assert garbage(repo) == dict.fromkeys(old_blobs, REGION)


def test_failed_put_object_leaves_previous_version_untouched(repo: Repository, bucket: Bucket) -> None:
    old_blobs = put(repo, bucket, "k", n_parts=2)
    with pytest.raises(Exception):  # noqa: B017 - duplicate part numbers violate the primary key
        repo.put_object(record(bucket, "k"), [object_part(1), object_part(1)], REGION)
    got = repo.get_object(bucket.id, "k")
    assert got is not None and [p.blob_id for p in got.parts] == old_blobs
    assert garbage(repo) == {}


def test_same_key_in_different_buckets_is_independent(repo: Repository, tenant: str, bucket: Bucket) -> None:
    other = make_bucket(repo, tenant, "other", region="eu-west")
    a = put(repo, bucket, "k")
    b = put(repo, other, "k")
    assert [p.blob_id for p in repo.get_object(bucket.id, "k").parts] == a  # type: ignore[union-attr]
    assert repo.delete_object(other.id, "k", other.region) is True
    assert garbage(repo) == dict.fromkeys(b, "eu-west")
    assert repo.get_object(bucket.id, "k") is not None


def test_delete_object(repo: Repository, bucket: Bucket) -> None:
    blobs = put(repo, bucket, "doomed", n_parts=3)
    survivor = put(repo, bucket, "survivor")
    rec = repo.get_object(bucket.id, "doomed")
    assert rec is not None
    assert repo.delete_object(bucket.id, "doomed", REGION) is True
    assert repo.get_object(bucket.id, "doomed") is None
    assert repo.get_parts(rec.record.id) == []
    assert all_part_blobs(repo) == survivor
    assert garbage(repo) == dict.fromkeys(blobs, REGION)
    assert repo.delete_object(bucket.id, "doomed", REGION) is False
    assert repo.delete_object(bucket.id, "never-existed", REGION) is False
    assert [o.key for o in repo.list_objects(bucket.id, "", None, 100)] == ["survivor"]


# --- listing order ----------------------------------------------------------------------

LISTING_KEYS = [
    "a", "a/b", "a0", "B", "é", "z", "\u00ff", "\U0001F600", "a b", "a-b",
    "A", "b", "\x7f", "\u0100", "éa", "ê", "\uD7FF", "\uD7FFx", "\uE000", "\uFFFF",
    "a\uFFFF", "a\U0010FFFF", "\U0010FFFF", "\U0010FFFFa", "\U0001F600/x", "\U0001F601",
]
BYTE_ORDER = sorted(LISTING_KEYS, key=str.encode)
# Prefixes whose last code point's successor (the exclusive upper bound) is interesting:
# ASCII, 2-byte, 3-byte before the surrogate gap, 4-byte, the largest code point.
PREFIXES = ["", "a", "a/", "A", "B", "b", "é", "\u00ff", "\uD7FF", "\U0001F600", "\U0010FFFF", "a\U0010FFFF",
            "zz", "\uFFFF"]


@pytest.fixture()
def listed(repo: Repository, tenant: str, bucket: Bucket) -> Bucket:
    other = make_bucket(repo, tenant, "noise")
    for key in reversed(LISTING_KEYS):
        repo.put_object(record(bucket, key), [object_part(1)], REGION)
    for key in ("a", "a1", "b"):
        repo.put_object(record(other, key), [object_part(1)], REGION)
    return bucket


def keys(objs: list[ObjectRecord]) -> list[str]:
    return [o.key for o in objs]


def test_list_objects_is_utf8_byte_order(repo: Repository, listed: Bucket) -> None:
    assert keys(repo.list_objects(listed.id, "", None, 1000)) == BYTE_ORDER


@pytest.mark.parametrize("prefix", PREFIXES, ids=[p.encode().hex() or "empty" for p in PREFIXES])
def test_list_objects_prefix(repo: Repository, listed: Bucket, prefix: str) -> None:
    expected = [k for k in BYTE_ORDER if k.startswith(prefix)]
    assert keys(repo.list_objects(listed.id, prefix, None, 1000)) == expected


def test_list_objects_after_is_exclusive(repo: Repository, listed: Bucket) -> None:
    for after in ["a", "a0", "a1", "é", "\uD7FF", "\U0001F600", "\U0010FFFFa", "A", ""]:
        expected = [k for k in BYTE_ORDER if k.encode() > after.encode()]
        assert keys(repo.list_objects(listed.id, "", after, 1000)) == expected, after
    # `after` before the prefix range: the whole prefix range; inside it: the rest of it.
    assert keys(repo.list_objects(listed.id, "a", "A", 1000)) == [k for k in BYTE_ORDER if k.startswith("a")]
    assert keys(repo.list_objects(listed.id, "a", "a0", 1000)) == [
        k for k in BYTE_ORDER if k.startswith("a") and k.encode() > b"a0"]


@pytest.mark.parametrize("prefix", ["", "a", "\U0001F600"])
def test_list_objects_paging(repo: Repository, listed: Bucket, prefix: str) -> None:
    expected = [k for k in BYTE_ORDER if k.startswith(prefix)]
    for limit in (1, 3):
        seen: list[str] = []
        after: str | None = None
        while True:
            page = keys(repo.list_objects(listed.id, prefix, after, limit))
            assert len(page) <= limit
            seen += page
            if len(page) < limit:
                break
            after = page[-1]
        assert seen == expected, limit


# --- multipart uploads -------------------------------------------------------------------


def test_upload_parts(repo: Repository, tenant: str, bucket: Bucket) -> None:
    other = make_bucket(repo, tenant, "other")
    up = new_upload(repo, bucket, "big", initiated=at(5, IST))
    got = repo.get_upload(bucket.id, up.upload_id)
    assert got is not None and (got.key, got.version_id, got.sse_mode) == ("big", up.version_id, "SSE-S3")
    assert got.initiated == at(5)
    assert_utc(got.initiated)
    assert repo.get_upload(other.id, up.upload_id) is None
    assert repo.get_upload(bucket.id, "missing") is None
    with pytest.raises(errors.NoSuchUpload):
        repo.put_upload_part(upload_part("missing", 1), REGION)

    first = {n: upload_part(up.upload_id, n) for n in range(1, 6)}
    for p in first.values():
        repo.put_upload_part(p, REGION)
    assert garbage(repo) == {}
    replacement = upload_part(up.upload_id, 2)
    repo.put_upload_part(replacement, REGION)
    assert garbage(repo) == {first[2].blob_id: REGION}

    parts = repo.list_upload_parts(up.upload_id)
    assert [p.part_number for p in parts] == [1, 2, 3, 4, 5]
    assert parts[1].blob_id == replacement.blob_id
    assert_utc(parts[0].last_modified)
    assert [p.part_number for p in repo.list_upload_parts(up.upload_id, after_part=2, limit=2)] == [3, 4]
    assert [p.part_number for p in repo.list_upload_parts(up.upload_id, after_part=4, limit=2)] == [5]
    assert repo.list_upload_parts(up.upload_id, after_part=5) == []
    assert repo.list_upload_parts("missing") == []


def test_complete_upload(repo: Repository, bucket: Bucket) -> None:
    previous = put(repo, bucket, "big", n_parts=2)
    up = new_upload(repo, bucket, "big")
    parts = {n: upload_part(up.upload_id, n) for n in (1, 2, 3)}
    for p in parts.values():
        repo.put_upload_part(p, REGION)
    replaced = upload_part(up.upload_id, 3)
    repo.put_upload_part(replaced, REGION)
    assert garbage(repo) == {parts[3].blob_id: REGION}

    rec = record(bucket, "big", etag="c" * 32 + "-2")
    rec.parts_count = 2
    chosen = [object_part(1, 0, parts[1].blob_id), object_part(3, 10, replaced.blob_id)]
    repo.complete_upload(up.upload_id, rec, chosen, REGION)

    got = repo.get_object(bucket.id, "big")
    assert got is not None and got.record.etag == "c" * 32 + "-2"
    assert [(p.part_number, p.blob_id) for p in got.parts] == [(1, parts[1].blob_id), (3, replaced.blob_id)]
    assert repo.get_upload(bucket.id, up.upload_id) is None
    assert repo.list_upload_parts(up.upload_id) == []
    assert garbage(repo) == dict.fromkeys([parts[3].blob_id, parts[2].blob_id, *previous], REGION)
    assert repo.blob_referenced(parts[1].blob_id) and repo.blob_referenced(replaced.blob_id)

    with pytest.raises(errors.NoSuchUpload):
        repo.complete_upload(up.upload_id, record(bucket, "big"), [object_part(1)], REGION)
    assert [p.blob_id for p in repo.get_object(bucket.id, "big").parts] == [  # type: ignore[union-attr]
        parts[1].blob_id, replaced.blob_id]


def test_abort_upload(repo: Repository, bucket: Bucket) -> None:
    up = new_upload(repo, bucket, "big")
    keep = new_upload(repo, bucket, "big")
    blobs = []
    for n in (1, 2):
        p = upload_part(up.upload_id, n)
        repo.put_upload_part(p, REGION)
        blobs.append(p.blob_id)
    repo.put_upload_part(upload_part(keep.upload_id, 1), REGION)
    assert repo.abort_upload(up.upload_id, REGION) is True
    assert repo.get_upload(bucket.id, up.upload_id) is None
    assert repo.list_upload_parts(up.upload_id) == []
    assert garbage(repo) == dict.fromkeys(blobs, REGION)
    assert repo.abort_upload(up.upload_id, REGION) is False
    assert repo.abort_upload("missing", REGION) is False
    assert len(repo.list_upload_parts(keep.upload_id)) == 1
    assert repo.get_object(bucket.id, "big") is None


@pytest.fixture()
def uploads(repo: Repository, tenant: str, bucket: Bucket) -> list[tuple[str, str]]:
    """Uploads whose ids do not sort in the order they were initiated (ids are random in production)."""
    other = make_bucket(repo, tenant, "other")
    new_upload(repo, other, "a", "zzz-other-bucket")
    spec = [
        ("b", "u3", 1), ("b", "u1", 2), ("b", "u2", 3), ("b", "u0", 3),
        ("a", "u9", 4), ("é", "u5", 5), ("B", "u8", 6), ("a/x", "u4", 7), ("\U0001F600", "u7", 8),
    ]
    for key, upload_id, minute in spec:
        new_upload(repo, bucket, key, upload_id, initiated=at(minute))
    return [(k, u) for k, u, _ in spec]


def pairs(ups: list[MultipartUpload]) -> list[tuple[str, str]]:
    return [(u.key, u.upload_id) for u in ups]


def test_list_uploads_order_and_filters(
    repo: Repository, bucket: Bucket, uploads: list[tuple[str, str]]
) -> None:
    full = pairs(repo.list_uploads(bucket.id, "", None, None, 1000))
    assert sorted(full) == sorted(uploads)
    assert [k for k, _ in full] == sorted((k for k, _ in uploads), key=str.encode)
    assert pairs(repo.list_uploads(bucket.id, "a", None, None, 1000)) == [("a", "u9"), ("a/x", "u4")]
    assert sorted(pairs(repo.list_uploads(bucket.id, "b", None, None, 1000))) == [
        ("b", "u0"), ("b", "u1"), ("b", "u2"), ("b", "u3")]
    # key marker alone: only keys strictly after it
    assert pairs(repo.list_uploads(bucket.id, "", "b", None, 1000)) == [("é", "u5"), ("\U0001F600", "u7")]
    assert [k for k, _ in pairs(repo.list_uploads(bucket.id, "", "a", None, 1000))] == [
        "a/x", "b", "b", "b", "b", "é", "\U0001F600"]
    assert pairs(repo.list_uploads(bucket.id, "", None, None, 2)) == full[:2]


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_list_uploads_paging_with_markers_returns_each_upload_once(
    repo: Repository, bucket: Bucket, uploads: list[tuple[str, str]], limit: int
) -> None:
    full = pairs(repo.list_uploads(bucket.id, "", None, None, 1000))
    seen: list[tuple[str, str]] = []
    key_marker: str | None = None
    upload_id_marker: str | None = None
    for _ in range(len(uploads) + 1):
        page = pairs(repo.list_uploads(bucket.id, "", key_marker, upload_id_marker, limit))
        seen += page
        if len(page) < limit:
            break
        key_marker, upload_id_marker = page[-1]
    assert seen == full


# --- garbage --------------------------------------------------------------------------------


def test_take_and_forget_garbage(repo: Repository, tenant: str, bucket: Bucket) -> None:
    assert repo.take_garbage() == []
    eu = make_bucket(repo, tenant, "eu", region="eu-west")
    first = put(repo, bucket, "one", n_parts=2)
    second = put(repo, eu, "two", n_parts=1)
    third = put(repo, bucket, "three", n_parts=1)
    for b, key in ((bucket, "one"), (eu, "two"), (bucket, "three")):
        assert repo.delete_object(b.id, key, b.region)

    taken = repo.take_garbage()
    assert [g.blob_id for g in taken][2:] == [*second, *third]
    assert set(g.blob_id for g in taken[:2]) == set(first)
    assert {g.blob_id: g.region for g in taken} == {
        **dict.fromkeys(first, REGION), **dict.fromkeys(second, "eu-west"), **dict.fromkeys(third, REGION)}
    for g in taken:
        assert_utc(g.enqueued_at)
    assert [g.enqueued_at for g in taken] == sorted(g.enqueued_at for g in taken)
    assert len(repo.take_garbage(limit=2)) == 2
    assert [g.blob_id for g in repo.take_garbage()] == [g.blob_id for g in taken]  # taking does not consume

    repo.forget_garbage([])
    repo.forget_garbage([*first, "never-queued"])
    assert [g.blob_id for g in repo.take_garbage()] == [*second, *third]
    repo.forget_garbage([*second, *third])
    assert repo.take_garbage() == []


def test_forgetting_any_number_of_blobs_is_one_statement(repo: Repository, tenant: str, bucket: Bucket) -> None:
    """An IN list is another statement for each length, and the driver caches up to 128 prepared statements per
    pooled connection: the sweeper's varying batches grew the gateway for half an hour (the soak). One statement."""
    from sqlalchemy import event

    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if "blob_garbage" in statement and statement.lstrip().upper().startswith("DELETE"):
            seen.append(statement)

    event.listen(repo.engine, "before_cursor_execute", record)
    try:
        for n in (1, 7, 300):
            blobs = [blob for i in range(n) for blob in put(repo, bucket, f"k{n}-{i}", n_parts=1)]
            for i in range(n):
                assert repo.delete_object(bucket.id, f"k{n}-{i}", bucket.region)
            assert {g.blob_id for g in repo.take_garbage(limit=1000)} == set(blobs)
            repo.forget_garbage(blobs)
            assert repo.take_garbage() == []
    finally:
        event.remove(repo.engine, "before_cursor_execute", record)
    assert len(seen) == 3 and len(set(seen)) == 1, set(seen)


def test_blob_referenced(repo: Repository, bucket: Bucket) -> None:
    [obj_blob] = put(repo, bucket, "k")
    up = new_upload(repo, bucket, "big")
    part = upload_part(up.upload_id, 1)
    repo.put_upload_part(part, REGION)
    [gone] = put(repo, bucket, "gone")
    repo.delete_object(bucket.id, "gone", REGION)

    assert repo.blob_referenced(obj_blob) is True
    assert repo.blob_referenced(part.blob_id) is True
    assert repo.blob_referenced(gone) is True  # queued: the garbage collector, not the sweeper, deletes it
    assert repo.blob_referenced("unknown-blob") is False
    repo.forget_garbage([gone])
    assert repo.blob_referenced(gone) is False
    repo.abort_upload(up.upload_id, REGION)
    repo.forget_garbage([part.blob_id])
    assert repo.blob_referenced(part.blob_id) is False


# --- timestamps ---------------------------------------------------------------------------


def test_timestamps_round_trip_as_aware_utc(repo: Repository, bucket: Bucket) -> None:
    local = at(9, IST)
    rec = record(bucket, "k", last_modified=local)
    part = object_part(1)
    part.last_modified = at(8, dt.timezone(dt.timedelta(hours=-7)))
    repo.put_object(rec, [part], REGION)
    got = repo.get_object(bucket.id, "k")
    assert got is not None
    assert got.record.last_modified == local and got.record.last_modified.tzinfo is not None
    assert_utc(got.record.last_modified)
    assert got.record.last_modified.replace(tzinfo=None) == dt.datetime(2026, 3, 1, 12, 9, 7, 123456)
    assert got.parts[0].last_modified == at(8)
    assert_utc(got.parts[0].last_modified)
    [listed] = repo.list_objects(bucket.id, "", None, 10)
    assert listed.last_modified == local
    assert_utc(listed.last_modified)
    before = dt.datetime.now(dt.UTC)
    repo.delete_object(bucket.id, "k", REGION)
    [g] = repo.take_garbage()
    assert_utc(g.enqueued_at)
    slack = dt.timedelta(seconds=5)
    assert before - slack <= g.enqueued_at <= dt.datetime.now(dt.UTC) + slack


def test_naive_datetimes_are_refused(repo: Repository, bucket: Bucket) -> None:
    with pytest.raises((ValueError, StatementError)):
        repo.put_object(record(bucket, "k", last_modified=dt.datetime(2026, 1, 1)), [object_part(1)], REGION)
    assert repo.get_object(bucket.id, "k") is None


# --- concurrency ------------------------------------------------------------------------------


def test_concurrent_puts_on_one_key_lose_no_blobs(repo: Repository, bucket: Bucket) -> None:
    rounds = 20
    start = threading.Barrier(2)
    put_blobs: list[list[str]] = [[], []]
    failures: list[BaseException] = []

    def writer(i: int) -> None:
        start.wait()
        for _ in range(rounds):
            try:
                put_blobs[i] += put(repo, bucket, "contended")
            except BaseException as exc:
                failures.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert failures == [], f"{len(failures)} puts failed; first: {failures[0]!r}"

    assert [o.key for o in repo.list_objects(bucket.id, "", None, 100)] == ["contended"]
    got = repo.get_object(bucket.id, "contended")
    assert got is not None
    [survivor] = [p.blob_id for p in got.parts]
    everything = put_blobs[0] + put_blobs[1]
    assert len(everything) == 2 * rounds and survivor in everything
    queued = [g.blob_id for g in repo.take_garbage(10_000)]
    assert sorted(queued) == sorted(set(everything) - {survivor})
    with repo.session() as s:
        assert s.scalar(select(func.count()).select_from(ObjectRecord)) == 1
        assert s.scalar(select(func.count()).select_from(ObjectPart)) == 1
        assert s.scalar(select(func.count()).select_from(BlobGarbage)) == 2 * rounds - 1


def run_together(*calls: Callable[[], object]) -> list[BaseException | None]:
    """Start the calls at once in threads; returns each one's exception (or None)."""
    start = threading.Barrier(len(calls))
    outcome: list[BaseException | None] = [None] * len(calls)

    def run(i: int) -> None:
        start.wait()
        try:
            calls[i]()
        except BaseException as exc:
            outcome[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcome


def test_concurrent_completes_of_one_upload_publish_it_once(repo: Repository, bucket: Bucket) -> None:
    """A client retrying CompleteMultipartUpload must never get the parts it published queued as garbage."""
    for attempt in range(8):
        key = f"retried-{attempt}"
        up = new_upload(repo, bucket, key)
        parts = [upload_part(up.upload_id, n) for n in (1, 2)]
        for p in parts:
            repo.put_upload_part(p, REGION)

        def complete(up: MultipartUpload = up, parts: list[UploadPart] = parts, key: str = key) -> None:
            chosen = [object_part(p.part_number, 10 * i, p.blob_id) for i, p in enumerate(parts)]
            repo.complete_upload(up.upload_id, record(bucket, key), chosen, REGION)

        outcome = run_together(complete, complete)
        got = repo.get_object(bucket.id, key)
        assert got is not None and [p.blob_id for p in got.parts] == [p.blob_id for p in parts]
        assert garbage(repo) == {}, f"attempt {attempt}: published blobs queued for deletion"
        assert sorted(type(e).__name__ for e in outcome) == ["NoSuchUpload", "NoneType"], outcome




def test_concurrent_uploads_of_one_part_number_keep_one_and_queue_the_rest(
    repo: Repository, bucket: Bucket
) -> None:
    up = new_upload(repo, bucket, "big")
    written: list[str] = []

    def upload(n: int = 10) -> None:
        for _ in range(n):
            p = upload_part(up.upload_id, 1)
            written.append(p.blob_id)
            repo.put_upload_part(p, REGION)

    outcome = run_together(upload, upload)
    assert outcome == [None, None]
    [kept] = [p.blob_id for p in repo.list_upload_parts(up.upload_id)]
    assert sorted(garbage(repo)) == sorted(set(written) - {kept})


def test_sqlite_files_are_opened_in_wal_mode_with_foreign_keys_and_a_bounded_cache(tmp_path: Path) -> None:
    repo = Repository.open(f"sqlite:///{tmp_path / 'meta.db'}")
    try:
        with repo.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -1024  # a bounded page cache (the soak)
    finally:
        repo.close()


def test_a_tenant_public_access_block_change_moves_its_buckets_access_version(repo: Repository, tenant: str) -> None:
    mine = [make_bucket(repo, tenant, f"mine-{i}") for i in range(2)]
    other = make_bucket(repo, make_tenant(repo, "globex"), "theirs")
    before = {b.name: repo.get_bucket(b.name).access_version or 0 for b in (*mine, other)}  # type: ignore[union-attr]
    repo.set_tenant_public_access_block(tenant, '{"BlockPublicAcls": true}')
    after = {b.name: repo.get_bucket(b.name).access_version or 0 for b in (*mine, other)}  # type: ignore[union-attr]
    assert after == {"mine-0": before["mine-0"] + 1, "mine-1": before["mine-1"] + 1, "theirs": before["theirs"]}
    assert repo.get_tenant(tenant).public_access_block == '{"BlockPublicAcls": true}'  # type: ignore[union-attr]


# --- CORS configurations --------------------------------------------------------------------------------------------


def test_bucket_cors_is_set_replaced_and_deleted(repo: Repository, tenant: str, bucket: Bucket) -> None:
    other = make_bucket(repo, tenant, "other")
    assert repo.bucket_cors("photos") == (bucket.id, tenant, None)
    assert repo.bucket_cors("missing") is None
    assert repo.get_bucket_cors(bucket.id) is None
    repo.set_bucket_cors(bucket.id, '{"rules":[1]}')
    repo.set_bucket_cors(bucket.id, '{"rules":[2]}')  # an upsert: replaces
    assert repo.bucket_cors("photos") == (bucket.id, tenant, '{"rules":[2]}')
    assert repo.get_bucket_cors(bucket.id) == '{"rules":[2]}'
    assert repo.bucket_cors("other") == (other.id, tenant, None)  # one bucket's rules are its own
    before = repo.get_bucket("photos")
    assert before is not None and before.access_version == 0  # CORS grants no access: access_version stays
    repo.set_bucket_cors(bucket.id, None)
    repo.set_bucket_cors(bucket.id, None)  # deleting none is fine
    assert repo.bucket_cors("photos") == (bucket.id, tenant, None)


def test_a_bucket_is_deleted_with_its_cors_configuration(repo: Repository, tenant: str, bucket: Bucket) -> None:
    repo.set_bucket_cors(bucket.id, '{"rules":[]}')
    repo.delete_bucket(bucket)
    assert repo.bucket_cors("photos") is None
    again = make_bucket(repo, tenant, "photos")  # the name is free again, without the old rules
    assert repo.bucket_cors("photos") == (again.id, tenant, None)
    with pytest.raises(errors.NoSuchBucket):
        repo.set_bucket_cors(bucket.id, '{"rules":[]}')  # the old bucket's id names nothing any more
