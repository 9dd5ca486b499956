"""Admin API: the customer lockbox, notices and webhooks, third-party (disclosure) cases.

Every endpoint is named and authorized like the others (``Admin.authorize`` -> ``policy.authz.decide``), then the
service applies the rules of its use case (``service/lockbox.py``). Operator-side records (filing a request, all
requests) belong to the tenant ``system``; a tenant's side (its requests, answers, its notices and webhook) to the
tenant. A request of another tenant answers 404, exactly as a missing one. Disclosure cases are operators'
records only: a tenant learns of a case from its notice (when no non-disclosure order forbids it).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from strongroom.core.types import SYSTEM_TENANT, Principal
from strongroom.http.admin.app import BUCKET, ERROR_RESPONSES, PREFIX, TENANT, Admin, Caller, TenantPath
from strongroom.metadata.governance import GovernanceStore
from strongroom.service.disclosures import OUTCOMES, CaseView, DisclosureService
from strongroom.service.lockbox import LockboxService, LockboxView
from strongroom.service.notices import NoticeService

REQUEST_ID = r"^lbr-[0-9a-f]{16}$"
CASE_ID = r"^dsc-[0-9a-f]{16}$"
RequestPath = Annotated[str, Path(pattern=REQUEST_ID, max_length=32)]
CasePath = Annotated[str, Path(pattern=CASE_ID, max_length=32)]


# --- wire models ------------------------------------------------------------------------------------------------


class LockboxRequestIn(BaseModel):
    """What an operator asks for: read access to ``bucket`` (keys under ``prefix``, or the one ``key``)."""

    model_config = ConfigDict(extra="forbid")
    tenant: str = Field(pattern=TENANT, max_length=63)
    bucket: str = Field(pattern=BUCKET, max_length=63)
    prefix: str = Field(default="", max_length=1024)
    key: str | None = Field(default=None, max_length=1024)
    reason: str = Field(max_length=4000)
    ticket: str = Field(max_length=128)
    duration_seconds: int = Field(description="how long the grant lasts once approved: at most 8 hours")
    case_id: str | None = Field(default=None, max_length=32, description="the third-party case it serves")


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, max_length=2000)


class GrantOut(BaseModel):
    id: str
    granted_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    revoked_by: str | None


class LockboxRequestOut(BaseModel):
    id: str
    tenant: str
    operator: str  # system/USER
    bucket: str
    prefix: str
    key: str | None
    reason: str
    ticket: str
    duration_seconds: int
    case_id: str | None
    status: str  # pending | expired | denied | approved | ended | revoked
    created_at: dt.datetime
    expires_at: dt.datetime  # when an unanswered request expires
    decided_at: dt.datetime | None
    decided_by: str | None
    note: str | None
    grant: GrantOut | None


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(max_length=2048)


class WebhookCreated(BaseModel):
    """The webhook and its signing secret (shown this once)."""

    tenant: str
    url: str
    secret: str
    created_at: dt.datetime


class DeliveryOut(BaseModel):
    id: str
    notice_id: int
    status: str
    attempts: int
    next_attempt_at: dt.datetime | None
    last_error: str | None
    delivered_at: dt.datetime | None


class WebhookOut(BaseModel):
    tenant: str
    url: str
    created_at: dt.datetime
    created_by: str
    deliveries: list[DeliveryOut]


class NoticeOut(BaseModel):
    id: int
    kind: str
    subject: str
    body: dict[str, Any]
    created_at: dt.datetime
    visible_at: dt.datetime


class NoticeFeed(BaseModel):
    tenant: str
    notices: list[NoticeOut]
    next: str | None  # pass as ``after`` for what comes next


class CaseIn(BaseModel):
    """A third-party request as received."""

    model_config = ConfigDict(extra="forbid")
    tenant: str = Field(pattern=TENANT, max_length=63)
    authority: str = Field(max_length=256, description="who asks, e.g. a court or an agency")
    jurisdiction: str = Field(max_length=64, description="e.g. US, DE, FR")
    legal_basis: str = Field(max_length=4000)
    scope: str = Field(max_length=4000, description="what data is asked for")
    received_on: dt.date
    gag: bool = Field(default=False, description="a non-disclosure order forbids telling the customer")
    gag_until: dt.date | None = Field(default=None, description="the order's end (None: no end date given)")


class GagIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    gag: bool
    gag_until: dt.date | None = None


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: str = Field(pattern="^(" + "|".join(OUTCOMES) + ")$")
    grant_id: str | None = Field(default=None, max_length=32, description="for disclosed_with_consent")
    note: str | None = Field(default=None, max_length=4000)


class CaseOut(BaseModel):
    id: str
    tenant: str
    authority: str
    jurisdiction: str
    legal_basis: str
    scope: str
    received_on: dt.date
    gag: bool
    gag_until: dt.date | None
    gag_in_force: bool
    notified: bool  # the tenant's notice is visible
    notice_at: dt.datetime | None  # when it was or will be (None: withheld, the order has no end date)
    status: str  # open | closed
    outcome: str  # redirected | rejected | no_data | disclosed_with_consent
    grant_id: str | None
    note: str | None
    created_at: dt.datetime
    created_by: str
    closed_at: dt.datetime | None
    closed_by: str | None


def _case_out(v: CaseView) -> CaseOut:
    c = v.case
    return CaseOut(
        id=c.id,
        tenant=c.tenant_id,
        authority=c.authority,
        jurisdiction=c.jurisdiction,
        legal_basis=c.legal_basis,
        scope=c.scope,
        received_on=c.received_on,
        gag=bool(c.gag),
        gag_until=c.gag_until,
        gag_in_force=v.gag_in_force,
        notified=v.notified,
        notice_at=v.notice_at,
        status=c.status,
        outcome=c.outcome,
        grant_id=c.grant_id,
        note=c.note,
        created_at=c.created_at,
        created_by=c.created_by,
        closed_at=c.closed_at,
        closed_by=c.closed_by,
    )


def _lockbox_out(v: LockboxView) -> LockboxRequestOut:
    r, g = v.request, v.grant
    return LockboxRequestOut(
        id=r.id,
        tenant=r.tenant_id,
        operator=f"{SYSTEM_TENANT}/{r.operator}",
        bucket=r.bucket,
        prefix=r.prefix,
        key=r.object_key,
        reason=r.reason,
        ticket=r.ticket,
        duration_seconds=r.duration_seconds,
        case_id=r.case_id,
        status=v.status,
        created_at=r.created_at,
        expires_at=r.expires_at,
        decided_at=r.decided_at,
        decided_by=r.decided_by,
        note=r.note,
        grant=GrantOut(
            id=g.id, granted_at=g.granted_at, expires_at=g.expires_at, revoked_at=g.revoked_at, revoked_by=g.revoked_by
        )
        if g is not None
        else None,
    )


def _arn(tenant: str, what: str) -> str:
    return f"arn:strongroom:lockbox::{tenant}:{what}"


def build_governance_router(admin: Admin) -> APIRouter:  # noqa: C901 - one route per endpoint
    r = APIRouter(prefix=PREFIX, responses=ERROR_RESPONSES)
    store = GovernanceStore(admin.rt.repo)
    lockbox = LockboxService(admin.rt, admin.access, store)
    notices = NoticeService(admin.rt, store)
    cases = DisclosureService(admin.rt, store)

    # --- lockbox ----------------------------------------------------------------------------------------------
    @r.post(
        "/lockbox/requests",
        response_model=LockboxRequestOut,
        status_code=201,
        operation_id="createLockboxRequest",
        tags=["lockbox"],
    )
    async def create_request(request: Request, body: LockboxRequestIn, p: Caller) -> LockboxRequestOut:
        """File a request to read a tenant's data (operators). The tenant's admins are notified."""
        op = await admin.authorize(
            request,
            p,
            "CreateLockboxRequest",
            "strongroom:CreateLockboxRequest",
            _arn(body.tenant, "request/*"),
            SYSTEM_TENANT,
        )
        if await admin.run(admin.rt.repo.get_tenant, body.tenant) is not None:
            op.resource_tenant = body.tenant  # audited in the tenant's chain as well
        view = await admin.run(
            lambda: lockbox.request(
                p,
                body.tenant,
                body.bucket,
                prefix=body.prefix,
                key=body.key,
                reason=body.reason,
                ticket=body.ticket,
                duration_seconds=body.duration_seconds,
                case_id=body.case_id,
            )
        )
        return _lockbox_out(view)

    @r.get(
        "/lockbox/requests",
        response_model=list[LockboxRequestOut],
        operation_id="listLockboxRequests",
        tags=["lockbox"],
    )
    async def list_requests(
        request: Request, p: Caller, tenant: Annotated[str | None, Query(pattern=TENANT, max_length=63)] = None
    ) -> list[LockboxRequestOut]:
        """Operators: every request (or one tenant's); a tenant: its own."""
        if p.is_operator:
            owner, only = SYSTEM_TENANT, tenant
        else:
            owner, only = p.tenant_id, p.tenant_id
            if tenant is not None and tenant != p.tenant_id:
                owner = tenant  # decide refuses (and hides) another tenant's list
        await admin.authorize(
            request, p, "ListLockboxRequests", "strongroom:ListLockboxRequests", _arn(owner, "request/*"), owner
        )
        return [_lockbox_out(v) for v in await admin.run(lockbox.list, only)]

    async def visible_request(request: Request, p: Principal, request_id: str, name: str, action: str) -> LockboxView:
        view = await admin.run(lockbox.get, p, request_id)
        owner = (
            SYSTEM_TENANT
            if p.is_operator and name in ("GetLockboxRequest", "RevokeLockboxGrant")
            else (view.request.tenant_id)
        )
        op = await admin.authorize(
            request, p, name, action, _arn(view.request.tenant_id, f"request/{request_id}"), owner
        )
        op.resource_tenant = view.request.tenant_id
        return view

    @r.get(
        "/lockbox/requests/{request_id}",
        response_model=LockboxRequestOut,
        operation_id="getLockboxRequest",
        tags=["lockbox"],
    )
    async def get_request(request: Request, request_id: RequestPath, p: Caller) -> LockboxRequestOut:
        return _lockbox_out(
            await visible_request(request, p, request_id, "GetLockboxRequest", "strongroom:GetLockboxRequest")
        )

    @r.post(
        "/lockbox/requests/{request_id}/approve",
        response_model=LockboxRequestOut,
        operation_id="approveLockboxRequest",
        tags=["lockbox"],
    )
    async def approve(
        request: Request, request_id: RequestPath, p: Caller, body: DecisionIn | None = None
    ) -> LockboxRequestOut:
        """Approve (the tenant's admins): the operator may read in the request's scope for its duration."""
        await visible_request(request, p, request_id, "ApproveLockboxRequest", "strongroom:ApproveLockboxRequest")
        note = body.note if body is not None else None
        return _lockbox_out(await admin.run(lockbox.approve, p, request_id, note))

    @r.post(
        "/lockbox/requests/{request_id}/deny",
        response_model=LockboxRequestOut,
        operation_id="denyLockboxRequest",
        tags=["lockbox"],
    )
    async def deny(
        request: Request, request_id: RequestPath, p: Caller, body: DecisionIn | None = None
    ) -> LockboxRequestOut:
        await visible_request(request, p, request_id, "DenyLockboxRequest", "strongroom:DenyLockboxRequest")
        note = body.note if body is not None else None
        return _lockbox_out(await admin.run(lockbox.deny, p, request_id, note))

    @r.post(
        "/lockbox/requests/{request_id}/revoke",
        response_model=LockboxRequestOut,
        operation_id="revokeLockboxGrant",
        tags=["lockbox"],
    )
    async def revoke(request: Request, request_id: RequestPath, p: Caller) -> LockboxRequestOut:
        """End the grant now (the tenant's admins, or the operator giving it up)."""
        await visible_request(request, p, request_id, "RevokeLockboxGrant", "strongroom:RevokeLockboxGrant")
        return _lockbox_out(await admin.run(lockbox.revoke, p, request_id))

    # --- webhook and notices ----------------------------------------------------------------------------------
    def _webhook_arn(tenant: str) -> str:
        return f"arn:strongroom:::tenant/{tenant}/webhook"

    @r.put(
        "/tenants/{tenant}/webhook",
        response_model=WebhookCreated,
        operation_id="putWebhook",
        tags=["notices"],
    )
    async def put_webhook(request: Request, tenant: TenantPath, body: WebhookIn, p: Caller) -> WebhookCreated:
        """Set the tenant's webhook (https, or http to localhost only) and get its signing secret, shown once."""
        await admin.authorize(request, p, "PutWebhook", "strongroom:PutWebhook", _webhook_arn(tenant), tenant)
        made = await admin.run(notices.set_webhook, tenant, body.url, p.user)
        return WebhookCreated(tenant=made.tenant, url=made.url, secret=made.secret, created_at=made.created_at)

    @r.get("/tenants/{tenant}/webhook", response_model=WebhookOut, operation_id="getWebhook", tags=["notices"])
    async def get_webhook(request: Request, tenant: TenantPath, p: Caller) -> WebhookOut:
        """The webhook (never its secret) and its latest deliveries."""
        await admin.authorize(request, p, "GetWebhook", "strongroom:GetWebhook", _webhook_arn(tenant), tenant)
        row = await admin.run(notices.get_webhook, tenant)
        deliveries = await admin.run(notices.deliveries, tenant)
        return WebhookOut(
            tenant=tenant,
            url=row.url,
            created_at=row.created_at,
            created_by=row.created_by,
            deliveries=[
                DeliveryOut(
                    id=d.id,
                    notice_id=d.notice_id,
                    status=d.status,
                    attempts=d.attempts,
                    next_attempt_at=d.next_attempt_at,
                    last_error=d.last_error,
                    delivered_at=d.delivered_at,
                )
                for d in deliveries
            ],
        )

    @r.delete("/tenants/{tenant}/webhook", status_code=204, operation_id="deleteWebhook", tags=["notices"])
    async def delete_webhook(request: Request, tenant: TenantPath, p: Caller) -> Response:
        await admin.authorize(request, p, "DeleteWebhook", "strongroom:DeleteWebhook", _webhook_arn(tenant), tenant)
        await admin.run(notices.delete_webhook, tenant)
        return Response(status_code=204)

    @r.get("/tenants/{tenant}/notices", response_model=NoticeFeed, operation_id="listNotices", tags=["notices"])
    async def list_notices(
        request: Request,
        tenant: TenantPath,
        p: Caller,
        after: Annotated[str | None, Query(max_length=64)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> NoticeFeed:
        """The tenant's notices (lockbox requests and answers, third-party requests), oldest first."""
        await admin.authorize(
            request, p, "ListNotices", "strongroom:ListNotices", f"arn:strongroom:::tenant/{tenant}/notices", tenant
        )
        rows, cursor = await admin.run(notices.feed, tenant, after, limit)
        return NoticeFeed(
            tenant=tenant,
            notices=[
                NoticeOut(
                    id=n.id,
                    kind=n.kind,
                    subject=n.subject,
                    body=n.body,
                    created_at=n.created_at,
                    visible_at=n.visible_at,
                )
                for n in rows
            ],
            next=cursor,
        )

    # --- third-party requests (operators) ---------------------------------------------------------------------
    def _case_arn(case_id: str) -> str:
        return f"arn:strongroom:disclosure:::case/{case_id}"

    @r.post("/disclosures", response_model=CaseOut, status_code=201, operation_id="createCase", tags=["disclosures"])
    async def create_case(request: Request, body: CaseIn, p: Caller) -> CaseOut:
        """Record a third-party request (operators). Its tenant is notified now, or when the gag ends."""
        await admin.authorize(
            request, p, "CreateDisclosureCase", "strongroom:CreateDisclosureCase", _case_arn("*"), SYSTEM_TENANT
        )
        view = await admin.run(
            lambda: cases.record(
                p,
                body.tenant,
                authority=body.authority,
                jurisdiction=body.jurisdiction,
                legal_basis=body.legal_basis,
                scope=body.scope,
                received_on=body.received_on,
                gag=body.gag,
                gag_until=body.gag_until,
            )
        )
        return _case_out(view)

    @r.get("/disclosures", response_model=list[CaseOut], operation_id="listCases", tags=["disclosures"])
    async def list_cases(
        request: Request,
        p: Caller,
        tenant: Annotated[str | None, Query(pattern=TENANT, max_length=63)] = None,
        status: Annotated[str | None, Query(pattern="^(open|closed)$")] = None,
    ) -> list[CaseOut]:
        await admin.authorize(
            request, p, "ListDisclosureCases", "strongroom:ListDisclosureCases", _case_arn("*"), SYSTEM_TENANT
        )
        return [_case_out(v) for v in await admin.run(cases.list, tenant, status)]

    @r.get("/disclosures/{case_id}", response_model=CaseOut, operation_id="getCase", tags=["disclosures"])
    async def get_case(request: Request, case_id: CasePath, p: Caller) -> CaseOut:
        await admin.authorize(
            request, p, "GetDisclosureCase", "strongroom:GetDisclosureCase", _case_arn(case_id), SYSTEM_TENANT
        )
        return _case_out(await admin.run(cases.get, case_id))

    @r.patch("/disclosures/{case_id}", response_model=CaseOut, operation_id="updateCaseGag", tags=["disclosures"])
    async def update_gag(request: Request, case_id: CasePath, body: GagIn, p: Caller) -> CaseOut:
        """Record a change of the non-disclosure order (lifted, ended early, an end date set)."""
        await admin.authorize(
            request, p, "UpdateDisclosureCase", "strongroom:UpdateDisclosureCase", _case_arn(case_id), SYSTEM_TENANT
        )
        return _case_out(await admin.run(cases.set_gag, case_id, body.gag, body.gag_until))

    @r.post("/disclosures/{case_id}/close", response_model=CaseOut, operation_id="closeCase", tags=["disclosures"])
    async def close_case(request: Request, case_id: CasePath, body: CloseIn, p: Caller) -> CaseOut:
        """Close with an outcome; disclosed_with_consent only with an approved lockbox grant of the tenant."""
        await admin.authorize(
            request, p, "CloseDisclosureCase", "strongroom:CloseDisclosureCase", _case_arn(case_id), SYSTEM_TENANT
        )
        return _case_out(await admin.run(cases.close, p, case_id, body.outcome, body.grant_id, body.note))

    return r
