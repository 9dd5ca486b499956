"""The lockbox and notice services over a real database (SQLite and PostgreSQL) with an injected clock: expiry at
the exact boundaries, answers that race, two gateways (two repositories on one database) sharing one delivery
queue without double sends, the backoff and the giving up, and the rules of who may answer.

The vault is a stand-in holding webhook secrets; the webhook receiver is an httpx mock transport."""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from sqlalchemy import create_engine, text

from strongroom.core import errors
from strongroom.core.clock import FakeClock
from strongroom.core.types import Principal
from strongroom.keys.vaultclient import Credential
from strongroom.metadata.governance import GovernanceStore
from strongroom.metadata.models import Bucket, Tenant
from strongroom.metadata.repository import Repository
from strongroom.service.disclosures import DisclosureService
from strongroom.service.lockbox import MAX_DURATION, REQUEST_TTL, LockboxService
from strongroom.service.notices import RETRY_DELAYS, NoticeService, WebhookDeliverer, check_webhook_url, sign
from strongroom.service.transparency import band, build, current_period, parse_period

PG_URL = os.environ.get("STRONGROOM_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
OPS = Principal("AKOPS", "system", "ops", is_admin=True)
ADMIN = Principal("AKADMIN", "acme", "admin", is_admin=True)
MEMBER = Principal("AKMEMBER", "acme", "member")
STRANGER = Principal("AKG", "globex", "admin", is_admin=True)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture()
def db_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('gov') / 'meta.db'}"
        return
    admin = create_engine("postgresql+psycopg://" + PG_URL[len("postgresql://") :], isolation_level="AUTOCOMMIT")
    schema = f"sr_gov_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        pytest.fail(f"PostgreSQL is required and is unreachable at {PG_URL}: {exc}")
    parts = urlsplit(PG_URL)
    query = [*parse_qsl(parts.query), ("options", f"-csearch_path={schema}")]
    try:
        yield urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@dataclass
class FakeVault:
    creds: dict[str, Credential] = field(default_factory=dict)

    def put_credential(self, key: str, secret: str, tenant: str, user: str) -> None:
        self.creds[key] = Credential(secret, tenant, user)

    def credential(self, key: str) -> Credential | None:
        return self.creds.get(key)

    def delete_credential(self, key: str) -> None:
        self.creds.pop(key, None)


@dataclass
class FakeAccess:
    forgotten: list[str] = field(default_factory=list)

    def forget_lockbox(self, operator: str) -> None:
        self.forgotten.append(operator)


@dataclass
class Gateway:
    repo: Repository
    store: GovernanceStore
    lockbox: LockboxService
    notices: NoticeService
    access: FakeAccess
    cases: DisclosureService


@pytest.fixture()
def world(db_url: str) -> Iterator[tuple[FakeClock, FakeVault, list[Gateway]]]:
    """Two gateways (repositories with their own pools) over one migrated database, one clock, one vault."""
    clock, vault = FakeClock(), FakeVault()
    first = Repository.open(db_url)
    repos = [first, Repository.open(db_url, run_migrations=False)]
    now = clock()
    for tenant in ("acme", "globex"):
        first.create_tenant(Tenant(id=tenant, name=tenant, created_at=now, canonical_id=tenant * 8))
    for name, tenant in (("data", "acme"), ("gdata", "globex")):
        first.create_bucket(
            Bucket(id=f"id-{name}", name=name, tenant_id=tenant, region="local", created_at=now, bucket_key_id="k")
        )
    gateways = []
    for repo in repos:
        rt: Any = SimpleNamespace(repo=repo, vault=vault)
        store = GovernanceStore(repo)
        access = FakeAccess()
        gateways.append(
            Gateway(
                repo,
                store,
                LockboxService(rt, access, store, clock),  # type: ignore[arg-type]
                NoticeService(rt, store, clock),
                access,
                DisclosureService(rt, store, clock),
            )
        )
    try:
        yield clock, vault, gateways
    finally:
        for repo in repos:
            repo.close()


