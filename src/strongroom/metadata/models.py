"""SQLAlchemy 2.0 models. Named constraints; keys sorted as UTF-8 bytes on every backend."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Object keys compare as UTF-8 bytes (S3 order): SQLite's BINARY collation does that; PostgreSQL needs "C".
ObjectKey = String(1024).with_variant(String(1024, collation="C"), "postgresql")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: object) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: object) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Tenant(Base):
    """A customer (an S3 "account"): its name is its id, in ARNs (``arn:aws:iam::NAME:user/U``) and as its vault
    namespace. ``system`` is the reserved tenant of the operators."""

    __tablename__ = "tenants"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    canonical_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # S3 canonical user id (64 hex)
    public_access_block: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON; the tenant-wide block


class User(Base):
    """A user within a tenant: an admin (all rights in the tenant) or a member (rights from policies)."""

    __tablename__ = "users"
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    policy: Mapped[str | None] = mapped_column(Text, nullable=True)  # the user's inline identity policy (JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Group(Base):
    __tablename__ = "user_groups"
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    policy: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class GroupMember(Base):
    __tablename__ = "group_members"
    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    group_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_name: Mapped[str] = mapped_column(String(64), primary_key=True)


class AccessKey(Base):
    """An S3 access key of a user. The secret is sealed in the vault (``strongroom/credentials/<id>``), never here."""

    __tablename__ = "access_keys"
    access_key_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    user_name: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="Active")  # Active | Inactive (as IAM names them)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class InfraKeyVersion(Base):
    """A region's infrastructure key (layer 2 KEK), sealed under the separate infrastructure root."""

    __tablename__ = "infra_key_versions"
    region: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    material_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Bucket(Base):
    __tablename__ = "buckets"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # immutable UUID bound into every blob
    name: Mapped[str] = mapped_column(String(63), unique=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    region: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    bucket_key_id: Mapped[str] = mapped_column(String(128))  # the bucket's SSE-S3 key in the vault
    sse_algorithm: Mapped[str] = mapped_column(String(16), default="AES256")  # default for new objects
    kms_key_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    bucket_key_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    encryption_configured: Mapped[bool] = mapped_column(Boolean, default=False)
    # access control (policy/authz.py reads these): the bucket policy as given, the ACL and the bucket-level public
    # access block as JSON, the object ownership setting; access_version grows with every change to any of them
    policy: Mapped[str | None] = mapped_column(Text, nullable=True)
    acl: Mapped[str | None] = mapped_column(Text, nullable=True)
    public_access_block: Mapped[str | None] = mapped_column(Text, nullable=True)
    ownership: Mapped[str | None] = mapped_column(String(32), nullable=True)
    access_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class BucketCors(Base):
    """A bucket's CORS configuration (PutBucketCors), as JSON (``policy.cors.CorsConfiguration.to_json``).

    Its own table rather than a column of ``buckets``: the GET/PUT hot paths read the bucket row on every request,
    and only requests that carry an ``Origin`` (and preflights) need the rules. Not access control: a change does
    not move the bucket's ``access_version``."""

    __tablename__ = "bucket_cors"
    bucket_id: Mapped[str] = mapped_column(ForeignKey("buckets.id"), primary_key=True)
    configuration: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class SealedPartColumns:
    """What it takes to open one sealed blob (see docs/FORMAT.md)."""

    size: Mapped[int] = mapped_column(BigInteger)  # plaintext bytes
    etag: Mapped[str] = mapped_column(String(64))  # hex MD5 of the part's plaintext (or SSE-C keyed digest)
    blob_id: Mapped[str] = mapped_column(String(64))
    inner_header: Mapped[bytes] = mapped_column(LargeBinary)
    outer_header: Mapped[bytes] = mapped_column(LargeBinary)
    wrapped_dek1: Mapped[bytes] = mapped_column(LargeBinary)
    kek_id: Mapped[str] = mapped_column(String(128))  # service key id, or "sse-c"
    kek_version: Mapped[int] = mapped_column(Integer)
    wrapped_dek2: Mapped[bytes] = mapped_column(LargeBinary)
    infra_version: Mapped[int] = mapped_column(Integer)
    checksum_value: Mapped[str | None] = mapped_column(String(128), nullable=True)
    last_modified: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class ObjectHeaderColumns:
    """Per-object settings shared by objects and in-progress multipart uploads."""

    content_type: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    content_encoding: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    content_disposition: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    content_language: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    cache_control: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    expires: Mapped[str | None] = mapped_column(String(256), nullable=True)
    user_metadata: Mapped[str] = mapped_column(Text, default="{}")  # JSON object
    storage_class: Mapped[str] = mapped_column(String(32), default="STANDARD")
    sse_mode: Mapped[str] = mapped_column(String(16))  # "SSE-S3" | "SSE-KMS" | "SSE-C"
    kms_key_id: Mapped[str | None] = mapped_column(String(128), nullable=True)  # SSE-KMS key named by client
    kms_context: Mapped[str | None] = mapped_column(Text, nullable=True)  # SSE-KMS encryption context (JSON)
    bucket_key_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    ssec_salt: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    ssec_verifier: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    checksum_algorithm: Mapped[str | None] = mapped_column(String(16), nullable=True)
    checksum_type: Mapped[str | None] = mapped_column(String(16), nullable=True)  # FULL_OBJECT | COMPOSITE
    acl: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON; None = private (the bucket's tenant only)


class ObjectRecord(ObjectHeaderColumns, Base):
    """The current version of an object. Unversioned buckets: one row per key."""

    __tablename__ = "objects"
    __table_args__ = (UniqueConstraint("bucket_id", "key", name="uq_objects_bucket_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    bucket_id: Mapped[str] = mapped_column(ForeignKey("buckets.id"))
    key: Mapped[str] = mapped_column(ObjectKey)
    version_id: Mapped[str] = mapped_column(String(64))  # internal, bound into the crypto identity
    size: Mapped[int] = mapped_column(BigInteger)
    etag: Mapped[str] = mapped_column(String(80))  # without quotes
    last_modified: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    parts_count: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: single PUT
    checksum_value: Mapped[str | None] = mapped_column(String(128), nullable=True)


class ObjectPart(SealedPartColumns, Base):
    __tablename__ = "object_parts"
    object_id: Mapped[int] = mapped_column(ForeignKey("objects.id", ondelete="CASCADE"), primary_key=True)
    part_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    offset: Mapped[int] = mapped_column(BigInteger)  # plaintext offset of this part within the object


class MultipartUpload(ObjectHeaderColumns, Base):
    __tablename__ = "multipart_uploads"
    upload_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    bucket_id: Mapped[str] = mapped_column(ForeignKey("buckets.id"))
    key: Mapped[str] = mapped_column(ObjectKey)
    version_id: Mapped[str] = mapped_column(String(64))
    initiated: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class UploadPart(SealedPartColumns, Base):
    __tablename__ = "upload_parts"
    upload_id: Mapped[str] = mapped_column(
        ForeignKey("multipart_uploads.upload_id", ondelete="CASCADE"), primary_key=True
    )
    part_number: Mapped[int] = mapped_column(Integer, primary_key=True)


class BlobGarbage(Base):
    """Blobs no longer referenced, deleted after the transaction that dropped them commits."""

    __tablename__ = "blob_garbage"
    blob_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    region: Mapped[str] = mapped_column(String(64))
    enqueued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class BackupLease(Base):
    """A backup in progress (service/backup.py): while one is unexpired, no gateway's sweeper deletes a blob queued
    as garbage at or after ``held_since`` (the backup's database snapshot may still reference it)."""

    __tablename__ = "backup_leases"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    held_since: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class VaultEntry(Base):
    """Physical storage of the key vault: untrusted, every value is sealed by the vault's barrier."""

    __tablename__ = "vault_entries"
    path: Mapped[str] = mapped_column(
        String(512).with_variant(String(512, collation="C"), "postgresql"), primary_key=True
    )
    value: Mapped[bytes] = mapped_column(LargeBinary)


Index("ix_access_keys_user", AccessKey.tenant_id, AccessKey.user_name)
Index("ix_multipart_uploads_bucket_key", MultipartUpload.bucket_id, MultipartUpload.key)
Index("ix_object_parts_blob", ObjectPart.blob_id)
Index("ix_upload_parts_blob", UploadPart.blob_id)


class RateCounter(Base):
    """A shared abuse-limit counter (service/limits.py): what every gateway counted for one subject (an access key
    or a source address) in one time window of one scope. Gateways add their local counts about once a second."""

    __tablename__ = "rate_counters"
    scope: Mapped[str] = mapped_column(String(16), primary_key=True)  # "request" | "authkey" | "authaddr" | "pubaddr"
    subject: Mapped[str] = mapped_column(String(128), primary_key=True)
    window_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)  # unix seconds after which no decision reads the row


Index("ix_rate_counters_expires_at", RateCounter.expires_at)


class AuditHead(Base):
    """The head of one audit chain (a tenant's, or ``system`` for the operators): how many entries it holds and the
    hash of the last one. Appending locks this row, so every gateway extends a chain in one order."""

    __tablename__ = "audit_heads"
    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012 - SQLAlchemy's form
    chain: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    head: Mapped[str] = mapped_column(String(64))  # hex SHA-256 of the last entry (64 zeros when empty)
    checkpoint_size: Mapped[int] = mapped_column(BigInteger, default=0)
    checkpoint_at: Mapped[int] = mapped_column(BigInteger, default=0)  # unix microseconds


class AuditEntry(Base):
    """One audit entry: ``body`` is its canonical JSON (what the hash covers, with the previous entry's hash); the
    other columns repeat a few of its fields for filtering."""

    __tablename__ = "audit_entries"
    # clustered on (chain, seq): an append writes one b-tree leaf and one index leaf, not two and one
    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012 - SQLAlchemy's form
    chain: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[int] = mapped_column(BigInteger)  # unix microseconds
    principal: Mapped[str] = mapped_column(String(256))
    action: Mapped[str] = mapped_column(String(128))
    resource: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(16))
    hash: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)


class AuditCheckpoint(Base):
    """A signed statement of a chain's size and head hash at a time (Ed25519, by the vault's audit key)."""

    __tablename__ = "audit_checkpoints"
    chain: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    head: Mapped[str] = mapped_column(String(64))
    at: Mapped[int] = mapped_column(BigInteger)
    key_version: Mapped[int] = mapped_column(Integer)
    signature: Mapped[str] = mapped_column(Text)  # base64


Index("ix_audit_entries_chain_at", AuditEntry.chain, AuditEntry.at)


# --- governance: lockbox, notices and webhooks, third-party requests (migration 0007) -------------------------------
# No foreign keys to tenants: these records outlive a deleted tenant (the transparency report counts them).


class LockboxRequest(Base):
    """An operator's request to read a tenant's data: its scope (a bucket, and a key prefix or one key), why, for
    how long. ``status`` is the tenant's answer (pending, approved, denied); a request still pending at
    ``expires_at`` (12 h after it was filed) has expired."""

    __tablename__ = "lockbox_requests"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    operator: Mapped[str] = mapped_column(String(64))  # a user of the tenant ``system``
    bucket: Mapped[str] = mapped_column(String(63))
    bucket_id: Mapped[str] = mapped_column(String(36))  # that bucket, not a later one of the same name
    prefix: Mapped[str] = mapped_column(ObjectKey, default="")
    object_key: Mapped[str | None] = mapped_column(ObjectKey, nullable=True)  # one key only (else: the prefix)
    reason: Mapped[str] = mapped_column(Text)
    ticket: Mapped[str] = mapped_column(String(128))
    duration_seconds: Mapped[int] = mapped_column(Integer)
    case_id: Mapped[str | None] = mapped_column(String(32), nullable=True)  # the third-party request it serves
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)  # an admin of the tenant
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class LockboxGrant(Base):
    """What an approved request allows: that operator may read in that scope until ``expires_at`` (or revocation).
    ``policy.authz.decide`` reads these (through ``service.access``)."""

    __tablename__ = "lockbox_grants"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("lockbox_requests.id"), unique=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    operator: Mapped[str] = mapped_column(String(64))
    bucket: Mapped[str] = mapped_column(String(63))
    bucket_id: Mapped[str] = mapped_column(String(36))
    prefix: Mapped[str] = mapped_column(ObjectKey, default="")
    object_key: Mapped[str | None] = mapped_column(ObjectKey, nullable=True)
    granted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(128), nullable=True)  # TENANT/USER


