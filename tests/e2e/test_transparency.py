"""The transparency report end to end: a known set of recorded cases and lockbox requests gives exact figures in
the JSON, in the CLI and on the public page, which a headless Chromium opens and reads (cases by outcome and
jurisdiction, tenants affected, lockbox answers, gagged cases only as a band). Recorded values are escaped."""

from __future__ import annotations

import datetime as dt
import json
import os
import ssl
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import tests.conftest as ct
from tests.e2e import timeshift

from strongroom.http.admin.client import AdminClient
from strongroom.metadata.models import LockboxRequest
from strongroom.service.transparency import current_period

if TYPE_CHECKING:
    from tests.conftest import Server

pytestmark = pytest.mark.e2e

NOW = dt.datetime.now(dt.UTC)
PERIOD = current_period(NOW.date())
DAY0 = PERIOD.start.isoformat()  # in the period, never in the future
BEFORE = (PERIOD.start - dt.timedelta(days=1)).isoformat()  # the period before
ODD = '<i>FR</i> & "co"'  # a jurisdiction full of markup: shown as text, never as markup

OUTCOMES = {"redirected": 1, "rejected": 2, "no_data": 1, "disclosed_with_consent": 1, "pending": 2}
JURISDICTIONS = {
    "DE": {"total": 2, "no_data": 1, "disclosed_with_consent": 1},
    "US": {"total": 4, "redirected": 1, "rejected": 1, "pending": 2},
    ODD: {"total": 1, "rejected": 1},
}
LOCKBOX = {"requested": 5, "approved": 2, "denied": 1, "expired": 1, "pending": 1}


@dataclass
class World:
    srv: Server
    ops: AdminClient
    period: str


def full(counts: dict[str, int]) -> dict[str, int]:
    keys = ("redirected", "rejected", "no_data", "disclosed_with_consent", "pending")
    return {"total": counts.get("total", 0), **{k: counts.get(k, 0) for k in keys}}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    srv = ct.start_server(tmp_path_factory.mktemp("transparency") / "data")
    try:
        ops = srv.admin(ct.OPERATOR_ACCESS, ct.OPERATOR_SECRET)
        tenants = {}
        for t in ("t1", "t2", "t3"):
            name = f"{t}-{uuid.uuid4().hex[:6]}"
            key = ops.request("POST", "/tenants", {"name": name})["access_key"]
            admin = srv.admin(key["access_key_id"], key["secret_access_key"])
            srv.client(access=key["access_key_id"], secret=key["secret_access_key"]).create_bucket(Bucket=name)
            tenants[t] = (name, admin)
        t1, a1 = tenants["t1"]
        t2, a2 = tenants["t2"]
        t3, _a3 = tenants["t3"]

        def case(tenant: str, jurisdiction: str, outcome: str | None, received: str = DAY0, **extra: Any) -> str:
            body = {
                "tenant": tenant,
                "authority": "an authority",
                "jurisdiction": jurisdiction,
                "legal_basis": "a law",
                "scope": "some data",
                "received_on": received,
                **extra,
            }
            cid = str(ops.request("POST", "/disclosures", body)["id"])
            if outcome is not None:
                close: dict[str, Any] = {"outcome": outcome}
                if outcome == "disclosed_with_consent":
                    close["grant_id"] = lockbox(t2, a2, "approve")
                ops.request("POST", f"/disclosures/{cid}/close", close)
            return cid

        def lockbox(tenant: str, admin: AdminClient, answer: str | None) -> str:
            body = {"tenant": tenant, "bucket": tenant, "reason": "r", "ticket": "T", "duration_seconds": 600}
            req = ops.request("POST", "/lockbox/requests", body)
            if answer is None:
                return str(req["id"])
            out = admin.request("POST", f"/lockbox/requests/{req['id']}/{answer}")
            return str(out["grant"]["id"]) if out["grant"] else str(req["id"])

        case(t1, "US", "redirected")
        case(t1, "US", None)  # open: pending
        case(t1, "US", "rejected")
        case(t1, "US", None, gag=True, gag_until=DAY0)  # its order ended: counted like the others
        case(t2, "DE", "no_data")
        case(t2, "DE", "disclosed_with_consent")  # files and approves lockbox request 1
        case(t1, ODD, "rejected")
        case(t3, "US", None, gag=True, gag_until=(NOW.date() + dt.timedelta(days=90)).isoformat())  # in the band
        case(t3, "DE", "rejected", gag=True)  # an order without end: in the band, not in the outcomes
        case(t2, "US", "redirected", received=BEFORE)  # the period before
        grant = lockbox(t1, a1, "approve")  # 2: approved, then revoked: still approved
        ops.request("POST", f"/lockbox/requests/{grant_request(ops, grant)}/revoke")
        lockbox(t1, a1, "deny")  # 3
        expired = lockbox(t1, a1, None)  # 4: unanswered for 13 h
        assert timeshift.age(srv.data_dir, LockboxRequest, 13, only=("expires_at",), id=expired) == 1
        lockbox(t2, a2, None)  # 5: pending
        yield World(srv, ops, PERIOD.label)
    finally:
        srv.stop()


