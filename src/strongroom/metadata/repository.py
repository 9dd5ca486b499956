"""The metadata repository: the only code that opens a database session.

Synchronous (SQLAlchemy 2.0); callers on the event loop run it in worker threads.
Returned ORM objects are detached snapshots (expire_on_commit=False).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    Table,
    and_,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, configure_mappers, sessionmaker

from strongroom.core import errors
from strongroom.metadata.models import (
    AccessKey,
    BackupLease,
    BlobGarbage,
    Bucket,
    BucketCors,
    Group,
    GroupMember,
    InfraKeyVersion,
    MultipartUpload,
    ObjectPart,
    ObjectRecord,
    Tenant,
    UploadPart,
    User,
)

MIGRATIONS = Path(__file__).parent / "migrations"
T = TypeVar("T")

# The request hot paths (GET/HEAD, PUT) run Core statements on these tables and build detached model instances
# from the rows: the ORM's unit of work and per-row loading cost several times the SQL itself.
BUCKETS = cast(Table, Bucket.__table__)
OBJECTS = cast(Table, ObjectRecord.__table__)
PARTS = cast(Table, ObjectPart.__table__)
GARBAGE = cast(Table, BlobGarbage.__table__)
_BUCKET_KEYS = tuple(c.key for c in BUCKETS.c)
_OBJECT_KEYS = tuple(c.key for c in OBJECTS.c)
_PART_KEYS = tuple(c.key for c in PARTS.c)

_SELECT_BUCKET = select(BUCKETS).where(BUCKETS.c.name == bindparam("name"))
_SELECT_OBJECT = (
    select(OBJECTS, PARTS)
    .select_from(OBJECTS.join(PARTS, PARTS.c.object_id == OBJECTS.c.id))
    .where(OBJECTS.c.bucket_id == bindparam("bucket_id"), OBJECTS.c.key == bindparam("key"))
    .order_by(PARTS.c.part_number)
)
# the PUT transaction's statements, built once (building and cache-keying a statement costs more than running it)
_LOCK_OBJECT = (
    select(OBJECTS.c.id)
    .where(OBJECTS.c.bucket_id == bindparam("bucket_id"), OBJECTS.c.key == bindparam("key"))
    .with_for_update()
)
_PART_BLOBS = select(PARTS.c.blob_id).where(PARTS.c.object_id == bindparam("object_id"))
_DELETE_PARTS = delete(PARTS).where(PARTS.c.object_id == bindparam("object_id"))
_DELETE_OBJECT = delete(OBJECTS).where(OBJECTS.c.id == bindparam("object_id"))
_INSERT_OBJECT = insert(OBJECTS).returning(OBJECTS.c.id)
_INSERT_PARTS = insert(PARTS)
_ADVISORY_LOCK = select(func.pg_advisory_xact_lock(func.hashtextextended(bindparam("lock_key"), 0)))
_SELECT_BUCKET_AND_OBJECT = (
    select(BUCKETS, OBJECTS, PARTS)
    .select_from(
        BUCKETS.outerjoin(
            OBJECTS, and_(OBJECTS.c.bucket_id == BUCKETS.c.id, OBJECTS.c.key == bindparam("key"))
        ).outerjoin(PARTS, PARTS.c.object_id == OBJECTS.c.id)
    )
    .where(BUCKETS.c.name == bindparam("name"))
    .order_by(PARTS.c.part_number)
)


class Compiled:
    """A Core statement compiled for one dialect (and one set of parameter names): its SQL, how a parameter dict
    becomes the driver's arguments (the column types' bind processors, literals compiled into the statement), and
    how result rows come back typed (result processors). What SQLAlchemy's Connection and Result redo on every
    execution, done once; the request hot paths run these straight on DBAPI connections."""

    def __init__(self, dialect: Any, stmt: Any, keys: Sequence[str] | None = None) -> None:
        compiled = stmt.compile(dialect=dialect, column_keys=list(keys) if keys is not None else None)
        self.sql: str = compiled.string
        self.order = tuple(compiled.positiontup or ()) if dialect.positional else None
        self.binds = {
            name: p
            for name, bind in compiled.binds.items()
            if (p := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        }
        self.defaults = dict(compiled.params)
        columns = stmt.selected_columns if isinstance(stmt, Select) else ()
        processors = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]
        self.results = [(i, p) for i, p in enumerate(processors) if p is not None]

    def args(self, params: dict[str, Any]) -> Any:
        def value(k: str, v: Any) -> Any:
            p = self.binds.get(k)
            return v if p is None or v is None else p(v)

        if self.order is not None:
            return tuple(value(k, params[k] if k in params else self.defaults[k]) for k in self.order)
        return {k: value(k, params[k] if k in params else v) for k, v in self.defaults.items()}

    def rows(self, raw: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
        out = []
        for row in raw:
            values = list(row)
            for i, p in self.results:
                if values[i] is not None:
                    values[i] = p(values[i])
            out.append(tuple(values))
        return out


class PreparedSelect:
    """A Core SELECT compiled once for an engine and run straight on a pooled DBAPI connection (the one-statement
    lookups of every GET and PUT, where SQLAlchemy's Connection and Result layers cost several times the query)."""

    def __init__(self, engine: Engine, stmt: Select[Any]) -> None:
        self.engine = engine
        self.compiled = Compiled(engine.dialect, stmt)

    def all(self, **params: str) -> list[tuple[Any, ...]]:
        c = self.compiled
        conn = self.engine.raw_connection()  # a single statement: its own consistent snapshot
        try:
            cur = conn.cursor()
            try:
                cur.execute(c.sql, c.args(params))
                rows = cur.fetchall()
            finally:
                cur.close()
        finally:
            conn.close()  # back to the pool (which ends any transaction the driver began)
        return c.rows(rows)


def snapshot(cls: type[T], keys: Sequence[str], values: Sequence[Any]) -> T:
    """A model instance holding one row's values, outside any session (like the detached snapshots the ORM
    returns with expire_on_commit=False, at a fraction of the cost)."""
    obj = cls.__mapper__.class_manager.new_instance()  # type: ignore[attr-defined]
    obj.__dict__.update(zip(keys, values, strict=True))
    return cast(T, obj)


class RawTransaction:
    """The part of a Connection the PUT transaction uses (scalar, scalars, execute), run straight on a pooled
    DBAPI connection. Statements (module-level constants) are compiled once per engine and parameter set
    (:class:`Compiled`)."""

    def __init__(self, engine: Engine, cache: dict[Any, Any]) -> None:
        self.dialect = engine.dialect
        self._cache = cache
        self._conn: Any = engine.raw_connection()
        self._cur: Any = self._conn.cursor()

    def _run(self, stmt: Any, params: dict[str, Any] | list[dict[str, Any]]) -> None:
        rows = params if isinstance(params, list) else [params]
        if not rows:
            return
        ck = (id(stmt), tuple(sorted(rows[0])))
        c = self._cache.get(ck)
        if c is None:
            c = self._cache[ck] = Compiled(self.dialect, stmt, ck[1])
        if isinstance(params, list):
            self._cur.executemany(c.sql, [c.args(r) for r in rows])
        else:
            self._cur.execute(c.sql, c.args(params))

    def execute(self, stmt: Any, params: dict[str, Any] | list[dict[str, Any]]) -> None:
        self._run(stmt, params)

    def scalars(self, stmt: Any, params: dict[str, Any]) -> list[Any]:
        self._run(stmt, params)
        return [row[0] for row in self._cur.fetchall()]

    def scalar(self, stmt: Any, params: dict[str, Any]) -> Any:
        got = self.scalars(stmt, params)
        return got[0] if got else None

    def row(self, stmt: Any, params: dict[str, Any]) -> tuple[Any, ...] | None:
        self._run(stmt, params)
        got = self._cur.fetchone()
        return tuple(got) if got is not None else None

    def driver(self, sql: str, params: Sequence[Any], many: bool = False) -> tuple[Any, ...] | None:
        """Run SQL in the driver's own paramstyle (statements whose values need no type conversion); the first row."""
        if many:
            self._cur.executemany(sql, params)
            return None
        self._cur.execute(sql, params)
        got = self._cur.fetchone() if self._cur.description else None
        return tuple(got) if got is not None else None

    def begin(self) -> None:
        if self.dialect.name == "sqlite":
            self._cur.execute("BEGIN IMMEDIATE")  # autocommit driver (make_engine): explicit, write-locked

    def commit(self) -> None:
        self._conn.commit() if self.dialect.name != "sqlite" else self._cur.execute("COMMIT")

    def rollback(self) -> None:
        self._conn.rollback() if self.dialect.name != "sqlite" else self._cur.execute("ROLLBACK")

    def close(self) -> None:
        self._cur.close()
        self._conn.close()


class ConnTx:
    """A Connection seen as the few methods the audit chain appends with (like RawTransaction's)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.dialect = conn.dialect

    def execute(self, stmt: Any, params: dict[str, Any] | list[dict[str, Any]]) -> None:
        self.conn.execute(stmt, params)

    def row(self, stmt: Any, params: dict[str, Any]) -> tuple[Any, ...] | None:
        got = self.conn.execute(stmt, params).first()
        return tuple(got) if got is not None else None

    def driver(self, sql: str, params: Sequence[Any], many: bool = False) -> tuple[Any, ...] | None:
        if many:
            self.conn.exec_driver_sql(sql, [tuple(p) for p in params])
            return None
        result = self.conn.exec_driver_sql(sql, tuple(params))
        got = result.first() if result.returns_rows else None
        return tuple(got) if got is not None else None


class WriteHook(Protocol):
    """The audit log's unit-of-work hook (set once per process): the entry of the operation a writing transaction
    belongs to is appended in it, just before it commits."""

    def before_commit(self, tx: Any) -> None:
        """Append the current operation's entry (if any, and not yet written) in ``tx``."""

    def rolled_back(self) -> None:
        """The transaction ``before_commit`` appended to did not commit."""


def detached(cls: type[T], **values: Any) -> T:
    """A new model instance holding ``values`` (plain attribute writes: no ORM events, it joins no session)."""
    obj = cls.__mapper__.class_manager.new_instance()  # type: ignore[attr-defined]
    obj.__dict__.update(values)
    return cast(T, obj)


def column_values(obj: Any, table: Table) -> dict[str, Any]:
    """The column values set on a model instance, unset ones filled with their columns' scalar defaults (an
    insert on a RawTransaction does not apply Python-side defaults itself)."""
    d = obj.__dict__
    out = {}
    for c in table.c:
        if c.key in d:
            out[c.key] = d[c.key]
        elif c.default is not None and c.default.is_scalar:
            out[c.key] = c.default.arg  # type: ignore[attr-defined]
    return out


def _stored(row: Sequence[Any], at: int, rows: Sequence[Sequence[Any]]) -> StoredObject:
    n = len(_OBJECT_KEYS)
    record = snapshot(ObjectRecord, _OBJECT_KEYS, row[at : at + n])
    return StoredObject(record, [snapshot(ObjectPart, _PART_KEYS, r[at + n :]) for r in rows])


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


#: Statements that take a list of ids run once per id (executemany) rather than with ``IN (?, ?, ...)``: each length
#: of an IN list is another statement, and the driver keeps up to 128 prepared statements per pooled connection
#: (SQLAlchemy its compiled forms too). The sweeper forgets a different number of blobs every 10 s, so over half an
#: hour the cached DELETEs of 1 to 1,000 ids, ~100 KB each for the long ones, grew the gateway by ~0.2 MiB a
#: minute (the soak, docs/BENCHMARKS.md).
#: (Core statements on the session's connection: the ORM has no executemany DELETE.)
_FORGET_GARBAGE = delete(BlobGarbage).where(BlobGarbage.blob_id == bindparam("blob"))
_DROP_PARTS = delete(ObjectPart).where(ObjectPart.object_id == bindparam("object"))
_DROP_OBJECT = delete(ObjectRecord).where(ObjectRecord.id == bindparam("object"))

SQLITE_CACHE_KIB = 1024  # per-connection SQLite page cache bound (KiB)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # a pool as large as the worker thread pool: reopening a connection re-runs the pragmas below
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=32, max_overflow=32
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # pysqlite would BEGIN (DEFERRED) only at the first write, after the reads that decided it.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            # Each connection keeps its own page cache; the default (2 MB) fills slowly with the audit log's
            # ever-new pages, so a gateway's RSS climbed by ~2 MB per pooled connection over half an hour of
            # traffic. 1 MiB holds the hot pages (buckets, the objects index) and reaches its bound within minutes.
            cur.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            options = conn.get_execution_options()
            # SQLite has no SELECT ... FOR UPDATE: a writing transaction takes the write lock before its
            # first read, so read-then-write transactions serialize (and wait on busy_timeout, not fail).
            # Read-only sessions (Repository.reading) begin deferred and run beside writers (WAL).
            conn.exec_driver_sql("BEGIN" if options.get("sr_read") else "BEGIN IMMEDIATE")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


@dataclass
class StoredObject:
    """An object row with its parts, ordered by part number."""

    record: ObjectRecord
    parts: list[ObjectPart]


@dataclass
class ListedUpload:
    upload: MultipartUpload


class Repository:
    def __init__(self, engine: Engine) -> None:
        configure_mappers()  # snapshot() builds instances through the class managers
        self.engine = engine
        self._select_bucket = PreparedSelect(engine, _SELECT_BUCKET)
        self._select_object = PreparedSelect(engine, _SELECT_OBJECT)
        self._select_bucket_and_object = PreparedSelect(engine, _SELECT_BUCKET_AND_OBJECT)
        self._raw_statements: dict[Any, Any] = {}
        if engine.dialect.name == "postgresql":
            self._insert_garbage: Any = pg_insert(GARBAGE).on_conflict_do_nothing(index_elements=["blob_id"])
        else:
            self._insert_garbage = sqlite_insert(GARBAGE).on_conflict_do_nothing(index_elements=["blob_id"])
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._write_lock: AbstractContextManager[Any] = (
            threading.Lock() if engine.dialect.name == "sqlite" else nullcontext()
        )
        self.on_write: WriteHook | None = None
        self._dedicated_lock = threading.Lock()

    @classmethod
    def open(cls, url: str, run_migrations: bool = True) -> Repository:
        engine = make_engine(url)
        if run_migrations:
            migrate(engine)
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A read-write transaction (committed on success).

        On SQLite, writers in this process queue on a lock first: SQLite's own busy handler makes waiting
        writers sleep in growing steps (up to 100 ms), which collapses throughput under concurrency.
        """
        hook = self.on_write
        with self._write_lock:
            try:
                with self._sessions.begin() as s:
                    yield s
                    if hook is not None:
                        hook.before_commit(ConnTx(s.connection()))
            except BaseException:
                if hook is not None:
                    hook.rolled_back()
                raise

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only transaction: on SQLite it does not take the write lock."""
        with self._sessions() as s:
            s.connection(execution_options={"sr_read": True})
            yield s

    @contextmanager
    def raw_writing(self, audited: bool = True) -> Iterator[RawTransaction]:
        """A read-write transaction on a DBAPI connection, committed on success (the hot paths' ``session``).
        ``audited=False``: the audit log's own writes (no operation's entry joins them)."""
        hook = self.on_write if audited else None
        with self._write_lock:
            tx = RawTransaction(self.engine, self._raw_statements)
            try:
                tx.begin()
                try:
                    yield tx
                    if hook is not None:
                        hook.before_commit(tx)
                    tx.commit()
                except BaseException:
                    if hook is not None:
                        hook.rolled_back()
                    with contextlib.suppress(Exception):
                        tx.rollback()
                    raise
            finally:
                tx.close()

    @contextmanager
    def dedicated_writing(self, slot: list[RawTransaction]) -> Iterator[RawTransaction]:
        """Like :meth:`raw_writing` (never audited) on a connection kept in ``slot`` between calls: for a writer that
        runs one transaction at a time (the audit log's group commit), without a pool checkout per transaction."""
        with self._write_lock if self.engine.dialect.name == "sqlite" else self._dedicated_lock:
            if not slot:
                slot.append(RawTransaction(self.engine, self._raw_statements))
            tx = slot[0]
            try:
                tx.begin()
                yield tx
                tx.commit()
            except BaseException:
                slot.clear()
                with contextlib.suppress(Exception):
                    tx.rollback()
                with contextlib.suppress(Exception):
                    tx.close()
                raise

    def ping(self) -> bool:
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        return True

    # --- tenants, users, groups, access keys ------------------------------
    def ensure_tenant(self, tenant_id: str, canonical_id: str, public_access_block: str | None) -> Tenant:
        """The tenant, created with these settings when it does not exist yet (idempotent, race-safe)."""
        try:
            with self.session() as s:
                t = s.get(Tenant, tenant_id)
                if t is None:
                    t = Tenant(
                        id=tenant_id,
                        name=tenant_id,
                        created_at=_now(),
                        canonical_id=canonical_id,
                        public_access_block=public_access_block,
                    )
                    s.add(t)
                elif t.canonical_id is None:  # a tenant from before 0004
                    t.canonical_id = canonical_id
                    t.public_access_block = public_access_block
                return t
        except IntegrityError:
            got = self.get_tenant(tenant_id)
            if got is None:
                raise
            return got

    def create_tenant(self, tenant: Tenant) -> Tenant:
        try:
            with self.session() as s:
                s.add(tenant)
            return tenant
        except IntegrityError as exc:
            raise errors.EntityAlreadyExists(f"tenant {tenant.id} already exists") from exc

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        with self.reading() as s:
            return s.get(Tenant, tenant_id)

    def tenant_by_canonical_id(self, canonical_id: str) -> Tenant | None:
        with self.reading() as s:
            return s.scalars(select(Tenant).where(Tenant.canonical_id == canonical_id)).first()

    def list_tenants(self) -> list[Tenant]:
        with self.reading() as s:
            return list(s.scalars(select(Tenant).order_by(Tenant.id)))

    def set_tenant_public_access_block(self, tenant_id: str, value: str | None) -> None:
        """Set the tenant-wide block; every bucket of the tenant moves its ``access_version`` in the same
        transaction, so every gateway decides again on them (service/access.py: confirm)."""
        with self.session() as s:
            s.execute(update(Tenant).where(Tenant.id == tenant_id).values(public_access_block=value))
            s.execute(
                update(Bucket).where(Bucket.tenant_id == tenant_id).values(access_version=Bucket.access_version + 1)
            )

    def delete_tenant(self, tenant_id: str) -> None:
        """Delete an empty tenant (no buckets); its users, groups and access key rows go with it."""
        with self.session() as s:
            if s.scalar(select(Bucket.id).where(Bucket.tenant_id == tenant_id).limit(1)) is not None:
                raise errors.DeleteConflict(f"tenant {tenant_id} still has buckets")
            s.execute(delete(AccessKey).where(AccessKey.tenant_id == tenant_id))
            s.execute(delete(GroupMember).where(GroupMember.tenant_id == tenant_id))
            s.execute(delete(Group).where(Group.tenant_id == tenant_id))
            s.execute(delete(User).where(User.tenant_id == tenant_id))
            s.execute(delete(Tenant).where(Tenant.id == tenant_id))

    def ensure_user(self, tenant_id: str, name: str, is_admin: bool) -> User:
        try:
            with self.session() as s:
                u = s.get(User, (tenant_id, name))
                if u is None:
                    u = User(tenant_id=tenant_id, name=name, is_admin=is_admin, policy=None, created_at=_now())
                    s.add(u)
                return u
        except IntegrityError:
            got = self.get_user(tenant_id, name)
            if got is None:
                raise
            return got

    def create_user(self, user: User) -> User:
        try:
            with self.session() as s:
                if s.get(Tenant, user.tenant_id) is None:
                    raise errors.NoSuchEntity(f"tenant {user.tenant_id} does not exist")
                s.add(user)
            return user
        except IntegrityError as exc:
            raise errors.EntityAlreadyExists(f"user {user.tenant_id}/{user.name} already exists") from exc

    def get_user(self, tenant_id: str, name: str) -> User | None:
        with self.reading() as s:
            return s.get(User, (tenant_id, name))

    def list_users(self, tenant_id: str) -> list[User]:
        with self.reading() as s:
            return list(s.scalars(select(User).where(User.tenant_id == tenant_id).order_by(User.name)))

    def set_user_policy(self, tenant_id: str, name: str, policy: str | None) -> None:
        with self.session() as s:
            res = s.execute(update(User).where(User.tenant_id == tenant_id, User.name == name).values(policy=policy))
            if getattr(res, "rowcount", 0) != 1:
                raise errors.NoSuchEntity(f"user {tenant_id}/{name} does not exist")

    def delete_user(self, tenant_id: str, name: str) -> list[str]:
        """Delete a user with its group memberships and access key rows; the deleted key ids (their vault
        records are the caller's to remove)."""
        with self.session() as s:
            if s.get(User, (tenant_id, name)) is None:
                raise errors.NoSuchEntity(f"user {tenant_id}/{name} does not exist")
            keys = list(
                s.scalars(
                    select(AccessKey.access_key_id).where(AccessKey.tenant_id == tenant_id, AccessKey.user_name == name)
                )
            )
            s.execute(delete(AccessKey).where(AccessKey.tenant_id == tenant_id, AccessKey.user_name == name))
            s.execute(delete(GroupMember).where(GroupMember.tenant_id == tenant_id, GroupMember.user_name == name))
            s.execute(delete(User).where(User.tenant_id == tenant_id, User.name == name))
            return keys

    def create_group(self, group: Group) -> Group:
        try:
            with self.session() as s:
                if s.get(Tenant, group.tenant_id) is None:
                    raise errors.NoSuchEntity(f"tenant {group.tenant_id} does not exist")
                s.add(group)
            return group
        except IntegrityError as exc:
            raise errors.EntityAlreadyExists(f"group {group.tenant_id}/{group.name} already exists") from exc

    def get_group(self, tenant_id: str, name: str) -> Group | None:
        with self.reading() as s:
            return s.get(Group, (tenant_id, name))

    def list_groups(self, tenant_id: str) -> list[Group]:
        with self.reading() as s:
            return list(s.scalars(select(Group).where(Group.tenant_id == tenant_id).order_by(Group.name)))

    def set_group_policy(self, tenant_id: str, name: str, policy: str | None) -> None:
        with self.session() as s:
            res = s.execute(update(Group).where(Group.tenant_id == tenant_id, Group.name == name).values(policy=policy))
            if getattr(res, "rowcount", 0) != 1:
                raise errors.NoSuchEntity(f"group {tenant_id}/{name} does not exist")

    def delete_group(self, tenant_id: str, name: str) -> None:
        with self.session() as s:
            if s.get(Group, (tenant_id, name)) is None:
                raise errors.NoSuchEntity(f"group {tenant_id}/{name} does not exist")
            s.execute(delete(GroupMember).where(GroupMember.tenant_id == tenant_id, GroupMember.group_name == name))
            s.execute(delete(Group).where(Group.tenant_id == tenant_id, Group.name == name))

    def add_group_member(self, tenant_id: str, group: str, user: str) -> None:
        with self.session() as s:
            if s.get(Group, (tenant_id, group)) is None:
                raise errors.NoSuchEntity(f"group {tenant_id}/{group} does not exist")
            if s.get(User, (tenant_id, user)) is None:
                raise errors.NoSuchEntity(f"user {tenant_id}/{user} does not exist")
            if s.get(GroupMember, (tenant_id, group, user)) is None:
                s.add(GroupMember(tenant_id=tenant_id, group_name=group, user_name=user))

    def remove_group_member(self, tenant_id: str, group: str, user: str) -> None:
        with self.session() as s:
            s.execute(
                delete(GroupMember).where(
                    GroupMember.tenant_id == tenant_id, GroupMember.group_name == group, GroupMember.user_name == user
                )
            )

    def group_members(self, tenant_id: str, group: str) -> list[str]:
        with self.reading() as s:
            return list(
                s.scalars(
                    select(GroupMember.user_name)
                    .where(GroupMember.tenant_id == tenant_id, GroupMember.group_name == group)
                    .order_by(GroupMember.user_name)
                )
            )

    def user_groups(self, tenant_id: str, user: str) -> list[Group]:
        """The groups a user belongs to (with their policies)."""
        with self.reading() as s:
            return list(
                s.scalars(
                    select(Group)
                    .join(
                        GroupMember,
                        (GroupMember.tenant_id == Group.tenant_id) & (GroupMember.group_name == Group.name),
                    )
                    .where(GroupMember.tenant_id == tenant_id, GroupMember.user_name == user)
                    .order_by(Group.name)
                )
            )

    def create_access_key(self, key: AccessKey) -> AccessKey:
        try:
            with self.session() as s:
                if s.get(User, (key.tenant_id, key.user_name)) is None:
                    raise errors.NoSuchEntity(f"user {key.tenant_id}/{key.user_name} does not exist")
                s.add(key)
            return key
        except IntegrityError as exc:
            raise errors.EntityAlreadyExists(f"access key {key.access_key_id} already exists") from exc

    def ensure_access_key(self, key: AccessKey) -> AccessKey:
        try:
            with self.session() as s:
                got = s.get(AccessKey, key.access_key_id)
                if got is None:
                    s.add(key)
                    got = key
                return got
        except IntegrityError:
            again = self.get_access_key(key.access_key_id)
            if again is None:
                raise
            return again

    def get_access_key(self, access_key_id: str) -> AccessKey | None:
        with self.reading() as s:
            return s.get(AccessKey, access_key_id)

    def list_access_keys(self, tenant_id: str, user: str | None = None) -> list[AccessKey]:
        with self.reading() as s:
            q = select(AccessKey).where(AccessKey.tenant_id == tenant_id)
            if user is not None:
                q = q.where(AccessKey.user_name == user)
            return list(s.scalars(q.order_by(AccessKey.user_name, AccessKey.created_at)))

    def set_access_key_status(self, access_key_id: str, status: str) -> None:
        with self.session() as s:
            s.execute(update(AccessKey).where(AccessKey.access_key_id == access_key_id).values(status=status))

    def delete_access_key(self, access_key_id: str) -> None:
        with self.session() as s:
            s.execute(delete(AccessKey).where(AccessKey.access_key_id == access_key_id))

    def touch_access_key(self, access_key_id: str, when: dt.datetime) -> None:
        """Record a use (callers rate-limit this: it is a write)."""
        with self.session() as s:
            s.execute(update(AccessKey).where(AccessKey.access_key_id == access_key_id).values(last_used_at=when))

    def count_buckets(self, tenant_id: str) -> int:
        with self.reading() as s:
            return int(s.scalar(select(func.count()).select_from(Bucket).where(Bucket.tenant_id == tenant_id)) or 0)

    # --- infrastructure keys (layer 2 KEKs) ------------------------------
    def latest_infra_version(self, region: str) -> InfraKeyVersion | None:
        with self.reading() as s:
            return s.scalars(
                select(InfraKeyVersion)
                .where(InfraKeyVersion.region == region)
                .order_by(InfraKeyVersion.version.desc())
                .limit(1)
            ).first()

    def get_infra_version(self, region: str, version: int) -> InfraKeyVersion | None:
        with self.reading() as s:
            return s.get(InfraKeyVersion, (region, version))

    def add_infra_version(self, region: str, version: int, material_sealed: bytes) -> None:
        try:
            with self.session() as s:
                s.add(
                    InfraKeyVersion(region=region, version=version, material_sealed=material_sealed, created_at=_now())
                )
        except IntegrityError as exc:
            raise errors.Conflict(f"infrastructure key {region} v{version} exists") from exc

    # --- buckets ---------------------------------------------------------
    def create_bucket(self, bucket: Bucket) -> Bucket:
        try:
            with self.session() as s:
                s.add(bucket)
            return bucket
        except IntegrityError as exc:
            existing = self.get_bucket(bucket.name)
            if existing is None:
                raise errors.Conflict(f"bucket {bucket.name} could not be created") from exc
            if existing.tenant_id == bucket.tenant_id:
                raise errors.BucketAlreadyOwnedByYou(BucketName=bucket.name) from exc
            raise errors.BucketAlreadyExists(BucketName=bucket.name) from exc

    def get_bucket(self, name: str) -> Bucket | None:
        rows = self._select_bucket.all(name=name)
        return snapshot(Bucket, _BUCKET_KEYS, rows[0]) if rows else None

    def list_buckets(self, tenant_id: str) -> list[Bucket]:
        with self.reading() as s:
            return list(s.scalars(select(Bucket).where(Bucket.tenant_id == tenant_id).order_by(Bucket.name)))

    def delete_bucket(self, bucket: Bucket) -> None:
        with self.session() as s:
            has_obj = s.scalar(select(ObjectRecord.id).where(ObjectRecord.bucket_id == bucket.id).limit(1))
            if has_obj is not None:
                raise errors.BucketNotEmpty(BucketName=bucket.name)
            uploads = list(s.scalars(select(MultipartUpload.upload_id).where(MultipartUpload.bucket_id == bucket.id)))
            for upload_id in uploads:
                self._drop_upload(s, upload_id, bucket.region)
            s.execute(delete(BucketCors).where(BucketCors.bucket_id == bucket.id))
            s.execute(delete(Bucket).where(Bucket.id == bucket.id))

    # --- a tenant's crypto-shred (service/shred.py) -----------------------
    def bucket_inventory(self, bucket_id: str) -> dict[str, Any]:
        """What a bucket holds: objects and their bytes (in all and per SSE mode), multipart uploads in progress and
        the bytes of their parts."""
        with self.reading() as s:
            by_mode = s.execute(
                select(ObjectRecord.sse_mode, func.count(), func.coalesce(func.sum(ObjectRecord.size), 0))
                .where(ObjectRecord.bucket_id == bucket_id)
                .group_by(ObjectRecord.sse_mode)
            ).all()
            uploads = s.scalar(
                select(func.count()).select_from(MultipartUpload).where(MultipartUpload.bucket_id == bucket_id)
            )
            upload_bytes = s.scalar(
                select(func.coalesce(func.sum(UploadPart.size), 0))
                .select_from(UploadPart)
                .join(MultipartUpload, MultipartUpload.upload_id == UploadPart.upload_id)
                .where(MultipartUpload.bucket_id == bucket_id)
            )
        modes = {str(mode): {"objects": int(n), "bytes": int(b)} for mode, n, b in by_mode}
        return {
            "objects": sum(m["objects"] for m in modes.values()),
            "bytes": sum(m["bytes"] for m in modes.values()),
            "by_sse": modes,
            "uploads": int(uploads or 0),
            "upload_bytes": int(upload_bytes or 0),
        }

    def drop_bucket_contents(self, bucket: Bucket, limit: int = 500) -> tuple[int, list[str]]:
        """Delete up to ``limit`` objects and ``limit`` multipart uploads of ``bucket`` in one transaction, their blobs
        queued as garbage: ``(rows deleted, blob ids queued)``; ``(0, [])`` once the bucket is empty."""
        with self.session() as s:
            ids = list(s.scalars(select(ObjectRecord.id).where(ObjectRecord.bucket_id == bucket.id).limit(limit)))
            blobs: list[str] = []
            if ids:
                for object_id in ids:  # fixed statements, not an IN list whose length varies (_FORGET_GARBAGE)
                    blobs += s.scalars(select(ObjectPart.blob_id).where(ObjectPart.object_id == object_id))
                s.connection().execute(_DROP_PARTS, [{"object": i} for i in ids])
                s.connection().execute(_DROP_OBJECT, [{"object": i} for i in ids])
                self._garbage(s.connection(), blobs, bucket.region)
            uploads = list(
                s.scalars(select(MultipartUpload.upload_id).where(MultipartUpload.bucket_id == bucket.id).limit(limit))
            )
            for upload_id in uploads:
                blobs += s.scalars(select(UploadPart.blob_id).where(UploadPart.upload_id == upload_id))
                self._drop_upload(s, upload_id, bucket.region)
            return len(ids) + len(uploads), blobs

    def set_bucket_access(self, bucket_id: str, **values: str | None) -> None:
        """Change a bucket's policy, acl, public_access_block or ownership (JSON text or None) and bump its
        access_version, in one statement."""
        allowed = {"policy", "acl", "public_access_block", "ownership"}
        if not values or set(values) - allowed:
            raise ValueError(f"unknown bucket access fields: {sorted(set(values) - allowed)}")
        with self.session() as s:
            s.execute(
                update(Bucket).where(Bucket.id == bucket_id).values(access_version=Bucket.access_version + 1, **values)
            )

    def set_object_acl(self, bucket_id: str, key: str, acl: str | None) -> bool:
        with self.session() as s:
            res = s.execute(
                update(ObjectRecord).where(ObjectRecord.bucket_id == bucket_id, ObjectRecord.key == key).values(acl=acl)
            )
            return bool(getattr(res, "rowcount", 0) == 1)

    def set_bucket_encryption(
        self, bucket_id: str, sse_algorithm: str, kms_key_id: str | None, bucket_key_enabled: bool, configured: bool
    ) -> None:
        with self.session() as s:
            s.execute(
                update(Bucket)
                .where(Bucket.id == bucket_id)
                .values(
                    sse_algorithm=sse_algorithm,
                    kms_key_id=kms_key_id,
                    bucket_key_enabled=bucket_key_enabled,
                    encryption_configured=configured,
                )
            )

    # --- CORS ------------------------------------------------------------
    def bucket_cors(self, name: str) -> tuple[str, str, str | None] | None:
        """(bucket id, tenant id, CORS configuration JSON or None) of the bucket named ``name``, in one statement;
        None when no bucket has that name."""
        with self.reading() as s:
            row = s.execute(
                select(Bucket.id, Bucket.tenant_id, BucketCors.configuration)
                .select_from(Bucket)
                .outerjoin(BucketCors, BucketCors.bucket_id == Bucket.id)
                .where(Bucket.name == name)
            ).first()
        return (str(row[0]), str(row[1]), row[2]) if row is not None else None

    def get_bucket_cors(self, bucket_id: str) -> str | None:
        with self.reading() as s:
            return s.scalar(select(BucketCors.configuration).where(BucketCors.bucket_id == bucket_id))

    def set_bucket_cors(self, bucket_id: str, configuration: str | None) -> None:
        """Replace (or, with None, delete) a bucket's CORS configuration. A bucket deleted meanwhile: NoSuchBucket."""
        with self.session() as s:
            if configuration is None:
                s.execute(delete(BucketCors).where(BucketCors.bucket_id == bucket_id))
                return
            values = {"bucket_id": bucket_id, "configuration": configuration, "updated_at": _now()}
            upsert = pg_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
            try:
                s.execute(
                    upsert(BucketCors)
                    .values(**values)
                    .on_conflict_do_update(
                        index_elements=["bucket_id"],
                        set_={"configuration": configuration, "updated_at": values["updated_at"]},
                    )
                )
                s.flush()
            except IntegrityError as exc:  # the bucket row went away (foreign key)
                raise errors.NoSuchBucket("The specified bucket does not exist") from exc

    # --- objects ---------------------------------------------------------
    def get_object(self, bucket_id: str, key: str) -> StoredObject | None:
        rows = self._select_object.all(bucket_id=bucket_id, key=key)
        return _stored(rows[0], 0, rows) if rows else None

    def get_bucket_and_object(self, name: str, key: str) -> tuple[Bucket | None, StoredObject | None]:
        """A bucket by name and its object at key, in one statement (the GET/HEAD hot path)."""
        rows = self._select_bucket_and_object.all(name=name, key=key)
        if not rows:
            return None, None
        nb = len(_BUCKET_KEYS)
        bucket = snapshot(Bucket, _BUCKET_KEYS, rows[0][:nb])
        if rows[0][nb] is None:  # objects.id: no object at key
            return bucket, None
        return bucket, _stored(rows[0], nb, rows)

    def _garbage(self, c: Connection | RawTransaction, blob_ids: Sequence[str], region: str) -> None:
        """Queue blobs for deletion (once each)."""
        now = _now()
        rows = [{"blob_id": b, "region": region, "enqueued_at": now} for b in dict.fromkeys(blob_ids)]
        if rows:
            c.execute(self._insert_garbage, rows)

    def _drop_object(self, c: Connection | RawTransaction, bucket_id: str, key: str, region: str) -> bool:
        if c.dialect.name == "postgresql":
            # FOR UPDATE cannot lock a key that has no row yet: serialize the writers of (bucket, key).
            c.execute(_ADVISORY_LOCK, {"lock_key": f"{bucket_id}/{key}"})
        object_id = c.scalar(_LOCK_OBJECT, {"bucket_id": bucket_id, "key": key})
        if object_id is None:
            return False
        blobs = list(c.scalars(_PART_BLOBS, {"object_id": object_id}))
        c.execute(_DELETE_PARTS, {"object_id": object_id})
        c.execute(_DELETE_OBJECT, {"object_id": object_id})
        self._garbage(c, blobs, region)
        return True

    def _replace_object(
        self, c: Connection | RawTransaction, record: ObjectRecord, parts: list[ObjectPart], region: str
    ) -> None:
        """Drop the current version at the record's key, insert the record and its parts (sets their ids)."""
        self._drop_object(c, record.bucket_id, record.key, region)
        values = column_values(record, OBJECTS)
        values.pop("id", None)
        record.id = c.scalar(_INSERT_OBJECT, values)
        for part in parts:
            part.object_id = record.id
        c.execute(_INSERT_PARTS, [column_values(p, PARTS) for p in parts])

    def put_object(self, record: ObjectRecord, parts: list[ObjectPart], region: str) -> None:
        """Publish an object version, replacing the current one, in one transaction."""
        with self.raw_writing() as tx:
            self._replace_object(tx, record, parts, region)

    def delete_object(self, bucket_id: str, key: str, region: str) -> bool:
        with self.raw_writing() as tx:
            return self._drop_object(tx, bucket_id, key, region)

    def list_objects(self, bucket_id: str, prefix: str, after: str | None, limit: int) -> list[ObjectRecord]:
        """Objects whose key starts with prefix and sorts after `after`, in UTF-8 byte order."""
        with self.reading() as s:
            q = select(ObjectRecord).where(ObjectRecord.bucket_id == bucket_id)
            if prefix:
                q = q.where(ObjectRecord.key >= prefix)
                upper = _prefix_upper_bound(prefix)
                if upper is not None:
                    q = q.where(ObjectRecord.key < upper)
            if after is not None:
                q = q.where(ObjectRecord.key > after)
            return list(s.scalars(q.order_by(ObjectRecord.key).limit(limit)))

    def get_parts(self, object_id: int) -> list[ObjectPart]:
        with self.reading() as s:
            return list(
                s.scalars(select(ObjectPart).where(ObjectPart.object_id == object_id).order_by(ObjectPart.part_number))
            )

    # --- multipart uploads ----------------------------------------------
    def create_upload(self, upload: MultipartUpload) -> None:
        with self.session() as s:
            s.add(upload)

    def get_upload(self, bucket_id: str, upload_id: str) -> MultipartUpload | None:
        with self.reading() as s:
            up = s.get(MultipartUpload, upload_id)
            if up is None or up.bucket_id != bucket_id:
                return None
            return up

    def put_upload_part(self, part: UploadPart, region: str) -> None:
        with self.session() as s:
            # Lock the upload: serializes writers of its parts and waits out a concurrent complete/abort.
            if s.get(MultipartUpload, part.upload_id, with_for_update={"key_share": True}) is None:
                raise errors.NoSuchUpload(UploadId=part.upload_id)
            old = s.get(UploadPart, (part.upload_id, part.part_number))
            if old is not None:
                self._garbage(s.connection(), [old.blob_id], region)
                s.delete(old)
                s.flush()
            s.add(part)

    def list_upload_parts(self, upload_id: str, after_part: int = 0, limit: int = 10000) -> list[UploadPart]:
        with self.reading() as s:
            return list(
                s.scalars(
                    select(UploadPart)
                    .where(UploadPart.upload_id == upload_id, UploadPart.part_number > after_part)
                    .order_by(UploadPart.part_number)
                    .limit(limit)
                )
            )

    def _drop_upload(self, s: Session, upload_id: str, region: str, keep: Sequence[str] = ()) -> None:
        blobs = [
            b for b in s.scalars(select(UploadPart.blob_id).where(UploadPart.upload_id == upload_id)) if b not in keep
        ]
        s.execute(delete(UploadPart).where(UploadPart.upload_id == upload_id))
        s.execute(delete(MultipartUpload).where(MultipartUpload.upload_id == upload_id))
        self._garbage(s.connection(), blobs, region)

    def abort_upload(self, upload_id: str, region: str) -> bool:
        with self.session() as s:
            if s.get(MultipartUpload, upload_id) is None:
                return False
            self._drop_upload(s, upload_id, region)
            return True

    def complete_upload(self, upload_id: str, record: ObjectRecord, parts: list[ObjectPart], region: str) -> None:
        """Atomically: publish the object from the chosen parts, drop the upload and unused part blobs."""
        with self.session() as s:
            if s.get(MultipartUpload, upload_id, with_for_update=True) is None:
                raise errors.NoSuchUpload(UploadId=upload_id)
            self._drop_upload(s, upload_id, region, keep=[p.blob_id for p in parts])
            s.flush()
            self._replace_object(s.connection(), record, parts, region)

    def list_uploads(
        self, bucket_id: str, prefix: str, key_marker: str | None, upload_id_marker: str | None, limit: int
    ) -> list[MultipartUpload]:
        with self.reading() as s:
            q = select(MultipartUpload).where(MultipartUpload.bucket_id == bucket_id)
            if prefix:
                q = q.where(MultipartUpload.key >= prefix)
                upper = _prefix_upper_bound(prefix)
                if upper is not None:
                    q = q.where(MultipartUpload.key < upper)
            if key_marker is not None:
                if upload_id_marker:
                    q = q.where(
                        (MultipartUpload.key > key_marker)
                        | ((MultipartUpload.key == key_marker) & (MultipartUpload.upload_id > upload_id_marker))
                    )
                else:
                    q = q.where(MultipartUpload.key > key_marker)
            # The order the markers compare in; ordering by `initiated` made paging skip and repeat uploads.
            q = q.order_by(MultipartUpload.key, MultipartUpload.upload_id).limit(limit)
            return list(s.scalars(q))

    # --- garbage ---------------------------------------------------------
    def take_garbage(self, limit: int = 1000, older_than: dt.datetime | None = None) -> list[BlobGarbage]:
        """Queued garbage, oldest first; only entries enqueued before ``older_than`` when given."""
        with self.reading() as s:
            q = select(BlobGarbage)
            if older_than is not None:
                q = q.where(BlobGarbage.enqueued_at < older_than)
            return list(s.scalars(q.order_by(BlobGarbage.enqueued_at).limit(limit)))

    # --- backup leases ---------------------------------------------------
    def hold_backup(self, lease_id: str, held_since: dt.datetime, expires_at: dt.datetime) -> None:
        """Take or extend a backup lease (every gateway's sweeper honours it, see :meth:`garbage_held_since`)."""
        with self.session() as s:
            row = s.get(BackupLease, lease_id)
            if row is None:
                s.add(BackupLease(id=lease_id, held_since=held_since, expires_at=expires_at))
            else:
                row.expires_at = expires_at

    def release_backup(self, lease_id: str) -> None:
        with self.session() as s:
            s.execute(delete(BackupLease).where(BackupLease.id == lease_id))

    def garbage_held_since(self, now: dt.datetime) -> dt.datetime | None:
        """The earliest ``held_since`` of the unexpired backup leases: garbage queued at or after it stays."""
        with self.reading() as s:
            got: dt.datetime | None = s.scalar(
                select(func.min(BackupLease.held_since)).where(BackupLease.expires_at > now)
            )
        return got

    def count_garbage(self) -> int:
        """Blobs queued for the sweeper (the metrics' queue length)."""
        with self.reading() as s:
            return int(s.scalar(select(func.count()).select_from(BlobGarbage)) or 0)

    def forget_garbage(self, blob_ids: Sequence[str]) -> None:
        if not blob_ids:
            return
        with self.session() as s:  # one statement however many ids (executemany): see _FORGET_GARBAGE
            s.connection().execute(_FORGET_GARBAGE, [{"blob": b} for b in blob_ids])

    def blob_referenced(self, blob_id: str) -> bool:
        with self.reading() as s:
            if s.scalar(select(ObjectPart.object_id).where(ObjectPart.blob_id == blob_id).limit(1)) is not None:
                return True
            if s.scalar(select(UploadPart.upload_id).where(UploadPart.blob_id == blob_id).limit(1)) is not None:
                return True
            return s.get(BlobGarbage, blob_id) is not None


def _prefix_upper_bound(prefix: str) -> str | None:
    """Smallest string greater than every string starting with prefix (code-point order = UTF-8 order)."""
    chars = list(prefix)
    while chars:
        last = ord(chars[-1])
        if last < 0x10FFFF:
            nxt = last + 1
            if 0xD800 <= nxt <= 0xDFFF:
                nxt = 0xE000
            chars[-1] = chr(nxt)
            return "".join(chars)
        chars.pop()
    return None


@dataclass
class WrappedPart:
    """One sealed part's layer-1 wrap, as rewrap sees it."""

    table: str  # "object_parts" | "upload_parts"
    pk: tuple[object, int]  # (object id or upload id, part number)
    key: str
    version_id: str
    part_number: int
    sse_mode: str
    kms_context: str | None
    kek_id: str
    kek_version: int
    wrapped_dek1: bytes


def _iter_wrapped(repo: Repository, bucket_id: str, batch: int = 500) -> Iterator[WrappedPart]:
    with repo.session() as s:
        rows = s.execute(
            select(
                ObjectRecord.id,
                ObjectRecord.key,
                ObjectRecord.version_id,
                ObjectRecord.sse_mode,
                ObjectRecord.kms_context,
                ObjectPart.part_number,
                ObjectPart.kek_id,
                ObjectPart.kek_version,
                ObjectPart.wrapped_dek1,
            )
            .join(ObjectPart, ObjectPart.object_id == ObjectRecord.id)
            .where(ObjectRecord.bucket_id == bucket_id)
            .order_by(ObjectRecord.id, ObjectPart.part_number)
        ).all()
        ups = s.execute(
            select(
                MultipartUpload.upload_id,
                MultipartUpload.key,
                MultipartUpload.version_id,
                MultipartUpload.sse_mode,
                MultipartUpload.kms_context,
                UploadPart.part_number,
                UploadPart.kek_id,
                UploadPart.kek_version,
                UploadPart.wrapped_dek1,
            )
            .join(UploadPart, UploadPart.upload_id == MultipartUpload.upload_id)
            .where(MultipartUpload.bucket_id == bucket_id)
        ).all()
    for r in rows:
        yield WrappedPart("object_parts", (r[0], r[5]), r[1], r[2], r[5], r[3], r[4], r[6], r[7], bytes(r[8]))
    for u in ups:
        yield WrappedPart("upload_parts", (u[0], u[5]), u[1], u[2], u[5], u[3], u[4], u[6], u[7], bytes(u[8]))


def list_wrapped_parts(repo: Repository, bucket_id: str) -> list[WrappedPart]:
    """Every part (published and in-progress uploads) of a bucket with its layer-1 wrap."""
    return list(_iter_wrapped(repo, bucket_id))


def replace_wrap(repo: Repository, part: WrappedPart, new_wrapped: bytes, new_version: int) -> bool:
    """Swap one part's wrapped DEK1 if it is still the one read (optimistic); True when replaced."""
    with repo.session() as s:
        if part.table == "object_parts":
            res = s.execute(
                update(ObjectPart)
                .where(
                    ObjectPart.object_id == part.pk[0],
                    ObjectPart.part_number == part.pk[1],
                    ObjectPart.wrapped_dek1 == part.wrapped_dek1,
                )
                .values(wrapped_dek1=new_wrapped, kek_version=new_version)
            )
        else:
            res = s.execute(
                update(UploadPart)
                .where(
                    UploadPart.upload_id == part.pk[0],
                    UploadPart.part_number == part.pk[1],
                    UploadPart.wrapped_dek1 == part.wrapped_dek1,
                )
                .values(wrapped_dek1=new_wrapped, kek_version=new_version)
            )
        return bool(getattr(res, "rowcount", 0) == 1)
