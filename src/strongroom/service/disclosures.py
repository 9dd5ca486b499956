"""Third-party requests for a tenant's data (government or other), recorded as cases by operators.

The default, expected outcome is **redirected**: the requesting party is told to ask the customer, and the
tenant's admins are notified (the notice feed and the webhook) at once, or, when a non-disclosure order (gag)
forbids it, as soon as the order ends (``gag_until``, 00:00 UTC that day; an order recorded without an end date
withholds the notice until an end is recorded). There is no path for data to leave under a case except a lockbox
grant the tenant approved: closing a case as ``disclosed_with_consent`` is accepted only with the id of an approved
grant of that tenant. The other outcomes are ``rejected`` (the request was refused, e.g. invalid or overbroad) and
``no_data`` (nothing of the tenant matched).

Cases are the operators' records (tenant ``system``): their audit entries stay in the operators' chain, never in
the tenant's (which its admins read), so a gagged case does not leak through the audit log. They are the only
source of the transparency report (``service/transparency.py``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from strongroom.core import errors
from strongroom.core.clock import Clock, utcnow
from strongroom.core.types import SYSTEM_TENANT, Principal
from strongroom.metadata.governance import GovernanceStore, NewNotice, new_id
from strongroom.metadata.models import DisclosureCase
from strongroom.service.runtime import Runtime

OUTCOMES = ("redirected", "rejected", "no_data", "disclosed_with_consent")
DEFAULT_OUTCOME = "redirected"
MAX_TEXT = 4000
MAX_AUTHORITY = 256
MAX_JURISDICTION = 64


def gag_end(gag_until: dt.date) -> dt.datetime:
    """When an order ending on ``gag_until`` stops withholding: that day's start, UTC."""
    return dt.datetime.combine(gag_until, dt.time(), dt.UTC)


def gag_in_force(case: DisclosureCase, now: dt.datetime) -> bool:
    return bool(case.gag) and (case.gag_until is None or now < gag_end(case.gag_until))


def notice_time(gag: bool, gag_until: dt.date | None, now: dt.datetime) -> dt.datetime | None:
    """When the tenant may be told: now, the order's end, or not yet (None: an order without an end date)."""
    if not gag:
        return now
    if gag_until is None:
        return None
    return max(now, gag_end(gag_until))


@dataclass(frozen=True)
class CaseView:
    case: DisclosureCase
    gag_in_force: bool
    notified: bool  # the tenant's notice is visible now
    notice_at: dt.datetime | None  # when it became, or will become, visible (None: withheld, no end date)


def _text(value: str, what: str, limit: int = MAX_TEXT) -> str:
    value = value.strip()
    if not value or len(value) > limit:
        raise errors.InvalidRequest(f"{what} is required (at most {limit} characters)")
    return value


class DisclosureService:
    def __init__(self, rt: Runtime, store: GovernanceStore, clock: Clock = utcnow) -> None:
        self.rt = rt
        self.store = store
        self.clock = clock

    def _view(self, case: DisclosureCase) -> CaseView:
        now = self.clock()
        notice = self.store.get_notice(case.notice_id) if case.notice_id is not None else None
        at = notice.visible_at if notice is not None else None
        return CaseView(case, gag_in_force(case, now), at is not None and at <= now, at)

    def record(
        self,
        operator: Principal,
        tenant: str,
        *,
        authority: str,
        jurisdiction: str,
        legal_basis: str,
        scope: str,
        received_on: dt.date,
        gag: bool = False,
        gag_until: dt.date | None = None,
    ) -> CaseView:
        """Record a case; the tenant is notified now, or when the order ends."""
        if not operator.is_operator:
            raise errors.AccessDenied()
        if tenant == SYSTEM_TENANT:
            raise errors.InvalidRequest("cases are about customers' data, not the operators' own tenant")
        now = self.clock()
        if received_on > now.date():
            raise errors.InvalidRequest("received_on is in the future")
        self._check_gag(gag, gag_until, received_on)
        if self.rt.repo.get_tenant(tenant) is None:
            raise errors.NoSuchEntity(f"tenant {tenant} does not exist")
        case = DisclosureCase(
            id=new_id("dsc"),
            tenant_id=tenant,
            authority=_text(authority, "the requesting authority", MAX_AUTHORITY),
            jurisdiction=_text(jurisdiction, "the jurisdiction", MAX_JURISDICTION),
            legal_basis=_text(legal_basis, "the legal basis"),
            scope=_text(scope, "the scope"),
            received_on=received_on,
            gag=gag,
            gag_until=gag_until,
            status="open",
            outcome=DEFAULT_OUTCOME,
            created_at=now,
            created_by=operator.user,
        )
        body: dict[str, object] = {
            "case": case.id,
            "authority": case.authority,
            "jurisdiction": case.jurisdiction,
            "legal_basis": case.legal_basis,
            "scope": case.scope,
            "received_on": case.received_on.isoformat(),
            "outcome": "redirected: the requesting party was told to ask you; no data was disclosed",
        }
        self.store.create_case(
            case, NewNotice(tenant, "disclosure.received", case.id, body, notice_time(gag, gag_until, now))
        )
        return self._view(case)

    @staticmethod
    def _check_gag(gag: bool, gag_until: dt.date | None, received_on: dt.date) -> None:
        if gag_until is not None and not gag:
            raise errors.InvalidRequest("gag_until is the end of a non-disclosure order: set gag too")
        if gag_until is not None and gag_until < received_on:
            raise errors.InvalidRequest("the non-disclosure order cannot end before the request was received")

    def get(self, case_id: str) -> CaseView:
        case = self.store.get_case(case_id)
        if case is None:
            raise errors.NoSuchEntity(f"case {case_id} does not exist")
        return self._view(case)

    def list(self, tenant: str | None = None, status: str | None = None) -> list[CaseView]:
        return [self._view(c) for c in self.store.list_cases(tenant, status)]

    def set_gag(self, case_id: str, gag: bool, gag_until: dt.date | None) -> CaseView:
        """Record a change of the order (lifted, extended, an end date set): the notice follows it, unless the
        tenant was already told (a notice once shown is never withdrawn)."""
        case = self.get(case_id).case
        self._check_gag(gag, gag_until, case.received_on)
        now = self.clock()
        return self._view(self.store.set_gag(case_id, gag, gag_until, notice_time(gag, gag_until, now), now))

    def close(
        self, operator: Principal, case_id: str, outcome: str, grant_id: str | None = None, note: str | None = None
    ) -> CaseView:
        if outcome not in OUTCOMES:
            raise errors.InvalidRequest(f"outcome must be one of {', '.join(OUTCOMES)}")
        case = self.get(case_id).case
        if outcome == "disclosed_with_consent":
            grant = self.store.get_grant(grant_id) if grant_id else None
            if grant is None or grant.tenant_id != case.tenant_id:
                raise errors.InvalidRequest(
                    "disclosed_with_consent needs the id of a lockbox grant the tenant approved (grant_id)"
                )
        elif grant_id is not None:
            raise errors.InvalidRequest("a grant_id belongs only to the outcome disclosed_with_consent")
        if note is not None and len(note) > MAX_TEXT:
            raise errors.InvalidRequest(f"the note is at most {MAX_TEXT} characters")
        self.store.close_case(case_id, outcome, grant_id, note, operator.user, self.clock())
        return self.get(case_id)
