"""policy/authz.decide against AWS's documented S3 authorization (user, bucket and object contexts; IAM policy
evaluation within one account and across accounts; Block Public Access; Object Ownership) and the module docstring.

Tenants are AWS accounts, tenant admins their root users, members their IAM users, operators the users of the
tenant ``system``. Every row gives the principal, the action, the resource facts (built with the real dataclasses)
and the exact ``(allowed, visible, needs_object)`` expected. A row where the code departs from the documented
behaviour keeps the documented expectation and is a strict xfail naming the fault.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from strongroom.core.types import ANONYMOUS, Principal
from strongroom.policy import acl, iam
from strongroom.policy.authz import (
    OPERATOR_ADMIN_ACTIONS,
    BucketFacts,
    ObjectFacts,
    Requester,
    Resource,
    decide,
)

BUCKET = "b"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"
OBJECTS_ARN = f"{BUCKET_ARN}/*"

ACME_ID = "a" * 64  # the bucket's tenant
GLOBEX_ID = "b" * 64  # another tenant
SYSTEM_ID = "c" * 64  # the operators' tenant
CANONICAL = {"acme": ACME_ID, "globex": GLOBEX_ID, "system": SYSTEM_ID}

ALICE_ARN = "arn:aws:iam::acme:user/alice"
ADMIN_ARN = "arn:aws:iam::acme:user/root-admin"
EVE_ARN = "arn:aws:iam::globex:user/eve"
GLOBEX_ROOT = "arn:aws:iam::globex:root"
ACME_ROOT = "arn:aws:iam::acme:root"

# --- facts -------------------------------------------------------------------------------------------------------


def _doc(statements: Sequence[dict[str, Any]]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def identity(*statements: dict[str, Any]) -> iam.Policy:
    return iam.parse_policy(_doc(statements), kind="identity")


def bucket_policy(*statements: dict[str, Any]) -> iam.Policy:
    return iam.parse_policy(_doc(statements), kind="bucket", bucket=BUCKET)


def st(
    effect: str, action: str | list[str], resource: str | list[str], principal: Any = None, **cond: Any
) -> dict[str, Any]:
    """One statement; ``principal`` only for bucket policies (a string is an AWS principal, "*" is everyone)."""
    out: dict[str, Any] = {"Effect": effect, "Action": action, "Resource": resource}
    if principal is not None:
        out["Principal"] = "*" if principal == "*" else {"AWS": principal}
    if cond:
        out["Condition"] = cond
    return out


def allow(action: str | list[str], resource: str | list[str], principal: Any = None, **cond: Any) -> dict[str, Any]:
    return st("Allow", action, resource, principal, **cond)


def deny(action: str | list[str], resource: str | list[str], principal: Any = None, **cond: Any) -> dict[str, Any]:
    return st("Deny", action, resource, principal, **cond)


def canned(name: str, *, for_object: bool) -> acl.Acl:
    return acl.canned_acl(name, owner_id=ACME_ID, owner_name="acme", for_object=for_object)


def grant_to(canonical_id: str, permission: str) -> acl.Acl:
    """The bucket owner's FULL_CONTROL plus one grant to another tenant."""
    return acl.Acl(
        ACME_ID,
        "acme",
        (
            acl.Grant(acl.Grantee.user(ACME_ID, "acme"), acl.FULL_CONTROL),
            acl.Grant(acl.Grantee.user(canonical_id), permission),
        ),
    )


def bucket(
    policy: iam.Policy | None = None,
    bucket_acl: acl.Acl | None = None,
    pab: acl.PublicAccessBlock = acl.ALL_OFF,
    ownership: str | None = None,
) -> BucketFacts:
    return BucketFacts(BUCKET, "bkt-1", "acme", 7, policy=policy, acl=bucket_acl, pab=pab, ownership=ownership)


def on_bucket(facts: BucketFacts | None = None) -> Resource:
    return Resource(BUCKET_ARN, "acme", "bucket", facts or bucket())


def on_object(facts: BucketFacts | None = None, key: str = "k", obj: ObjectFacts | None = None) -> Resource:
    return Resource(f"{BUCKET_ARN}/{key}", "acme", "object", facts or bucket(), obj)


def on_tenant(tenant: str, arn: str | None = None) -> Resource:
    return Resource(arn or f"arn:aws:iam::{tenant}:root", tenant, "tenant")


LOADED = ObjectFacts()  # the object's ACL was loaded: private
PUBLIC_READ_OBJ = ObjectFacts(canned("public-read", for_object=True))
AUTH_READ_OBJ = ObjectFacts(canned("authenticated-read", for_object=True))
IGNORE_PUBLIC_ACLS = acl.PublicAccessBlock(ignore_public_acls=True)
RESTRICT = acl.PublicAccessBlock(restrict_public_buckets=True)

# --- principals --------------------------------------------------------------------------------------------------

ADMIN = Principal("AKADMIN", "acme", "root-admin", is_admin=True)


def alice(*policies: iam.Policy) -> Principal:
    return Principal("AKALICE", "acme", "alice", policies=policies)


def bob(*policies: iam.Policy) -> Principal:
    return Principal("AKBOB", "acme", "bob", policies=policies)


def eve(*policies: iam.Policy) -> Principal:
    return Principal("AKEVE", "globex", "eve", policies=policies)


GLOBEX_ADMIN = Principal("AKGLOBEX", "globex", "boss", is_admin=True)
OPERATOR = Principal("AKOPS", "system", "ops", is_admin=True)


def operator(*policies: iam.Policy) -> Principal:
    return Principal("AKOPS2", "system", "oncall", policies=policies)


EVE_READS = identity(allow(["s3:GetObject", "s3:PutObject"], OBJECTS_ARN), allow("s3:ListBucket", BUCKET_ARN))
EVE_ALL = identity(allow("s3:*", "*"))

# --- the check ---------------------------------------------------------------------------------------------------