def file(g: Gateway, **over: Any) -> str:
    kw: dict[str, Any] = dict(prefix="logs/", reason="why", ticket="T-1", duration_seconds=3600)
    kw.update(over)
    return g.lockbox.request(OPS, "acme", "data", **kw).request.id


def test_request_expires_exactly_12_hours_after_filing(world: Any) -> None:
    clock, _vault, (g, _) = world
    rid = file(g)
    clock.advance(seconds=REQUEST_TTL.total_seconds() - 1)
    assert g.lockbox.get(ADMIN, rid).status == "pending"
    clock.advance(seconds=1)
    assert g.lockbox.get(ADMIN, rid).status == "expired"
    with pytest.raises(errors.Conflict):
        g.lockbox.approve(ADMIN, rid)
    with pytest.raises(errors.Conflict):
        g.lockbox.deny(ADMIN, rid)


def test_grant_lasts_its_duration_and_no_longer(world: Any) -> None:
    clock, _vault, (g, _) = world
    rid = file(g, duration_seconds=int(MAX_DURATION.total_seconds()))
    clock.advance(hours=11)  # approved late: the grant still runs from the approval
    view = g.lockbox.approve(ADMIN, rid)
    assert view.status == "approved" and view.grant is not None
    assert view.grant.expires_at == clock() + MAX_DURATION
    assert g.access.forgotten == ["ops"]  # this gateway's grant cache learns at once
    assert [x.id for x in g.store.active_grants("ops", clock())] == [view.grant.id]
    assert g.store.active_grants("someone-else", clock()) == []
    clock.advance(seconds=MAX_DURATION.total_seconds() - 1)
    assert len(g.store.active_grants("ops", clock())) == 1
    clock.advance(seconds=1)
    assert g.store.active_grants("ops", clock()) == []
    assert g.lockbox.get(OPS, rid).status == "ended"
    with pytest.raises(errors.Conflict):
        g.lockbox.revoke(ADMIN, rid)  # nothing left to revoke


@pytest.mark.parametrize("seconds", [0, 59, int(MAX_DURATION.total_seconds()) + 1, 10**9])
def test_duration_bounds(world: Any, seconds: int) -> None:
    _clock, _vault, (g, _) = world
    with pytest.raises(errors.InvalidRequest):
        file(g, duration_seconds=seconds)


def test_scope_must_be_the_tenants(world: Any) -> None:
    _clock, _vault, (g, _) = world
    with pytest.raises(errors.InvalidRequest):
        g.lockbox.request(OPS, "acme", "gdata", reason="r", ticket="t", duration_seconds=600)
    with pytest.raises(errors.InvalidRequest):
        g.lockbox.request(OPS, "acme", "missing", reason="r", ticket="t", duration_seconds=600)
    with pytest.raises(errors.NoSuchEntity):
        g.lockbox.request(OPS, "nobody", "data", reason="r", ticket="t", duration_seconds=600)
    with pytest.raises(errors.AccessDenied):
        g.lockbox.request(ADMIN, "acme", "data", reason="r", ticket="t", duration_seconds=600)


def test_who_answers(world: Any) -> None:
    _clock, _vault, (g, _) = world
    rid = file(g)
    with pytest.raises(errors.NoSuchEntity):
        g.lockbox.approve(STRANGER, rid)  # another tenant: it does not exist for them
    with pytest.raises(errors.AccessDenied):
        g.lockbox.approve(MEMBER, rid)
    with pytest.raises(errors.AccessDenied):
        g.lockbox.approve(OPS, rid)  # the operator who filed it
    with pytest.raises(errors.AccessDenied):
        g.lockbox.deny(Principal("AKX", "system", "other-op", is_admin=True), rid)
    assert g.lockbox.deny(ADMIN, rid).status == "denied"


