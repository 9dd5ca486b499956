"""The admin API: JSON under ``/_strongroom/api/v1/``, signed with SigV4 like S3 (service ``s3``), typed handlers
(FastAPI derives the OpenAPI document at ``/_strongroom/api/v1/openapi.json``).

Every endpoint names its operation once (the ``@operation`` table below: name, IAM action, resource) and is
authorized by ``policy.authz.decide`` before its handler runs, exactly like an S3 request. Tenant admins manage their
own tenant; members need an identity policy granting the ``iam:*`` action; operators (tenant ``system``) manage
tenants, users and access-key status, and are refused everything that reads tenant data (the object endpoints)
or would let them act as a tenant (creating a tenant user's access key, its policies, a tenant vault token).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Message, Receive, Scope, Send

from strongroom.core import errors
from strongroom.core.types import ANONYMOUS, SYSTEM_TENANT, Operation, Principal
from strongroom.http.s3.errors import S3Error
from strongroom.http.s3.sigv4 import authenticate, claimed_access_key
from strongroom.policy import acl as acls
from strongroom.policy.authz import Resource, decide
from strongroom.service.access import AccessService, NotCached
from strongroom.service.tenants import NewAccessKey, TenantService

PREFIX = "/_strongroom/api/v1"
MAX_BODY = 64 * 1024
TENANT = r"^[a-z0-9][a-z0-9-]{0,62}$"
ENTITY = r"^[A-Za-z0-9+=,.@_-]{1,64}$"
KEY_ID = r"^[A-Za-z0-9]{16,128}$"
BUCKET = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"


# --- wire models ------------------------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail
    request_id: str


class PublicAccessBlockBody(BaseModel):
    """The four settings, named as S3's PublicAccessBlockConfiguration names them."""

    model_config = ConfigDict(extra="forbid")
    BlockPublicAcls: bool = False
    IgnorePublicAcls: bool = False
    BlockPublicPolicy: bool = False
    RestrictPublicBuckets: bool = False

    @classmethod
    def of(cls, block: acls.PublicAccessBlock) -> PublicAccessBlockBody:
        return cls(
            BlockPublicAcls=block.block_public_acls,
            IgnorePublicAcls=block.ignore_public_acls,
            BlockPublicPolicy=block.block_public_policy,
            RestrictPublicBuckets=block.restrict_public_buckets,
        )

    def block(self) -> acls.PublicAccessBlock:
        return acls.PublicAccessBlock(
            block_public_acls=self.BlockPublicAcls,
            ignore_public_acls=self.IgnorePublicAcls,
            block_public_policy=self.BlockPublicPolicy,
            restrict_public_buckets=self.RestrictPublicBuckets,
        )


class TenantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=TENANT)
    admin: str = Field(default="admin", pattern=ENTITY)


class TenantOut(BaseModel):
    name: str
    created_at: dt.datetime
    canonical_id: str
    public_access_block: PublicAccessBlockBody


class AccessKeyCreated(BaseModel):
    """A new access key. ``secret_access_key`` is shown this once and never again."""

    user: str  # "TENANT/USER"
    access_key_id: str
    secret_access_key: str
    created_at: dt.datetime


class TenantCreated(BaseModel):
    tenant: TenantOut
    access_key: AccessKeyCreated


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=ENTITY)
    admin: bool = False


class UserOut(BaseModel):
    tenant: str
    name: str
    arn: str
    admin: bool
    created_at: dt.datetime
    groups: list[str]
    has_policy: bool


class AccessKeyOut(BaseModel):
    access_key_id: str
    user: str  # "TENANT/USER"
    status: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None


class AccessKeyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: str = Field(pattern=r"^(Active|Inactive)$")


class GroupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=ENTITY)


class GroupOut(BaseModel):
    tenant: str
    name: str
    arn: str
    created_at: dt.datetime
    members: list[str]
    has_policy: bool


class WhoAmI(BaseModel):
    tenant: str
    user: str
    arn: str
    admin: bool
    operator: bool


class VaultTokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ttl_seconds: int = Field(default=3600, ge=60, le=7 * 24 * 3600)


class VaultTokenOut(BaseModel):
    token: str
    namespace: str
    policies: list[str]
    ttl_seconds: int


class BucketOut(BaseModel):
    name: str
    region: str
    created_at: dt.datetime


class ObjectOut(BaseModel):
    key: str
    size: int
    etag: str
    last_modified: dt.datetime
    storage_class: str


class ObjectList(BaseModel):
    bucket: str
    prefix: str
    objects: list[ObjectOut]
    is_truncated: bool
    next_marker: str | None


class ObjectMeta(BaseModel):
    bucket: str
    key: str
    size: int
    etag: str
    last_modified: dt.datetime
    content_type: str | None
    metadata: dict[str, str]
    server_side_encryption: str


class Health(BaseModel):
    status: str