def row(
    id: str,
    principal: Principal,
    action: str,
    resource: Resource,
    allowed: bool,
    visible: bool = True,
    needs_object: bool = False,
    keys: Mapping[str, str | Sequence[str]] | None = None,
    bug: str | None = None,
) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=bug)] if bug else []
    return pytest.param(
        principal, action, resource, dict(keys or {}), (allowed, visible, needs_object), id=id, marks=marks
    )


def check(principal: Principal, action: str, resource: Resource, keys: dict[str, Any], expected: tuple) -> None:
    canonical = None if principal.anonymous else CANONICAL.get(principal.tenant_id)
    requester = Requester(principal, canonical, keys)
    d = decide(requester, action, resource)
    if d.needs_object and not expected[2] and resource.obj is None:
        # what service.access does next: load the object (here: a private one) and decide again
        d = decide(requester, action, Resource(resource.arn, resource.tenant, resource.level, resource.bucket, LOADED))
    assert (d.allowed, d.visible, d.needs_object) == expected, d.reason


ROW_ARGS = "principal, action, resource, keys, expected"

#: authz.py builds the request context with ``principal_tenant=None`` for a principal of the bucket's own tenant,
#: and iam._principal_matches refuses every non-"*" principal when principal_tenant is None: so a bucket policy
#: statement naming an own-tenant user (or its tenant) never applies, Allow or Deny.
SAME_TENANT_PRINCIPAL_BUG = (
    "authz.decide sets principal_tenant=None for own-tenant principals, so a bucket policy statement naming a "
    "user ARN / tenant of the bucket's own tenant never matches"
)

# --- 1. tenant admin (the account root) --------------------------------------------------------------------------

DENY_EVERYTHING = bucket(bucket_policy(deny("s3:*", [BUCKET_ARN, OBJECTS_ARN], "*")))

ADMIN_ROWS = [
    row("get-object", ADMIN, "s3:GetObject", on_object(), True),
    row("get-private-object", ADMIN, "s3:GetObject", on_object(obj=LOADED), True),
    row("put-object", ADMIN, "s3:PutObject", on_object(), True),
    row("delete-object", ADMIN, "s3:DeleteObject", on_object(), True),
    row("list-bucket", ADMIN, "s3:ListBucket", on_bucket(), True),
    row("delete-bucket", ADMIN, "s3:DeleteBucket", on_bucket(), True),
    row("put-bucket-acl", ADMIN, "s3:PutBucketAcl", on_bucket(), True),
    row("put-bucket-policy", ADMIN, "s3:PutBucketPolicy", on_bucket(), True),
    row("iam-create-user", ADMIN, "iam:CreateUser", on_tenant("acme", "arn:aws:iam::acme:user/bob"), True),
    row("iam-put-user-policy", ADMIN, "iam:PutUserPolicy", on_tenant("acme", "arn:aws:iam::acme:user/bob"), True),
    row("iam-create-access-key", ADMIN, "iam:CreateAccessKey", on_tenant("acme", ALICE_ARN), True),
    # an explicit Deny in the bucket policy applies to the root user too ...
    row("deny-get-object", ADMIN, "s3:GetObject", on_object(DENY_EVERYTHING), False),
    row("deny-put-object", ADMIN, "s3:PutObject", on_object(DENY_EVERYTHING), False),
    row("deny-list-bucket", ADMIN, "s3:ListBucket", on_bucket(DENY_EVERYTHING), False),
    row("deny-delete-bucket", ADMIN, "s3:DeleteBucket", on_bucket(DENY_EVERYTHING), False),
    row("deny-put-bucket-acl", ADMIN, "s3:PutBucketAcl", on_bucket(DENY_EVERYTHING), False),
    row("deny-put-public-access-block", ADMIN, "s3:PutBucketPublicAccessBlock", on_bucket(DENY_EVERYTHING), False),
    # ... except the bucket policy's own Get/Put/Delete (the root user's escape)
    row("deny-get-bucket-policy-escape", ADMIN, "s3:GetBucketPolicy", on_bucket(DENY_EVERYTHING), True),
    row("deny-put-bucket-policy-escape", ADMIN, "s3:PutBucketPolicy", on_bucket(DENY_EVERYTHING), True),
    row("deny-delete-bucket-policy-escape", ADMIN, "s3:DeleteBucketPolicy", on_bucket(DENY_EVERYTHING), True),
    row(
        "deny-by-user-arn",
        ADMIN,
        "s3:GetObject",
        on_object(bucket(bucket_policy(deny("s3:GetObject", OBJECTS_ARN, ADMIN_ARN)))),
        False,
    ),
    row(
        "deny-by-user-arn-escape",
        ADMIN,
        "s3:DeleteBucketPolicy",
        on_bucket(bucket(bucket_policy(deny("s3:*", BUCKET_ARN, ADMIN_ARN)))),
        True,
    ),
    row(
        "deny-by-tenant-root",
        ADMIN,
        "s3:DeleteBucket",
        on_bucket(bucket(bucket_policy(deny("s3:DeleteBucket", BUCKET_ARN, ACME_ROOT)))),
        False,
    ),
    # a Deny elsewhere (another action, another key) leaves the rest alone
    row(
        "deny-other-prefix",
        ADMIN,
        "s3:GetObject",
        on_object(bucket(bucket_policy(deny("s3:GetObject", f"{BUCKET_ARN}/secret/*", "*"))), key="public/k"),
        True,
    ),
    row(
        "deny-other-prefix-hit",
        ADMIN,
        "s3:GetObject",
        on_object(bucket(bucket_policy(deny("s3:GetObject", f"{BUCKET_ARN}/secret/*", "*"))), key="secret/k"),
        False,
    ),
]


@pytest.mark.parametrize(ROW_ARGS, ADMIN_ROWS)
def test_tenant_admin(principal: Principal, action: str, resource: Resource, keys: dict, expected: tuple) -> None:
    check(principal, action, resource, keys, expected)


# --- 2. members of the bucket's tenant (IAM users of the owning account) -----------------------------------------

