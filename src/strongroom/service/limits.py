"""Abuse limits that hold across every gateway sharing one metadata database.

* **Request rate per access key** (``rate_limit_per_key``, ``rate_limit_burst``): an access key may make at most
  ``burst`` requests in any ``burst / rate`` seconds (so ``rate`` per second in the long run); the rest are refused
  with :class:`errors.SlowDown` (S3 ``SlowDown``, 503). Refused requests are not counted.
* **Tarpit after signature failures** (``auth_failure_threshold``, ``auth_failure_delay_max_seconds``): failures
  are counted per access key and per source address (IPv6 per /64) over a minute. Past the threshold, the failing
  answer is held back ``FIRST_DELAY_SECONDS``, doubling with every further failure, up to the maximum; the larger
  of the key's and the address's delay applies.

**Counting.** Each window of a scope is a row of ``rate_counters`` (``metadata/counters.py``). A process counts in
memory per (scope, subject, window) and, at most once per ``SYNC_SECONDS`` per active subject (inline, when a
request finds a sync due) and on the background tick (:meth:`RateLimiter.sync`), adds its local delta to the row and
reads back the total of every gateway. A decision uses that total plus what this process counted since. Windows are
fixed on wall-clock time (every gateway agrees on them); a decision weighs the previous window by the part of it
still inside the sliding span (a sliding-window estimate), so a boundary never doubles the budget. Old windows are
deleted by the syncs. Nothing is written per request.

**Bound.** In one process the limits are exact. Across N gateways, a gateway's view misses only what the others
counted since they last synced and since it last read: at most two sync intervals (about a second usually, 2 s at
worst with a 1 s background tick). So the total admitted for a key in any span exceeds the limit by at most what
the other gateways admitted in the last 2 s, and never by more than (N - 1) x burst, since each gateway alone holds
the limit exactly. The first request of a key new to a process syncs at once (an authenticated key: bounded in
number); a failure subject new to a process is first synced within a second, so that a spray of addresses does not
cost a database write per request. Gateways' clocks should agree to well within a window.

If the database cannot be reached, the process keeps deciding on its own counts (still exact locally) and retries
the sync a second later.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from strongroom.config import Settings
from strongroom.core import errors
from strongroom.metadata.counters import CounterAdd, CounterId, CounterStore

log = logging.getLogger("strongroom.limits")

#: How often a process adds its counts to the shared rows and reads back the totals, per active subject.
SYNC_SECONDS = 1.0
#: The span over which signature failures are counted.
AUTH_WINDOW_SECONDS = 60.0
#: The delay of the first failure past the threshold; it doubles with each further one.
FIRST_DELAY_SECONDS = 0.1
#: Subjects longer than this are counted under their SHA-256 (the column is this wide).
SUBJECT_MAX = 128

SCOPE_REQUEST = "request"
SCOPE_AUTH_KEY = "authkey"
SCOPE_AUTH_ADDRESS = "authaddr"
SCOPE_PUBLIC_ADDRESS = "pubaddr"  # unauthenticated requests for public pages, by address

_Key = tuple[str, str]  # (scope, subject)


@dataclass
class _Slot:
    """One window's count of one subject, as this process knows it."""

    expires_at: int
    synced: int = 0  # every gateway's total at the last sync
    pending: int = 0  # counted here since, not yet added to the row
    inflight: int = 0  # being added by a sync now

    @property
    def total(self) -> int:
        return self.synced + self.pending + self.inflight


@dataclass
class _Subject:
    window_seconds: float
    last_sync: float
    syncing: bool = False
    slots: dict[int, _Slot] = field(default_factory=dict)


@dataclass
class _Batch:
    """One exchange with the database: the deltas taken out of pending, and the windows to read back."""

    now: float
    subjects: list[tuple[_Key, _Subject]] = field(default_factory=list)
    adds: list[CounterAdd] = field(default_factory=list)
    reads: list[CounterId] = field(default_factory=list)


def subject_of_key(access_key: str) -> str:
    if len(access_key) <= SUBJECT_MAX:
        return access_key
    return "sha256:" + hashlib.sha256(access_key.encode("utf-8", "surrogatepass")).hexdigest()


