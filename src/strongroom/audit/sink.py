"""The audit log's writer, one per process.

Two ways an entry becomes durable, and no response leaves before it is:

- **with the change.** A mutating operation is *armed* once authorized (:meth:`AuditLog.arm`); the first writing
  transaction it makes appends its entry just before committing (the repository's write hook), so the entry and the
  change commit or roll back together;
- **group commit.** Every other entry (reads, refusals, failures, operations that changed nothing) is handed to
  :meth:`AuditLog.record`, which waits until a batch holding it has committed. One writer thread per process takes
  the entries queued while it wrote the previous batch: one transaction for all the requests that ended meanwhile
  (a dedicated thread and connection: cheaper than a worker-thread hop per request);
- **in the request's own hop, when it is alone.** A GET or HEAD that has its whole answer in the worker-thread
  hop that read it writes its entry there (:meth:`AuditLog.record_now`) if no other request is in flight in this
  process and the writer is idle: at one connection that saves the hand-over to the writer and back (two thread
  wake-ups per request). With others in flight the entry takes the group commit, and the writer, seeing at least
  ``BATCH_SIBLINGS`` other requests in flight, waits ``BATCH_WAIT`` for their entries to fill the batch (a commit
  delay, as PostgreSQL's ``commit_delay`` with ``commit_siblings``): one transaction's fixed cost (its head-row
  update, its WAL pages, the writer's hand-overs of the GIL) then serves several requests instead of one.

If an entry cannot be written the caller gets :class:`~strongroom.core.errors.AuditUnavailable` (a 503 to the
client): nothing is answered that the log does not hold.

Checkpoints: after every ``CHECKPOINT_EVERY`` entries of a chain, and at least every ``CHECKPOINT_SECONDS`` while
it grows, a chain's head is signed by the vault's audit key (:meth:`AuditLog.run`, a background task; several
gateways may race to sign the same head, and the first stored wins).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio

from strongroom.audit.chain import Pending, append
from strongroom.audit.checkpoint import Checkpoint, Signer, sign
from strongroom.audit.entry import chains_of, fields_of, principal_label
from strongroom.core import errors, metrics
from strongroom.core.types import Operation
from strongroom.metadata.auditstore import AuditStore

log = logging.getLogger("strongroom.audit")

#: how long the writer holds a batch open for the entries of requests still in flight (their wait is latency, not
#: CPU: under load others run meanwhile), and how many others must be in flight for it to wait at all (with fewer,
#: waiting would leave the process idle while they wait on each other: PostgreSQL's commit_siblings)
BATCH_WAIT = 0.002
BATCH_SIBLINGS = 4
CHECKPOINT_EVERY = 1000
CHECKPOINT_SECONDS = 60.0
SWEEP_SECONDS = 5.0


def now_us() -> int:
    return time.time_ns() // 1000


class Audited(Protocol):
    """What an entry is recorded for (an Operation, a vault call): it knows whether its entry is written."""

    audited: bool


@dataclass
class _Armed:
    target: Audited
    make: Callable[[], Pending]  # the entry, made when the transaction is about to commit
    tentative: bool = False


_ARMED: contextvars.ContextVar[_Armed | None] = contextvars.ContextVar("strongroom_audit_armed", default=None)


def _settle(futs: list[asyncio.Future[None]], failed: BaseException | None) -> None:
    for fut in futs:
        if fut.done():
            continue
        if failed is None:
            fut.set_result(None)
        else:
            fut.set_exception(errors.AuditUnavailable("the audit log cannot be written"))


def pending(op: Operation, api: str, status: int, error: str | None, bytes_out: int = 0) -> Pending:
    at = now_us()
    fields = fields_of(op, api, status, error, at, bytes_out)
    return Pending(
        chains=chains_of(op, fields["outcome"] == "success" or op.outcome == "allowed"),
        fields=fields,
        at_us=at,
        principal=principal_label(op),
        action=op.action,
        resource=op.resource,
        outcome=fields["outcome"],
    )


@dataclass
class AuditLog:
    store: AuditStore
    signer: Signer | None = None
    enabled: bool = True  # False only for measuring the log's cost (settings.audit_log)
    _queue: queue.SimpleQueue[tuple[Pending, asyncio.Future[None], asyncio.AbstractEventLoop]] = field(
        default_factory=queue.SimpleQueue
    )
    _writer: threading.Thread | None = None
    _writer_lock: threading.Lock = field(default_factory=threading.Lock)
    _writing: threading.Lock = field(default_factory=threading.Lock)  # held while a batch or an entry is written
    #: requests in flight in this process (kept by the apps on their event loop; a hint for batching only)
    inflight: int = 0
    _due: set[str] = field(default_factory=set)  # chains CHECKPOINT_EVERY entries past their checkpoint

    def _note(self, past: dict[str, int]) -> None:
        for chain, n in past.items():
            if n >= CHECKPOINT_EVERY:
                self._due.add(chain)

    def __post_init__(self) -> None:
        self.store.repo.on_write = self

    # --- with the change ----------------------------------------------------------------------------------------
    def arm(self, op: Operation, api: str) -> None:
        """The current task's next writing transaction carries ``op``'s entry (as a success)."""
        self.arm_entry(op, lambda: pending(op, api, op.success_status, None))

    def arm_entry(self, target: Audited, make: Callable[[], Pending]) -> None:
        """The current task's next writing transaction carries the entry ``make()`` (``target``'s)."""
        if self.enabled:
            _ARMED.set(_Armed(target, make))

    def before_commit(self, tx: Any) -> None:
        armed = _ARMED.get()
        if armed is None or armed.target.audited:
            return
        try:
            past = append(tx, [armed.make()])
        except Exception as exc:
            log.error("audit log write failed: %s", type(exc).__name__)
            metrics.AUDIT_FAILURES.inc()
            raise errors.AuditUnavailable("the audit log cannot be written") from exc
        self._note(past)
        metrics.AUDIT_WITH_CHANGE.inc()
        armed.target.audited = armed.tentative = True

    def rolled_back(self) -> None:
        armed = _ARMED.get()
        if armed is not None and armed.tentative:
            armed.target.audited = armed.tentative = False

    # --- group commit -----------------------------------------------------------------------------------------
    async def record(self, op: Operation, api: str, status: int, error: str | None, bytes_out: int = 0) -> None:
        """Make ``op``'s entry durable (unless its change already carried it); AuditUnavailable if it cannot be."""
        if op.audited or not self.enabled:
            return
        await self.submit(op, pending(op, api, status, error, bytes_out))

    async def submit(self, target: Audited, entry: Pending) -> None:
        """Make ``entry`` (``target``'s) durable by group commit; AuditUnavailable if it cannot be."""
        if target.audited or not self.enabled:
            return
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._queue.put((entry, fut, loop))
        if self._writer is None:
            self._start_writer()
        await fut
        target.audited = True

    def _start_writer(self) -> None:
        with self._writer_lock:
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_loop, name="strongroom-audit-writer", daemon=True)
                self._writer.start()

    def _write_loop(self) -> None:
        """The writer thread: takes every entry queued while the previous batch was being written, writes them in
        one transaction, then wakes their requests."""
        while True:
            batch = [self._queue.get()]
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if self.inflight - len(batch) >= BATCH_SIBLINGS:
                # other requests are still running: give their entries a moment to join this transaction (one
                # sleep, then whatever came: waking for each entry would cost a GIL hand-over each)
                time.sleep(BATCH_WAIT)
                while True:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
            try:
                with self._writing:
                    started = time.perf_counter()
                    past = self.store.append([e for e, _, _ in batch])
                    metrics.AUDIT_COMMIT.observe(time.perf_counter() - started)
                failed = None
            except Exception as exc:  # noqa: BLE001 - every waiter learns the log could not take its entry
                log.error("audit log write failed: %s", type(exc).__name__)
                metrics.AUDIT_FAILURES.inc(len(batch))
                failed = exc
            else:
                metrics.AUDIT_GROUP.inc(len(batch))
                self._note(past)
            by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
            for _, fut, loop in batch:
                by_loop.setdefault(loop, []).append(fut)
            for loop, futs in by_loop.items():  # one wake-up per event loop and batch
                with contextlib.suppress(RuntimeError):  # that event loop is closed: nobody waits any more
                    loop.call_soon_threadsafe(_settle, futs, failed)

    def record_now(self, op: Operation, api: str, status: int, error: str | None, bytes_out: int = 0) -> None:
        """Blocking, in a request's worker thread, once its answer is known: write ``op``'s entry now if it is the
        only request in flight and the writer is idle; otherwise (or if the write fails) leave ``op`` unaudited, so
        the group commit takes it (and fails closed) when the response is ready."""
        if op.audited or not self.enabled or self.inflight > 1 or not self._queue.empty():
            return
        if not self._writing.acquire(blocking=False):
            return
        try:
            started = time.perf_counter()
            past = self.store.append([pending(op, api, status, error, bytes_out)])
            metrics.AUDIT_COMMIT.observe(time.perf_counter() - started)
        except Exception as exc:  # noqa: BLE001 - the group commit tries again and answers 503 if it cannot
            log.error("audit log write failed: %s", type(exc).__name__)
            return
        finally:
            self._writing.release()
        metrics.AUDIT_DIRECT.inc()
        self._note(past)
        op.audited = True

    def record_blocking(self, op: Operation, api: str, status: int, error: str | None, bytes_out: int = 0) -> None:
        """Blocking (no event loop): write ``op``'s entry now, in its own transaction."""
        if op.audited or not self.enabled:
            return
        try:
            self._note(self.store.append([pending(op, api, status, error, bytes_out)]))
        except Exception as exc:
            metrics.AUDIT_FAILURES.inc()
            raise errors.AuditUnavailable("the audit log cannot be written") from exc
        metrics.AUDIT_DIRECT.inc()
        op.audited = True

    # --- checkpoints --------------------------------------------------------------------------------------------
    def checkpoint(self, chain: str, export: bool = False) -> Checkpoint | None:
        """Blocking: sign ``chain``'s current head (stored unless ``export``); None for an empty chain."""
        if self.signer is None:
            raise errors.Unavailable("no audit signing key")
        head = self.store.head(chain)
        if head is None or (head.size == 0):
            return None
        cp = sign(self.signer, chain, head.size, head.head, now_us(), export)
        if not export:
            self.store.save_checkpoint(cp)
        return cp

    def checkpoint_due(self) -> int:
        """Blocking: sign every chain that is due; how many were signed."""
        done = 0
        for head in self.store.due(now_us(), CHECKPOINT_EVERY, int(CHECKPOINT_SECONDS * 1e6)):
            if self.checkpoint(head.chain) is not None:
                done += 1
        return done

    async def run(self) -> None:
        """The background checkpointer (every gateway runs one; they may sign the same head, the first wins): a
        chain CHECKPOINT_EVERY entries past its checkpoint within half a second, the others every SWEEP_SECONDS."""
        last = time.monotonic()
        while True:
            await anyio.sleep(0.5)
            if not self._due and time.monotonic() - last < SWEEP_SECONDS:
                continue
            last = time.monotonic()
            self._due.clear()
            try:
                await anyio.to_thread.run_sync(self.checkpoint_due)
            except Exception:  # noqa: BLE001 - retried at the next sweep (the vault may be sealed)
                log.debug("audit checkpoint failed; retrying", exc_info=True)