# --- errors -----------------------------------------------------------------------------------------------------

_STATUS: list[tuple[type[errors.StrongroomError], int, str]] = [
    (errors.NoSuchBucket, 404, "NoSuchBucket"),
    (errors.NoSuchKey, 404, "NoSuchKey"),
    (errors.NotFound, 404, "NoSuchEntity"),
    (errors.EntityAlreadyExists, 409, "EntityAlreadyExists"),
    (errors.DeleteConflict, 409, "DeleteConflict"),
    (errors.Conflict, 409, "Conflict"),
    (errors.MalformedPolicy, 400, "MalformedPolicyDocument"),
    (errors.InvalidRequest, 400, "InvalidRequest"),
    (errors.AccessDenied, 403, "AccessDenied"),
    (errors.SlowDown, 503, "SlowDown"),
    (errors.KeyStoreSealed, 503, "ServiceUnavailable"),
    (errors.Unavailable, 503, "ServiceUnavailable"),
    (errors.KeyError_, 400, "InvalidRequest"),
]

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (400, "invalid request"),
        (403, "access denied, or the request is not signed correctly"),
        (404, "no such tenant, user, group, access key, bucket or object (or not visible to the caller)"),
        (409, "conflict with the current state"),
        (413, "request body too large"),
        (503, "the vault is sealed or the service is unavailable"),
    )
}


def _error(status: int, code: str, message: str, request_id: str) -> JSONResponse:
    body = {"error": {"code": code, "message": message}, "request_id": request_id}
    return JSONResponse(body, status_code=status, headers={"x-request-id": request_id})


def _domain(exc: errors.StrongroomError) -> tuple[int, str, str]:
    for cls, status, code in _STATUS:
        if isinstance(exc, cls):
            message = exc.message if code != "AccessDenied" else "Access Denied"
            return status, code, message
    return 500, "InternalError", "We encountered an internal error. Please try again."


# --- the operation table ------------------------------------------------------------------------------------------


class Admin:
    """What every handler needs: the services, and the one authorization step."""

    def __init__(self, access: AccessService, tenants: TenantService, s3: Any) -> None:
        self.access = access
        self.tenants = tenants
        self.s3 = s3  # the S3 app: its bucket, object and listing services
        self.rt = access.rt

    async def caller(self, request: Request) -> Principal:
        """SigV4 over the request as received (body hash included) -> the principal of an active access key."""
        body = await request.body()
        scope = request.scope
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope["headers"]:
            k, v = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
            headers[k] = f"{headers[k]},{v}" if k in headers else v
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        query = scope.get("query_string", b"").decode("latin-1")

        def verify(lookup: Callable[[str], str | None]) -> str:
            auth = authenticate(
                request.method,
                raw_path,
                query,
                headers,
                lookup,
                dt.datetime.now(dt.UTC),
                self.rt.settings.max_clock_skew_seconds,
            )
            if auth.payload_mode.startswith("streaming"):
                raise errors.InvalidRequest("the admin API takes whole JSON bodies, not aws-chunked ones")
            if auth.payload_sha256 is not None and not hmac.compare_digest(
                hashlib.sha256(body).hexdigest(), auth.payload_sha256
            ):
                raise S3Error(
                    "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match.", 400
                )
            return auth.access_key

        try:
            try:
                key = verify(self.access.cached_secret)
            except NotCached:
                key = await self.rt.run(verify, self.access.lookup_secret)
        except S3Error as exc:
            client = request.scope.get("client")
            claimed = claimed_access_key(headers.get("authorization", ""))
            await self.s3.hold_back(exc.code, claimed, client[0] if client else None)
            raise
        # the S3 API's per-key request rate covers the admin API too (one budget per access key)
        self.s3.limits.check_request(key)
        principal = self.access.principal(key)
        request.state.principal = principal  # an authenticated call is audited as its caller's, named or not
        return principal

    def operation(self, request: Request, principal: Principal, name: str, action: str, resource: str) -> Operation:
        client = request.scope.get("client")
        op = Operation(
            name=name,
            action=action,
            resource=resource,
            principal=principal,
            request_id=request.state.request_id,
            source_ip=client[0] if client else None,
            user_agent=request.headers.get("user-agent"),
        )
        op.resource_tenant = principal.tenant_id
        op.context.update(
            {
                "aws:SecureTransport": "true" if request.url.scheme == "https" else "false",
                "aws:CurrentTime": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "aws:username": principal.user,
                "aws:PrincipalArn": principal.arn or "",
                "aws:PrincipalAccount": principal.tenant_id,
            }
        )
        if op.source_ip:
            op.context["aws:SourceIp"] = op.source_ip
        request.state.operation = op
        return op

    async def authorize(
        self, request: Request, principal: Principal, name: str, action: str, resource: str, tenant: str
    ) -> Operation:
        """Decide an admin operation on a resource owned by ``tenant``; a caller that may not learn the resource
        exists is told it does not."""
        op = self.operation(request, principal, name, action, resource)
        requester = await self.rt.run(self.access.requester, op)
        op.resource_tenant = tenant
        decision = decide(requester, action, Resource(resource, tenant, "tenant"))
        if not decision.allowed:
            op.outcome = "denied"
            if not decision.visible and tenant != SYSTEM_TENANT:
                raise errors.NoSuchEntity("The specified entity does not exist (or is not visible to you)")
            raise errors.AccessDenied()
        op.outcome = "allowed"
        if request.method != "GET":
            op.success_status = getattr(request.scope.get("route"), "status_code", None) or 200
            self.rt.audit.arm(op, "admin")
        return op

    def unnamed_operation(self, request: Request) -> Operation:
        """The audit record of a call refused before it was named (unauthenticated, malformed, no such route): in
        its caller's chain when the signature was good."""
        client = request.scope.get("client")
        principal = getattr(request.state, "principal", None) or ANONYMOUS
        return Operation(
            name="Unknown",
            action="",
            resource=request.url.path,
            principal=principal,
            request_id=request.state.request_id,
            source_ip=client[0] if client else None,
            user_agent=request.headers.get("user-agent"),
        )

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await self.rt.run(fn, *args)