REPORTS = identity(allow("s3:GetObject", f"{BUCKET_ARN}/reports/*"))
REPORTS_BUT_SECRET = identity(
    allow("s3:GetObject", f"{BUCKET_ARN}/reports/*"), deny("s3:GetObject", f"{BUCKET_ARN}/reports/secret/*")
)
DENY_GET = identity(deny("s3:GetObject", "*"))
PUBLIC_GET = bucket(bucket_policy(allow("s3:GetObject", OBJECTS_ARN, "*")))
ALICE_GET = bucket(bucket_policy(allow("s3:GetObject", OBJECTS_ARN, ALICE_ARN)))
ACME_ROOT_GET = bucket(bucket_policy(allow("s3:GetObject", OBJECTS_ARN, ACME_ROOT)))
ACME_BARE_GET = bucket(bucket_policy(allow("s3:GetObject", OBJECTS_ARN, "acme")))

MEMBER_ROWS = [
    # no policy: implicit deny, but the bucket is its own tenant's (visible)
    row("no-policy-get", alice(), "s3:GetObject", on_object(), False),
    row("no-policy-get-loaded", alice(), "s3:GetObject", on_object(obj=LOADED), False),
    row("no-policy-put", alice(), "s3:PutObject", on_object(), False),
    row("no-policy-list", alice(), "s3:ListBucket", on_bucket(), False),
    row("no-policy-delete-bucket", alice(), "s3:DeleteBucket", on_bucket(), False),
    row("no-policy-iam", alice(), "iam:CreateUser", on_tenant("acme", "arn:aws:iam::acme:user/bob"), False),
    # identity Allow on a prefix
    row("prefix-allow-inside", alice(REPORTS), "s3:GetObject", on_object(key="reports/q1.csv"), True),
    row("prefix-allow-nested", alice(REPORTS), "s3:GetObject", on_object(key="reports/2024/q1.csv"), True),
    row("prefix-allow-outside", alice(REPORTS), "s3:GetObject", on_object(key="private/x"), False),
    row("prefix-allow-sibling", alice(REPORTS), "s3:GetObject", on_object(key="reports-old/q1.csv"), False),
    row("prefix-allow-other-action", alice(REPORTS), "s3:PutObject", on_object(key="reports/q1.csv"), False),
    row("prefix-allow-not-list", alice(REPORTS), "s3:ListBucket", on_bucket(), False),
    # identity Deny beats identity Allow and bucket-policy Allow
    row(
        "deny-beats-allow-same-policy",
        alice(REPORTS_BUT_SECRET),
        "s3:GetObject",
        on_object(key="reports/secret/x"),
        False,
    ),
    row("deny-spares-rest", alice(REPORTS_BUT_SECRET), "s3:GetObject", on_object(key="reports/q1.csv"), True),
    row(
        "group-deny-beats-user-allow", alice(REPORTS, DENY_GET), "s3:GetObject", on_object(key="reports/q1.csv"), False
    ),
    row("deny-beats-public-bucket-allow", alice(DENY_GET), "s3:GetObject", on_object(PUBLIC_GET), False),
    row("deny-beats-named-bucket-allow", alice(DENY_GET), "s3:GetObject", on_object(ALICE_GET), False),
    row(
        "bucket-deny-beats-identity-allow",
        alice(REPORTS),
        "s3:GetObject",
        on_object(bucket(bucket_policy(deny("s3:GetObject", OBJECTS_ARN, "*"))), key="reports/q1.csv"),
        False,
    ),
    row(
        "bucket-deny-by-user-arn",
        alice(REPORTS),
        "s3:GetObject",
        on_object(bucket(bucket_policy(deny("s3:GetObject", OBJECTS_ARN, ALICE_ARN))), key="reports/q1.csv"),
        False,
    ),
    row(
        "bucket-deny-by-tenant-root",
        alice(REPORTS),
        "s3:GetObject",
        on_object(bucket(bucket_policy(deny("s3:GetObject", OBJECTS_ARN, ACME_ROOT))), key="reports/q1.csv"),
        False,
    ),
    # within one account the union of identity and resource policies: a bucket policy naming the user allows
    row("bucket-policy-names-user", alice(), "s3:GetObject", on_object(ALICE_GET), True),
    row("bucket-policy-names-other-user", bob(), "s3:GetObject", on_object(ALICE_GET), False),
    row("bucket-policy-names-user-other-action", alice(), "s3:PutObject", on_object(ALICE_GET), False),
    row("bucket-policy-everyone", alice(), "s3:GetObject", on_object(PUBLIC_GET), True),
    # naming the account delegates to it: its users still need their own identity grant
    row("bucket-policy-tenant-root-only", alice(), "s3:GetObject", on_object(ACME_ROOT_GET), False),
    row("bucket-policy-bare-tenant-only", alice(), "s3:GetObject", on_object(ACME_BARE_GET), False),
    row(
        "bucket-policy-tenant-root-plus-identity",
        alice(REPORTS),
        "s3:GetObject",
        on_object(ACME_ROOT_GET, key="reports/q1.csv"),
        True,
    ),
    # the owning account's resource policies include its ACLs: a public-read object is readable by every signed
    # user too (or a member would have less than an unsigned request)
    row(
        "public-read-object-acl",
        alice(),
        "s3:GetObject",
        on_object(obj=PUBLIC_READ_OBJ),
        True,
    ),
]


@pytest.mark.parametrize(ROW_ARGS, MEMBER_ROWS)
def test_member(principal: Principal, action: str, resource: Resource, keys: dict, expected: tuple) -> None:
    check(principal, action, resource, keys, expected)


# --- 3. another tenant (cross-account) ---------------------------------------------------------------------------

