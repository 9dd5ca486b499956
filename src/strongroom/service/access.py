"""Access: who a request's access key belongs to, and the one authorization step every operation goes through.

The decision itself is pure (``policy.authz.decide``); this module gathers its facts:

* **Principals.** An access key's secret lives in the vault, its status and owner in the database (``access_keys``,
  ``users``, ``user_groups``). A gateway keeps what it learnt of a key for at most ``PRINCIPAL_SECONDS`` (1 s), so
  disabling or deleting a key, or changing a user's policies, takes effect everywhere within a second (at once in
  the gateway that made the change). The secret itself is kept ``SECRET_SECONDS``.
* **Bucket facts** (owner, policy, ACL, public access blocks, ownership) are cached for ``FACTS_SECONDS`` (1 s)
  too, but never trusted blindly: every bucket row a service loads carries ``access_version``, and
  :meth:`AccessService.confirm` decides again on the fresh row whenever it differs from what authorization saw (or
  the bucket was deleted and its name taken by another tenant in between). So a changed policy is never acted on
  stale; the cache only saves the lookup when nothing changed.
* **Lockbox grants** of an operator (``lockbox_grants``, the active ones) are cached for ``FACTS_SECONDS`` too: an
  approval or a revocation takes effect on every gateway within a second (at once in the one that made it), and
  expiry is exact (``decide`` compares each grant's ``expires_at`` with the time of the request).
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from strongroom.core import errors
from strongroom.core.clock import utcnow
from strongroom.core.types import SYSTEM_TENANT, Operation, Principal
from strongroom.metadata.governance import GovernanceStore
from strongroom.metadata.models import AccessKey, Bucket
from strongroom.policy import acl as acls
from strongroom.policy import iam
from strongroom.policy.authz import BucketFacts, Decision, GrantFacts, ObjectFacts, Requester, Resource, decide
from strongroom.service.runtime import Runtime

PRINCIPAL_SECONDS = 1.0
SECRET_SECONDS = 30.0
FACTS_SECONDS = 1.0
LAST_USED_SECONDS = 60.0


class NotCached(Exception):
    """The answer is not in this process's cache (look it up off the event loop)."""


@dataclass(frozen=True)
class TenantFacts:
    name: str
    canonical_id: str
    pab: acls.PublicAccessBlock


@dataclass
class _Key:
    checked_at: float
    secret_at: float
    secret: str | None  # None: unknown, inactive or deleted
    principal: Principal | None
    last_used: dt.datetime | None


def new_canonical_id() -> str:
    return secrets.token_hex(32)


def bucket_facts(row: Bucket, tenant_pab: acls.PublicAccessBlock) -> BucketFacts:
    """The decision's view of a bucket row (its own public access block merged with its tenant's)."""
    bucket_pab = acls.PublicAccessBlock.from_json(row.public_access_block) if row.public_access_block else None
    return BucketFacts(
        name=row.name,
        id=row.id,
        tenant=row.tenant_id,
        access_version=row.access_version or 0,
        policy=iam.parse_policy(row.policy, kind="bucket", bucket=row.name) if row.policy else None,
        acl=acls.Acl.from_json(row.acl) if row.acl else None,
        pab=acls.merge(tenant_pab, bucket_pab) if bucket_pab is not None else tenant_pab,
        ownership=row.ownership,
    )