def test_racing_answers_on_two_gateways_one_wins(world: Any) -> None:
    _clock, _vault, (g1, g2) = world
    rid = file(g1)
    g1.lockbox.approve(ADMIN, rid)
    with pytest.raises(errors.Conflict):
        g2.lockbox.deny(ADMIN, rid)
    with pytest.raises(errors.Conflict):
        g2.lockbox.approve(ADMIN, rid)
    assert g2.lockbox.get(ADMIN, rid).status == "approved"
    assert len(g2.store.active_grants("ops", g2.lockbox.clock())) == 1  # one grant, not two


def test_revocation_by_admin_or_holder(world: Any) -> None:
    _clock, _vault, (g, _) = world
    rid = file(g)
    g.lockbox.approve(ADMIN, rid)
    with pytest.raises(errors.AccessDenied):
        g.lockbox.revoke(MEMBER, rid)
    with pytest.raises(errors.AccessDenied):
        g.lockbox.revoke(Principal("AKX", "system", "other-op", is_admin=True), rid)
    assert g.lockbox.revoke(OPS, rid).status == "revoked"
    assert g.store.active_grants("ops", g.lockbox.clock()) == []


def test_notices_follow_the_lifecycle(world: Any) -> None:
    _clock, _vault, (g, _) = world
    rid = file(g)
    g.lockbox.approve(ADMIN, rid, "ok")
    g.lockbox.revoke(ADMIN, rid)
    notes, cursor = g.notices.feed("acme", None, 100)
    assert [n.kind for n in notes] == ["lockbox.requested", "lockbox.approved", "lockbox.revoked"]
    assert notes[1].body["grant"] and notes[0].body["reason"] == "why"
    assert g.notices.feed("globex", None, 100)[0] == []
    more, again = g.notices.feed("acme", cursor, 100)
    assert more == [] and again == cursor
    file(g)
    newer, _ = g.notices.feed("acme", cursor, 100)
    assert [n.kind for n in newer] == ["lockbox.requested"]
    with pytest.raises(errors.InvalidRequest):
        g.notices.feed("acme", "garbage", 10)


# --- webhooks ---------------------------------------------------------------------------------------------------


@dataclass
class Receiver:
    statuses: list[int] = field(default_factory=list)
    got: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.got.append(request)
        return httpx.Response(self.statuses.pop(0) if self.statuses else 200)


def deliverer(g: Gateway, clock: FakeClock, receiver: Receiver) -> WebhookDeliverer:
    rt: Any = g.lockbox.rt
    return WebhookDeliverer(rt, g.store, clock, httpx.Client(transport=httpx.MockTransport(receiver)))


def test_deliveries_back_off_then_give_up(world: Any) -> None:
    clock, _vault, (g, _) = world
    secret = g.notices.set_webhook("acme", "https://hooks.example.com/x", "admin").secret
    receiver = Receiver(statuses=[500] * 100)
    d = deliverer(g, clock, receiver)
    file(g)
    assert d.deliver_due() == 0 and len(receiver.got) == 1
    for delay in RETRY_DELAYS:
        clock.advance(seconds=delay - 1)
        d.deliver_due()
        n = len(receiver.got)
        clock.advance(seconds=1)
        d.deliver_due()
        assert len(receiver.got) == n + 1  # exactly at its time, not before
    clock.advance(days=30)
    d.deliver_due()
    assert len(receiver.got) == len(RETRY_DELAYS) + 1  # given up
    (row,) = g.store.deliveries("acme")
    assert row.status == "failed" and row.attempts == len(RETRY_DELAYS) + 1 and row.last_error == "HTTP 500"
    first = receiver.got[0]
    body = first.content
    assert first.headers["x-strongroom-signature"] == sign(secret, first.headers["x-strongroom-timestamp"], body)
    assert json.loads(body)["notice"]["kind"] == "lockbox.requested"