EVE_NAMED = bucket(bucket_policy(allow(["s3:GetObject", "s3:ListBucket"], [BUCKET_ARN, OBJECTS_ARN], EVE_ARN)))
GLOBEX_NAMED = bucket(bucket_policy(allow(["s3:GetObject", "s3:ListBucket"], [BUCKET_ARN, OBJECTS_ARN], GLOBEX_ROOT)))
GLOBEX_BARE = bucket(bucket_policy(allow(["s3:GetObject", "s3:ListBucket"], [BUCKET_ARN, OBJECTS_ARN], "globex")))
GLOBEX_LIST_ONLY = bucket(bucket_policy(allow("s3:ListBucket", BUCKET_ARN, GLOBEX_ROOT)))
GLOBEX_ALL_BUT_POLICY = bucket(
    bucket_policy(
        allow("s3:*", [BUCKET_ARN, OBJECTS_ARN], GLOBEX_ROOT),
        deny(["s3:PutBucketPolicy", "s3:DeleteBucketPolicy"], BUCKET_ARN, "*"),
    )
)
BOB_OF_GLOBEX = bucket(bucket_policy(allow("s3:ListBucket", BUCKET_ARN, "arn:aws:iam::globex:user/bob")))

CROSS_ROWS = [
    # both the bucket policy and the principal's identity policy must allow
    row("named-user-and-identity-get", eve(EVE_READS), "s3:GetObject", on_object(EVE_NAMED), True),
    row("named-user-and-identity-list", eve(EVE_READS), "s3:ListBucket", on_bucket(EVE_NAMED), True),
    row("named-user-no-identity", eve(), "s3:GetObject", on_object(EVE_NAMED), False),
    row("named-user-no-identity-list", eve(), "s3:ListBucket", on_bucket(EVE_NAMED), False),
    row("named-user-identity-deny", eve(EVE_READS, DENY_GET), "s3:GetObject", on_object(EVE_NAMED), False),
    row("named-user-other-action", eve(EVE_READS), "s3:PutObject", on_object(EVE_NAMED), False),
    row("identity-only-list", eve(EVE_READS), "s3:ListBucket", on_bucket(), False, visible=False),
    row("identity-only-get", eve(EVE_READS), "s3:GetObject", on_object(obj=LOADED), False, visible=False),
    row("identity-only-get-unloaded", eve(EVE_READS), "s3:GetObject", on_object(), False, needs_object=True),
    row("identity-all-only", eve(EVE_ALL), "s3:DeleteBucket", on_bucket(), False, visible=False),
    # the account named: delegation to its users (identity grant needed) and its root (none needed)
    row("tenant-root-named-member-identity", eve(EVE_READS), "s3:GetObject", on_object(GLOBEX_NAMED), True),
    row("tenant-root-named-member-none", eve(), "s3:GetObject", on_object(GLOBEX_NAMED), False),
    row("bare-tenant-named-member-identity", eve(EVE_READS), "s3:ListBucket", on_bucket(GLOBEX_BARE), True),
    row("tenant-root-named-admin", GLOBEX_ADMIN, "s3:GetObject", on_object(GLOBEX_NAMED), True),
    row("tenant-root-named-admin-list", GLOBEX_ADMIN, "s3:ListBucket", on_bucket(GLOBEX_NAMED), True),
    row("tenant-root-named-admin-other-action", GLOBEX_ADMIN, "s3:DeleteBucket", on_bucket(GLOBEX_NAMED), False),
    row("user-named-admin-not-named", GLOBEX_ADMIN, "s3:ListBucket", on_bucket(EVE_NAMED), False),
    row("other-user-named", eve(EVE_READS), "s3:ListBucket", on_bucket(BOB_OF_GLOBEX), False),
    # the root escape is the bucket owner's only
    row("admin-put-policy-denied", GLOBEX_ADMIN, "s3:PutBucketPolicy", on_bucket(GLOBEX_ALL_BUT_POLICY), False),
    row("admin-delete-policy-denied", GLOBEX_ADMIN, "s3:DeleteBucketPolicy", on_bucket(GLOBEX_ALL_BUT_POLICY), False),
    row("admin-rest-allowed", GLOBEX_ADMIN, "s3:PutBucketTagging", on_bucket(GLOBEX_ALL_BUT_POLICY), True),
    # revoked: nothing of the bucket mentions the tenant any more, so it looks missing
    row("revoked-list", eve(EVE_READS), "s3:ListBucket", on_bucket(bucket()), False, visible=False),
    row("revoked-get", eve(EVE_READS), "s3:GetObject", on_object(bucket(), obj=LOADED), False, visible=False),
    row("revoked-admin", GLOBEX_ADMIN, "s3:ListBucket", on_bucket(bucket()), False, visible=False),
    # mentioned for another action: refused, but the bucket is not hidden
    row("mentioned-other-action-get", eve(EVE_READS), "s3:GetObject", on_object(GLOBEX_LIST_ONLY, obj=LOADED), False),
    row("mentioned-other-action-put", eve(EVE_READS), "s3:PutObject", on_object(GLOBEX_LIST_ONLY), False),
    row("mentioned-other-action-admin", GLOBEX_ADMIN, "s3:DeleteBucket", on_bucket(GLOBEX_LIST_ONLY), False),
    # an ACL grant to the tenant is the resource side (the identity side is still needed for a member)
    row(
        "bucket-acl-read-list",
        eve(EVE_READS),
        "s3:ListBucket",
        on_bucket(bucket(bucket_acl=grant_to(GLOBEX_ID, "READ"))),
        True,
    ),
    row(
        "bucket-acl-read-no-identity",
        eve(),
        "s3:ListBucket",
        on_bucket(bucket(bucket_acl=grant_to(GLOBEX_ID, "READ"))),
        False,
    ),
    row(
        "bucket-acl-read-admin",
        GLOBEX_ADMIN,
        "s3:ListBucket",
        on_bucket(bucket(bucket_acl=grant_to(GLOBEX_ID, "READ"))),
        True,
    ),
    row(
        "bucket-acl-read-not-put",
        eve(EVE_READS),
        "s3:PutObject",
        on_object(bucket(bucket_acl=grant_to(GLOBEX_ID, "READ"))),
        False,
    ),
    row(
        "bucket-acl-write-put",
        eve(EVE_READS),
        "s3:PutObject",
        on_object(bucket(bucket_acl=grant_to(GLOBEX_ID, "WRITE"))),
        True,
    ),
    row(
        "bucket-acl-write-put-no-identity",
        eve(),
        "s3:PutObject",
        on_object(bucket(bucket_acl=grant_to(GLOBEX_ID, "WRITE"))),
        False,
    ),
    row(
        "object-acl-read-unloaded",
        eve(EVE_READS),
        "s3:GetObject",
        on_object(bucket()),
        False,
        needs_object=True,
    ),
    row(
        "object-acl-read-loaded",
        eve(EVE_READS),
        "s3:GetObject",
        on_object(bucket(), obj=ObjectFacts(grant_to(GLOBEX_ID, "READ"))),
        True,
    ),
    row(
        "object-acl-read-other-tenant",
        eve(EVE_READS),
        "s3:GetObject",
        on_object(bucket(), obj=ObjectFacts(grant_to("d" * 64, "READ"))),
        False,
        visible=False,
    ),
]