class Notice(Base):
    """A notice to a tenant's admins (the feed; the webhook delivers it too). ``visible_at`` None: withheld (a
    non-disclosure order without an end date); in the future: withheld until then."""

    __tablename__ = "notices"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(32))  # the lockbox request or case it is about
    body: Mapped[str] = mapped_column(Text)  # JSON object
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    visible_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Webhook(Base):
    """A tenant's webhook: where notices are POSTed. The signing secret is sealed in the vault under ``secret_id``
    (a credential record that is never an access key: it has no ``access_keys`` row)."""

    __tablename__ = "webhooks"
    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    secret_id: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(64))


class WebhookDelivery(Base):
    """One notice to send to one tenant's webhook; due at ``next_attempt_at`` (None: not yet, the notice is
    withheld). A gateway takes a delivery by setting ``lease_until``, so each attempt is made by one gateway."""

    __tablename__ = "webhook_deliveries"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"))
    tenant_id: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(16))  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(256), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class DisclosureCase(Base):
    """A third party's request for a tenant's data, as an operator recorded it, and what came of it."""

    __tablename__ = "disclosure_cases"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    authority: Mapped[str] = mapped_column(String(256))
    jurisdiction: Mapped[str] = mapped_column(String(64))
    legal_basis: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text)
    received_on: Mapped[dt.date] = mapped_column(Date)
    gag: Mapped[bool] = mapped_column(Boolean, default=False)
    gag_until: Mapped[dt.date | None] = mapped_column(Date, nullable=True)  # None with gag: no end date (yet)
    status: Mapped[str] = mapped_column(String(16))  # open | closed
    outcome: Mapped[str] = mapped_column(String(32))  # redirected | rejected | no_data | disclosed_with_consent
    grant_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    notice_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(64))
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


Index("ix_lockbox_requests_tenant_created", LockboxRequest.tenant_id, LockboxRequest.created_at)
Index("ix_lockbox_grants_operator_expires", LockboxGrant.operator, LockboxGrant.expires_at)
Index("ix_notices_tenant_visible", Notice.tenant_id, Notice.visible_at, Notice.id)
Index("ix_webhook_deliveries_due", WebhookDelivery.status, WebhookDelivery.next_attempt_at)
Index("ix_disclosure_cases_received", DisclosureCase.received_on)