def test_two_gateways_never_send_one_delivery_twice(world: Any) -> None:
    clock, _vault, (g1, g2) = world
    g1.notices.set_webhook("acme", "https://hooks.example.com/x", "admin")
    receiver = Receiver()
    d1, d2 = deliverer(g1, clock, receiver), deliverer(g2, clock, receiver)
    for _ in range(5):
        file(g1)
    taken = g1.store.take_due(clock(), clock() + dt.timedelta(seconds=60))
    assert len(taken) == 5
    assert g2.store.take_due(clock(), clock() + dt.timedelta(seconds=60)) == []  # leased by the first
    for due in taken:
        g1.store.finish_delivery(due.delivery.id, clock(), True, None, None)
    file(g1)
    assert d1.deliver_due() + d2.deliver_due() == 1
    assert len(receiver.got) == 1


def test_a_removed_webhook_stops_deliveries(world: Any) -> None:
    clock, vault, (g, _) = world
    g.notices.set_webhook("acme", "https://hooks.example.com/x", "admin")
    assert len(vault.creds) == 1
    file(g)
    g.notices.delete_webhook("acme")
    assert vault.creds == {}  # the secret left the vault
    receiver = Receiver()
    assert deliverer(g, clock, receiver).deliver_due() == 0 and receiver.got == []
    assert g.store.deliveries("acme")[0].status == "failed"


def test_a_shredded_tenant_leaves_no_notice_webhook_or_live_grant(world: Any) -> None:
    clock, vault, (g, _) = world
    secret_id = next(iter(vault.creds), None)
    g.notices.set_webhook("acme", "https://hooks.example.com/x", "admin")
    secret_id = next(k for k in vault.creds if k != secret_id)
    rid = file(g)
    g.lockbox.approve(ADMIN, rid, "ok")
    file(g, prefix="other/")  # another request, unanswered
    g.notices.set_webhook("globex", "https://hooks.example.com/g", "admin")
    gid = g.lockbox.request(OPS, "globex", "gdata", prefix="", reason="r", ticket="T", duration_seconds=3600)
    assert g.store.active_grants(OPS.user, clock()) != []
    assert g.store.forget_tenant("acme", clock()) == secret_id
    assert g.notices.feed("acme", None, 100)[0] == [] and g.store.get_webhook("acme") is None
    assert g.store.deliveries("acme") == []
    assert [gr.tenant_id for gr in g.store.active_grants(OPS.user, clock())] == []
    # the requests stay (the transparency report counts them); another tenant keeps everything
    assert len(g.store.list_requests("acme")) == 2
    assert g.store.get_webhook("globex") is not None and g.notices.feed("globex", None, 100)[0] != []
    assert gid.request.tenant_id == "globex"
    assert g.store.forget_tenant("acme", clock()) is None  # idempotent


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://hooks.example.com/a?b=c", True),
        ("http://localhost:8080/hook", True),
        ("http://127.0.0.1/hook", True),
        ("http://[::1]:9000/hook", True),
        ("http://example.com/hook", False),
        ("http://127.0.0.2/hook", False),
        ("http://localhost.example.com/hook", False),
        ("https://u:p@example.com/", False),
        ("https://example.com/#frag", False),
        ("gopher://localhost/", False),
        ("https://example.com:99999/", False),
        ("", False),
    ],
)
def test_webhook_url_rules(url: str, ok: bool) -> None:
    if ok:
        assert check_webhook_url(url) == url
    else:
        with pytest.raises(errors.InvalidRequest):
            check_webhook_url(url)


# --- third-party cases ------------------------------------------------------------------------------------------


def case(g: Gateway, clock: FakeClock, **over: Any) -> str:
    kw: dict[str, Any] = dict(
        authority="court", jurisdiction="US", legal_basis="order", scope="all", received_on=clock().date()
    )
    kw.update(over)
    return g.cases.record(OPS, "acme", **kw).case.id


def kinds(g: Gateway) -> list[tuple[str, str]]:
    return [(n.kind, n.subject) for n in g.notices.feed("acme", None, 1000)[0]]