@pytest.mark.parametrize(ROW_ARGS, CROSS_ROWS)
def test_cross_tenant(principal: Principal, action: str, resource: Resource, keys: dict, expected: tuple) -> None:
    check(principal, action, resource, keys, expected)


# --- 4. anonymous, public access blocks, ACLs, object ownership ---------------------------------------------------

PUBLIC_GET_AND_GLOBEX = bucket_policy(
    allow("s3:GetObject", OBJECTS_ARN, "*"), allow("s3:ListBucket", BUCKET_ARN, GLOBEX_ROOT)
)
PUBLIC_READ_BUCKET = canned("public-read", for_object=False)
PUBLIC_RW_BUCKET = canned("public-read-write", for_object=False)
AUTH_READ_BUCKET = canned("authenticated-read", for_object=False)
OWNER_ENFORCED = "BucketOwnerEnforced"

PUBLIC_ROWS = [
    # nothing public: refused (unsigned requests get AccessDenied, not NoSuchBucket)
    row("anon-list-private", ANONYMOUS, "s3:ListBucket", on_bucket(), False),
    row("anon-get-private-unloaded", ANONYMOUS, "s3:GetObject", on_object(), False, needs_object=True),
    row("anon-get-private-loaded", ANONYMOUS, "s3:GetObject", on_object(obj=LOADED), False),
    row("anon-put-private", ANONYMOUS, "s3:PutObject", on_object(), False),
    # a public bucket policy
    row("anon-public-policy-get", ANONYMOUS, "s3:GetObject", on_object(PUBLIC_GET), True),
    row("anon-public-policy-put", ANONYMOUS, "s3:PutObject", on_object(PUBLIC_GET), False),
    row("anon-public-policy-list", ANONYMOUS, "s3:ListBucket", on_bucket(PUBLIC_GET), False),
    row(
        "anon-public-policy-deny-prefix",
        ANONYMOUS,
        "s3:GetObject",
        on_object(
            bucket(bucket_policy(allow("s3:GetObject", OBJECTS_ARN, "*"), deny("s3:*", f"{BUCKET_ARN}/secret/*", "*"))),
            key="secret/k",
        ),
        False,
    ),
    row("cross-public-policy-identity", eve(EVE_READS), "s3:GetObject", on_object(PUBLIC_GET), True),
    row("cross-public-policy-no-identity", eve(), "s3:GetObject", on_object(PUBLIC_GET), False),
    row(
        "anon-named-policy-not-anon",
        ANONYMOUS,
        "s3:GetObject",
        on_object(GLOBEX_NAMED, obj=LOADED),
        False,
    ),
    # RestrictPublicBuckets: a public policy reaches only the bucket's own tenant
    row(
        "restrict-anon",
        ANONYMOUS,
        "s3:GetObject",
        on_object(bucket(PUBLIC_GET.policy, pab=RESTRICT), obj=LOADED),
        False,
    ),
    row(
        "restrict-anon-unloaded",
        ANONYMOUS,
        "s3:GetObject",
        on_object(bucket(PUBLIC_GET.policy, pab=RESTRICT)),
        False,
        needs_object=True,
    ),
    row(
        "restrict-cross",
        eve(EVE_READS),
        "s3:GetObject",
        on_object(bucket(PUBLIC_GET.policy, pab=RESTRICT), obj=LOADED),
        False,
    ),
    row(
        "restrict-cross-nonpublic-delegation-in-public-policy",
        eve(EVE_READS),
        "s3:ListBucket",
        on_bucket(bucket(PUBLIC_GET_AND_GLOBEX, pab=RESTRICT)),
        False,
    ),
    row(
        "restrict-nonpublic-policy-unaffected",
        eve(EVE_READS),
        "s3:ListBucket",
        on_bucket(bucket(GLOBEX_NAMED.policy, pab=RESTRICT)),
        True,
    ),
    row(
        "restrict-own-member-via-star",
        alice(),
        "s3:GetObject",
        on_object(bucket(PUBLIC_GET.policy, pab=RESTRICT)),
        True,
    ),
    row(
        "restrict-own-member-via-user-arn",
        alice(),
        "s3:ListBucket",
        on_bucket(
            bucket(
                bucket_policy(allow("s3:GetObject", OBJECTS_ARN, "*"), allow("s3:ListBucket", BUCKET_ARN, ALICE_ARN)),
                pab=RESTRICT,
            )
        ),
        True,
    ),
    row("restrict-own-admin", ADMIN, "s3:GetObject", on_object(bucket(PUBLIC_GET.policy, pab=RESTRICT)), True),
    row(
        "restrict-leaves-public-acl",
        ANONYMOUS,
        "s3:ListBucket",
        on_bucket(bucket(PUBLIC_GET.policy, PUBLIC_READ_BUCKET, pab=RESTRICT)),
        True,
    ),
    # ACL grants to AllUsers / AuthenticatedUsers
    row(
        "anon-bucket-public-read-list",
        ANONYMOUS,
        "s3:ListBucket",
        on_bucket(bucket(bucket_acl=PUBLIC_READ_BUCKET)),
        True,
    ),
    row(
        "anon-bucket-public-read-not-get",
        ANONYMOUS,
        "s3:GetObject",
        on_object(bucket(bucket_acl=PUBLIC_READ_BUCKET), obj=LOADED),
        False,
    ),
    row(
        "anon-bucket-public-read-not-put",
        ANONYMOUS,
        "s3:PutObject",
        on_object(bucket(bucket_acl=PUBLIC_READ_BUCKET)),
        False,
    ),
    row("anon-bucket-public-rw-put", ANONYMOUS, "s3:PutObject", on_object(bucket(bucket_acl=PUBLIC_RW_BUCKET)), True),
    row(
        "anon-bucket-public-rw-delete",
        ANONYMOUS,
        "s3:DeleteObject",
        on_object(bucket(bucket_acl=PUBLIC_RW_BUCKET)),
        True,
    ),
    row(
        "anon-bucket-public-rw-not-acl",
        ANONYMOUS,
        "s3:PutBucketAcl",
        on_bucket(bucket(bucket_acl=PUBLIC_RW_BUCKET)),
        False,
    ),
    row("anon-object-public-read-unloaded", ANONYMOUS, "s3:GetObject", on_object(), False, needs_object=True),
    row("anon-object-public-read-loaded", ANONYMOUS, "s3:GetObject", on_object(obj=PUBLIC_READ_OBJ), True),
    row("anon-object-public-read-not-acl", ANONYMOUS, "s3:GetObjectAcl", on_object(obj=PUBLIC_READ_OBJ), False),
    row("cross-object-public-read", eve(EVE_READS), "s3:GetObject", on_object(obj=PUBLIC_READ_OBJ), True),
    row("cross-object-public-read-no-identity", eve(), "s3:GetObject", on_object(obj=PUBLIC_READ_OBJ), False),
    row("anon-object-auth-read", ANONYMOUS, "s3:GetObject", on_object(obj=AUTH_READ_OBJ), False),
    row("cross-object-auth-read", eve(EVE_READS), "s3:GetObject", on_object(obj=AUTH_READ_OBJ), True),
    row("anon-bucket-auth-read", ANONYMOUS, "s3:ListBucket", on_bucket(bucket(bucket_acl=AUTH_READ_BUCKET)), False),
    row(
        "cross-bucket-auth-read", eve(EVE_READS), "s3:ListBucket", on_bucket(bucket(bucket_acl=AUTH_READ_BUCKET)), True
    ),
    # IgnorePublicAcls
    row(
        "ignore-bucket-public-read",
        ANONYMOUS,
        "s3:ListBucket",
        on_bucket(bucket(bucket_acl=PUBLIC_READ_BUCKET, pab=IGNORE_PUBLIC_ACLS)),
        False,
    ),
    row(
        "ignore-bucket-public-rw-put",
        ANONYMOUS,
        "s3:PutObject",
        on_object(bucket(bucket_acl=PUBLIC_RW_BUCKET, pab=IGNORE_PUBLIC_ACLS)),
        False,
    ),
    row(
        "ignore-object-public-read",
        ANONYMOUS,
        "s3:GetObject",
        on_object(bucket(pab=IGNORE_PUBLIC_ACLS), obj=PUBLIC_READ_OBJ),
        False,
    ),
    row(
        "ignore-object-auth-read-cross",
        eve(EVE_READS),
        "s3:GetObject",
        on_object(bucket(pab=IGNORE_PUBLIC_ACLS), obj=AUTH_READ_OBJ),
        False,
    ),
    row(
        "ignore-bucket-auth-read-cross",
        eve(EVE_READS),
        "s3:ListBucket",
        on_bucket(bucket(bucket_acl=AUTH_READ_BUCKET, pab=IGNORE_PUBLIC_ACLS)),
        False,
    ),
    row(
        "ignore-keeps-tenant-grant",
        eve(EVE_READS),
        "s3:ListBucket",
        on_bucket(bucket(bucket_acl=grant_to(GLOBEX_ID, "READ"), pab=IGNORE_PUBLIC_ACLS)),
        True,
    ),
    row(
        "ignore-leaves-public-policy",
        ANONYMOUS,
        "s3:GetObject",
        on_object(bucket(PUBLIC_GET.policy, pab=IGNORE_PUBLIC_ACLS)),
        True,
    ),
    # BucketOwnerEnforced: ACLs no longer affect permissions (and the object need not be loaded)
    row(
        "enforced-bucket-public-read",
        ANONYMOUS,
        "s3:ListBucket",
        on_bucket(bucket(bucket_acl=PUBLIC_READ_BUCKET, ownership=OWNER_ENFORCED)),
        False,
    ),
    row(
        "enforced-bucket-public-rw-put",
        ANONYMOUS,
        "s3:PutObject",
        on_object(bucket(bucket_acl=PUBLIC_RW_BUCKET, ownership=OWNER_ENFORCED)),
        False,
    ),
    row("enforced-object-unloaded", ANONYMOUS, "s3:GetObject", on_object(bucket(ownership=OWNER_ENFORCED)), False),
    row(
        "enforced-object-public-read",
        ANONYMOUS,
        "s3:GetObject",
        on_object(bucket(ownership=OWNER_ENFORCED), obj=PUBLIC_READ_OBJ),
        False,
    ),
    row(
        "enforced-tenant-grant-hidden",
        eve(EVE_READS),
        "s3:ListBucket",
        on_bucket(bucket(bucket_acl=grant_to(GLOBEX_ID, "READ"), ownership=OWNER_ENFORCED)),
        False,
        visible=False,
    ),
    row(
        "enforced-policy-still-applies",
        ANONYMOUS,
        "s3:GetObject",
        on_object(bucket(PUBLIC_GET.policy, ownership=OWNER_ENFORCED)),
        True,
    ),
    row(
        "preferred-acl-applies",
        ANONYMOUS,
        "s3:ListBucket",
        on_bucket(bucket(bucket_acl=PUBLIC_READ_BUCKET, ownership="BucketOwnerPreferred")),
        True,
    ),
]


