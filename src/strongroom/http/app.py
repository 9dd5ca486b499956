"""ASGI wiring: the S3 app plus lifespan (background sweeper). Worker processes call create_app()."""

from __future__ import annotations

import contextlib
import logging
import time

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from strongroom.bootstrap import build_runtime
from strongroom.config import load_settings
from strongroom.core import errors, metrics
from strongroom.http.accesslog import AccessLog
from strongroom.http.admin.app import PREFIX as ADMIN_PREFIX
from strongroom.http.admin.app import create_admin_app
from strongroom.http.s3.app import S3App
from strongroom.service.notices import WebhookDeliverer
from strongroom.service.objects import GARBAGE_GRACE_SECONDS, collect_garbage
from strongroom.service.runtime import Runtime
from strongroom.service.tenants import TenantService
from strongroom.storage import sweep_orphans

log = logging.getLogger("strongroom")
ORPHAN_AGE_SECONDS = 3600.0
GARBAGE_INTERVAL_SECONDS = 10.0


def sweep_once(rt: Runtime, orphan_age: float = ORPHAN_AGE_SECONDS) -> int:
    """Delete queued garbage, stale temp files, and old blobs no metadata row references. Blocking.

    Garbage younger than the grace period stays: a GET in another worker may still be streaming it.
    """
    removed = collect_garbage(rt, min(GARBAGE_GRACE_SECONDS, orphan_age))
    for store in rt.stores.values():
        removed += store.sweep_temp(orphan_age)
        removed += sweep_orphans(store, rt.repo.blob_referenced, orphan_age, time.time())
    return removed


def body_deadline(receive: Receive, idle: float) -> Receive:
    """``receive`` that raises RequestTimeout when the request body pauses for ``idle`` seconds.

    Only while the body is incomplete: once its last part has arrived, later calls (Starlette waiting for a
    disconnect while a response streams) wait as long as they need.
    """
    done = False

    async def timed() -> Message:
        nonlocal done
        if done:
            return await receive()
        try:
            with anyio.fail_after(idle):
                message = await receive()
        except TimeoutError:
            done = True
            raise errors.RequestTimeout("the request body paused too long") from None
        if message["type"] != "http.request" or not message.get("more_body", False):
            done = True
        return message

    return timed


class StrongroomApp:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.s3 = S3App(rt)
        self.tenants = TenantService(rt, self.s3.access)
        self.admin = create_admin_app(self.s3.access, self.tenants, self.s3)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        idle = self.rt.settings.request_body_timeout_seconds
        if idle > 0:
            receive = body_deadline(receive, idle)
        if scope["path"].startswith(ADMIN_PREFIX + "/") or scope["path"] == ADMIN_PREFIX:
            await self.admin(scope, receive, send)
            return
        await self.s3(scope, receive, send)

    async def lifespan(self, receive: Receive, send: Send) -> None:
        async with anyio.create_task_group() as tg:
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    tg.start_soon(self._bootstrap)
                    tg.start_soon(self._sweeper)
                    tg.start_soon(self.s3.sync_limits)
                    tg.start_soon(self.rt.audit.run)
                    tg.start_soon(WebhookDeliverer(self.rt).run)
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    tg.cancel_scope.cancel()
                    self.rt.repo.close()
                    metrics.process_exited()
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    async def _bootstrap(self) -> None:
        """Once the vault is unsealed: the first start's tenants, admins and access key rows (idempotent)."""
        while True:
            try:
                if await anyio.to_thread.run_sync(self.s3.access.bootstrap):
                    self.s3.bootstrapped = True
                    return
            except Exception:  # noqa: BLE001 - retried until the vault and the database answer
                log.debug("bootstrap of the first credentials failed; retrying", exc_info=True)
            await anyio.sleep(1.0)

    async def _sweeper(self) -> None:
        """Replaced blobs are deleted off the request path: every GARBAGE_INTERVAL seconds (once the grace
        period protecting in-flight GETs has passed); temp files and orphans every sweep interval."""
        interval = self.rt.settings.sweep_interval_seconds
        last_full = time.monotonic()
        while True:
            await anyio.sleep(GARBAGE_INTERVAL_SECONDS)
            with contextlib.suppress(Exception):
                if time.monotonic() - last_full >= interval:
                    last_full = time.monotonic()
                    removed = await anyio.to_thread.run_sync(sweep_once, self.rt)
                else:
                    removed = await anyio.to_thread.run_sync(collect_garbage, self.rt, GARBAGE_GRACE_SECONDS)
                metrics.BLOBS_SWEPT.inc(removed)


def create_app() -> ASGIApp:
    """Factory used by uvicorn in every worker process (settings come from the parent's environment)."""
    settings = load_settings()
    rt = build_runtime(settings, run_migrations=False)
    return AccessLog(StrongroomApp(rt))
