"""The one access decision: may this principal perform this action on this resource, in this context?

Pure: the caller hands in everything the decision reads (the principal with its identity policies, the facts of the
resource: its tenant, the bucket policy, ACLs, public access blocks, object ownership). Evaluation follows AWS's
documented logic (IAM policy evaluation, and S3's user / bucket / object contexts):

1. An explicit ``Deny`` in any applicable policy (the principal's identity policies, the bucket policy) wins, except
   that a tenant admin can always read, replace and delete its own bucket's policy (so a policy that locks the
   tenant out can be undone, as with an AWS account root).
2. Operators (tenant ``system``) are refused every action on another tenant's buckets and objects, whatever any
   policy or ACL says: they run the service and cannot read customer data. The one exception is a **lockbox grant**
   the tenant approved (``Requester.lockbox``, loaded from the database by ``service.access``): the operator it was
   made for may perform a read-only action (``LOCKBOX_READ_ACTIONS``: GetObject and HeadObject, GetObjectAcl,
   ListBucket; never a write, delete, ACL or policy change) on a resource of the grant's tenant inside its scope,
   until it expires (``expires_at`` compared with ``Requester.at``) or is revoked (then it is not loaded). Scope: the
   grant's bucket (by name and id: not a later bucket of the same name), and for objects a key starting with its
   prefix (or exactly its key, for a one-key grant); for ListBucket the request's ``s3:prefix`` condition key (empty
   when absent) must start with the grant's prefix, and one-key grants allow no listing. ``Decision.lockbox_grant``
   names the grant, for the audit log. An explicit Deny (step 1) still wins over a grant.
3. Within the resource's own tenant: admins may do anything; members need an ``Allow`` from their identity policies,
   from a bucket policy statement naming them (or everyone: naming only their tenant grants them nothing, as in
   AWS), or from an ACL grant to everyone (AllUsers, AuthenticatedUsers).
4. From another tenant, or anonymously: the resource side must allow it (a bucket policy statement naming the
   principal, its tenant or everyone; or an ACL grant to the principal's tenant, to AuthenticatedUsers or to
   AllUsers) AND, for a member of the other tenant, its own identity policy must allow it too.
   Public access blocks filter the resource side: ``IgnorePublicAcls`` drops ACL grants to AllUsers and
   AuthenticatedUsers; ``RestrictPublicBuckets`` drops every grant of a public bucket policy to principals outside
   the bucket's tenant. ``BucketOwnerEnforced`` ownership turns ACLs off.

A denied principal of another tenant that no policy or ACL of the bucket mentions is told the bucket does not exist
(``Decision.visible`` is False and the caller answers as for a missing bucket): tenants never learn of each other's
buckets. Unsigned requests are refused with AccessDenied, as S3 does (bucket names are global anyway).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from strongroom.core.types import Principal
from strongroom.policy import acl as acls
from strongroom.policy import iam

#: What a tenant admin may always do to its own bucket, even against an explicit Deny (AWS's root-user escape).
POLICY_ESCAPE = frozenset({"s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"})

#: Admin actions an operator may perform on any tenant: tenant and user administration, cutting off access keys.
#: Never the creation of a tenant user's access key (that would let an operator act as the tenant), nor its policies.
OPERATOR_ADMIN_ACTIONS = frozenset(
    {
        "strongroom:CreateTenant",
        "strongroom:ListTenants",
        "strongroom:GetTenant",
        "strongroom:DeleteTenant",
        "strongroom:GetHealth",
        "iam:ListUsers",
        "iam:GetUser",
        "iam:CreateUser",
        "iam:DeleteUser",
        "iam:ListAccessKeys",
        "iam:UpdateAccessKey",
        "iam:DeleteAccessKey",
        "iam:ListGroups",
        "iam:GetGroup",
    }
)


#: What a lockbox grant may allow: reads of objects, their ACLs and listings (HeadObject is s3:GetObject).
LOCKBOX_READ_ACTIONS = frozenset({"s3:GetObject", "s3:GetObjectAcl", "s3:ListBucket"})
_S3_ARN = "arn:aws:s3:::"


@dataclass(frozen=True)
class GrantFacts:
    """A tenant-approved lockbox grant: its operator (a user of tenant ``system``) may read in this scope until
    ``expires_at``. ``key`` set: that one object only; else every key starting with ``prefix`` ("" = the bucket)."""

    id: str
    tenant: str
    operator: str
    bucket: str
    bucket_id: str  # the bucket it was approved for (a bucket made later under the same name is another)
    prefix: str
    key: str | None
    expires_at: dt.datetime


@dataclass(frozen=True)
class BucketFacts:
    """What the decision reads of a bucket (from its row; ``pab`` is already merged with its tenant's block)."""

    name: str
    id: str
    tenant: str
    access_version: int
    policy: iam.Policy | None = None
    acl: acls.Acl | None = None
    pab: acls.PublicAccessBlock = acls.ALL_OFF
    ownership: str | None = None


@dataclass(frozen=True)
class ObjectFacts:
    acl: acls.Acl | None = None  # None: private (the bucket's tenant only)


@dataclass(frozen=True)
class Resource:
    """The resource an action is asked on: its ARN, the tenant that owns it (None: it does not exist), and for S3
    resources the facts of its bucket and (once loaded) object."""

    arn: str
    tenant: str | None
    level: str = "tenant"  # "tenant" (account-level and admin actions) | "bucket" | "object"
    bucket: BucketFacts | None = None
    obj: ObjectFacts | None = None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    visible: bool = True  # False: answer as if the resource did not exist
    needs_object: bool = False  # undecided until the object's ACL is known (load it and decide again)
    reason: str = ""
    lockbox_grant: str | None = None  # the lockbox grant that allowed it (operators only)


_TENANT_ADMIN = Decision(True, reason="tenant admin")


@dataclass(frozen=True)
class Requester:
    """The principal plus what the decision needs to know about its tenant (its canonical id, for ACL grants)."""

    principal: Principal
    canonical_id: str | None = None
    #: the request's condition keys, or a function making them (called only when some policy is evaluated)
    keys: Mapping[str, str | Sequence[str]] | Callable[[], Mapping[str, str | Sequence[str]]] = field(
        default_factory=dict
    )
    #: an operator's active lockbox grants, and the time to judge their expiry by
    lockbox: tuple[GrantFacts, ...] = ()
    at: dt.datetime | None = None

    def condition_keys(self) -> Mapping[str, str | Sequence[str]]:
        return self.keys() if callable(self.keys) else self.keys


def _identity(principal: Principal, ctx: iam.RequestContext) -> str | None:
    result: str | None = None
    for policy in principal.policies:
        got = iam.evaluate(policy, ctx)
        if got == "Deny":
            return "Deny"
        if got == "Allow":
            result = "Allow"
    return result


def decide(req: Requester, action: str, resource: Resource) -> Decision:
    """Whether ``req`` may perform ``action`` on ``resource`` (see the module docstring for the rules)."""
    p = req.principal
    same_tenant = not p.anonymous and resource.tenant is not None and p.tenant_id == resource.tenant
    bucket = resource.bucket
    evaluated = bool(p.policies) or (bucket is not None and bucket.policy is not None)
    if same_tenant and p.is_admin and not evaluated:
        return _TENANT_ADMIN  # the common case, decided before anything is built: no policy can deny it
    ctx = iam.RequestContext(
        action=action,
        resource=resource.arn,
        principal_arn=p.arn,
        principal_tenant=None if p.anonymous else p.tenant_id,
        keys=req.condition_keys() if evaluated else {},
    )
    identity = None if p.anonymous else _identity(p, ctx)
    resource_policy = iam.evaluate(bucket.policy, ctx) if bucket is not None and bucket.policy is not None else None

    # 1. explicit deny wins (but a tenant admin can always manage its own bucket's policy)
    if identity == "Deny" or resource_policy == "Deny":
        if not (same_tenant and p.is_admin and action in POLICY_ESCAPE):
            return Decision(False, visible=visible(req, resource), reason="explicit deny")

    # 2. operators never touch tenant data
    if p.is_operator and not same_tenant:
        if resource.level == "tenant" and action in OPERATOR_ADMIN_ACTIONS and (p.is_admin or identity == "Allow"):
            return Decision(True, reason="operator administration")
        grant = lockbox_grant(req, action, resource)
        if grant is not None:
            return Decision(True, reason="lockbox grant", lockbox_grant=grant.id)
        return Decision(False, visible=True, reason="operators cannot act on tenant data")

    if resource.tenant is None:  # no such resource (a new bucket's name, a missing tenant)
        if p.anonymous:
            return Decision(False, visible=False, reason="anonymous")
        if p.is_admin or identity == "Allow":
            return Decision(True, reason="identity")
        return Decision(False, reason="no identity allow")

    # 3. the resource's own tenant
    if same_tenant:
        if p.is_admin:
            return Decision(True, reason="tenant admin")
        if identity == "Allow":
            return Decision(True, reason="identity policy")
        if bucket is not None and bucket.policy is not None and _names_member(bucket.policy, ctx, p):
            return Decision(True, reason="bucket policy")
        if bucket is not None:
            public = _public_acl_grant(req, action, resource, bucket)
            if public is None:
                return Decision(False, visible=True, needs_object=True, reason="object ACL not loaded")
            if public:
                return Decision(True, reason="public ACL")
        return Decision(False, reason="implicit deny")

    # 4. another tenant or nobody: the resource must grant it
    if resource.level == "tenant" or bucket is None:
        return Decision(False, visible=False, reason="other tenant")
    granted = False
    if resource_policy == "Allow":
        granted = not (bucket.pab.restrict_public_buckets and iam.is_public(bucket.policy))  # type: ignore[arg-type]
    if not granted and bucket.ownership != "BucketOwnerEnforced":
        auth = not p.anonymous
        ignore_public = bucket.pab.ignore_public_acls
        # bucket-level permissions (READ lists, WRITE writes and deletes any object), then the object's own ACL
        bucket_perms = acls.permissions_for(action, "bucket")
        if bucket.acl is not None and bucket_perms:
            granted = acls.acl_allows(
                bucket.acl,
                canonical_id=req.canonical_id,
                authenticated=auth,
                permission_set=bucket_perms,
                ignore_public=ignore_public,
            )
        object_perms = acls.permissions_for(action, "object") if resource.level == "object" else frozenset()
        if not granted and object_perms:
            if resource.obj is None:
                return Decision(False, visible=True, needs_object=True, reason="object ACL not loaded")
            obj_acl = resource.obj.acl
            granted = obj_acl is not None and acls.acl_allows(
                obj_acl,
                canonical_id=req.canonical_id,
                authenticated=auth,
                permission_set=object_perms,
                ignore_public=ignore_public,
            )
    if not granted:
        return Decision(False, visible=visible(req, resource), reason="not granted by the bucket")
    if p.anonymous or p.is_admin or identity == "Allow":
        return Decision(True, reason="granted by the bucket")
    return Decision(False, visible=True, reason="the principal's own policies do not allow it")


def lockbox_grant(req: Requester, action: str, resource: Resource) -> GrantFacts | None:
    """The first of the operator's lockbox grants that covers this read (see rule 2), or None."""
    p = req.principal
    if not p.is_operator or not req.lockbox or action not in LOCKBOX_READ_ACTIONS or req.at is None:
        return None
    bucket = resource.bucket
    if bucket is None or resource.tenant is None or resource.level not in ("bucket", "object"):
        return None
    key: str | None = None
    if resource.level == "object":
        rest = resource.arn[len(_S3_ARN) :] if resource.arn.startswith(_S3_ARN) else ""
        name, sep, key = rest.partition("/")
        if name != bucket.name or not sep:
            return None
    listed = ""
    if resource.level == "bucket":
        if action != "s3:ListBucket":
            return None
        got = req.condition_keys().get("s3:prefix", "")
        if not isinstance(got, str):
            return None
        listed = got
    for g in req.lockbox:
        if g.operator != p.user or g.tenant != resource.tenant or g.expires_at <= req.at:
            continue
        if g.bucket != bucket.name or g.bucket_id != bucket.id:
            continue
        if key is not None:
            if (g.key is not None and key == g.key) or (g.key is None and key.startswith(g.prefix)):
                return g
        elif g.key is None and listed.startswith(g.prefix):
            return g
    return None


def _names_member(policy: iam.Policy, ctx: iam.RequestContext, p: Principal) -> bool:
    """Whether a matching Allow statement of the bucket policy names this user of the bucket's own tenant by its ARN
    (or everyone): naming only the tenant (its root ARN or bare name) grants its users nothing, as in AWS, where
    the users of the bucket's account need their own identity grant."""
    for st in policy.statements:
        if st.effect != "Allow" or not iam.statement_matches(st, ctx):
            continue
        if st.not_principal is not None or st.principal == "everyone":
            return True
        if st.principal is not None and p.arn in st.principal:
            return True
    return False


def _public_acl_grant(req: Requester, action: str, resource: Resource, bucket: BucketFacts) -> bool | None:
    """Whether an ACL grant to everyone (AllUsers, or AuthenticatedUsers for a signed request) allows the action;
    None when that depends on the object's ACL, which is not loaded."""
    if bucket.ownership == "BucketOwnerEnforced" or bucket.pab.ignore_public_acls:
        return False
    authenticated = not req.principal.anonymous
    bucket_perms = acls.permissions_for(action, "bucket")
    if (
        bucket.acl is not None
        and bucket_perms
        and acls.acl_allows(
            bucket.acl, canonical_id=None, authenticated=authenticated, permission_set=bucket_perms, ignore_public=False
        )
    ):
        return True
    object_perms = acls.permissions_for(action, "object") if resource.level == "object" else frozenset()
    if not object_perms:
        return False
    if resource.obj is None:
        return None
    return resource.obj.acl is not None and acls.acl_allows(
        resource.obj.acl,
        canonical_id=None,
        authenticated=authenticated,
        permission_set=object_perms,
        ignore_public=False,
    )


def visible(req: Requester, resource: Resource) -> bool:
    """Whether a denied principal may learn that the resource exists: its own tenant's, an operator (who sees every
    bucket's name in administration), or one its bucket's policy or ACL mentions (or makes public)."""
    p = req.principal
    if resource.tenant is None:
        return not p.anonymous
    if p.anonymous:
        return True  # as in S3: an unsigned request to an existing bucket is refused, not told it is missing
    if p.tenant_id == resource.tenant or p.is_operator:
        return True
    bucket = resource.bucket
    if bucket is None:
        return False
    if bucket.policy is not None:
        if iam.is_public(bucket.policy) or (not p.anonymous and iam.grants_to_tenant(bucket.policy, p.tenant_id)):
            return True
    if bucket.acl is not None and bucket.ownership != "BucketOwnerEnforced":
        if acls.acl_is_public(bucket.acl) or (req.canonical_id and acls.acl_grants_to(bucket.acl, req.canonical_id)):
            return True
    obj = resource.obj
    if obj is not None and obj.acl is not None and bucket.ownership != "BucketOwnerEnforced":
        if acls.acl_is_public(obj.acl) or (req.canonical_id and acls.acl_grants_to(obj.acl, req.canonical_id)):
            return True
    return False
