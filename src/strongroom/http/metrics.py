"""``/_strongroom/metrics``: the gateway's Prometheus exposition, and who may scrape it.

Protected by default: ``Authorization: Bearer TOKEN`` with a vault token that may read the vault's ``sys/metrics``
(the vault root token, or one made by ``strongroom metrics token``). The vault's ACL is the one place that decides,
for both endpoints: the gateway asks the vault once and remembers the answer for ``VERIFIED_SECONDS``, so a revoked
token stops working within that time. While the vault cannot answer (sealed, unreachable), a token it accepted in
the last ``STALE_SECONDS`` still works, so a dashboard can watch the seal state. ``metrics_public = true`` opens the
endpoint to anyone who can reach the port.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

import anyio
from prometheus_client.core import GaugeMetricFamily
from starlette.responses import Response

from strongroom import __version__
from strongroom.core import errors, metrics
from strongroom.service.runtime import Runtime

log = logging.getLogger("strongroom.metrics")
PATH = "/_strongroom/metrics"
VERIFIED_SECONDS = 10.0
REFUSED_SECONDS = 2.0
STALE_SECONDS = 24 * 3600.0
MAX_REMEMBERED = 64
MAX_TOKEN_CHARS = 512


class ScrapeTokens:
    """Bearer tokens the vault accepted or refused for ``sys/metrics``, remembered briefly (by SHA-256, never the
    token itself). A hint for speed only: with several gateways each asks the vault on its own."""

    def __init__(self, rt: Runtime) -> None:
        self._rt = rt
        self._lock = threading.Lock()
        self._seen: dict[bytes, tuple[float, bool, float]] = {}  # digest -> (checked at, allowed, last allowed at)

    def allowed(self, token: str) -> bool:
        """Blocking. Unavailable / KeyStoreSealed when the vault cannot say and the token is not known good."""
        digest = hashlib.sha256(token.encode()).digest()
        now = time.monotonic()
        with self._lock:
            seen = self._seen.get(digest)
        if seen is not None and now - seen[0] < (VERIFIED_SECONDS if seen[1] else REFUSED_SECONDS):
            return seen[1]
        try:
            ok = self._rt.vault.may_read_metrics(token)
        except errors.StrongroomError:
            if seen is not None and seen[2] and now - seen[2] < STALE_SECONDS:
                return True
            raise
        with self._lock:
            if len(self._seen) >= MAX_REMEMBERED:
                self._seen.clear()
            self._seen[digest] = (now, ok, now if ok else (seen[2] if seen else 0.0))
        return ok


def bearer(headers: Any) -> str | None:
    value = headers.get("authorization", "")
    if not value.lower().startswith("bearer "):
        return None
    token = value[7:].strip()
    return token if 0 < len(token) <= MAX_TOKEN_CHARS else None


def _unauthorized(description: str) -> Response:
    return Response(
        ('{"errors":["' + description + '"]}').encode(),
        status_code=401,
        media_type="application/json",
        headers={
            "www-authenticate": f'Bearer realm="strongroom", error="invalid_token", error_description="{description}"'
        },
    )


def gateway_gauges(rt: Runtime) -> Iterable[Any]:
    """Blocking: the gauges computed at scrape time (shared state, so every gateway reports the same)."""
    info = GaugeMetricFamily("strongroom_build_info", "strongroom version", labels=["version"])
    info.add_metric([__version__], 1.0)
    yield info
    sealed = GaugeMetricFamily("strongroom_vault_sealed", "1 while the vault is sealed or unreachable (gateway's view)")
    try:
        vault_sealed = bool(rt.vault.status().get("sealed", True))
    except errors.StrongroomError:
        vault_sealed = True
    sealed.add_metric([], 1.0 if vault_sealed else 0.0)
    yield sealed
    queued = GaugeMetricFamily("strongroom_sweeper_queue_blobs", "Blobs queued for deletion by the sweeper")
    try:
        queued.add_metric([], float(rt.repo.count_garbage()))
    except Exception:  # noqa: BLE001 - the database is down: the gauge is absent, the rest still answers
        log.debug("sweeper queue length unavailable", exc_info=True)
    else:
        yield queued
    up = GaugeMetricFamily(
        "strongroom_region_backend_up", "1 when the region's blob backend answers", labels=["region"]
    )
    for region, store in sorted(rt.stores.items()):
        up.add_metric([region], 1.0 if store.healthy() else 0.0)
    yield up


async def scrape(rt: Runtime, tokens: ScrapeTokens, headers: Any) -> Response:
    """The gateway's answer to ``GET /_strongroom/metrics``."""
    if not rt.settings.metrics_public:
        token = bearer(headers)
        if token is None:
            return _unauthorized("a bearer token is required")
        try:
            ok = await anyio.to_thread.run_sync(tokens.allowed, token)
        except errors.StrongroomError:
            return Response(b'{"errors":["the vault cannot check the token now"]}', 503, media_type="application/json")
        if not ok:
            return _unauthorized("the vault does not let this token read metrics")
    gauges = await anyio.to_thread.run_sync(lambda: list(gateway_gauges(rt)))
    body = await anyio.to_thread.run_sync(metrics.exposition, [metrics.Computed(lambda: gauges)])
    return Response(body, media_type=metrics.CONTENT_TYPE)