@pytest.mark.parametrize(ROW_ARGS, PUBLIC_ROWS)
def test_public_access(principal: Principal, action: str, resource: Resource, keys: dict, expected: tuple) -> None:
    check(principal, action, resource, keys, expected)


# --- 5. operators (tenant "system") ------------------------------------------------------------------------------

EVERYONE_EVERYTHING = bucket_policy(allow("s3:*", [BUCKET_ARN, OBJECTS_ARN], "*"))
SYSTEM_NAMED = bucket_policy(allow("s3:*", [BUCKET_ARN, OBJECTS_ARN], "arn:aws:iam::system:root"))
OPS_ALL = identity(allow("*", "*"))

OPERATOR_ROWS = [
    row("get-object-public-policy", OPERATOR, "s3:GetObject", on_object(bucket(EVERYONE_EVERYTHING)), False),
    row("put-object-public-policy", OPERATOR, "s3:PutObject", on_object(bucket(EVERYONE_EVERYTHING)), False),
    row("list-public-policy", OPERATOR, "s3:ListBucket", on_bucket(bucket(EVERYONE_EVERYTHING)), False),
    row("delete-bucket-public-policy", OPERATOR, "s3:DeleteBucket", on_bucket(bucket(EVERYONE_EVERYTHING)), False),
    row("put-bucket-policy", OPERATOR, "s3:PutBucketPolicy", on_bucket(bucket(EVERYONE_EVERYTHING)), False),
    row("delete-bucket-policy", OPERATOR, "s3:DeleteBucketPolicy", on_bucket(bucket()), False),
    row("system-named", OPERATOR, "s3:GetObject", on_object(bucket(SYSTEM_NAMED)), False),
    row("get-object-public-acl", OPERATOR, "s3:GetObject", on_object(obj=PUBLIC_READ_OBJ), False),
    row("get-object-unloaded", OPERATOR, "s3:GetObject", on_object(), False),
    row("list-public-acl", OPERATOR, "s3:ListBucket", on_bucket(bucket(bucket_acl=PUBLIC_READ_BUCKET)), False),
    row("put-public-rw-acl", OPERATOR, "s3:PutObject", on_object(bucket(bucket_acl=PUBLIC_RW_BUCKET)), False),
    row("member-identity-all", operator(OPS_ALL), "s3:GetObject", on_object(bucket(EVERYONE_EVERYTHING)), False),
    row("member-identity-all-list", operator(OPS_ALL), "s3:ListBucket", on_bucket(bucket(EVERYONE_EVERYTHING)), False),
    row("iam-create-access-key", OPERATOR, "iam:CreateAccessKey", on_tenant("acme", ALICE_ARN), False),
    row("iam-put-user-policy", OPERATOR, "iam:PutUserPolicy", on_tenant("acme", ALICE_ARN), False),
    row(
        "iam-create-access-key-identity-all",
        operator(OPS_ALL),
        "iam:CreateAccessKey",
        on_tenant("acme", ALICE_ARN),
        False,
    ),
    row("iam-put-group-policy", OPERATOR, "iam:PutGroupPolicy", on_tenant("acme"), False),
    *[row(f"admin-{a}", OPERATOR, a, on_tenant("acme"), True) for a in sorted(OPERATOR_ADMIN_ACTIONS)],
    row(
        "admin-action-identity-deny",
        operator(OPS_ALL, identity(deny("strongroom:DeleteTenant", "*"))),
        "strongroom:DeleteTenant",
        on_tenant("acme"),
        False,
    ),
    row("admin-action-member-identity-allow", operator(OPS_ALL), "strongroom:DeleteTenant", on_tenant("acme"), True),
    row(
        "admin-action-member-no-policy",
        operator(),
        "strongroom:DeleteTenant",
        on_tenant("acme"),
        False,
    ),
    # an operator within its own tenant is an ordinary tenant admin
    row(
        "own-tenant-bucket",
        OPERATOR,
        "s3:GetObject",
        Resource("arn:aws:s3:::ops/k", "system", "object", BucketFacts("ops", "bkt-ops", "system", 1)),
        True,
    ),
]


