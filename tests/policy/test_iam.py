"""policy/iam.py against the AWS policy-evaluation documentation: one table of evaluations,
one of malformed documents with S3's messages, one of public/non-public bucket policies."""

from __future__ import annotations

import json
from typing import Any

import pytest

from strongroom.core.errors import MalformedPolicy
from strongroom.policy import actions, iam
from strongroom.policy.iam import RequestContext

BUCKET = "b1"
ALICE = "arn:aws:iam::acme:user/alice"
BOB = "arn:aws:iam::acme:user/bob"
EVE = "arn:aws:iam::other:user/eve"
OBJ = f"arn:aws:s3:::{BUCKET}/k"
ANY_OBJ = f"arn:aws:s3:::{BUCKET}/*"


def doc(*statements: dict[str, Any], version: str | None = "2012-10-17") -> str:
    body: dict[str, Any] = {"Statement": list(statements)}
    if version is not None:
        body["Version"] = version
    return json.dumps(body)


def allow(cond: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """An Allow of s3:GetObject on every object to everyone, with overrides."""
    st: dict[str, Any] = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": ANY_OBJ}
    st.update(fields)
    if cond is not None:
        st["Condition"] = cond
    return st


def ctx(
    action: str = "s3:GetObject",
    resource: str = OBJ,
    principal: str | None = ALICE,
    tenant: str | None = "acme",
    **keys: Any,
) -> RequestContext:
    return RequestContext(action, resource, principal, tenant, {k.replace("__", ":"): v for k, v in keys.items()})


ANON = {"principal": None, "tenant": None}

# (id, statements, request, expected) -------------------------------------------------------

CASES: list[tuple[str, list[dict[str, Any]], RequestContext, str | None]] = [
    # principals
    ("star-anonymous", [allow()], ctx(**ANON), "Allow"),
    ("aws-star-anonymous", [allow(Principal={"AWS": "*"})], ctx(**ANON), "Allow"),
    ("user-arn-matches", [allow(Principal={"AWS": ALICE})], ctx(), "Allow"),
    ("user-arn-other-user", [allow(Principal={"AWS": [ALICE]})], ctx(principal=BOB), None),
    ("user-arn-anonymous", [allow(Principal={"AWS": ALICE})], ctx(**ANON), None),
    ("root-any-user-of-tenant", [allow(Principal={"AWS": "arn:aws:iam::acme:root"})], ctx(principal=BOB), "Allow"),
    (
        "root-other-tenant",
        [allow(Principal={"AWS": "arn:aws:iam::acme:root"})],
        ctx(principal=EVE, tenant="other"),
        None,
    ),
    ("root-not-anonymous", [allow(Principal={"AWS": "arn:aws:iam::acme:root"})], ctx(**ANON), None),
    ("bare-tenant", [allow(Principal={"AWS": "acme"})], ctx(principal=BOB), "Allow"),
    ("bare-tenant-other", [allow(Principal={"AWS": "acme"})], ctx(principal=EVE, tenant="other"), None),
    # NotPrincipal: applies unless every identity (user and its account) is listed
    ("notprincipal-other-user", [allow(Principal=None, NotPrincipal={"AWS": ALICE})], ctx(principal=BOB), "Allow"),
    ("notprincipal-anonymous", [allow(Principal=None, NotPrincipal={"AWS": ALICE})], ctx(**ANON), "Allow"),
    ("notprincipal-user-only-listed", [allow(Principal=None, NotPrincipal={"AWS": ALICE})], ctx(), "Allow"),
    (
        "notprincipal-user-and-account",
        [allow(Principal=None, NotPrincipal={"AWS": [ALICE, "arn:aws:iam::acme:root"]})],
        ctx(),
        None,
    ),
    ("notprincipal-user-and-bare", [allow(Principal=None, NotPrincipal={"AWS": [ALICE, "acme"]})], ctx(), None),
    ("notprincipal-star", [allow(Principal=None, NotPrincipal={"AWS": "*"})], ctx(**ANON), None),
    # actions
    ("action-case-insensitive", [allow(Action="S3:getobject")], ctx(), "Allow"),
    ("action-star", [allow(Action="s3:Get*")], ctx(action="s3:GetObjectAcl"), "Allow"),
    ("action-star-no-match", [allow(Action="s3:Get*")], ctx(action="s3:PutObject"), None),
    ("action-question", [allow(Action="s3:?etObject")], ctx(), "Allow"),
    ("action-question-one-char", [allow(Action="s3:?etObjectAcl")], ctx(), None),
    ("action-all", [allow(Action="*")], ctx(action="s3:DeleteObject"), "Allow"),
    ("notaction-other", [allow(Action=None, NotAction="s3:DeleteObject")], ctx(), "Allow"),
    ("notaction-listed", [allow(Action=None, NotAction="s3:Delete*")], ctx(action="s3:DeleteObject"), None),
    # resources
    ("resource-exact", [allow(Resource=OBJ)], ctx(), "Allow"),
    ("resource-case-sensitive", [allow(Resource=f"arn:aws:s3:::{BUCKET}/K")], ctx(), None),
    ("resource-star-crosses-slash", [allow(Resource=f"arn:aws:s3:::{BUCKET}/a*")], ctx(resource=OBJ + "x"), None),
    (
        "resource-star-deep",
        [allow(Resource=f"arn:aws:s3:::{BUCKET}/a/*")],
        ctx(resource=ANY_OBJ[:-1] + "a/b/c:d"),
        "Allow",
    ),
    ("resource-question", [allow(Resource=f"arn:aws:s3:::{BUCKET}/?")], ctx(), "Allow"),
    ("resource-question-two", [allow(Resource=f"arn:aws:s3:::{BUCKET}/?")], ctx(resource=OBJ + "k"), None),
    ("resource-bucket-vs-object", [allow(Action="s3:*", Resource=f"arn:aws:s3:::{BUCKET}")], ctx(), None),
    ("notresource-other", [allow(Resource=None, NotResource=f"arn:aws:s3:::{BUCKET}/secret/*")], ctx(), "Allow"),
    (
        "notresource-listed",
        [allow(Resource=None, NotResource=f"arn:aws:s3:::{BUCKET}/secret/*")],
        ctx(resource=f"arn:aws:s3:::{BUCKET}/secret/x"),
        None,
    ),
    # deny wins
    ("deny-wins", [allow(), allow(Effect="Deny", Principal={"AWS": ALICE})], ctx(), "Deny"),
    ("deny-other-principal", [allow(), allow(Effect="Deny", Principal={"AWS": BOB})], ctx(), "Allow"),
    ("deny-only", [allow(Effect="Deny")], ctx(), "Deny"),
    ("nothing-matches", [allow(Action="s3:PutObject")], ctx(), None),
    # policy variables
    (
        "var-username",
        [allow(Resource=f"arn:aws:s3:::{BUCKET}/${{aws:username}}/*")],
        ctx(resource=f"arn:aws:s3:::{BUCKET}/alice/x", aws__username="alice"),
        "Allow",
    ),
    (
        "var-username-other",
        [allow(Resource=f"arn:aws:s3:::{BUCKET}/${{aws:username}}/*")],
        ctx(resource=f"arn:aws:s3:::{BUCKET}/bob/x", aws__username="alice"),
        None,
    ),
    (
        "var-missing-no-match",
        [allow(Resource=f"arn:aws:s3:::{BUCKET}/${{aws:username}}/*")],
        ctx(resource=f"arn:aws:s3:::{BUCKET}/${{aws:username}}/x"),
        None,
    ),
    (
        "var-key-any-case",
        [allow(Resource=f"arn:aws:s3:::{BUCKET}/${{AWS:UserName}}/*")],
        ctx(resource=f"arn:aws:s3:::{BUCKET}/alice/x", aws__username="alice"),
        "Allow",
    ),
    (
        "var-default",
        [allow(Resource=f"arn:aws:s3:::{BUCKET}/${{aws:username, 'public'}}/*")],
        ctx(resource=f"arn:aws:s3:::{BUCKET}/public/x", **ANON),
        "Allow",
    ),
    (
        "var-default-unused",
        [allow(Resource=f"arn:aws:s3:::{BUCKET}/${{aws:username, 'public'}}/*")],
        ctx(resource=f"arn:aws:s3:::{BUCKET}/public/x", aws__username="alice"),
        None,
    ),
    (
        "var-escape-star-literal",
        [allow(Resource=f"arn:aws:s3:::{BUCKET}/a${{*}}")],
        ctx(resource=f"arn:aws:s3:::{BUCKET}/ab"),
        None,
    ),
    (
        "var-escape-star-exact",
        [allow(Resource=f"arn:aws:s3:::{BUCKET}/a${{*}}")],
        ctx(resource=f"arn:aws:s3:::{BUCKET}/a*"),
        "Allow",
    ),
    (
        "var-escape-dollar",
        [allow(Resource=f"arn:aws:s3:::{BUCKET}/${{$}}{{x}}")],
        ctx(resource=f"arn:aws:s3:::{BUCKET}/${{x}}"),
        "Allow",
    ),
    (
        "var-value-is-literal",
        [allow(Resource=f"arn:aws:s3:::{BUCKET}/${{aws:username}}")],
        ctx(resource=f"arn:aws:s3:::{BUCKET}/zzz", aws__username="*"),
        None,
    ),
    (
        "var-principal-arn",
        [allow({"StringEquals": {"s3:prefix": "${aws:PrincipalArn}"}})],
        ctx(s3__prefix=ALICE),
        "Allow",
    ),
    (
        "var-multivalued-key-unresolved",
        [allow(Resource=f"arn:aws:s3:::{BUCKET}/${{s3:prefix}}")],
        ctx(s3__prefix=["k", "j"]),
        None,
    ),
    (
        "var-2008-literal",
        [allow(Resource=f"arn:aws:s3:::{BUCKET}/${{aws:username}}")],
        ctx(resource=f"arn:aws:s3:::{BUCKET}/${{aws:username}}", aws__username="alice"),
        "2008",
    ),
    (
        "var-in-condition",
        [allow({"StringLike": {"s3:prefix": "home/${aws:username}/*"}})],
        ctx(s3__prefix="home/alice/x", aws__username="alice"),
        "Allow",
    ),
    (
        "var-in-condition-missing",
        [allow({"StringLike": {"s3:prefix": "home/${aws:username}/*"}})],
        ctx(s3__prefix="home//x"),
        None,
    ),
    (
        "var-missing-negated-false",
        [allow({"StringNotEquals": {"s3:prefix": "${aws:username}"}})],
        ctx(s3__prefix="x"),
        None,
    ),
    # String operators
    ("StringEquals", [allow({"StringEquals": {"s3:prefix": "a"}})], ctx(s3__prefix="a"), "Allow"),
    ("StringEquals-case", [allow({"StringEquals": {"s3:prefix": "a"}})], ctx(s3__prefix="A"), None),
    ("StringEquals-values-or", [allow({"StringEquals": {"s3:prefix": ["a", "b"]}})], ctx(s3__prefix="b"), "Allow"),
    (
        "StringEquals-empty-is-a-value",
        [allow({"StringEquals": {"s3:prefix": ["", "home/"]}})],
        ctx(s3__prefix=""),
        "Allow",
    ),
    ("StringNotEquals-empty-is-a-value", [allow({"StringNotEquals": {"s3:prefix": ""}})], ctx(s3__prefix=""), None),
    ("Null-empty-string-present", [allow({"Null": {"s3:prefix": "false"}})], ctx(s3__prefix=""), "Allow"),
    ("StringEquals-missing", [allow({"StringEquals": {"s3:prefix": "a"}})], ctx(), None),
    ("StringEquals-star-literal", [allow({"StringEquals": {"s3:prefix": "a*"}})], ctx(s3__prefix="ab"), None),
    ("StringEquals-key-any-case", [allow({"StringEquals": {"S3:Prefix": "a"}})], ctx(s3__PREFIX="a"), "Allow"),
    ("StringNotEquals", [allow({"StringNotEquals": {"s3:prefix": ["a", "b"]}})], ctx(s3__prefix="c"), "Allow"),
    ("StringNotEquals-one-matches", [allow({"StringNotEquals": {"s3:prefix": ["a", "b"]}})], ctx(s3__prefix="b"), None),
    ("StringNotEquals-missing-true", [allow({"StringNotEquals": {"s3:prefix": "a"}})], ctx(), "Allow"),
    (
        "StringEqualsIgnoreCase",
        [allow({"StringEqualsIgnoreCase": {"s3:prefix": "ABC"}})],
        ctx(s3__prefix="abc"),
        "Allow",
    ),
    (
        "StringNotEqualsIgnoreCase",
        [allow({"StringNotEqualsIgnoreCase": {"s3:prefix": "ABC"}})],
        ctx(s3__prefix="abc"),
        None,
    ),
    ("StringLike", [allow({"StringLike": {"s3:prefix": "home/*"}})], ctx(s3__prefix="home/a/b"), "Allow"),
    ("StringLike-question", [allow({"StringLike": {"s3:prefix": "a?c"}})], ctx(s3__prefix="abbc"), None),
    ("StringNotLike", [allow({"StringNotLike": {"s3:prefix": "home/*"}})], ctx(s3__prefix="etc/x"), "Allow"),
    ("StringNotLike-match", [allow({"StringNotLike": {"s3:prefix": "home/*"}})], ctx(s3__prefix="home/x"), None),
    ("StringNotLike-missing", [allow({"StringNotLike": {"s3:prefix": "home/*"}})], ctx(), "Allow"),
    ("StringEqualsIfExists-missing", [allow({"StringEqualsIfExists": {"s3:prefix": "a"}})], ctx(), "Allow"),
    (
        "StringEqualsIfExists-present-wrong",
        [allow({"StringEqualsIfExists": {"s3:prefix": "a"}})],
        ctx(s3__prefix="b"),
        None,
    ),
    (
        "StringNotEqualsIfExists-present",
        [allow({"StringNotEqualsIfExists": {"s3:prefix": "a"}})],
        ctx(s3__prefix="a"),
        None,
    ),
    ("keys-and", [allow({"StringEquals": {"s3:prefix": "a", "s3:delimiter": "/"}})], ctx(s3__prefix="a"), None),
    (
        "keys-and-both",
        [allow({"StringEquals": {"s3:prefix": "a", "s3:delimiter": "/"}})],
        ctx(s3__prefix="a", s3__delimiter="/"),
        "Allow",
    ),
    (
        "operators-and",
        [allow({"StringLike": {"s3:prefix": "a*"}, "StringNotEquals": {"s3:prefix": "ab"}})],
        ctx(s3__prefix="ab"),
        None,
    ),
    (
        "multivalued-plain-any",
        [allow({"StringEquals": {"s3:RequestObjectTagKeys": "a"}})],
        ctx(s3__RequestObjectTagKeys=["b", "a"]),
        "Allow",
    ),
    (
        "multivalued-plain-negated",
        [allow({"StringNotEquals": {"s3:RequestObjectTagKeys": "a"}})],
        ctx(s3__RequestObjectTagKeys=["b", "a"]),
        None,
    ),
    # set operators
    (
        "ForAnyValue-hit",
        [allow({"ForAnyValue:StringEquals": {"s3:RequestObjectTagKeys": ["x", "y"]}})],
        ctx(s3__RequestObjectTagKeys=["a", "y"]),
        "Allow",
    ),
    (
        "ForAnyValue-miss",
        [allow({"ForAnyValue:StringEquals": {"s3:RequestObjectTagKeys": ["x", "y"]}})],
        ctx(s3__RequestObjectTagKeys=["a", "b"]),
        None,
    ),
    ("ForAnyValue-missing-false", [allow({"ForAnyValue:StringEquals": {"s3:RequestObjectTagKeys": "x"}})], ctx(), None),
    (
        "ForAnyValue-empty-false",
        [allow({"ForAnyValue:StringEquals": {"s3:RequestObjectTagKeys": "x"}})],
        ctx(s3__RequestObjectTagKeys=[]),
        None,
    ),
    (
        "ForAnyValue-negated",
        [allow({"ForAnyValue:StringNotEquals": {"s3:RequestObjectTagKeys": "x"}})],
        ctx(s3__RequestObjectTagKeys=["x", "y"]),
        "Allow",
    ),
    (
        "ForAnyValue-negated-all-listed",
        [allow({"ForAnyValue:StringNotEquals": {"s3:RequestObjectTagKeys": ["x", "y"]}})],
        ctx(s3__RequestObjectTagKeys=["x", "y"]),
        None,
    ),
    (
        "ForAllValues-subset",
        [allow({"ForAllValues:StringEquals": {"s3:RequestObjectTagKeys": ["x", "y", "z"]}})],
        ctx(s3__RequestObjectTagKeys=["x", "y"]),
        "Allow",
    ),
    (
        "ForAllValues-extra",
        [allow({"ForAllValues:StringEquals": {"s3:RequestObjectTagKeys": ["x", "y"]}})],
        ctx(s3__RequestObjectTagKeys=["x", "q"]),
        None,
    ),
    (
        "ForAllValues-missing-true",
        [allow({"ForAllValues:StringEquals": {"s3:RequestObjectTagKeys": "x"}})],
        ctx(),
        "Allow",
    ),
    (
        "ForAllValues-like",
        [allow({"ForAllValues:StringLike": {"s3:RequestObjectTagKeys": "team-*"}})],
        ctx(s3__RequestObjectTagKeys=["team-a", "team-b"]),
        "Allow",
    ),
    (
        "ForAllValues-negated",
        [allow({"ForAllValues:StringNotEquals": {"s3:RequestObjectTagKeys": "secret"}})],
        ctx(s3__RequestObjectTagKeys=["a", "secret"]),
        None,
    ),
    (
        "ForAllValues-negated-none",
        [allow({"ForAllValues:StringNotEquals": {"s3:RequestObjectTagKeys": "secret"}})],
        ctx(s3__RequestObjectTagKeys=["a", "b"]),
        "Allow",
    ),
    (
        "ForAnyValue-IfExists-missing",
        [allow({"ForAnyValue:StringEqualsIfExists": {"s3:RequestObjectTagKeys": "x"}})],
        ctx(),
        "Allow",
    ),
    # Numeric
    ("NumericEquals", [allow({"NumericEquals": {"s3:max-keys": "10"}})], ctx(**{"s3__max-keys": "10"}), "Allow"),
    ("NumericEquals-float", [allow({"NumericEquals": {"s3:max-keys": 10}})], ctx(**{"s3__max-keys": "10.0"}), "Allow"),
    ("NumericNotEquals", [allow({"NumericNotEquals": {"s3:max-keys": "10"}})], ctx(**{"s3__max-keys": "10"}), None),
    ("NumericLessThan", [allow({"NumericLessThan": {"s3:max-keys": "10"}})], ctx(**{"s3__max-keys": "9"}), "Allow"),
    ("NumericLessThan-equal", [allow({"NumericLessThan": {"s3:max-keys": "10"}})], ctx(**{"s3__max-keys": "10"}), None),
    (
        "NumericLessThanEquals",
        [allow({"NumericLessThanEquals": {"s3:max-keys": "10"}})],
        ctx(**{"s3__max-keys": "10"}),
        "Allow",
    ),
    (
        "NumericGreaterThan",
        [allow({"NumericGreaterThan": {"s3:max-keys": "10"}})],
        ctx(**{"s3__max-keys": "11"}),
        "Allow",
    ),
    (
        "NumericGreaterThanEquals",
        [allow({"NumericGreaterThanEquals": {"s3:max-keys": "10"}})],
        ctx(**{"s3__max-keys": "9"}),
        None,
    ),
    ("Numeric-missing", [allow({"NumericLessThan": {"s3:max-keys": "10"}})], ctx(), None),
    ("Numeric-IfExists-missing", [allow({"NumericLessThanIfExists": {"s3:max-keys": "10"}})], ctx(), "Allow"),
    (
        "Numeric-unparseable-request",
        [allow({"NumericLessThan": {"s3:max-keys": "10"}})],
        ctx(**{"s3__max-keys": "ten"}),
        None,
    ),
    # Date
    (
        "DateLessThan",
        [allow({"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}})],
        ctx(aws__CurrentTime="2029-12-31T23:59:59Z"),
        "Allow",
    ),
    (
        "DateLessThan-after",
        [allow({"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}})],
        ctx(aws__CurrentTime="2030-01-01T00:00:01Z"),
        None,
    ),
    (
        "DateGreaterThan-date-only",
        [allow({"DateGreaterThan": {"aws:CurrentTime": "2020-06-30"}})],
        ctx(aws__CurrentTime="2020-06-30T00:00:01Z"),
        "Allow",
    ),
    (
        "DateEquals-offset",
        [allow({"DateEquals": {"aws:CurrentTime": "2020-01-01T01:00:00+01:00"}})],
        ctx(aws__CurrentTime="2020-01-01T00:00:00Z"),
        "Allow",
    ),
    (
        "DateNotEquals",
        [allow({"DateNotEquals": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}})],
        ctx(aws__CurrentTime="2020-01-01T00:00:00Z"),
        None,
    ),
    (
        "Date-epoch-policy",
        [allow({"DateGreaterThanEquals": {"aws:EpochTime": 1577836800}})],
        ctx(aws__EpochTime="1577836800"),
        "Allow",
    ),
    (
        "Date-epoch-vs-iso",
        [allow({"DateLessThanEquals": {"aws:CurrentTime": "1577836800"}})],
        ctx(aws__CurrentTime="2020-01-01T00:00:00Z"),
        "Allow",
    ),
    ("Date-missing", [allow({"DateGreaterThan": {"aws:CurrentTime": "2020-01-01"}})], ctx(), None),
    ("DateNotEquals-missing", [allow({"DateNotEquals": {"aws:CurrentTime": "2020-01-01"}})], ctx(), "Allow"),
    # Bool
    ("Bool-true", [allow({"Bool": {"aws:SecureTransport": "true"}})], ctx(aws__SecureTransport="true"), "Allow"),
    ("Bool-json-true", [allow({"Bool": {"aws:SecureTransport": True}})], ctx(aws__SecureTransport="true"), "Allow"),
    ("Bool-false", [allow({"Bool": {"aws:SecureTransport": "true"}})], ctx(aws__SecureTransport="false"), None),
    ("Bool-missing", [allow({"Bool": {"aws:SecureTransport": "false"}})], ctx(), None),
    (
        "BoolIfExists-missing",
        [allow(Effect="Deny", Condition={"BoolIfExists": {"aws:SecureTransport": "false"}})],
        ctx(),
        "Deny",
    ),
    # Binary
    (
        "BinaryEquals",
        [allow({"BinaryEquals": {"s3:x-amz-content-sha256": "QmluYXJ5"}})],
        ctx(**{"s3__x-amz-content-sha256": "QmluYXJ5"}),
        "Allow",
    ),
    (
        "BinaryEquals-other",
        [allow({"BinaryEquals": {"s3:x-amz-content-sha256": "QmluYXJ5"}})],
        ctx(**{"s3__x-amz-content-sha256": "QmluYXJ6"}),
        None,
    ),
    # IP
    (
        "IpAddress-v4",
        [allow({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}})],
        ctx(aws__SourceIp="203.0.113.9"),
        "Allow",
    ),
    (
        "IpAddress-v4-outside",
        [allow({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}})],
        ctx(aws__SourceIp="203.0.114.9"),
        None,
    ),
    (
        "IpAddress-single",
        [allow({"IpAddress": {"aws:SourceIp": "203.0.113.9"}})],
        ctx(aws__SourceIp="203.0.113.9"),
        "Allow",
    ),
    (
        "IpAddress-v6",
        [allow({"IpAddress": {"aws:SourceIp": "2001:db8::/32"}})],
        ctx(aws__SourceIp="2001:db8:1::5"),
        "Allow",
    ),
    (
        "IpAddress-v6-vs-v4",
        [allow({"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}})],
        ctx(aws__SourceIp="2001:db8::1"),
        None,
    ),
    (
        "NotIpAddress",
        [allow({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}, "NotIpAddress": {"aws:SourceIp": "203.0.113.9/32"}})],
        ctx(aws__SourceIp="203.0.113.9"),
        None,
    ),
    ("NotIpAddress-missing", [allow({"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}})], ctx(), "Allow"),
    ("IpAddress-missing", [allow({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}})], ctx(), None),
    # Null
    ("Null-true-absent", [allow({"Null": {"s3:x-amz-server-side-encryption": "true"}})], ctx(), "Allow"),
    (
        "Null-true-present",
        [allow({"Null": {"s3:x-amz-server-side-encryption": "true"}})],
        ctx(**{"s3__x-amz-server-side-encryption": "AES256"}),
        None,
    ),
    (
        "Null-false-present",
        [allow({"Null": {"s3:x-amz-server-side-encryption": False}})],
        ctx(**{"s3__x-amz-server-side-encryption": "AES256"}),
        "Allow",
    ),
    ("Null-false-absent", [allow({"Null": {"s3:x-amz-server-side-encryption": "false"}})], ctx(), None),
    # ARN operators (per component; * does not cross ':' in the first five)
    ("ArnLike", [allow({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::acme:user/*"}})], ctx(), "Allow"),
    (
        "ArnLike-account-star",
        [allow({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/alice"}})],
        ctx(principal=EVE.replace("eve", "alice"), tenant="other"),
        "Allow",
    ),
    ("ArnLike-star-no-colon-cross", [allow({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*"}})], ctx(), None),
    ("ArnEquals-exact", [allow({"ArnEquals": {"aws:PrincipalArn": ALICE}})], ctx(), "Allow"),
    ("ArnNotEquals", [allow({"ArnNotEquals": {"aws:PrincipalArn": ALICE}})], ctx(), None),
    (
        "ArnNotLike-anonymous",
        [allow({"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::acme:*"}})],
        ctx(**ANON),
        "Allow",
    ),
    (
        "ArnNotLike-other",
        [allow({"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::acme:*"}})],
        ctx(principal=EVE, tenant="other"),
        "Allow",
    ),
    ("PrincipalAccount-from-tenant", [allow({"StringEquals": {"aws:PrincipalAccount": "acme"}})], ctx(), "Allow"),
    (
        "explicit-key-beats-derived",
        [allow({"StringEquals": {"aws:PrincipalAccount": "acme"}})],
        ctx(aws__PrincipalAccount="other"),
        None,
    ),
]


def _build(statements: list[dict[str, Any]], expected: str | None) -> tuple[str, str | None]:
    cleaned = [{k: v for k, v in st.items() if v is not None} for st in statements]
    if expected == "2008":
        return doc(*cleaned, version="2008-10-17"), "Allow"
    return doc(*cleaned), expected


@pytest.mark.parametrize(("statements", "request_ctx", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_evaluate(statements: list[dict[str, Any]], request_ctx: RequestContext, expected: str | None) -> None:
    text, want = _build(statements, expected)
    policy = iam.parse_policy(text, kind="bucket", bucket=BUCKET)
    assert iam.evaluate(policy, request_ctx) == want
    assert any(iam.statement_matches(st, request_ctx) for st in policy.statements) == (want is not None)


def test_case_ids_unique() -> None:
    assert len({c[0] for c in CASES}) == len(CASES)


def test_identity_policy_ignores_principal_and_takes_any_arn() -> None:
    policy = iam.parse_policy(
        doc(
            {"Effect": "Allow", "Action": ["iam:Get*", "s3:ListAllMyBuckets"], "Resource": "*"},
            {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::home-${aws:username}/*"},
        ),
        kind="identity",
    )
    assert policy.statements[0].principal is None
    assert iam.evaluate(policy, ctx(action="iam:GetUser", resource="arn:aws:iam::acme:user/bob", **ANON)) == "Allow"
    assert iam.evaluate(policy, ctx(action="s3:ListAllMyBuckets", resource="arn:aws:s3:::*")) == "Allow"
    assert iam.evaluate(policy, ctx(action="iam:CreateUser", resource="*")) is None
    assert iam.evaluate(policy, ctx(resource="arn:aws:s3:::home-alice/x", aws__username="alice")) == "Allow"
    assert iam.evaluate(policy, ctx(resource="arn:aws:s3:::home-bob/x", aws__username="alice")) is None


def test_parsed_form_is_normalized() -> None:
    text = doc(
        {
            "Sid": "One",
            "Effect": "Allow",
            "Principal": {"AWS": ["acme", ALICE]},
            "Action": "s3:GetObject",
            "Resource": ANY_OBJ,
            "Condition": {"ForAnyValue:StringLikeIfExists": {"s3:prefix": ["a*", 3, True]}},
        }
    )
    policy = iam.parse_policy(text.encode(), kind="bucket", bucket=BUCKET)
    assert policy.version == "2012-10-17"
    assert policy.text == text
    (st,) = policy.statements
    assert st.sid == "One"
    assert st.principal == ("acme", ALICE)
    assert st.not_principal is None
    assert st.actions == ("s3:GetObject",)
    assert st.not_actions is None
    assert st.resources == (ANY_OBJ,)
    (c,) = st.conditions
    assert (c.operator, c.key, c.values) == ("ForAnyValue:StringLikeIfExists", "s3:prefix", ("a*", "3", "true"))
    assert (c.set_operator, c.base, c.if_exists) == ("ForAnyValue", "StringLike", True)
    assert (
        iam.parse_policy(doc(allow(Principal={"AWS": ["*", ALICE]})), kind="bucket", bucket=BUCKET)
        .statements[0]
        .principal
        == "everyone"
    )


def test_missing_version_means_2008() -> None:
    policy = iam.parse_policy(doc(allow(), version=None), kind="bucket", bucket=BUCKET)
    assert policy.version == "2008-10-17"
    assert policy.statements[0].variables is False


def test_single_statement_object() -> None:
    policy = iam.parse_policy(json.dumps({"Version": "2012-10-17", "Statement": allow()}), kind="bucket", bucket=BUCKET)
    assert len(policy.statements) == 1


# malformed documents ------------------------------------------------------------------------

NOT_JSON = "Policies must be valid JSON and the first byte must be '{'"

MALFORMED: list[tuple[str, str, str, str]] = [
    ("not-json", "bucket", "{nope", NOT_JSON),
    ("array", "bucket", "[]", NOT_JSON),
    ("nan", "bucket", '{"Version": NaN}', NOT_JSON),
    ("bad-utf8", "bucket", "\udcff", NOT_JSON),
    (
        "duplicate-key",
        "bucket",
        '{"Version":"2012-10-17","Version":"2012-10-17","Statement":[]}',
        "Duplicate field Version",
    ),
    (
        "unknown-top",
        "bucket",
        json.dumps({"Version": "2012-10-17", "Statement": [allow()], "Foo": 1}),
        "Unknown field Foo",
    ),
    ("unknown-statement-field", "bucket", doc(allow(Foo="x")), "Unknown field Foo"),
    ("bad-version", "bucket", doc(allow(), version="2012-10-18"), "The policy must contain a valid version string"),
    ("no-statement", "bucket", json.dumps({"Version": "2012-10-17"}), "Missing required field Statement"),
    ("empty-statement", "bucket", doc(), "Missing required field Statement"),
    (
        "statement-not-object",
        "bucket",
        json.dumps({"Statement": ["x"]}),
        "Could not parse the policy: Statement is not well-formatted.",
    ),
    ("no-effect", "bucket", doc(allow(Effect=None)), "Missing required field Effect"),
    ("bad-effect", "bucket", doc(allow(Effect="allow")), "Invalid effect: allow"),
    ("no-principal", "bucket", doc(allow(Principal=None)), "Missing required field Principal"),
    (
        "principal-and-not",
        "bucket",
        doc(allow(NotPrincipal="*")),
        "Statement must not contain both Principal and NotPrincipal",
    ),
    (
        "action-and-not",
        "bucket",
        doc(allow(NotAction="s3:PutObject")),
        "Statement must not contain both Action and NotAction",
    ),
    (
        "resource-and-not",
        "bucket",
        doc(allow(NotResource=ANY_OBJ)),
        "Statement must not contain both Resource and NotResource",
    ),
    ("no-action", "bucket", doc(allow(Action=None)), "Missing required field Action"),
    ("no-resource", "bucket", doc(allow(Resource=None)), "Missing required field Resource"),
    (
        "principal-service",
        "bucket",
        doc(allow(Principal={"Service": "s3.amazonaws.com"})),
        "Invalid principal in policy",
    ),
    ("principal-canonical", "bucket", doc(allow(Principal={"CanonicalUser": "abc"})), "Invalid principal in policy"),
    (
        "principal-group",
        "bucket",
        doc(allow(Principal={"AWS": "arn:aws:iam::acme:group/admins"})),
        "Invalid principal in policy",
    ),
    ("principal-bad-tenant", "bucket", doc(allow(Principal={"AWS": "Acme"})), "Invalid principal in policy"),
    (
        "principal-wildcard-arn",
        "bucket",
        doc(allow(Principal={"AWS": "arn:aws:iam::acme:user/*"})),
        "Invalid principal in policy",
    ),
    ("principal-string-arn", "bucket", doc(allow(Principal=ALICE)), "Invalid principal in policy"),
    ("principal-empty-list", "bucket", doc(allow(Principal={"AWS": []})), "Invalid principal in policy"),
    ("identity-principal", "identity", doc(allow()), "Policy document should not specify a principal."),
    (
        "identity-sid",
        "identity",
        doc({"Sid": "a b", "Effect": "Allow", "Action": "*", "Resource": "*"}),
        "Statement IDs (SID) must be alpha-numeric.",
    ),
    ("unknown-action", "bucket", doc(allow(Action="s3:GetObjekt")), "Policy has invalid action"),
    ("unknown-wild-action", "bucket", doc(allow(Action="s3:Frob*")), "Policy has invalid action"),
    ("no-service-action", "bucket", doc(allow(Action="GetObject")), "Policy has invalid action"),
    ("iam-action-in-bucket", "bucket", doc(allow(Action="iam:GetUser")), "Policy has invalid action"),
    ("action-not-string", "bucket", doc(allow(Action=[1])), "Policy has invalid action"),
    (
        "identity-unknown-action",
        "identity",
        doc({"Effect": "Allow", "Action": "strongroom:Frob", "Resource": "*"}),
        "Policy has invalid action",
    ),
    (
        "duplicate-sid",
        "bucket",
        doc(allow(Sid="a"), allow(Sid="a")),
        "Statement IDs (SID) in a single policy must be unique.",
    ),
    ("resource-other-bucket", "bucket", doc(allow(Resource="arn:aws:s3:::b2/*")), "Policy has invalid resource"),
    ("resource-star", "bucket", doc(allow(Resource="*")), "Policy has invalid resource"),
    ("resource-wild-bucket-miss", "bucket", doc(allow(Resource="arn:aws:s3:::c*/*")), "Policy has invalid resource"),
    ("resource-not-s3", "bucket", doc(allow(Resource="arn:aws:iam::acme:user/alice")), "Policy has invalid resource"),
    (
        "notresource-other-bucket",
        "bucket",
        doc(allow(Resource=None, NotResource="arn:aws:s3:::b2/*")),
        "Policy has invalid resource",
    ),
    (
        "identity-resource-not-arn",
        "identity",
        doc({"Effect": "Allow", "Action": "s3:*", "Resource": "bucket/*"}),
        "Policy has invalid resource",
    ),
    (
        "identity-resource-short-arn",
        "identity",
        doc({"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:*"}),
        "Policy has invalid resource",
    ),
    (
        "object-action-bucket-resource",
        "bucket",
        doc(allow(Resource=f"arn:aws:s3:::{BUCKET}")),
        "Action does not apply to any resource(s) in statement",
    ),
    (
        "bucket-action-object-resource",
        "bucket",
        doc(allow(Action="s3:ListBucket")),
        "Action does not apply to any resource(s) in statement",
    ),
    (
        "wild-bucket-actions-object-resource",
        "bucket",
        doc(allow(Action="s3:*BucketPolicy*", Resource=ANY_OBJ)),
        "Action does not apply to any resource(s) in statement",
    ),
    (
        "account-action",
        "bucket",
        doc(allow(Action="s3:ListAllMyBuckets", Resource=[ANY_OBJ, f"arn:aws:s3:::{BUCKET}"])),
        "Action does not apply to any resource(s) in statement",
    ),
    (
        "unknown-operator",
        "bucket",
        doc(allow({"StringEqual": {"s3:prefix": "a"}})),
        "Invalid Condition type : StringEqual",
    ),
    (
        "bad-set-operator",
        "bucket",
        doc(allow({"ForSomeValues:StringEquals": {"s3:prefix": "a"}})),
        "Invalid Condition type : ForSomeValues:StringEquals",
    ),
    (
        "null-ifexists",
        "bucket",
        doc(allow({"NullIfExists": {"s3:prefix": "true"}})),
        "Invalid Condition type : NullIfExists",
    ),
    ("operator-not-object", "bucket", doc(allow({"StringEquals": "a"})), "Invalid Condition type : StringEquals"),
    (
        "condition-not-object",
        "bucket",
        doc(allow(Condition=["x"])),
        "Could not parse the policy: Condition is not well-formatted.",
    ),
    (
        "unknown-key",
        "bucket",
        doc(allow({"StringEquals": {"aws:SourceVpc": "vpc-1"}})),
        "Policy has an invalid condition key",
    ),
    (
        "tag-key-empty",
        "bucket",
        doc(allow({"StringEquals": {"s3:ExistingObjectTag/": "x"}})),
        "Policy has an invalid condition key",
    ),
    (
        "value-object",
        "bucket",
        doc(allow({"StringEquals": {"s3:prefix": {"a": 1}}})),
        'Invalid Condition value for operator StringEquals: {"a": 1}',
    ),
    (
        "value-null",
        "bucket",
        doc(allow({"StringEquals": {"s3:prefix": None}})),
        "Invalid Condition value for operator StringEquals: null",
    ),
    (
        "value-empty-list",
        "bucket",
        doc(allow({"StringEquals": {"s3:prefix": []}})),
        "Invalid Condition value for operator StringEquals: []",
    ),
    (
        "numeric-bad",
        "bucket",
        doc(allow({"NumericLessThan": {"s3:max-keys": "ten"}})),
        "Invalid Condition value for operator NumericLessThan: ten",
    ),
    (
        "numeric-variable",
        "bucket",
        doc(allow({"NumericLessThan": {"s3:max-keys": "${s3:prefix}"}})),
        "Invalid Condition value for operator NumericLessThan: ${s3:prefix}",
    ),
    (
        "date-bad",
        "bucket",
        doc(allow({"DateLessThan": {"aws:CurrentTime": "yesterday"}})),
        "Invalid Condition value for operator DateLessThan: yesterday",
    ),
    (
        "ip-bad",
        "bucket",
        doc(allow({"IpAddress": {"aws:SourceIp": "10.0.0.0/33"}})),
        "Invalid Condition value for operator IpAddress: 10.0.0.0/33",
    ),
    (
        "bool-bad",
        "bucket",
        doc(allow({"Bool": {"aws:SecureTransport": "yes"}})),
        "Invalid Condition value for operator Bool: yes",
    ),
    (
        "null-bad",
        "bucket",
        doc(allow({"Null": {"s3:prefix": "maybe"}})),
        "Invalid Condition value for operator Null: maybe",
    ),
    (
        "binary-bad",
        "bucket",
        doc(allow({"BinaryEquals": {"s3:x-amz-content-sha256": "not base64!"}})),
        "Invalid Condition value for operator BinaryEquals: not base64!",
    ),
    ("too-big-bucket", "bucket", doc(allow(Sid="x" * 20_480)), "Policy exceeds the maximum allowed document size."),
    (
        "too-big-identity",
        "identity",
        doc({"Sid": "x" * 10_240, "Effect": "Allow", "Action": "*", "Resource": "*"}),
        "Policy exceeds the maximum allowed document size.",
    ),
]


def _text(statement_json: str) -> str:
    """Drop None-valued statement fields (the table's way of removing one)."""
    if "null" not in statement_json:
        return statement_json
    try:
        tree = json.loads(statement_json)
    except ValueError:
        return statement_json
    if isinstance(tree, dict) and isinstance(tree.get("Statement"), list):
        tree["Statement"] = [
            {k: v for k, v in st.items() if v is not None or k == "Condition"} if isinstance(st, dict) else st
            for st in tree["Statement"]
        ]
        return json.dumps(tree)
    return statement_json


@pytest.mark.parametrize(("kind", "text", "message"), [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED])
def test_malformed(kind: str, text: str, message: str) -> None:
    with pytest.raises(MalformedPolicy) as info:
        iam.parse_policy(_text(text), kind=kind, bucket=BUCKET)  # type: ignore[arg-type]
    assert info.value.message == message


def test_nesting_past_the_json_decoder_is_malformed() -> None:
    """Within the size bound, a document nested deeper than the JSON decoder goes (it raises RecursionError, not
    ValueError) is malformed like any other bad JSON, not an internal error."""
    for text in ("[" * 5000 + "]" * 5000, '{"Version": "2012-10-17", "Statement": ' + "[" * 5000 + "]" * 5000 + "}"):
        assert len(text) <= iam.MAX_BUCKET_POLICY_BYTES
        with pytest.raises(MalformedPolicy):
            iam.parse_policy(text, kind="bucket", bucket=BUCKET)


def test_size_limit_is_inclusive() -> None:
    base = doc(allow(Sid=""))
    text = doc(allow(Sid="x" * (iam.MAX_BUCKET_POLICY_BYTES - len(base))))
    assert len(text.encode()) == iam.MAX_BUCKET_POLICY_BYTES
    iam.parse_policy(text, kind="bucket", bucket=BUCKET)


def test_bucket_policy_needs_a_bucket() -> None:
    with pytest.raises(ValueError):
        iam.parse_policy(doc(allow()), kind="bucket")


# accepted edge forms --------------------------------------------------------------------------

ACCEPTED: list[tuple[str, dict[str, Any]]] = [
    ("wild-bucket-part", allow(Resource="arn:aws:s3:::b*/*")),
    ("star-bucket-all-kinds", allow(Action=["s3:GetObject", "s3:ListBucket"], Resource="arn:aws:s3:::*")),
    ("wild-action-one-kind-applies", allow(Action="s3:Get*", Resource=f"arn:aws:s3:::{BUCKET}")),
    (
        "bucket-and-object",
        allow(Action=["s3:GetObject", "s3:ListBucket"], Resource=[f"arn:aws:s3:::{BUCKET}", ANY_OBJ]),
    ),
    ("action-any-case", allow(Action="S3:GETOBJECT")),
    ("tag-key", allow({"StringEquals": {"s3:ExistingObjectTag/Team": "x"}})),
    ("numeric-int", allow({"NumericLessThan": {"s3:max-keys": 10}})),
    ("date-epoch", allow({"DateLessThan": {"aws:EpochTime": 1700000000}})),
    ("ipv6", allow({"IpAddress": {"aws:SourceIp": ["2001:db8::/32", "::1"]}})),
    ("bool-json", allow({"Bool": {"aws:SecureTransport": False}})),
    ("string-variable", allow({"StringLike": {"s3:prefix": "${aws:username}/*"}})),
]


@pytest.mark.parametrize("statement", [c[1] for c in ACCEPTED], ids=[c[0] for c in ACCEPTED])
def test_accepted(statement: dict[str, Any]) -> None:
    policy = iam.parse_policy(doc(statement), kind="bucket", bucket=BUCKET)
    assert len(policy.statements) == 1


# is_public ------------------------------------------------------------------------------------

PUBLIC: list[tuple[str, list[dict[str, Any]], bool]] = [
    ("star", [allow()], True),
    ("aws-star", [allow(Principal={"AWS": "*"})], True),
    ("fixed-user", [allow(Principal={"AWS": ALICE})], False),
    ("fixed-tenant", [allow(Principal={"AWS": "acme"})], False),
    ("deny-star", [allow(Effect="Deny")], False),
    ("notprincipal-allow", [allow(Principal=None, NotPrincipal={"AWS": ALICE})], True),
    ("one-public-statement", [allow(Principal={"AWS": ALICE}), allow(Action="s3:PutObject")], True),
    ("sourceip-24", [allow({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}})], False),
    ("sourceip-8", [allow({"IpAddress": {"aws:SourceIp": "12.0.0.0/8"}})], False),
    ("sourceip-private", [allow({"IpAddress": {"aws:SourceIp": "192.168.0.0/16"}})], False),
    ("sourceip-7", [allow({"IpAddress": {"aws:SourceIp": "12.0.0.0/7"}})], True),
    ("sourceip-all", [allow({"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}})], True),
    ("sourceip-one-broad", [allow({"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "0.0.0.0/1"]}})], True),
    ("sourceip-v6-32", [allow({"IpAddress": {"aws:SourceIp": "2001:db8::/32"}})], False),
    ("sourceip-v6-31", [allow({"IpAddress": {"aws:SourceIp": "2001:db8::/31"}})], True),
    ("not-ip", [allow({"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}})], True),
    ("principal-account", [allow({"StringEquals": {"aws:PrincipalAccount": "acme"}})], False),
    ("principal-account-wild", [allow({"StringLike": {"aws:PrincipalAccount": "ac*"}})], True),
    ("principal-arn", [allow({"ArnEquals": {"aws:PrincipalArn": ALICE}})], False),
    ("principal-arn-wild", [allow({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::acme:user/*"}})], True),
    ("principal-arn-negated", [allow({"ArnNotEquals": {"aws:PrincipalArn": ALICE}})], True),
    ("principal-arn-ifexists", [allow({"ArnEqualsIfExists": {"aws:PrincipalArn": ALICE}})], True),
    ("principal-arn-variable", [allow({"StringEquals": {"aws:PrincipalArn": "${aws:PrincipalArn}"}})], True),
    ("userid", [allow({"StringEquals": {"aws:userid": "AIDAEXAMPLE"}})], False),
    ("userid-role-pattern", [allow({"StringEquals": {"aws:userid": "AROAEXAMPLE:*"}})], True),
    (
        "kms-key",
        [allow({"StringEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "arn:aws:kms:r:acme:key/1"}})],
        False,
    ),
    ("unrelated-condition", [allow({"Bool": {"aws:SecureTransport": "true"}})], True),
    ("referer-is-not-restricting", [allow({"StringEquals": {"aws:Referer": "https://example.com/"}})], True),
]


@pytest.mark.parametrize(("statements", "public"), [c[1:] for c in PUBLIC], ids=[c[0] for c in PUBLIC])
def test_is_public(statements: list[dict[str, Any]], public: bool) -> None:
    cleaned = [{k: v for k, v in st.items() if v is not None} for st in statements]
    assert iam.is_public(iam.parse_policy(doc(*cleaned), kind="bucket", bucket=BUCKET)) is public


@pytest.mark.parametrize(
    ("principal", "tenant", "effect", "grants"),
    [
        ({"AWS": ALICE}, "acme", "Allow", True),
        ({"AWS": "arn:aws:iam::acme:root"}, "acme", "Allow", True),
        ({"AWS": "acme"}, "acme", "Allow", True),
        ({"AWS": "acme"}, "acme2", "Allow", False),
        ({"AWS": "arn:aws:iam::acme:user/alice"}, "acm", "Allow", False),
        ("*", "other", "Allow", True),
        ({"AWS": ALICE}, "acme", "Deny", False),
        ({"AWS": [EVE, ALICE]}, "other", "Allow", True),
    ],
)
def test_grants_to_tenant(principal: Any, tenant: str, effect: str, grants: bool) -> None:
    policy = iam.parse_policy(doc(allow(Principal=principal, Effect=effect)), kind="bucket", bucket=BUCKET)
    assert iam.grants_to_tenant(policy, tenant) is grants


# actions --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "known"),
    [
        ("s3:GetObject", True),
        ("S3:getobject", True),
        ("s3:Get*", True),
        ("s3:*", True),
        ("*", True),
        ("iam:*User*", True),
        ("strongroom:GetVaultToken", True),
        ("s3:GetObjekt", False),
        ("s3:Frob*", False),
        ("ec2:*", False),
        ("s3:", False),
        ("GetObject", False),
        ("s3:Get:Object", False),
        ("s3:DeleteBucketCORS", False),  # DeleteBucketCors is authorized by s3:PutBucketCORS
    ],
)
def test_action_known(pattern: str, known: bool) -> None:
    assert actions.action_known(pattern) is known


def test_action_catalogue() -> None:
    for name in (
        "s3:GetObject",
        "s3:ListBucket",
        "s3:PutBucketPolicy",
        "s3:BypassGovernanceRetention",
        "s3:GetBucketPolicyStatus",
    ):
        assert name in actions.S3_ACTIONS
    assert actions.KNOWN_ACTIONS == actions.S3_ACTIONS | actions.IAM_ACTIONS | actions.STRONGROOM_ACTIONS
    assert len(actions.IAM_ACTIONS) == 21 and len(actions.STRONGROOM_ACTIONS) == 6
    assert actions.resource_kind("s3:getobject") == "object"
    assert actions.resource_kind("s3:ListBucket") == "bucket"
    assert actions.resource_kind("s3:ListAllMyBuckets") == "other"
    assert actions.expand("iam:*AccessKey*") == {
        "iam:CreateAccessKey",
        "iam:ListAccessKeys",
        "iam:UpdateAccessKey",
        "iam:DeleteAccessKey",
    }
