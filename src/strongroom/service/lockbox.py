"""The customer lockbox: the only way an operator reads a tenant's data.

An operator files a request (tenant, scope, reason, ticket, duration up to ``MAX_DURATION``); the tenant's admins
are notified (feed and webhook) and approve or deny it; a request nobody answered within ``REQUEST_TTL`` has
expired. Approval makes a grant: that operator may read (``policy.authz.LOCKBOX_READ_ACTIONS``) in that scope until
the grant expires or is revoked, and every access under it is audited, with the grant's id, in the operators' chain
and in the tenant's. The decision itself is ``policy.authz.decide``; ``service.access`` loads the grants.

Who may do what (the admin API authorizes the call first; these are the rules of the use case itself):

* only operators file requests, and never for the tenant ``system``;
* only an admin of the request's tenant answers it (never the operator who filed it); a principal of another
  tenant is told the request does not exist;
* a grant is revoked by an admin of its tenant or given up by its operator.

Every state change is a conditional update in the database, so concurrent answers (on any gateway) cannot both
succeed, and expiry is judged from stored timestamps against the clock: nothing here needs process state.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from strongroom.core import errors
from strongroom.core.clock import Clock, utcnow
from strongroom.core.types import SYSTEM_TENANT, Principal
from strongroom.metadata.governance import GovernanceStore, NewNotice, new_id
from strongroom.metadata.models import LockboxGrant, LockboxRequest
from strongroom.policy.names import MAX_KEY_BYTES
from strongroom.service.access import AccessService
from strongroom.service.disclosures import gag_in_force
from strongroom.service.runtime import Runtime

MAX_DURATION = dt.timedelta(hours=8)
REQUEST_TTL = dt.timedelta(hours=12)
MAX_REASON = 4000
MAX_TICKET = 128


@dataclass(frozen=True)
class LockboxView:
    """A request as shown: ``status`` is pending, expired (never answered), denied, approved (its grant is
    active), ended (the grant ran out) or revoked."""

    request: LockboxRequest
    grant: LockboxGrant | None
    status: str


def status_of(row: LockboxRequest, grant: LockboxGrant | None, now: dt.datetime) -> str:
    if row.status == "pending":
        return "expired" if now >= row.expires_at else "pending"
    if row.status == "denied" or grant is None:
        return "denied"
    if grant.revoked_at is not None:
        return "revoked"
    return "ended" if now >= grant.expires_at else "approved"


class LockboxService:
    def __init__(self, rt: Runtime, access: AccessService, store: GovernanceStore, clock: Clock = utcnow) -> None:
        self.rt = rt
        self.access = access
        self.store = store
        self.clock = clock

    def _view(self, row: LockboxRequest, grant: LockboxGrant | None) -> LockboxView:
        return LockboxView(row, grant, status_of(row, grant, self.clock()))

    # --- filing ---------------------------------------------------------------------------------------------
    def request(
        self,
        operator: Principal,
        tenant: str,
        bucket: str,
        *,
        prefix: str = "",
        key: str | None = None,
        reason: str,
        ticket: str,
        duration_seconds: int,
        case_id: str | None = None,
    ) -> LockboxView:
        if not operator.is_operator:
            raise errors.AccessDenied()
        if tenant == SYSTEM_TENANT:
            raise errors.InvalidRequest("the lockbox is for tenant data; operators already own the system tenant")
        duration = dt.timedelta(seconds=duration_seconds)
        if duration_seconds < 60 or duration > MAX_DURATION:
            raise errors.InvalidRequest(
                f"duration must be between 1 minute and {int(MAX_DURATION.total_seconds() // 3600)} hours"
            )
        reason, ticket = reason.strip(), ticket.strip()
        if not reason or len(reason) > MAX_REASON:
            raise errors.InvalidRequest(f"a reason is required (at most {MAX_REASON} characters)")
        if not ticket or len(ticket) > MAX_TICKET:
            raise errors.InvalidRequest(f"a ticket id is required (at most {MAX_TICKET} characters)")
        if key is not None and prefix:
            raise errors.InvalidRequest("the scope is a key prefix or one key, not both")
        if key is not None and not key:
            raise errors.InvalidRequest("the key must not be empty")
        for value in (prefix, key or ""):
            if len(value.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
                raise errors.InvalidRequest("the prefix or key is longer than an object key may be")
        if self.rt.repo.get_tenant(tenant) is None:
            raise errors.NoSuchEntity(f"tenant {tenant} does not exist")
        row = self.rt.repo.get_bucket(bucket)
        if row is None or row.tenant_id != tenant:
            raise errors.InvalidRequest(f"tenant {tenant} has no bucket {bucket}")
        if case_id is not None:
            case = self.store.get_case(case_id)
            if case is None or case.tenant_id != tenant:
                raise errors.InvalidRequest(f"case {case_id} is not a case about tenant {tenant}")
        now = self.clock()
        req = LockboxRequest(
            id=new_id("lbr"),
            tenant_id=tenant,
            operator=operator.user,
            bucket=bucket,
            bucket_id=row.id,
            prefix=prefix if key is None else "",
            object_key=key,
            reason=reason,
            ticket=ticket,
            duration_seconds=duration_seconds,
            case_id=case_id,
            status="pending",
            created_at=now,
            expires_at=now + REQUEST_TTL,
        )
        self.store.create_request(req, self._notice(req, "lockbox.requested", now))
        return self._view(req, None)

    def _notice(self, row: LockboxRequest, kind: str, now: dt.datetime, grant: LockboxGrant | None = None) -> NewNotice:
        body: dict[str, object] = {
            "request": row.id,
            "operator": f"{SYSTEM_TENANT}/{row.operator}",
            "bucket": row.bucket,
            "prefix": row.prefix,
            "key": row.object_key,
            "reason": row.reason,
            "ticket": row.ticket,
            "duration_seconds": row.duration_seconds,
            "request_expires_at": row.expires_at.isoformat(),
        }
        if row.case_id:
            case = self.store.get_case(row.case_id)
            if case is not None and not gag_in_force(case, now):
                body["case"] = row.case_id  # while a non-disclosure order is in force, not even its id
        if grant is not None:
            body["grant"] = grant.id
            body["grant_expires_at"] = grant.expires_at.isoformat()
        return NewNotice(row.tenant_id, kind, row.id, body, now)

    # --- reading ------------------------------------------------------------------------------------------------
    def get(self, caller: Principal, request_id: str) -> LockboxView:
        """The request, if the caller may know of it: operators see every request, a tenant its own."""
        got = self.store.get_request(request_id)
        if got is None or not (caller.is_operator or caller.tenant_id == got[0].tenant_id):
            raise errors.NoSuchEntity(f"lockbox request {request_id} does not exist")
        return self._view(*got)

    def list(self, tenant: str | None) -> list[LockboxView]:
        """Every request (operators: ``tenant`` None), or one tenant's."""
        return [self._view(r, g) for r, g in self.store.list_requests(tenant)]

    # --- answers ------------------------------------------------------------------------------------------------
    def _answerable(self, caller: Principal, request_id: str) -> LockboxRequest:
        row = self.get(caller, request_id).request
        if caller.tenant_id != row.tenant_id:
            raise errors.AccessDenied()  # an operator (the one who filed it, or another): never their call
        if not caller.is_admin:
            raise errors.AccessDenied()  # only the tenant's admins answer
        return row

    def approve(self, caller: Principal, request_id: str, note: str | None = None) -> LockboxView:
        row = self._answerable(caller, request_id)
        now = self.clock()
        grant = LockboxGrant(
            id=new_id("lbg"),
            request_id=row.id,
            tenant_id=row.tenant_id,
            operator=row.operator,
            bucket=row.bucket,
            bucket_id=row.bucket_id,
            prefix=row.prefix,
            object_key=row.object_key,
            granted_at=now,
            expires_at=now + dt.timedelta(seconds=row.duration_seconds),
        )
        self.store.decide_request(
            row.id, "approved", caller.user, note, now, grant, self._notice(row, "lockbox.approved", now, grant)
        )
        self.access.forget_lockbox(row.operator)
        return self.get(caller, request_id)

    def deny(self, caller: Principal, request_id: str, note: str | None = None) -> LockboxView:
        row = self._answerable(caller, request_id)
        now = self.clock()
        self.store.decide_request(
            row.id, "denied", caller.user, note, now, None, self._notice(row, "lockbox.denied", now)
        )
        return self.get(caller, request_id)

    def revoke(self, caller: Principal, request_id: str) -> LockboxView:
        """End an approved request's grant now: an admin of its tenant, or the operator who holds it."""
        got = self.get(caller, request_id)
        row, grant = got.request, got.grant
        holder = caller.is_operator and caller.user == row.operator
        if not holder and not (caller.tenant_id == row.tenant_id and caller.is_admin):
            raise errors.AccessDenied()
        if grant is None:
            raise errors.Conflict("the request was not approved: there is no grant to revoke")
        now = self.clock()
        self.store.revoke_grant(
            grant.id, f"{caller.tenant_id}/{caller.user}", now, self._notice(row, "lockbox.revoked", now, grant)
        )
        self.access.forget_lockbox(row.operator)
        return self.get(caller, request_id)