@pytest.mark.parametrize(ROW_ARGS, OPERATOR_ROWS)
def test_operator(principal: Principal, action: str, resource: Resource, keys: dict, expected: tuple) -> None:
    check(principal, action, resource, keys, expected)


# --- 6. conditions end to end --------------------------------------------------------------------------------------

TLS_ONLY = bucket(
    bucket_policy(
        allow(["s3:GetObject", "s3:ListBucket"], [BUCKET_ARN, OBJECTS_ARN], GLOBEX_ROOT),
        deny("s3:*", [BUCKET_ARN, OBJECTS_ARN], "*", Bool={"aws:SecureTransport": "false"}),
    )
)
FROM_NET = bucket(bucket_policy(allow("s3:GetObject", OBJECTS_ARN, "*", IpAddress={"aws:SourceIp": "203.0.113.0/24"})))
FROM_NET_RESTRICTED = bucket(FROM_NET.policy, pab=RESTRICT)
FROM_ANYWHERE_RESTRICTED = bucket(
    bucket_policy(allow("s3:GetObject", OBJECTS_ARN, "*", IpAddress={"aws:SourceIp": "0.0.0.0/0"})), pab=RESTRICT
)
EVE_HOME = bucket(bucket_policy(allow("s3:ListBucket", BUCKET_ARN, EVE_ARN, StringLike={"s3:prefix": "home/eve/*"})))
ALICE_REPORTS_LIST = identity(allow("s3:ListBucket", BUCKET_ARN, StringLike={"s3:prefix": ["reports/*", ""]}))
ACCOUNT_FENCE = bucket(
    bucket_policy(
        allow("s3:ListBucket", BUCKET_ARN, GLOBEX_ROOT),
        allow("s3:GetObject", OBJECTS_ARN, "*"),
        deny("s3:*", [BUCKET_ARN, OBJECTS_ARN], "*", StringNotEquals={"aws:PrincipalAccount": "acme"}),
    )
)
PRINCIPAL_ACCOUNT_BUG = (
    "authz.decide sets principal_tenant=None for own-tenant principals, so aws:PrincipalAccount is absent from "
    "their request context and a 'StringNotEquals aws:PrincipalAccount <own tenant>' Deny applies to them"
)
INSIDE = {"aws:SourceIp": "203.0.113.7"}
OUTSIDE = {"aws:SourceIp": "198.51.100.1"}

