"""Tenant webhooks end to end: a tenant admin sets a URL and gets a secret; notices (here: lockbox requests and
answers) arrive at a real local HTTP receiver as JSON POSTs signed with HMAC-SHA256 over the timestamp and the
body, sent by the server's background sender (not the request that caused them) and retried when the receiver
fails."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
import tests.conftest as ct
from tests.e2e.webhook_receiver import Receiver, receiving, verify

from strongroom.http.admin.client import AdminClient, AdminError

if TYPE_CHECKING:
    from tests.conftest import Server

pytestmark = pytest.mark.e2e


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    with receiving() as rec:
        yield rec


@dataclass
class Tenant:
    name: str
    admin: AdminClient
    bucket: str


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = ct.start_server(tmp_path_factory.mktemp("webhooks") / "data")
    yield server
    server.stop()


def new_tenant(srv: Server) -> Tenant:
    ops = srv.admin(ct.OPERATOR_ACCESS, ct.OPERATOR_SECRET)
    name = f"t-{uuid.uuid4().hex[:8]}"
    key = ops.request("POST", "/tenants", {"name": name})["access_key"]
    s3 = srv.client(access=key["access_key_id"], secret=key["secret_access_key"])
    bucket = f"{name}-data"
    s3.create_bucket(Bucket=bucket)
    return Tenant(name, srv.admin(key["access_key_id"], key["secret_access_key"]), bucket)


def file_request(srv: Server, t: Tenant) -> dict[str, Any]:
    body = {"tenant": t.name, "bucket": t.bucket, "reason": "r", "ticket": "T-1", "duration_seconds": 600}
    return dict(srv.admin(ct.OPERATOR_ACCESS, ct.OPERATOR_SECRET).request("POST", "/lockbox/requests", body))


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def admin_error(call: Callable[[], Any]) -> AdminError:
    try:
        call()
    except AdminError as exc:
        return exc
    pytest.fail("the admin call succeeded")


def test_notices_arrive_signed_at_the_webhook(srv: Server, receiver: Receiver) -> None:
    t = new_tenant(srv)
    made = t.admin.request("PUT", f"/tenants/{t.name}/webhook", {"url": receiver.url})
    secret = made["secret"]
    assert made["url"] == receiver.url and len(secret) >= 32
    shown = t.admin.request("GET", f"/tenants/{t.name}/webhook")
    assert shown["url"] == receiver.url and "secret" not in shown

    req = file_request(srv, t)
    wait_for(lambda: len(receiver.got) >= 1)
    headers, body = receiver.got[0]
    assert headers["content-type"] == "application/json"
    assert headers["x-strongroom-event"] == "lockbox.requested"
    assert headers["x-strongroom-signature"].startswith("sha256=")
    assert verify(secret, headers, body)
    # the timestamp is inside the MAC: the same body under another timestamp does not verify
    assert not verify(
        secret, {**headers, "x-strongroom-timestamp": str(int(headers["x-strongroom-timestamp"]) + 1)}, body
    )
    assert not verify(secret, headers, body + b" ")
    assert not verify("another secret", headers, body)
    assert abs(int(headers["x-strongroom-timestamp"]) - time.time()) < 300
    doc = json.loads(body)
    assert doc["delivery"] == headers["x-strongroom-delivery"]
    assert doc["notice"]["kind"] == "lockbox.requested" and doc["notice"]["subject"] == req["id"]
    assert doc["notice"]["tenant"] == t.name and doc["notice"]["body"]["ticket"] == "T-1"
    # the feed has the same notice
    feed = t.admin.request("GET", f"/tenants/{t.name}/notices")["notices"]
    assert doc["notice"]["id"] in [n["id"] for n in feed]


def test_failed_deliveries_are_retried(srv: Server, receiver: Receiver) -> None:
    t = new_tenant(srv)
    secret = t.admin.request("PUT", f"/tenants/{t.name}/webhook", {"url": receiver.url})["secret"]
    receiver.statuses[:] = [500, 503]
    started = time.monotonic()
    req = file_request(srv, t)
    assert time.monotonic() - started < 2  # the request did not wait for the receiver
    wait_for(lambda: len(receiver.got) >= 3, timeout=30)
    ids = {h["x-strongroom-delivery"] for h, _ in receiver.got}
    assert len(ids) == 1  # one delivery, attempted three times
    assert all(verify(secret, h, b) for h, b in receiver.got)
    assert all(json.loads(b)["notice"]["subject"] == req["id"] for _, b in receiver.got)

    def delivered() -> bool:
        d = t.admin.request("GET", f"/tenants/{t.name}/webhook")["deliveries"]
        return bool(d) and d[0]["status"] == "delivered"

    wait_for(delivered)
    d = t.admin.request("GET", f"/tenants/{t.name}/webhook")["deliveries"][0]
    assert d["attempts"] == 3 and d["last_error"] is None
    assert dt.datetime.fromisoformat(d["delivered_at"]) <= dt.datetime.now(dt.UTC)


def test_a_new_secret_replaces_the_old_one(srv: Server, receiver: Receiver) -> None:
    t = new_tenant(srv)
    old = t.admin.request("PUT", f"/tenants/{t.name}/webhook", {"url": receiver.url})["secret"]
    new = t.admin.request("PUT", f"/tenants/{t.name}/webhook", {"url": receiver.url})["secret"]
    assert old != new
    file_request(srv, t)
    wait_for(lambda: len(receiver.got) >= 1)
    headers, body = receiver.got[0]
    assert verify(new, headers, body) and not verify(old, headers, body)


def test_webhook_urls_and_who_may_set_them(srv: Server) -> None:
    t, other = new_tenant(srv), new_tenant(srv)
    path = f"/tenants/{t.name}/webhook"
    for url in (
        "http://example.com/hook",  # plain http off this machine
        "http://10.0.0.1/hook",
        "ftp://localhost/hook",
        "https://user:pw@example.com/hook",
        "https:///nohost",
        "not a url",
        "https://example.com/" + "x" * 2100,
    ):
        e = admin_error(lambda url=url: t.admin.request("PUT", path, {"url": url}))
        assert e.status == 400, url
    assert t.admin.request("PUT", path, {"url": "https://hooks.example.com/strongroom"})["secret"]
    assert t.admin.request("PUT", path, {"url": "http://localhost:9/hook"})["secret"]
    # another tenant's admin: no such tenant for them; an operator: refused (the tenant's own setting)
    assert admin_error(lambda: other.admin.request("PUT", path, {"url": "http://localhost:9/x"})).status == 404
    assert admin_error(lambda: other.admin.request("GET", path)).status == 404
    ops = srv.admin(ct.OPERATOR_ACCESS, ct.OPERATOR_SECRET)
    assert admin_error(lambda: ops.request("PUT", path, {"url": "http://localhost:9/x"})).status == 403
    assert admin_error(lambda: ops.request("GET", f"/tenants/{t.name}/notices")).status == 403
    t.admin.request("DELETE", path)
    assert admin_error(lambda: t.admin.request("GET", path)).status == 404
    assert admin_error(lambda: t.admin.request("DELETE", path)).status == 404
