"""Metadata backends for the conformance suite: every test runs on SQLite and on PostgreSQL.

SQLite lives in a temp file opened through ``Repository.open`` (so the WAL pragmas of
``make_engine`` apply). PostgreSQL gets a fresh schema per xdist worker and session, selected
through ``search_path`` in the URL, and dropped at the end. PostgreSQL sessions also run in a
non-UTC time zone so that UTC normalisation is exercised. An unreachable PostgreSQL is a
failure, never a skip: CI has one.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import pytest
from sqlalchemy import Engine, create_engine, delete, text

from strongroom.metadata.models import Base
from strongroom.metadata.repository import Repository

PG_URL = os.environ.get("STRONGROOM_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
#: A zone far from UTC with a non-whole-hour offset: naive handling of server-side zones shows up.
PG_SESSION_TIMEZONE = "Pacific/Chatham"


def _driver_url(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _with_pg_options(url: str, options: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
    query.append(("options", options))
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


class Backend:
    """Hands out fresh, empty databases of one kind and removes them at the end."""

    name: str

    def new_url(self) -> str:
        raise NotImplementedError

    def catalog(self, url: str) -> tuple[set[str], dict[str, str | None]] | None:
        """For a schema-scoped backend: the tables in url's schema and the collation of each `key` column."""
        return None

    def close(self) -> None:
        pass


class SQLiteBackend(Backend):
    name = "sqlite"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.count = 0

    def new_url(self) -> str:
        self.count += 1
        return f"sqlite:///{self.directory / f'meta-{self.count}.db'}"


class PostgresBackend(Backend):
    name = "postgresql"

    def __init__(self, url: str, worker: str) -> None:
        self.url = url
        self.worker = worker
        self.schemas: list[str] = []
        try:
            self.admin: Engine = create_engine(_driver_url(url), isolation_level="AUTOCOMMIT")
            with self.admin.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:
            pytest.fail(f"PostgreSQL is required for the metadata suite and is unreachable at {url}: {exc}")

    def new_url(self) -> str:
        schema = f"sr_{self.worker}_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        self.schemas.append(schema)
        return _with_pg_options(self.url, f"-csearch_path={schema} -ctimezone={PG_SESSION_TIMEZONE}")

    def catalog(self, url: str) -> tuple[set[str], dict[str, str | None]]:
        options = dict(parse_qsl(urlsplit(url).query))["options"]
        schema = options.split("search_path=", 1)[1].split()[0]
        tables_sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = :s"
        keys_sql = (
            "SELECT table_name, collation_name FROM information_schema.columns"
            " WHERE table_schema = :s AND column_name = 'key'"
        )
        with self.admin.connect() as conn:
            tables = set(conn.execute(text(tables_sql), {"s": schema}).scalars())
            collations = {row[0]: row[1] for row in conn.execute(text(keys_sql), {"s": schema})}
        return tables, collations

    def close(self) -> None:
        with self.admin.connect() as conn:
            for schema in self.schemas:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        self.admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """A source of fresh databases; the suite runs once per backend."""
    b: Backend
    if request.param == "sqlite":
        b = SQLiteBackend(tmp_path_factory.mktemp("metadata-sqlite"))
    else:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        b = PostgresBackend(PG_URL, worker)
    try:
        yield b
    finally:
        b.close()


@pytest.fixture(scope="session")
def session_repo(backend: Backend) -> Iterator[Repository]:
    """One migrated database per backend per worker, shared by the tests and emptied between them."""
    repo = Repository.open(backend.new_url())
    try:
        yield repo
    finally:
        repo.close()


@pytest.fixture()
def repo(session_repo: Repository) -> Repository:
    """A migrated repository with every table empty."""
    with session_repo.session() as s:
        for table in reversed(Base.metadata.sorted_tables):
            s.execute(delete(table))
    return session_repo
