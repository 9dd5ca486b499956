"""CORS use cases (service/cors.py) over a real SQLite repository: which rules a browser's request meets, the
preflight's answers, and the per-gateway cache (1 s, existing buckets only, bounded, told apart by bucket id)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from strongroom.core import errors
from strongroom.core.types import ANONYMOUS, Operation
from strongroom.metadata.models import Bucket
from strongroom.metadata.repository import Repository
from strongroom.policy.cors import CorsConfiguration, CorsRule
from strongroom.service import cors as service

RULES = CorsConfiguration((CorsRule(("https://app.example",), ("GET", "PUT"), max_age_seconds=60),))


class CountingRepo:
    """The repository, counting the lookups the service makes."""

    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self.lookups = 0

    def bucket_cors(self, name: str) -> Any:
        self.lookups += 1
        return self.repo.bucket_cors(name)


class FakeRuntime:
    def __init__(self, repo: CountingRepo) -> None:
        self.repo = repo

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return fn(*args)


@pytest.fixture()
def repo(tmp_path: Path) -> Iterator[Repository]:
    r = Repository.open(f"sqlite:///{tmp_path / 'meta.db'}")
    r.ensure_tenant("acme", "ab" * 32, None)
    try:
        yield r
    finally:
        r.close()


def bucket(repo: Repository, name: str) -> Bucket:
    return repo.create_bucket(
        Bucket(
            id=str(uuid.uuid4()),
            name=name,
            tenant_id="acme",
            region="local",
            created_at=dt.datetime.now(dt.UTC),
            bucket_key_id="k",
            sse_algorithm="AES256",
            kms_key_id=None,
            bucket_key_enabled=False,
            encryption_configured=False,
            acl=None,
            access_version=0,
        )
    )


def make(repo: Repository) -> tuple[service.CorsService, CountingRepo]:
    counting = CountingRepo(repo)
    return service.CorsService(FakeRuntime(counting), buckets=None), counting  # type: ignore[arg-type]


def op(bucket: str, key: str | None) -> Operation:
    return Operation("PreflightRequest", "", f"arn:aws:s3:::{bucket}", ANONYMOUS, "rid", bucket=bucket, key=key)


def test_answers_follow_the_stored_rules(repo: Repository) -> None:
    b = bucket(repo, "web")
    cors, _ = make(repo)
    assert anyio.run(cors.answer, "web", None, "https://app.example", "GET", ()) is None  # no rules yet
    repo.set_bucket_cors(b.id, RULES.to_json())
    cors.forget("web")
    got = anyio.run(cors.answer, "web", b.id, "https://app.example", "PUT", ())
    assert got is not None and got.allow_origin == "https://app.example" and got.max_age_seconds == 60
    assert anyio.run(cors.answer, "web", b.id, "https://app.example", "DELETE", ()) is None
    assert anyio.run(cors.answer, "nothing", None, "https://app.example", "GET", ()) is None


def test_preflights(repo: Repository) -> None:
    b = bucket(repo, "web")
    bucket(repo, "bare")
    repo.set_bucket_cors(b.id, RULES.to_json())
    cors, _ = make(repo)
    o = op("web", "k")
    got = anyio.run(cors.preflight, o, "web", "https://app.example", "GET", ())
    assert got.allow_methods == ("GET", "PUT") and o.resource_tenant == "acme"  # audited in the owner's chain

    def refused(name: str | None, origin: str | None, method: str | None) -> errors.StrongroomError:
        with pytest.raises((errors.CORSForbidden, errors.InvalidPreflight)) as ei:
            anyio.run(cors.preflight, op(name or "", "k"), name, origin, method, ())
        return ei.value

    missing, bare = refused("nothing", "https://app.example", "GET"), refused("bare", "https://app.example", "GET")
    assert type(missing) is type(bare) is errors.CORSForbidden
    assert (missing.message, missing.context) == (bare.message, bare.context)  # a missing bucket looks like a bare one
    assert refused(None, "https://app.example", "GET").message == "CORSResponse: CORS is not enabled for this bucket."
    assert isinstance(refused("web", None, "GET"), errors.InvalidPreflight)
    assert refused("web", "https://other.example", "GET").context == {"Method": "GET", "ResourceType": "OBJECT"}


def test_rules_are_cached_for_a_second_and_forgotten_on_change(repo: Repository, monkeypatch: Any) -> None:
    b = bucket(repo, "web")
    repo.set_bucket_cors(b.id, RULES.to_json())
    cors, counting = make(repo)
    now = [100.0]
    monkeypatch.setattr(service.time, "monotonic", lambda: now[0])
    for _ in range(3):
        assert anyio.run(cors.rules, "web") is not None
    assert counting.lookups == 1
    now[0] += service.RULES_SECONDS
    anyio.run(cors.rules, "web")
    assert counting.lookups == 2  # stale after a second
    cors.forget("web")
    anyio.run(cors.rules, "web")
    assert counting.lookups == 3
    anyio.run(cors.rules, "web", "another-bucket-id")  # not the bucket authorization saw: read again
    assert counting.lookups == 4
    anyio.run(cors.rules, "web", b.id)
    assert counting.lookups == 4


def test_missing_buckets_are_not_cached_and_the_cache_is_bounded(repo: Repository, monkeypatch: Any) -> None:
    cors, counting = make(repo)
    for _ in range(3):
        assert anyio.run(cors.rules, "nothing") is None
    assert counting.lookups == 3 and cors._cache == {}
    monkeypatch.setattr(service, "MAX_CACHED", 2)
    for name in ("b1", "b2", "b3"):
        bucket(repo, name)
        anyio.run(cors.rules, name)
    assert set(cors._cache) == {"b3"}  # full: emptied before the third went in
