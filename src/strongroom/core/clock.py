"""The time seam: services that decide by the clock (lockbox expiry, gag ends, webhook retries) take a ``Clock``.

Production passes :func:`utcnow`; unit tests pass a :class:`FakeClock` they move by hand. Every such decision reads
timestamps stored in the database and compares them with this clock, so several gateways agree (to the accuracy of
their system clocks) without sharing any process state.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

#: A source of the current time: timezone-aware, UTC.
Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class FakeClock:
    """A clock that stands still until moved (tests)."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self.now = start or dt.datetime(2026, 9, 1, 12, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now