CONDITION_ROWS = [
    # Deny with Bool aws:SecureTransport false
    row("tls-admin-plain", ADMIN, "s3:GetObject", on_object(TLS_ONLY), False, keys={"aws:SecureTransport": "false"}),
    row("tls-admin-tls", ADMIN, "s3:GetObject", on_object(TLS_ONLY), True, keys={"aws:SecureTransport": "true"}),
    row("tls-admin-key-absent", ADMIN, "s3:GetObject", on_object(TLS_ONLY), True),
    row(
        "tls-admin-plain-policy-escape",
        ADMIN,
        "s3:PutBucketPolicy",
        on_bucket(TLS_ONLY),
        True,
        keys={"aws:SecureTransport": "false"},
    ),
    row(
        "tls-member-plain",
        alice(REPORTS),
        "s3:GetObject",
        on_object(TLS_ONLY, key="reports/q1.csv"),
        False,
        keys={"aws:SecureTransport": "false"},
    ),
    row(
        "tls-member-tls",
        alice(REPORTS),
        "s3:GetObject",
        on_object(TLS_ONLY, key="reports/q1.csv"),
        True,
        keys={"aws:SecureTransport": "true"},
    ),
    row(
        "tls-cross-plain",
        eve(EVE_READS),
        "s3:ListBucket",
        on_bucket(TLS_ONLY),
        False,
        keys={"aws:SecureTransport": "false"},
    ),
    row(
        "tls-cross-tls",
        eve(EVE_READS),
        "s3:ListBucket",
        on_bucket(TLS_ONLY),
        True,
        keys={"aws:SecureTransport": "true"},
    ),
    # Deny with StringNotEquals aws:PrincipalAccount (fence the bucket to its own account)
    row("fence-own-admin", ADMIN, "s3:GetObject", on_object(ACCOUNT_FENCE), True),
    row(
        "fence-own-member",
        alice(REPORTS),
        "s3:GetObject",
        on_object(ACCOUNT_FENCE, key="reports/q1.csv"),
        True,
    ),
    row("fence-own-admin-policy-escape", ADMIN, "s3:PutBucketPolicy", on_bucket(ACCOUNT_FENCE), True),
    row("fence-cross", eve(EVE_READS), "s3:ListBucket", on_bucket(ACCOUNT_FENCE), False),
    row("fence-anon", ANONYMOUS, "s3:GetObject", on_object(ACCOUNT_FENCE), False),
    # Allow with IpAddress aws:SourceIp
    row("ip-anon-inside", ANONYMOUS, "s3:GetObject", on_object(FROM_NET, obj=LOADED), True, keys=INSIDE),
    row("ip-anon-outside", ANONYMOUS, "s3:GetObject", on_object(FROM_NET, obj=LOADED), False, keys=OUTSIDE),
    row("ip-anon-no-address", ANONYMOUS, "s3:GetObject", on_object(FROM_NET, obj=LOADED), False),
    row(
        "ip-anon-ipv6",
        ANONYMOUS,
        "s3:GetObject",
        on_object(FROM_NET, obj=LOADED),
        False,
        keys={"aws:SourceIp": "2001:db8::1"},
    ),
    row("ip-cross-inside", eve(EVE_READS), "s3:GetObject", on_object(FROM_NET), True, keys=INSIDE),
    row("ip-cross-outside", eve(EVE_READS), "s3:GetObject", on_object(FROM_NET, obj=LOADED), False, keys=OUTSIDE),
    # a /24 pins the policy to fixed addresses: not public, so RestrictPublicBuckets leaves it alone; /0 does not
    row("ip-restrict-narrow-inside", ANONYMOUS, "s3:GetObject", on_object(FROM_NET_RESTRICTED), True, keys=INSIDE),
    row(
        "ip-restrict-anywhere",
        ANONYMOUS,
        "s3:GetObject",
        on_object(FROM_ANYWHERE_RESTRICTED, obj=LOADED),
        False,
        keys=INSIDE,
    ),
    # StringLike s3:prefix on ListBucket
    row(
        "prefix-cross-home", eve(EVE_READS), "s3:ListBucket", on_bucket(EVE_HOME), True, keys={"s3:prefix": "home/eve/"}
    ),
    row(
        "prefix-cross-deeper",
        eve(EVE_READS),
        "s3:ListBucket",
        on_bucket(EVE_HOME),
        True,
        keys={"s3:prefix": "home/eve/photos/"},
    ),
    row(
        "prefix-cross-other-home",
        eve(EVE_READS),
        "s3:ListBucket",
        on_bucket(EVE_HOME),
        False,
        keys={"s3:prefix": "home/bob/"},
    ),
    row("prefix-cross-root", eve(EVE_READS), "s3:ListBucket", on_bucket(EVE_HOME), False, keys={"s3:prefix": ""}),
    row("prefix-cross-absent", eve(EVE_READS), "s3:ListBucket", on_bucket(EVE_HOME), False),
    row(
        "prefix-member-reports",
        alice(ALICE_REPORTS_LIST),
        "s3:ListBucket",
        on_bucket(),
        True,
        keys={"s3:prefix": "reports/"},
    ),
    row("prefix-member-root", alice(ALICE_REPORTS_LIST), "s3:ListBucket", on_bucket(), True, keys={"s3:prefix": ""}),
    row(
        "prefix-member-other", alice(ALICE_REPORTS_LIST), "s3:ListBucket", on_bucket(), False, keys={"s3:prefix": "hr/"}
    ),
    row("prefix-member-absent", alice(ALICE_REPORTS_LIST), "s3:ListBucket", on_bucket(), False),
]


@pytest.mark.parametrize(ROW_ARGS, CONDITION_ROWS)
def test_conditions(principal: Principal, action: str, resource: Resource, keys: dict, expected: tuple) -> None:
    check(principal, action, resource, keys, expected)
