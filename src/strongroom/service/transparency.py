"""The transparency report: what third parties asked for and what came of it, per period, counted from the
recorded cases and lockbox requests (never typed in).

- **Cases** received in the period (``received_on``), by outcome (open cases count as ``pending``) and by
  jurisdiction, and the number of distinct tenants they concern.
- **Cases under a non-disclosure order still in force** when the report is made are not counted one by one (that
  is what the order forbids, and exact figures elsewhere would give them away by subtraction): they appear only as
  a band of ``BAND`` (0-249, 250-499, ...), as published transparency reports give them. Once its order ends, a
  case counts like any other (a later report of the same period shows it).
- **Lockbox requests** filed in the period (``created_at``): approved (whatever became of the grant since), denied,
  expired unanswered, still pending.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from strongroom.core import errors
from strongroom.metadata.governance import GovernanceStore
from strongroom.service.disclosures import OUTCOMES, gag_in_force

BAND = 250
#: outcomes as reported: the closed outcomes, then the open cases
REPORTED_OUTCOMES = (*OUTCOMES, "pending")
LOCKBOX_COUNTS = ("approved", "denied", "expired", "pending")
_PERIOD = re.compile(r"(\d{4})(?:([HQ])([1-4]))?")


@dataclass(frozen=True)
class Period:
    """``2026H2`` (a half year), ``2026Q3`` (a quarter) or ``2026`` (a year): ``start`` up to ``end`` (excluded)."""

    label: str
    start: dt.date
    end: dt.date

    @property
    def last_day(self) -> dt.date:
        return self.end - dt.timedelta(days=1)


def parse_period(text: str) -> Period:
    m = _PERIOD.fullmatch(text.strip().upper())
    if m is None or (m[2] == "H" and m[3] not in ("1", "2")):
        raise errors.InvalidRequest("a period is YYYY, YYYYH1, YYYYH2 or YYYYQ1 to YYYYQ4 (e.g. 2026H2)")
    year = int(m[1])
    if not 1970 <= year <= 9998:
        raise errors.InvalidRequest("the period's year is out of range")
    if m[2] is None:
        first, months = 1, 12
    elif m[2] == "H":
        first, months = 1 + 6 * (int(m[3]) - 1), 6
    else:
        first, months = 1 + 3 * (int(m[3]) - 1), 3
    start = dt.date(year, first, 1)
    end_month = first + months
    end = dt.date(year + 1, 1, 1) if end_month > 12 else dt.date(year, end_month, 1)
    return Period(f"{year}" + (f"{m[2]}{m[3]}" if m[2] else ""), start, end)


def current_period(today: dt.date) -> Period:
    """The half year ``today`` is in."""
    return parse_period(f"{today.year}H{1 if today.month <= 6 else 2}")


def band(n: int) -> str:
    """The band of ``BAND`` a count falls in: 0-249, 250-499, ... (an en dash, as reports print it)."""
    low = n // BAND * BAND
    return f"{low}\u2013{low + BAND - 1}"


@dataclass(frozen=True)
class Report:
    period: Period
    generated_at: dt.datetime
    cases: int  # counted one by one (no order in force)
    outcomes: dict[str, int]  # every REPORTED_OUTCOMES key
    jurisdictions: dict[str, dict[str, int]]  # jurisdiction -> {"total", every outcome}
    tenants_affected: int
    gagged_band: str
    lockbox: dict[str, int]  # "requested" and every LOCKBOX_COUNTS key

    def to_json(self) -> dict[str, Any]:
        return {
            "period": self.period.label,
            "from": self.period.start.isoformat(),
            "to": self.period.last_day.isoformat(),
            "generated_at": self.generated_at.isoformat(),
            "cases": {
                "total": self.cases,
                "by_outcome": dict(self.outcomes),
                "by_jurisdiction": {k: dict(v) for k, v in self.jurisdictions.items()},
                "tenants_affected": self.tenants_affected,
            },
            "under_non_disclosure_order": {"band": self.gagged_band, "band_width": BAND},
            "lockbox": dict(self.lockbox),
        }


def build(store: GovernanceStore, period: Period, now: dt.datetime) -> Report:
    """Blocking: the report of ``period`` as the records stand at ``now``."""
    outcomes = dict.fromkeys(REPORTED_OUTCOMES, 0)
    jurisdictions: dict[str, dict[str, int]] = {}
    tenants: set[str] = set()
    gagged = counted = 0
    for case in store.cases_received(period.start, period.end):
        if gag_in_force(case, now):
            gagged += 1
            continue
        counted += 1
        outcome = case.outcome if case.status == "closed" else "pending"
        outcomes[outcome] += 1
        per = jurisdictions.setdefault(case.jurisdiction, {"total": 0, **dict.fromkeys(REPORTED_OUTCOMES, 0)})
        per["total"] += 1
        per[outcome] += 1
        tenants.add(case.tenant_id)
    start = dt.datetime.combine(period.start, dt.time(), dt.UTC)
    end = dt.datetime.combine(period.end, dt.time(), dt.UTC)
    lockbox = {"requested": 0, **dict.fromkeys(LOCKBOX_COUNTS, 0)}
    for req in store.requests_created(start, end):
        lockbox["requested"] += 1
        if req.status in ("approved", "denied"):
            lockbox[req.status] += 1
        else:
            lockbox["expired" if now >= req.expires_at else "pending"] += 1
    return Report(
        period=period,
        generated_at=now,
        cases=counted,
        outcomes=outcomes,
        jurisdictions=dict(sorted(jurisdictions.items())),
        tenants_affected=len(tenants),
        gagged_band=band(gagged),
        lockbox=lockbox,
    )
