"""Notices to a tenant's admins: the feed (admin API) and the tenant's webhook.

A notice is written in the transaction of the change it is about (a lockbox request, a third-party case), with the
time it becomes visible: at once, or when a non-disclosure order ends (None: withheld until an end is recorded).
The feed shows a tenant the notices visible now, in the order they became visible.

Webhook deliveries are rows too (``webhook_deliveries``): every gateway runs :meth:`WebhookDeliverer.run`, which
leases due deliveries in the database (each attempt is made by one gateway) and POSTs them off the request path,
retrying with backoff (``RETRY_DELAYS``) and giving up after the last one. A delivery is JSON::

    POST <url>
    Content-Type: application/json
    X-Strongroom-Event: lockbox.requested
    X-Strongroom-Delivery: whd-...
    X-Strongroom-Timestamp: 1790000000            (unix seconds)
    X-Strongroom-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>

The receiver recomputes the MAC over the timestamp it was sent and the raw body, compares in constant time, and
refuses old timestamps (replays). Webhook URLs are ``https://`` (certificate verified against the system's CAs) or
``http://`` to the local machine only (localhost, 127.0.0.1, ::1); redirects are not followed. The signing secret
is shown once, when the webhook is set, and sealed in the vault.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
import urllib.parse
from dataclasses import dataclass
from typing import Any

import anyio
import httpx

from strongroom.core import errors
from strongroom.core.clock import Clock, utcnow
from strongroom.metadata.governance import GovernanceStore, NewNotice
from strongroom.metadata.models import Notice, Webhook, WebhookDelivery
from strongroom.service.runtime import Runtime

log = logging.getLogger("strongroom.notices")

#: Seconds to wait after each failed attempt; the delivery is given up after the last.
RETRY_DELAYS = (2, 10, 60, 300, 1800, 3600, 3 * 3600, 6 * 3600)
LEASE_SECONDS = 60
SEND_TIMEOUT_SECONDS = 10.0
POLL_SECONDS = 1.0
MAX_URL = 2048
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
SIGNATURE_HEADER = "X-Strongroom-Signature"
TIMESTAMP_HEADER = "X-Strongroom-Timestamp"


def check_webhook_url(url: str) -> str:
    """A webhook URL strongroom will POST to: https anywhere (verified), http only to this machine."""
    if len(url) > MAX_URL:
        raise errors.InvalidRequest(f"webhook URLs are at most {MAX_URL} characters")
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise errors.InvalidRequest("the webhook URL is not a valid URL") from None
    if parts.scheme not in ("https", "http") or not host:
        raise errors.InvalidRequest("a webhook URL is https://HOST/... (or http://localhost/... for local receivers)")
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise errors.InvalidRequest("a webhook URL carries no credentials and no fragment")
    if parts.scheme == "http" and host.lower() not in LOCAL_HOSTS:
        raise errors.InvalidRequest("plain http is allowed to localhost only; use https")
    return url


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Strongroom-Signature`` value of a delivery."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


@dataclass(frozen=True)
class NoticeView:
    id: int
    tenant: str
    kind: str
    subject: str
    body: dict[str, Any]
    created_at: dt.datetime
    visible_at: dt.datetime


def view(n: Notice) -> NoticeView:
    assert n.visible_at is not None
    return NoticeView(n.id, n.tenant_id, n.kind, n.subject, json.loads(n.body), n.created_at, n.visible_at)


def _cursor(n: Notice) -> str:
    assert n.visible_at is not None
    return f"{int(n.visible_at.timestamp() * 1_000_000)}-{n.id}"


def _parse_cursor(cursor: str) -> tuple[dt.datetime, int]:
    at, sep, nid = cursor.partition("-")
    if not sep or not at.isdigit() or not nid.isdigit():
        raise errors.InvalidRequest("after: not a cursor this API returned")
    return dt.datetime.fromtimestamp(int(at) / 1_000_000, dt.UTC), int(nid)


@dataclass(frozen=True)
class NewWebhook:
    """A webhook just set: the secret is shown this once."""

    tenant: str
    url: str
    secret: str
    created_at: dt.datetime


class NoticeService:
    def __init__(self, rt: Runtime, store: GovernanceStore, clock: Clock = utcnow) -> None:
        self.rt = rt
        self.store = store
        self.clock = clock

    def notify(self, tenant: str, kind: str, subject: str, body: dict[str, Any]) -> Notice:
        """A notice visible at once (changes that write their own notice pass a ``NewNotice`` to the store)."""
        now = self.clock()
        return self.store.add_notice(NewNotice(tenant, kind, subject, body, now), now)

    def feed(self, tenant: str, after: str | None, limit: int) -> tuple[list[NoticeView], str | None]:
        """Visible notices after the cursor, and the cursor to pass next time (None: nothing new)."""
        rows = self.store.feed(tenant, self.clock(), _parse_cursor(after) if after else None, limit)
        return [view(n) for n in rows], (_cursor(rows[-1]) if rows else after)

    # --- webhooks -----------------------------------------------------------------------------------------------
    def set_webhook(self, tenant: str, url: str, by: str) -> NewWebhook:
        """Set (or replace) the tenant's webhook, with a new signing secret sealed in the vault."""
        check_webhook_url(url)
        secret = secrets.token_urlsafe(32)
        secret_id = f"webhook.{tenant}.{secrets.token_hex(6)}"  # never an access key id (those have no dots)
        now = self.clock()
        self.rt.vault.put_credential(secret_id, secret, tenant, "webhook")
        old = self.store.put_webhook(
            Webhook(tenant_id=tenant, url=url, secret_id=secret_id, created_at=now, created_by=by)
        )
        if old is not None:
            self.rt.vault.delete_credential(old)
        return NewWebhook(tenant, url, secret, now)

    def get_webhook(self, tenant: str) -> Webhook:
        row = self.store.get_webhook(tenant)
        if row is None:
            raise errors.NoSuchEntity(f"tenant {tenant} has no webhook")
        return row

    def delete_webhook(self, tenant: str) -> None:
        secret_id = self.store.delete_webhook(tenant)
        if secret_id is None:
            raise errors.NoSuchEntity(f"tenant {tenant} has no webhook")
        self.rt.vault.delete_credential(secret_id)

    def deliveries(self, tenant: str) -> list[WebhookDelivery]:
        return self.store.deliveries(tenant)


