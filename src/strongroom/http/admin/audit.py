"""Admin API: the caller's tenant's audit log (search, export) and the checkpoint public keys.

Tenant admins (and members whose identity policy grants ``strongroom:GetAuditLog``) read their own tenant's chain;
operators read the operators' chain ``system``. Nobody reads another tenant's chain: it names the tenant's objects.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from strongroom.audit.export import export_lines
from strongroom.http.admin.app import ERROR_RESPONSES, PREFIX, TENANT, Admin, Caller
from strongroom.metadata.auditstore import EntryFilter


class AuditPage(BaseModel):
    chain: str
    entries: list[dict[str, Any]]
    next_before: int | None  # pass as ``before`` for the next (older) page


class AuditPublicKeys(BaseModel):
    algorithm: str
    keys: dict[str, str]  # key version -> base64 raw 32-byte Ed25519 public key
    latest_version: int


def _us(t: dt.datetime | None) -> int | None:
    if t is None:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return int(t.timestamp() * 1_000_000)


def build_audit_router(admin: Admin) -> APIRouter:
    r = APIRouter(prefix=PREFIX, responses=ERROR_RESPONSES)

    async def chain_of(request: Request, p: Any, tenant: str | None, name: str) -> str:
        chain = tenant or p.tenant_id
        await admin.authorize(request, p, name, "strongroom:GetAuditLog", f"arn:strongroom:audit::{chain}", chain)
        return chain

    @r.get("/audit/entries", response_model=AuditPage, operation_id="listAuditEntries", tags=["audit"])
    async def list_entries(
        request: Request,
        p: Caller,
        tenant: Annotated[str | None, Query(pattern=TENANT, max_length=63)] = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        principal: Annotated[str | None, Query(max_length=256)] = None,
        action: Annotated[str | None, Query(max_length=128)] = None,
        resource: Annotated[str | None, Query(max_length=2048)] = None,
        outcome: Annotated[str | None, Query(pattern=r"^(success|denied|failed)$")] = None,
        before: Annotated[int | None, Query(ge=0)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> AuditPage:
        """Entries of the caller's tenant's chain, newest first, matching every filter given."""
        chain = await chain_of(request, p, tenant, "ListAuditEntries")
        f = EntryFilter(_us(since), _us(until), principal, action, resource, outcome)
        rows = await admin.run(admin.rt.audit.store.search, chain, f, before, limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return AuditPage(
            chain=chain,
            entries=[json.loads(body) for _, body in rows],
            next_before=rows[-1][0] if more and rows else None,
        )

    @r.get(
        "/audit/export",
        operation_id="exportAuditLog",
        tags=["audit"],
        responses={200: {"content": {"application/x-ndjson": {}}, "description": "the export, JSON lines"}},
    )
    async def export(
        request: Request,
        p: Caller,
        tenant: Annotated[str | None, Query(pattern=TENANT, max_length=63)] = None,
        since: dt.datetime | None = None,
    ) -> StreamingResponse:
        """The chain as JSON lines with its checkpoints, ending with a checkpoint signed now (verify it offline
        with ``strongroom audit verify``)."""
        chain = await chain_of(request, p, tenant, "ExportAuditLog")
        audit = admin.rt.audit
        assert audit.signer is not None
        # the closing checkpoint is signed before the first line leaves (an export never fails half way)
        lines = await admin.run(export_lines, audit.store, audit.signer, chain, _us(since))
        return StreamingResponse(lines, media_type="application/x-ndjson")

    @r.get("/audit/public-key", response_model=AuditPublicKeys, operation_id="getAuditPublicKey", tags=["audit"])
    async def public_key(request: Request, p: Caller) -> AuditPublicKeys:
        """The Ed25519 keys that sign checkpoints (public: any signed caller may read them)."""
        op = admin.operation(
            request, p, "GetAuditPublicKey", "strongroom:GetAuditPublicKey", "arn:strongroom:audit:::key"
        )
        op.outcome = "allowed"
        keys = await admin.run(admin.rt.vault.audit_public_keys)
        return AuditPublicKeys(
            algorithm="Ed25519",
            keys={str(v): base64.b64encode(k).decode("ascii") for v, k in sorted(keys.items())},
            latest_version=max(keys) if keys else 0,
        )

    return r