def test_a_gag_withholds_the_notice_until_its_end_date(world: Any) -> None:
    clock, _vault, (g, _) = world
    until = clock().date() + dt.timedelta(days=3)
    cid = case(g, clock, gag=True, gag_until=until)
    view = g.cases.get(cid)
    assert view.gag_in_force and not view.notified
    end = dt.datetime.combine(until, dt.time(), dt.UTC)
    clock.now = end - dt.timedelta(seconds=1)
    assert ("disclosure.received", cid) not in kinds(g) and g.cases.get(cid).gag_in_force
    clock.now = end
    assert ("disclosure.received", cid) in kinds(g)
    assert not g.cases.get(cid).gag_in_force and g.cases.get(cid).notified


def test_a_lifted_gag_releases_the_notice_and_its_delivery(world: Any) -> None:
    clock, _vault, (g, _) = world
    g.notices.set_webhook("acme", "https://hooks.example.com/x", "admin")
    receiver = Receiver()
    d = deliverer(g, clock, receiver)
    cid = case(g, clock, gag=True)  # no end date: withheld
    clock.advance(days=400)
    assert d.deliver_due() == 0 and ("disclosure.received", cid) not in kinds(g)
    g.cases.set_gag(cid, False, None)
    assert ("disclosure.received", cid) in kinds(g)
    assert d.deliver_due() == 1 and json.loads(receiver.got[0].content)["notice"]["subject"] == cid


def test_lockbox_notices_do_not_name_a_gagged_case(world: Any) -> None:
    clock, _vault, (g, _) = world
    gagged = case(g, clock, gag=True)
    open_case = case(g, clock)
    file(g, case_id=gagged)
    file(g, case_id=open_case)
    bodies = [n.body for n in g.notices.feed("acme", None, 100)[0] if n.kind == "lockbox.requested"]
    assert [b.get("case") for b in bodies] == [None, open_case]
    with pytest.raises(errors.InvalidRequest):
        g.lockbox.request(OPS, "globex", "gdata", reason="r", ticket="t", duration_seconds=600, case_id=open_case)


def test_closing_rules(world: Any) -> None:
    clock, _vault, (g, _) = world
    cid = case(g, clock)
    with pytest.raises(errors.InvalidRequest):
        g.cases.close(OPS, cid, "disclosed_with_consent")
    rid = file(g)
    grant = g.lockbox.approve(ADMIN, rid).grant
    assert grant is not None
    with pytest.raises(errors.InvalidRequest):
        g.cases.close(OPS, cid, "no_data", grant.id)
    with pytest.raises(errors.InvalidRequest):
        g.cases.close(OPS, cid, "leaked")
    view = g.cases.close(OPS, cid, "disclosed_with_consent", grant.id)
    assert (view.case.status, view.case.outcome, view.case.grant_id) == ("closed", "disclosed_with_consent", grant.id)
    with pytest.raises(errors.Conflict):
        g.cases.close(OPS, cid, "rejected")


# --- the transparency report ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "label", "start", "end"),
    [
        ("2026H2", "2026H2", dt.date(2026, 7, 1), dt.date(2027, 1, 1)),
        ("2026h1", "2026H1", dt.date(2026, 1, 1), dt.date(2026, 7, 1)),
        ("2026Q3", "2026Q3", dt.date(2026, 7, 1), dt.date(2026, 10, 1)),
        ("2026Q4", "2026Q4", dt.date(2026, 10, 1), dt.date(2027, 1, 1)),
        ("2026", "2026", dt.date(2026, 1, 1), dt.date(2027, 1, 1)),
    ],
)
def test_periods(text: str, label: str, start: dt.date, end: dt.date) -> None:
    p = parse_period(text)
    assert (p.label, p.start, p.end, p.last_day) == (label, start, end, end - dt.timedelta(days=1))