class WebhookDeliverer:
    """Sends due webhook deliveries (every gateway runs one; the database hands each attempt to one of them)."""

    def __init__(
        self, rt: Runtime, store: GovernanceStore | None = None, clock: Clock = utcnow, http: httpx.Client | None = None
    ) -> None:
        self.rt = rt
        self.store = store or GovernanceStore(rt.repo)
        self.clock = clock
        self._http = http

    def _client(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(timeout=SEND_TIMEOUT_SECONDS, follow_redirects=False, verify=True)
        return self._http

    def deliver_due(self) -> int:
        """Blocking: attempt every due delivery this gateway can lease; how many were delivered."""
        now = self.clock()
        done = 0
        for due in self.store.take_due(now, now + dt.timedelta(seconds=LEASE_SECONDS)):
            ok, error = self._attempt(due.delivery, due.notice, due.webhook)
            attempts = due.delivery.attempts + 1
            retry = None
            if not ok and due.webhook is not None and attempts <= len(RETRY_DELAYS):
                retry = self.clock() + dt.timedelta(seconds=RETRY_DELAYS[attempts - 1])
            self.store.finish_delivery(due.delivery.id, self.clock(), ok, error, retry)
            done += ok
        return done

    def _attempt(self, delivery: WebhookDelivery, notice: Notice, webhook: Webhook | None) -> tuple[bool, str | None]:
        if webhook is None:
            return False, "the webhook was removed"
        try:
            check_webhook_url(webhook.url)
            cred = self.rt.vault.credential(webhook.secret_id)
        except errors.StrongroomError as exc:
            return False, exc.message[:200]
        if cred is None or cred.tenant != webhook.tenant_id:
            return False, "the webhook's secret is missing"
        body = json.dumps(
            {
                "delivery": delivery.id,
                "notice": {
                    "id": notice.id,
                    "tenant": notice.tenant_id,
                    "kind": notice.kind,
                    "subject": notice.subject,
                    "created_at": notice.created_at.isoformat(),
                    "visible_at": notice.visible_at.isoformat() if notice.visible_at else None,
                    "body": json.loads(notice.body),
                },
            },
            sort_keys=True,
        ).encode("utf-8")
        timestamp = str(int(self.clock().timestamp()))
        headers = {
            "content-type": "application/json",
            "user-agent": "strongroom-webhook/1",
            "x-strongroom-event": notice.kind,
            "x-strongroom-delivery": delivery.id,
            TIMESTAMP_HEADER.lower(): timestamp,
            SIGNATURE_HEADER.lower(): sign(cred.secret, timestamp, body),
        }
        try:
            r = self._client().post(webhook.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return False, f"{type(exc).__name__}"
        if 200 <= r.status_code < 300:
            return True, None
        return False, f"HTTP {r.status_code}"

    async def run(self) -> None:
        """The background sender: looks for due deliveries every POLL_SECONDS."""
        while True:
            await anyio.sleep(POLL_SECONDS)
            try:
                await anyio.to_thread.run_sync(self.deliver_due)
            except Exception:  # noqa: BLE001 - retried at the next poll (database or vault briefly away)
                log.debug("webhook delivery failed; retrying", exc_info=True)