def _tenant_out(row: Any) -> TenantOut:
    block = acls.PublicAccessBlock.from_json(row.public_access_block) if row.public_access_block else acls.ALL_OFF
    return TenantOut(
        name=row.id,
        created_at=row.created_at,
        canonical_id=row.canonical_id or "",
        public_access_block=PublicAccessBlockBody.of(block),
    )


def _key_created(key: NewAccessKey) -> AccessKeyCreated:
    return AccessKeyCreated(
        user=f"{key.tenant}/{key.user}",
        access_key_id=key.access_key_id,
        secret_access_key=key.secret_access_key,
        created_at=key.created_at,
    )


def _key_out(row: Any) -> AccessKeyOut:
    return AccessKeyOut(
        access_key_id=row.access_key_id,
        user=f"{row.tenant_id}/{row.user_name}",
        status=row.status,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
    )


def _user_arn(tenant: str, user: str) -> str:
    return f"arn:aws:iam::{tenant}:user/{user}"


def _group_arn(tenant: str, group: str) -> str:
    return f"arn:aws:iam::{tenant}:group/{group}"


async def _caller(request: Request) -> Principal:
    admin: Admin = request.app.state.admin
    return await admin.caller(request)


Caller = Annotated[Principal, Depends(_caller)]
TenantPath = Annotated[str, Path(pattern=TENANT, max_length=63)]
UserPath = Annotated[str, Path(pattern=ENTITY, max_length=64)]
GroupPath = Annotated[str, Path(pattern=ENTITY, max_length=64)]
KeyPath = Annotated[str, Path(pattern=KEY_ID, max_length=128)]
BucketPath = Annotated[str, Path(pattern=BUCKET, max_length=63)]


async def _policy_body(request: Request) -> str:
    body = await request.body()
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):  # deep nesting within the size limit is RecursionError, not ValueError
        raise errors.MalformedPolicy("Policies must be valid JSON and the first byte must be '{'") from None
    if not isinstance(doc, dict):
        raise errors.MalformedPolicy("Policies must be valid JSON and the first byte must be '{'")
    return body.decode("utf-8")


_POLICY_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object", "additionalProperties": True}}},
    }
}