@pytest.mark.parametrize("text", ["2026H3", "2026Q5", "2026H", "26H1", "2026-H1", "", "0001H1", "2026H1 extra"])
def test_bad_periods(text: str) -> None:
    with pytest.raises(errors.InvalidRequest):
        parse_period(text)


def test_current_period() -> None:
    assert current_period(dt.date(2026, 6, 30)).label == "2026H1"
    assert current_period(dt.date(2026, 7, 1)).label == "2026H2"


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0-249"),
        (1, "0-249"),
        (249, "0-249"),
        (250, "250-499"),
        (499, "250-499"),
        (500, "500-749"),
        (1000, "1000-1249"),
    ],
)
def test_bands(n: int, text: str) -> None:
    assert band(n) == text.replace("-", "\u2013")


def test_report_counts_and_bands_gagged_cases(world: Any) -> None:
    clock, _vault, (g, _) = world
    clock.now = dt.datetime(2026, 9, 1, 12, tzinfo=dt.UTC)
    period = parse_period("2026H2")
    until = dt.date(2026, 10, 1)
    for i in range(260):
        case(g, clock, gag=True, gag_until=until, jurisdiction="US" if i % 2 else "DE")
    case(g, clock, jurisdiction="FR")
    closed = case(g, clock, jurisdiction="FR")
    g.cases.close(OPS, closed, "no_data")
    case(g, clock, jurisdiction="FR", received_on=dt.date(2026, 6, 30))  # the period before
    report = build(g.store, period, clock())
    assert report.cases == 2 and report.gagged_band == "250\u2013499"
    assert report.outcomes == {"redirected": 0, "rejected": 0, "no_data": 1, "disclosed_with_consent": 0, "pending": 1}
    assert list(report.jurisdictions) == ["FR"] and report.tenants_affected == 1
    clock.now = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)  # the orders end: every case counts
    report = build(g.store, period, clock())
    assert report.cases == 262 and report.gagged_band == "0\u2013249"
    assert report.jurisdictions["US"]["total"] == 130 and report.jurisdictions["DE"]["pending"] == 130


# --- the vault's view of grants (keys/release.py reads them through VaultCore.release_facts) ---------------------


def test_the_vault_sees_a_grants_case_only_once_no_gag_hides_it(world: Any) -> None:
    """A release under a grant filed for a third-party case is 'third-party', unless the case's non-disclosure
    order is in force: then the tenant's chain must not name it, and the grant reads as an operator's own."""
    from strongroom.keys.seal import SealManager
    from strongroom.keys.storage import MemoryStorage
    from strongroom.service.vault import VaultCore

    clock, _vault, (g, _) = world
    physical = MemoryStorage()
    core = VaultCore(physical, SealManager(physical), repo=g.repo)
    open_case, gagged = case(g, clock), case(g, clock, gag=True)  # the gag has no end: in force whatever the time
    grants = {}
    for name, cid in (("plain", None), ("open", open_case), ("gagged", gagged)):
        rid = file(g, case_id=cid) if cid else file(g)
        view = g.lockbox.approve(ADMIN, rid)
        assert view.grant is not None
        grants[name] = view.grant.id
    facts = core.release_facts
    got = {name: facts.grant(gid) for name, gid in grants.items()}
    assert {name: f.case_id if f else "missing" for name, f in got.items()} == {
        "plain": None,
        "open": open_case,
        "gagged": None,
    }
    plain = got["plain"]
    assert plain is not None and (plain.operator, plain.tenant, plain.bucket_id, plain.revoked) == (
        "ops",
        "acme",
        "id-data",
        False,
    )
    assert facts.grant("lbg-none") is None
    bucket = facts.bucket("data")
    assert bucket is not None and (bucket.id, bucket.tenant) == ("id-data", "acme") and facts.bucket("nope") is None
    g.lockbox.revoke(ADMIN, g.store.get_grant(grants["plain"]).request_id)  # type: ignore[union-attr]
    assert facts.grant(grants["plain"]).revoked  # type: ignore[union-attr]
