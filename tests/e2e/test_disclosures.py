"""Third-party requests end to end: an operator records a case; the tenant is told (feed and webhook) unless a
non-disclosure order is in force, and then when it ends (by time, or recorded as lifted); cases close with an
outcome, and "disclosed with consent" only with an approved lockbox grant of that tenant."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
import tests.conftest as ct
from tests.e2e import timeshift
from tests.e2e.webhook_receiver import Receiver, receiving, verify

from strongroom.http.admin.client import AdminClient, AdminError
from strongroom.metadata.models import Notice, WebhookDelivery

if TYPE_CHECKING:
    from tests.conftest import Server

pytestmark = pytest.mark.e2e

TODAY = dt.datetime.now(dt.UTC).date()


@dataclass
class World:
    srv: Server
    ops: AdminClient
    acme: str
    acme_admin: AdminClient
    globex: str
    globex_admin: AdminClient
    bucket: str
    secret: str
    receiver: Receiver


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    srv = ct.start_server(tmp_path_factory.mktemp("disclosures") / "data")
    try:
        with receiving() as receiver:
            ops = srv.admin(ct.OPERATOR_ACCESS, ct.OPERATOR_SECRET)
            made = {}
            for prefix in ("acme", "globex"):
                name = f"{prefix}-{uuid.uuid4().hex[:8]}"
                key = ops.request("POST", "/tenants", {"name": name})["access_key"]
                made[prefix] = (name, srv.admin(key["access_key_id"], key["secret_access_key"]), key)
            acme, acme_admin, akey = made["acme"]
            bucket = f"{acme}-data"
            srv.client(access=akey["access_key_id"], secret=akey["secret_access_key"]).create_bucket(Bucket=bucket)
            secret = acme_admin.request("PUT", f"/tenants/{acme}/webhook", {"url": receiver.url})["secret"]
            yield World(srv, ops, acme, acme_admin, made["globex"][0], made["globex"][1], bucket, secret, receiver)
    finally:
        srv.stop()


def record(w: World, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "tenant": w.acme,
        "authority": "District Court, Example County",
        "jurisdiction": "US",
        "legal_basis": "18 U.S.C. 2703(d) order",
        "scope": "all objects of the tenant",
        "received_on": TODAY.isoformat(),
    }
    body.update(over)
    return dict(w.ops.request("POST", "/disclosures", body))


def admin_error(call: Callable[[], Any]) -> AdminError:
    try:
        call()
    except AdminError as exc:
        return exc
    pytest.fail("the admin call succeeded")


def told(w: World, case_id: str) -> list[dict[str, Any]]:
    return [
        n
        for n in w.acme_admin.request("GET", f"/tenants/{w.acme}/notices?limit=1000")["notices"]
        if n["subject"] == case_id
    ]


def delivered(w: World, case_id: str) -> list[dict[str, Any]]:
    out = []
    for headers, body in list(w.receiver.got):
        doc = json.loads(body)
        if doc["notice"]["subject"] == case_id:
            assert verify(w.secret, headers, body)
            out.append(doc)
    return out


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_a_case_is_redirected_to_the_customer_who_is_told(world: World) -> None:
    w = world
    case = record(w)
    assert (case["status"], case["outcome"], case["gag_in_force"], case["notified"]) == (
        "open",
        "redirected",
        False,
        True,
    )
    (n,) = told(w, case["id"])
    assert n["kind"] == "disclosure.received"
    assert n["body"]["authority"] == "District Court, Example County" and n["body"]["jurisdiction"] == "US"
    assert n["body"]["legal_basis"] == "18 U.S.C. 2703(d) order" and "redirected" in n["body"]["outcome"]
    assert wait_for(lambda: len(delivered(w, case["id"])) == 1)
    assert delivered(w, case["id"])[0]["notice"]["kind"] == "disclosure.received"
    closed = w.ops.request("POST", f"/disclosures/{case['id']}/close", {"outcome": "redirected"})
    assert closed["status"] == "closed" and closed["closed_by"] == "admin"
    assert (
        admin_error(lambda: w.ops.request("POST", f"/disclosures/{case['id']}/close", {"outcome": "rejected"})).status
        == 409
    )


def test_a_gagged_case_is_told_when_the_gag_ends(world: World) -> None:
    w = world
    until = TODAY + dt.timedelta(days=30)
    case = record(w, gag=True, gag_until=until.isoformat())
    assert case["gag_in_force"] and not case["notified"]
    assert dt.datetime.fromisoformat(case["notice_at"]) == dt.datetime.combine(until, dt.time(), dt.UTC)
    time.sleep(2.5)  # the webhook sender polls every second: give it the chance to (wrongly) send
    assert told(w, case["id"]) == [] and delivered(w, case["id"]) == []
    # nor does the tenant's audit chain show the case (operators' records stay in the operators' chain)
    chain = w.acme_admin.request("GET", "/audit/entries?limit=1000")["entries"]
    assert not any("Disclosure" in e["operation"] for e in chain)
    assert not any(case["id"] in json.dumps(e) for e in chain)
    # 30 days go by: the order ends, the notice is shown and delivered, with no one doing anything
    assert timeshift.age(w.srv.data_dir, Notice, 24 * 31, subject=case["id"]) == 1
    (n,) = told(w, case["id"])
    assert n["kind"] == "disclosure.received"
    assert timeshift.age(w.srv.data_dir, WebhookDelivery, 24 * 31, notice_id=n["id"]) == 1
    assert wait_for(lambda: len(delivered(w, case["id"])) == 1)


def test_a_gag_without_end_withholds_until_recorded_as_lifted(world: World) -> None:
    w = world
    case = record(w, gag=True)
    assert case["gag_in_force"] and case["notice_at"] is None
    assert told(w, case["id"]) == []
    later = w.ops.request(
        "PATCH", f"/disclosures/{case['id']}", {"gag": True, "gag_until": (TODAY + dt.timedelta(days=9)).isoformat()}
    )
    assert later["gag_in_force"] and not later["notified"]
    assert told(w, case["id"]) == []
    lifted = w.ops.request("PATCH", f"/disclosures/{case['id']}", {"gag": False})
    assert not lifted["gag_in_force"] and lifted["notified"]
    assert len(told(w, case["id"])) == 1
    assert wait_for(lambda: len(delivered(w, case["id"])) == 1)
    # once told, always told: a new order does not withdraw the notice
    again = w.ops.request("PATCH", f"/disclosures/{case['id']}", {"gag": True})
    assert again["gag_in_force"] and again["notified"] and len(told(w, case["id"])) == 1


def test_validation(world: World) -> None:
    w = world
    assert admin_error(lambda: record(w, received_on=(TODAY + dt.timedelta(days=1)).isoformat())).status == 400
    assert admin_error(lambda: record(w, gag_until=TODAY.isoformat())).status == 400  # an end without an order
    assert admin_error(lambda: record(w, gag=True, gag_until="2000-01-01")).status == 400  # ends before received
    assert admin_error(lambda: record(w, authority="  ")).status == 400
    assert admin_error(lambda: record(w, tenant="system")).status == 400
    assert admin_error(lambda: record(w, tenant="no-such-tenant")).status == 404
    # cases are the operators' records: tenants neither record nor read them
    body = {
        "tenant": w.acme,
        "authority": "a",
        "jurisdiction": "US",
        "legal_basis": "b",
        "scope": "c",
        "received_on": TODAY.isoformat(),
    }
    assert admin_error(lambda: w.acme_admin.request("POST", "/disclosures", body)).status == 403
    assert admin_error(lambda: w.acme_admin.request("GET", "/disclosures")).status == 403
    case = record(w)
    assert admin_error(lambda: w.acme_admin.request("GET", f"/disclosures/{case['id']}")).status == 403
    assert admin_error(lambda: w.ops.request("GET", "/disclosures/dsc-0000000000000000")).status == 404


def grant_for(w: World, admin: AdminClient, tenant: str, bucket: str, *, approve: bool = True) -> dict[str, Any]:
    body = {"tenant": tenant, "bucket": bucket, "reason": "court order", "ticket": "LEGAL-1", "duration_seconds": 600}
    req = w.ops.request("POST", "/lockbox/requests", body)
    verb = "approve" if approve else "deny"
    return dict(admin.request("POST", f"/lockbox/requests/{req['id']}/{verb}"))


def test_disclosed_with_consent_needs_an_approved_grant_of_that_tenant(world: World) -> None:
    w = world
    case = record(w)
    path = f"/disclosures/{case['id']}/close"

    def close(**body: Any) -> dict[str, Any]:
        return dict(w.ops.request("POST", path, body))

    assert admin_error(lambda: close(outcome="disclosed_with_consent")).status == 400  # no grant
    assert admin_error(lambda: close(outcome="disclosed_with_consent", grant_id="lbg-0000000000000000")).status == 400
    denied = grant_for(w, w.acme_admin, w.acme, w.bucket, approve=False)
    assert denied["grant"] is None
    # a grant of another tenant does not count
    gb = f"{w.globex}-data"
    gkey = w.globex_admin  # globex's admin makes a bucket through S3 and approves a request on it
    s3g = w.srv.client(access=gkey._access, secret=gkey._secret)
    s3g.create_bucket(Bucket=gb)
    other = grant_for(w, w.globex_admin, w.globex, gb)["grant"]["id"]
    e = admin_error(lambda: close(outcome="disclosed_with_consent", grant_id=other))
    assert (e.status, e.code) == (400, "InvalidRequest")
    assert admin_error(lambda: close(outcome="rejected", grant_id=other)).status == 400  # grant with another outcome
    assert admin_error(lambda: close(outcome="handed over")).status == 400
    assert w.ops.request("GET", f"/disclosures/{case['id']}")["status"] == "open"
    mine = grant_for(w, w.acme_admin, w.acme, w.bucket)["grant"]["id"]
    out = close(outcome="disclosed_with_consent", grant_id=mine, note="data handed over with acme's consent")
    assert (out["status"], out["outcome"], out["grant_id"]) == ("closed", "disclosed_with_consent", mine)


@pytest.mark.parametrize("outcome", ["rejected", "no_data", "redirected"])
def test_other_outcomes(world: World, outcome: str) -> None:
    w = world
    case = record(w)
    assert w.ops.request("POST", f"/disclosures/{case['id']}/close", {"outcome": outcome})["outcome"] == outcome
    listed = w.ops.request("GET", f"/disclosures?tenant={w.acme}&status=closed")
    assert case["id"] in [c["id"] for c in listed]


def test_cli_record_list_show_close(world: World) -> None:
    w = world
    env = dict(os.environ)
    env.pop("STRONGROOM__RESOLVED_SETTINGS", None)
    env.update({"AWS_ACCESS_KEY_ID": ct.OPERATOR_ACCESS, "AWS_SECRET_ACCESS_KEY": ct.OPERATOR_SECRET, "COLUMNS": "250"})

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "strongroom", *args, "--data-dir", str(w.srv.data_dir)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=w.srv.data_dir.parent,
        )

    out = cli(
        "disclosure",
        "record",
        "--tenant",
        w.acme,
        "--authority",
        "Police",
        "--jurisdiction",
        "DE",
        "--legal-basis",
        "StPO 94",
        "--scope",
        "bucket logs",
        "--received",
        TODAY.isoformat(),
        "--json",
    )
    assert out.returncode == 0, out.stderr
    case = json.loads(out.stdout)
    assert case["jurisdiction"] == "DE" and case["notified"]
    listed = cli("disclosure", "list", "--tenant", w.acme)
    assert listed.returncode == 0 and case["id"] in listed.stdout
    shown = cli("disclosure", "show", case["id"])
    assert shown.returncode == 0 and "Police (DE)" in shown.stdout and "tenant notified" in shown.stdout
    bad = cli("disclosure", "close", case["id"], "--outcome", "disclosed-with-consent")
    assert bad.returncode == 2 and "grant" in bad.stderr
    closed = cli("disclosure", "close", case["id"], "--outcome", "no-data", "--json")
    assert closed.returncode == 0 and json.loads(closed.stdout)["outcome"] == "no_data"
    gagged = cli(
        "disclosure",
        "record",
        "--tenant",
        w.acme,
        "--authority",
        "Agency",
        "--jurisdiction",
        "US",
        "--legal-basis",
        "NSL",
        "--scope",
        "subscriber info",
        "--received",
        TODAY.isoformat(),
        "--gag",
        "--json",
    )
    gid = json.loads(gagged.stdout)["id"]
    assert told(w, gid) == []
    lifted = cli("disclosure", "gag", gid, "--lift", "--json")
    assert lifted.returncode == 0 and json.loads(lifted.stdout)["notified"]
    assert len(told(w, gid)) == 1
