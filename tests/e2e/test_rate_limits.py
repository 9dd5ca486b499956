"""The per-key request rate and the signature-failure delays hold on every way in: S3 requests, browser POST
uploads and the admin API share one budget per access key (service/limits.py), over real TLS."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import tests.conftest as ct
from botocore.exceptions import ClientError

from strongroom.http.admin.client import AdminError

pytestmark = pytest.mark.e2e

RATE, BURST = 1, 3  # per key: 1 request a second long-run, at most 3 in any 3 s window (3 quick calls, then refused)
WINDOW = BURST / RATE


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ct.Server]:
    env = {
        "STRONGROOM_RATE_LIMIT_PER_KEY": str(RATE),
        "STRONGROOM_RATE_LIMIT_BURST": str(BURST),
        "STRONGROOM_AUTH_FAILURE_THRESHOLD": "2",
        "STRONGROOM_AUTH_FAILURE_DELAY_MAX_SECONDS": "1",
    }
    server = ct.start_server(tmp_path_factory.mktemp("limits") / "data", env=env)
    yield server
    server.stop()


def patient(call: Callable[[], Any]) -> Any:
    """``call()``, waiting out SlowDown refusals (the root key's own budget, which every test's setup uses)."""
    for attempt in range(30):
        try:
            return call()
        except AdminError as exc:
            if exc.code != "SlowDown" or attempt == 29:
                raise
            time.sleep(1.1)


def fresh_key(srv: ct.Server) -> tuple[str, str]:
    """A new admin user of the default tenant with its own access key (its own budget)."""
    admin = srv.admin()
    user = f"u-{uuid.uuid4().hex[:8]}"
    patient(lambda: admin.request("POST", "/tenants/default/users", {"name": user, "admin": True}))
    key = patient(lambda: admin.request("POST", f"/tenants/default/users/{user}/access-keys"))
    ct.register_secret(key["secret_access_key"], f"{user}'s secret key")
    time.sleep(WINDOW + 0.5)  # settle: every test's key starts with a full budget
    return key["access_key_id"], key["secret_access_key"]


def first_refusal(call: Callable[[], Any], tries: int = 4 * BURST) -> tuple[int, str | None]:
    """Call until refused; (how many calls succeeded first, the refusal's code)."""
    for n in range(tries):
        code = call()
        if code is not None:
            return n, code
    return tries, None


def refusal_code(r: httpx.Response) -> str:
    """The S3 error code of a refused raw request (which must be a 503)."""
    assert r.status_code == 503, r.text
    return r.text.split("<Code>", 1)[1].split("</Code>", 1)[0]


def s3_code(call: Callable[[], Any]) -> Callable[[], str | None]:
    def run() -> str | None:
        try:
            call()
        except ClientError as exc:
            return str(exc.response["Error"]["Code"])
        return None

    return run


def test_s3_requests_slow_down_past_the_rate(srv: ct.Server) -> None:
    access, secret = fresh_key(srv)
    s3 = srv.client(access=access, secret=secret)
    ok, code = first_refusal(s3_code(s3.list_buckets))
    assert code == "SlowDown" and BURST - 1 <= ok <= 2 * BURST


def test_the_admin_api_shares_the_keys_budget(srv: ct.Server) -> None:
    access, secret = fresh_key(srv)
    admin = srv.admin(access, secret)

    def whoami() -> str | None:
        try:
            admin.request("GET", "/whoami")
        except AdminError as exc:
            assert exc.status == 503
            return exc.code
        return None

    ok, code = first_refusal(whoami)
    assert code == "SlowDown" and BURST - 1 <= ok <= 2 * BURST
    # one budget for both APIs: alternating them, the key is refused after about BURST calls in all (two budgets
    # would allow about 2 x BURST)
    time.sleep(2 * WINDOW + 0.5)  # a fresh window
    s3 = srv.client(access=access, secret=secret)
    calls = [whoami, s3_code(s3.list_buckets)]
    n = 0

    def alternate() -> str | None:
        nonlocal n
        n += 1
        return calls[n % 2]()

    ok, code = first_refusal(alternate)
    assert code == "SlowDown" and BURST - 1 <= ok <= BURST + 1


def test_browser_post_uploads_count_against_the_key(srv: ct.Server) -> None:
    access, secret = fresh_key(srv)
    s3 = srv.client(access=access, secret=secret)
    bucket = f"limits-{uuid.uuid4().hex[:8]}"
    for _ in range(10):
        if s3_code(lambda: s3.create_bucket(Bucket=bucket))() in (None, "BucketAlreadyOwnedByYou"):
            break
        time.sleep(1.1)
    time.sleep(2 * WINDOW + 0.5)
    form = s3.generate_presigned_post(bucket, "up/${filename}", Conditions=[["starts-with", "$key", "up/"]])
    n = 0

    def post() -> str | None:
        nonlocal n
        n += 1
        r = httpx.post(form["url"], data=form["fields"], files={"file": (f"f{n}", b"x", "text/plain")}, verify=srv.ca)
        if r.status_code == 204:
            return None
        return refusal_code(r)

    ok, code = first_refusal(post)
    assert code == "SlowDown" and BURST - 1 <= ok <= 2 * BURST


def test_failed_admin_signatures_are_held_back(srv: ct.Server) -> None:
    access, _secret = fresh_key(srv)
    wrong = srv.admin(access, "not-the-secret-" + "x" * 25)
    took = []
    for _ in range(5):
        t0 = time.monotonic()
        with pytest.raises(AdminError) as refused:
            wrong.request("GET", "/whoami")
        took.append(time.monotonic() - t0)
        assert (refused.value.status, refused.value.code) == (403, "SignatureDoesNotMatch")
    # past the threshold (2 a minute), each answer waits: 0.1 s, doubling, capped at 1 s
    assert max(took[3:]) >= 0.1 and max(took) < 5


def test_the_public_transparency_page_is_limited_per_address(srv: ct.Server) -> None:
    time.sleep(WINDOW + 0.5)  # other tests of this module do not fetch it, but start from a full budget anyway
    url = f"{srv.endpoint}/_strongroom/transparency"

    def fetch() -> str | None:
        r = httpx.get(url, verify=srv.ca)
        if r.status_code == 200:
            return None
        return refusal_code(r)

    ok, code = first_refusal(fetch)
    assert code == "SlowDown" and BURST - 1 <= ok <= 2 * BURST