class AccessService:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._lock = threading.Lock()
        self._keys: dict[str, _Key] = {}
        self._buckets: dict[str, tuple[float, BucketFacts]] = {}
        self._tenants: dict[str, tuple[float, TenantFacts]] = {}
        self._lockbox: dict[str, tuple[float, tuple[GrantFacts, ...]]] = {}
        self.governance = GovernanceStore(rt.repo)

    # --- principals -----------------------------------------------------------------------------------------
    def cached_secret(self, access_key: str) -> str | None:
        """The secret if this process knows the key's state from the last second (else NotCached)."""
        hit = self._keys.get(access_key)
        now = time.monotonic()
        if hit is None or now - hit.checked_at >= PRINCIPAL_SECONDS or now - hit.secret_at >= SECRET_SECONDS:
            raise NotCached
        return hit.secret

    def lookup_secret(self, access_key: str) -> str | None:
        """Blocking: the secret of an active access key (None when unknown, inactive or deleted)."""
        try:
            return self.cached_secret(access_key)
        except NotCached:
            pass
        return self._refresh(access_key).secret

    def key_tenant(self, access_key: str) -> str | None:
        """Blocking: the tenant of an access key (any status), or None when there is no such key."""
        row = self.rt.repo.get_access_key(access_key)
        return row.tenant_id if row is not None else None

    def principal(self, access_key: str) -> Principal:
        hit = self._keys.get(access_key)
        if hit is None or hit.principal is None:
            raise errors.AccessDenied()
        return hit.principal

    def forget_key(self, access_key: str | None = None) -> None:
        with self._lock:
            if access_key is None:
                self._keys.clear()
            else:
                self._keys.pop(access_key, None)

    def _refresh(self, access_key: str) -> _Key:
        now = time.monotonic()
        old = self._keys.get(access_key)
        row = self.rt.repo.get_access_key(access_key)
        secret: str | None = None
        secret_at = now
        if old is not None and old.secret is not None and now - old.secret_at < SECRET_SECONDS:
            secret, secret_at = old.secret, old.secret_at
        if row is None or old is None or old.secret is None or secret is None:
            cred = self.rt.vault.credential(access_key)
            if cred is None:
                row = None
            else:
                if row is None and cred.bootstrap:
                    row = self._bootstrap(access_key, cred.tenant, cred.user)
                secret, secret_at = cred.secret, now
        principal = None
        if row is None or row.status != "Active":
            secret = None
        else:
            principal = self._principal(row)
            if principal is None:
                secret = None
        entry = _Key(now, secret_at, secret, principal, old.last_used if old else None)
        if principal is not None and row is not None:
            self._touch(row, entry)
        with self._lock:
            self._keys[access_key] = entry
        return entry

    def _principal(self, row: AccessKey) -> Principal | None:
        user = self.rt.repo.get_user(row.tenant_id, row.user_name)
        if user is None:
            return None
        texts = [user.policy] + [g.policy for g in self.rt.repo.user_groups(row.tenant_id, row.user_name)]
        policies = tuple(iam.parse_policy(t, kind="identity") for t in texts if t)
        return Principal(
            access_key=row.access_key_id,
            tenant_id=row.tenant_id,
            user=row.user_name,
            is_admin=bool(user.is_admin),
            policies=policies,
        )

    def _touch(self, row: AccessKey, entry: _Key) -> None:
        """Record the key's last use, at most once a minute per key and process (it is a write)."""
        now = dt.datetime.now(dt.UTC)
        last = entry.last_used or row.last_used_at
        if last is None or (now - last).total_seconds() >= LAST_USED_SECONDS:
            self.rt.repo.touch_access_key(row.access_key_id, now)
            entry.last_used = now
        else:
            entry.last_used = last

    def bootstrap(self) -> bool:
        """Blocking: the rows of the first unseal's credentials (tenants default and system, their admins, their
        keys), made once the vault is unsealed; False while it is sealed (call again later)."""
        try:
            creds = self.rt.vault.bootstrap_credentials()
        except errors.StrongroomError:
            return False
        for c in creds:
            self._bootstrap(c["access_key_id"], c["tenant"], c["user"])
        return True

    def _bootstrap(self, access_key: str, tenant: str, user: str) -> AccessKey:
        """The first start's credentials (made by the vault at its first unseal): their tenant, admin user and
        key rows, created once (idempotent across processes)."""
        self.ensure_tenant(tenant)
        self.rt.repo.ensure_user(tenant, user, is_admin=True)
        return self.rt.repo.ensure_access_key(
            AccessKey(
                access_key_id=access_key,
                tenant_id=tenant,
                user_name=user,
                status="Active",
                created_at=dt.datetime.now(dt.UTC),
                last_used_at=None,
            )
        )

    def ensure_tenant(self, tenant: str) -> None:
        pab = acls.ALL_ON if self.rt.settings.public_access_block_default or tenant == SYSTEM_TENANT else None
        self.rt.repo.ensure_tenant(tenant, new_canonical_id(), pab.to_json() if pab is not None else None)

    # --- facts ----------------------------------------------------------------------------------------------
    def tenant_facts(self, tenant: str) -> TenantFacts:
        """Blocking (cached for FACTS_SECONDS)."""
        now = time.monotonic()
        hit = self._tenants.get(tenant)
        if hit is not None and now - hit[0] < FACTS_SECONDS:
            return hit[1]
        row = self.rt.repo.get_tenant(tenant)
        if row is None:
            facts = TenantFacts(tenant, "", acls.ALL_ON)
        else:
            pab = acls.PublicAccessBlock.from_json(row.public_access_block) if row.public_access_block else acls.ALL_OFF
            facts = TenantFacts(tenant, row.canonical_id or "", pab)
        with self._lock:
            self._tenants[tenant] = (now, facts)
        return facts

    def _cached_tenant(self, tenant: str) -> TenantFacts:
        hit = self._tenants.get(tenant)
        if hit is None or time.monotonic() - hit[0] >= FACTS_SECONDS:
            raise NotCached
        return hit[1]

    def facts_of(self, row: Bucket, fresh_tenant: bool = False) -> BucketFacts:
        """Blocking: the decision's view of a fresh bucket row (cached under its name); ``fresh_tenant``: read the
        tenant's public access block again too (a moved access_version may be the tenant's block changing)."""
        if fresh_tenant:
            with self._lock:
                self._tenants.pop(row.tenant_id, None)
        facts = bucket_facts(row, self.tenant_facts(row.tenant_id).pab)
        with self._lock:
            self._buckets[row.name] = (time.monotonic(), facts)
        return facts

    def _load_bucket(self, name: str) -> BucketFacts | None:
        row = self.rt.repo.get_bucket(name)
        if row is None:
            with self._lock:
                self._buckets.pop(name, None)
            return None
        return self.facts_of(row)

    def forget_bucket(self, name: str) -> None:
        with self._lock:
            self._buckets.pop(name, None)

    def forget_tenant(self, tenant: str) -> None:
        with self._lock:
            self._tenants.pop(tenant, None)
            for name in [n for n, (_t, f) in self._buckets.items() if f.tenant == tenant]:
                self._buckets.pop(name, None)

    def forget(self) -> None:
        with self._lock:
            self._keys.clear()
            self._buckets.clear()
            self._tenants.clear()
            self._lockbox.clear()

    # --- decisions ------------------------------------------------------------------------------------------
    def requester(self, op: Operation) -> Requester:
        """Blocking on a cache miss (the principal's tenant canonical id, an operator's lockbox grants)."""
        p = op.principal
        canonical = None if p.anonymous else self.tenant_facts(p.tenant_id).canonical_id
        if p.is_operator:
            return Requester(p, canonical, lambda: op.context, self.lockbox_grants(p.user), utcnow())
        return Requester(p, canonical, lambda: op.context)

    def _cached_requester(self, op: Operation) -> Requester:
        p = op.principal
        canonical = None if p.anonymous else self._cached_tenant(p.tenant_id).canonical_id
        if p.is_operator:
            hit = self._lockbox.get(p.user)
            if hit is None or time.monotonic() - hit[0] >= FACTS_SECONDS:
                raise NotCached
            return Requester(p, canonical, lambda: op.context, hit[1], utcnow())
        return Requester(p, canonical, lambda: op.context)

    def lockbox_grants(self, operator: str) -> tuple[GrantFacts, ...]:
        """Blocking (cached for FACTS_SECONDS): the operator's lockbox grants not revoked nor expired."""
        now = time.monotonic()
        hit = self._lockbox.get(operator)
        if hit is not None and now - hit[0] < FACTS_SECONDS:
            return hit[1]
        grants = tuple(
            GrantFacts(g.id, g.tenant_id, g.operator, g.bucket, g.bucket_id, g.prefix, g.object_key, g.expires_at)
            for g in self.governance.active_grants(operator, utcnow())
        )
        with self._lock:
            self._lockbox[operator] = (now, grants)
        return grants

    def forget_lockbox(self, operator: str) -> None:
        with self._lock:
            self._lockbox.pop(operator, None)

    def authorize_cached(
        self, op: Operation, level: str, bucket: str | None = None, key: str | None = None, *, action: str = ""
    ) -> bool:
        """Decide on the event loop when every fact is cached (True: allowed; raises when denied); False when a
        fact must be looked up first (then :meth:`authorize_blocking`, in a worker thread)."""
        try:
            requester = self._cached_requester(op)
            facts = None
            if bucket is not None:
                hit = self._buckets.get(bucket)
                if hit is None or time.monotonic() - hit[0] >= FACTS_SECONDS:
                    return False
                facts = hit[1]
        except NotCached:
            return False
        decision = self._decide(requester, action or op.action, level, bucket, key, facts, op)
        if decision.needs_object:
            return False
        self._apply(op, decision, level, bucket, facts)
        return True

    async def authorize(
        self, op: Operation, level: str, bucket: str | None = None, key: str | None = None, *, action: str = ""
    ) -> None:
        """Decide ``op`` (or ``action`` on ``bucket``/``key`` for the same principal, e.g. a copy source); raise
        AccessDenied, or the missing-bucket error when the principal may not learn that the bucket exists."""
        if not self.authorize_cached(op, level, bucket, key, action=action):
            await self.rt.run(self.authorize_blocking, op, level, bucket, key, action or op.action)

    def authorize_blocking(
        self, op: Operation, level: str, bucket: str | None, key: str | None, action: str
    ) -> BucketFacts | None:
        facts = self._load_bucket(bucket) if bucket is not None else None
        decision = self._decide_loading(self.requester(op), action, level, bucket, key, facts, op)
        return self._apply(op, decision, level, bucket, facts)

    def _decide_loading(
        self,
        requester: Requester,
        action: str,
        level: str,
        bucket: str | None,
        key: str | None,
        facts: BucketFacts | None,
        op: Operation,
    ) -> Decision:
        """Blocking: decide, loading the object's ACL when the decision depends on it."""
        decision = self._decide(requester, action, level, bucket, key, facts, op)
        if decision.needs_object and facts is not None and key is not None:
            stored = self.rt.repo.get_object(facts.id, key)
            obj = ObjectFacts(acls.Acl.from_json(stored.record.acl) if stored and stored.record.acl else None)
            decision = self._decide(requester, action, level, bucket, key, facts, op, obj)
        return decision

    def _decide(
        self,
        requester: Requester,
        action: str,
        level: str,
        bucket: str | None,
        key: str | None,
        facts: BucketFacts | None,
        op: Operation,
        obj: ObjectFacts | None = None,
    ) -> Decision:
        p = requester.principal
        if bucket is None or level == "tenant":
            arn = op.resource if bucket is None else f"arn:aws:s3:::{bucket}"
            tenant = p.tenant_id if not p.anonymous else ""
            return decide(requester, action, Resource(arn, tenant, "tenant"))
        arn = f"arn:aws:s3:::{bucket}" + (f"/{key}" if key is not None and level == "object" else "")
        if facts is None:
            return decide(requester, action, Resource(arn, None, level))
        return decide(requester, action, Resource(arn, facts.tenant, level, facts, obj))

    def _apply(
        self, op: Operation, decision: Decision, level: str, bucket: str | None, facts: BucketFacts | None
    ) -> BucketFacts | None:
        if facts is not None:
            op.resource_tenant = facts.tenant
        elif bucket is None or level == "tenant":
            op.resource_tenant = op.principal.tenant_id or None
        if not decision.allowed:
            op.outcome = "denied"
            if facts is None and bucket is not None and level != "tenant":
                raise errors.NoSuchBucket("The specified bucket does not exist", BucketName=bucket)
            if not decision.visible and bucket is not None and level != "tenant":
                raise errors.NoSuchBucket("The specified bucket does not exist", BucketName=bucket)
            raise errors.AccessDenied()
        op.outcome = "allowed"
        if decision.lockbox_grant is not None:
            op.lockbox_grant = decision.lockbox_grant
        if facts is not None:
            op.grants[facts.name] = (facts.id, facts.access_version)
        op.recheck = self.recheck
        return facts

    def allowed(self, op: Operation, action: str, level: str, bucket: str, key: str | None) -> bool:
        """Blocking: whether the principal of ``op`` may also do ``action`` there (DeleteObjects per key, and
        whether a missing key may be reported as missing: that needs s3:ListBucket, as in S3)."""
        facts = self._load_bucket(bucket)
        return self._decide_loading(self.requester(op), action, level, bucket, key, facts, op).allowed

    def recheck(self, op: Operation, name: str, row: Bucket, level: str = "object", key: str | None = None) -> None:
        """Blocking: decide ``op`` again on a fresh bucket row whose id or access_version differs from what
        authorization saw (raise when it is not allowed any more)."""
        facts = self.facts_of(row, fresh_tenant=True)
        decision = self._decide_loading(self.requester(op), op.action, level, name, key, facts, op)
        self._apply(op, decision, level, name, facts)