def build_router(admin: Admin) -> APIRouter:  # noqa: C901 - one route per endpoint
    r = APIRouter(prefix=PREFIX, responses=ERROR_RESPONSES)

    # --- caller, health ---------------------------------------------------------------------------------------
    @r.get("/whoami", response_model=WhoAmI, operation_id="whoami", tags=["caller"])
    async def whoami(request: Request, p: Caller) -> WhoAmI:
        """Who the signature belongs to."""
        admin.operation(request, p, "GetCallerIdentity", "sts:GetCallerIdentity", p.arn or "")
        return WhoAmI(tenant=p.tenant_id, user=p.user, arn=p.arn or "", admin=p.is_admin, operator=p.is_operator)

    @r.get("/health", response_model=Health, operation_id="health", tags=["operators"])
    async def health(request: Request, p: Caller) -> Health:
        await admin.authorize(request, p, "GetHealth", "strongroom:GetHealth", "arn:strongroom:::health", SYSTEM_TENANT)
        status = await admin.run(admin.rt.vault.status)
        return Health(status="sealed" if status.get("sealed", True) else "ok")

    # --- tenants ----------------------------------------------------------------------------------------------
    @r.get("/tenants", response_model=list[TenantOut], operation_id="listTenants", tags=["tenants"])
    async def list_tenants(request: Request, p: Caller) -> list[TenantOut]:
        await admin.authorize(
            request, p, "ListTenants", "strongroom:ListTenants", "arn:strongroom:::tenant/*", SYSTEM_TENANT
        )
        return [_tenant_out(t) for t in await admin.run(admin.tenants.list_tenants)]

    @r.post("/tenants", response_model=TenantCreated, status_code=201, operation_id="createTenant", tags=["tenants"])
    async def create_tenant(request: Request, body: TenantIn, p: Caller) -> TenantCreated:
        """A tenant, its vault namespace, its first admin user and that user's first access key (shown once: hand
        it to the customer, who should make their own key and delete this one)."""
        await admin.authorize(
            request, p, "CreateTenant", "strongroom:CreateTenant", f"arn:strongroom:::tenant/{body.name}", SYSTEM_TENANT
        )
        key = await admin.run(admin.tenants.create_tenant, body.name, body.admin)
        row = await admin.run(admin.tenants.get_tenant, body.name)
        return TenantCreated(tenant=_tenant_out(row), access_key=_key_created(key))

    @r.get("/tenants/{tenant}", response_model=TenantOut, operation_id="getTenant", tags=["tenants"])
    async def get_tenant(request: Request, tenant: TenantPath, p: Caller) -> TenantOut:
        owner = tenant if p.tenant_id == tenant else SYSTEM_TENANT
        await admin.authorize(
            request, p, "GetTenant", "strongroom:GetTenant", f"arn:strongroom:::tenant/{tenant}", owner
        )
        return _tenant_out(await admin.run(admin.tenants.get_tenant, tenant))

    @r.delete("/tenants/{tenant}", status_code=204, operation_id="deleteTenant", tags=["tenants"])
    async def delete_tenant(request: Request, tenant: TenantPath, p: Caller) -> Response:
        await admin.authorize(
            request, p, "DeleteTenant", "strongroom:DeleteTenant", f"arn:strongroom:::tenant/{tenant}", SYSTEM_TENANT
        )
        await admin.run(admin.tenants.delete_tenant, tenant)
        return Response(status_code=204)

    @r.get(
        "/tenants/{tenant}/public-access-block",
        response_model=PublicAccessBlockBody,
        operation_id="getTenantPublicAccessBlock",
        tags=["tenants"],
    )
    async def get_tenant_pab(request: Request, tenant: TenantPath, p: Caller) -> PublicAccessBlockBody:
        """The tenant-wide public access block (S3's account-level block); on for new tenants by default."""
        await admin.authorize(
            request, p, "GetPublicAccessBlock", "s3:GetAccountPublicAccessBlock", "arn:aws:s3:::*", tenant
        )
        return PublicAccessBlockBody.of(await admin.run(admin.tenants.tenant_public_access_block, tenant))

    @r.put(
        "/tenants/{tenant}/public-access-block",
        response_model=PublicAccessBlockBody,
        operation_id="putTenantPublicAccessBlock",
        tags=["tenants"],
    )
    async def put_tenant_pab(
        request: Request, tenant: TenantPath, body: PublicAccessBlockBody, p: Caller
    ) -> PublicAccessBlockBody:
        await admin.authorize(
            request, p, "PutPublicAccessBlock", "s3:PutAccountPublicAccessBlock", "arn:aws:s3:::*", tenant
        )
        await admin.run(admin.tenants.set_tenant_public_access_block, tenant, body.block())
        return PublicAccessBlockBody.of(await admin.run(admin.tenants.tenant_public_access_block, tenant))

    # --- users ------------------------------------------------------------------------------------------------
    async def user_out(tenant: str, name: str) -> UserOut:
        row = await admin.run(admin.tenants.get_user, tenant, name)
        groups = await admin.run(admin.tenants.user_groups, tenant, name)
        return UserOut(
            tenant=tenant,
            name=name,
            arn=_user_arn(tenant, name),
            admin=bool(row.is_admin),
            created_at=row.created_at,
            groups=groups,
            has_policy=bool(row.policy),
        )

    @r.get("/tenants/{tenant}/users", response_model=list[UserOut], operation_id="listUsers", tags=["users"])
    async def list_users(request: Request, tenant: TenantPath, p: Caller) -> list[UserOut]:
        await admin.authorize(request, p, "ListUsers", "iam:ListUsers", _user_arn(tenant, "*"), tenant)
        rows = await admin.run(admin.tenants.list_users, tenant)
        return [await user_out(tenant, u.name) for u in rows]

    @r.post(
        "/tenants/{tenant}/users", response_model=UserOut, status_code=201, operation_id="createUser", tags=["users"]
    )
    async def create_user(request: Request, tenant: TenantPath, body: UserIn, p: Caller) -> UserOut:
        await admin.authorize(request, p, "CreateUser", "iam:CreateUser", _user_arn(tenant, body.name), tenant)
        await admin.run(admin.tenants.create_user, tenant, body.name, body.admin)
        return await user_out(tenant, body.name)

    @r.get("/tenants/{tenant}/users/{user}", response_model=UserOut, operation_id="getUser", tags=["users"])
    async def get_user(request: Request, tenant: TenantPath, user: UserPath, p: Caller) -> UserOut:
        await admin.authorize(request, p, "GetUser", "iam:GetUser", _user_arn(tenant, user), tenant)
        return await user_out(tenant, user)

    @r.delete("/tenants/{tenant}/users/{user}", status_code=204, operation_id="deleteUser", tags=["users"])
    async def delete_user(request: Request, tenant: TenantPath, user: UserPath, p: Caller) -> Response:
        await admin.authorize(request, p, "DeleteUser", "iam:DeleteUser", _user_arn(tenant, user), tenant)
        await admin.run(admin.tenants.delete_user, tenant, user)
        return Response(status_code=204)

    @r.get(
        "/tenants/{tenant}/users/{user}/policy",
        response_model=dict[str, Any],
        operation_id="getUserPolicy",
        tags=["users"],
    )
    async def get_user_policy(request: Request, tenant: TenantPath, user: UserPath, p: Caller) -> Any:
        await admin.authorize(request, p, "GetUserPolicy", "iam:GetUserPolicy", _user_arn(tenant, user), tenant)
        text = await admin.run(admin.tenants.get_user_policy, tenant, user)
        return Response(text.encode(), media_type="application/json")

    @r.put(
        "/tenants/{tenant}/users/{user}/policy",
        status_code=204,
        operation_id="putUserPolicy",
        tags=["users"],
        openapi_extra=_POLICY_BODY,
    )
    async def put_user_policy(request: Request, tenant: TenantPath, user: UserPath, p: Caller) -> Response:
        """Replace the user's identity policy (an IAM JSON policy document, without Principal)."""
        await admin.authorize(request, p, "PutUserPolicy", "iam:PutUserPolicy", _user_arn(tenant, user), tenant)
        document = await _policy_body(request)
        await admin.run(admin.tenants.get_user, tenant, user)
        await admin.run(admin.tenants.put_user_policy, tenant, user, document)
        return Response(status_code=204)

    @r.delete("/tenants/{tenant}/users/{user}/policy", status_code=204, operation_id="deleteUserPolicy", tags=["users"])
    async def delete_user_policy(request: Request, tenant: TenantPath, user: UserPath, p: Caller) -> Response:
        await admin.authorize(request, p, "DeleteUserPolicy", "iam:DeleteUserPolicy", _user_arn(tenant, user), tenant)
        await admin.run(admin.tenants.delete_user_policy, tenant, user)
        return Response(status_code=204)

    # --- access keys ------------------------------------------------------------------------------------------
    @r.get(
        "/tenants/{tenant}/access-keys",
        response_model=list[AccessKeyOut],
        operation_id="listTenantAccessKeys",
        tags=["access keys"],
    )
    async def list_tenant_keys(request: Request, tenant: TenantPath, p: Caller) -> list[AccessKeyOut]:
        await admin.authorize(request, p, "ListAccessKeys", "iam:ListAccessKeys", _user_arn(tenant, "*"), tenant)
        return [_key_out(k) for k in await admin.run(admin.tenants.list_access_keys, tenant, None)]

    @r.get(
        "/tenants/{tenant}/users/{user}/access-keys",
        response_model=list[AccessKeyOut],
        operation_id="listAccessKeys",
        tags=["access keys"],
    )
    async def list_keys(request: Request, tenant: TenantPath, user: UserPath, p: Caller) -> list[AccessKeyOut]:
        await admin.authorize(request, p, "ListAccessKeys", "iam:ListAccessKeys", _user_arn(tenant, user), tenant)
        return [_key_out(k) for k in await admin.run(admin.tenants.list_access_keys, tenant, user)]

    @r.post(
        "/tenants/{tenant}/users/{user}/access-keys",
        response_model=AccessKeyCreated,
        status_code=201,
        operation_id="createAccessKey",
        tags=["access keys"],
    )
    async def create_key(request: Request, tenant: TenantPath, user: UserPath, p: Caller) -> AccessKeyCreated:
        """A new access key for the user (at most two per user). The secret is shown in this response only."""
        await admin.authorize(request, p, "CreateAccessKey", "iam:CreateAccessKey", _user_arn(tenant, user), tenant)
        return _key_created(await admin.run(admin.tenants.create_access_key, tenant, user))

    async def key_owner(key_id: str) -> Any:
        try:
            return await admin.run(admin.tenants.get_access_key, key_id)
        except errors.NoSuchEntity:
            return None

    async def authorize_key(request: Request, p: Principal, name: str, action: str, key_id: str) -> Any:
        missing = errors.NoSuchEntity("The specified access key does not exist.")
        row = await key_owner(key_id)
        if row is None:
            raise missing
        try:
            await admin.authorize(request, p, name, action, _user_arn(row.tenant_id, row.user_name), row.tenant_id)
        except errors.NoSuchEntity:
            raise missing from None  # another tenant's key: exactly the answer for a key that does not exist
        return row

    @r.get("/access-keys/{key_id}", response_model=AccessKeyOut, operation_id="getAccessKey", tags=["access keys"])
    async def get_key(request: Request, key_id: KeyPath, p: Caller) -> AccessKeyOut:
        return _key_out(await authorize_key(request, p, "GetAccessKey", "iam:ListAccessKeys", key_id))

    @r.patch("/access-keys/{key_id}", response_model=AccessKeyOut, operation_id="updateAccessKey", tags=["access keys"])
    async def update_key(request: Request, key_id: KeyPath, body: AccessKeyUpdate, p: Caller) -> AccessKeyOut:
        """Disable (``Inactive``) or enable (``Active``) a key: refused within a second on every gateway."""
        await authorize_key(request, p, "UpdateAccessKey", "iam:UpdateAccessKey", key_id)
        return _key_out(await admin.run(admin.tenants.set_access_key_status, key_id, body.status))

    @r.delete("/access-keys/{key_id}", status_code=204, operation_id="deleteAccessKey", tags=["access keys"])
    async def delete_key(request: Request, key_id: KeyPath, p: Caller) -> Response:
        await authorize_key(request, p, "DeleteAccessKey", "iam:DeleteAccessKey", key_id)
        await admin.run(admin.tenants.delete_access_key, key_id)
        return Response(status_code=204)

    # --- groups -----------------------------------------------------------------------------------------------
    async def group_out(tenant: str, name: str) -> GroupOut:
        row = await admin.run(admin.tenants.get_group, tenant, name)
        members = await admin.run(admin.tenants.group_members, tenant, name)
        return GroupOut(
            tenant=tenant,
            name=name,
            arn=_group_arn(tenant, name),
            created_at=row.created_at,
            members=members,
            has_policy=bool(row.policy),
        )

    @r.get("/tenants/{tenant}/groups", response_model=list[GroupOut], operation_id="listGroups", tags=["groups"])
    async def list_groups(request: Request, tenant: TenantPath, p: Caller) -> list[GroupOut]:
        await admin.authorize(request, p, "ListGroups", "iam:ListGroups", _group_arn(tenant, "*"), tenant)
        return [await group_out(tenant, g.name) for g in await admin.run(admin.tenants.list_groups, tenant)]

    @r.post(
        "/tenants/{tenant}/groups",
        response_model=GroupOut,
        status_code=201,
        operation_id="createGroup",
        tags=["groups"],
    )
    async def create_group(request: Request, tenant: TenantPath, body: GroupIn, p: Caller) -> GroupOut:
        await admin.authorize(request, p, "CreateGroup", "iam:CreateGroup", _group_arn(tenant, body.name), tenant)
        await admin.run(admin.tenants.create_group, tenant, body.name)
        return await group_out(tenant, body.name)

    @r.get("/tenants/{tenant}/groups/{group}", response_model=GroupOut, operation_id="getGroup", tags=["groups"])
    async def get_group(request: Request, tenant: TenantPath, group: GroupPath, p: Caller) -> GroupOut:
        await admin.authorize(request, p, "GetGroup", "iam:GetGroup", _group_arn(tenant, group), tenant)
        return await group_out(tenant, group)

    @r.delete("/tenants/{tenant}/groups/{group}", status_code=204, operation_id="deleteGroup", tags=["groups"])
    async def delete_group(request: Request, tenant: TenantPath, group: GroupPath, p: Caller) -> Response:
        await admin.authorize(request, p, "DeleteGroup", "iam:DeleteGroup", _group_arn(tenant, group), tenant)
        await admin.run(admin.tenants.delete_group, tenant, group)
        return Response(status_code=204)

    @r.put(
        "/tenants/{tenant}/groups/{group}/members/{user}",
        status_code=204,
        operation_id="addUserToGroup",
        tags=["groups"],
    )
    async def add_member(request: Request, tenant: TenantPath, group: GroupPath, user: UserPath, p: Caller) -> Response:
        await admin.authorize(request, p, "AddUserToGroup", "iam:AddUserToGroup", _group_arn(tenant, group), tenant)
        await admin.run(admin.tenants.add_member, tenant, group, user)
        return Response(status_code=204)

    @r.delete(
        "/tenants/{tenant}/groups/{group}/members/{user}",
        status_code=204,
        operation_id="removeUserFromGroup",
        tags=["groups"],
    )
    async def remove_member(
        request: Request, tenant: TenantPath, group: GroupPath, user: UserPath, p: Caller
    ) -> Response:
        await admin.authorize(
            request, p, "RemoveUserFromGroup", "iam:RemoveUserFromGroup", _group_arn(tenant, group), tenant
        )
        await admin.run(admin.tenants.remove_member, tenant, group, user)
        return Response(status_code=204)

    @r.get(
        "/tenants/{tenant}/groups/{group}/policy",
        response_model=dict[str, Any],
        operation_id="getGroupPolicy",
        tags=["groups"],
    )
    async def get_group_policy(request: Request, tenant: TenantPath, group: GroupPath, p: Caller) -> Any:
        await admin.authorize(request, p, "GetGroupPolicy", "iam:GetGroupPolicy", _group_arn(tenant, group), tenant)
        text = await admin.run(admin.tenants.get_group_policy, tenant, group)
        return Response(text.encode(), media_type="application/json")

    @r.put(
        "/tenants/{tenant}/groups/{group}/policy",
        status_code=204,
        operation_id="putGroupPolicy",
        tags=["groups"],
        openapi_extra=_POLICY_BODY,
    )
    async def put_group_policy(request: Request, tenant: TenantPath, group: GroupPath, p: Caller) -> Response:
        await admin.authorize(request, p, "PutGroupPolicy", "iam:PutGroupPolicy", _group_arn(tenant, group), tenant)
        document = await _policy_body(request)
        await admin.run(admin.tenants.get_group, tenant, group)
        await admin.run(admin.tenants.put_group_policy, tenant, group, document)
        return Response(status_code=204)

    @r.delete(
        "/tenants/{tenant}/groups/{group}/policy", status_code=204, operation_id="deleteGroupPolicy", tags=["groups"]
    )
    async def delete_group_policy(request: Request, tenant: TenantPath, group: GroupPath, p: Caller) -> Response:
        await admin.authorize(
            request, p, "DeleteGroupPolicy", "iam:DeleteGroupPolicy", _group_arn(tenant, group), tenant
        )
        await admin.run(admin.tenants.delete_group_policy, tenant, group)
        return Response(status_code=204)

    # --- the caller's vault token -----------------------------------------------------------------------------
    @r.post("/vault/token", response_model=VaultTokenOut, operation_id="createVaultToken", tags=["caller"])
    async def vault_token(request: Request, p: Caller, body: VaultTokenIn | None = None) -> VaultTokenOut:
        """A vault token for the caller's own tenant namespace (tenant admins only; hvac: ``namespace=TENANT``)."""
        ttl = body.ttl_seconds if body is not None else 3600
        await admin.authorize(
            request,
            p,
            "GetVaultToken",
            "strongroom:GetVaultToken",
            f"arn:strongroom:vault:::{p.tenant_id}",
            p.tenant_id,
        )
        if p.is_operator:
            raise errors.AccessDenied()  # the operators' vault credential is the root token
        got = await admin.run(admin.rt.vault.namespace_token, p.tenant_id, ttl, f"{p.tenant_id}-{p.user}", p.user)
        return VaultTokenOut(
            token=str(got["client_token"]),
            namespace=p.tenant_id,
            policies=list(got.get("policies") or []),
            ttl_seconds=int(got.get("lease_duration") or ttl),
        )

    # --- buckets and objects (the data: never for operators) ----------------------------------------------------
    @r.get("/buckets", response_model=list[BucketOut], operation_id="listBuckets", tags=["buckets"])
    async def list_buckets(request: Request, p: Caller) -> list[BucketOut]:
        op = admin.operation(request, p, "ListBuckets", "s3:ListAllMyBuckets", "*")
        await admin.access.authorize(op, "tenant")
        rows = await admin.s3.buckets.list(op)
        return [BucketOut(name=b.name, region=b.region, created_at=b.created_at) for b in rows]

    @r.get("/buckets/{bucket}/objects", response_model=ObjectList, operation_id="listObjects", tags=["buckets"])
    async def list_objects(
        request: Request,
        bucket: BucketPath,
        p: Caller,
        prefix: Annotated[str, Query(max_length=1024)] = "",
        after: Annotated[str | None, Query(max_length=1024)] = None,
        max_keys: Annotated[int, Query(ge=1, le=1000)] = 1000,
    ) -> ObjectList:
        op = admin.operation(request, p, "ListObjects", "s3:ListBucket", f"arn:aws:s3:::{bucket}")
        op.context["s3:prefix"] = prefix
        op.bucket = bucket
        await admin.access.authorize(op, "bucket", bucket)
        listing = await admin.s3.listing.list(op, bucket, prefix=prefix, delimiter="", after=after, max_keys=max_keys)
        return ObjectList(
            bucket=bucket,
            prefix=prefix,
            objects=[
                ObjectOut(
                    key=o.key,
                    size=o.size,
                    etag=o.etag,
                    last_modified=o.last_modified,
                    storage_class=o.storage_class or "STANDARD",
                )
                for o in listing.contents
            ],
            is_truncated=listing.is_truncated,
            next_marker=listing.last_key if listing.is_truncated else None,
        )

    @r.get(
        "/buckets/{bucket}/objects/{key:path}",
        response_model=ObjectMeta,
        operation_id="getObjectMetadata",
        tags=["buckets"],
    )
    async def object_meta(request: Request, bucket: BucketPath, key: str, p: Caller) -> ObjectMeta:
        op = admin.operation(request, p, "HeadObject", "s3:GetObject", f"arn:aws:s3:::{bucket}/{key}")
        op.bucket, op.key = bucket, key
        await admin.access.authorize(op, "object", bucket, key)
        from strongroom.core.types import Conditions

        view = await admin.s3.objects.get(
            op,
            bucket,
            key,
            range_header=None,
            part_number=None,
            conditions=Conditions(),
            customer_key=None,
            head=True,
        )
        rec = view.record
        return ObjectMeta(
            bucket=bucket,
            key=key,
            size=rec.size,
            etag=rec.etag,
            last_modified=rec.last_modified,
            content_type=rec.content_type,
            metadata=json.loads(rec.user_metadata or "{}"),
            server_side_encryption=rec.sse_mode,
        )

    return r


