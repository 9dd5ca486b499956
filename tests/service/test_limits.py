"""Abuse limits (service/limits.py): exact in one process, one shared budget across gateways on one database.

Every database test runs on SQLite and on PostgreSQL (a fresh schema each, as tests/metadata does). Two gateways are
two RateLimiter instances with engines of their own over the same database, sharing one injected clock.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import pytest
from sqlalchemy import Engine, create_engine, event, func, select, text

from strongroom.config import Settings
from strongroom.core import errors
from strongroom.metadata.counters import COUNTERS, CounterAdd, CounterStore
from strongroom.metadata.repository import make_engine, migrate
from strongroom.service.limits import FIRST_DELAY_SECONDS, SYNC_SECONDS, RateLimiter

PG_URL = os.environ.get("STRONGROOM_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
T0 = 1_000_000.0  # a multiple of every window length below: tests start at a window's beginning
RATE, BURST = 10, 20  # window = BURST / RATE = 2 s


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def settings(**kw: object) -> Settings:
    values: dict[str, object] = dict(
        rate_limit_per_key=RATE, rate_limit_burst=BURST, auth_failure_threshold=3, auth_failure_delay_max_seconds=1.0
    )
    values.update(kw)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    yield request.param


@pytest.fixture()
def db_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh migrated database of the backend."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('limits') / 'meta.db'}"
        admin = None
        schema = ""
    else:
        admin = create_engine("postgresql+psycopg://" + PG_URL[len("postgresql://") :], isolation_level="AUTOCOMMIT")
        schema = f"sr_limits_{uuid.uuid4().hex[:12]}"
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        except Exception as exc:
            pytest.fail(f"PostgreSQL is required and is unreachable at {PG_URL}: {exc}")
        parts = urlsplit(PG_URL)
        query = [*parse_qsl(parts.query), ("options", f"-csearch_path={schema}")]
        url = urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    try:
        yield url
    finally:
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()


@pytest.fixture()
def engines(db_url: str) -> Iterator[list[Engine]]:
    """Two engines on one database: the connection pools of two gateway processes."""
    made = [make_engine(db_url), make_engine(db_url)]
    try:
        yield made
    finally:
        for e in made:
            e.dispose()


def admitted(limiter: RateLimiter, key: str, n: int) -> int:
    ok = 0
    for _ in range(n):
        try:
            limiter.check_request(key)
            ok += 1
        except errors.SlowDown:
            pass
    return ok


def rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(COUNTERS)) or 0)


def count_statements(engine: Engine) -> list[str]:
    seen: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    return seen


# --- one process ------------------------------------------------------------------------------------------------


def test_limit_is_exact_in_one_process(engines: list[Engine]) -> None:
    clock = Clock()
    limiter = RateLimiter(settings(), engines[0], clock=clock)
    assert admitted(limiter, "AKIA1", 30) == BURST
    assert admitted(limiter, "AKIA2", 30) == BURST  # per key
    clock.t = T0 + 1.9  # same window: nothing more
    assert admitted(limiter, "AKIA1", 5) == 0
    clock.t = T0 + 2.0  # next window: the previous one still weighs fully
    assert admitted(limiter, "AKIA1", 5) == 0
    clock.t = T0 + 3.0  # half way: half the previous window's 20 still counts
    assert admitted(limiter, "AKIA1", 30) == 10
    clock.t = T0 + 4.0  # the window of 10 now weighs fully
    assert admitted(limiter, "AKIA1", 30) == 10


def test_public_pages_are_limited_per_address_apart_from_keys(engines: list[Engine]) -> None:
    clock = Clock()
    limiter = RateLimiter(settings(), engines[0], clock=clock)

    def public(address: str | None, n: int) -> int:
        ok = 0
        for _ in range(n):
            try:
                limiter.check_public(address)
                ok += 1
            except errors.SlowDown:
                pass
        return ok

    assert public("203.0.113.7", 30) == BURST
    assert public("203.0.113.8", 30) == BURST  # per address
    assert public("2001:db8::1", 30) == BURST
    assert public("2001:db8::2", 5) == 0  # the same /64
    assert admitted(limiter, "203.0.113.7", 30) == BURST  # an access key of that name has its own budget
    assert public(None, 30) == 30  # no address known (not over TCP): not counted
    clock.t = T0 + 4.0  # two windows on: a full budget again
    assert public("203.0.113.7", 30) == BURST


def test_refusal_is_s3_slowdown(engines: list[Engine]) -> None:
    from strongroom.http.s3.errors import from_domain

    limiter = RateLimiter(settings(rate_limit_per_key=1, rate_limit_burst=1), engines[0], clock=Clock())
    limiter.check_request("AKIA1")
    with pytest.raises(errors.SlowDown) as refused:
        limiter.check_request("AKIA1")
    wire = from_domain(refused.value)
    assert (wire.code, wire.status) == ("SlowDown", 503)


def test_limit_is_exact_under_concurrent_threads(engines: list[Engine]) -> None:
    limiter = RateLimiter(settings(rate_limit_per_key=500, rate_limit_burst=1000), engines[0], clock=Clock())
    counts: list[int] = []

    def worker() -> None:
        counts.append(admitted(limiter, "AKIA1", 200))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(counts) == 1000


def test_no_database_write_per_request(engines: list[Engine]) -> None:
    clock = Clock()
    limiter = RateLimiter(settings(rate_limit_per_key=1000, rate_limit_burst=2000), engines[0], clock=clock)
    seen = count_statements(engines[0])
    admitted(limiter, "AKIA1", 1000)  # a new key syncs once, at once
    first = len(seen)
    assert 0 < first <= 4
    admitted(limiter, "AKIA1", 500)
    assert len(seen) == first  # within a second: no I/O at all
    clock.t += SYNC_SECONDS
    admitted(limiter, "AKIA1", 400)
    assert 0 < len(seen) - first <= 6  # one sync for the next second (exchange, purge)


def test_windows_expire_here_and_in_the_database(engines: list[Engine]) -> None:
    clock = Clock()
    limiter = RateLimiter(settings(), engines[0], clock=clock)
    assert admitted(limiter, "AKIA1", 25) == BURST
    assert limiter.signature_failed("AKIA1", "192.0.2.1") == 0.0
    clock.t += SYNC_SECONDS
    limiter.sync()
    assert rows(engines[0]) == 3  # one window each of request, authkey, authaddr
    clock.t = T0 + 2 * BURST / RATE  # both request windows are past: the full budget again
    assert admitted(limiter, "AKIA1", 25) == BURST
    clock.t = T0 + 200.0  # every window is past
    limiter.sync()
    assert rows(engines[0]) == 0
    assert limiter._subjects == {}  # nor kept in memory


def test_database_unreachable_keeps_the_local_limit(tmp_path: object) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/unmigrated.db")  # no rate_counters table: every sync fails
    try:
        clock = Clock()
        limiter = RateLimiter(settings(), engine, clock=clock)
        assert admitted(limiter, "AKIA1", 15) == 15
        clock.t += SYNC_SECONDS
        limiter.sync()
        assert admitted(limiter, "AKIA1", 15) == BURST - 15  # nothing counted was lost
    finally:
        engine.dispose()


# --- several gateways on one database -----------------------------------------------------------------------------


def test_two_gateways_share_one_budget(engines: list[Engine]) -> None:
    clock = Clock()
    slow = settings(rate_limit_per_key=5, rate_limit_burst=20)  # a 4 s window
    a = RateLimiter(slow, engines[0], clock=clock)
    b = RateLimiter(slow, engines[1], clock=clock)
    assert admitted(a, "AKIA1", 15) == 15
    clock.t += SYNC_SECONDS
    a.sync()  # the background tick publishes a's 15
    assert admitted(b, "AKIA1", 30) == 5  # b's first request of the key reads the shared count
    # a synced an instant ago and has not seen b's 5 yet: the documented bound, what the other admitted unseen
    assert admitted(a, "AKIA1", 30) == 5
    clock.t += SYNC_SECONDS  # a sync interval later both know the whole count
    assert admitted(a, "AKIA1", 5) + admitted(b, "AKIA1", 5) == 0
    a.sync()
    b.sync()
    window = int(T0 // 4)
    assert CounterStore(engines[0]).exchange([], [("request", "AKIA1", window)]) == {("request", "AKIA1", window): 25}


def test_overshoot_across_gateways_is_bounded_by_what_others_admitted_unseen(engines: list[Engine]) -> None:
    clock = Clock()
    slow = settings(rate_limit_per_key=5, rate_limit_burst=20)  # a 4 s window
    a = RateLimiter(slow, engines[0], clock=clock)
    b = RateLimiter(slow, engines[1], clock=clock)
    # both learn the key at the same instant: neither sees the other's requests of this second
    assert (admitted(a, "AKIA1", 12), admitted(b, "AKIA1", 12)) == (12, 12)
    clock.t += SYNC_SECONDS
    # a syncs first and reads only its own 12 (b's are not added yet); b then reads both
    assert admitted(a, "AKIA1", 10) == 8
    assert admitted(b, "AKIA1", 10) == 0
    # 32 in the window: the burst plus b's 12, what the other gateway admitted in the last two sync intervals
    clock.t += SYNC_SECONDS  # two sync intervals after the first requests: each knows the whole count
    assert admitted(a, "AKIA1", 10) + admitted(b, "AKIA1", 10) == 0
    window = int(T0 // 4)
    assert CounterStore(engines[0]).exchange([], [("request", "AKIA1", window)]) == {("request", "AKIA1", window): 32}


def test_many_steps_across_gateways_stay_within_the_bound(engines: list[Engine]) -> None:
    """Steady traffic through both gateways, syncing on the 1 s tick: every 2 s window admits at most the burst plus
    what the other gateway admitted in the last two sync intervals."""
    clock = Clock()
    gateways = [RateLimiter(settings(), e, clock=clock) for e in engines]
    per_window: dict[int, int] = {}
    history: list[list[int]] = []  # per 0.25 s step, per gateway
    for step in range(40):  # 10 s in 0.25 s steps
        clock.t = T0 + step * 0.25
        got = [admitted(g, "AKIA1", 8) for g in gateways]
        history.append(got)
        w = int(clock.t // (BURST / RATE))
        per_window[w] = per_window.get(w, 0) + sum(got)
        if step % 4 == 3:
            for g in gateways:
                g.sync()
    # what one gateway admitted in any 2 s (8 steps): the most the other can have missed
    unseen = max(sum(h[g] for h in history[i : i + 8]) for g in (0, 1) for i in range(len(history)))
    for total in per_window.values():
        assert total <= BURST + unseen
    assert sum(per_window.values()) <= BURST + RATE * 10 + unseen  # long run: the rate, plus one burst


# --- signature failures -------------------------------------------------------------------------------------------


def test_failure_delay_grows_after_the_threshold_per_key_and_is_capped(engines: list[Engine]) -> None:
    limiter = RateLimiter(settings(), engines[0], clock=Clock())
    delays = [limiter.signature_failed("AKIA1", f"192.0.2.{i}") for i in range(10)]  # a new address each time
    f = FIRST_DELAY_SECONDS
    assert delays == [0.0, 0.0, 0.0, f, 2 * f, 4 * f, 8 * f, 1.0, 1.0, 1.0]
    assert limiter.signature_failed("AKIA2", "192.0.2.100") == 0.0  # another key, another address: no delay


def test_failure_delay_per_address_independently(engines: list[Engine]) -> None:
    limiter = RateLimiter(settings(), engines[0], clock=Clock())
    delays = [limiter.signature_failed(f"AKIA{i}", "198.51.100.7") for i in range(10)]  # a new key each time
    f = FIRST_DELAY_SECONDS
    assert delays == [0.0, 0.0, 0.0, f, 2 * f, 4 * f, 8 * f, 1.0, 1.0, 1.0]
    assert limiter.signature_failed(None, "198.51.100.8") == 0.0
    assert limiter.signature_failed("AKIA0", "198.51.100.8") == 0.0  # AKIA0 failed once before
    assert limiter.signature_failed(None, None) == 0.0
    # one IPv6 host holds a /64: its addresses count together
    assert [limiter.signature_failed(None, f"2001:db8:1:2::{i:x}") for i in range(4)][-1] == f
    assert limiter.signature_failed(None, "2001:db8:1:3::1") == 0.0
    assert limiter.signature_failed(None, "::ffff:198.51.100.7") == 1.0  # an IPv4-mapped address is the IPv4 one


def test_failure_delay_ends_with_the_window(engines: list[Engine]) -> None:
    clock = Clock()
    limiter = RateLimiter(settings(), engines[0], clock=clock)
    for _ in range(6):
        limiter.signature_failed("AKIA1", None)
    assert limiter.signature_failed("AKIA1", None) > 0
    clock.t += 120.0
    assert limiter.signature_failed("AKIA1", None) == 0.0


def test_failures_are_counted_across_gateways(engines: list[Engine]) -> None:
    clock = Clock()
    a = RateLimiter(settings(), engines[0], clock=clock)
    b = RateLimiter(settings(), engines[1], clock=clock)
    for i in range(3):
        assert a.signature_failed(None, "203.0.113.9") == 0.0
    clock.t += SYNC_SECONDS
    a.sync()
    b.signature_failed(None, "203.0.113.9")  # b learns the address: synced within a second
    clock.t += SYNC_SECONDS
    assert b.signature_failed(None, "203.0.113.9") == 2 * FIRST_DELAY_SECONDS  # 5 failures in all


# --- off, and bad settings ------------------------------------------------------------------------------------------


def test_zero_disables(engines: list[Engine]) -> None:
    seen = count_statements(engines[0])
    limiter = RateLimiter(settings(rate_limit_per_key=0, auth_failure_delay_max_seconds=0), engines[0], clock=Clock())
    assert admitted(limiter, "AKIA1", 5000) == 5000
    assert max(limiter.signature_failed("AKIA1", "192.0.2.1") for _ in range(100)) == 0.0
    limiter.sync()
    assert seen == []


def test_defaults_are_generous() -> None:
    s = Settings()
    assert (s.rate_limit_per_key, s.rate_limit_burst) == (10000, 20000)  # above one gateway's 4 KiB GET rate
    assert (s.auth_failure_threshold, s.auth_failure_delay_max_seconds) == (20, 5.0)


@pytest.mark.parametrize(
    "bad",
    [
        {"rate_limit_per_key": -1},
        {"rate_limit_per_key": 100, "rate_limit_burst": 99},
        {"auth_failure_threshold": -1},
        {"auth_failure_delay_max_seconds": -0.5},
        {"auth_failure_delay_max_seconds": float("nan")},
    ],
)
def test_bad_settings_are_refused_at_construction(bad: dict[str, object]) -> None:
    engine = create_engine("sqlite://")
    with pytest.raises(ValueError):
        RateLimiter(settings(**bad), engine)


def test_counter_store_adds_atomically_across_threads(engines: list[Engine]) -> None:
    store = CounterStore(engines[0])
    add = CounterAdd("request", "AKIA1", 7, 1, 100)

    def worker() -> None:
        for _ in range(20):
            store.exchange([add], [])

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.exchange([], [add.id]) == {add.id: 80}
    assert store.purge(101) == 1