def confirm(op: Operation, row: Bucket | None, name: str, level: str = "object", key: str | None = None) -> Bucket:
    """A service's check that the bucket row it loaded is the one, in the same access state, that authorization
    allowed ``op`` on; decides again when not. Raises NoSuchBucket for a missing bucket."""
    if row is None:
        raise errors.NoSuchBucket("The specified bucket does not exist", BucketName=name)
    seen = op.grants.get(name)
    if seen is None or seen != (row.id, row.access_version or 0):
        recheck: Callable[..., Any] | None = op.recheck
        if recheck is None:
            raise errors.AccessDenied()
        recheck(op, name, row, level, key)
    return row


class AccessConfig:
    """The access-control settings of buckets and objects: bucket policies, ACLs, public access blocks, object
    ownership. What S3 refuses is refused here: a public policy under BlockPublicPolicy, a public ACL under
    BlockPublicAcls (both AccessDenied, as in S3), any non-owner ACL under BucketOwnerEnforced."""

    def __init__(self, rt: Runtime, access: AccessService, buckets: Any) -> None:
        self.rt = rt
        self.access = access
        self.buckets = buckets  # service.buckets.BucketService

    # --- ACLs from request headers (CreateBucket, PutObject, CopyObject, CreateMultipartUpload, POST) ---------
    def resolve_canonical_id(self, canonical_id: str) -> str | None:
        """Blocking: the display name (tenant name) of a canonical user id, None for an unknown one."""
        row = self.rt.repo.tenant_by_canonical_id(canonical_id)
        return row.id if row is not None else None

    def _header_acl(
        self, headers: dict[str, str], owner_tenant: str, ownership: str | None, pab: acls.PublicAccessBlock
    ) -> acls.Acl | None:
        owner = self.access.tenant_facts(owner_tenant)
        canned = headers.get("x-amz-acl")
        grants = any(h in headers for h in acls.GRANT_HEADERS)
        if canned is None and not grants:
            return None
        acl: acls.Acl | None
        if canned is not None:
            if grants:
                raise errors.InvalidRequest("Specifying both Canned ACLs and Header Grants is not allowed")
            acl = acls.canned_acl(
                canned,
                owner_id=owner.canonical_id,
                owner_name=owner_tenant,
                bucket_owner_id=owner.canonical_id,
                bucket_owner_name=owner_tenant,
                for_object=True,
            )
        else:
            acl = acls.acl_from_grant_headers(
                headers, owner_id=owner.canonical_id, owner_name=owner_tenant, resolve_id=self.resolve_canonical_id
            )
        self._check_new_acl(acl, canned, ownership, pab)
        return acl

    def _check_new_acl(
        self, acl: acls.Acl | None, canned: str | None, ownership: str | None, pab: acls.PublicAccessBlock
    ) -> None:
        acls.check_acl_allowed(ownership, acl, canned)
        if acl is not None and pab.block_public_acls and acls.acl_is_public(acl):
            raise errors.AccessDenied()

    @staticmethod
    def _stored(acl: acls.Acl | None) -> str | None:
        """What a column keeps: None for an ACL that grants nobody but the owner (the default)."""
        if acl is None or all(g.grantee.id == acl.owner_id for g in acl.grants):
            return None
        return acl.to_json()

    async def requested_acl(self, op: Operation, headers: dict[str, str], bucket: str | None) -> str | None:
        """The ACL a write asks for in its headers (JSON for the row), checked against the bucket's ownership
        setting and public access blocks; None when none is asked for. An object write that sets an ACL also needs
        ``s3:PutObjectAcl`` on the object, as in S3 (AccessDenied otherwise)."""
        if "x-amz-acl" not in headers and not any(h in headers for h in acls.GRANT_HEADERS):
            return None

        def build() -> str | None:
            if bucket is None:  # CreateBucket: the new bucket is the caller's, under its tenant's block
                tenant = op.principal.tenant_id
                return self._stored(self._header_acl(headers, tenant, None, self.access.tenant_facts(tenant).pab))
            facts = self.access._load_bucket(bucket)
            if facts is None:
                raise errors.NoSuchBucket("The specified bucket does not exist", BucketName=bucket)
            if op.key is not None and not self.access.allowed(op, "s3:PutObjectAcl", "object", bucket, op.key):
                raise errors.AccessDenied()
            return self._stored(self._header_acl(headers, facts.tenant, facts.ownership, facts.pab))

        return await self.rt.run(build)

    # --- bucket policy -----------------------------------------------------------------------------------
    async def put_bucket_policy(self, op: Operation, name: str, text: bytes) -> None:
        policy = iam.parse_policy(text, kind="bucket", bucket=name)
        facts = await self.rt.run(self.access._load_bucket, name)
        if facts is not None and facts.pab.block_public_policy and iam.is_public(policy):
            raise errors.AccessDenied()
        await self.buckets.set_access(op, name, policy=policy.text)

    async def get_bucket_policy(self, op: Operation, name: str) -> str:
        bucket = await self.buckets.get(op, name)
        if not bucket.policy:
            raise errors.NoSuchBucketPolicy(BucketName=name)
        return str(bucket.policy)

    async def delete_bucket_policy(self, op: Operation, name: str) -> None:
        await self.buckets.set_access(op, name, policy=None)

    async def policy_is_public(self, op: Operation, name: str) -> bool:
        bucket = await self.buckets.get(op, name)
        if not bucket.policy:
            raise errors.NoSuchBucketPolicy(BucketName=name)
        return iam.is_public(iam.parse_policy(bucket.policy, kind="bucket", bucket=name))

    # --- ACLs ---------------------------------------------------------------------------------------------
    async def _owner_acl(self, tenant: str, stored: str | None) -> acls.Acl:
        if stored:
            return acls.Acl.from_json(stored)
        owner = await self.rt.run(self.access.tenant_facts, tenant)
        return acls.canned_acl("private", owner_id=owner.canonical_id, owner_name=tenant, for_object=False)

    async def get_bucket_acl(self, op: Operation, name: str) -> acls.Acl:
        bucket = await self.buckets.get(op, name)
        return await self._owner_acl(bucket.tenant_id, bucket.acl)

    async def put_bucket_acl(
        self, op: Operation, name: str, headers: dict[str, str], body: Callable[[], Any] | None
    ) -> None:
        """From ``x-amz-acl`` / ``x-amz-grant-*`` headers, or else from the AccessControlPolicy document that
        ``body`` (blocking, in a worker thread) parses."""
        bucket = await self.buckets.get(op, name)

        def build() -> str | None:
            facts = self.access.facts_of(bucket)
            owner = self.access.tenant_facts(bucket.tenant_id)
            if "x-amz-acl" in headers or any(h in headers for h in acls.GRANT_HEADERS):
                canned = headers.get("x-amz-acl")
                if canned is not None and any(h in headers for h in acls.GRANT_HEADERS):
                    raise errors.InvalidRequest("Specifying both Canned ACLs and Header Grants is not allowed")
                acl = (
                    acls.canned_acl(canned, owner_id=owner.canonical_id, owner_name=bucket.tenant_id, for_object=False)
                    if canned is not None
                    else acls.acl_from_grant_headers(
                        headers,
                        owner_id=owner.canonical_id,
                        owner_name=bucket.tenant_id,
                        resolve_id=self.resolve_canonical_id,
                    )
                )
            else:
                if body is None:
                    raise errors.InvalidRequest("An AccessControlPolicy document or ACL headers are required")
                canned = None
                acl = body()
                if acl.owner_id != owner.canonical_id:
                    raise errors.AccessDenied()
            self._check_new_acl(acl, canned, facts.ownership, facts.pab)
            return self._stored(acl)

        stored = await self.rt.run(build)
        await self.buckets.set_access(op, name, acl=stored)

    async def get_object_acl(self, op: Operation, name: str, key: str, objects: Any) -> acls.Acl:
        bucket, stored = await objects.load(op, name, key)
        return await self._owner_acl(bucket.tenant_id, stored.record.acl)

    async def put_object_acl(
        self, op: Operation, name: str, key: str, headers: dict[str, str], body: Callable[[], Any] | None, objects: Any
    ) -> None:
        bucket, _stored = await objects.load(op, name, key)

        def build() -> str | None:
            facts = self.access.facts_of(bucket)
            owner = self.access.tenant_facts(bucket.tenant_id)
            if "x-amz-acl" in headers or any(h in headers for h in acls.GRANT_HEADERS):
                acl = self._header_acl(headers, bucket.tenant_id, facts.ownership, facts.pab)
                return self._stored(acl)
            if body is None:
                raise errors.InvalidRequest("An AccessControlPolicy document or ACL headers are required")
            acl = body()
            if acl.owner_id != owner.canonical_id:
                raise errors.AccessDenied()
            self._check_new_acl(acl, None, facts.ownership, facts.pab)
            return self._stored(acl)

        stored = await self.rt.run(build)
        if not await self.rt.run(self.rt.repo.set_object_acl, bucket.id, key, stored):
            raise errors.NoSuchKey(Key=key)

    # --- public access block, ownership --------------------------------------------------------------------
    async def get_public_access_block(self, op: Operation, name: str) -> acls.PublicAccessBlock:
        bucket = await self.buckets.get(op, name)
        if not bucket.public_access_block:
            raise errors.NoSuchPublicAccessBlockConfiguration(BucketName=name)
        return acls.PublicAccessBlock.from_json(bucket.public_access_block)

    async def put_public_access_block(self, op: Operation, name: str, block: acls.PublicAccessBlock) -> None:
        await self.buckets.set_access(op, name, public_access_block=block.to_json())

    async def delete_public_access_block(self, op: Operation, name: str) -> None:
        await self.buckets.set_access(op, name, public_access_block=None)

    async def get_ownership(self, op: Operation, name: str) -> str:
        bucket = await self.buckets.get(op, name)
        if not bucket.ownership:
            raise errors.OwnershipControlsNotFound(BucketName=name)
        return str(bucket.ownership)

    async def put_ownership(self, op: Operation, name: str, value: str) -> None:
        await self.buckets.set_access(op, name, ownership=value)

    async def delete_ownership(self, op: Operation, name: str) -> None:
        await self.buckets.set_access(op, name, ownership=None)