def grant_request(ops: AdminClient, grant_id: str) -> str:
    return next(r["id"] for r in ops.request("GET", "/lockbox/requests") if (r["grant"] or {}).get("id") == grant_id)


def public(w: World, **params: str) -> httpx.Response:
    tls = ssl.create_default_context(cafile=w.srv.ca)
    return httpx.get(w.srv.endpoint + "/_strongroom/transparency", params=params, verify=tls, timeout=30)


def test_json_figures_are_exact(world: World) -> None:
    r = public(world, period=world.period, format="json")  # no signature: the report is public
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    doc = r.json()
    assert doc["period"] == PERIOD.label and doc["from"] == PERIOD.start.isoformat()
    assert doc["to"] == PERIOD.last_day.isoformat()
    assert doc["cases"]["total"] == 7
    assert doc["cases"]["by_outcome"] == OUTCOMES
    assert doc["cases"]["by_jurisdiction"] == {k: full(v) for k, v in JURISDICTIONS.items()}
    assert doc["cases"]["tenants_affected"] == 2  # t3's cases are all under an order in force
    assert doc["under_non_disclosure_order"] == {"band": "0\u2013249", "band_width": 250}
    assert doc["lockbox"] == LOCKBOX


def test_the_period_before_has_its_own_case(world: World) -> None:
    before = current_period(PERIOD.start - dt.timedelta(days=1)).label
    doc = public(world, period=before, format="json").json()
    assert doc["cases"]["total"] == 1 and doc["cases"]["by_outcome"]["redirected"] == 1
    assert doc["cases"]["by_jurisdiction"] == {"US": full({"total": 1, "redirected": 1})}
    assert doc["lockbox"]["requested"] == 0


def test_bad_requests(world: World) -> None:
    for period in ("2026H3", "26H1", "2026-H1", "<script>"):
        r = public(world, period=period)
        assert r.status_code == 400 and "<script>" not in r.text
    assert public(world, period=world.period, format="xml").status_code == 400
    r = httpx.post(
        world.srv.endpoint + "/_strongroom/transparency", verify=ssl.create_default_context(cafile=world.srv.ca)
    )
    assert r.status_code == 405
    assert public(world).status_code == 200  # default: the current half year


def test_cli(world: World) -> None:
    w = world
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "STRONGROOM__"))}  # no credentials

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "strongroom", "transparency-report", *args, "--data-dir", str(w.srv.data_dir)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=w.srv.data_dir.parent,
        )

    out = cli("--period", w.period, "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["cases"]["by_outcome"] == OUTCOMES and doc["lockbox"] == LOCKBOX
    html = cli("--period", w.period, "--html")
    assert html.returncode == 0 and html.stdout.startswith("<!doctype html>")
    assert "&lt;i&gt;FR&lt;/i&gt; &amp; &quot;co&quot;" in html.stdout and "<i>" not in html.stdout
    text = cli("--period", w.period)
    assert text.returncode == 0 and "requests for customer data: 7" in text.stdout and "0\u2013249" in text.stdout
    bad = cli("--period", "2026H9")
    assert bad.returncode == 2 and "period" in bad.stderr


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.accept_insecure_certs = True  # the test server's own CA
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def test_the_page_in_a_browser(world: World, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{world.srv.endpoint}/_strongroom/transparency?period={world.period}")
    assert browser.title == f"Transparency report {PERIOD.label}"
    text = lambda element_id: browser.find_element(By.ID, element_id).text  # noqa: E731
    assert text("period") == PERIOD.label
    assert text("from") == PERIOD.start.isoformat() and text("to") == PERIOD.last_day.isoformat()
    assert {k: int(text(f"outcome-{k}")) for k in OUTCOMES} == OUTCOMES
    assert int(text("cases-total")) == 7
    assert int(text("tenants-affected")) == 2
    assert text("gagged-band") == "0\u2013249"
    assert {k: int(text(f"lockbox-{k}")) for k in LOCKBOX} == LOCKBOX
    rows = browser.find_elements(By.CSS_SELECTOR, "#jurisdictions tr[data-jurisdiction]")
    seen = {}
    for row in rows:
        name = row.get_attribute("data-jurisdiction")
        assert row.find_element(By.CSS_SELECTOR, "td.name").text == name
        seen[name] = {
            k: int(row.find_element(By.CSS_SELECTOR, f"td.{k}").text)
            for k in ("total", "redirected", "rejected", "no_data", "disclosed_with_consent", "pending")
        }
    assert seen == {k: full(v) for k, v in JURISDICTIONS.items()}
    # the recorded markup is text: no <i> element exists, no script, nothing fetched from elsewhere
    assert browser.find_elements(By.TAG_NAME, "i") == []
    assert browser.find_elements(By.TAG_NAME, "script") == []
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0


def test_page_headers(world: World) -> None:
    r = public(world, period=world.period)
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "<i>FR" not in r.text and "&lt;i&gt;FR&lt;/i&gt; &amp; &quot;co&quot;" in r.text
