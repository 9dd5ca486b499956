"""policy/authz.decide, rule 2's one exception: an operator reads tenant data under a tenant-approved lockbox grant,
only read-only actions, only in the grant's tenant, bucket and key scope, only before it expires, and only the
operator the grant was made for. Every row would be allowed (or refused) wrongly without the rule it names."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from strongroom.core.types import Principal
from strongroom.policy import iam
from strongroom.policy.authz import (
    LOCKBOX_READ_ACTIONS,
    BucketFacts,
    GrantFacts,
    Requester,
    Resource,
    decide,
)

NOW = dt.datetime(2026, 9, 1, 12, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(hours=2)
OPS = Principal("AKOPS", "system", "ops", is_admin=True)
OTHER_OPS = Principal("AKOPS2", "system", "oncall", is_admin=True)
ACME_ADMIN = Principal("AKADMIN", "acme", "admin", is_admin=True)

PREFIX_GRANT = GrantFacts("lbg-1", "acme", "ops", "data", "id-data", "logs/", None, LATER)
KEY_GRANT = GrantFacts("lbg-2", "acme", "ops", "data", "id-data", "", "exact.txt", LATER)
BUCKET_GRANT = GrantFacts("lbg-3", "acme", "ops", "whole", "id-whole", "", None, LATER)


def facts(name: str = "data", tenant: str = "acme", policy: iam.Policy | None = None) -> BucketFacts:
    return BucketFacts(name, f"id-{name}", tenant, 1, policy=policy)


def obj(key: str, bucket: str = "data", tenant: str = "acme") -> Resource:
    return Resource(f"arn:aws:s3:::{bucket}/{key}", tenant, "object", facts(bucket, tenant))


def listing(bucket: str = "data", tenant: str = "acme") -> Resource:
    return Resource(f"arn:aws:s3:::{bucket}", tenant, "bucket", facts(bucket, tenant))


def req(
    p: Principal = OPS, grants: tuple[GrantFacts, ...] = (PREFIX_GRANT,), keys: dict[str, Any] | None = None, at=NOW
):
    return Requester(p, "c" * 64, keys or {}, lockbox=grants, at=at)


ROWS = [
    # (id, requester, action, resource, allowed, grant id)
    ("get-in-prefix", req(), "s3:GetObject", obj("logs/a.txt"), True, "lbg-1"),
    ("get-acl-in-prefix", req(), "s3:GetObjectAcl", obj("logs/a.txt"), True, "lbg-1"),
    ("get-outside-prefix", req(), "s3:GetObject", obj("other/a.txt"), False, None),
    ("get-prefix-lookalike", req(), "s3:GetObject", obj("logsx/a.txt"), False, None),
    ("get-other-bucket", req(), "s3:GetObject", obj("logs/a.txt", bucket="else"), False, None),
    ("get-other-tenant-same-name", req(), "s3:GetObject", obj("logs/a.txt", tenant="globex"), False, None),
    (
        "get-recreated-bucket-same-name",
        req(),
        "s3:GetObject",
        Resource("arn:aws:s3:::data/logs/a.txt", "acme", "object", BucketFacts("data", "id-later", "acme", 1)),
        False,
        None,
    ),
    ("put-in-prefix", req(), "s3:PutObject", obj("logs/a.txt"), False, None),
    ("delete-in-prefix", req(), "s3:DeleteObject", obj("logs/a.txt"), False, None),
    ("put-acl-in-prefix", req(), "s3:PutObjectAcl", obj("logs/a.txt"), False, None),
    ("put-bucket-policy", req(grants=(BUCKET_GRANT,)), "s3:PutBucketPolicy", listing("whole"), False, None),
    ("list-with-prefix", req(keys={"s3:prefix": "logs/"}), "s3:ListBucket", listing(), True, "lbg-1"),
    ("list-deeper-prefix", req(keys={"s3:prefix": "logs/2026/"}), "s3:ListBucket", listing(), True, "lbg-1"),
    ("list-without-prefix", req(), "s3:ListBucket", listing(), False, None),
    ("list-wider-prefix", req(keys={"s3:prefix": "log"}), "s3:ListBucket", listing(), False, None),
    ("list-versions", req(keys={"s3:prefix": "logs/"}), "s3:ListBucketVersions", listing(), False, None),
    ("list-whole-bucket-grant", req(grants=(BUCKET_GRANT,)), "s3:ListBucket", listing("whole"), True, "lbg-3"),
    ("get-whole-bucket-grant", req(grants=(BUCKET_GRANT,)), "s3:GetObject", obj("x/y", "whole"), True, "lbg-3"),
    ("key-grant-exact", req(grants=(KEY_GRANT,)), "s3:GetObject", obj("exact.txt"), True, "lbg-2"),
    ("key-grant-longer-key", req(grants=(KEY_GRANT,)), "s3:GetObject", obj("exact.txt.bak"), False, None),
    (
        "key-grant-no-listing",
        req(grants=(KEY_GRANT,), keys={"s3:prefix": "exact.txt"}),
        "s3:ListBucket",
        listing(),
        False,
        None,
    ),
    ("expired", req(at=LATER), "s3:GetObject", obj("logs/a.txt"), False, None),
    ("no-time-no-grant", req(at=None), "s3:GetObject", obj("logs/a.txt"), False, None),
    ("another-operator", req(p=OTHER_OPS), "s3:GetObject", obj("logs/a.txt"), False, None),
    (
        "a-tenant-admin-of-another-tenant-holds-nothing",
        Requester(Principal("AKG", "globex", "ops", is_admin=True), "b" * 64, {}, lockbox=(PREFIX_GRANT,), at=NOW),
        "s3:GetObject",
        obj("logs/a.txt"),
        False,
        None,
    ),
    ("no-grants", req(grants=()), "s3:GetObject", obj("logs/a.txt"), False, None),
    (
        "admin-action-unchanged",
        req(),
        "iam:CreateAccessKey",
        Resource("arn:aws:iam::acme:user/alice", "acme", "tenant"),
        False,
        None,
    ),
]


@pytest.mark.parametrize(
    ("requester", "action", "resource", "allowed", "grant"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS]
)
def test_lockbox_grant(requester: Requester, action: str, resource: Resource, allowed: bool, grant: str | None):
    d = decide(requester, action, resource)
    assert (d.allowed, d.lockbox_grant) == (allowed, grant), d.reason


def test_explicit_deny_wins_over_a_grant() -> None:
    deny_ops = iam.parse_policy(
        '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:GetObject",'
        '"Resource":"arn:aws:s3:::data/*"}]}',
        kind="bucket",
        bucket="data",
    )
    resource = Resource("arn:aws:s3:::data/logs/a", "acme", "object", facts(policy=deny_ops))
    assert not decide(req(), "s3:GetObject", resource).allowed


def test_read_actions_are_reads_only() -> None:
    assert LOCKBOX_READ_ACTIONS == {"s3:GetObject", "s3:GetObjectAcl", "s3:ListBucket"}


def test_tenant_admin_unaffected_by_grants() -> None:
    d = decide(Requester(ACME_ADMIN, "a" * 64, {}, lockbox=(PREFIX_GRANT,), at=NOW), "s3:PutObject", obj("x"))
    assert d.allowed and d.lockbox_grant is None
