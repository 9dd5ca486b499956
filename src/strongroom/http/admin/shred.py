"""Admin API: crypto-shredding a tenant (operators only; service/shred.py does it).

``GET /tenants/{tenant}/crypto-shred`` shows what a shred would destroy; ``POST`` does it and answers with the
deletion certificate the vault signed (the same certificate again for a tenant already shredded). Both are the
``strongroom:DeleteTenant`` action on the tenant, which only operators hold.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from strongroom.core.types import SYSTEM_TENANT
from strongroom.http.admin.app import ERROR_RESPONSES, PREFIX, Admin, Caller, TenantPath
from strongroom.service.shred import TenantShredder


def build_shred_router(admin: Admin) -> APIRouter:
    r = APIRouter(prefix=PREFIX, responses=ERROR_RESPONSES)
    shredder = TenantShredder(admin.rt, admin.access)

    async def authorize(request: Request, p: Caller, name: str, tenant: str) -> Any:
        resource = f"arn:strongroom:::tenant/{tenant}"
        return await admin.authorize(request, p, name, "strongroom:DeleteTenant", resource, SYSTEM_TENANT)

    @r.get(
        "/tenants/{tenant}/crypto-shred",
        response_model=dict[str, Any],
        operation_id="previewCryptoShred",
        tags=["tenants"],
    )
    async def preview(request: Request, tenant: TenantPath, p: Caller) -> Any:
        """What a crypto-shred of the tenant would destroy: its keys (and any purge-protected key that blocks the
        shred), its buckets with their object counts and bytes, its users and access keys. Changes nothing."""
        await authorize(request, p, "PreviewCryptoShredTenant", tenant)
        return await admin.run(shredder.preview, tenant)

    @r.post(
        "/tenants/{tenant}/crypto-shred",
        response_model=dict[str, Any],
        operation_id="cryptoShredTenant",
        tags=["tenants"],
    )
    async def shred(request: Request, tenant: TenantPath, p: Caller) -> Any:
        """Crypto-shred the tenant: destroy every key of its vault namespace, delete its objects, buckets, users,
        access keys and namespace, and answer with the deletion certificate signed by the vault (verify it offline
        with ``strongroom tenant verify-certificate``). The tenant's name cannot be used again."""
        op = await authorize(request, p, "CryptoShredTenant", tenant)
        return await admin.run(shredder.shred, tenant, p, op.request_id)

    return r