class _BodyLimit:
    """Read the request body first, at most MAX_BODY bytes (413 beyond, declared or streamed), then hand it to the
    framework whole."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        too_large = declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY)
        body = bytearray()
        try:
            while not too_large:
                message = await receive()
                if message["type"] != "http.request":
                    break
                body += message.get("body", b"")
                too_large = len(body) > MAX_BODY
                if not message.get("more_body", False):
                    break
        except errors.RequestTimeout as exc:
            response = _error(400, "RequestTimeout", str(exc), secrets.token_hex(8).upper())
            response.headers["connection"] = "close"
            await response(scope, receive, send)
            return
        if too_large:
            rid = secrets.token_hex(8).upper()
            response = _error(413, "EntityTooLarge", f"request bodies are limited to {MAX_BODY} bytes", rid)
            response.headers["connection"] = "close"
            await response(scope, receive, send)
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def create_admin_app(access: AccessService, tenants: TenantService, s3: Any) -> Callable[[Scope, Receive, Send], Any]:
    admin = Admin(access, tenants, s3)
    app = FastAPI(
        title="strongroom admin API",
        version="1",
        description=__doc__,
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=None,
        redoc_url=None,
    )

    @app.middleware("http")
    async def request_id(request: Request, call_next: Callable[[Request], Awaitable[Any]]) -> Any:
        request.state.request_id = secrets.token_hex(8).upper()
        response = await call_next(request)
        # every call is audited, refused ones included; a change's entry already committed with it
        op = getattr(request.state, "operation", None) or admin.unnamed_operation(request)
        try:
            await admin.rt.audit.record(
                op, "admin", response.status_code, getattr(request.state, "error_code", None),
                int(response.headers.get("content-length", "0") or 0),
            )
        except errors.AuditUnavailable as exc:
            status, code, message = _domain(exc)
            response = _error(status, code, message, request.state.request_id)
        response.headers["x-request-id"] = request.state.request_id
        response.headers["cache-control"] = "no-store"
        return response

    @app.exception_handler(errors.StrongroomError)
    async def domain_error(request: Request, exc: errors.StrongroomError) -> JSONResponse:
        status, code, message = _domain(exc)
        request.state.error_code = code
        return _error(status, code, message, getattr(request.state, "request_id", ""))

    @app.exception_handler(S3Error)
    async def s3_error(request: Request, exc: S3Error) -> JSONResponse:
        status = exc.status if exc.status < 500 or exc.status == 503 else 500
        request.state.error_code = exc.code
        if exc.code in ("SignatureDoesNotMatch", "InvalidAccessKeyId"):
            request.state.operation = None
        return _error(status, exc.code, exc.message, getattr(request.state, "request_id", ""))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "NoSuchEntity", 405: "MethodNotAllowed", 413: "EntityTooLarge"}.get(
            exc.status_code, "InvalidRequest"
        )
        request.state.error_code = code
        status = exc.status_code if exc.status_code < 500 else 400
        return _error(status, code, str(exc.detail), getattr(request.state, "request_id", ""))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()))
        message = f"{where}: {first.get('msg', 'invalid request')}" if where else "invalid request"
        request.state.error_code = "InvalidRequest"
        return _error(400, "InvalidRequest", message, getattr(request.state, "request_id", ""))

    app.state.admin = admin
    app.include_router(build_router(admin))
    from strongroom.http.admin.audit import build_audit_router  # it builds on this module's names

    app.include_router(build_audit_router(admin))
    from strongroom.http.admin.shred import build_shred_router  # as the audit router: it builds on these names

    app.include_router(build_shred_router(admin))
    from strongroom.http.admin.governance import build_governance_router

    app.include_router(build_governance_router(admin))
    return _BodyLimit(app)