def subject_of_address(address: str) -> str:
    """An IPv4 address as is; an IPv6 address as its /64 (one host usually holds a whole /64)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return subject_of_key(address)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class RateLimiter:
    """The abuse limits of one gateway process. Thread-safe; blocking only when a sync is due (database I/O)."""

    def __init__(self, settings: Settings, engine: Engine, clock: Callable[[], float] = time.time) -> None:
        rate, burst = settings.rate_limit_per_key, settings.rate_limit_burst
        if rate < 0:
            raise ValueError("rate_limit_per_key must be >= 0 (0 = off)")
        if rate and burst < rate:
            raise ValueError("rate_limit_burst must be at least rate_limit_per_key")
        if settings.auth_failure_threshold < 0:
            raise ValueError("auth_failure_threshold must be >= 0")
        if not settings.auth_failure_delay_max_seconds >= 0:  # NaN too
            raise ValueError("auth_failure_delay_max_seconds must be >= 0 (0 = no delays)")
        self._rate = rate
        self._burst = burst
        self._request_window = burst / rate if rate else 0.0
        self._threshold = settings.auth_failure_threshold
        self._delay_max = float(settings.auth_failure_delay_max_seconds)
        self._store = CounterStore(engine)
        self._clock = clock
        self._lock = threading.Lock()
        self._subjects: dict[_Key, _Subject] = {}
        self._last_purge = -math.inf

    # --- the hot path -------------------------------------------------------------------------------------
    def check_request(self, access_key: str) -> None:
        """Count one request of an authenticated access key, or raise :class:`errors.SlowDown` (not counted)."""
        if self._rate:
            self._check((SCOPE_REQUEST, subject_of_key(access_key)))

    def check_public(self, address: str | None) -> None:
        """Count one unauthenticated request for a public page (the transparency report) from ``address``, at the
        per-key rate, or raise :class:`errors.SlowDown` (not counted)."""
        if self._rate and address:
            self._check((SCOPE_PUBLIC_ADDRESS, subject_of_address(address)))

    def _check(self, key: _Key) -> None:
        now = self._clock()
        with self._lock:
            batch = self._take([key], now, self._request_window, sync_new=True)
            if batch is None:
                self._admit(key, now)
                return
        self._exchange(batch)
        with self._lock:
            self._admit(key, now)

    def signature_failed(self, access_key: str | None, address: str | None) -> float:
        """Count one failed signature of the key and of the address; the seconds to wait before answering."""
        if not self._delay_max:
            return 0.0
        keys: list[_Key] = []
        if access_key:
            keys.append((SCOPE_AUTH_KEY, subject_of_key(access_key)))
        if address:
            keys.append((SCOPE_AUTH_ADDRESS, subject_of_address(address)))
        if not keys:
            return 0.0
        now = self._clock()
        with self._lock:
            batch = self._take(keys, now, AUTH_WINDOW_SECONDS, sync_new=False)
        if batch is not None:
            self._exchange(batch)
        with self._lock:
            return max(self._delay(self._fail(key, now)) for key in keys)

    def sync(self) -> None:
        """The background tick (call it every ``SYNC_SECONDS``): add every pending count to the shared rows, read
        back their totals, and forget windows no decision reads any more, here and in the database."""
        if not self._rate and not self._delay_max:
            return
        now = self._clock()
        with self._lock:
            self._forget_expired(now)
            due = [k for k, s in self._subjects.items() if not s.syncing and any(x.pending for x in s.slots.values())]
            batch = self._claim(due, now)
        if batch is not None:
            self._exchange(batch)
        else:
            self._purge(now)

    # --- counting (under the lock) --------------------------------------------------------------------------
    def _state(self, key: _Key, now: float, window_seconds: float, sync_new: bool) -> _Subject:
        st = self._subjects.get(key)
        if st is None:
            # a new subject syncs at once (sync_new) or within SYNC_SECONDS
            st = _Subject(window_seconds, -math.inf if sync_new else now)
            self._subjects[key] = st
        return st

    def _slot(self, st: _Subject, w: int) -> _Slot:
        slot = st.slots.get(w)
        if slot is None:
            slot = _Slot(expires_at=math.ceil((w + 2) * st.window_seconds))
            st.slots[w] = slot
        return slot

    @staticmethod
    def _position(st: _Subject, now: float) -> tuple[int, float]:
        """The window ``now`` is in and how far into it (0 <= frac < 1)."""
        x = now / st.window_seconds
        w = math.floor(x)
        return w, x - w

    def _estimate(self, st: _Subject, now: float) -> tuple[int, float]:
        """The current window and the count over the sliding span that ends now."""
        w, frac = self._position(st, now)
        prev = st.slots.get(w - 1)
        cur = st.slots.get(w)
        return w, (prev.total * (1.0 - frac) if prev else 0.0) + (cur.total if cur else 0)

    def _admit(self, key: _Key, now: float) -> None:
        st = self._state(key, now, self._request_window, sync_new=True)
        w, count = self._estimate(st, now)
        if count + 1 > self._burst:
            raise errors.SlowDown()
        self._slot(st, w).pending += 1

    def _fail(self, key: _Key, now: float) -> int:
        """Count a failure; the failures over the last minute, this one included."""
        st = self._state(key, now, AUTH_WINDOW_SECONDS, sync_new=False)
        w, frac = self._position(st, now)
        cur = self._slot(st, w)
        cur.pending += 1
        prev = st.slots.get(w - 1)
        return cur.total + (int(prev.total * (1.0 - frac)) if prev else 0)

    def _delay(self, failures: int) -> float:
        excess = failures - self._threshold
        if excess <= 0:
            return 0.0
        return min(self._delay_max, FIRST_DELAY_SECONDS * 2.0 ** min(excess - 1, 64))

    # --- syncing ---------------------------------------------------------------------------------------------
    def _take(self, keys: list[_Key], now: float, window_seconds: float, sync_new: bool) -> _Batch | None:
        """Claim a sync of those of ``keys`` that are due, or None when none is."""
        due = []
        for key in keys:
            st = self._state(key, now, window_seconds, sync_new)
            if not st.syncing and now - st.last_sync >= SYNC_SECONDS:
                due.append(key)
        return self._claim(due, now)

    def _claim(self, keys: Iterable[_Key], now: float) -> _Batch | None:
        """Move the pending counts of ``keys`` in flight, into one batch that also reads back their windows."""
        batch = _Batch(now)
        for key in keys:
            st = self._subjects[key]
            w, _ = self._position(st, now)
            for old in [x for x in st.slots if x < w - 1]:  # no decision reads them any more
                del st.slots[old]
            for window in (w - 1, w):
                slot = st.slots.get(window)
                if slot is not None and slot.pending:
                    slot.inflight, slot.pending = slot.pending, 0
                    batch.adds.append(CounterAdd(key[0], key[1], window, slot.inflight, slot.expires_at))
                batch.reads.append((key[0], key[1], window))
            st.syncing, st.last_sync = True, now
            batch.subjects.append((key, st))
        return batch if batch.subjects else None

    def _exchange(self, batch: _Batch) -> None:
        """Run a claimed batch (without the lock held), then fold the totals in."""
        try:
            totals = self._store.exchange(batch.adds, batch.reads)
        except SQLAlchemyError as exc:
            log.warning("rate counters not synced (%s); deciding on this process's counts", type(exc).__name__)
            self._unclaim(batch)
            return
        except BaseException:
            self._unclaim(batch)
            raise
        with self._lock:
            for key, st in batch.subjects:
                w, _ = self._position(st, batch.now)
                for window in (w - 1, w):
                    total = totals.get((key[0], key[1], window), 0)
                    known = st.slots.get(window)
                    if known is None and total:
                        known = self._slot(st, window)
                    if known is not None:
                        # the total includes what was in flight; what was counted meanwhile stays pending
                        known.synced, known.inflight = total, 0
                st.syncing = False
        self._purge(batch.now)

    def _unclaim(self, batch: _Batch) -> None:
        """A failed exchange: what was in flight is pending again, and retried a sync interval later."""
        with self._lock:
            for _, st in batch.subjects:
                for slot in st.slots.values():
                    slot.pending, slot.inflight = slot.pending + slot.inflight, 0
                st.syncing = False

    def _purge(self, now: float) -> None:
        """Delete expired windows from the database, at most once per SYNC_SECONDS per process."""
        with self._lock:
            if now - self._last_purge < SYNC_SECONDS:
                return
            self._last_purge = now
        try:
            self._store.purge(math.floor(now))
        except SQLAlchemyError as exc:
            log.warning("expired rate counters not deleted (%s)", type(exc).__name__)

    def _forget_expired(self, now: float) -> None:
        for key, st in list(self._subjects.items()):
            if st.syncing:
                continue
            for w in [w for w, slot in st.slots.items() if slot.expires_at <= now]:
                del st.slots[w]
            if not st.slots and now - st.last_sync >= SYNC_SECONDS:
                del self._subjects[key]
