"""The governance tables: lockbox requests and grants, notices, webhooks and their deliveries, disclosure cases.

Only storage: the services (``service/lockbox.py``, ``notices.py``, ``disclosures.py``, ``transparency.py``) decide
and hand in the time they decided at. Every state change is one conditional UPDATE (``... WHERE status = 'pending'``
and so on), so two gateways racing on the same request cannot both win, on SQLite or PostgreSQL. Writes go through
``Repository.session``, so the audit entry of the operation that makes them commits with them.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session

from strongroom.core import errors
from strongroom.metadata.models import (
    DisclosureCase,
    LockboxGrant,
    LockboxRequest,
    Notice,
    Webhook,
    WebhookDelivery,
)
from strongroom.metadata.repository import Repository


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(8)}"


@dataclass(frozen=True)
class NewNotice:
    """A notice to write with the change it is about (``visible_at`` None: withheld until further notice)."""

    tenant_id: str
    kind: str
    subject: str
    body: dict[str, Any]
    visible_at: dt.datetime | None


@dataclass(frozen=True)
class Due:
    """A delivery this gateway has taken (leased) to attempt now."""

    delivery: WebhookDelivery
    notice: Notice
    webhook: Webhook | None  # None: the tenant removed its webhook since


class GovernanceStore:
    def __init__(self, repo: Repository) -> None:
        self.repo = repo

    # --- notices ------------------------------------------------------------------------------------------------
    def _notice(self, s: Session, n: NewNotice, at: dt.datetime) -> Notice:
        row = Notice(
            tenant_id=n.tenant_id,
            kind=n.kind,
            subject=n.subject,
            body=json.dumps(n.body, sort_keys=True),
            created_at=at,
            visible_at=n.visible_at,
        )
        s.add(row)
        s.flush()
        if s.get(Webhook, n.tenant_id) is not None:
            s.add(
                WebhookDelivery(
                    id=new_id("whd"),
                    notice_id=row.id,
                    tenant_id=n.tenant_id,
                    status="pending",
                    attempts=0,
                    next_attempt_at=n.visible_at,
                    created_at=at,
                )
            )
        return row

    def add_notice(self, n: NewNotice, at: dt.datetime) -> Notice:
        with self.repo.session() as s:
            return self._notice(s, n, at)

    def feed(self, tenant: str, at: dt.datetime, after: tuple[dt.datetime, int] | None, limit: int) -> list[Notice]:
        """The tenant's visible notices in the order they became visible (then by id), after the cursor."""
        q = select(Notice).where(Notice.tenant_id == tenant, Notice.visible_at.is_not(None), Notice.visible_at <= at)
        if after is not None:
            t, i = after
            q = q.where(or_(Notice.visible_at > t, and_(Notice.visible_at == t, Notice.id > i)))
        with self.repo.reading() as s:
            return list(s.scalars(q.order_by(Notice.visible_at, Notice.id).limit(limit)))

    def get_notice(self, notice_id: int) -> Notice | None:
        with self.repo.reading() as s:
            return s.get(Notice, notice_id)

    # --- webhooks -----------------------------------------------------------------------------------------------
    def put_webhook(self, row: Webhook) -> str | None:
        """Set the tenant's webhook; the secret id it replaces (None when it had none)."""
        with self.repo.session() as s:
            old = s.get(Webhook, row.tenant_id)
            previous = old.secret_id if old is not None else None
            if old is not None:
                old.url, old.secret_id, old.created_at, old.created_by = (
                    row.url,
                    row.secret_id,
                    row.created_at,
                    row.created_by,
                )
            else:
                s.add(row)
            return previous

    def get_webhook(self, tenant: str) -> Webhook | None:
        with self.repo.reading() as s:
            return s.get(Webhook, tenant)

    def delete_webhook(self, tenant: str) -> str | None:
        """Remove the tenant's webhook; its secret id (None: there was none). Pending deliveries fail."""
        with self.repo.session() as s:
            old = s.get(Webhook, tenant)
            if old is None:
                return None
            s.delete(old)
            s.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.tenant_id == tenant, WebhookDelivery.status == "pending")
                .values(status="failed", last_error="the webhook was removed", next_attempt_at=None)
            )
            return old.secret_id

    def forget_tenant(self, tenant: str, at: dt.datetime) -> str | None:
        """A crypto-shredded tenant: its notices, webhook and deliveries deleted, its lockbox grants ended at ``at``
        (requests, grants and cases stay: the transparency report counts them). The webhook's secret id, if any."""
        with self.repo.session() as s:
            hook = s.get(Webhook, tenant)
            secret_id = hook.secret_id if hook is not None else None
            s.execute(delete(WebhookDelivery).where(WebhookDelivery.tenant_id == tenant))
            s.execute(delete(Notice).where(Notice.tenant_id == tenant))
            s.execute(delete(Webhook).where(Webhook.tenant_id == tenant))
            s.execute(
                update(LockboxGrant)
                .where(LockboxGrant.tenant_id == tenant, LockboxGrant.expires_at > at)
                .values(expires_at=at)
            )
            return secret_id

    def deliveries(self, tenant: str, limit: int = 100) -> list[WebhookDelivery]:
        with self.repo.reading() as s:
            q = select(WebhookDelivery).where(WebhookDelivery.tenant_id == tenant)
            return list(s.scalars(q.order_by(WebhookDelivery.created_at.desc()).limit(limit)))

    def take_due(self, at: dt.datetime, lease_until: dt.datetime, limit: int = 20) -> list[Due]:
        """Lease deliveries that are due and not leased by another gateway (each one to exactly one taker)."""
        with self.repo.reading() as s:
            ids = list(
                s.scalars(
                    select(WebhookDelivery.id)
                    .where(
                        WebhookDelivery.status == "pending",
                        WebhookDelivery.next_attempt_at.is_not(None),
                        WebhookDelivery.next_attempt_at <= at,
                        or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < at),
                    )
                    .order_by(WebhookDelivery.next_attempt_at)
                    .limit(limit)
                )
            )
        out: list[Due] = []
        for delivery_id in ids:
            with self.repo.session() as s:
                res = s.execute(
                    update(WebhookDelivery)
                    .where(
                        WebhookDelivery.id == delivery_id,
                        WebhookDelivery.status == "pending",
                        or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < at),
                    )
                    .values(lease_until=lease_until)
                )
                if getattr(res, "rowcount", 0) != 1:
                    continue  # another gateway took it
                row = s.get(WebhookDelivery, delivery_id)
                assert row is not None
                notice = s.get(Notice, row.notice_id)
                assert notice is not None
                out.append(Due(row, notice, s.get(Webhook, row.tenant_id)))
        return out

    def finish_delivery(
        self, delivery_id: str, at: dt.datetime, ok: bool, error: str | None, retry_at: dt.datetime | None
    ) -> None:
        """Record an attempt: delivered, or failed (again at ``retry_at``; None: given up)."""
        values: dict[str, Any] = {"attempts": WebhookDelivery.attempts + 1, "lease_until": None}
        if ok:
            values.update(status="delivered", delivered_at=at, last_error=None, next_attempt_at=None)
        else:
            values.update(
                status="pending" if retry_at is not None else "failed",
                next_attempt_at=retry_at,
                last_error=(error or "")[:256],
            )
        with self.repo.session() as s:
            s.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(**values))

    # --- lockbox ------------------------------------------------------------------------------------------------
    def create_request(self, row: LockboxRequest, notice: NewNotice) -> LockboxRequest:
        with self.repo.session() as s:
            s.add(row)
            s.flush()
            self._notice(s, notice, row.created_at)
            return row

    def get_request(self, request_id: str) -> tuple[LockboxRequest, LockboxGrant | None] | None:
        with self.repo.reading() as s:
            row = s.get(LockboxRequest, request_id)
            if row is None:
                return None
            grant = s.scalars(select(LockboxGrant).where(LockboxGrant.request_id == request_id)).first()
            return row, grant

    def list_requests(self, tenant: str | None, limit: int = 1000) -> list[tuple[LockboxRequest, LockboxGrant | None]]:
        q = select(LockboxRequest, LockboxGrant).outerjoin(LockboxGrant, LockboxGrant.request_id == LockboxRequest.id)
        if tenant is not None:
            q = q.where(LockboxRequest.tenant_id == tenant)
        q = q.order_by(LockboxRequest.created_at.desc(), LockboxRequest.id).limit(limit)
        with self.repo.reading() as s:
            return [(r, g) for r, g in s.execute(q).all()]

    def decide_request(
        self,
        request_id: str,
        status: str,
        by: str,
        note: str | None,
        at: dt.datetime,
        grant: LockboxGrant | None,
        notice: NewNotice,
    ) -> None:
        """Answer a pending request that has not expired at ``at`` (Conflict otherwise), with its grant."""
        with self.repo.session() as s:
            res = s.execute(
                update(LockboxRequest)
                .where(
                    LockboxRequest.id == request_id,
                    LockboxRequest.status == "pending",
                    LockboxRequest.expires_at > at,
                )
                .values(status=status, decided_at=at, decided_by=by, note=note)
            )
            if getattr(res, "rowcount", 0) != 1:
                raise errors.Conflict("the request is not pending any more (answered or expired)")
            if grant is not None:
                s.add(grant)
            self._notice(s, notice, at)

    def revoke_grant(self, grant_id: str, by: str, at: dt.datetime, notice: NewNotice) -> None:
        with self.repo.session() as s:
            res = s.execute(
                update(LockboxGrant)
                .where(LockboxGrant.id == grant_id, LockboxGrant.revoked_at.is_(None), LockboxGrant.expires_at > at)
                .values(revoked_at=at, revoked_by=by)
            )
            if getattr(res, "rowcount", 0) != 1:
                raise errors.Conflict("the grant is not active (revoked or expired)")
            self._notice(s, notice, at)

    def get_grant(self, grant_id: str) -> LockboxGrant | None:
        with self.repo.reading() as s:
            return s.get(LockboxGrant, grant_id)

    def get_request_of_grant(self, grant_id: str) -> tuple[LockboxGrant, str | None] | None:
        """A grant and the third-party case its request serves (None: an operator's own request)."""
        with self.repo.reading() as s:
            got = s.execute(
                select(LockboxGrant, LockboxRequest.case_id)
                .join(LockboxRequest, LockboxRequest.id == LockboxGrant.request_id)
                .where(LockboxGrant.id == grant_id)
            ).first()
            return None if got is None else (got[0], got[1])

    def active_grants(self, operator: str, at: dt.datetime) -> list[LockboxGrant]:
        """The operator's grants neither revoked nor expired at ``at``."""
        with self.repo.reading() as s:
            return list(
                s.scalars(
                    select(LockboxGrant).where(
                        LockboxGrant.operator == operator,
                        LockboxGrant.expires_at > at,
                        LockboxGrant.revoked_at.is_(None),
                    )
                )
            )

    def requests_created(self, start: dt.datetime, end: dt.datetime) -> list[LockboxRequest]:
        with self.repo.reading() as s:
            return list(
                s.scalars(
                    select(LockboxRequest).where(LockboxRequest.created_at >= start, LockboxRequest.created_at < end)
                )
            )

    # --- disclosure cases ---------------------------------------------------------------------------------------
    def create_case(self, row: DisclosureCase, notice: NewNotice) -> DisclosureCase:
        with self.repo.session() as s:
            s.add(row)
            s.flush()
            row.notice_id = self._notice(s, notice, row.created_at).id
            return row

    def get_case(self, case_id: str) -> DisclosureCase | None:
        with self.repo.reading() as s:
            return s.get(DisclosureCase, case_id)

    def list_cases(self, tenant: str | None = None, status: str | None = None) -> list[DisclosureCase]:
        q = select(DisclosureCase)
        if tenant is not None:
            q = q.where(DisclosureCase.tenant_id == tenant)
        if status is not None:
            q = q.where(DisclosureCase.status == status)
        with self.repo.reading() as s:
            return list(s.scalars(q.order_by(DisclosureCase.received_on.desc(), DisclosureCase.created_at.desc())))

    def set_gag(
        self, case_id: str, gag: bool, gag_until: dt.date | None, visible_at: dt.datetime | None, at: dt.datetime
    ) -> DisclosureCase:
        """Change a case's non-disclosure order, and when its notice becomes visible (and deliverable), unless it
        was already visible at ``at`` (a notice once shown is never withdrawn)."""
        with self.repo.session() as s:
            row = s.get(DisclosureCase, case_id)
            if row is None:
                raise errors.NoSuchEntity(f"case {case_id} does not exist")
            row.gag, row.gag_until = gag, gag_until
            notice = s.get(Notice, row.notice_id) if row.notice_id is not None else None
            if notice is not None and (notice.visible_at is None or notice.visible_at > at):
                notice.visible_at = visible_at
                s.execute(
                    update(WebhookDelivery)
                    .where(WebhookDelivery.notice_id == notice.id, WebhookDelivery.status == "pending")
                    .values(next_attempt_at=visible_at)
                )
            return row

    def close_case(
        self, case_id: str, outcome: str, grant_id: str | None, note: str | None, by: str, at: dt.datetime
    ) -> None:
        with self.repo.session() as s:
            res = s.execute(
                update(DisclosureCase)
                .where(DisclosureCase.id == case_id, DisclosureCase.status == "open")
                .values(status="closed", outcome=outcome, grant_id=grant_id, note=note, closed_at=at, closed_by=by)
            )
            if getattr(res, "rowcount", 0) != 1:
                raise errors.Conflict(f"case {case_id} is already closed")

    def cases_received(self, start: dt.date, end: dt.date) -> list[DisclosureCase]:
        """Cases received on ``start`` up to (not including) ``end``."""
        with self.repo.reading() as s:
            return list(
                s.scalars(
                    select(DisclosureCase).where(DisclosureCase.received_on >= start, DisclosureCase.received_on < end)
                )
            )


__all__: Sequence[str] = ["Due", "GovernanceStore", "NewNotice", "new_id"]
